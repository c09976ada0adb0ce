//! Inverse autoregressive flow step (Kingma et al. 2016, "Improved variational inference with
//! inverse autoregressive flow", eqs. 10–14: the numerically stable, LSTM-type update).
//!
//! ```text
//! [m, s] = MADE(z, h)                  (m_i, s_i depend on z_<i in the order, and on h)
//! σ      = sigmoid(s)
//! z'     = σ ⊙ z + (1 − σ) ⊙ m         (computed as m + σ ⊙ (z − m))
//! ln|det ∂z'/∂z| = Σ_i ln σ_i = −Σ_i softplus(−s_i)
//! ```
//!
//! The Jacobian is triangular in the MADE's order with diagonal `σ`, hence the ladj; `ln σ` is
//! evaluated as `log_sigmoid(s)` (`deepgen_tensor`'s stable softplus), never as `ln(sigmoid)`.
//!
//! **Forget-gate bias.** The output bias of the `s` channel starts at `forget_bias` (default
//! +2, the paper's "sufficiently positive, such as close to +1 or +2"), so at initialisation
//! `σ ≈ sigmoid(2) ≈ 0.88` and each step only slightly updates `z`. It is a trainable bias (so
//! it is saved with the weights), not a constant added at every call.
//!
//! **Cost.** Forward (the sampling direction of an IAF posterior): one MADE pass.
//! Inverse: `D` sequential MADE passes — pass `k` makes the `k`-th variable in the order exact —
//! then `z = m + (z' − m)·(1 + e^{−s})` (that is, divided by `σ`), so it loses precision where
//! `σ` is tiny. The
//! VAE never needs it; it exists for tests and for evaluating `q` at arbitrary points.

use burn::module::Module;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use deepgen_tensor::numerics::tensor::{log_sigmoid, softplus};
use deepgen_tensor::{ConfigError, Validate};

use crate::ar_step::ArStepConfig;
use crate::made::Made;
use crate::transform::{Transform, check_input, sum_rows};

impl ArStepConfig {
    /// Builds an [`IafStep`] on `device` (uses `forget_bias`, ignores `alpha_bound`).
    ///
    /// # Panics
    /// If the config is invalid (see [`ArStepConfig::try_init_iaf`]).
    pub fn init_iaf(&self, device: &Device) -> IafStep {
        self.try_init_iaf(device).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Validates the config, then builds an [`IafStep`] on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init_iaf(&self, device: &Device) -> Result<IafStep, ConfigError> {
        self.validate()?;
        Ok(IafStep {
            made: self
                .made_config()
                .try_init_with_output_bias(device, &[0.0, self.forget_bias])?,
        })
    }
}

/// One IAF step; see the [module docs](self).
#[derive(Module, Debug)]
pub struct IafStep {
    /// The conditioner: `[B, D]` (+ context) → `[m | s]`, `[B, 2D]`.
    pub made: Made,
}

impl IafStep {
    /// `(m, s)` at `z`.
    ///
    /// # Shapes
    /// - z: `[batch, input_dim]`
    /// - context: `[batch, context_dim]` (`None` when `context_dim = 0`)
    /// - output: `m` and `s`, each `[batch, input_dim]`
    pub fn conditioner(&self, z: Tensor<2>, context: Option<&Tensor<2>>) -> (Tensor<2>, Tensor<2>) {
        self.made.forward_pair(z, context)
    }
}

impl Transform for IafStep {
    fn dim(&self) -> usize {
        self.made.input_dim
    }

    /// `z' = m + σ ⊙ (z − m)`, ladj `Σ log_sigmoid(s)`. One MADE pass.
    fn forward_and_ladj(
        &self,
        z: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        check_input("IafStep", &z, self.dim());
        let (m, s) = self.conditioner(z.clone(), context);
        let ladj = sum_rows(log_sigmoid(s.clone()));
        let y = m.clone() + sigmoid(s) * (z - m);
        (y, ladj)
    }

    /// `z = m + (z' − m)/σ` after `D` sequential passes; ladj `Σ softplus(−s)`.
    fn inverse_and_ladj(
        &self,
        y: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        check_input("IafStep", &y, self.dim());
        let mut x = Tensor::zeros(y.dims(), &y.device());
        let mut ladj = None;
        // After pass k the first k+1 variables in the order are exact (each depends only on its
        // predecessors), so after D passes all are, and the last pass's (m, s) were computed
        // from exact predecessors: its ladj is exact too.
        for _ in 0..self.dim() {
            let (m, s) = self.conditioner(x, context);
            ladj = Some(sum_rows(softplus(s.clone().neg())));
            x = m.clone() + (y.clone() - m) * s.neg().exp().add_scalar(1.0);
        }
        (x, ladj.expect("dim ≥ 1"))
    }
}
