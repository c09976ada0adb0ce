//! `digamma(x) = ψ(x)` on tensors.

use std::f64::consts::PI;

use burn::tensor::Tensor;

use super::lgamma::{SHIFT_STEPS, SHIFT_TO};

/// `ψ(x) = Γ'(x)/Γ(x)` elementwise.
///
/// For `x > 0`: `ψ(x) = ψ(x + n) - Σ_{k<n} 1/(x + k)` with `x + n ≥ 4`, then
/// `ψ(z) ≈ ln z - 1/(2z) - 1/(12z²) + 1/(120z⁴) - 1/(252z⁶) + 1/(240z⁸) - 1/(132z¹⁰) + 691/(32760z¹²)`
/// (truncation < 1e-9 at `z = 4`).
/// For `x < 0`: reflection `ψ(1 - x) - π cot(π(x - round x))`.
/// `ψ(+0) = -inf`, `ψ(-0) = +inf`, negative integers give NaN (as SciPy).
///
/// Accuracy on `f32` (measured against the `f64` host
/// [`digamma`](crate::numerics::host::digamma) on a grid over `[1e-6, 1e6]`
/// and `(-10, 0)`): error ≤ 1e-6 · max(1, |ψ(x)|) (measured worst 2.0e-7 for
/// `x > 0`, 3.5e-7 on the negative grid); near the poles at negative integers
/// the `f32` rounding of `cot(πx)` grows like `1/|sin πx|` (see the test bound).
///
/// Differentiable: its autodiff gradient approximates the trigamma function.
pub fn digamma<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let negative = x.clone().lower_elem(0.0);
    let neg_integer = negative
        .clone()
        .bool_and(x.clone().equal(x.clone().floor()));
    let x_pos = x
        .clone()
        .mask_where(negative.clone(), x.clone().neg() + 1.0);
    let pos = digamma_positive(x_pos);
    let x_ref = x.mask_fill(negative.clone().bool_not(), -0.5);
    let r = (x_ref.clone() - x_ref.detach().round()) * PI;
    let pi_cot = r.clone().cos() / r.sin() * PI;
    let reflected = pos.clone() - pi_cot;
    pos.mask_where(negative, reflected)
        .mask_fill(neg_integer, f32::NAN)
}

/// `ψ` for `x ≥ 0`.
fn digamma_positive<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let mut z = x.clone();
    let mut shift = x.zeros_like();
    for _ in 0..SHIFT_STEPS {
        let small = z.clone().lower_elem(SHIFT_TO);
        shift = shift
            .clone()
            .mask_where(small.clone(), shift + z.clone().recip());
        z = z.clone().mask_where(small, z + 1.0);
    }
    let inv = z.clone().recip();
    let inv2 = inv.clone() * inv.clone();
    // Σ B₂ₖ/(2k z^{2k}) = 1/(12z²) - 1/(120z⁴) + 1/(252z⁶) - 1/(240z⁸) + 1/(132z¹⁰) - 691/(32760z¹²)
    let mut poly = inv2.clone() * (-691.0 / 32760.0) + 1.0 / 132.0;
    for c in [-1.0 / 240.0, 1.0 / 252.0, -1.0 / 120.0, 1.0 / 12.0] {
        poly = poly * inv2.clone() + c;
    }
    let tail = inv2 * poly;
    z.log() - inv * 0.5 - tail - shift
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::host;
    use crate::numerics::tensor::test_support::{apply, devices};

    #[test]
    fn matches_host_on_flex_and_ndarray() {
        let mut xs: Vec<f64> = (0..=240)
            .map(|i| 10f64.powf(-6.0 + i as f64 * 0.05))
            .collect();
        xs.extend((1..=240).map(|i| i as f64 * 0.05));
        xs.extend((1..200).map(|i| -10.0 + i as f64 * 0.05 + 0.0123));
        let xs: Vec<f64> = xs.iter().map(|&x| x as f32 as f64).collect();
        for device in devices() {
            let got = apply(&device, &xs, digamma::<1>);
            for (&x, &g) in xs.iter().zip(&got) {
                let want = host::digamma(x);
                let err = (g - want).abs() / want.abs().max(1.0);
                let tol = if x > 0.0 {
                    1e-6
                } else {
                    // cot(πr) in f32: relative error of a few ulps of π/|sin πr|.
                    let s = (PI * (x - x.round())).sin().abs();
                    4.0 * f32::EPSILON as f64 * PI / s + 1e-6
                };
                assert!(
                    err <= tol,
                    "digamma({x:e}) = {g}, want {want}, err {err:e}, tol {tol:e}"
                );
            }
        }
    }

    #[test]
    fn scipy_reference_points_and_special_values() {
        // scipy.special.digamma (SciPy 1.17.1); f32 tolerance 1e-6 · max(1, |value|).
        let cases = [
            (1e-6, -1000000.57721402),
            (0.1, -10.423754940411076),
            (0.5, -1.9635100260214235),
            (1.0, -0.5772156649015329),
            (2.0, 0.42278433509846713),
            (3.7, 1.1671535393615113),
            (10.0, 2.251752589066721),
            (1e4, 9.21029037114285),
            (-0.5, 0.03648997397857651),
            (-2.3, 3.3173231575618236),
        ];
        let xs: Vec<f64> = cases.iter().map(|c| c.0).collect();
        for device in devices() {
            let got = apply(&device, &xs, digamma::<1>);
            for ((x, want), g) in cases.iter().zip(&got) {
                assert!(
                    (g - want).abs() <= 1e-6 * want.abs().max(1.0),
                    "digamma({x}) = {g}, want {want}"
                );
            }
            let special = apply(&device, &[0.0, -0.0, -1.0, -3.0], digamma::<1>);
            assert_eq!(special[0], f64::NEG_INFINITY);
            assert_eq!(special[1], f64::INFINITY);
            assert!(special[2].is_nan() && special[3].is_nan(), "{special:?}");
        }
    }
}
