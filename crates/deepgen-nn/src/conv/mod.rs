//! 2-D convolution with deepgen's own CPU kernels on the flex backend.
//!
//! [`Conv2d`] and [`ConvTranspose2d`] (with their configs) are Burn's `burn::nn::conv` layers (same
//! fields, defaults, initialisation and record layout, so checkpoints load either way), and
//! [`conv2d`]/[`conv_transpose2d`] are `burn::tensor::module`'s functions with the same
//! signatures. The difference is where the work runs: on a flex device, for `f32` and
//! `groups = 1`, through the batch-parallel im2col + GEMM kernels of `kernel.rs` (a Burn backend
//! extension with its own backward step, `extension.rs`; a transposed convolution is computed as
//! the input gradient of the convolution it transposes); everywhere else (wgpu, ndarray, grouped
//! convolutions, other dtypes) through Burn's functions unchanged.
//!
//! Why: Burn 0.22.1's flex convolution converts the whole input to NHWC on the calling thread and
//! computes the weight gradient as a convolution whose kernel is the entire output-gradient
//! image; on the 2-core machine the examples train on, one core idled for much of every Glow and
//! U-Net step (docs/performance.md has the profiles and the before/after timings).
//!
//! A stride-1 convolution with fewer output than input channels (the last layer of a Glow
//! coupling's conditioner, 128 → 4; a decoder's output layer) runs as the transposed
//! convolution of the spatially flipped, transposed kernel (`padding k − 1 − p`, the same
//! map): its patch matrices are built from the few-channel side (`C_out·kh·kw` rows instead of
//! `C_in·kh·kw`), so the forward pass needs no im2col of the wide input and the input gradient
//! is one GEMM instead of a rank-`C_out` update of the wide patch matrix followed by col2im
//! (see [`runs_as_transposed`]).
//!
//! `DEEPGEN_CONV=burn` in the environment sends every convolution to Burn's kernels instead
//! (for comparisons, or if a bug is suspected here); `DEEPGEN_CONV=rows` keeps deepgen's
//! kernels without their stride-1 "wide" route (the module docs of `kernel.rs`), which
//! reproduces results measured before 2026-12-06 to the bit. The conformance test
//! (`tests/conformance/conv_conformance.rs`) checks values and every gradient against Burn's
//! own convolution.

mod conv2d;
mod conv_transpose2d;
mod extension;
mod kernel;

use burn::backend::Dispatch;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{DType, Tensor};

pub use conv_transpose2d::{ConvTranspose2d, ConvTranspose2dConfig};
pub use conv2d::{Conv2d, Conv2dConfig};
use extension::CpuConv2d;

use crate::flex_kernels;

pub use crate::flex_kernels::KERNELS_ENV as CONV_ENV;

/// `f32` operands on a flex device, kernels not forced to Burn's.
fn on_flex_f32(x: &Tensor<4>, weight: &Tensor<4>) -> bool {
    flex_kernels::applies(x) && weight.dtype() == DType::F32
}

/// Whether [`conv2d`] runs deepgen's kernel for these operands (else Burn's `conv2d`).
pub fn uses_deepgen_kernel(x: &Tensor<4>, weight: &Tensor<4>, options: &ConvOptions<2>) -> bool {
    on_flex_f32(x, weight) && options.groups == 1 && x.dims()[1] == weight.dims()[1]
}

/// Whether [`conv_transpose2d`] runs deepgen's kernel for these operands (else Burn's).
pub fn uses_deepgen_transpose_kernel(
    x: &Tensor<4>,
    weight: &Tensor<4>,
    options: &ConvTransposeOptions<2>,
) -> bool {
    on_flex_f32(x, weight)
        && kernel::Geometry::transposed(x.dims(), weight.dims(), options).is_some()
}

/// The options of the transposed convolution that computes [`conv2d`] for these operands with
/// the flipped, transposed kernel, when deepgen's kernel runs it that way: stride 1, dilation 1,
/// symmetric padding `p ≤ k − 1` per dimension, a kernel larger than 1×1 and fewer output than
/// input channels (see the module docs). `conv2d(x, w, p) = conv_transpose2d(x, flip(w)ᵀ,
/// k − 1 − p)`: output pixel `i` of both reads inputs `i − p … i − p + k − 1`, the transposed
/// one with the taps in reverse order.
pub fn runs_as_transposed(
    x: &Tensor<4>,
    weight: &Tensor<4>,
    options: &ConvOptions<2>,
) -> Option<ConvTransposeOptions<2>> {
    let [c_out, c_in, kh, kw] = weight.dims();
    let k = [kh, kw];
    let symmetric = (0..2).all(|i| {
        let (p0, p1) = options.padding[i];
        p0 == p1 && p0 < k[i]
    });
    let fits = uses_deepgen_kernel(x, weight, options)
        && options.stride == [1, 1]
        && options.dilation == [1, 1]
        && symmetric
        && kh * kw > 1
        && c_out < c_in;
    fits.then(|| {
        let padding = [0, 1].map(|i| k[i] - 1 - options.padding[i].0);
        ConvTransposeOptions::new([1, 1], padding, [0, 0], [1, 1], 1)
    })
}

/// Applies a 2-D convolution: Burn's `burn::tensor::module::conv2d`, same arguments and result,
/// computed by deepgen's kernels where they apply (see the module docs).
///
/// # Shapes
/// - x: `[batch, channels_in, height, width]`
/// - weight: `[channels_out, channels_in / groups, kernel_h, kernel_w]`
/// - bias: `[channels_out]`
/// - output: `[batch, channels_out, height_out, width_out]`
pub fn conv2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
) -> Tensor<4> {
    if !uses_deepgen_kernel(&x, &weight, &options) {
        return burn::tensor::module::conv2d(x, weight, bias, options);
    }
    if let Some(transposed) = runs_as_transposed(&x, &weight, &options) {
        // [C_out, C_in, kh, kw] → [C_in, C_out, kh, kw], taps reversed.
        let weight = weight.flip([2, 3]).swap_dims(0, 1);
        return conv_transpose2d(x, weight, bias, transposed);
    }
    let out = match bias {
        Some(bias) => <Dispatch as CpuConv2d>::deepgen_conv2d_bias(
            x.into_dispatch(),
            weight.into_dispatch(),
            bias.into_dispatch(),
            options,
        ),
        None => <Dispatch as CpuConv2d>::deepgen_conv2d(
            x.into_dispatch(),
            weight.into_dispatch(),
            options,
        ),
    };
    Tensor::from_dispatch(out)
}

/// Applies a 2-D transposed convolution: Burn's `burn::tensor::module::conv_transpose2d`, same
/// arguments and result, computed by deepgen's kernels where they apply (see the module docs).
///
/// # Shapes
/// - x: `[batch, channels_in, height, width]`
/// - weight: `[channels_in, channels_out / groups, kernel_h, kernel_w]`
/// - bias: `[channels_out]`
/// - output: `[batch, channels_out, height_out, width_out]`
pub fn conv_transpose2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvTransposeOptions<2>,
) -> Tensor<4> {
    if !uses_deepgen_transpose_kernel(&x, &weight, &options) {
        return burn::tensor::module::conv_transpose2d(x, weight, bias, options);
    }
    let out = match bias {
        Some(bias) => <Dispatch as CpuConv2d>::deepgen_conv_transpose2d_bias(
            x.into_dispatch(),
            weight.into_dispatch(),
            bias.into_dispatch(),
            options,
        ),
        None => <Dispatch as CpuConv2d>::deepgen_conv_transpose2d(
            x.into_dispatch(),
            weight.into_dispatch(),
            options,
        ),
    };
    Tensor::from_dispatch(out)
}
