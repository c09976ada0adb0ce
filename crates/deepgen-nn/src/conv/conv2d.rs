//! [`Conv2d`]: Burn's `burn::nn::conv::Conv2d` layer (same fields, defaults, initialisation and
//! record layout, so checkpoints load either way), computed by [`conv2d`].

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor};

use super::conv2d;

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
