//! Helpers shared by the tensor-numerics tests.

use burn::tensor::{Device, Tensor};

/// The CPU devices every tensor test runs on: flex and (deprecated) ndarray.
pub(crate) fn devices() -> Vec<Device> {
    #[allow(deprecated)]
    let ndarray = Device::ndarray();
    vec![Device::flex(), ndarray]
}

/// Copies a tensor's values to the host as `f64`.
pub(crate) fn to_vec<const D: usize>(x: Tensor<D>) -> Vec<f64> {
    x.into_data()
        .convert::<f64>()
        .try_to_vec::<f64>()
        .expect("f64 data after convert")
}

/// Runs `f` on an `f32` 1-d tensor made from `xs` and returns the result on the host.
pub(crate) fn apply(device: &Device, xs: &[f64], f: impl Fn(Tensor<1>) -> Tensor<1>) -> Vec<f64> {
    let v: Vec<f32> = xs.iter().map(|&a| a as f32).collect();
    let n = v.len();
    to_vec(f(Tensor::<1>::from_data(
        burn::tensor::TensorData::new(v, [n]),
        device,
    )))
}
