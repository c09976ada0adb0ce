//! Configurations of the multi-scale image flows: [`RealNvpConfig`] (Dinh et al. 2017) and
//! [`GlowConfig`] (Kingma & Dhariwal 2018), both building a [`MultiScaleFlow`].
//!
//! Layouts (`L` levels; `c` = channels at that point; couplings alternate `reverse`):
//!
//! ```text
//! RealNVP, level i < L−1:  [preprocess] · checkerboard coupling × checkerboard_steps
//!                          · squeeze · channel-wise coupling × channel_steps · factor out ½
//! RealNVP, level L−1:      checkerboard coupling × final_steps
//! Glow, every level i:     [preprocess] · squeeze · (ActNorm · 1×1 conv · coupling) × K
//!                          · factor out ½ with a learned prior (not after the last level)
//! ```
//!
//! RealNVP is batch-norm-free here (the paper's batch norm is replaced by nothing by default, or
//! by ActNorm before every coupling with `actnorm = true`), which keeps the flow a deterministic
//! function of its input — train and test densities agree.

use burn::config::Config;
use burn::tensor::Device;
use deepgen_tensor::config::{all_positive, positive};
use deepgen_tensor::{ConfigError, Validate};

use crate::actnorm::ActNormConfig;
use crate::conditioner::ImageConditionerKind;
use crate::coupling::{ImageCouplingConfig, ImageMask};
use crate::elementwise::CouplingBijection;
use crate::inv_conv::InvConv1x1Config;
use crate::multiscale::{ImageStep, MultiScaleFlow, Preprocess, ScaleLevel, SplitPriorConfig};
use crate::squeeze::Squeeze;

fn validate_image(
    config: &'static str,
    image_shape: [usize; 3],
    levels: usize,
    squeezes: usize,
) -> Result<(), ConfigError> {
    all_positive(config, "image_shape", &image_shape, true)?;
    positive(config, "levels", levels)?;
    let f = 1usize << squeezes;
    if !image_shape[1].is_multiple_of(f) || !image_shape[2].is_multiple_of(f) {
        return Err(ConfigError::new(
            config,
            "image_shape",
            format!(
                "H and W must be divisible by 2^{squeezes} = {f} for {levels} levels, got {}×{}",
                image_shape[1], image_shape[2]
            ),
        ));
    }
    Ok(())
}

/// Configuration of a RealNVP multi-scale flow; see the [module docs](self).
#[derive(Config, Debug)]
pub struct RealNvpConfig {
    /// `[C, H, W]` of the data.
    pub image_shape: [usize; 3],
    /// Number of scales `L` (H, W divisible by `2^(L−1)`).
    #[config(default = 3)]
    pub levels: usize,
    /// Checkerboard couplings before the squeeze of a level.
    #[config(default = 3)]
    pub checkerboard_steps: usize,
    /// Channel-wise couplings after the squeeze of a level.
    #[config(default = 3)]
    pub channel_steps: usize,
    /// Checkerboard couplings of the last level.
    #[config(default = 4)]
    pub final_steps: usize,
    /// Hidden channels of the conv conditioners.
    #[config(default = 64)]
    pub hidden_channels: usize,
    /// The coupling conditioner network.
    #[config(default = "ImageConditionerKind::Conv")]
    pub conditioner: ImageConditionerKind,
    /// The coupling's elementwise bijection.
    #[config(default = "CouplingBijection::realnvp()")]
    pub coupling: CouplingBijection,
    /// An ActNorm before every coupling (off: batch-norm-free RealNVP).
    #[config(default = false)]
    pub actnorm: bool,
    /// Context width fed to every conditioner (0 = unconditioned).
    #[config(default = 0)]
    pub context_dim: usize,
    /// Preprocessing (RealNVP: logit with α = 0.05).
    #[config(default = "Preprocess::Logit(0.05)")]
    pub preprocess: Preprocess,
}

impl Validate for RealNvpConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "RealNvpConfig";
        positive(C, "levels", self.levels)?;
        validate_image(C, self.image_shape, self.levels, self.levels - 1)?;
        positive(C, "final_steps", self.final_steps)?;
        positive(C, "hidden_channels", self.hidden_channels)?;
        self.coupling
            .validate()
            .map_err(|e| e.within(C, "coupling"))?;
        self.preprocess
            .validate()
            .map_err(|e| e.within(C, "preprocess"))
    }
}

impl RealNvpConfig {
    /// Validates the config, then builds the flow on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<MultiScaleFlow, ConfigError> {
        self.validate()?;
        let mut c = self.image_shape[0];
        let mut levels = Vec::with_capacity(self.levels);
        for i in 0..self.levels {
            let last = i + 1 == self.levels;
            let mut steps = if i == 0 {
                self.preprocess.steps()
            } else {
                vec![]
            };
            let couplings = |steps: &mut Vec<ImageStep>, n: usize, c: usize, mask: ImageMask| {
                for k in 0..n {
                    if self.actnorm {
                        steps.push(ImageStep::ActNorm(ActNormConfig::new(c).try_init(device)?));
                    }
                    steps.push(ImageStep::Coupling(
                        ImageCouplingConfig::new(c)
                            .with_hidden_channels(self.hidden_channels)
                            .with_conditioner(self.conditioner)
                            .with_bijection(self.coupling.clone())
                            .with_mask(mask.clone())
                            .with_reverse(k % 2 == 1)
                            .with_context_dim(self.context_dim)
                            .try_init(device)?,
                    ));
                }
                Ok::<(), ConfigError>(())
            };
            if last {
                couplings(&mut steps, self.final_steps, c, ImageMask::Checkerboard)?;
            } else {
                couplings(
                    &mut steps,
                    self.checkerboard_steps,
                    c,
                    ImageMask::Checkerboard,
                )?;
                steps.push(ImageStep::Squeeze(Squeeze::new(2)));
                c *= 4;
                couplings(&mut steps, self.channel_steps, c, ImageMask::ChannelWise)?;
            }
            levels.push(ScaleLevel {
                steps,
                factor_out: !last,
                prior: None,
            });
            if !last {
                c -= c / 2;
            }
        }
        Ok(MultiScaleFlow {
            levels,
            image_shape: self.image_shape,
        })
    }

    /// Builds the flow on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`RealNvpConfig::try_init`]).
    pub fn init(&self, device: &Device) -> MultiScaleFlow {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Configuration of a Glow multi-scale flow; see the [module docs](self).
#[derive(Config, Debug)]
pub struct GlowConfig {
    /// `[C, H, W]` of the data.
    pub image_shape: [usize; 3],
    /// Number of levels `L` (H, W divisible by `2^L`).
    #[config(default = 3)]
    pub levels: usize,
    /// Steps of flow per level `K` (≥ 1).
    #[config(default = 8)]
    pub steps_per_level: usize,
    /// Hidden channels of the conv conditioners.
    #[config(default = 128)]
    pub hidden_channels: usize,
    /// The coupling conditioner network.
    #[config(default = "ImageConditionerKind::Conv")]
    pub conditioner: ImageConditionerKind,
    /// The coupling's elementwise bijection (Glow: affine with `sigmoid(s + 2)`; additive is
    /// the paper's other variant).
    #[config(default = "CouplingBijection::glow()")]
    pub coupling: CouplingBijection,
    /// LU-decomposed 1×1 convolutions (otherwise plain).
    #[config(default = true)]
    pub lu_decomposed: bool,
    /// Learned split priors (otherwise plain factor-out).
    #[config(default = true)]
    pub learned_prior: bool,
    /// Context width fed to every conditioner and split prior (0 = unconditioned).
    #[config(default = 0)]
    pub context_dim: usize,
    /// Preprocessing (Glow: centre to `[−½, ½]`).
    #[config(default = "Preprocess::Center")]
    pub preprocess: Preprocess,
}

impl Validate for GlowConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "GlowConfig";
        validate_image(C, self.image_shape, self.levels, self.levels)?;
        positive(C, "steps_per_level", self.steps_per_level)?;
        positive(C, "hidden_channels", self.hidden_channels)?;
        self.coupling
            .validate()
            .map_err(|e| e.within(C, "coupling"))?;
        self.preprocess
            .validate()
            .map_err(|e| e.within(C, "preprocess"))
    }
}

impl GlowConfig {
    /// Validates the config, then builds the flow on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<MultiScaleFlow, ConfigError> {
        self.validate()?;
        let mut c = self.image_shape[0];
        let mut levels = Vec::with_capacity(self.levels);
        for i in 0..self.levels {
            let last = i + 1 == self.levels;
            let mut steps = if i == 0 {
                self.preprocess.steps()
            } else {
                vec![]
            };
            steps.push(ImageStep::Squeeze(Squeeze::new(2)));
            c *= 4;
            for _ in 0..self.steps_per_level {
                steps.push(ImageStep::ActNorm(ActNormConfig::new(c).try_init(device)?));
                let conv = InvConv1x1Config::new(c);
                steps.push(if self.lu_decomposed {
                    ImageStep::InvConvLu(conv.try_init_lu(device)?)
                } else {
                    ImageStep::InvConv(conv.try_init(device)?)
                });
                steps.push(ImageStep::Coupling(
                    ImageCouplingConfig::new(c)
                        .with_hidden_channels(self.hidden_channels)
                        .with_conditioner(self.conditioner)
                        .with_bijection(self.coupling.clone())
                        .with_mask(ImageMask::ChannelWise)
                        .with_context_dim(self.context_dim)
                        .try_init(device)?,
                ));
            }
            let prior = if !last && self.learned_prior {
                Some(
                    SplitPriorConfig::new(c - c / 2, c / 2)
                        .with_context_dim(self.context_dim)
                        .try_init(device)?,
                )
            } else {
                None
            };
            levels.push(ScaleLevel {
                steps,
                factor_out: !last,
                prior,
            });
            if !last {
                c -= c / 2;
            }
        }
        Ok(MultiScaleFlow {
            levels,
            image_shape: self.image_shape,
        })
    }

    /// Builds the flow on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`GlowConfig::try_init`]).
    pub fn init(&self, device: &Device) -> MultiScaleFlow {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}
