//! 2-D convolution with deepgen's own CPU kernels on the flex backend.
//!
//! [`Conv2d`]/[`Conv2dConfig`] are Burn's `burn::nn::conv::Conv2d`/`Conv2dConfig` (same fields,
//! defaults, initialisation and record layout, so checkpoints load either way), and [`conv2d`] is
//! `burn::tensor::module::conv2d` with the same signature. The difference is where the work runs:
//! on a flex device, for `f32` and `groups = 1`, through the batch-parallel im2col + GEMM kernels
//! of [`kernel`] (a Burn backend extension with its own backward step, [`extension`]); everywhere
//! else (wgpu, ndarray, grouped convolutions, other dtypes) through Burn's `conv2d` unchanged.
//!
//! Why: Burn 0.22.1's flex convolution converts the whole input to NHWC on the calling thread and
//! computes the weight gradient as a convolution whose kernel is the entire output-gradient
//! image; on the 2-core machine the examples train on, one core idled for much of every Glow and
//! U-Net step (docs/performance.md has the profiles and the before/after timings).
//! `DEEPGEN_CONV=burn` in the environment sends every convolution to Burn's kernels instead
//! (for comparisons, or if a bug is suspected here). The conformance test
//! (`tests/conformance/conv_conformance.rs`) checks values and every gradient against Burn's
//! own convolution.

mod extension;
mod kernel;

use std::sync::OnceLock;

use burn::backend::{Dispatch, DispatchDevice};
use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Device, Tensor};

use extension::CpuConv2d;

/// The environment variable that picks the convolution kernels: `burn` for Burn's own, anything
/// else (or unset) for deepgen's on flex.
pub const CONV_ENV: &str = "DEEPGEN_CONV";

fn burn_kernels_forced() -> bool {
    static FORCED: OnceLock<bool> = OnceLock::new();
    *FORCED.get_or_init(|| {
        std::env::var(CONV_ENV).is_ok_and(|v| v.trim().eq_ignore_ascii_case("burn"))
    })
}

/// Whether [`conv2d`] runs deepgen's kernel for these operands (else Burn's `conv2d`).
pub fn uses_deepgen_kernel(x: &Tensor<4>, weight: &Tensor<4>, options: &ConvOptions<2>) -> bool {
    let on_flex = matches!(
        x.device().without_autodiff().as_dispatch(),
        DispatchDevice::Flex(_)
    );
    on_flex
        && !burn_kernels_forced()
        && options.groups == 1
        && x.dtype() == DType::F32
        && weight.dtype() == DType::F32
        && x.dims()[1] == weight.dims()[1]
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

/// Configuration of a [`Conv2d`]: the fields and defaults of Burn's `Conv2dConfig`.
#[derive(Config, Debug)]
pub struct Conv2dConfig {
    /// The number of channels: `[channels_in, channels_out]`.
    pub channels: [usize; 2],
    /// The size of the kernel.
    pub kernel_size: [usize; 2],
    /// The stride of the convolution.
    #[config(default = "[1, 1]")]
    pub stride: [usize; 2],
    /// Spacing between kernel elements.
    #[config(default = "[1, 1]")]
    pub dilation: [usize; 2],
    /// Controls the connections between input and output channels.
    #[config(default = "1")]
    pub groups: usize,
    /// The padding configuration.
    #[config(default = "PaddingConfig2d::Valid")]
    pub padding: PaddingConfig2d,
    /// If bias should be added to the output.
    #[config(default = true)]
    pub bias: bool,
    /// The type of function used to initialize neural network parameters.
    #[config(default = "Initializer::KaimingUniform{gain:1.0/3.0f64.sqrt(),fan_out_only:false}")]
    pub initializer: Initializer,
}

/// A 2-D convolution layer (Burn's `Conv2d`, computed by [`conv2d`]).
///
/// # Shapes
/// - input: `[batch, channels_in, height_in, width_in]`
/// - output: `[batch, channels_out, height_out, width_out]`
#[derive(Module, Debug)]
pub struct Conv2d {
    /// Tensor of shape `[channels_out, channels_in / groups, kernel_size_1, kernel_size_2]`.
    pub weight: Param<Tensor<4>>,
    /// Tensor of shape `[channels_out]`.
    pub bias: Option<Param<Tensor<1>>>,
    /// Stride of the convolution.
    pub stride: [usize; 2],
    /// Size of the kernel.
    pub kernel_size: [usize; 2],
    /// Spacing between kernel elements.
    pub dilation: [usize; 2],
    /// Controls the connections between input and output channels.
    pub groups: usize,
    /// The padding configuration.
    #[module(skip)]
    pub padding: PaddingConfig2d,
}

impl Conv2dConfig {
    /// Initializes a new [`Conv2d`] exactly as Burn's `Conv2dConfig::init` does.
    ///
    /// # Panics
    /// If `channels` are not divisible by `groups` (Burn's check).
    pub fn init(&self, device: &Device) -> Conv2d {
        let burn::nn::conv::Conv2d {
            weight,
            bias,
            stride,
            kernel_size,
            dilation,
            groups,
            padding,
        } = burn::nn::conv::Conv2dConfig {
            channels: self.channels,
            kernel_size: self.kernel_size,
            stride: self.stride,
            dilation: self.dilation,
            groups: self.groups,
            padding: self.padding.clone(),
            bias: self.bias,
            initializer: self.initializer.clone(),
        }
        .init(device);
        Conv2d {
            weight,
            bias,
            stride,
            kernel_size,
            dilation,
            groups,
            padding,
        }
    }
}

/// `(begin, end)` padding that keeps `ceil(size / stride)` outputs (Burn's `Same` rule).
fn same_padding(kernel: usize, stride: usize, size: usize) -> (usize, usize) {
    let out = size.div_ceil(stride);
    let total = if out > 0 {
        ((out - 1) * stride + kernel).saturating_sub(size)
    } else {
        0
    };
    (total / 2, total - total / 2)
}

impl Conv2d {
    /// The convolution options for an input of `height × width` (padding resolved).
    pub fn options(&self, height: usize, width: usize) -> ConvOptions<2> {
        let padding = match &self.padding {
            PaddingConfig2d::Valid => [(0, 0), (0, 0)],
            PaddingConfig2d::Same => [
                same_padding(self.kernel_size[0], self.stride[0], height),
                same_padding(self.kernel_size[1], self.stride[1], width),
            ],
            PaddingConfig2d::Explicit(top, left, bottom, right) => {
                [(*top, *bottom), (*left, *right)]
            }
        };
        ConvOptions::new_with_padding(self.stride, padding, self.dilation, self.groups)
    }

    /// Applies the convolution.
    ///
    /// # Shapes
    /// - input: `[batch, channels_in, height_in, width_in]`
    /// - output: `[batch, channels_out, height_out, width_out]`
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        let [_, _, height, width] = input.dims();
        conv2d(
            input,
            self.weight.val(),
            self.bias.as_ref().map(|bias| bias.val()),
            self.options(height, width),
        )
    }
}
