//! Helpers for deepgen's own kernels on the flex backend (Burn backend extensions that work on
//! the `f32` slices of a [`FlexTensor`]): whether a tensor can take such a kernel, its elements
//! as a slice, and a flex tensor from a `Vec`. `deepgen-tensor`'s fused Bernoulli likelihood and
//! `deepgen-nn`'s convolution, linear, GroupNorm and activation kernels share them.

use burn::backend::DispatchDevice;
use burn::backend::flex::FlexTensor;
use burn::tensor::{DType, Tensor, TensorData};

/// Whether `t` is an `f32` tensor on a flex device (with or without autodiff): what a flex
/// kernel can take.
pub fn is_flex_f32<const D: usize>(t: &Tensor<D>) -> bool {
    matches!(
        t.device().without_autodiff().as_dispatch(),
        DispatchDevice::Flex(_)
    ) && t.dtype() == DType::F32
}

/// `t` with contiguous storage from offset 0 (itself when it already is).
pub fn contiguous(t: FlexTensor) -> FlexTensor {
    if t.is_contiguous() && t.layout().start_offset() == 0 {
        t
    } else {
        t.to_contiguous()
    }
}

/// The elements of a contiguous `f32` tensor (see [`contiguous`]).
///
/// # Panics
/// If `t` is not an `f32` tensor or not contiguous from offset 0: callers check the dtype
/// ([`is_flex_f32`]) and pass the tensor through [`contiguous`] first.
pub fn values(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("deepgen flex kernels: a contiguous f32 tensor (the caller checks the dtype)")
}

/// A flex tensor holding `data` in `shape` (row-major).
///
/// # Panics
/// If `data.len()` is not the product of `shape`.
pub fn flex_tensor(data: Vec<f32>, shape: impl Into<Vec<usize>>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn values_round_trip_and_views_are_made_contiguous() {
        let t = flex_tensor(vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0], [2, 3]);
        assert_eq!(values(&t), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let t = contiguous(t);
        assert_eq!(values(&t), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        // A transposed view and a narrowed one (non-zero start offset) are copied out.
        assert_eq!(
            values(&contiguous(t.transpose(0, 1))),
            &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]
        );
        assert_eq!(values(&contiguous(t.narrow(0, 1, 1))), &[4.0, 5.0, 6.0]);
    }

    #[test]
    fn only_f32_tensors_on_flex_take_the_kernels() {
        let x = Tensor::<2>::zeros([2, 2], &Device::flex());
        assert!(is_flex_f32(&x));
        assert!(!is_flex_f32(&x.clone().cast(DType::F64)));
        #[allow(deprecated)]
        let ndarray = Device::ndarray();
        assert!(!is_flex_f32(&Tensor::<2>::zeros([2, 2], &ndarray)));
    }
}
