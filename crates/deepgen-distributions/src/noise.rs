//! Host-drawn noise tensors.
//!
//! Noise is generated with [`HostRng`] in f64 and uploaded as f32, so a seed gives
//! the same sample on every backend and no device-global RNG state is touched.

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_tensor::rng::HostRng;

/// ε ~ N(0, 1), shape `[rows, cols]`.
pub fn standard_normal(rng: &mut HostRng, shape: [usize; 2], device: &Device) -> Tensor<2> {
    from_fn(shape, device, || rng.normal())
}

/// u ~ U(0, 1) on the open interval (never exactly 0 or 1), shape `[rows, cols]`.
pub fn uniform_open(rng: &mut HostRng, shape: [usize; 2], device: &Device) -> Tensor<2> {
    from_fn(shape, device, || {
        // uniform_open excludes 0; exclude 1 after rounding to f32 as well.
        let u = rng.uniform_open();
        u.min(1.0 - f32::EPSILON as f64 / 2.0)
    })
}

/// g ~ Gumbel(0, 1) = −ln(−ln u), shape `[rows, cols]`.
pub fn standard_gumbel(rng: &mut HostRng, shape: [usize; 2], device: &Device) -> Tensor<2> {
    from_fn(shape, device, || {
        let u = rng.uniform_open();
        -(-u.ln()).ln()
    })
}

/// A `[rows, cols]` tensor filled row-major by `f`, computed in f64 and stored as f32.
pub fn from_fn(shape: [usize; 2], device: &Device, mut f: impl FnMut() -> f64) -> Tensor<2> {
    let data: Vec<f32> = (0..shape[0] * shape[1]).map(|_| f() as f32).collect();
    Tensor::from_data(TensorData::new(data, shape), device)
}
