//! Masked autoregressive flow step (Papamakarios et al. 2017, "Masked autoregressive flow for
//! density estimation"), the building block of the autoregressive-flow prior.
//!
//! ```text
//! [μ, a] = MADE(x, h)                 (μ_i, a_i depend on x_<i in the order, and on h)
//! α      = b · tanh(a / b)            (soft bound: α ∈ (−b, b), slope 1 at a = 0)
//! u      = (x − μ) ⊙ exp(−α)          (density direction, "forward")
//! ln|det ∂u/∂x| = −Σ_i α_i
//! ```
//!
//! **Soft bound.** `b = alpha_bound` (default 3) keeps every per-dimension scale `e^{±α}`
//! within `[e^{−b}, e^{b}]` (≈ [0.05, 20] by default), so neither direction can overflow or
//! collapse during training, while for `|a| ≪ b` the step is the plain MAF (`tanh` is smooth,
//! unlike a hard clamp, so gradients never vanish abruptly).
//!
//! **Cost.** Forward (density evaluation, `x → u`): one MADE pass. Inverse (sampling,
//! `u → x = μ + u ⊙ exp(α)`): `D` sequential MADE passes; pass `k` makes the `k`-th variable
//! in the order exact.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use deepgen_tensor::{ConfigError, Validate};

use crate::ar_step::ArStepConfig;
use crate::made::Made;
use crate::transform::{Transform, check_input, sum_rows};

impl ArStepConfig {
    /// Builds a [`MafStep`] on `device` (uses `alpha_bound`, ignores `forget_bias`).
    ///
    /// # Panics
    /// If the config is invalid (see [`ArStepConfig::try_init_maf`]).
    pub fn init_maf(&self, device: &Device) -> MafStep {
        self.try_init_maf(device).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Validates the config, then builds a [`MafStep`] on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field (e.g. `alpha_bound` not finite and > 0).
    pub fn try_init_maf(&self, device: &Device) -> Result<MafStep, ConfigError> {
        self.validate()?;
        Ok(MafStep {
            made: self.made_config().try_init(device)?,
            alpha_bound: self.alpha_bound,
        })
    }
}

/// One MAF step; see the [module docs](self).
#[derive(Module, Debug)]
pub struct MafStep {
    /// The conditioner: `[B, D]` (+ context) → `[μ | a]`, `[B, 2D]`.
    pub made: Made,
    /// The soft bound `b` (a configuration constant, not recorded).
    pub alpha_bound: f64,
}

impl MafStep {
    /// `(μ, α)` at `x`, with `α = b·tanh(a/b)`.
    ///
    /// # Shapes
    /// - x: `[batch, input_dim]`
    /// - context: `[batch, context_dim]` (`None` when `context_dim = 0`)
    /// - output: `μ` and `α`, each `[batch, input_dim]`
    pub fn conditioner(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> (Tensor<2>, Tensor<2>) {
        let (mu, a) = self.made.forward_pair(x, context);
        let b = self.alpha_bound;
        (mu, a.div_scalar(b).tanh().mul_scalar(b))
    }
}

impl Transform for MafStep {
    fn dim(&self) -> usize {
        self.made.input_dim
    }

    /// `u = (x − μ) ⊙ exp(−α)`, ladj `−Σ α`. One MADE pass.
    fn forward_and_ladj(
        &self,
        x: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        check_input("MafStep", &x, self.dim());
        let (mu, alpha) = self.conditioner(x.clone(), context);
        let u = (x - mu) * alpha.clone().neg().exp();
        (u, sum_rows(alpha).neg())
    }

    /// `x = μ + u ⊙ exp(α)` after `D` sequential passes; ladj `Σ α`.
    fn inverse_and_ladj(
        &self,
        u: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        check_input("MafStep", &u, self.dim());
        let mut x = Tensor::zeros(u.dims(), &u.device());
        let mut ladj = None;
        // See `IafStep::inverse_and_ladj`: after D passes every variable, and the last pass's
        // (μ, α), are exact.
        for _ in 0..self.dim() {
            let (mu, alpha) = self.conditioner(x, context);
            ladj = Some(sum_rows(alpha.clone()));
            x = mu + u.clone() * alpha.exp();
        }
        (x, ladj.expect("dim ≥ 1"))
    }
}
