//! DDIM (Song et al. 2021) over any subsequence of timesteps, and its deterministic inversion.
//!
//! From level `t` to the next kept level `t'` (`ᾱ_{t'} = 1` after the last step when
//! `set_alpha_to_one`, else `ᾱ_0`):
//!
//! ```text
//! σ_t(η)² = η² (1 − ᾱ_{t'})/(1 − ᾱ_t) · (1 − ᾱ_t/ᾱ_{t'})
//! x_{t'}  = √ᾱ_{t'} x̂_0 + √(1 − ᾱ_{t'} − σ²) ε̂ + σ z
//! ```
//!
//! (diffusers' `DDIMScheduler.step`; when `x̂_0` is clipped, `ε̂` is recomputed from the clipped
//! `x̂_0` as diffusers does). `η = 0` is deterministic, `η = 1` is DDPM's "fixed small" variance.
//! Unlike diffusers, which takes `t' = t − ⌊T/n⌋` whatever the spacing, `t'` is always the next
//! listed timestep (the same for `Leading` spacing).
//!
//! [`Ddim::invert_step`] runs a step backwards (`x_{t'} → x_t`, deterministic, as diffusers'
//! `DDIMInverseScheduler`): `x_t = √ᾱ_t x̂_0 + √(1 − ᾱ_t) ε̂` with `x̂_0, ε̂` from the model at
//! the lower level.

use burn::config::Config;
use burn::tensor::Tensor;
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

use super::ddpm::check_variances;
use super::spacing::check_timesteps;
use super::{
    SampleClipping, SamplerState, Scheduler, Spacing, StepOutput, alpha_bar_at, next_level,
    noise_or_random,
};
use crate::schedule::NoiseSchedule;
use crate::target::Prediction;

/// Configuration of a [`Ddim`] sampler.
#[derive(Config, Debug)]
pub struct DdimConfig {
    /// `n`, the number of reverse steps (`≤ T`).
    pub num_inference_steps: usize,
    /// How the `n` timesteps are picked.
    #[config(default = "Spacing::Leading")]
    pub spacing: Spacing,
    /// Added to every timestep of `Spacing::Leading` (diffusers' `steps_offset`).
    #[config(default = 0)]
    pub steps_offset: usize,
    /// `η ∈ [0, 1]`: 0 is deterministic DDIM, 1 has DDPM's posterior variance.
    #[config(default = 0.0)]
    pub eta: f64,
    /// How model outputs are interpreted.
    #[config(default = "Prediction::Epsilon")]
    pub prediction: Prediction,
    /// What happens to `x̂_0` before it is used.
    #[config(default = "SampleClipping::Off")]
    pub clipping: SampleClipping,
    /// `ᾱ` after the last step: 1 if true (diffusers' default), `ᾱ_0` otherwise.
    #[config(default = true)]
    pub set_alpha_to_one: bool,
}

impl Validate for DdimConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        positive(
            "DdimConfig",
            "num_inference_steps",
            self.num_inference_steps,
        )?;
        if !(0.0..=1.0).contains(&self.eta) {
            return Err(ConfigError::new(
                "DdimConfig",
                "eta",
                format!("must be in [0, 1], got {}", self.eta),
            ));
        }
        self.clipping.check("DdimConfig", "clipping")
    }
}

impl DdimConfig {
    /// Validates the config against `schedule` and computes every step's coefficients.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the field (e.g. `eta` outside `[0, 1]`, `num_inference_steps`
    /// > T).
    pub fn try_init(&self, schedule: &NoiseSchedule) -> Result<Ddim, ConfigError> {
        self.validate()?;
        let timesteps = self.spacing.checked_timesteps(
            "DdimConfig",
            schedule.num_timesteps(),
            self.num_inference_steps,
            self.steps_offset,
        )?;
        Ok(self.build(schedule, timesteps))
    }

    /// [`DdimConfig::try_init`] on explicit `timesteps` (strictly descending, `< T`) instead of
    /// `num_inference_steps`, `spacing` and `steps_offset`, which are ignored.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field, or `timesteps`.
    pub fn try_init_with_timesteps(
        &self,
        schedule: &NoiseSchedule,
        timesteps: &[usize],
    ) -> Result<Ddim, ConfigError> {
        self.validate()?;
        check_timesteps("DdimConfig", schedule.num_timesteps(), timesteps)?;
        Ok(self.build(schedule, timesteps.to_vec()))
    }

    fn build(&self, schedule: &NoiseSchedule, timesteps: Vec<usize>) -> Ddim {
        let final_alpha_bar = if self.set_alpha_to_one {
            1.0
        } else {
            schedule.alpha_bar()[0]
        };
        let steps = (0..timesteps.len())
            .map(|i| {
                let ab_t = schedule.alpha_bar()[timesteps[i]];
                let ab_prev = alpha_bar_at(schedule, next_level(&timesteps, i), final_alpha_bar);
                let variance =
                    self.eta * self.eta * (1.0 - ab_prev) / (1.0 - ab_t) * (1.0 - ab_t / ab_prev);
                DdimStep {
                    alpha_bar: ab_t,
                    alpha_bar_prev: ab_prev,
                    direction: (1.0 - ab_prev - variance).max(0.0).sqrt(),
                    variance,
                }
            })
            .collect();
        Ddim {
            timesteps,
            steps,
            prediction: self.prediction,
            clipping: self.clipping.clone(),
        }
    }

    /// Builds the sampler.
    ///
    /// # Panics
    /// If the config is invalid (see [`DdimConfig::try_init`]).
    pub fn init(&self, schedule: &NoiseSchedule) -> Ddim {
        self.try_init(schedule).unwrap_or_else(|e| panic!("{e}"))
    }
}

#[derive(Debug, Clone, PartialEq)]
struct DdimStep {
    alpha_bar: f64,
    alpha_bar_prev: f64,
    /// `√(1 − ᾱ_{t'} − σ_t(η)²)`.
    direction: f64,
    /// The variance of the added noise (`σ_t(η)²` unless replaced).
    variance: f64,
}

/// The DDIM sampler; see the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct Ddim {
    timesteps: Vec<usize>,
    steps: Vec<DdimStep>,
    prediction: Prediction,
    clipping: SampleClipping,
}

impl Ddim {
    /// The variance of the noise each step adds, in step order.
    pub fn variances(&self) -> Vec<f64> {
        self.steps.iter().map(|s| s.variance).collect()
    }

    /// The same sampler with the variance of the added noise replaced (the mean keeps `η`'s
    /// `σ_t(η)²` in its direction term), as Analytic-DDIM does with
    /// [`AnalyticDpmConfig::variances`](crate::AnalyticDpmConfig::variances).
    ///
    /// # Errors
    /// A [`ConfigError`] on `Ddim.variances` if there is not one finite `σ² ≥ 0` per step.
    pub fn with_variances(mut self, variances: &[f64]) -> Result<Self, ConfigError> {
        check_variances("Ddim", variances, self.steps.len())?;
        for (s, &v) in self.steps.iter_mut().zip(variances) {
            s.variance = v;
        }
        Ok(self)
    }

    /// The timestep at which to evaluate the model for [`Ddim::invert_step`] `index`: the level
    /// the inversion starts from, `timesteps()[index + 1]`, or `timesteps()[index]` for the last
    /// index (which starts from the clean level, as in diffusers' `DDIMInverseScheduler`).
    pub fn inversion_model_timestep(&self, index: usize) -> usize {
        next_level(&self.timesteps, index).unwrap_or(self.timesteps[index])
    }

    /// The inverse of step `index`: from the level after it (`timesteps()[index + 1]`, or the
    /// clean level for the last index) up to `timesteps()[index]`, deterministically.
    /// `model_output` is the model at `(sample, inversion_model_timestep(index))`. Encoding runs
    /// the indices from last to first.
    ///
    /// # Shapes
    /// - model_output, sample: `[B, …]`
    /// - output: both fields `[B, …]` (`prev_sample` is the sample at the higher level)
    ///
    /// # Panics
    /// If `index` is out of range, or for `Prediction::Sample` from the clean level (`ε̂` is
    /// `0/0` at `ᾱ = 1`).
    pub fn invert_step<const D: usize>(
        &self,
        model_output: Tensor<D>,
        index: usize,
        sample: Tensor<D>,
    ) -> StepOutput<D> {
        next_level(&self.timesteps, index);
        let s = &self.steps[index];
        assert!(
            !(self.prediction == Prediction::Sample && s.alpha_bar_prev >= 1.0),
            "Ddim::invert_step: an x₀-prediction cannot be inverted from the clean level"
        );
        let (x0, eps) = self
            .prediction
            .split(model_output, sample.clone(), s.alpha_bar_prev);
        let (x0, eps) = self.reclip(x0, eps, sample, s.alpha_bar_prev);
        let next =
            x0.clone().mul_scalar(s.alpha_bar.sqrt()) + eps.mul_scalar((1.0 - s.alpha_bar).sqrt());
        StepOutput {
            prev_sample: next,
            pred_original_sample: x0,
        }
    }

    /// Clips `x̂_0` and, if it changed anything, recomputes `ε̂` from it.
    fn reclip<const D: usize>(
        &self,
        x0: Tensor<D>,
        eps: Tensor<D>,
        sample: Tensor<D>,
        alpha_bar: f64,
    ) -> (Tensor<D>, Tensor<D>) {
        if self.clipping == SampleClipping::Off || alpha_bar >= 1.0 {
            return (x0, eps);
        }
        let x0 = self.clipping.apply(x0);
        let eps =
            (sample - x0.clone().mul_scalar(alpha_bar.sqrt())).div_scalar((1.0 - alpha_bar).sqrt());
        (x0, eps)
    }
}

impl Scheduler for Ddim {
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
        let (x0, eps) = self
            .prediction
            .split(model_output, sample.clone(), s.alpha_bar);
        let (x0, eps) = self.reclip(x0, eps, sample.clone(), s.alpha_bar);
        let mut prev = x0.clone().mul_scalar(s.alpha_bar_prev.sqrt()) + eps.mul_scalar(s.direction);
        if s.variance > 0.0 {
            prev = prev + noise_or_random(noise, &sample).mul_scalar(s.variance.sqrt());
        }
        StepOutput {
            prev_sample: prev,
            pred_original_sample: x0,
        }
    }
}
