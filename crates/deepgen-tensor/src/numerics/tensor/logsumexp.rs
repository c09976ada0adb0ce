//! Max-shifted `log Σ exp` and `log mean exp` along one dimension.

use burn::tensor::Tensor;

/// `ln Σ exp(x)` along `dim`, keeping `dim` with size 1.
///
/// Computed as `m + ln Σ exp(x - m)` with `m` the (detached) maximum along
/// `dim`, so it never overflows; the gradient is `softmax(x)` along `dim`.
/// A slice whose entries are all `-inf` gives `-inf` (no NaN; its gradient
/// is NaN, as `ln 0` has no derivative); one containing `+inf` gives `+inf`.
///
/// # Panics
/// If `dim >= D` (Burn's own dimension check).
pub fn logsumexp<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let m = x.clone().max_dim(dim).detach();
    // Shift by 0 where the maximum is ±inf: an all -inf slice then gives
    // ln(0) = -inf instead of -inf - (-inf) = NaN, and +inf stays +inf.
    let shift = m.clone().mask_fill(m.is_finite().bool_not(), 0.0);
    (x - shift.clone()).exp().sum_dim(dim).log() + shift
}

/// `ln((1/n) Σ exp(x))` along `dim` (size `n`), keeping `dim` with size 1:
/// [`logsumexp`]`(x, dim) - ln n`.
///
/// # Panics
/// If `dim >= D`.
pub fn log_mean_exp<const D: usize>(x: Tensor<D>, dim: usize) -> Tensor<D> {
    let n = x.dims()[dim] as f64;
    logsumexp(x, dim) - n.ln()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::host;
    use crate::numerics::tensor::test_support::{devices, to_vec};
    use burn::tensor::{Device, TensorData};

    fn rows() -> (Vec<f64>, [usize; 2]) {
        let inf = f64::INFINITY;
        #[rustfmt::skip]
        let v = vec![
            80.0, 85.0, 70.0, 86.0,          // would overflow f32 without the shift
            -100.0, -101.0, -99.5, -130.0,   // would underflow to ln 0
            0.0, 1e-3, -1e-3, 0.5,
            -inf, -inf, -inf, -inf,          // all -inf: result -inf, not NaN
            -inf, 1.0, -inf, -2.0,
            inf, 0.0, 1.0, 2.0,
        ];
        (v, [6, 4])
    }

    fn check_on(device: &Device) {
        let (v, shape) = rows();
        let v32: Vec<f32> = v.iter().map(|&a| a as f32).collect();
        let x = Tensor::<2>::from_data(TensorData::new(v32.clone(), shape), device);
        let lse = logsumexp(x.clone(), 1);
        assert_eq!(lse.dims(), [6, 1]);
        let lse = to_vec(lse);
        let lme = to_vec(log_mean_exp(x, 1));
        for r in 0..shape[0] {
            // reference on the f32-rounded inputs
            let row: Vec<f64> = v32[r * 4..r * 4 + 4].iter().map(|&a| a as f64).collect();
            for (got, want) in [
                (lse[r], host::logsumexp(&row)),
                (lme[r], host::log_mean_exp(&row)),
            ] {
                let ok = if want.is_infinite() {
                    got == want
                } else {
                    // f32: ≤ 4 ulps of max(|result|, 1)
                    (got - want).abs() <= 4.0 * f32::EPSILON as f64 * want.abs().max(1.0)
                };
                assert!(ok, "row {r}: got {got}, want {want}");
            }
        }
        // Along dim 0 of a 3-d tensor, too.
        let x = Tensor::<3>::from_data(
            TensorData::new(vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], [2, 2, 2]),
            device,
        );
        let got = to_vec(logsumexp(x, 0));
        for (i, g) in got.iter().enumerate() {
            let want = host::logsumexp(&[1.0 + i as f64, 5.0 + i as f64]);
            assert!((g - want).abs() < 1e-6, "{g} vs {want}");
        }
    }

    #[test]
    fn matches_host_on_flex_and_ndarray() {
        for device in devices() {
            check_on(&device);
        }
    }

    #[test]
    fn gradient_is_softmax_and_matches_finite_differences() {
        let device = Device::flex().autodiff();
        let v = [0.3f32, -1.2, 2.5, 0.0, 1.0, 1.0, -3.0, 0.7];
        let x = Tensor::<2>::from_data(TensorData::new(v.to_vec(), [2, 4]), &device).require_grad();
        let y = logsumexp(x.clone(), 1).sum();
        let grads = y.backward();
        let g = to_vec(x.grad(&grads).expect("x requires grad"));
        for r in 0..2 {
            let row: Vec<f64> = v[r * 4..r * 4 + 4].iter().map(|&a| a as f64).collect();
            for c in 0..4 {
                // central finite difference of the f64 host function, h = 1e-6
                let h = 1e-6;
                let (mut p, mut m) = (row.clone(), row.clone());
                p[c] += h;
                m[c] -= h;
                let fd = (host::logsumexp(&p) - host::logsumexp(&m)) / (2.0 * h);
                assert!(
                    (g[r * 4 + c] - fd).abs() < 1e-6,
                    "grad[{r},{c}] {} vs fd {fd}",
                    g[r * 4 + c]
                );
            }
        }
    }
}
