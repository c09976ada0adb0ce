//! The autoregressive-flow prior ("VAE with AF prior"): a learnable density on the latent `z`.
//!
//! `u = F(z)`, with `F` a stack of [`MafStep`]s (reversal permutations between them), and
//! `u ~ N(0, I)`:
//!
//! ```text
//! ln p(z) = ln N(F(z); 0, I) + ln|det ∂F/∂z|      (one MADE pass per step)
//! z = F⁻¹(u),  u ~ N(0, I)                         (D sequential passes per step)
//! ```
//!
//! Density evaluation — what the ELBO needs, `ln p(z)` at posterior samples — is the cheap
//! direction; sampling (generating images) is the sequential one.

use burn::config::Config;
use burn::module::Module;
use burn::nn::EluConfig;
use burn::nn::activation::ActivationConfig;
use burn::tensor::{Device, Tensor};
use deepgen_distributions::noise;
use deepgen_tensor::rng::HostRng;
use deepgen_tensor::{ConfigError, Validate};

use crate::ar_step::{ArStepConfig, validate_stack};
use crate::bijection::Bijection;
use crate::density::NormalizingFlow;
use crate::flow::Flow;
use crate::transform::Transform;

/// Configuration of an [`AfPrior`]: `n_steps` [`MafStep`](crate::MafStep)s with a reversal
/// between consecutive ones.
#[derive(Config, Debug)]
pub struct AfPriorConfig {
    /// Latent dimension `D` (≥ 1).
    pub latent_dim: usize,
    /// Number of MAF steps (≥ 1).
    pub n_steps: usize,
    /// Hidden widths of each step's MADE.
    pub hidden: Vec<usize>,
    /// MADE hidden activation.
    #[config(default = "ActivationConfig::Elu(EluConfig::new())")]
    pub activation: ActivationConfig,
    /// Soft bound on each step's log-scale (see [`ArStepConfig::alpha_bound`]).
    #[config(default = 3.0)]
    pub alpha_bound: f64,
    /// Scale of the MADEs' initial output weights (small: the prior starts near N(0, I)).
    #[config(default = 0.01)]
    pub output_init_scale: f64,
}

impl AfPriorConfig {
    /// The config of every MAF step.
    pub fn step_config(&self) -> ArStepConfig {
        ArStepConfig::new(self.latent_dim, self.hidden.clone())
            .with_activation(self.activation.clone())
            .with_alpha_bound(self.alpha_bound)
            .with_output_init_scale(self.output_init_scale)
    }

    /// Builds the prior on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`AfPriorConfig::try_init`]).
    pub fn init(&self, device: &Device) -> AfPrior {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Validates the config, then builds the prior on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<AfPrior, ConfigError> {
        self.validate()?;
        let step = self.step_config();
        Ok(AfPrior {
            flow: Flow::alternating_with_reversals(self.latent_dim, self.n_steps, device, || {
                step.init_maf(device).into()
            }),
        })
    }
}

impl Validate for AfPriorConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        validate_stack("AfPriorConfig", self.n_steps, &self.step_config())
    }
}

/// A density on `ℝᴰ`: a standard normal pulled back through a [`Flow`] whose `forward` is
/// the density direction (`z → u`); see the [module docs](self).
#[derive(Module, Debug)]
pub struct AfPrior {
    /// `F`: `z → u`.
    pub flow: Flow,
}

impl AfPrior {
    /// A prior from any flow whose `forward` maps `z` to standard-normal `u`.
    pub fn new(flow: Flow) -> Self {
        Self { flow }
    }

    /// `D`.
    pub fn dim(&self) -> usize {
        self.flow.dim
    }

    /// `ln p(z)` per row (differentiable in `z` and the parameters).
    ///
    /// # Shapes
    /// - z: `[batch, latent_dim]`
    /// - output: `[batch]`
    pub fn log_prob(&self, z: Tensor<2>) -> Tensor<1> {
        NormalizingFlow::log_prob(self, z, None)
    }

    /// `n` samples (detached), from host-drawn noise.
    ///
    /// # Shapes
    /// - output: `[n, latent_dim]`
    pub fn sample(&self, n: usize, rng: &mut HostRng) -> Tensor<2> {
        self.sample_with_log_prob(n, rng).0.detach()
    }

    /// `n` samples with their log-density computed along the sampling path,
    /// `ln p(z) = ln N(u) − ln|det ∂z/∂u|` (not detached).
    ///
    /// # Shapes
    /// - output: `z` `[n, latent_dim]` and `ln p(z)` `[n]`
    pub fn sample_with_log_prob(&self, n: usize, rng: &mut HostRng) -> (Tensor<2>, Tensor<1>) {
        let u = noise::standard_normal(rng, [n, self.dim()], &self.flow_device());
        self.sample_from_noise(u)
    }

    /// `z = F⁻¹(u)` and `ln p(z)` for given standard-normal noise `u`.
    ///
    /// # Shapes
    /// - u: `[n, latent_dim]`
    /// - output: `z` `[n, latent_dim]` and `ln p(z)` `[n]`
    pub fn sample_from_noise(&self, u: Tensor<2>) -> (Tensor<2>, Tensor<1>) {
        NormalizingFlow::sample_from_noise(self, u, None)
    }
}

/// The prior is a density flow like any other: MAF steps (`forward` = `z → u`, density
/// direction) on a standard-normal base. Its inherent `log_prob`/`sample`/`sample_from_noise`
/// are the trait's with no context (the prior is unconditioned).
impl Bijection<2> for AfPrior {
    fn forward_and_ladj(
        &self,
        z: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        Transform::forward_and_ladj(&self.flow, z, context)
    }

    fn inverse_and_ladj(
        &self,
        u: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        Transform::inverse_and_ladj(&self.flow, u, context)
    }
}

impl NormalizingFlow<2> for AfPrior {
    fn sample_shape(&self, n: usize) -> [usize; 2] {
        [n, self.dim()]
    }

    fn flow_device(&self) -> Device {
        self.devices()
            .into_iter()
            .next()
            .expect("an AfPrior has parameters")
    }
}
