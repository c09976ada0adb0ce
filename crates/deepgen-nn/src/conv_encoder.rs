//! A convolutional encoder for images of any shape `[C, H, W]`: stride-2 convolution blocks,
//! then a linear layer to a feature vector (a VAE's posterior heads, an AE's code).
//!
//! Each block is a `kernel × kernel` convolution with stride 2 followed by the activation;
//! the sizes follow [`conv_geometry`](crate::conv_geometry) and are recorded in
//! [`ConvEncoder::sizes`]. [`ConvEncoderConfig::mirrored_decoder`] gives the
//! [`ConvDecoder`](crate::ConvDecoder) that undoes the blocks to exactly `[C, H, W]`.

use crate::conv::{Conv2d, Conv2dConfig};
use burn::config::Config;
use burn::module::Module;
use burn::nn::activation::{Activation, ActivationConfig};
use burn::nn::{Linear, LinearConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};
use deepgen_tensor::{ConfigError, Validate};

use crate::conv_decoder::ConvDecoderConfig;
use crate::conv_geometry::{block_padding, validate_conv};

/// Configuration of a [`ConvEncoder`]: `[C, H, W]` → stride-2 conv blocks with `channels`
/// output channels each → flatten → linear to `output_dim` (no activation after it).
#[derive(Config, Debug)]
pub struct ConvEncoderConfig {
    /// Input shape `[C, H, W]` (any positive sizes that survive the blocks).
    pub input: [usize; 3],
    /// Output channels of each stride-2 block, e.g. `[32, 64]`.
    pub channels: Vec<usize>,
    /// Output features of the final linear layer.
    pub output_dim: usize,
    /// Square kernel size of every block (4 or 3 are usual; at least 2).
    #[config(default = 4)]
    pub kernel: usize,
    /// Activation after every block.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
}

impl Validate for ConvEncoderConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        self.spatial_sizes().map(|_| ())
    }
}

impl ConvEncoderConfig {
    /// Validates the configuration and returns the spatial sizes `[H, W]` of the input and
    /// after every block (see [`block_sizes`](crate::block_sizes)).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the field.
    pub fn spatial_sizes(&self) -> Result<Vec<[usize; 2]>, ConfigError> {
        validate_conv(
            "ConvEncoderConfig",
            "input",
            self.input,
            &self.channels,
            self.kernel,
            ("output_dim", self.output_dim),
        )
    }

    /// Flattened input size `C·H·W`.
    pub fn input_dim(&self) -> usize {
        self.input.iter().product()
    }

    /// Validates the configuration, then initialises the encoder on `device`.
    ///
    /// # Errors
    /// The [`ConfigError`] of [`validate`](Validate::validate).
    pub fn try_init(&self, device: &Device) -> Result<ConvEncoder, ConfigError> {
        let sizes = self.spatial_sizes()?;
        let p = block_padding(self.kernel);
        let mut c_in = self.input[0];
        let mut convs = Vec::with_capacity(self.channels.len());
        for &c_out in &self.channels {
            convs.push(
                Conv2dConfig::new([c_in, c_out], [self.kernel, self.kernel])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                    .init(device),
            );
            c_in = c_out;
        }
        let [h, w] = *sizes.last().expect("at least the input size");
        let linear = LinearConfig::new(c_in * h * w, self.output_dim).init(device);
        Ok(ConvEncoder {
            convs,
            activation: self.activation.init(device),
            linear,
            input: self.input,
            sizes,
        })
    }

    /// Initialises the encoder on `device`.
    ///
    /// # Panics
    /// With the [`ConfigError`] message if the configuration is invalid (see
    /// [`try_init`](Self::try_init)).
    pub fn init(&self, device: &Device) -> ConvEncoder {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The decoder that mirrors this encoder, from `input_dim` features back to `[C, H, W]`
    /// (same channels in reverse, same kernel and activation).
    pub fn mirrored_decoder(&self, input_dim: usize) -> ConvDecoderConfig {
        ConvDecoderConfig::new(self.input, self.channels.clone(), input_dim)
            .with_kernel(self.kernel)
            .with_activation(self.activation.clone())
    }
}

/// Convolutional encoder (see [`ConvEncoderConfig`]).
#[derive(Module, Debug)]
pub struct ConvEncoder {
    /// The stride-2 convolutions in order.
    pub convs: Vec<Conv2d>,
    /// The activation after every convolution.
    pub activation: Activation,
    /// Flattened last feature map → `output_dim`.
    pub linear: Linear,
    /// Input shape `[C, H, W]`.
    #[module(skip)]
    pub input: [usize; 3],
    /// Spatial sizes `[H, W]` of the input and after every block.
    #[module(skip)]
    pub sizes: Vec<[usize; 2]>,
}

impl ConvEncoder {
    /// Applies the blocks, flattens the last feature map and maps it linearly.
    ///
    /// # Shapes
    /// - input: `[batch, C, H, W]`
    /// - output: `[batch, output_dim]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        let mut h = x;
        for conv in &self.convs {
            h = crate::activate(&self.activation, conv.forward(h));
        }
        let [b, c, hh, ww] = h.dims();
        crate::forward_linear(&self.linear, h.reshape([b, c * hh * ww]))
    }

    /// [`forward`](Self::forward) on flattened images (row-major `[C, H, W]` per example).
    ///
    /// # Shapes
    /// - input: `[batch, C·H·W]`
    /// - output: `[batch, output_dim]`
    pub fn forward_flat(&self, x: Tensor<2>) -> Tensor<2> {
        let [b, _] = x.dims();
        let [c, h, w] = self.input;
        self.forward(x.reshape([b, c, h, w]))
    }
}
