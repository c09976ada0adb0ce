//! Helpers shared by the VQ tests: the device, tensors ↔ f64.

#![allow(dead_code)]

use burn::tensor::{Device, Int, Tensor, TensorData};

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

/// An f32 tensor of any rank from row-major f64 values.
pub fn tensor<const D: usize>(values: &[f64], shape: [usize; D], device: &Device) -> Tensor<D> {
    assert_eq!(values.len(), shape.iter().product::<usize>());
    let data: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(data, shape), device)
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

/// Row-major host copy of any int tensor.
pub fn host_int<const D: usize>(t: Tensor<D, Int>) -> Vec<i64> {
    t.into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .expect("int data")
}
