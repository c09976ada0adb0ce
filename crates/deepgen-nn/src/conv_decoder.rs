//! A convolutional decoder to images of any shape `[C, H, W]`: a linear layer to a small
//! feature map, then stride-2 transposed convolutions back to exactly `[C, H, W]`.
//!
//! It mirrors a [`ConvEncoder`](crate::ConvEncoder) with the same `channels` and kernel: each
//! transposed convolution undoes one encoder block, with the output padding of
//! [`block_output_padding`] so that odd and even sides both come
//! back exactly. The last transposed convolution has no activation: the decoder outputs
//! unconstrained values (logits or distribution parameters). The computed sizes are recorded
//! in [`ConvDecoder::sizes`] and [`ConvDecoder::output_padding`].

use crate::conv::{ConvTranspose2d, ConvTranspose2dConfig};
use burn::config::Config;
use burn::module::Module;
use burn::nn::activation::{Activation, ActivationConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use deepgen_tensor::{ConfigError, Validate};

use crate::conv_geometry::{block_output_padding, block_padding, validate_conv};

/// Configuration of a [`ConvDecoder`]: `input_dim` → linear (+ activation) → the smallest
/// feature map of the mirrored encoder → stride-2 transposed convolutions back to exactly
/// `[C, H, W]`, no activation after the last one.
#[derive(Config, Debug)]
pub struct ConvDecoderConfig {
    /// Output shape `[C, H, W]`.
    pub output: [usize; 3],
    /// Channels of the mirrored **encoder**, in encoder order (e.g. `[32, 64]`: the decoder
    /// goes 64 → 32 → C).
    pub channels: Vec<usize>,
    /// Input features.
    pub input_dim: usize,
    /// Square kernel size (must match the mirrored encoder's).
    #[config(default = 4)]
    pub kernel: usize,
    /// Activation after the linear layer and every transposed convolution but the last.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
}

impl Validate for ConvDecoderConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        self.spatial_sizes().map(|_| ())
    }
}

impl ConvDecoderConfig {
    /// Validates the configuration and returns the spatial sizes from the output `[H, W]`
    /// down to the smallest feature map (the mirrored encoder's sizes).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the field.
    pub fn spatial_sizes(&self) -> Result<Vec<[usize; 2]>, ConfigError> {
        validate_conv(
            "ConvDecoderConfig",
            "output",
            self.output,
            &self.channels,
            self.kernel,
            ("input_dim", self.input_dim),
        )
    }

    /// Flattened output size `C·H·W`.
    pub fn output_dim(&self) -> usize {
        self.output.iter().product()
    }

    /// Validates the configuration, then initialises the decoder on `device`.
    ///
    /// # Errors
    /// The [`ConfigError`] of [`validate`](Validate::validate).
    pub fn try_init(&self, device: &Device) -> Result<ConvDecoder, ConfigError> {
        let sizes = self.spatial_sizes()?;
        let p = block_padding(self.kernel);
        let n = self.channels.len();
        let [h0, w0] = sizes[n];
        let linear = LinearConfig::new(self.input_dim, self.channels[n - 1] * h0 * w0).init(device);
        let mut deconvs = Vec::with_capacity(n);
        let mut output_padding = Vec::with_capacity(n);
        // Block i of the decoder undoes encoder block n − 1 − i: sizes[n − i] → sizes[n − i − 1].
        for i in 0..n {
            let enc = n - 1 - i;
            let c_in = self.channels[enc];
            let c_out = if enc == 0 {
                self.output[0]
            } else {
                self.channels[enc - 1]
            };
            let [th, tw] = sizes[enc];
            let op = [
                block_output_padding(th, self.kernel),
                block_output_padding(tw, self.kernel),
            ];
            deconvs.push(
                ConvTranspose2dConfig::new([c_in, c_out], [self.kernel, self.kernel])
                    .with_stride([2, 2])
                    .with_padding([p, p])
                    .with_padding_out(op)
                    .init(device),
            );
            output_padding.push(op);
        }
        Ok(ConvDecoder {
            linear,
            deconvs,
            activation: self.activation.init(device),
            output: self.output,
            sizes: sizes.into_iter().rev().collect(),
            output_padding,
        })
    }

    /// Initialises the decoder on `device`.
    ///
    /// # Panics
    /// With the [`ConfigError`] message if the configuration is invalid (see
    /// [`try_init`](Self::try_init)).
    pub fn init(&self, device: &Device) -> ConvDecoder {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Convolutional decoder (see [`ConvDecoderConfig`]).
#[derive(Module, Debug)]
pub struct ConvDecoder {
    /// `input_dim` → smallest feature map (flattened).
    pub linear: Linear,
    /// The stride-2 transposed convolutions in order.
    pub deconvs: Vec<ConvTranspose2d>,
    /// The activation after the linear layer and every transposed convolution but the last.
    pub activation: Activation,
    /// Output shape `[C, H, W]`.
    #[module(skip)]
    pub output: [usize; 3],
    /// Spatial sizes `[H, W]` from the smallest feature map up to the output.
    #[module(skip)]
    pub sizes: Vec<[usize; 2]>,
    /// Output padding `[h, w]` of each transposed convolution, in order.
    #[module(skip)]
    pub output_padding: Vec<[usize; 2]>,
}

impl ConvDecoder {
    /// Maps the features to the smallest feature map and applies the transposed
    /// convolutions; no activation after the last.
    ///
    /// # Shapes
    /// - input: `[batch, input_dim]`
    /// - output: `[batch, C, H, W]`
    pub fn forward(&self, z: Tensor<2>) -> Tensor<4> {
        let [b, _] = z.dims();
        let [h0, w0] = self.sizes[0];
        let c0 = self.deconvs[0].channels[0];
        let mut h = self
            .activation
            .forward(crate::forward_linear(&self.linear, z))
            .reshape([b, c0, h0, w0]);
        let last = self.deconvs.len() - 1;
        for (i, deconv) in self.deconvs.iter().enumerate() {
            h = deconv.forward(h);
            if i < last {
                h = crate::activate(&self.activation, h);
            }
        }
        h
    }

    /// [`forward`](Self::forward), flattened row-major per example.
    ///
    /// # Shapes
    /// - input: `[batch, input_dim]`
    /// - output: `[batch, C·H·W]`
    pub fn forward_flat(&self, z: Tensor<2>) -> Tensor<2> {
        let [b, _] = z.dims();
        self.forward(z)
            .reshape([b, self.output.iter().product::<usize>()])
    }
}
