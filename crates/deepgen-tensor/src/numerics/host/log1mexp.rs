//! `log1mexp(x) = ln(1 - eˣ)` for `x ≤ 0` (Mächler 2012).

use std::f64::consts::LN_2;

/// `ln(1 - eˣ)` for `x ≤ 0`, with Mächler's switch at `-ln 2`:
/// `ln(-expm1(x))` for `-ln 2 < x ≤ 0` (where `1 - eˣ` would cancel) and
/// `ln_1p(-eˣ)` for `x ≤ -ln 2` (where `eˣ` is small).
///
/// `x = 0` gives `-inf`; `x > 0` (where `1 - eˣ < 0`) and NaN give NaN.
///
/// Reference: M. Mächler, "Accurately Computing log(1 − exp(−|a|))", 2012.
pub fn log1mexp(x: f64) -> f64 {
    if x > 0.0 || x.is_nan() {
        f64::NAN
    } else if x > -LN_2 {
        (-x.exp_m1()).ln()
    } else {
        (-x.exp()).ln_1p()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_mpmath() {
        // mpmath.log(1 - mpmath.exp(x)) at dps=50, rounded to f64 (mpmath 1.4.1).
        let cases = [
            (-1e-10, -23.025850929990458),
            (-1e-3, -6.908255237315471),
            (-0.5, -0.9327521295671886),
            (-LN_2, -LN_2), // mpmath: -0.6931471805599453 (= -ln 2 exactly in f64)
            (-1.0, -0.4586751453870819),
            (-10.0, -4.540096037048921e-05),
            (-50.0, -1.9287498479639178e-22),
        ];
        for (x, want) in cases {
            let got = log1mexp(x);
            assert!(
                (got - want).abs() <= 2e-16 * want.abs(),
                "log1mexp({x}) = {got:e}, want {want:e}"
            );
        }
    }

    #[test]
    fn special_values() {
        assert_eq!(log1mexp(0.0), f64::NEG_INFINITY);
        assert_eq!(log1mexp(f64::NEG_INFINITY), 0.0);
        assert!(log1mexp(1e-3).is_nan());
        assert!(log1mexp(f64::NAN).is_nan());
        // Naive ln(1 - exp(x)) gives -inf here; the stable form gives ln(1e-20).
        assert!((log1mexp(-1e-20) - (1e-20f64).ln()).abs() < 1e-14);
    }
}
