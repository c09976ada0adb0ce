//! The MLP conditioner of vector coupling layers.

use burn::config::Config;
use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use burn::nn::{Initializer, LinearConfig};
use burn::tensor::{Device, Tensor};
use deepgen_nn::{Mlp, MlpConfig};
use deepgen_tensor::config::{all_positive, positive};
use deepgen_tensor::{ConfigError, Validate};

use crate::bijection::check_context;

/// Configuration of an [`MlpConditioner`]: `input_dim + context_dim → hidden… → output_dim`.
#[derive(Config, Debug)]
pub struct MlpConditionerConfig {
    /// Input features `D` (the masked input of a coupling layer).
    pub input_dim: usize,
    /// Output features (`P·D` for a coupling layer).
    pub output_dim: usize,
    /// Hidden widths (may be empty: one linear layer).
    pub hidden: Vec<usize>,
    /// Width of the context (0 = unconditioned).
    #[config(default = 0)]
    pub context_dim: usize,
    /// Activation between layers.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
    /// Zero-initialise the last layer (weights and bias), so the conditioner starts at 0 and
    /// the coupling layer at the identity.
    #[config(default = true)]
    pub zero_init_output: bool,
}

impl Validate for MlpConditionerConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "MlpConditionerConfig";
        positive(C, "input_dim", self.input_dim)?;
        positive(C, "output_dim", self.output_dim)?;
        all_positive(C, "hidden", &self.hidden, false)
    }
}

impl MlpConditionerConfig {
    /// Validates the config, then builds the conditioner on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<MlpConditioner, ConfigError> {
        self.validate()?;
        let mut mlp = MlpConfig::new(
            self.input_dim + self.context_dim,
            self.hidden.clone(),
            self.output_dim,
        )
        .with_activation(self.activation.clone())
        .try_init(device)?;
        if self.zero_init_output {
            let last = mlp.layers.len() - 1;
            let fan_in = self
                .hidden
                .last()
                .copied()
                .unwrap_or(self.input_dim + self.context_dim);
            mlp.layers[last] = LinearConfig::new(fan_in, self.output_dim)
                .with_initializer(Initializer::Zeros)
                .init(device);
        }
        Ok(MlpConditioner {
            mlp,
            input_dim: self.input_dim,
            context_dim: self.context_dim,
        })
    }

    /// Builds the conditioner on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`MlpConditionerConfig::try_init`]).
    pub fn init(&self, device: &Device) -> MlpConditioner {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// An MLP on `[x | context]`; see [`MlpConditionerConfig`].
#[derive(Module, Debug)]
pub struct MlpConditioner {
    /// The network.
    pub mlp: Mlp,
    /// `D`.
    pub input_dim: usize,
    /// Width of the context (0 = unconditioned).
    pub context_dim: usize,
}

impl MlpConditioner {
    /// The parameters for `x`.
    ///
    /// # Shapes
    /// - x: `[batch, input_dim]`
    /// - context: `[batch, context_dim]` (`None` when `context_dim = 0`)
    /// - output: `[batch, output_dim]`
    pub fn forward(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Tensor<2> {
        let [b, d] = x.dims();
        assert!(
            d == self.input_dim,
            "MlpConditioner: input has {d} features, expected {}",
            self.input_dim
        );
        check_context("MlpConditioner", context, self.context_dim, b);
        let input = match context {
            Some(h) => Tensor::cat(vec![x, h.clone()], 1),
            None => x,
        };
        self.mlp.forward(input)
    }
}
