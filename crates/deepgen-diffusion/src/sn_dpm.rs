//! SN-DPM (Bao et al., ICML 2022, "Estimating the Optimal Covariance with Imperfect Mean in
//! Diffusion Probabilistic Models"): per-pixel reverse variances from a learned second moment
//! `h(x_t, t) ≈ E[ε² | x_t]` ([`DiffusionModel`]'s `second_moment_head`).
//!
//! With the diagonal posterior covariance `Cov[x_0 | x_r] = (1 − ᾱ_r)/ᾱ_r · (E[ε²|x_r] −
//! E[ε|x_r]²)`, the optimal Gaussian reverse variance of Analytic-DPM's Theorem 1 becomes, per
//! element,
//!
//! ```text
//! σ²(x_r) = λ² + c² · clamp((1 − ᾱ_r)/ᾱ_r · (h − ε̂²), 0, ((max − min)/2)²)
//! ```
//!
//! with `λ²`, `c²` of the step ([`AnalyticStep`], `η = 1`: SN-DDPM), the clamp of Analytic-DPM
//! (Theorem 2's bound for data in `[min, max]`) and the same `clip_pixels` bound on the step
//! onto the lowest kept timestep. The mean is DDPM's (`x̂_0` clipped as configured); the last
//! step adds no noise.

use burn::tensor::Tensor;
use deepgen_tensor::{ConfigError, Validate};

use crate::analytic_dpm::{AnalyticDpmConfig, AnalyticStep};
use crate::model::{DiffusionModel, timesteps_tensor};
use crate::schedule::NoiseSchedule;
use crate::scheduler::{Ddpm, DdpmConfig, SamplerState, Scheduler};

/// SN-DDPM: DDPM's means with SN-DPM's per-pixel variances; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct SnDdpm {
    mean: Ddpm,
    steps: Vec<AnalyticStep>,
    max_cov: f64,
    last_bound: Option<f64>,
}

impl SnDdpm {
    /// The sampler on the timesteps of `ddpm` (its variance choice is ignored), with the data
    /// range and pixel clipping of `analytic` (its `eta` is ignored: SN-DDPM has `η = 1`).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field of either config.
    pub fn new(
        ddpm: &DdpmConfig,
        analytic: &AnalyticDpmConfig,
        schedule: &NoiseSchedule,
    ) -> Result<Self, ConfigError> {
        analytic.validate()?;
        let mean = ddpm.try_init(schedule)?;
        let n = mean.timesteps().len();
        let mean = mean.with_variances(&vec![0.0; n])?;
        let ab = schedule.alpha_bar();
        let ts = mean.timesteps();
        let steps = (0..n)
            .map(|i| {
                let s = ts.get(i + 1).map_or(1.0, |&s| ab[s]);
                AnalyticStep::new(ab[ts[i]], s, 1.0)
            })
            .collect();
        let half = (analytic.data_max - analytic.data_min) / 2.0;
        Ok(Self {
            mean,
            steps,
            max_cov: half * half,
            last_bound: analytic.clip_pixels.map(|y| {
                let b = y * (analytic.data_max - analytic.data_min) / 255.0
                    * std::f64::consts::FRAC_PI_2.sqrt();
                b * b
            }),
        })
    }

    /// The kept timesteps, descending.
    pub fn timesteps(&self) -> &[usize] {
        self.mean.timesteps()
    }

    /// The per-element variance of step `index` from the model's `ε̂` and `h` at that step, or
    /// `None` for the last step (no noise).
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
        let cov = (h - eps.square())
            .mul_scalar(step.cov_scale)
            .clamp(0.0, self.max_cov);
        let var = cov.mul_scalar(step.cov_coef).add_scalar(step.lambda_sq);
        Some(match self.last_bound {
            Some(b) if index + 2 == n => var.clamp_max(b),
            _ => var,
        })
    }

    /// Runs a whole trajectory of `model` (which must have the SN-DPM head) from `x_t` at level
    /// `timesteps()[0]`; `noise(i)` is the standard normal noise of step `i`.
    ///
    /// # Shapes
    /// - x_t: `[B, C, H, W]`
    /// - output: `[B, C, H, W]`
    ///
    /// # Panics
    /// If `model` has no second-moment head.
    pub fn sample(
        &self,
        model: &DiffusionModel,
        x_t: Tensor<4>,
        mut noise: impl FnMut(usize) -> Tensor<4>,
    ) -> Tensor<4> {
        let mut state = SamplerState::new();
        let mut x = x_t;
        let ab = model.schedule.alpha_bar();
        for (i, &t) in self.timesteps().iter().enumerate() {
            let b = x.dims()[0];
            let tt = timesteps_tensor(&vec![t; b], &x.device());
            let (out, h) = model.forward_with_second_moment(x.clone(), tt);
            let h = h.expect("SnDdpm::sample: the model has no second-moment head");
            let (_, eps) = model.prediction.split(out.clone(), x.clone(), ab[t]);
            let mean = self.mean.step(&mut state, out, i, x, None).prev_sample;
            x = match self.variance(i, eps, h) {
                Some(var) => mean + var.sqrt() * noise(i),
                None => mean,
            };
        }
        x
    }
}
