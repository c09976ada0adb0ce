//! `sin(πx)` and `cot(πx)` with exact argument reduction (private helpers for
//! the reflection formulas of `lgamma` and `digamma`).

use std::f64::consts::PI;

/// Reduces `x` to `r = x - round(x)` in `[-0.5, 0.5]`; exact in binary
/// floating point (both `x` and `round(x)` are multiples of `ulp(x)`).
fn reduce(x: f64) -> f64 {
    x - x.round()
}

/// `|sin(πx)|`, accurate for any finite `x` (`sin(π·n) = 0` exactly for integers).
pub(crate) fn abs_sinpi(x: f64) -> f64 {
    (PI * reduce(x)).sin().abs()
}

/// `cot(πx)`; `±inf` at integers (callers treat those as poles first).
pub(crate) fn cotpi(x: f64) -> f64 {
    let r = reduce(x);
    let (s, c) = (PI * r).sin_cos();
    c / s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reduction_is_exact_far_from_zero() {
        // sin(pi * (1e6 + 0.25)) = sin(pi/4) exactly in real arithmetic.
        let x = 1.0e6 + 0.25;
        assert!((abs_sinpi(x) - std::f64::consts::FRAC_1_SQRT_2).abs() < 1e-15);
        assert_eq!(abs_sinpi(-7.0), 0.0);
        // cot(pi/4) = 1
        assert!((cotpi(-3.75) - 1.0).abs() < 1e-15);
    }
}
