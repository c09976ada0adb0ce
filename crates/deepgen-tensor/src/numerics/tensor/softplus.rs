//! `softplus(x) = ln(1 + eˣ)` and `log_sigmoid(x) = -softplus(-x)` on tensors.

use burn::tensor::Tensor;

/// Above this, `softplus(x) = x` to within `ln_1p(e^{-36}) ≈ 2.3e-16` (below
/// half an ulp of 36 even in `f64`); `e^36 ≈ 4.3e15` is finite in `f32`.
pub(super) const LINEAR_FROM: f64 = 36.0;

/// `ln(1 + eˣ)` elementwise: `ln_1p(exp(min(x, 36)))`, or `x` itself above 36.
///
/// `ln_1p` keeps full relative accuracy for very negative `x` (where the
/// result is `≈ eˣ`), the clamp keeps `exp` finite, and the gradient is
/// `σ(x)` everywhere (the unselected branch sees a clamped, finite input).
/// Relative error ≤ 3 ulps of `f32` measured on `[-100, 100]`.
pub fn softplus<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    let linear = x.clone().greater_elem(LINEAR_FROM);
    x.clone()
        .clamp_max(LINEAR_FROM)
        .exp()
        .log1p()
        .mask_where(linear, x)
}

/// `ln σ(x) = -softplus(-x)` elementwise; gradient `σ(-x) = 1 - σ(x)`.
pub fn log_sigmoid<const D: usize>(x: Tensor<D>) -> Tensor<D> {
    softplus(x.neg()).neg()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::host;
    use crate::numerics::tensor::test_support::{apply, devices, to_vec};
    use burn::tensor::{Device, TensorData};

    fn grid() -> Vec<f64> {
        // Points exactly representable in f32, so the host reference sees the same input.
        (-400..=400)
            .map(|i| i as f64 * 0.25)
            .chain([-100.0, 1e-4_f32 as f64, 36.5, 88.5, 1e30])
            .collect()
    }

    #[test]
    fn matches_host_on_flex_and_ndarray() {
        let xs = grid();
        for device in devices() {
            for (f, h, name) in [
                (
                    softplus::<1> as fn(Tensor<1>) -> Tensor<1>,
                    host::softplus as fn(f64) -> f64,
                    "softplus",
                ),
                (log_sigmoid::<1>, host::log_sigmoid, "log_sigmoid"),
            ] {
                let got = apply(&device, &xs, f);
                for (&x, &g) in xs.iter().zip(&got) {
                    let want = h(x);
                    // Tolerance: 3 f32 ulps relative (the result is ≥ 1e-44 in magnitude,
                    // so subnormal f32 results get an absolute floor of 1e-44).
                    let tol = 3.0 * f32::EPSILON as f64 * want.abs() + 1e-44;
                    assert!(
                        (g - want).abs() <= tol,
                        "{name}({x}) = {g:e}, want {want:e}"
                    );
                }
            }
        }
    }

    #[test]
    fn gradient_is_sigmoid_and_matches_finite_differences() {
        let device = Device::flex().autodiff();
        let xs = [
            -50.0f32, -20.0, -3.0, -0.5, 0.0, 0.25, 2.0, 20.0, 35.0, 40.0, 100.0,
        ];
        let x = Tensor::<1>::from_data(TensorData::new(xs.to_vec(), [xs.len()]), &device)
            .require_grad();
        let grads = softplus(x.clone()).sum().backward();
        let g = to_vec(x.grad(&grads).expect("x requires grad"));
        let grads = log_sigmoid(x.clone()).sum().backward();
        let g_ls = to_vec(x.grad(&grads).expect("x requires grad"));
        for (i, &x) in xs.iter().enumerate() {
            let x = x as f64;
            // central difference of the f64 host function, h = 1e-5
            let h = 1e-5;
            let fd = (host::softplus(x + h) - host::softplus(x - h)) / (2.0 * h);
            let fd_ls = (host::log_sigmoid(x + h) - host::log_sigmoid(x - h)) / (2.0 * h);
            assert!(
                (g[i] - fd).abs() <= 1e-6 + 1e-5 * fd.abs(),
                "softplus'({x}) = {} vs {fd}",
                g[i]
            );
            assert!(
                (g_ls[i] - fd_ls).abs() <= 1e-6 + 1e-5 * fd_ls.abs(),
                "log_sigmoid'({x}) = {} vs {fd_ls}",
                g_ls[i]
            );
        }
    }
}
