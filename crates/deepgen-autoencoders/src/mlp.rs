//! A configurable multi-layer perceptron, the encoder/decoder body of the MLP models.

use burn::config::Config;
use burn::module::Module;
use burn::nn::activation::{Activation, ActivationConfig};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor};

/// Configuration of an [`Mlp`]: `d_input → hidden[0] → … → d_output`, with `activation`
/// between layers and none after the last.
#[derive(Config, Debug)]
pub struct MlpConfig {
    /// Input features.
    pub d_input: usize,
    /// Hidden layer widths (may be empty: a single linear layer).
    pub hidden: Vec<usize>,
    /// Output features.
    pub d_output: usize,
    /// Activation between layers.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
}

/// A multi-layer perceptron. Input `[B, d_input]`, output `[B, d_output]`.
#[derive(Module, Debug)]
pub struct Mlp {
    /// The linear layers in order.
    pub layers: Vec<Linear>,
    /// The activation applied after every layer but the last.
    pub activation: Activation,
}

impl MlpConfig {
    /// Initialises the layers on `device`.
    pub fn init(&self, device: &Device) -> Mlp {
        let mut dims = vec![self.d_input];
        dims.extend(&self.hidden);
        dims.push(self.d_output);
        let layers = dims
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        Mlp {
            layers,
            activation: self.activation.init(device),
        }
    }
}

impl Mlp {
    /// `[B, d_input]` → `[B, d_output]`.
    pub fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut h = x;
        for (i, layer) in self.layers.iter().enumerate() {
            h = layer.forward(h);
            if i < last {
                h = self.activation.forward(h);
            }
        }
        h
    }
}

/// Parses a hidden activation name for command lines: `relu`, `tanh`, `elu` (α = 1),
/// `sigmoid` or `gelu`.
pub fn parse_activation(s: &str) -> Result<ActivationConfig, String> {
    match s {
        "relu" => Ok(ActivationConfig::Relu),
        "tanh" => Ok(ActivationConfig::Tanh),
        "elu" => Ok(ActivationConfig::Elu(burn::nn::EluConfig::new())),
        "sigmoid" => Ok(ActivationConfig::Sigmoid),
        "gelu" => Ok(ActivationConfig::Gelu),
        _ => Err(format!(
            "unknown activation `{s}`: expected relu, tanh, elu, sigmoid or gelu"
        )),
    }
}
