//! `ln I_ν(x)` and the von Mises–Fisher log-normaliser on tensors, with exact
//! gradients.
//!
//! Unlike the other tensor numerics these are **not** built from elementwise
//! tensor operations: the values and derivatives are computed on the host in
//! `f64` by [`host::log_bessel_i`] / [`host::vmf_log_normalizer`] (series,
//! Debye expansion and ratio recurrence, see that module), and handed back to
//! autodiff through a first-order surrogate
//!
//! `y = v + g · (x - x.detach())`,
//!
//! where `v = f(x)` and `g = f'(x)` are constant tensors on `x`'s device and
//! in `x`'s dtype. `x - x.detach()` is exactly zero, so the value is `v`
//! (the `f64` result rounded once to the tensor dtype), and the gradient with
//! respect to `x` is `g` (the exact derivative rounded once), so gradients
//! flow without any switch-point artefacts. It is first-order only (the
//! surrogate has zero second derivative).
//!
//! Cost: every call reads `x` back to the host (one device sync) and uploads
//! two tensors. That is fine for the `[B]`-sized concentration vectors of a
//! vMF latent; do not use it inside large elementwise kernels.

use burn::tensor::{Tensor, TensorCreationOptions, TensorData};

use crate::numerics::host;

/// `ln I_ν(x)` elementwise, for a fixed order `ν ≥ 0`, with gradient
/// `d/dx ln I_ν(x) = I_{ν+1}(x)/I_ν(x) + ν/x` ([`host::log_bessel_i_dx`]).
///
/// Values are [`host::log_bessel_i`] (relative error ~1e-14 in `f64`) rounded
/// to the tensor dtype. Special cases as the host function (`x < 0` or NaN
/// gives NaN). At `x = 0` with `ν > 0` the value is `-inf` and the derivative
/// `+inf`; the surrogate cannot carry an infinite slope without turning the
/// value into NaN (`inf · 0`), so wherever the derivative is infinite in the
/// tensor dtype the gradient is reported as `0`.
///
/// Syncs `x` to the host once per call (see the module docs).
pub fn log_bessel_i<const D: usize>(nu: f64, x: Tensor<D>) -> Tensor<D> {
    surrogate(x, |a| {
        (host::log_bessel_i(nu, a), host::log_bessel_i_dx(nu, a))
    })
}

/// `ln C_m(κ) = (m/2 - 1) ln κ - (m/2) ln 2π - ln I_{m/2-1}(κ)` elementwise,
/// the log-normaliser of the von Mises–Fisher distribution on `S^{m-1}`
/// ([`host::vmf_log_normalizer`]), with gradient
/// `d/dκ ln C_m(κ) = -A_m(κ) = -I_{m/2}(κ)/I_{m/2-1}(κ)`
/// ([`host::vmf_mean_resultant_length`]), which is finite (in `(-1, 0]`)
/// for every `κ ≥ 0`.
///
/// Continuous down to `κ = 0`, where it equals `-ln |S^{m-1}|` and the
/// gradient is `0`. `κ < 0` or NaN gives NaN.
///
/// Syncs `κ` to the host once per call (see the module docs).
///
/// # Panics
///
/// If `m < 2`.
pub fn vmf_log_normalizer<const D: usize>(m: usize, kappa: Tensor<D>) -> Tensor<D> {
    assert!(m >= 2, "vmf_log_normalizer: dimension m = {m} must be ≥ 2");
    surrogate(kappa, |k| {
        (
            host::vmf_log_normalizer(m, k),
            -host::vmf_mean_resultant_length(m, k),
        )
    })
}

/// `v + g · (x - x.detach())` with `(v, g) = f(x)` evaluated on the host in `f64`.
fn surrogate<const D: usize>(x: Tensor<D>, f: impl Fn(f64) -> (f64, f64)) -> Tensor<D> {
    let shape = x.shape();
    let options = TensorCreationOptions::new(x.device()).with_dtype(x.dtype());
    let xs = x
        .clone()
        .into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .expect("f64 data after convert");
    let (v, g): (Vec<f64>, Vec<f64>) = xs.into_iter().map(f).unzip();
    let value = Tensor::<D>::from_data(TensorData::new(v, shape.clone()), options.clone());
    if !x.is_autodiff() {
        return value;
    }
    let slope = Tensor::<D>::from_data(TensorData::new(g, shape), options);
    // An infinite slope (in the tensor dtype) would make the value NaN.
    let slope = slope.clone().mask_fill(slope.is_inf(), 0.0);
    value + slope * (x.clone() - x.detach())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::numerics::tensor::test_support::{apply, devices};

    #[test]
    fn values_match_host_on_flex_and_ndarray() {
        let xs: Vec<f64> = [0.0, 1e-4, 0.3, 2.0, 9.0, 50.0, 1e3, 1e5]
            .iter()
            .map(|&x: &f64| x as f32 as f64)
            .collect();
        for device in devices() {
            for nu in [0.0, 1.5, 40.0] {
                let got = apply(&device, &xs, |x| log_bessel_i(nu, x));
                for (&x, &g) in xs.iter().zip(&got) {
                    let want = host::log_bessel_i(nu, x);
                    if want.is_infinite() {
                        assert_eq!(g, want, "nu {nu} x {x}");
                    } else {
                        // one f32 rounding
                        assert!(
                            (g - want).abs() <= f32::EPSILON as f64 * want.abs() + 1e-30,
                            "nu {nu} x {x}: {g} vs {want}"
                        );
                    }
                }
            }
        }
    }
}
