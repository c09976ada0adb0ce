//! `log1mexp(x) = ln(1 - eˣ)` for `x ≤ 0` on tensors.

use std::f64::consts::LN_2;

use burn::tensor::Tensor;

use super::expm1::expm1;

/// `ln(1 - eˣ)` elementwise for `x ≤ 0`, with Mächler's switch at `-ln 2`:
/// `ln(-expm1(x))` above it, `ln_1p(-eˣ)` below it.
///
/// `x = 0` gives `-inf`, `x > 0` gives NaN. Relative error ≤ 4 ulps of `f32`
/// measured on `[-100, -1e-30]`. Differentiable (derivative `-1/expm1(-x)`);
/// each branch is evaluated on a safe input where it is not selected.
pub fn log1mexp<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let near_zero = x.clone().greater_elem(-LN_2);
    let x_near = x.clone().mask_fill(near_zero.clone().bool_not(), -0.5);
    let x_far = x.mask_fill(near_zero.clone(), -1.0);
    let near = expm1(x_near).neg().log();
    let far = x_far.exp().neg().log1p();
    far.mask_where(near_zero, near)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::host;
    use crate::numerics::tensor::test_support::{apply, devices, to_vec};
    use burn::tensor::{Device, TensorData};

    #[test]
    fn matches_host_on_flex_and_ndarray() {
        let mut xs: Vec<f64> = (1..=400).map(|i| -(i as f64) * 0.25).collect();
        for e in 1..=30 {
            xs.extend([-(10f64.powi(-e)), -3.3 * 10f64.powi(-e)]);
        }
        xs.extend([-LN_2, -0.69, -0.7, -1e-3, -50.0]);
        let xs: Vec<f64> = xs.iter().map(|&x| x as f32 as f64).collect();
        for device in devices() {
            let got = apply(&device, &xs, log1mexp::<1>);
            for (&x, &g) in xs.iter().zip(&got) {
                let want = host::log1mexp(x);
                // 4 f32 ulps relative, absolute floor 1e-44 for subnormal results
                let tol = 4.0 * f32::EPSILON as f64 * want.abs() + 1e-44;
                assert!(
                    (g - want).abs() <= tol,
                    "log1mexp({x:e}) = {g:e}, want {want:e}"
                );
            }
            let special = apply(&device, &[0.0, 1.0], log1mexp::<1>);
            assert_eq!(special[0], f64::NEG_INFINITY);
            assert!(special[1].is_nan());
        }
    }

    #[test]
    fn gradient_matches_finite_differences() {
        let device = Device::flex().autodiff();
        let xs = [-1e-3f32, -0.1, -0.5, -0.69, -0.7, -1.0, -5.0, -20.0];
        let x = Tensor::<1>::from_data(TensorData::new(xs.to_vec(), [xs.len()]), &device)
            .require_grad();
        let grads = log1mexp(x.clone()).sum().backward();
        let g = to_vec(x.grad(&grads).expect("x requires grad"));
        for (i, &x) in xs.iter().enumerate() {
            let x = x as f64;
            let h = 1e-7 * x.abs().max(1e-3);
            let fd = (host::log1mexp(x + h) - host::log1mexp(x - h)) / (2.0 * h);
            assert!(
                (g[i] - fd).abs() <= 1e-5 * fd.abs() + 1e-9,
                "log1mexp'({x}) = {} vs {fd}",
                g[i]
            );
        }
    }
}
