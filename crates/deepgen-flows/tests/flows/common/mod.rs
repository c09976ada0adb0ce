//! Host-side helpers shared by the flow tests: tensors ↔ f64, brute-force Jacobians (finite
//! differences and autodiff) and ln|det| by LU in f64.

#![allow(dead_code)]

pub mod bij;

use std::sync::{Mutex, MutexGuard};

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_tensor::rng::HostRng;

/// Burn's flex (and ndarray) backend has one process-wide RNG: `device.seed(s)` and every
/// random initialisation go through it, so tests running in parallel threads interleave their
/// draws, and a seeded test (same seed → same metrics, resume = uninterrupted run) fails now
/// and then. Every test of this binary holds this lock for its whole body.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The two CPU backends, by name (ndarray is deprecated in Burn 0.22 but still the
/// independent second implementation to compare against).
#[allow(deprecated)]
pub fn devices() -> Vec<(&'static str, Device)> {
    vec![("flex", Device::flex()), ("ndarray", Device::ndarray())]
}

/// `[rows, cols]` f32 tensor from row-major f64 values.
pub fn tensor2(values: &[f64], cols: usize, device: &Device) -> Tensor<2> {
    let rows = values.len() / cols;
    assert_eq!(rows * cols, values.len());
    let data: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(data, [rows, cols]), device)
}

/// Row-major host copy of any float tensor, as f64.
pub fn host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .try_to_vec_as::<f32>()
        .expect("f32 data")
        .into_iter()
        .map(f64::from)
        .collect()
}

/// Host copy of a bool tensor.
pub fn host_bool<const D: usize>(t: Tensor<D, burn::tensor::Bool>) -> Vec<bool> {
    t.into_data().try_to_vec_as::<bool>().expect("bool data")
}

/// `n·d` standard-normal values times `scale`, rounded to multiples of 2⁻¹⁰ so that
/// `x ± k·2⁻⁶` (the finite-difference stencil) is exact in f32.
pub fn grid_points(rng: &mut HostRng, n: usize, d: usize, scale: f64) -> Vec<f64> {
    (0..n * d)
        .map(|_| (rng.normal() * scale * 1024.0).round() / 1024.0)
        .collect()
}

/// Finite-difference step: 2⁻⁶ ≈ 0.0156.
///
/// Why: the forward is evaluated in f32, so each output carries rounding noise of a few ulps,
/// δ ≈ 3·6e-8·|y|. The five-point stencil
/// `(8(f(x+h) − f(x−h)) − (f(x+2h) − f(x−2h)))/(12h)` has truncation error `h⁴ f⁽⁵⁾/30`
/// (≈ 2e-9·f⁽⁵⁾ here: negligible for these smooth tanh networks) and rounding error
/// ≈ 1.5·δ/h ≈ 2e-5 for |y| ≈ 1, so Jacobian entries are good to ~1e-5…1e-4 and ln|det|
/// (a sum of D relative errors of the pivots) to ~1e-4 — ten times inside the 1e-3
/// tolerance. A smaller h amplifies the f32 noise, a larger one the truncation error.
/// Points lie on a 2⁻¹⁰ grid, so `x ± h`, `x ± 2h` are exact in f32 and the denominator is
/// exactly the step taken.
pub const FD_STEP: f64 = 1.0 / 64.0;

/// Jacobians `J[p][i·d + j] = ∂y_i/∂x_j` at each of the `n` points `x` (`n·d` row-major), by the
/// five-point central stencil in f64 arithmetic on f32 evaluations. `f` maps a batch of rows
/// and, for each row, the index of the point it perturbs (to repeat a per-point context) to
/// the outputs (row-major, `d` per row). All `4·n·d` evaluations go through one call.
pub fn fd_jacobians(
    x: &[f64],
    d: usize,
    f: impl Fn(&[f64], &[usize]) -> Vec<f64>,
) -> Vec<Vec<f64>> {
    let n = x.len() / d;
    let h = FD_STEP;
    let offsets = [2.0 * h, h, -h, -2.0 * h];
    let mut rows = Vec::with_capacity(4 * n * d * d);
    let mut owners = Vec::with_capacity(4 * n * d);
    for p in 0..n {
        for j in 0..d {
            for &o in &offsets {
                let mut row = x[p * d..(p + 1) * d].to_vec();
                row[j] += o;
                rows.extend(row);
                owners.push(p);
            }
        }
    }
    let y = f(&rows, &owners);
    assert_eq!(y.len(), rows.len());
    let mut jac = vec![vec![0.0; d * d]; n];
    for (p, jp) in jac.iter_mut().enumerate() {
        for j in 0..d {
            let base = ((p * d + j) * 4) * d;
            let at = |k: usize, i: usize| y[base + k * d + i];
            for i in 0..d {
                jp[i * d + j] = (8.0 * (at(1, i) - at(2, i)) - (at(0, i) - at(3, i))) / (12.0 * h);
            }
        }
    }
    jac
}

/// `ln |det A|` of a row-major `n×n` matrix by LU with partial pivoting, in f64.
pub fn ln_abs_det(a: &[f64], n: usize) -> f64 {
    let mut a = a.to_vec();
    let mut acc = 0.0;
    for k in 0..n {
        let p = (k..n)
            .max_by(|&r, &s| a[r * n + k].abs().total_cmp(&a[s * n + k].abs()))
            .expect("non-empty");
        if p != k {
            for c in 0..n {
                a.swap(k * n + c, p * n + c);
            }
        }
        let pivot = a[k * n + k];
        assert!(pivot != 0.0, "singular matrix");
        acc += pivot.abs().ln();
        for r in k + 1..n {
            let m = a[r * n + k] / pivot;
            for c in k..n {
                a[r * n + c] -= m * a[k * n + c];
            }
        }
    }
    acc
}

/// Jacobians by autodiff: `f` is evaluated once per output column `i` on `x` (`[n, d]`, on an
/// autodiff device), and `∂(Σ_b y[b, i])/∂x` gives row `i` of every point's Jacobian (rows of
/// the batch are independent). Returns `J[p][i·d + j]`.
pub fn autodiff_jacobians(
    x: &[f64],
    d: usize,
    device: &Device,
    f: impl Fn(Tensor<2>) -> Tensor<2>,
) -> Vec<Vec<f64>> {
    let n = x.len() / d;
    let mut jac = vec![vec![0.0; d * d]; n];
    for i in 0..d {
        let xt = tensor2(x, d, device).require_grad();
        let y = f(xt.clone());
        let grads = y.narrow(1, i, 1).sum().backward();
        let g = host(xt.grad(&grads).expect("x requires grad"));
        for p in 0..n {
            for j in 0..d {
                jac[p][i * d + j] = g[p * d + j];
            }
        }
    }
    jac
}

/// Position of each variable in `order` (`pos[order[k]] = k`).
pub fn positions(order: &[usize]) -> Vec<usize> {
    let mut pos = vec![0; order.len()];
    for (k, &i) in order.iter().enumerate() {
        pos[i] = k;
    }
    pos
}

/// Rows `owners[r]` of a per-point table (`cols` values per point), stacked.
pub fn repeat_rows(table: &[f64], cols: usize, owners: &[usize]) -> Vec<f64> {
    owners
        .iter()
        .flat_map(|&p| table[p * cols..(p + 1) * cols].iter().copied())
        .collect()
}

/// Largest absolute difference.
pub fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f64::max)
}
