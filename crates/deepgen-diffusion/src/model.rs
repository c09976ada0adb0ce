//! A diffusion model: deepgen-nn's DDPM [`UNet`] together with the noise schedule it was
//! trained on and what its output means ([`Prediction`]).
//!
//! The network sees the 0-based timestep `t ∈ [0, T)` as a float (`UNet::forward`'s sinusoidal
//! embedding); [`DiffusionModel::forward`] takes the integer timesteps the rest of the crate
//! uses and converts them. [`DiffusionModel::predict_x0_eps`] turns the raw output into the
//! predicted clean sample `x̂_0` and noise `ε̂` whatever the parameterisation.
//!
//! # Learned-covariance heads (SN-DPM, NPR-DPM)
//!
//! With `second_moment_head` / `residual_moment_head` the model gets extra heads (deepgen-nn's
//! [`UNetHead`], GroupNorm → SiLU → conv3×3, one output channel per image channel) on the
//! U-Net's trunk features: SN-DPM's `h ≈ E[ε² | x_t]` and NPR-DPM's `h ≈ E[(ε − ε̂)² | x_t]`
//! (elementwise; Bao et al., ICML 2022, "Estimating the Optimal Covariance with Imperfect Mean
//! in Diffusion Probabilistic Models"; see [`crate::covariance_head`]). The heads see the trunk
//! features through `Tensor::detach`: their losses train only the heads, and the noise
//! predictor learns from the denoising loss alone — the paper's setting, where the moment
//! networks are fit on a fixed noise predictor (the authors' "pretrained" models put the same
//! kind of head on a frozen trunk). Both heads can be present at once; they share the trunk.
//!
//! # Classes
//!
//! With `num_classes = Some(K)` the model is class-conditional for classifier-free guidance
//! (Ho & Salimans 2022): the U-Net's class embedding has `K + 1` rows, labels `0 … K−1` and the
//! **null label** `∅ = K` (the "no class" the training replaces labels by with some
//! probability, see [`crate::guidance`]). [`DiffusionModel::forward_class`] and
//! [`DiffusionModel::forward_class_with_moments`] take the labels; [`DiffusionModel::forward`]
//! and [`DiffusionModel::forward_with_moments`] (and everything built on them: the bound, `Γ`,
//! the unguided samplers) are the unconditional prediction `ε(x_t, t, ∅)` of such a model. The
//! heads see the trunk features of whatever labels the trunk got; `ddpm_mnist` does not combine
//! them with class conditioning (see docs/diffusion.md).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use deepgen_nn::{UNet, UNetConfig, UNetHead};
use deepgen_tensor::{ConfigError, Validate};

use crate::covariance_head::CovarianceHead;
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
    /// Add SN-DPM's second-moment head `h ≈ E[ε² | x_t]` on the detached trunk features (see
    /// the [module docs](self)).
    #[config(default = false)]
    pub second_moment_head: bool,
    /// Add NPR-DPM's residual-moment head `h ≈ E[(ε − ε̂)² | x_t]` on the detached trunk
    /// features.
    #[config(default = false)]
    pub residual_moment_head: bool,
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
        let head = |on: bool| -> Result<Option<UNetHead>, ConfigError> {
            on.then(|| self.unet.init_head(c, false, device))
                .transpose()
                .map_err(|e| e.within("DiffusionModelConfig", "unet"))
        };
        let unet = self
            .unet
            .clone()
            .with_num_classes(self.num_classes.map(|k| k + 1));
        Ok(DiffusionModel {
            unet: unet.try_init(device)?,
            sn_head: head(self.second_moment_head)?,
            npr_head: head(self.residual_moment_head)?,
            schedule: self.schedule.try_init()?,
            prediction: self.prediction,
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
    /// SN-DPM's head `h ≈ E[ε² | x_t]` on the detached trunk features, if configured.
    pub sn_head: Option<UNetHead>,
    /// NPR-DPM's head `h ≈ E[(ε − ε̂)² | x_t]` on the detached trunk features, if configured.
    pub npr_head: Option<UNetHead>,
    /// The schedule the network was trained for (host tables, not parameters).
    #[module(skip)]
    pub schedule: NoiseSchedule,
    /// What the network outputs.
    #[module(skip)]
    pub prediction: Prediction,
    /// Classes of a class-conditional model (the null label is index `num_classes`), `None`
    /// for an unconditional one.
    #[module(skip)]
    pub num_classes: Option<usize>,
}

/// The raw network output with the learned-covariance heads' outputs, from one trunk pass
/// ([`DiffusionModel::forward_with_moments`]).
#[derive(Debug, Clone)]
pub struct MomentOutput {
    /// The raw output (ε, x₀ or v), `[B, C, H, W]`.
    pub out: Tensor<4>,
    /// SN-DPM's `h ≈ E[ε² | x_t]`, `[B, C, H, W]`, with the head.
    pub second_moment: Option<Tensor<4>>,
    /// NPR-DPM's `h ≈ E[(ε − ε̂)² | x_t]`, `[B, C, H, W]`, with the head.
    pub residual_moment: Option<Tensor<4>>,
}

impl MomentOutput {
    /// The output of `head`, if the model has it.
    ///
    /// # Shapes
    /// - output: `[B, C, H, W]`
    pub fn moment(&self, head: CovarianceHead) -> Option<Tensor<4>> {
        match head {
            CovarianceHead::SecondMoment => self.second_moment.clone(),
            CovarianceHead::ResidualMoment => self.residual_moment.clone(),
        }
    }
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
        self.forward_class(x_t, t, None)
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
        let class = self.class_labels(class, x_t.dims()[0], &x_t.device());
        self.unet.forward(x_t, t.float(), class)
    }

    /// Whether the model has `head`.
    pub fn has_head(&self, head: CovarianceHead) -> bool {
        match head {
            CovarianceHead::SecondMoment => self.sn_head.is_some(),
            CovarianceHead::ResidualMoment => self.npr_head.is_some(),
        }
    }

    /// The raw network output and the outputs of the learned-covariance heads the model has,
    /// from one trunk pass; the heads see the trunk features detached (see the
    /// [module docs](self)).
    ///
    /// # Shapes
    /// - x_t: `[B, C, H, W]`
    /// - t: `[B]`, values in `[0, T)`
    /// - output: every tensor `[B, C, H, W]`
    pub fn forward_with_moments(&self, x_t: Tensor<4>, t: Tensor<1, Int>) -> MomentOutput {
        self.forward_class_with_moments(x_t, t, None)
    }

    /// [`forward_with_moments`](Self::forward_with_moments) given class labels, as
    /// [`forward_class`](Self::forward_class): `None` is the null label for a conditional
    /// model. The heads see the trunk features computed with these labels.
    ///
    /// # Shapes
    /// - x_t: `[B, C, H, W]`
    /// - t, class: `[B]`
    /// - output: every tensor `[B, C, H, W]`
    ///
    /// # Panics
    /// If labels are given to an unconditional model.
    pub fn forward_class_with_moments(
        &self,
        x_t: Tensor<4>,
        t: Tensor<1, Int>,
        class: Option<Tensor<1, Int>>,
    ) -> MomentOutput {
        let class = self.class_labels(class, x_t.dims()[0], &x_t.device());
        let features = self.unet.forward_trunk(x_t, t.float(), class);
        let detached = features.clone().detach();
        MomentOutput {
            second_moment: self.sn_head.as_ref().map(|h| h.forward(detached.clone())),
            residual_moment: self.npr_head.as_ref().map(|h| h.forward(detached)),
            out: self.unet.forward_head(features),
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

    /// The labels the U-Net gets: `class` for a conditional model, the null label for every
    /// sample when `None`; `None` for an unconditional model.
    ///
    /// # Panics
    /// If labels are given to an unconditional model.
    fn class_labels(
        &self,
        class: Option<Tensor<1, Int>>,
        batch: usize,
        device: &Device,
    ) -> Option<Tensor<1, Int>> {
        match (self.num_classes, class) {
            (Some(_), Some(class)) => Some(class),
            (Some(k), None) => Some(timesteps_tensor(&vec![k; batch], device)),
            (None, None) => None,
            (None, Some(_)) => panic!(
                "DiffusionModel: class labels given to an unconditional model; build it with \
                 DiffusionModelConfig::num_classes"
            ),
        }
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
