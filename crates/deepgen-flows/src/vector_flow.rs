//! Vector density flows `[B, D]`: NICE, RealNVP and spline coupling flows (and MAF steps),
//! built from [`CouplingFlowConfig`].

use burn::config::Config;
use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use burn::tensor::{Device, Tensor};
use deepgen_tensor::config::{all_positive, positive};
use deepgen_tensor::{ConfigError, Validate};

use crate::actnorm::{ActNorm, ActNormConfig};
use crate::autoregressive::{AutoregressiveConfig, AutoregressiveLayer};
use crate::bijection::{Bijection, chain_forward, chain_inverse};
use crate::coupling::{VectorCoupling, VectorCouplingConfig, VectorMask};
use crate::density::NormalizingFlow;
use crate::elementwise::CouplingBijection;
use crate::inv_conv::{InvConv1x1Config, InvConv1x1Lu};
use crate::made::MadeOrder;
use crate::maf::MafStep;
use crate::permutation::Permutation;
use crate::scaling::{Scaling, ScalingConfig};

/// One step of a [`VectorFlow`].
// See `ImageStep`: variant sizes do not matter for a handful of steps.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum VectorStep {
    /// A coupling layer.
    Coupling(VectorCoupling),
    /// ActNorm over the features.
    ActNorm(ActNorm),
    /// A learned invertible linear map (the LU-decomposed 1×1 convolution on vectors).
    Linear(InvConv1x1Lu),
    /// NICE's diagonal scaling.
    Scaling(Scaling),
    /// A fixed permutation.
    Permutation(Permutation),
    /// A masked autoregressive flow step (density direction in one pass).
    Maf(MafStep),
    /// A masked autoregressive layer with any elementwise bijection (RQ-NSF (AR), MAF).
    Autoregressive(AutoregressiveLayer),
}

impl Bijection<2> for VectorStep {
    fn forward_and_ladj(
        &self,
        x: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        match self {
            Self::Coupling(s) => s.forward_and_ladj(x, context),
            Self::ActNorm(s) => s.forward_and_ladj(x, context),
            Self::Linear(s) => s.forward_and_ladj(x, context),
            Self::Scaling(s) => s.forward_and_ladj(x, context),
            Self::Permutation(s) => Bijection::forward_and_ladj(s, x, context),
            Self::Maf(s) => Bijection::forward_and_ladj(s, x, context),
            Self::Autoregressive(s) => s.forward_and_ladj(x, context),
        }
    }

    fn inverse_and_ladj(
        &self,
        z: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        match self {
            Self::Coupling(s) => s.inverse_and_ladj(z, context),
            Self::ActNorm(s) => s.inverse_and_ladj(z, context),
            Self::Linear(s) => s.inverse_and_ladj(z, context),
            Self::Scaling(s) => s.inverse_and_ladj(z, context),
            Self::Permutation(s) => Bijection::inverse_and_ladj(s, z, context),
            Self::Maf(s) => Bijection::inverse_and_ladj(s, z, context),
            Self::Autoregressive(s) => s.inverse_and_ladj(z, context),
        }
    }
}

/// A density flow on `[B, D]`: its steps applied in order (data → latent), standard-normal base.
#[derive(Module, Debug)]
pub struct VectorFlow {
    /// The steps, first applied first on `forward`.
    pub steps: Vec<VectorStep>,
    /// `D`.
    pub dim: usize,
}

impl VectorFlow {
    /// A flow of `steps` on `dim`-dimensional vectors.
    pub fn new(dim: usize, steps: Vec<VectorStep>) -> Self {
        Self { steps, dim }
    }

    /// Runs the data-dependent initialisation of every [`ActNorm`] step, in order, on the
    /// batch `x` (each sees the output of the steps before it); already initialised layers
    /// (e.g. loaded from a record) are left unchanged. Call once before the first optimiser
    /// step.
    ///
    /// # Shapes
    /// - x: `[batch, D]`
    /// - context: `[batch, context_dim]` (`None` when unconditioned)
    pub fn initialize_actnorm(self, x: Tensor<2>, context: Option<&Tensor<2>>) -> Self {
        let mut h = x.detach();
        let mut steps = Vec::with_capacity(self.steps.len());
        for step in self.steps {
            let step = match step {
                VectorStep::ActNorm(a) => VectorStep::ActNorm(a.initialize(h.clone())),
                s => s,
            };
            h = step.forward(h, context).detach();
            steps.push(step);
        }
        Self {
            steps,
            dim: self.dim,
        }
    }
}

impl Bijection<2> for VectorFlow {
    fn forward_and_ladj(
        &self,
        x: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        let d = x.dims()[1];
        assert!(
            d == self.dim,
            "VectorFlow: input has {d} features, the flow {}",
            self.dim
        );
        chain_forward(&self.steps, x, context)
    }

    fn inverse_and_ladj(
        &self,
        z: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        let d = z.dims()[1];
        assert!(
            d == self.dim,
            "VectorFlow: input has {d} features, the flow {}",
            self.dim
        );
        chain_inverse(&self.steps, z, context)
    }
}

impl NormalizingFlow<2> for VectorFlow {
    fn sample_shape(&self, n: usize) -> [usize; 2] {
        [n, self.dim]
    }

    fn flow_device(&self) -> Device {
        self.devices()
            .into_iter()
            .next()
            .expect("a VectorFlow has parameters")
    }
}

/// Configuration of a vector coupling flow: `n_couplings` coupling layers with alternating
/// masks (layer `i` reversed when `i` is odd), optionally each preceded by an ActNorm and/or a
/// learned LU linear map, and optionally followed by NICE's diagonal scaling.
///
/// Presets: [`CouplingFlowConfig::nice`], [`CouplingFlowConfig::realnvp`],
/// [`CouplingFlowConfig::spline`].
#[derive(Config, Debug)]
pub struct CouplingFlowConfig {
    /// `D` (≥ 2).
    pub dim: usize,
    /// Number of coupling layers (≥ 1).
    pub n_couplings: usize,
    /// Hidden widths of every conditioner MLP.
    #[config(default = "vec![64, 64]")]
    pub hidden: Vec<usize>,
    /// The elementwise bijection of every coupling.
    #[config(default = "CouplingBijection::realnvp()")]
    pub bijection: CouplingBijection,
    /// The mask kind.
    #[config(default = "VectorMask::Halves")]
    pub mask: VectorMask,
    /// Width of the context fed to every conditioner (0 = unconditioned).
    #[config(default = 0)]
    pub context_dim: usize,
    /// Conditioner activation.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
    /// An ActNorm before every coupling.
    #[config(default = false)]
    pub actnorm: bool,
    /// A learned LU linear map before every coupling.
    #[config(default = false)]
    pub lu_linear: bool,
    /// NICE's diagonal scaling after the last coupling.
    #[config(default = false)]
    pub final_scaling: bool,
    /// Zero-initialise the conditioners' last layers (the flow starts as the identity).
    #[config(default = true)]
    pub zero_init_output: bool,
    /// Masked autoregressive layers ([`AutoregressiveLayer`], orders alternating natural and
    /// reversed) instead of coupling layers: with the spline this is RQ-NSF (AR), with the
    /// affine map MAF. Density in one pass per layer, sampling in `D`.
    #[config(default = false)]
    pub autoregressive: bool,
}

impl CouplingFlowConfig {
    /// NICE: additive couplings and a final diagonal scaling.
    pub fn nice(dim: usize, n_couplings: usize) -> Self {
        Self::new(dim, n_couplings)
            .with_bijection(CouplingBijection::Additive)
            .with_final_scaling(true)
    }

    /// RealNVP: affine couplings (`exp` of a soft-clamped log-scale).
    pub fn realnvp(dim: usize, n_couplings: usize) -> Self {
        Self::new(dim, n_couplings).with_bijection(CouplingBijection::realnvp())
    }

    /// Neural spline flow: rational-quadratic spline couplings with `bins` bins on
    /// `[−bound, bound]`.
    pub fn spline(dim: usize, n_couplings: usize, bins: usize, bound: f64) -> Self {
        Self::new(dim, n_couplings).with_bijection(CouplingBijection::spline(bins, bound))
    }

    /// The config of coupling layer `i`.
    pub fn coupling_config(&self, i: usize) -> VectorCouplingConfig {
        VectorCouplingConfig::new(self.dim)
            .with_hidden(self.hidden.clone())
            .with_bijection(self.bijection.clone())
            .with_mask(self.mask.clone())
            .with_reverse(i % 2 == 1)
            .with_context_dim(self.context_dim)
            .with_activation(self.activation.clone())
            .with_zero_init_output(self.zero_init_output)
    }

    /// The config of autoregressive layer `i` (with `autoregressive = true`).
    pub fn autoregressive_config(&self, i: usize) -> AutoregressiveConfig {
        AutoregressiveConfig::new(self.dim)
            .with_hidden(self.hidden.clone())
            .with_bijection(self.bijection.clone())
            .with_order(if i % 2 == 1 {
                MadeOrder::Reversed
            } else {
                MadeOrder::Natural
            })
            .with_context_dim(self.context_dim)
            .with_activation(self.activation.clone())
            .with_zero_init_output(self.zero_init_output)
    }

    /// Validates the config, then builds the flow on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<VectorFlow, ConfigError> {
        self.validate()?;
        let mut steps = Vec::new();
        for i in 0..self.n_couplings {
            if self.actnorm {
                steps.push(VectorStep::ActNorm(
                    ActNormConfig::new(self.dim).try_init(device)?,
                ));
            }
            if self.lu_linear {
                steps.push(VectorStep::Linear(
                    InvConv1x1Config::new(self.dim).try_init_lu(device)?,
                ));
            }
            steps.push(if self.autoregressive {
                VectorStep::Autoregressive(self.autoregressive_config(i).try_init(device)?)
            } else {
                VectorStep::Coupling(self.coupling_config(i).try_init(device)?)
            });
        }
        if self.final_scaling {
            steps.push(VectorStep::Scaling(
                ScalingConfig::new(self.dim).try_init(device)?,
            ));
        }
        Ok(VectorFlow::new(self.dim, steps))
    }

    /// Builds the flow on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`CouplingFlowConfig::try_init`]).
    pub fn init(&self, device: &Device) -> VectorFlow {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

impl Validate for CouplingFlowConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "CouplingFlowConfig";
        positive(C, "n_couplings", self.n_couplings)?;
        all_positive(C, "hidden", &self.hidden, false)?;
        if self.autoregressive {
            self.autoregressive_config(0)
                .validate()
                .map_err(|e| ConfigError::new(C, e.field, e.reason))
        } else {
            self.coupling_config(0)
                .validate()
                .map_err(|e| ConfigError::new(C, e.field, e.reason))
        }
    }
}
