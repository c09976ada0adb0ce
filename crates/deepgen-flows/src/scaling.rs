//! NICE's diagonal scaling layer (Dinh et al. 2014, §3.3): `y = x ⊙ exp(s)` with a learned
//! `s` per feature (per channel on images), the only non-volume-preserving part of NICE.
//!
//! ln|det ∂y/∂x| = M·Σ s (`M` = positions per channel, 1 for vectors).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{Device, Tensor};
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

use crate::bijection::Bijection;

/// Configuration of a [`Scaling`] layer (initialised to the identity, `s = 0`).
#[derive(Config, Debug)]
pub struct ScalingConfig {
    /// Features (channels).
    pub features: usize,
}

impl Validate for ScalingConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        positive("ScalingConfig", "features", self.features)
    }
}

impl ScalingConfig {
    /// Validates the config, then builds the layer on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<Scaling, ConfigError> {
        self.validate()?;
        Ok(Scaling {
            log_scale: Param::from_tensor(Tensor::zeros([self.features], device)),
            features: self.features,
        })
    }

    /// Builds the layer on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`ScalingConfig::try_init`]).
    pub fn init(&self, device: &Device) -> Scaling {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// The diagonal scaling layer; see the [module docs](self).
#[derive(Module, Debug)]
pub struct Scaling {
    /// `s`, `[features]`.
    pub log_scale: Param<Tensor<1>>,
    /// The number of features.
    pub features: usize,
}

impl Scaling {
    fn parts<const R: usize>(&self, x: &Tensor<R>, sign: f64) -> (Tensor<R>, Tensor<1>) {
        let dims = x.dims();
        assert!(
            R >= 2 && dims[1] == self.features,
            "Scaling: input has {} features, the layer {}",
            dims[1],
            self.features
        );
        let m = dims[2..].iter().product::<usize>() as f64;
        let mut shape = [1; R];
        shape[1] = self.features;
        let s = self.log_scale.val().mul_scalar(sign);
        let ladj = s.clone().sum().mul_scalar(m).expand([dims[0]]);
        (s.reshape(shape).exp(), ladj)
    }
}

impl<const R: usize> Bijection<R> for Scaling {
    fn forward_and_ladj(
        &self,
        x: Tensor<R>,
        _context: Option<&Tensor<2>>,
    ) -> (Tensor<R>, Tensor<1>) {
        let (scale, ladj) = self.parts(&x, 1.0);
        (x * scale, ladj)
    }

    fn inverse_and_ladj(
        &self,
        z: Tensor<R>,
        _context: Option<&Tensor<2>>,
    ) -> (Tensor<R>, Tensor<1>) {
        let (scale, ladj) = self.parts(&z, -1.0);
        (z * scale, ladj)
    }
}
