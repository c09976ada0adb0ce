//! The encoder/decoder pair of a latent-variable model, MLP or convolutional, from one
//! description: [`BodyConfig`].
//!
//! Every VAE-style model here ([`Vae`](crate::Vae), [`SphericalVae`](crate::SphericalVae),
//! [`IafVae`](crate::IafVae)) has an encoder `x → heads` and a mirrored decoder
//! `z → likelihood parameters`. [`BodyConfig::nets`] builds both:
//!
//! - **MLP** (`conv = None`): `D → hidden… → heads` and `latent → reversed hidden… → P·D`.
//! - **Convolutional** (`conv = Some`): stride-2 convolutions on `[C, H, W]` then a linear
//!   layer to the heads, and the mirrored transposed convolutions to `[P·C, H, W]`, where
//!   `P` is the likelihood's parameters per pixel. Flattened row-major, parameter block `p`
//!   of pixel `i` sits at column `p·D + i` — the layout [`LikelihoodConfig`] reads.
//!
//! [`LikelihoodConfig`]: crate::LikelihoodConfig

use burn::config::Config;
use burn::nn::activation::ActivationConfig;

use burn::tensor::Device;

use deepgen_nn::{
    ConvDecoderConfig, ConvEncoderConfig, DecoderNet, DecoderNetConfig, EncoderNet,
    EncoderNetConfig, MlpConfig,
};
use deepgen_tensor::{ConfigError, Validate};

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

/// How to build an encoder and its mirrored decoder.
#[derive(Debug, Clone)]
pub struct BodyConfig<'a> {
    /// Flattened data size `D`.
    pub input_dim: usize,
    /// MLP hidden widths, encoder order (ignored with `conv`).
    pub hidden: &'a [usize],
    /// Hidden activation (both nets).
    pub activation: &'a ActivationConfig,
    /// The convolutional body, if any.
    pub conv: Option<&'a ConvBodyConfig>,
}

impl<'a> BodyConfig<'a> {
    /// The body of a model with these fields (`conv = None`: MLP with `hidden`).
    pub fn new(
        input_dim: usize,
        hidden: &'a [usize],
        activation: &'a ActivationConfig,
        conv: Option<&'a ConvBodyConfig>,
    ) -> Self {
        Self {
            input_dim,
            hidden,
            activation,
            conv,
        }
    }

    /// [`nets`](Self::nets), initialised on `device`.
    ///
    /// # Panics
    /// With the [`ConfigError`] message prefixed by `owner` (the model's config type).
    pub fn init_nets(
        &self,
        encoder_out: usize,
        decoder_in: usize,
        params_per_dim: usize,
        owner: &str,
        device: &Device,
    ) -> (EncoderNet, DecoderNet) {
        let (enc, dec) = self
            .nets(encoder_out, decoder_in, params_per_dim)
            .unwrap_or_else(|e| panic!("{owner}: {e}"));
        (enc.init(device), dec.init(device))
    }

    /// The encoder `D → encoder_out` and the decoder `decoder_in → params_per_dim · D`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the field, including a `conv.shape` whose `C·H·W` differs
    /// from `input_dim`.
    pub fn nets(
        &self,
        encoder_out: usize,
        decoder_in: usize,
        params_per_dim: usize,
    ) -> Result<(EncoderNetConfig, DecoderNetConfig), ConfigError> {
        let (enc, dec) = match self.conv {
            None => {
                let mut rev = self.hidden.to_vec();
                rev.reverse();
                (
                    EncoderNetConfig::Mlp(
                        MlpConfig::new(self.input_dim, self.hidden.to_vec(), encoder_out)
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
                if c * h * w != self.input_dim {
                    return Err(ConfigError::new(
                        "ConvBodyConfig",
                        "shape",
                        format!(
                            "{:?} has {} values but the model's `input_dim` is {}; give the \
                             shape of your images ([C, H, W] with C·H·W = input_dim)",
                            conv.shape,
                            c * h * w,
                            self.input_dim
                        ),
                    ));
                }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlp_body_mirrors_the_hidden_widths() {
        let act = ActivationConfig::Tanh;
        let body = BodyConfig {
            input_dim: 12,
            hidden: &[8, 4],
            activation: &act,
            conv: None,
        };
        let (enc, dec) = body.nets(6, 3, 2).unwrap();
        assert_eq!((enc.input_dim(), enc.output_dim()), (12, 6));
        assert_eq!((dec.input_dim(), dec.output_dim()), (3, 24));
        match dec {
            DecoderNetConfig::Mlp(m) => assert_eq!(m.hidden, vec![4, 8]),
            DecoderNetConfig::Conv(_) => panic!("expected an MLP decoder"),
        }
    }

    #[test]
    fn conv_body_stacks_likelihood_parameters_as_channels() {
        let act = ActivationConfig::Relu;
        let conv = ConvBodyConfig::new([2, 7, 5], vec![3, 4]);
        let body = BodyConfig {
            input_dim: 70,
            hidden: &[],
            activation: &act,
            conv: Some(&conv),
        };
        let (enc, dec) = body.nets(10, 5, 3).unwrap();
        assert_eq!((enc.input_dim(), enc.output_dim()), (70, 10));
        assert_eq!((dec.input_dim(), dec.output_dim()), (5, 210));
        match dec {
            DecoderNetConfig::Conv(c) => assert_eq!(c.output, [6, 7, 5]),
            DecoderNetConfig::Mlp(_) => panic!("expected a conv decoder"),
        }
    }

    #[test]
    fn conv_shape_must_match_input_dim() {
        let act = ActivationConfig::Relu;
        let conv = ConvBodyConfig::new([1, 28, 28], vec![32]);
        let body = BodyConfig {
            input_dim: 700,
            hidden: &[],
            activation: &act,
            conv: Some(&conv),
        };
        let err = body.nets(4, 2, 1).unwrap_err().to_string();
        assert!(err.contains("[1, 28, 28]") && err.contains("700"), "{err}");
    }
}
