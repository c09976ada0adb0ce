//! Samplers with learned per-pixel reverse variances (Bao et al., ICML 2022, "Estimating the
//! Optimal Covariance with Imperfect Mean in Diffusion Probabilistic Models"): SN-DDPM,
//! NPR-DDPM (`η = 1`) and SN-DDIM, NPR-DDIM (`η = 0`), or any `η` of the DDIM family.
//!
//! A step from level `r` to the next kept level `s` keeps the family's mean (DDPM's posterior
//! mean with `x̂_0`, or DDIM's `√ᾱ_s x̂_0 + √(β̄_s − λ²) ε̂`, with `x̂_0` clipped as configured)
//! and adds noise with the per-element variance of the optimal diagonal covariance
//! ([`crate::covariance_head`]):
//!
//! ```text
//! σ²(x_r) = λ² + c² · clamp(β̄_r/ᾱ_r · m(x_r), 0, ((max − min)/2)²)
//! m = h − ε̂²  (SN-DPM, h ≈ E[ε² | x_r])      m = h  (NPR-DPM, h ≈ E[(ε − ε̂)² | x_r])
//! λ² = η² β̃,  c = √ᾱ_s − √((β̄_s − λ²) ᾱ_r/β̄_r)     ([`AnalyticStep`])
//! ```
//!
//! `ε̂` is the model's own (unclipped) noise prediction. With `η = 0` (SN-DDIM / NPR-DDIM, the
//! paper's DDIM-family samplers) `λ² = 0`: the deterministic DDIM mean plus noise of variance
//! `c² Cov[x_0 | x_r]` — unlike DDIM these samplers are stochastic. With a zero residual moment
//! the variance is `λ²` (DDPM's fixed small `β̃` for `η = 1`, none for `η = 0`). As
//! Analytic-DPM's (and the authors' code), the variance of the step onto the lowest kept
//! timestep is clipped to `clip_pixels` quantisation bins ([`AnalyticDpmConfig`]), and the last
//! step (onto the clean level) adds no noise.

use burn::tensor::Tensor;
use deepgen_tensor::{ConfigError, Validate};

use crate::analytic_dpm::{AnalyticDpmConfig, AnalyticStep};
use crate::covariance_head::CovarianceHead;
use crate::model::{DiffusionModel, timesteps_tensor};
use crate::schedule::NoiseSchedule;
use crate::scheduler::{Ddim, DdimConfig, Ddpm, DdpmConfig, SamplerState, Scheduler};

/// The mean of a [`LearnedVarianceSampler`]: a DDPM or DDIM sampler with zero variances.
#[derive(Debug, Clone)]
enum Mean {
    Ddpm(Ddpm),
    Ddim(Ddim),
}

/// A DDIM-family sampler with learned per-pixel variances; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct LearnedVarianceSampler {
    head: CovarianceHead,
    mean: Mean,
    eta: f64,
    steps: Vec<AnalyticStep>,
    /// `ᾱ` at each kept timestep.
    alpha_bar: Vec<f64>,
    max_cov: f64,
    last_bound: Option<f64>,
}

impl LearnedVarianceSampler {
    /// SN-DDPM / NPR-DDPM (`η = 1`) on the timesteps of `ddpm` (its variance choice is ignored),
    /// with the data range and pixel clipping of `analytic` (its `eta` is ignored).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field of either config.
    pub fn ddpm(
        head: CovarianceHead,
        ddpm: &DdpmConfig,
        analytic: &AnalyticDpmConfig,
        schedule: &NoiseSchedule,
    ) -> Result<Self, ConfigError> {
        analytic.validate()?;
        let mean = ddpm.try_init(schedule)?;
        let n = mean.timesteps().len();
        let mean = mean.with_variances(&vec![0.0; n])?;
        Ok(Self::build(head, Mean::Ddpm(mean), 1.0, analytic, schedule))
    }

    /// SN-DDIM / NPR-DDIM on the timesteps of `ddim`, with its `η` (0: the paper's DDIM-family
    /// samplers, `λ = 0`) and the data range and pixel clipping of `analytic` (its `eta` is
    /// ignored).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field of either config, or
    /// `DdimConfig.set_alpha_to_one` if it is false (the last step must reach the clean level).
    pub fn ddim(
        head: CovarianceHead,
        ddim: &DdimConfig,
        analytic: &AnalyticDpmConfig,
        schedule: &NoiseSchedule,
    ) -> Result<Self, ConfigError> {
        analytic.validate()?;
        if !ddim.set_alpha_to_one {
            return Err(ConfigError::new(
                "DdimConfig",
                "set_alpha_to_one",
                "must be true for learned variances (the last step goes to the clean level)",
            ));
        }
        let mean = ddim.try_init(schedule)?;
        let n = mean.timesteps().len();
        let mean = mean.with_variances(&vec![0.0; n])?;
        Ok(Self::build(
            head,
            Mean::Ddim(mean),
            ddim.eta,
            analytic,
            schedule,
        ))
    }

    fn build(
        head: CovarianceHead,
        mean: Mean,
        eta: f64,
        analytic: &AnalyticDpmConfig,
        schedule: &NoiseSchedule,
    ) -> Self {
        let ts = match &mean {
            Mean::Ddpm(s) => s.timesteps().to_vec(),
            Mean::Ddim(s) => s.timesteps().to_vec(),
        };
        let ab = schedule.alpha_bar();
        let steps = (0..ts.len())
            .map(|i| {
                let s = ts.get(i + 1).map_or(1.0, |&s| ab[s]);
                AnalyticStep::new(ab[ts[i]], s, eta)
            })
            .collect();
        let half = (analytic.data_max - analytic.data_min) / 2.0;
        Self {
            head,
            mean,
            eta,
            steps,
            alpha_bar: ts.iter().map(|&t| ab[t]).collect(),
            max_cov: half * half,
            last_bound: analytic.clip_pixels.map(|y| {
                let b = y * (analytic.data_max - analytic.data_min) / 255.0
                    * std::f64::consts::FRAC_PI_2.sqrt();
                b * b
            }),
        }
    }

    /// Which head's output the variances come from.
    pub fn head(&self) -> CovarianceHead {
        self.head
    }

    /// `η` of the DDIM family (1 for the DDPM samplers).
    pub fn eta(&self) -> f64 {
        self.eta
    }

    /// The kept timesteps, descending.
    pub fn timesteps(&self) -> &[usize] {
        match &self.mean {
            Mean::Ddpm(s) => s.timesteps(),
            Mean::Ddim(s) => s.timesteps(),
        }
    }

    /// The step quantities (`λ²`, `c²`, `β̄_r/ᾱ_r`) of step `index`.
    ///
    /// # Panics
    /// If `index` is out of range.
    pub fn step(&self, index: usize) -> AnalyticStep {
        self.steps[index]
    }

    /// The per-element variance of step `index` from the model's `ε̂` and the head's `h` at
    /// that step, or `None` for the last step (no noise).
    ///
    /// # Shapes
    /// - eps, h: `[B, …]`
    /// - output: `[B, …]`
    pub fn variance<const D: usize>(
        &self,
        index: usize,
        eps: Tensor<D>,
        h: Tensor<D>,
    ) -> Option<Tensor<D>> {
        let n = self.steps.len();
        if index + 1 >= n {
            return None;
        }
        let step = &self.steps[index];
        let cov = self
            .head
            .residual_moment(h, eps)
            .mul_scalar(step.cov_scale)
            .clamp(0.0, self.max_cov);
        let var = cov.mul_scalar(step.cov_coef).add_scalar(step.lambda_sq);
        Some(match self.last_bound {
            Some(b) if index + 2 == n => var.clamp_max(b),
            _ => var,
        })
    }

    /// One step `index` from `x` (at level `timesteps()[index]`) given the model's raw output
    /// `out` and the head's `h` there; `noise` is standard normal (unused on the last step).
    ///
    /// # Shapes
    /// - out, h, x, noise: `[B, …]`
    /// - output: `[B, …]`
    pub fn step_with<const D: usize>(
        &self,
        state: &mut SamplerState<D>,
        index: usize,
        out: Tensor<D>,
        h: Tensor<D>,
        x: Tensor<D>,
        noise: Tensor<D>,
    ) -> Tensor<D> {
        let prediction = match &self.mean {
            Mean::Ddpm(s) => s.prediction(),
            Mean::Ddim(s) => s.prediction(),
        };
        let (_, eps) = prediction.split(out.clone(), x.clone(), self.alpha_bar[index]);
        let var = self.variance(index, eps, h);
        let mean = match &self.mean {
            Mean::Ddpm(s) => s.step(state, out, index, x, None).prev_sample,
            Mean::Ddim(s) => s.step(state, out, index, x, None).prev_sample,
        };
        match var {
            Some(var) => mean + var.sqrt() * noise,
            None => mean,
        }
    }

    /// Runs a whole trajectory of `model` (which must have the sampler's head) from `x_t` at
    /// level `timesteps()[0]`; `noise(i)` is the standard normal noise of step `i` (not asked
    /// for on the last step).
    ///
    /// # Shapes
    /// - x_t: `[B, C, H, W]`
    /// - output: `[B, C, H, W]`
    ///
    /// # Panics
    /// If `model` does not have the sampler's head.
    pub fn sample(
        &self,
        model: &DiffusionModel,
        x_t: Tensor<4>,
        mut noise: impl FnMut(usize) -> Tensor<4>,
    ) -> Tensor<4> {
        assert!(
            model.has_head(self.head),
            "LearnedVarianceSampler::sample: the model has no {} head",
            self.head.name()
        );
        let mut state = SamplerState::new();
        let mut x = x_t;
        let n = self.timesteps().len();
        for i in 0..n {
            let t = self.timesteps()[i];
            let b = x.dims()[0];
            let tt = timesteps_tensor(&vec![t; b], &x.device());
            let outs = model.forward_with_moments(x.clone(), tt);
            let h = outs.moment(self.head).expect("checked above");
            let z = if i + 1 < n { noise(i) } else { x.zeros_like() };
            x = self.step_with(&mut state, i, outs.out, h, x, z);
        }
        x
    }
}
