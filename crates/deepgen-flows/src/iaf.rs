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

use burn::config::Config;
use burn::module::Module;
use burn::nn::EluConfig;
use burn::nn::activation::ActivationConfig;
use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;
use deepgen_tensor::numerics::tensor::{log_sigmoid, softplus};

use crate::made::{Made, MadeConfig, MadeOrder};
use crate::transform::{Transform, check_input, sum_rows};

/// Configuration of an [`IafStep`].
#[derive(Config, Debug)]
pub struct IafConfig {
    /// Dimension `D` of `z`.
    pub d: usize,
    /// Hidden widths of the MADE (≥ `D` with a context, ≥ `D − 1` without, for full
    /// autoregressive connectivity).
    pub hidden: Vec<usize>,
    /// Width of the context `h` (0 = unconditioned).
    #[config(default = 0)]
    pub d_context: usize,
    /// Autoregressive order.
    #[config(default = "MadeOrder::Natural")]
    pub order: MadeOrder,
    /// MADE hidden activation (ELU, as in Kingma et al. 2016).
    #[config(default = "ActivationConfig::Elu(EluConfig::new())")]
    pub activation: ActivationConfig,
    /// Initial output bias of the `s` channel (σ = sigmoid(s) starts near sigmoid of it).
    #[config(default = 2.0)]
    pub forget_bias: f64,
    /// Scale of the MADE's initial output weights (small: `m`, `s` start near their biases).
    #[config(default = 0.01)]
    pub output_init_scale: f64,
}

impl IafConfig {
    /// The MADE this step uses (`outputs_per_dim = 2`: channel 0 is `m`, channel 1 is `s`).
    pub fn made_config(&self) -> MadeConfig {
        MadeConfig::new(self.d, self.hidden.clone(), 2)
            .with_d_context(self.d_context)
            .with_order(self.order.clone())
            .with_activation(self.activation.clone())
            .with_output_init_scale(self.output_init_scale)
    }

    /// Builds the step on `device`.
    pub fn init(&self, device: &burn::tensor::Device) -> IafStep {
        IafStep {
            made: self
                .made_config()
                .init_with_output_bias(device, &[0.0, self.forget_bias]),
        }
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
    pub fn conditioner(&self, z: Tensor<2>, context: Option<&Tensor<2>>) -> (Tensor<2>, Tensor<2>) {
        let mut out = self.made.forward_split(z, context);
        let s = out.pop().expect("two channels");
        let m = out.pop().expect("two channels");
        (m, s)
    }
}

impl Transform for IafStep {
    fn dim(&self) -> usize {
        self.made.d_input
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
