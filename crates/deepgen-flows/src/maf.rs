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

use burn::config::Config;
use burn::module::Module;
use burn::nn::EluConfig;
use burn::nn::activation::ActivationConfig;
use burn::tensor::{Device, Tensor};

use crate::made::{Made, MadeConfig, MadeOrder};
use crate::transform::{Transform, check_input, sum_rows};

/// Configuration of a [`MafStep`].
#[derive(Config, Debug)]
pub struct MafConfig {
    /// Dimension `D`.
    pub d: usize,
    /// Hidden widths of the MADE.
    pub hidden: Vec<usize>,
    /// Width of the context `h` (0 = unconditioned).
    #[config(default = 0)]
    pub d_context: usize,
    /// Autoregressive order.
    #[config(default = "MadeOrder::Natural")]
    pub order: MadeOrder,
    /// MADE hidden activation.
    #[config(default = "ActivationConfig::Elu(EluConfig::new())")]
    pub activation: ActivationConfig,
    /// Soft bound `b` on the log-scale: `α = b·tanh(a/b)`; finite and > 0.
    #[config(default = 3.0)]
    pub alpha_bound: f64,
    /// Scale of the MADE's initial output weights (small: the step starts near the identity).
    #[config(default = 0.01)]
    pub output_init_scale: f64,
}

impl MafConfig {
    /// The MADE this step uses (`outputs_per_dim = 2`: channel 0 is `μ`, channel 1 is `a`).
    pub fn made_config(&self) -> MadeConfig {
        MadeConfig::new(self.d, self.hidden.clone(), 2)
            .with_d_context(self.d_context)
            .with_order(self.order.clone())
            .with_activation(self.activation.clone())
            .with_output_init_scale(self.output_init_scale)
    }

    /// Builds the step on `device`.
    ///
    /// # Panics
    /// If `alpha_bound` is not finite and positive (and see [`MadeConfig::init`]).
    pub fn init(&self, device: &Device) -> MafStep {
        assert!(
            self.alpha_bound.is_finite() && self.alpha_bound > 0.0,
            "MafConfig: alpha_bound must be finite and > 0, got {}",
            self.alpha_bound
        );
        MafStep {
            made: self.made_config().init(device),
            alpha_bound: self.alpha_bound,
        }
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
    pub fn conditioner(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> (Tensor<2>, Tensor<2>) {
        let mut out = self.made.forward_split(x, context);
        let a = out.pop().expect("two channels");
        let mu = out.pop().expect("two channels");
        let b = self.alpha_bound;
        (mu, a.div_scalar(b).tanh().mul_scalar(b))
    }
}

impl Transform for MafStep {
    fn dim(&self) -> usize {
        self.made.d_input
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
