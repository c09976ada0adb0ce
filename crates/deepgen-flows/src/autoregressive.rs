//! Masked autoregressive layers with any elementwise bijection: MAF with an affine map
//! (Papamakarios et al. 2017) and the autoregressive rational-quadratic spline flow of
//! Durkan et al. 2019 ("Neural Spline Flows", RQ-NSF (AR)).
//!
//! ```text
//! params = MADE(x, context)          (params of element i depend on x_<i in the order, and on the context)
//! z_i    = g(x_i; params_i)          (forward = data → latent, one MADE pass)
//! ln|det ∂z/∂x| = Σ_i ln|g'(x_i; params_i)|   (the Jacobian is triangular in the MADE order)
//! ```
//!
//! The conditioner ([`Made`]) and the elementwise bijection ([`CouplingBijection`]: additive,
//! affine or spline) are the same pieces the coupling layers use, so every bijection is
//! available autoregressively too.
//!
//! **Cost.** Forward (density) is one MADE pass. Inverse (sampling) takes `D` sequential
//! passes: pass `k` computes the parameters from the current estimate of `x`, in which the
//! first `k − 1` variables of the order are already exact, so after pass `k` the first `k`
//! are; the last pass's parameters are all exact, and so is the ladj it returns.
//!
//! **Layout.** The MADE emits `[B, P·D]`, parameter-major (column `p·D + i` is parameter `p`
//! of element `i`); the layer rearranges it to the `[B·D, P]` rows the elementwise bijections
//! read.

use burn::config::Config;
use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use burn::tensor::{Device, Tensor};
use deepgen_tensor::config::{all_positive, positive};
use deepgen_tensor::{ConfigError, Validate};

use crate::bijection::Bijection;
use crate::elementwise::{CouplingBijection, ElementwiseBijection};
use crate::made::{Made, MadeConfig, MadeOrder};

/// Configuration of an [`AutoregressiveLayer`]. Defaults: MADE 64-64 (ReLU), an 8-bin spline on
/// `[−3, 3]`, natural order, output layer zero-initialised (the layer starts as the identity).
#[derive(Config, Debug)]
pub struct AutoregressiveConfig {
    /// `D` (≥ 2).
    pub dim: usize,
    /// Hidden widths of the MADE.
    #[config(default = "vec![64, 64]")]
    pub hidden: Vec<usize>,
    /// The elementwise bijection (affine for MAF, the spline for RQ-NSF (AR)).
    #[config(default = "CouplingBijection::spline(8, 3.0)")]
    pub bijection: CouplingBijection,
    /// The autoregressive order (alternate [`MadeOrder::Reversed`] between stacked layers).
    #[config(default = "MadeOrder::Natural")]
    pub order: MadeOrder,
    /// Width of the context fed to the MADE (0 = unconditioned).
    #[config(default = 0)]
    pub context_dim: usize,
    /// MADE activation.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
    /// Zero-initialise the MADE's output layer (with zero parameters every bijection here is
    /// the identity).
    #[config(default = true)]
    pub zero_init_output: bool,
}

impl Validate for AutoregressiveConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "AutoregressiveConfig";
        if self.dim < 2 {
            return Err(ConfigError::new(
                C,
                "dim",
                format!(
                    "an autoregressive layer needs at least 2 features, got {}",
                    self.dim
                ),
            ));
        }
        positive(C, "hidden.len()", self.hidden.len())?;
        all_positive(C, "hidden", &self.hidden, true)?;
        self.bijection
            .validate()
            .map_err(|e| e.within(C, "bijection"))?;
        self.made_config()
            .validate()
            .map_err(|e| e.within(C, "made"))
    }
}

impl AutoregressiveConfig {
    fn made_config(&self) -> MadeConfig {
        MadeConfig::new(self.dim, self.hidden.clone(), self.bijection.num_params())
            .with_context_dim(self.context_dim)
            .with_order(self.order.clone())
            .with_activation(self.activation.clone())
            .with_output_init_scale(if self.zero_init_output { 0.0 } else { 1.0 })
    }

    /// Validates the config, then builds the layer on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<AutoregressiveLayer, ConfigError> {
        self.validate()?;
        Ok(AutoregressiveLayer {
            made: self.made_config().try_init(device)?,
            bijection: self.bijection.clone(),
            dim: self.dim,
        })
    }

    /// [`try_init`](Self::try_init) that panics with the field-naming message.
    ///
    /// # Panics
    /// If the config is invalid.
    pub fn init(&self, device: &Device) -> AutoregressiveLayer {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A masked autoregressive layer; see the [module docs](self).
#[derive(Module, Debug)]
pub struct AutoregressiveLayer {
    /// The conditioner: `[B, D]` (+ context) → `[B, P·D]`.
    pub made: Made,
    /// The elementwise bijection (configuration, not recorded).
    #[module(skip)]
    pub bijection: CouplingBijection,
    /// `D`.
    pub dim: usize,
}

impl AutoregressiveLayer {
    /// The MADE's output at `x` as `[B·D, P]` rows (row `b·D + i`: element `i` of row `b`).
    fn params(&self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Tensor<2> {
        let [b, d] = x.dims();
        let p = self.bijection.num_params();
        self.made
            .forward(x, context)
            .reshape([b, p, d])
            .swap_dims(1, 2)
            .reshape([b * d, p])
    }

    fn check(&self, x: &Tensor<2>) -> [usize; 2] {
        let [b, d] = x.dims();
        assert!(
            d == self.dim,
            "AutoregressiveLayer: input has {d} features, the layer {}",
            self.dim
        );
        [b, d]
    }
}

impl Bijection<2> for AutoregressiveLayer {
    fn forward_and_ladj(
        &self,
        x: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        let [b, d] = self.check(&x);
        let params = self.params(x.clone(), context);
        let (z, ladj) = self.bijection.forward(x.reshape([b * d]), params);
        (
            z.reshape([b, d]),
            ladj.reshape([b, d]).sum_dim(1).reshape([b]),
        )
    }

    fn inverse_and_ladj(
        &self,
        z: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        let [b, d] = self.check(&z);
        let flat = z.reshape([b * d]);
        // Pass k fixes the k-th variable of the order; the first estimate is x = z.
        let mut x = flat.clone().reshape([b, d]);
        let mut ladj = None;
        for _ in 0..d {
            let params = self.params(x, context);
            let (xk, l) = self.bijection.inverse(flat.clone(), params);
            x = xk.reshape([b, d]);
            ladj = Some(l);
        }
        let ladj = ladj
            .expect("d ≥ 2 passes")
            .reshape([b, d])
            .sum_dim(1)
            .reshape([b]);
        (x, ladj)
    }
}
