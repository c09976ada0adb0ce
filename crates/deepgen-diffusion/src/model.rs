//! A diffusion model: deepgen-nn's DDPM [`UNet`] together with the noise schedule it was
//! trained on and what its output means ([`Prediction`]).
//!
//! The network sees the 0-based timestep `t ∈ [0, T)` as a float (`UNet::forward`'s sinusoidal
//! embedding); [`DiffusionModel::forward`] takes the integer timesteps the rest of the crate
//! uses and converts them. [`DiffusionModel::predict_x0_eps`] turns the raw output into the
//! predicted clean sample `x̂_0` and noise `ε̂` whatever the parameterisation.
//!
//! # SN-DPM head
//!
//! With `second_moment_head`, the U-Net's output has twice the image's channels: the first half
//! is the usual prediction, the second `h(x_t, t) ≈ E[ε² | x_t]` (elementwise), SN-DPM's
//! second-moment network (Bao et al., ICML 2022, "Estimating the Optimal Covariance with
//! Imperfect Mean in Diffusion Probabilistic Models"), trained with `‖h − ε²‖²` beside the
//! denoising loss. The diagonal posterior covariance it implies,
//! `Cov[x_0 | x_t] ≈ (1 − ᾱ_t)/ᾱ_t · (h − ε̂²)`, gives the per-pixel reverse variances of
//! [`crate::sn_dpm`].
//!
//! # Classes
//!
//! With `num_classes = Some(K)` the model is class-conditional for classifier-free guidance
//! (Ho & Salimans 2022): the U-Net's class embedding has `K + 1` rows, labels `0 … K−1` and the
//! **null label** `∅ = K` (the "no class" the training replaces labels by with some
//! probability, see [`crate::guidance`]). [`DiffusionModel::forward_class`] takes the labels;
//! [`DiffusionModel::forward`] (and everything built on it: the bound, `Γ`, the unguided
//! samplers) is the unconditional prediction `ε(x_t, t, ∅)` of such a model.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use deepgen_nn::{UNet, UNetConfig};
use deepgen_tensor::{ConfigError, Validate};

use crate::schedule::{NoiseSchedule, NoiseScheduleConfig};
use crate::target::Prediction;

/// Configuration of a [`DiffusionModel`].
#[derive(Config, Debug)]
pub struct DiffusionModelConfig {
    /// The network; its output must have as many channels as its input.
    pub unet: UNetConfig,
    /// The forward process the model is trained for.
    #[config(default = "NoiseScheduleConfig::new()")]
    pub schedule: NoiseScheduleConfig,
    /// What the network outputs.
    #[config(default = "Prediction::Epsilon")]
    pub prediction: Prediction,
    /// Add SN-DPM's second-moment head (see the [module docs](self)): the U-Net is built with
    /// twice the image's output channels.
    #[config(default = false)]
    pub second_moment_head: bool,
    /// Classes of a class-conditional model (`None`: unconditional). The U-Net's class
    /// embedding gets `num_classes + 1` rows, the last the null label (see the
    /// [module docs](self)); leave `unet.num_classes` unset.
    #[config(default = "None")]
    pub num_classes: Option<usize>,
}

impl Validate for DiffusionModelConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "DiffusionModelConfig";
        self.unet.validate().map_err(|e| e.within(C, "unet"))?;
        self.schedule
            .validate()
            .map_err(|e| e.within(C, "schedule"))?;
        if self.unet.output_channels() != self.unet.in_channels {
            return Err(ConfigError::new(
                C,
                "unet.out_channels",
                format!(
                    "must equal in_channels = {} (the output is ε, x₀ or v of the input), got {}",
                    self.unet.in_channels,
                    self.unet.output_channels()
                ),
            ));
        }
        if self.unet.num_classes.is_some() {
            return Err(ConfigError::new(
                C,
                "unet.num_classes",
                "must be None: set DiffusionModelConfig.num_classes, which adds the null label \
                 of classifier-free guidance to the U-Net's class table",
            ));
        }
        if self.num_classes == Some(0) {
            return Err(ConfigError::new(
                C,
                "num_classes",
                "must be at least 1 (or None for an unconditional model)",
            ));
        }
        Ok(())
    }
}

impl DiffusionModelConfig {
    /// Validates the config and builds the model on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field (`DiffusionModelConfig.unet.…`,
    /// `….schedule.…`).
    pub fn try_init(&self, device: &Device) -> Result<DiffusionModel, ConfigError> {
        self.validate()?;
        let c = self.unet.in_channels;
        let unet = if self.second_moment_head {
            self.unet.clone().with_out_channels(Some(2 * c))
        } else {
            self.unet.clone()
        };
        let unet = unet.with_num_classes(self.num_classes.map(|k| k + 1));
        Ok(DiffusionModel {
            unet: unet.try_init(device)?,
            schedule: self.schedule.try_init()?,
            prediction: self.prediction,
            second_moment_head: self.second_moment_head,
            num_classes: self.num_classes,
        })
    }

    /// Builds the model.
    ///
    /// # Panics
    /// If the config is invalid (see [`DiffusionModelConfig::try_init`]).
    pub fn init(&self, device: &Device) -> DiffusionModel {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A U-Net with its noise schedule and prediction type; see the [module docs](self).
#[derive(Module, Debug)]
pub struct DiffusionModel {
    /// The network.
    pub unet: UNet,
    /// The schedule the network was trained for (host tables, not parameters).
    #[module(skip)]
    pub schedule: NoiseSchedule,
    /// What the network outputs.
    #[module(skip)]
    pub prediction: Prediction,
    /// Whether the U-Net's second half of channels is SN-DPM's `h ≈ E[ε² | x_t]`.
    #[module(skip)]
    pub second_moment_head: bool,
    /// Classes of a class-conditional model (the null label is index `num_classes`), `None`
    /// for an unconditional one.
    #[module(skip)]
    pub num_classes: Option<usize>,
}

impl DiffusionModel {
    /// The raw network output (ε, x₀ or v, see [`DiffusionModel::prediction`]) at per-sample
    /// timesteps; for a class-conditional model the unconditional one (null label).
    ///
    /// # Shapes
    /// - x_t: `[B, C, H, W]`
    /// - t: `[B]`, values in `[0, T)`
    /// - output: `[B, C, H, W]`
    pub fn forward(&self, x_t: Tensor<4>, t: Tensor<1, Int>) -> Tensor<4> {
        self.forward_with_second_moment(x_t, t).0
    }

    /// The raw network output and, with the SN-DPM head, `h ≈ E[ε² | x_t]`.
    ///
    /// # Shapes
    /// - x_t: `[B, C, H, W]`
    /// - t: `[B]`, values in `[0, T)`
    /// - output: `([B, C, H, W], Some([B, C, H, W]) or None)`
    pub fn forward_with_second_moment(
        &self,
        x_t: Tensor<4>,
        t: Tensor<1, Int>,
    ) -> (Tensor<4>, Option<Tensor<4>>) {
        self.forward_class_with_second_moment(x_t, t, None)
    }

    /// The raw network output given class labels: `class` holds one label in
    /// `0..num_classes` (or the null label `num_classes`) per sample; `None` means the null
    /// label for a conditional model and is the only choice for an unconditional one.
    ///
    /// # Shapes
    /// - x_t: `[B, C, H, W]`
    /// - t, class: `[B]`
    /// - output: `[B, C, H, W]`
    ///
    /// # Panics
    /// If labels are given to an unconditional model.
    pub fn forward_class(
        &self,
        x_t: Tensor<4>,
        t: Tensor<1, Int>,
        class: Option<Tensor<1, Int>>,
    ) -> Tensor<4> {
        self.forward_class_with_second_moment(x_t, t, class).0
    }

    /// [`forward_class`](Self::forward_class) with the SN-DPM head's `h` (see
    /// [`forward_with_second_moment`](Self::forward_with_second_moment)).
    ///
    /// # Shapes
    /// - x_t: `[B, C, H, W]`
    /// - t, class: `[B]`
    /// - output: `([B, C, H, W], Some([B, C, H, W]) or None)`
    ///
    /// # Panics
    /// If labels are given to an unconditional model.
    pub fn forward_class_with_second_moment(
        &self,
        x_t: Tensor<4>,
        t: Tensor<1, Int>,
        class: Option<Tensor<1, Int>>,
    ) -> (Tensor<4>, Option<Tensor<4>>) {
        let [b, c, _, _] = x_t.dims();
        let class = match (self.num_classes, class) {
            (Some(_), Some(class)) => Some(class),
            (Some(k), None) => Some(timesteps_tensor(&vec![k; b], &x_t.device())),
            (None, None) => None,
            (None, Some(_)) => panic!(
                "DiffusionModel: class labels given to an unconditional model; build it with \
                 DiffusionModelConfig::num_classes"
            ),
        };
        let out = self.unet.forward(x_t, t.float(), class);
        if self.second_moment_head {
            (out.clone().narrow(1, 0, c), Some(out.narrow(1, c, c)))
        } else {
            (out, None)
        }
    }

    /// The raw network output with every sample at timestep `t`.
    ///
    /// # Shapes
    /// - x_t: `[B, C, H, W]`
    /// - output: `[B, C, H, W]`
    pub fn forward_at(&self, x_t: Tensor<4>, t: usize) -> Tensor<4> {
        let b = x_t.dims()[0];
        let device = x_t.device();
        self.forward(x_t, timesteps_tensor(&vec![t; b], &device))
    }

    /// `(x̂_0, ε̂)` implied by the network's output at per-sample timesteps.
    ///
    /// # Shapes
    /// - x_t: `[B, C, H, W]`
    /// - t: `[B]`
    /// - output: `(x̂_0, ε̂)`, both `[B, C, H, W]`
    pub fn predict_x0_eps(&self, x_t: Tensor<4>, t: Tensor<1, Int>) -> (Tensor<4>, Tensor<4>) {
        let out = self.forward(x_t.clone(), t.clone());
        self.prediction.split_at(&self.schedule, out, x_t, t)
    }

    /// `T`, the number of diffusion steps.
    pub fn num_timesteps(&self) -> usize {
        self.schedule.num_timesteps()
    }

    /// The null label `∅ = num_classes` of a class-conditional model, `None` for an
    /// unconditional one.
    pub fn null_class(&self) -> Option<usize> {
        self.num_classes
    }
}

/// An Int tensor `[n]` of timesteps (or of class labels).
///
/// # Shapes
/// - output: `[t.len()]`
pub fn timesteps_tensor(t: &[usize], device: &Device) -> Tensor<1, Int> {
    let data: Vec<i64> = t.iter().map(|&v| v as i64).collect();
    Tensor::from_data(TensorData::new(data, [t.len()]), device)
}
