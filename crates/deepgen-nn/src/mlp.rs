//! A configurable multi-layer perceptron: the encoder/decoder body of the MLP models, the
//! conditioner inside flows, the class heads of conditional models.

use burn::config::Config;
use burn::module::Module;
use burn::nn::activation::{Activation, ActivationConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use deepgen_tensor::config::{all_positive, positive};
use deepgen_tensor::{ConfigError, Validate};

/// Configuration of an [`Mlp`]: `input_dim → hidden[0] → … → output_dim`, with `activation`
/// between layers and none after the last.
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Input features.
    pub input_dim: usize,
    /// Hidden layer widths (may be empty: a single linear layer).
    pub hidden: Vec<usize>,
    /// Output features.
    pub output_dim: usize,
    /// Activation between layers.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
}

impl Validate for MlpConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "MlpConfig";
        positive(C, "input_dim", self.input_dim)?;
        all_positive(C, "hidden", &self.hidden, false)?;
        positive(C, "output_dim", self.output_dim)
    }
}

impl MlpConfig {
    /// Validates the configuration, then initialises the layers on `device`.
    ///
    /// # Errors
    /// The [`ConfigError`] of [`validate`](Validate::validate).
    pub fn try_init(&self, device: &Device) -> Result<Mlp, ConfigError> {
        self.validate()?;
        let mut dims = vec![self.input_dim];
        dims.extend(&self.hidden);
        dims.push(self.output_dim);
        let layers = dims
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        Ok(Mlp {
            layers,
            activation: self.activation.init(device),
        })
    }

    /// Initialises the layers on `device`.
    ///
    /// # Panics
    /// With the [`ConfigError`] message if the configuration is invalid (see
    /// [`try_init`](Self::try_init)).
    pub fn init(&self, device: &Device) -> Mlp {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A multi-layer perceptron (see [`MlpConfig`]).
#[derive(Module, Debug)]
pub struct Mlp {
    /// The linear layers in order.
    pub layers: Vec<Linear>,
    /// The activation applied after every layer but the last.
    pub activation: Activation,
}

impl Mlp {
    /// Applies the layers, with the activation between them and none after the last.
    ///
    /// # Shapes
    /// - input: `[batch, input_dim]`
    /// - output: `[batch, output_dim]`
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut h = x;
        // A ReLU between layers runs inside the linear operation (one pass fewer each way).
        let relu = matches!(self.activation, Activation::Relu(_));
        for (i, layer) in self.layers.iter().enumerate() {
            if i < last && relu {
                h = crate::linear::forward_linear_relu(layer, h);
                continue;
            }
            h = crate::forward_linear(layer, h);
            if i < last {
                h = crate::activate(&self.activation, h);
            }
        }
        h
    }

    /// Input features (rows of the first layer's weight).
    pub fn input_dim(&self) -> usize {
        self.layers[0].weight.val().dims()[0]
    }

    /// Output features (columns of the last layer's weight).
    pub fn output_dim(&self) -> usize {
        self.layers[self.layers.len() - 1].weight.val().dims()[1]
    }
}
