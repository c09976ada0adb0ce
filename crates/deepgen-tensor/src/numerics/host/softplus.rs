//! `softplus(x) = ln(1 + eˣ)` and `log_sigmoid(x) = -softplus(-x)`.

/// `ln(1 + eˣ)`, evaluated as `max(x, 0) + ln_1p(e^{-|x|})`: no overflow for
/// large `x`, full relative accuracy for very negative `x`.
pub fn softplus(x: f64) -> f64 {
    x.max(0.0) + (-x.abs()).exp().ln_1p()
}

/// `ln σ(x) = -ln(1 + e^{-x})`, evaluated as `min(x, 0) - ln_1p(e^{-|x|})`.
pub fn log_sigmoid(x: f64) -> f64 {
    x.min(0.0) - (-x.abs()).exp().ln_1p()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        a == b || (a - b).abs() <= rel * b.abs()
    }

    #[test]
    fn softplus_matches_numpy_logaddexp() {
        // numpy.logaddexp(0, x) (NumPy 2.4.6); mpmath.log(1+exp(x)) agrees where shown.
        let cases = [
            (-100.0, 3.720075976020836e-44), // = exp(-100)(1 - exp(-100)/2 ...)
            (-20.0, 2.061153620314381e-09),  // mpmath: 2.0611536203143807032e-9
            (0.0, std::f64::consts::LN_2),   // numpy: 0.6931471805599453
            (1e-4, 0.6931971818099453),      // mpmath: 0.6931971818099453089
            (20.0, 20.000000002061153),      // mpmath: 20.00000000206115362
            (100.0, 100.0),
            (800.0, 800.0),
            (-800.0, 0.0),
        ];
        for (x, want) in cases {
            let got = softplus(x);
            assert!(
                close(got, want, 2e-16),
                "softplus({x}) = {got:e}, want {want:e}"
            );
        }
    }

    #[test]
    fn log_sigmoid_matches_numpy() {
        // -numpy.logaddexp(0, -x) (NumPy 2.4.6).
        let cases = [
            (-100.0, -100.0),
            (-20.0, -20.000000002061153),
            (0.0, -std::f64::consts::LN_2), // numpy: -0.6931471805599453
            (1e-4, -0.6930971818099453),    // mpmath: -0.69309718180994530889
            (20.0, -2.061153620314381e-09),
            (100.0, -3.720075976020836e-44),
        ];
        for (x, want) in cases {
            let got = log_sigmoid(x);
            assert!(
                close(got, want, 2e-16),
                "log_sigmoid({x}) = {got:e}, want {want:e}"
            );
        }
        assert!(softplus(f64::NAN).is_nan());
        assert_eq!(softplus(f64::INFINITY), f64::INFINITY);
        assert_eq!(softplus(f64::NEG_INFINITY), 0.0);
    }
}
