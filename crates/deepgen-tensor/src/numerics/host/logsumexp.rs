//! Max-shifted `log Σ exp` and `log mean exp` of a slice.

/// `ln Σᵢ exp(xᵢ)`, computed as `m + ln_1p(Σ_{i≠argmax} exp(xᵢ - m))` with
/// `m = max xᵢ`, so it neither overflows nor loses the small terms.
///
/// Special cases: an empty slice or all entries `-inf` give `-inf` (the log
/// of an empty sum); any `+inf` gives `+inf`; any NaN gives NaN.
pub fn logsumexp(xs: &[f64]) -> f64 {
    let mut m = f64::NEG_INFINITY;
    let mut arg = None;
    for (i, &x) in xs.iter().enumerate() {
        if x.is_nan() {
            return f64::NAN;
        }
        if arg.is_none() || x > m {
            m = x;
            arg = Some(i);
        }
    }
    let Some(arg) = arg else {
        return f64::NEG_INFINITY;
    };
    if m.is_infinite() {
        // +inf dominates; all entries -inf means an empty sum.
        return m;
    }
    let rest: f64 = xs
        .iter()
        .enumerate()
        .filter(|&(i, _)| i != arg)
        .map(|(_, &x)| (x - m).exp())
        .sum();
    m + rest.ln_1p()
}

/// `ln((1/n) Σᵢ exp(xᵢ))` = [`logsumexp`]`(xs) - ln n`.
///
/// An empty slice has no mean: the result is NaN.
pub fn log_mean_exp(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    logsumexp(xs) - (xs.len() as f64).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        a == b || (a - b).abs() <= rel * b.abs()
    }

    #[test]
    fn matches_scipy_on_extreme_vectors() {
        // (input, scipy.special.logsumexp(input), mpmath.log(sum(exp)) at dps=40)
        // SciPy 1.17.1 / mpmath 1.4.1.
        let cases: [(&[f64], f64); 6] = [
            // scipy: 1000.6931471805599, mpmath: 1000.6931471805599453
            (&[1000.0, 1000.0], 1000.6931471805599),
            // scipy: -999.3197303293583, mpmath: -999.31973032935826542
            (&[-1000.0, -1000.5, -1001.0], -999.3197303293583),
            // scipy: 0.6931471806099453, mpmath: 0.69314718060994530942
            (&[1e-10, 0.0, -1e3], 0.6931471806099453),
            // scipy: 3.4401896985611953
            (&[0.0, 1.0, 2.0, 3.0], 3.4401896985611953),
            // scipy: 710.0000453988993, mpmath: 710.00004539889921686
            (&[700.0, 710.0, -1e308], 710.0000453988992),
            // scipy: -744.6867383124818 (exp of both entries underflows to subnormal)
            (&[-745.0, -746.0], -744.6867383124818),
        ];
        for (xs, want) in cases {
            let got = logsumexp(xs);
            assert!(
                close(got, want, 4e-16),
                "logsumexp({xs:?}) = {got}, want {want}"
            );
        }
    }

    #[test]
    fn log_mean_exp_matches_scipy() {
        // scipy.special.logsumexp(v) - numpy.log(len(v)); mpmath in comments (SciPy 1.17.1).
        // mpmath: -1000.4183426180263751
        let got = log_mean_exp(&[-1000.0, -1000.5, -1001.0]);
        assert!(close(got, -1000.4183426180264, 4e-16), "{got}");
        // mpmath: -0.40546510805816438198
        let got = log_mean_exp(&[1e-10, 0.0, -1e3]);
        assert!(close(got, -0.4054651080581644, 4e-16), "{got}");
        // mpmath: 708.90143311023110717
        let got = log_mean_exp(&[700.0, 710.0, -1e308]);
        assert!(close(got, 708.9014331102311, 4e-16), "{got}");
        assert!(log_mean_exp(&[]).is_nan());
    }

    #[test]
    fn special_values() {
        let ninf = f64::NEG_INFINITY;
        assert_eq!(logsumexp(&[]), ninf);
        assert_eq!(logsumexp(&[ninf, ninf]), ninf);
        assert_eq!(logsumexp(&[ninf, 2.0]), 2.0);
        assert_eq!(logsumexp(&[1.0, f64::INFINITY]), f64::INFINITY);
        assert!(logsumexp(&[1.0, f64::NAN]).is_nan());
        assert_eq!(logsumexp(&[-3.5]), -3.5);
    }
}
