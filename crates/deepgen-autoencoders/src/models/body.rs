//! The encoder/decoder pair of a latent-variable model, MLP or convolutional, and its
//! observation model, from one description: [`BodyConfig`].
//!
//! Every VAE-style config here ([`VaeConfig`](crate::VaeConfig),
//! [`SphericalVaeConfig`](crate::SphericalVaeConfig), [`IafVaeConfig`](crate::IafVaeConfig),
//! [`CvaeConfig`](crate::CvaeConfig)) holds one as its `body` field: the same five fields
//! (`input_dim`, `hidden`, `conv`, `activation`, `likelihood`) with the same meaning and checks
//! everywhere. [`WithBody`] keeps the builder short: `VaeConfig::new().with_hidden(vec![200, 200])`.
//! The model has an encoder `x → heads` and a mirrored decoder `z → likelihood parameters`;
//! [`BodyConfig::nets`] builds both:
//!
//! - **MLP** (`conv = None`): `D → hidden… → heads` and `latent → reversed hidden… → P·D`.
//! - **Convolutional** (`conv = Some`): stride-2 convolutions on `[C, H, W]` then a linear
//!   layer to the heads, and the mirrored transposed convolutions to `[P·C, H, W]`, where
//!   `P` is the likelihood's parameters per pixel. Flattened row-major, parameter block `p`
//!   of pixel `i` sits at column `p·D + i` — the layout [`LikelihoodConfig`] reads.

use burn::config::Config;
use burn::nn::activation::ActivationConfig;

use burn::tensor::Device;

use deepgen_nn::{
    ConvDecoderConfig, ConvEncoderConfig, DecoderNet, DecoderNetConfig, EncoderNet,
    EncoderNetConfig, MlpConfig,
};
use deepgen_tensor::config::{all_positive, positive};
use deepgen_tensor::{ConfigError, Validate};

use crate::objective::likelihood::LikelihoodConfig;

/// A convolutional body: image shape, channels per stride-2 block and kernel size.
#[derive(Config, Debug, PartialEq)]
pub struct ConvBodyConfig {
    /// Image shape `[C, H, W]`; `C·H·W` must equal the model's `input_dim`.
    pub shape: [usize; 3],
    /// Output channels of each encoder block, e.g. `[32, 64]` (the decoder mirrors them).
    pub channels: Vec<usize>,
    /// Square kernel of every block (4 or 3 are usual).
    #[config(default = 4)]
    pub kernel: usize,
}

/// What every VAE-style model shares: the data size, the encoder/decoder body and the
/// observation model p(x | z). Defaults: 784 inputs, MLP 512-256, ReLU, Bernoulli pixels.
#[derive(Config, Debug)]
pub struct BodyConfig {
    /// Flattened data size `D` (784 for MNIST).
    #[config(default = 784)]
    pub input_dim: usize,
    /// Encoder hidden widths of the MLP body; the decoder mirrors them (unused with `conv`).
    #[config(default = "vec![512, 256]")]
    pub hidden: Vec<usize>,
    /// Convolutional body instead of the MLP: image shape and channels (`None`: MLP).
    #[config(default = "None")]
    pub conv: Option<ConvBodyConfig>,
    /// Activation of the hidden layers (both nets).
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
    /// Observation model p(x | z).
    #[config(default = "LikelihoodConfig::Bernoulli")]
    pub likelihood: LikelihoodConfig,
}

impl Validate for BodyConfig {
    /// `input_dim ≥ 1`, hidden widths ≥ 1, a conv shape with `C·H·W = input_dim` and positive
    /// channels and kernel, and a valid likelihood.
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "BodyConfig";
        positive(C, "input_dim", self.input_dim)?;
        all_positive(C, "hidden", &self.hidden, false)?;
        if let Some(conv) = &self.conv {
            let [c, h, w] = conv.shape;
            if c * h * w != self.input_dim {
                return Err(ConfigError::new(
                    C,
                    "conv.shape",
                    format!(
                        "{:?} has {} values but `input_dim` is {}; give the shape of your \
                         images ([C, H, W] with C·H·W = input_dim)",
                        conv.shape,
                        c * h * w,
                        self.input_dim
                    ),
                ));
            }
            all_positive(C, "conv.channels", &conv.channels, true)?;
            positive(C, "conv.kernel", conv.kernel)?;
        }
        self.likelihood
            .validate()
            .map_err(|e| e.within(C, "likelihood"))
    }
}

impl BodyConfig {
    /// The encoder `D → encoder_out` and the decoder `decoder_in → P · D`, where `P` is the
    /// likelihood's parameters per pixel.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the field (see [`Validate`]), or one of the networks'.
    pub fn nets(
        &self,
        encoder_out: usize,
        decoder_in: usize,
    ) -> Result<(EncoderNetConfig, DecoderNetConfig), ConfigError> {
        self.validate()?;
        let params_per_dim = self.likelihood.params_per_dim();
        let (enc, dec) = match &self.conv {
            None => {
                let mut rev = self.hidden.clone();
                rev.reverse();
                (
                    EncoderNetConfig::Mlp(
                        MlpConfig::new(self.input_dim, self.hidden.clone(), encoder_out)
                            .with_activation(self.activation.clone()),
                    ),
                    DecoderNetConfig::Mlp(
                        MlpConfig::new(decoder_in, rev, self.input_dim * params_per_dim)
                            .with_activation(self.activation.clone()),
                    ),
                )
            }
            Some(conv) => {
                let [c, h, w] = conv.shape;
                (
                    EncoderNetConfig::Conv(
                        ConvEncoderConfig::new(conv.shape, conv.channels.clone(), encoder_out)
                            .with_kernel(conv.kernel)
                            .with_activation(self.activation.clone()),
                    ),
                    DecoderNetConfig::Conv(
                        ConvDecoderConfig::new(
                            [c * params_per_dim, h, w],
                            conv.channels.clone(),
                            decoder_in,
                        )
                        .with_kernel(conv.kernel)
                        .with_activation(self.activation.clone()),
                    ),
                )
            }
        };
        enc.validate()?;
        dec.validate()?;
        Ok((enc, dec))
    }

    /// [`nets`](Self::nets), initialised on `device`.
    ///
    /// # Errors
    /// As [`nets`](Self::nets).
    pub fn try_init_nets(
        &self,
        encoder_out: usize,
        decoder_in: usize,
        device: &Device,
    ) -> Result<(EncoderNet, DecoderNet), ConfigError> {
        let (enc, dec) = self.nets(encoder_out, decoder_in)?;
        Ok((enc.init(device), dec.init(device)))
    }
}

/// Builder methods for the [`BodyConfig`] fields of a VAE-style config, so that
/// `VaeConfig::new().with_hidden(vec![200, 200]).with_likelihood(..)` sets `body.hidden` and
/// `body.likelihood`. Implemented by every config with a `body`.
pub trait WithBody: Sized {
    /// The config's body.
    fn body_mut(&mut self) -> &mut BodyConfig;

    /// Sets `body.input_dim`.
    #[must_use]
    fn with_input_dim(mut self, input_dim: usize) -> Self {
        self.body_mut().input_dim = input_dim;
        self
    }

    /// Sets `body.hidden`.
    #[must_use]
    fn with_hidden(mut self, hidden: Vec<usize>) -> Self {
        self.body_mut().hidden = hidden;
        self
    }

    /// Sets `body.conv`.
    #[must_use]
    fn with_conv(mut self, conv: Option<ConvBodyConfig>) -> Self {
        self.body_mut().conv = conv;
        self
    }

    /// Sets `body.activation`.
    #[must_use]
    fn with_activation(mut self, activation: ActivationConfig) -> Self {
        self.body_mut().activation = activation;
        self
    }

    /// Sets `body.likelihood`.
    #[must_use]
    fn with_likelihood(mut self, likelihood: LikelihoodConfig) -> Self {
        self.body_mut().likelihood = likelihood;
        self
    }
}

/// `impl WithBody for $config` through its `body` field.
macro_rules! impl_with_body {
    ($($config:ty),*) => {$(
        impl $crate::models::body::WithBody for $config {
            fn body_mut(&mut self) -> &mut $crate::models::body::BodyConfig {
                &mut self.body
            }
        }
    )*};
}
pub(crate) use impl_with_body;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlp_body_mirrors_the_hidden_widths() {
        let body = BodyConfig::new()
            .with_input_dim(12)
            .with_hidden(vec![8, 4])
            .with_likelihood(LikelihoodConfig::GaussianLearned);
        let (enc, dec) = body.nets(6, 3).unwrap();
        assert_eq!((enc.input_dim(), enc.output_dim()), (12, 6));
        assert_eq!((dec.input_dim(), dec.output_dim()), (3, 24));
        match dec {
            DecoderNetConfig::Mlp(m) => assert_eq!(m.hidden, vec![4, 8]),
            DecoderNetConfig::Conv(_) => panic!("expected an MLP decoder"),
        }
    }

    #[test]
    fn conv_body_stacks_likelihood_parameters_as_channels() {
        let body = BodyConfig::new()
            .with_input_dim(70)
            .with_conv(Some(ConvBodyConfig::new([2, 7, 5], vec![3, 4])))
            .with_likelihood(LikelihoodConfig::DiscretizedLogistic { components: 1 });
        let (enc, dec) = body.nets(10, 5).unwrap();
        assert_eq!((enc.input_dim(), enc.output_dim()), (70, 10));
        assert_eq!((dec.input_dim(), dec.output_dim()), (5, 210));
        match dec {
            DecoderNetConfig::Conv(c) => assert_eq!(c.output, [6, 7, 5]),
            DecoderNetConfig::Mlp(_) => panic!("expected a conv decoder"),
        }
    }

    #[test]
    fn conv_shape_must_match_input_dim() {
        let body = BodyConfig::new()
            .with_input_dim(700)
            .with_conv(Some(ConvBodyConfig::new([1, 28, 28], vec![32])));
        let err = body.nets(4, 2).unwrap_err();
        assert_eq!(err.field, "conv.shape");
        let msg = err.to_string();
        assert!(msg.contains("[1, 28, 28]") && msg.contains("700"), "{msg}");
    }

    #[test]
    fn zero_widths_are_named() {
        let err = BodyConfig::new()
            .with_hidden(vec![8, 0])
            .validate()
            .unwrap_err();
        assert_eq!(
            (err.config, err.field.as_str()),
            ("BodyConfig", "hidden[1]")
        );
        let err = BodyConfig::new().with_input_dim(0).validate().unwrap_err();
        assert_eq!(err.field, "input_dim");
    }
}
