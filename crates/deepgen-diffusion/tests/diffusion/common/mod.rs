//! Helpers shared by the diffusion tests: devices, tensors ↔ f64, tolerances, host noise.

#![allow(dead_code)]

use burn::tensor::{Device, Int, Tensor, TensorData};
use deepgen_diffusion::{NoiseSchedule, NoiseScheduleConfig};
use deepgen_tensor::rng::HostRng;

/// Burn's flex (and ndarray) backend has one process-wide RNG: `device.seed(s)`, `Trainer::fit`'s
/// per-epoch reseeding and every random initialisation go through it, so tests running in
/// parallel threads interleave their draws and a seeded test (same seed → same numbers, resume =
/// uninterrupted run) fails now and then. Every test of this binary holds this lock.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The default test device (flex).
pub fn device() -> Device {
    Device::flex()
}

/// The two CPU backends, by name.
#[allow(deprecated)]
pub fn devices() -> Vec<(&'static str, Device)> {
    vec![("flex", Device::flex()), ("ndarray", Device::ndarray())]
}

/// An f32 tensor of any rank from row-major f64 values.
pub fn tensor<const D: usize>(values: &[f64], shape: [usize; D], device: &Device) -> Tensor<D> {
    assert_eq!(values.len(), shape.iter().product::<usize>());
    let data: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(data, shape), device)
}

/// An int tensor of timesteps.
pub fn timesteps(t: &[usize], device: &Device) -> Tensor<1, Int> {
    let data: Vec<i64> = t.iter().map(|&v| v as i64).collect();
    Tensor::from_data(TensorData::new(data, [t.len()]), device)
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

/// Asserts `|a − e| ≤ abs + rel·|e|` elementwise, naming the first failure.
pub fn assert_close(actual: &[f64], expected: &[f64], rel: f64, abs: f64, what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths differ");
    for (i, (a, e)) in actual.iter().zip(expected).enumerate() {
        assert!(
            (a - e).abs() <= abs + rel * e.abs(),
            "{what}[{i}]: got {a}, expected {e} (|diff| = {:e})",
            (a - e).abs()
        );
    }
}

/// Relative closeness of two f64 scalars.
pub fn assert_rel(actual: f64, expected: f64, rel: f64, what: &str) {
    assert!(
        (actual - expected).abs() <= rel * expected.abs(),
        "{what}: got {actual}, expected {expected} (rel diff {:e})",
        ((actual - expected) / expected).abs()
    );
}

/// `n` standard-normal f64 values from a seeded host RNG.
pub fn normals(rng: &mut HostRng, n: usize) -> Vec<f64> {
    (0..n).map(|_| rng.normal()).collect()
}

/// Ho et al.'s linear schedule with T = 1000.
pub fn linear_1000() -> NoiseSchedule {
    NoiseScheduleConfig::new().init()
}

/// Mean and (population) variance of host values.
pub fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / n;
    (m, var)
}

/// The exact ε-model of Gaussian data `N(mu, s²)` per coordinate:
/// `E[ε | x_t] = √(1 − ᾱ)(x_t − √ᾱ μ)/(ᾱ s² + 1 − ᾱ)`, and its coefficients `(k, offset)` with
/// `ε = k·x + offset`.
pub fn gaussian_eps_coefs(alpha_bar: f64, mu: f64, s: f64) -> (f64, f64) {
    let k = (1.0 - alpha_bar).sqrt() / (alpha_bar * s * s + 1.0 - alpha_bar);
    (k, -k * alpha_bar.sqrt() * mu)
}

/// The exact ε-model of Gaussian data applied to a batch at timestep `t`.
pub fn gaussian_eps<const D: usize>(
    schedule: &NoiseSchedule,
    x: Tensor<D>,
    t: usize,
    mu: f64,
    s: f64,
) -> Tensor<D> {
    let (k, off) = gaussian_eps_coefs(schedule.alpha_bar()[t], mu, s);
    x.mul_scalar(k).add_scalar(off)
}
