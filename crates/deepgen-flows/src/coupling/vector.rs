//! The coupling layer on vectors `[B, D]` (NICE, RealNVP, spline couplings on tabular data).

use burn::config::Config;
use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use burn::tensor::{Device, Tensor};
use deepgen_tensor::config::all_positive;
use deepgen_tensor::{ConfigError, Validate};

use super::{VectorMask, couple, couple_split, split_blocks};
use crate::bijection::Bijection;
use crate::conditioner::{MlpConditioner, MlpConditionerConfig};
use crate::elementwise::{CouplingBijection, ElementwiseBijection};

/// Configuration of a [`VectorCoupling`].
#[derive(Config, Debug)]
pub struct VectorCouplingConfig {
    /// `D` (≥ 2).
    pub dim: usize,
    /// Hidden widths of the MLP conditioner.
    #[config(default = "vec![64, 64]")]
    pub hidden: Vec<usize>,
    /// The elementwise bijection.
    #[config(default = "CouplingBijection::realnvp()")]
    pub bijection: CouplingBijection,
    /// Which features are transformed.
    #[config(default = "VectorMask::Halves")]
    pub mask: VectorMask,
    /// Swap the transformed and conditioning features.
    #[config(default = false)]
    pub reverse: bool,
    /// Width of the context (0 = unconditioned).
    #[config(default = 0)]
    pub context_dim: usize,
    /// Conditioner activation.
    #[config(default = "ActivationConfig::Relu")]
    pub activation: ActivationConfig,
    /// Zero-initialise the conditioner's last layer (the layer starts as the identity).
    #[config(default = true)]
    pub zero_init_output: bool,
}

impl Validate for VectorCouplingConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "VectorCouplingConfig";
        if self.dim < 2 {
            return Err(ConfigError::new(
                C,
                "dim",
                format!(
                    "must be at least 2 (a coupling needs two parts), got {}",
                    self.dim
                ),
            ));
        }
        all_positive(C, "hidden", &self.hidden, false)?;
        self.bijection
            .validate()
            .map_err(|e| e.within(C, "bijection"))
    }
}

impl VectorCouplingConfig {
    /// Validates the config, then builds the layer on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<VectorCoupling, ConfigError> {
        self.validate()?;
        // Halves: the conditioner reads the conditioning half only and predicts the
        // transformed half's parameters only (see the module docs).
        let (inputs, transformed) = match self.mask {
            VectorMask::Halves => {
                let ((_, kept), (_, changed)) = split_blocks(self.dim, self.reverse);
                (kept, changed)
            }
            VectorMask::Alternating => (self.dim, self.dim),
        };
        let conditioner = MlpConditionerConfig::new(
            inputs,
            self.bijection.num_params() * transformed,
            self.hidden.clone(),
        )
        .with_context_dim(self.context_dim)
        .with_activation(self.activation.clone())
        .with_zero_init_output(self.zero_init_output)
        .try_init(device)?;
        Ok(VectorCoupling {
            conditioner,
            bijection: self.bijection.clone(),
            mask: self.mask.clone(),
            reverse: self.reverse,
            dim: self.dim,
        })
    }

    /// Builds the layer on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`VectorCouplingConfig::try_init`]).
    pub fn init(&self, device: &Device) -> VectorCoupling {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A coupling layer on `[B, D]`; see the [coupling module docs](crate::coupling).
#[derive(Module, Debug)]
pub struct VectorCoupling {
    /// Halves: `[x_cond | context] → [B, P·D_t]` (`x_cond` the conditioning half, `D_t` the
    /// transformed features); alternating: `[x ⊙ (1 − m) | context] → [B, P·D]`.
    pub conditioner: MlpConditioner,
    /// The elementwise bijection (configuration, not recorded).
    #[module(skip)]
    pub bijection: CouplingBijection,
    /// The mask kind (configuration, not recorded).
    #[module(skip)]
    pub mask: VectorMask,
    /// Whether the mask is reversed.
    pub reverse: bool,
    /// `D`.
    pub dim: usize,
}

impl VectorCoupling {
    fn apply(
        &self,
        x: Tensor<2>,
        context: Option<&Tensor<2>>,
        inverse: bool,
    ) -> (Tensor<2>, Tensor<1>) {
        let [b, d] = x.dims();
        assert!(
            d == self.dim,
            "VectorCoupling: input has {d} features, the layer {}",
            self.dim
        );
        if self.mask == VectorMask::Halves {
            return couple_split(
                x,
                self.reverse,
                |kept| self.conditioner.forward(kept, context),
                &self.bijection,
                inverse,
            );
        }
        let transformed = self
            .mask
            .transformed(d, self.reverse, &x.device())
            .expand([b, d]);
        let params = self
            .conditioner
            .forward(x.clone().mask_fill(transformed.clone(), 0.0), context);
        couple(x, transformed, params, &self.bijection, inverse)
    }
}

impl Bijection<2> for VectorCoupling {
    fn forward_and_ladj(
        &self,
        x: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        self.apply(x, context, false)
    }

    fn inverse_and_ladj(
        &self,
        z: Tensor<2>,
        context: Option<&Tensor<2>>,
    ) -> (Tensor<2>, Tensor<1>) {
        self.apply(z, context, true)
    }
}
