//! [`EncoderNetConfig`] / [`DecoderNetConfig`]: MLP and convolutional nets made interchangeable
//! on flattened data, so that a model (VAE, AE) holds one field whatever the body is.
//!
//! Both variants of an encoder map `[B, D]` to `[B, output_dim]`; for a convolutional net `D`
//! is `C·H·W` and the rows are reshaped to `[B, C, H, W]` inside. Decoders do the reverse and
//! flatten their output the same way (row-major `[C, H, W]`).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use deepgen_tensor::{ConfigError, Validate};

use crate::conv_decoder::{ConvDecoder, ConvDecoderConfig};
use crate::conv_encoder::{ConvEncoder, ConvEncoderConfig};
use crate::mlp::{Mlp, MlpConfig};

/// An encoder body on flattened data: an [`MlpConfig`] or a [`ConvEncoderConfig`].
#[derive(Config, Debug)]
pub enum EncoderNetConfig {
    /// A multi-layer perceptron `input_dim → hidden… → output_dim`.
    Mlp(MlpConfig),
    /// Stride-2 convolutions on `[C, H, W]` images, then a linear layer.
    Conv(ConvEncoderConfig),
}

impl Validate for EncoderNetConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Mlp(c) => c.validate(),
            Self::Conv(c) => c.validate(),
        }
    }
}

impl EncoderNetConfig {
    /// An MLP encoder `input_dim → hidden… → output_dim` with ReLU.
    pub fn mlp(input_dim: usize, hidden: Vec<usize>, output_dim: usize) -> Self {
        Self::Mlp(MlpConfig::new(input_dim, hidden, output_dim))
    }

    /// A convolutional encoder on `[C, H, W]` with kernel 4 and ReLU.
    pub fn conv(input: [usize; 3], channels: Vec<usize>, output_dim: usize) -> Self {
        Self::Conv(ConvEncoderConfig::new(input, channels, output_dim))
    }

    /// Flattened input size.
    pub fn input_dim(&self) -> usize {
        match self {
            Self::Mlp(c) => c.input_dim,
            Self::Conv(c) => c.input_dim(),
        }
    }

    /// Output features.
    pub fn output_dim(&self) -> usize {
        match self {
            Self::Mlp(c) => c.output_dim,
            Self::Conv(c) => c.output_dim,
        }
    }

    /// The decoder mirroring this encoder, from `input_dim` features back to this encoder's
    /// input (reversed hidden widths, or transposed convolutions with the same kernel).
    pub fn mirrored_decoder(&self, input_dim: usize) -> DecoderNetConfig {
        match self {
            Self::Mlp(c) => {
                let mut hidden = c.hidden.clone();
                hidden.reverse();
                DecoderNetConfig::Mlp(
                    MlpConfig::new(input_dim, hidden, c.input_dim)
                        .with_activation(c.activation.clone()),
                )
            }
            Self::Conv(c) => DecoderNetConfig::Conv(c.mirrored_decoder(input_dim)),
        }
    }

    /// Validates the configuration, then initialises the encoder on `device`.
    ///
    /// # Errors
    /// The [`ConfigError`] of [`validate`](Validate::validate).
    pub fn try_init(&self, device: &Device) -> Result<EncoderNet, ConfigError> {
        Ok(match self {
            Self::Mlp(c) => EncoderNet::Mlp(c.try_init(device)?),
            Self::Conv(c) => EncoderNet::Conv(c.try_init(device)?),
        })
    }

    /// Initialises the encoder on `device`.
    ///
    /// # Panics
    /// With the [`ConfigError`] message if the configuration is invalid.
    pub fn init(&self, device: &Device) -> EncoderNet {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// An encoder body: [`Mlp`] or [`ConvEncoder`] (see [`EncoderNetConfig`]).
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum EncoderNet {
    /// A multi-layer perceptron.
    Mlp(Mlp),
    /// A convolutional encoder (input reshaped to `[B, C, H, W]`).
    Conv(ConvEncoder),
}

impl EncoderNet {
    /// The MLP, if this encoder is one (e.g. to reach a layer's parameters).
    pub fn as_mlp(&self) -> Option<&Mlp> {
        match self {
            Self::Mlp(m) => Some(m),
            Self::Conv(_) => None,
        }
    }

    /// Mutable access to the MLP, if this encoder is one.
    pub fn as_mlp_mut(&mut self) -> Option<&mut Mlp> {
        match self {
            Self::Mlp(m) => Some(m),
            Self::Conv(_) => None,
        }
    }

    /// Encodes flattened inputs.
    ///
    /// # Shapes
    /// - input: `[batch, D]` (`D = C·H·W`, row-major, for a convolutional net)
    /// - output: `[batch, output_dim]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Mlp(m) => m.forward(x),
            Self::Conv(c) => c.forward_flat(x),
        }
    }
}

/// A decoder body on flattened data: an [`MlpConfig`] or a [`ConvDecoderConfig`].
#[derive(Config, Debug)]
pub enum DecoderNetConfig {
    /// A multi-layer perceptron `input_dim → hidden… → output_dim`.
    Mlp(MlpConfig),
    /// A linear layer and stride-2 transposed convolutions to `[C, H, W]`.
    Conv(ConvDecoderConfig),
}

impl Validate for DecoderNetConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Mlp(c) => c.validate(),
            Self::Conv(c) => c.validate(),
        }
    }
}

impl DecoderNetConfig {
    /// An MLP decoder `input_dim → hidden… → output_dim` with ReLU.
    pub fn mlp(input_dim: usize, hidden: Vec<usize>, output_dim: usize) -> Self {
        Self::Mlp(MlpConfig::new(input_dim, hidden, output_dim))
    }

    /// A convolutional decoder to `[C, H, W]` mirroring an encoder with `channels`, kernel 4.
    pub fn conv(output: [usize; 3], channels: Vec<usize>, input_dim: usize) -> Self {
        Self::Conv(ConvDecoderConfig::new(output, channels, input_dim))
    }

    /// Input features.
    pub fn input_dim(&self) -> usize {
        match self {
            Self::Mlp(c) => c.input_dim,
            Self::Conv(c) => c.input_dim,
        }
    }

    /// Flattened output size.
    pub fn output_dim(&self) -> usize {
        match self {
            Self::Mlp(c) => c.output_dim,
            Self::Conv(c) => c.output_dim(),
        }
    }

    /// Validates the configuration, then initialises the decoder on `device`.
    ///
    /// # Errors
    /// The [`ConfigError`] of [`validate`](Validate::validate).
    pub fn try_init(&self, device: &Device) -> Result<DecoderNet, ConfigError> {
        Ok(match self {
            Self::Mlp(c) => DecoderNet::Mlp(c.try_init(device)?),
            Self::Conv(c) => DecoderNet::Conv(c.try_init(device)?),
        })
    }

    /// Initialises the decoder on `device`.
    ///
    /// # Panics
    /// With the [`ConfigError`] message if the configuration is invalid.
    pub fn init(&self, device: &Device) -> DecoderNet {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A decoder body: [`Mlp`] or [`ConvDecoder`] (see [`DecoderNetConfig`]), no final
/// activation.
#[derive(Module, Debug)]
#[allow(clippy::large_enum_variant)]
pub enum DecoderNet {
    /// A multi-layer perceptron.
    Mlp(Mlp),
    /// A convolutional decoder (output flattened from `[B, C, H, W]`).
    Conv(ConvDecoder),
}

impl DecoderNet {
    /// The MLP, if this decoder is one (e.g. to reach a layer's parameters).
    pub fn as_mlp(&self) -> Option<&Mlp> {
        match self {
            Self::Mlp(m) => Some(m),
            Self::Conv(_) => None,
        }
    }

    /// Mutable access to the MLP, if this decoder is one.
    pub fn as_mlp_mut(&mut self) -> Option<&mut Mlp> {
        match self {
            Self::Mlp(m) => Some(m),
            Self::Conv(_) => None,
        }
    }

    /// Decodes to flattened outputs.
    ///
    /// # Shapes
    /// - input: `[batch, input_dim]`
    /// - output: `[batch, D]` (`D = C·H·W`, row-major, for a convolutional net)
    pub fn forward(&self, z: Tensor<2>) -> Tensor<2> {
        match self {
            Self::Mlp(m) => m.forward(z),
            Self::Conv(c) => c.forward_flat(z),
        }
    }
}
