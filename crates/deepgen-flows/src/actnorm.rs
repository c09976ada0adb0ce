//! Activation normalisation (Kingma & Dhariwal 2018): a per-channel affine map with
//! data-dependent initialisation, done **once** and saved with the model.
//!
//! ```text
//! y = (x + b) ⊙ exp(s)               (per channel; forward = data → latent)
//! ln|det ∂y/∂x| = M · Σ_c s_c        (M = H·W for images, 1 for vectors)
//! ```
//!
//! # Initialisation that survives save/load
//!
//! [`ActNorm::initialize`] sets `b = −mean`, `s = −ln(std + ε)` from a batch (per channel, over
//! batch and spatial positions), so that the layer's output on that batch has zero mean and unit
//! variance per channel. It also sets the `initialized` flag, a `Param<Tensor<1, Bool>>`: bool
//! parameters are saved in the module record with the weights (Burn's `Param<Flag>` is *not*
//! recorded, a plain field neither), but never trained. `initialize` on a layer whose flag is set
//! returns it unchanged, so a model loaded from a record — flag set — is never re-initialised,
//! whatever batch a training loop's first-step hook feeds it. The flows expose the same call
//! for all their ActNorm layers in order (`initialize_actnorm`), to be run once before the first
//! optimiser step.
//!
//! `forward` never initialises on its own (it takes `&self`, and checking the flag would cost a
//! device read per call): an uninitialised layer is simply the identity (`b = 0`, `s = 0`).
//!
//! The layer works on any rank ≥ 2 with channels on axis 1: `[B, C]` vectors and
//! `[B, C, H, W]` images.

use burn::config::Config;
use burn::module::{Module, Param, ParamId};
use burn::tensor::{Bool, Device, Tensor, TensorData};
use deepgen_tensor::config::{positive, positive_finite};
use deepgen_tensor::{ConfigError, Validate};

use crate::bijection::{Bijection, with_value};

/// Configuration of an [`ActNorm`] layer.
#[derive(Config, Debug)]
pub struct ActNormConfig {
    /// `C`, the channels (features of a vector).
    pub channels: usize,
    /// `ε` in `s = −ln(std + ε)` at initialisation.
    #[config(default = 1e-6)]
    pub eps: f64,
}

impl Validate for ActNormConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        positive("ActNormConfig", "channels", self.channels)?;
        positive_finite("ActNormConfig", "eps", self.eps)
    }
}

impl ActNormConfig {
    /// Validates the config, then builds an uninitialised (identity) layer on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<ActNorm, ConfigError> {
        self.validate()?;
        let c = self.channels;
        Ok(ActNorm {
            bias: Param::from_tensor(Tensor::zeros([c], device)),
            log_scale: Param::from_tensor(Tensor::zeros([c], device)),
            initialized: Param::initialized(ParamId::new(), flag(false, device)),
            channels: c,
            eps: self.eps,
        })
    }

    /// Builds an uninitialised (identity) layer on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`ActNormConfig::try_init`]).
    pub fn init(&self, device: &Device) -> ActNorm {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

fn flag(value: bool, device: &Device) -> Tensor<1, Bool> {
    Tensor::from_data(TensorData::new(vec![value], [1]), device)
}

/// The ActNorm layer; see the [module docs](self).
#[derive(Module, Debug)]
pub struct ActNorm {
    /// `b`, `[C]`.
    pub bias: Param<Tensor<1>>,
    /// `s`, `[C]`.
    pub log_scale: Param<Tensor<1>>,
    /// Whether the data-dependent initialisation has run, `[1]` (recorded, never trained).
    pub initialized: Param<Tensor<1, Bool>>,
    /// `C`.
    pub channels: usize,
    /// `ε` of the initialisation.
    pub eps: f64,
}

/// `[1, C, 1, …]` for rank `R`.
fn channel_shape<const R: usize>(c: usize) -> [usize; R] {
    let mut s = [1; R];
    s[1] = c;
    s
}

impl ActNorm {
    /// Whether the data-dependent initialisation has run (one device read).
    pub fn is_initialized(&self) -> bool {
        self.initialized
            .val()
            .try_to_vec_as::<bool>()
            .expect("bool flag")[0]
    }

    /// The data-dependent initialisation from the batch `x` (see the [module docs](self));
    /// returns the layer unchanged if it is already initialised.
    ///
    /// # Shapes
    /// - x: `[batch, C, ...]`
    pub fn initialize<const R: usize>(self, x: Tensor<R>) -> Self {
        if self.is_initialized() {
            return self;
        }
        let c = self.check::<R>(&x);
        let n = x.dims().iter().product::<usize>() / c;
        let per_channel = x.detach().swap_dims(0, 1).reshape([c, n]);
        let mean = per_channel.clone().mean_dim(1);
        let std = (per_channel - mean.clone())
            .square()
            .mean_dim(1)
            .sqrt()
            .reshape([c]);
        let device = mean.device();
        Self {
            bias: with_value(self.bias, mean.reshape([c]).neg()),
            log_scale: with_value(self.log_scale, std.add_scalar(self.eps).log().neg()),
            initialized: self.initialized.map(|_| flag(true, &device)),
            channels: self.channels,
            eps: self.eps,
        }
    }

    fn check<const R: usize>(&self, x: &Tensor<R>) -> usize {
        assert!(R >= 2, "ActNorm: input must have rank ≥ 2");
        let c = x.dims()[1];
        assert!(
            c == self.channels,
            "ActNorm: input has {c} channels, the layer {}",
            self.channels
        );
        c
    }

    fn ladj<const R: usize>(&self, x: &Tensor<R>) -> Tensor<1> {
        let dims = x.dims();
        let spatial: usize = dims[2..].iter().product();
        self.log_scale
            .val()
            .sum()
            .mul_scalar(spatial as f64)
            .expand([dims[0]])
    }
}

impl<const R: usize> Bijection<R> for ActNorm {
    fn forward_and_ladj(
        &self,
        x: Tensor<R>,
        _context: Option<&Tensor<2>>,
    ) -> (Tensor<R>, Tensor<1>) {
        let c = self.check::<R>(&x);
        let ladj = self.ladj(&x);
        let b = self.bias.val().reshape(channel_shape::<R>(c));
        let s = self.log_scale.val().reshape(channel_shape::<R>(c));
        ((x + b) * s.exp(), ladj)
    }

    fn inverse_and_ladj(
        &self,
        z: Tensor<R>,
        _context: Option<&Tensor<2>>,
    ) -> (Tensor<R>, Tensor<1>) {
        let c = self.check::<R>(&z);
        let ladj = self.ladj(&z).neg();
        let b = self.bias.val().reshape(channel_shape::<R>(c));
        let s = self.log_scale.val().reshape(channel_shape::<R>(c));
        (z * s.neg().exp() - b, ladj)
    }
}
