//! A stack of transforms ([`Flow`]) and the IAF-posterior stack builder.
//!
//! Steps are a `Vec` of the [`FlowStep`] enum: Burn's `Module` derive supports enums whose
//! variants are one-field tuples of modules, and records each step under `steps.<i>.<Variant>`,
//! so a saved flow only loads into a flow with the same sequence of step kinds.

use burn::config::Config;
use burn::module::Module;
use burn::nn::EluConfig;
use burn::nn::activation::ActivationConfig;
use burn::tensor::{Device, Tensor};
use deepgen_tensor::{ConfigError, Validate};

use crate::ar_step::{ArStepConfig, validate_stack};
use crate::iaf::IafStep;
use crate::maf::MafStep;
use crate::permutation::Permutation;
use crate::transform::{Transform, zero_ladj};

/// One step of a [`Flow`].
#[derive(Module, Debug)]
pub enum FlowStep {
    /// An inverse autoregressive flow step.
    Iaf(IafStep),
    /// A masked autoregressive flow step.
    Maf(MafStep),
    /// A fixed permutation (e.g. the reversal between autoregressive steps).
    Permutation(Permutation),
}

impl Transform for FlowStep {
    fn dim(&self) -> usize {
        match self {
            FlowStep::Iaf(s) => s.dim(),
            FlowStep::Maf(s) => s.dim(),
            FlowStep::Permutation(s) => s.dim(),
        }
    }

    fn forward_and_ladj(
        &self,
        x: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        match self {
            FlowStep::Iaf(s) => s.forward_and_ladj(x, context),
            FlowStep::Maf(s) => s.forward_and_ladj(x, context),
            FlowStep::Permutation(s) => s.forward_and_ladj(x, context),
        }
    }

    fn inverse_and_ladj(
        &self,
        y: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        match self {
            FlowStep::Iaf(s) => s.inverse_and_ladj(y, context),
            FlowStep::Maf(s) => s.inverse_and_ladj(y, context),
            FlowStep::Permutation(s) => s.inverse_and_ladj(y, context),
        }
    }
}

impl From<IafStep> for FlowStep {
    fn from(s: IafStep) -> Self {
        FlowStep::Iaf(s)
    }
}

impl From<MafStep> for FlowStep {
    fn from(s: MafStep) -> Self {
        FlowStep::Maf(s)
    }
}

impl From<Permutation> for FlowStep {
    fn from(s: Permutation) -> Self {
        FlowStep::Permutation(s)
    }
}

/// The composition `f = f_n ∘ … ∘ f_1` of its steps (applied in `steps` order on `forward`, in
/// reverse order on `inverse`); the ladj is the sum of the steps' ladjs. Every step receives
/// the same context.
#[derive(Module, Debug)]
pub struct Flow {
    /// The steps, first applied first on `forward`.
    pub steps: Vec<FlowStep>,
    /// `D`, the dimension of every step.
    pub dim: usize,
}

impl Flow {
    /// A flow of the given steps, all of dimension `dim`.
    ///
    /// # Panics
    /// If a step's dimension is not `dim`.
    pub fn new(dim: usize, steps: Vec<FlowStep>) -> Self {
        for (i, s) in steps.iter().enumerate() {
            assert!(
                s.dim() == dim,
                "Flow: step {i} has dimension {}, the flow {dim}",
                s.dim()
            );
        }
        Self { steps, dim }
    }

    /// `n_steps` steps made by `step`, with a reversal [`Permutation`] between consecutive
    /// ones (so each autoregressive step sees the variables in the opposite order of the
    /// previous one): the layout of the IAF posterior and of the AF prior.
    pub fn alternating_with_reversals(
        dim: usize,
        n_steps: usize,
        device: &Device,
        mut step: impl FnMut() -> FlowStep,
    ) -> Self {
        let mut steps = Vec::with_capacity((2 * n_steps).saturating_sub(1));
        for i in 0..n_steps {
            if i > 0 {
                steps.push(Permutation::reverse(dim, device).into());
            }
            steps.push(step());
        }
        Self::new(dim, steps)
    }

    /// Pushes a base sample `z_0` with log-density `log_q0` through the flow (sampling
    /// direction): returns `(z_T, ln q(z_T)) = (f(z_0), log_q0 − ln|det ∂f/∂z_0|)`.
    ///
    /// This is the IAF posterior of Kingma et al. 2016: `z_0 = μ + σ ⊙ ε` from the encoder,
    /// the context `h` from the encoder too, and `ln q(z_T | x)` for the ELBO.
    ///
    /// # Shapes
    /// - z0: `[batch, dim]`
    /// - log_q0: `[batch]`
    /// - context: `[batch, context_dim]` (`None` for an unconditioned flow)
    /// - output: `z_T` `[batch, dim]` and `ln q(z_T)` `[batch]`
    pub fn push_forward(
        &self,
        z0: Tensor<2>,
        log_q0: Tensor<1>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        let (z, ladj) = self.forward_and_ladj(z0, context);
        (z, log_q0 - ladj)
    }
}

impl Transform for Flow {
    fn dim(&self) -> usize {
        self.dim
    }

    fn forward_and_ladj(
        &self,
        x: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        let mut ladj = zero_ladj(&x);
        let mut x = x;
        for step in &self.steps {
            let (y, l) = step.forward_and_ladj(x, context);
            x = y;
            ladj = ladj + l;
        }
        (x, ladj)
    }

    fn inverse_and_ladj(
        &self,
        y: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        let mut ladj = zero_ladj(&y);
        let mut y = y;
        for step in self.steps.iter().rev() {
            let (x, l) = step.inverse_and_ladj(y, context);
            y = x;
            ladj = ladj + l;
        }
        (y, ladj)
    }
}

/// Configuration of an IAF posterior stack: `n_steps` [`IafStep`]s in natural order with a
/// reversal [`Permutation`] between consecutive steps (Kingma et al. 2016), all conditioned on
/// the same context `h` when `context_dim > 0`.
#[derive(Config, Debug)]
pub struct IafFlowConfig {
    /// Latent dimension `D` (≥ 1).
    pub latent_dim: usize,
    /// Number of IAF steps (≥ 1).
    pub n_steps: usize,
    /// Hidden widths of each step's MADE.
    pub hidden: Vec<usize>,
    /// Width of the encoder context `h` (0 = unconditioned).
    #[config(default = 0)]
    pub context_dim: usize,
    /// MADE hidden activation.
    #[config(default = "ActivationConfig::Elu(EluConfig::new())")]
    pub activation: ActivationConfig,
    /// Forget-gate bias of every step (see [`ArStepConfig::forget_bias`]).
    #[config(default = 2.0)]
    pub forget_bias: f64,
    /// Scale of the MADEs' initial output weights.
    #[config(default = 0.01)]
    pub output_init_scale: f64,
}

impl IafFlowConfig {
    /// The config of every step of the stack.
    pub fn step_config(&self) -> ArStepConfig {
        ArStepConfig::new(self.latent_dim, self.hidden.clone())
            .with_context_dim(self.context_dim)
            .with_activation(self.activation.clone())
            .with_forget_bias(self.forget_bias)
            .with_output_init_scale(self.output_init_scale)
    }

    /// Builds the stack on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`IafFlowConfig::try_init`]).
    pub fn init(&self, device: &Device) -> Flow {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Validates the config, then builds the stack on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<Flow, ConfigError> {
        self.validate()?;
        let step = self.step_config();
        Ok(Flow::alternating_with_reversals(
            self.latent_dim,
            self.n_steps,
            device,
            || step.init_iaf(device).into(),
        ))
    }
}

impl Validate for IafFlowConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        validate_stack("IafFlowConfig", self.n_steps, &self.step_config())
    }
}
