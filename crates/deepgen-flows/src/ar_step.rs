//! The one configuration of an autoregressive flow step over a MADE.
//!
//! [`IafStep`](crate::IafStep) and [`MafStep`](crate::MafStep) are the same construction — a
//! MADE with two outputs per variable (a shift and a log-scale-like channel) driving an
//! elementwise affine map — and differ only in how the second channel becomes a scale and in
//! which direction is cheap. So they share this config: the MADE's shape
//! (`input_dim`, `hidden`, `context_dim`, `order`, `activation`, `output_init_scale`) plus one
//! knob per step kind (`forget_bias` for IAF, `alpha_bound` for MAF, each ignored by the
//! other). Build with [`ArStepConfig::init_iaf`] or [`ArStepConfig::init_maf`] (defined next
//! to each step).

use burn::config::Config;
use burn::nn::EluConfig;
use burn::nn::activation::ActivationConfig;
use deepgen_tensor::config::{positive, positive_finite};
use deepgen_tensor::{ConfigError, Validate};

use crate::made::{MadeConfig, MadeOrder, validate_made_fields};

/// Configuration of an autoregressive step ([`IafStep`](crate::IafStep) or
/// [`MafStep`](crate::MafStep)); see the [module docs](self).
#[derive(Config, Debug)]
pub struct ArStepConfig {
    /// Dimension `D` of the transformed variable (≥ 1).
    pub input_dim: usize,
    /// Hidden widths of the MADE (≥ `D` with a context, ≥ `D − 1` without, for full
    /// autoregressive connectivity).
    pub hidden: Vec<usize>,
    /// Width of the context `h` (0 = unconditioned).
    #[config(default = 0)]
    pub context_dim: usize,
    /// Autoregressive order.
    #[config(default = "MadeOrder::Natural")]
    pub order: MadeOrder,
    /// MADE hidden activation (ELU, as in Kingma et al. 2016).
    #[config(default = "ActivationConfig::Elu(EluConfig::new())")]
    pub activation: ActivationConfig,
    /// Scale of the MADE's initial output weights (small: the step starts near its
    /// identity-like map); finite.
    #[config(default = 0.01)]
    pub output_init_scale: f64,
    /// IAF only: initial output bias of the gate channel `s` (σ = sigmoid(s) starts near
    /// sigmoid of it); finite.
    #[config(default = 2.0)]
    pub forget_bias: f64,
    /// MAF only: soft bound `b` on the log-scale, `α = b·tanh(a/b)`; finite and > 0.
    #[config(default = 3.0)]
    pub alpha_bound: f64,
}

impl Validate for ArStepConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const NAME: &str = "ArStepConfig";
        validate_made_fields(
            NAME,
            self.input_dim,
            &self.hidden,
            &self.order,
            self.output_init_scale,
        )?;
        if !self.forget_bias.is_finite() {
            return Err(ConfigError::new(
                NAME,
                "forget_bias",
                format!("must be finite, got {}", self.forget_bias),
            ));
        }
        positive_finite(NAME, "alpha_bound", self.alpha_bound)
    }
}

impl ArStepConfig {
    /// The MADE of the step (`outputs_per_dim = 2`: channel 0 is the shift, channel 1 the
    /// gate/log-scale).
    pub fn made_config(&self) -> MadeConfig {
        MadeConfig::new(self.input_dim, self.hidden.clone(), 2)
            .with_context_dim(self.context_dim)
            .with_order(self.order.clone())
            .with_activation(self.activation.clone())
            .with_output_init_scale(self.output_init_scale)
    }
}

/// Validates a stack of `n_steps` steps built from `step`, naming the fields of the stack's
/// own config `config` (whose `latent_dim` is the steps' `input_dim`).
pub(crate) fn validate_stack(
    config: &'static str,
    n_steps: usize,
    step: &ArStepConfig,
) -> Result<(), ConfigError> {
    step.validate().map_err(|e| {
        let field = if e.field == "input_dim" {
            "latent_dim".to_string()
        } else {
            e.field
        };
        ConfigError::new(config, field, e.reason)
    })?;
    positive(config, "n_steps", n_steps)
}
