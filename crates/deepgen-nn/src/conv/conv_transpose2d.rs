//! [`ConvTranspose2d`]: Burn's `burn::nn::conv::ConvTranspose2d` layer (same fields, defaults,
//! initialisation and record layout), computed by [`conv_transpose2d`].

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Initializer;
use burn::tensor::ops::ConvTransposeOptions;
use burn::tensor::{Device, Tensor};

use super::conv_transpose2d;

/// Configuration of a [`ConvTranspose2d`]: the fields and defaults of Burn's
/// `ConvTranspose2dConfig`.
#[derive(Config, Debug)]
pub struct ConvTranspose2dConfig {
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
    #[config(default = "[0, 0]")]
    pub padding: [usize; 2],
    /// The padding output configuration.
    #[config(default = "[0, 0]")]
    pub padding_out: [usize; 2],
    /// If bias should be added to the output.
    #[config(default = true)]
    pub bias: bool,
    /// The type of function used to initialize neural network parameters.
    #[config(default = "Initializer::KaimingUniform{gain:1.0/3.0f64.sqrt(),fan_out_only:false}")]
    pub initializer: Initializer,
}

/// A 2-D transposed convolution layer (Burn's `ConvTranspose2d`, computed by
/// [`conv_transpose2d`]).
///
/// # Shapes
/// - input: `[batch, channels_in, height_in, width_in]`
/// - output: `[batch, channels_out, height_out, width_out]`
#[derive(Module, Debug)]
pub struct ConvTranspose2d {
    /// Tensor of shape `[channels_in, channels_out / groups, kernel_size_1, kernel_size_2]`.
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
    /// Padding configuration.
    pub padding: [usize; 2],
    /// Padding output configuration.
    pub padding_out: [usize; 2],
    /// Number of channels.
    pub channels: [usize; 2],
}

impl ConvTranspose2dConfig {
    /// Initializes a new [`ConvTranspose2d`] exactly as Burn's `ConvTranspose2dConfig::init`.
    ///
    /// # Panics
    /// If `channels` are not divisible by `groups` (Burn's check).
    pub fn init(&self, device: &Device) -> ConvTranspose2d {
        let burn::nn::conv::ConvTranspose2d {
            weight,
            bias,
            stride,
            kernel_size,
            dilation,
            groups,
            padding,
            padding_out,
            channels,
        } = burn::nn::conv::ConvTranspose2dConfig {
            channels: self.channels,
            kernel_size: self.kernel_size,
            stride: self.stride,
            dilation: self.dilation,
            groups: self.groups,
            padding: self.padding,
            padding_out: self.padding_out,
            bias: self.bias,
            initializer: self.initializer.clone(),
        }
        .init(device);
        ConvTranspose2d {
            weight,
            bias,
            stride,
            kernel_size,
            dilation,
            groups,
            padding,
            padding_out,
            channels,
        }
    }
}

impl ConvTranspose2d {
    /// The transposed-convolution options of this layer.
    pub fn options(&self) -> ConvTransposeOptions<2> {
        ConvTransposeOptions::new(
            self.stride,
            self.padding,
            self.padding_out,
            self.dilation,
            self.groups,
        )
    }

    /// Applies the transposed convolution.
    ///
    /// # Shapes
    /// - input: `[batch, channels_in, height_in, width_in]`
    /// - output: `[batch, channels_out, height_out, width_out]`
    pub fn forward(&self, input: Tensor<4>) -> Tensor<4> {
        conv_transpose2d(
            input,
            self.weight.val(),
            self.bias.as_ref().map(|bias| bias.val()),
            self.options(),
        )
    }
}
