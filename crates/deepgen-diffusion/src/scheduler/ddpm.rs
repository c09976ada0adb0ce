//! DDPM ancestral sampling (Ho et al. 2020) over any subsequence of timesteps.
//!
//! A step from level `t` to the next kept level `t'` (`ᾱ_{t'} = 1` after the last step) uses the
//! respaced process of improved-DDPM's `space_timesteps`: `β' = 1 − ᾱ_t/ᾱ_{t'}`, and
//!
//! ```text
//! x_{t'} = β' √ᾱ_{t'} / (1 − ᾱ_t) · x̂_0 + √(1 − β') (1 − ᾱ_{t'}) / (1 − ᾱ_t) · x_t + σ z
//! σ² = β̃' = β' (1 − ᾱ_{t'}) / (1 − ᾱ_t)   ("fixed small")   or   σ² = β'   ("fixed large")
//! ```
//!
//! (diffusers' `DDPMScheduler.step`). The last step adds no noise: it returns the posterior mean,
//! which at `ᾱ_{t'} = 1` is `x̂_0`.

use burn::config::Config;
use burn::tensor::Tensor;
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

use super::spacing::check_timesteps;
use super::{
    SampleClipping, SamplerState, Scheduler, Spacing, StepOutput, alpha_bar_at, next_level,
    noise_or_random,
};
use crate::schedule::NoiseSchedule;
use crate::target::Prediction;

/// The reverse variance of a DDPM step.
#[derive(Config, Debug, PartialEq, Eq, Copy)]
pub enum DdpmVariance {
    /// `σ² = β̃` (the posterior variance; Ho et al.'s choice for `x_0 ~ δ`).
    FixedSmall,
    /// `σ² = β` (Ho et al.'s choice for `x_0 ~ N(0, I)`).
    FixedLarge,
}

/// Configuration of a [`Ddpm`] sampler.
#[derive(Config, Debug)]
pub struct DdpmConfig {
    /// `n`, the number of reverse steps (`≤ T`; `T` is the full DDPM chain).
    pub num_inference_steps: usize,
    /// How the `n` timesteps are picked.
    #[config(default = "Spacing::Leading")]
    pub spacing: Spacing,
    /// Added to every timestep of `Spacing::Leading` (diffusers' `steps_offset`).
    #[config(default = 0)]
    pub steps_offset: usize,
    /// The reverse variance.
    #[config(default = "DdpmVariance::FixedSmall")]
    pub variance: DdpmVariance,
    /// How model outputs are interpreted.
    #[config(default = "Prediction::Epsilon")]
    pub prediction: Prediction,
    /// What happens to `x̂_0` before it is used.
    #[config(default = "SampleClipping::Off")]
    pub clipping: SampleClipping,
}

impl Validate for DdpmConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        positive(
            "DdpmConfig",
            "num_inference_steps",
            self.num_inference_steps,
        )?;
        self.clipping.check("DdpmConfig", "clipping")
    }
}

impl DdpmConfig {
    /// Validates the config against `schedule` and computes every step's coefficients.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the field (e.g. `num_inference_steps` > T).
    pub fn try_init(&self, schedule: &NoiseSchedule) -> Result<Ddpm, ConfigError> {
        self.validate()?;
        let timesteps = self.spacing.checked_timesteps(
            "DdpmConfig",
            schedule.num_timesteps(),
            self.num_inference_steps,
            self.steps_offset,
        )?;
        Ok(self.build(schedule, timesteps))
    }

    /// [`DdpmConfig::try_init`] on explicit `timesteps` (strictly descending, `< T`) instead of
    /// `num_inference_steps`, `spacing` and `steps_offset`, which are ignored.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field, or `timesteps`.
    pub fn try_init_with_timesteps(
        &self,
        schedule: &NoiseSchedule,
        timesteps: &[usize],
    ) -> Result<Ddpm, ConfigError> {
        self.validate()?;
        check_timesteps("DdpmConfig", schedule.num_timesteps(), timesteps)?;
        Ok(self.build(schedule, timesteps.to_vec()))
    }

    fn build(&self, schedule: &NoiseSchedule, timesteps: Vec<usize>) -> Ddpm {
        let steps = (0..timesteps.len())
            .map(|i| {
                let ab_t = schedule.alpha_bar()[timesteps[i]];
                let next = next_level(&timesteps, i);
                let ab_prev = alpha_bar_at(schedule, next, 1.0);
                let beta = 1.0 - ab_t / ab_prev;
                let variance = match (next, self.variance) {
                    (None, _) => 0.0,
                    (Some(_), DdpmVariance::FixedSmall) => beta * (1.0 - ab_prev) / (1.0 - ab_t),
                    (Some(_), DdpmVariance::FixedLarge) => beta,
                };
                DdpmStep {
                    alpha_bar: ab_t,
                    coef_x0: ab_prev.sqrt() * beta / (1.0 - ab_t),
                    coef_xt: (1.0 - beta).sqrt() * (1.0 - ab_prev) / (1.0 - ab_t),
                    variance,
                }
            })
            .collect();
        Ddpm {
            timesteps,
            steps,
            prediction: self.prediction,
            clipping: self.clipping.clone(),
        }
    }

    /// Builds the sampler.
    ///
    /// # Panics
    /// If the config is invalid (see [`DdpmConfig::try_init`]).
    pub fn init(&self, schedule: &NoiseSchedule) -> Ddpm {
        self.try_init(schedule).unwrap_or_else(|e| panic!("{e}"))
    }
}

#[derive(Debug, Clone, PartialEq)]
struct DdpmStep {
    alpha_bar: f64,
    coef_x0: f64,
    coef_xt: f64,
    variance: f64,
}

/// The DDPM sampler; see the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct Ddpm {
    timesteps: Vec<usize>,
    steps: Vec<DdpmStep>,
    prediction: Prediction,
    clipping: SampleClipping,
}

impl Ddpm {
    /// `σ²` of every step, in step order (the last is 0).
    pub fn variances(&self) -> Vec<f64> {
        self.steps.iter().map(|s| s.variance).collect()
    }

    /// The same sampler with the reverse variance of every step replaced, e.g. by
    /// Analytic-DPM's ([`AnalyticDpmConfig::variances`](crate::AnalyticDpmConfig::variances)).
    ///
    /// # Errors
    /// A [`ConfigError`] on `Ddpm.variances` if there is not one finite `σ² ≥ 0` per step.
    pub fn with_variances(mut self, variances: &[f64]) -> Result<Self, ConfigError> {
        check_variances("Ddpm", variances, self.steps.len())?;
        for (s, &v) in self.steps.iter_mut().zip(variances) {
            s.variance = v;
        }
        Ok(self)
    }
}

pub(crate) fn check_variances(
    config: &'static str,
    variances: &[f64],
    steps: usize,
) -> Result<(), ConfigError> {
    if variances.len() != steps {
        return Err(ConfigError::new(
            config,
            "variances",
            format!("needs one per step ({steps}), got {}", variances.len()),
        ));
    }
    match variances.iter().position(|v| !(v.is_finite() && *v >= 0.0)) {
        Some(i) => Err(ConfigError::new(
            config,
            format!("variances[{i}]"),
            format!("must be finite and ≥ 0, got {}", variances[i]),
        )),
        None => Ok(()),
    }
}

impl Scheduler for Ddpm {
    fn timesteps(&self) -> &[usize] {
        &self.timesteps
    }

    fn prediction(&self) -> Prediction {
        self.prediction
    }

    fn step_uses_noise(&self, index: usize) -> bool {
        self.steps[index].variance > 0.0
    }

    fn step<const D: usize>(
        &self,
        _state: &mut SamplerState<D>,
        model_output: Tensor<D>,
        index: usize,
        sample: Tensor<D>,
        noise: Option<Tensor<D>>,
    ) -> StepOutput<D> {
        next_level(&self.timesteps, index);
        let s = &self.steps[index];
        let (x0, _) = self
            .prediction
            .split(model_output, sample.clone(), s.alpha_bar);
        let x0 = self.clipping.apply(x0);
        let mut prev = x0.clone().mul_scalar(s.coef_x0) + sample.clone().mul_scalar(s.coef_xt);
        if s.variance > 0.0 {
            prev = prev + noise_or_random(noise, &sample).mul_scalar(s.variance.sqrt());
        }
        StepOutput {
            prev_sample: prev,
            pred_original_sample: x0,
        }
    }
}
