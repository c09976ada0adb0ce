//! Analytic-DPM (Bao et al., ICLR 2022): the optimal reverse variance of a trained ε-model, from
//! one number per step, as pure host f64 math.
//!
//! The DDIM family on a trajectory `… > s` (levels `n` at timestep `r`, `n − 1` at `s`; `ᾱ` of
//! the clean level is 1, `β̄ = 1 − ᾱ`) has the reverse conditionals
//!
//! ```text
//! q_λ(x_s | x_r, x_0) = N(√ᾱ_s x_0 + √(β̄_s − λ²) (x_r − √ᾱ_r x_0)/√β̄_r, λ² I),
//! λ² = η² β̃,  β̃ = (β̄_s/β̄_r)(1 − ᾱ_r/ᾱ_s)         (η = 1: DDPM, η = 0: DDIM)
//! ```
//!
//! Theorem 1: the optimal Gaussian reverse variance with the mean built from `x̂_0` is
//!
//! ```text
//! σ*² = λ² + (√(β̄_r/α) − √(β̄_s − λ²))² (1 − Γ_r),   α = ᾱ_r/ᾱ_s,   Γ_r = E‖ε(x_r, r)‖²/d
//!     = λ² + c² · Cov[x_0 | x_r],   c = √ᾱ_s − √((β̄_s − λ²) ᾱ_r/β̄_r),   Cov = β̄_r/ᾱ_r (1 − Γ_r)
//! ```
//!
//! with `Γ_r` estimated by the caller with the trained model (a Monte-Carlo mean of the squared
//! norm of its ε-output per dimension). As in the authors' code, the covariance term is clipped to
//! `[0, ((max − min)/2)²]`, the bounds that hold for data in `[min, max]` (Theorem 2), and the
//! variance of the step onto the lowest kept timestep is clipped so that `E|σ z| ≤ y` pixel bins
//! (`σ² ≤ (y·(max − min)/255·√(π/2))²`, their `clip_sigma_idx = 1`, `clip_pixel = y`). The last
//! step (onto the clean level) adds no noise: variance 0.

use burn::config::Config;
use deepgen_tensor::config::positive_finite;
use deepgen_tensor::{ConfigError, Validate};

use crate::schedule::NoiseSchedule;

/// Configuration of the Analytic-DPM variances.
#[derive(Config, Debug)]
pub struct AnalyticDpmConfig {
    /// `η ∈ [0, 1]` of the DDIM family (`λ² = η² β̃`): 1 for Analytic-DDPM, 0 for Analytic-DDIM.
    #[config(default = 1.0)]
    pub eta: f64,
    /// The smallest data value (images: −1).
    #[config(default = -1.0)]
    pub data_min: f64,
    /// The largest data value (images: 1).
    #[config(default = 1.0)]
    pub data_max: f64,
    /// `y`: clip the variance of the step onto the lowest kept timestep so that `E|σ z|` is at
    /// most `y` quantisation bins of width `(max − min)/255`; `None`: no clipping. The authors'
    /// CIFAR-10 settings (`run_cifar10.py` of github.com/baofff/Analytic-DPM): 2 for
    /// Analytic-DDPM with the linear schedule (the default here), 1 with the cosine schedule,
    /// and 1 for Analytic-DDIM with either ([`AnalyticDpmConfig::ddim`]).
    #[config(default = "Some(2.0)")]
    pub clip_pixels: Option<f64>,
}

impl Validate for AnalyticDpmConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "AnalyticDpmConfig";
        if !(0.0..=1.0).contains(&self.eta) {
            return Err(ConfigError::new(
                C,
                "eta",
                format!("must be in [0, 1], got {}", self.eta),
            ));
        }
        if !self.data_min.is_finite() {
            return Err(ConfigError::new(
                C,
                "data_min",
                format!("must be finite, got {}", self.data_min),
            ));
        }
        if !(self.data_max.is_finite() && self.data_max > self.data_min) {
            return Err(ConfigError::new(
                C,
                "data_max",
                format!(
                    "must be finite and > data_min = {}, got {}",
                    self.data_min, self.data_max
                ),
            ));
        }
        if let Some(y) = self.clip_pixels {
            positive_finite(C, "clip_pixels", y)?;
        }
        Ok(())
    }
}

/// The quantities of one Analytic-DPM step from level `r` to level `s`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AnalyticStep {
    /// `λ²`, the variance of the DDIM-family conditional (the lower bound of `σ*²`).
    pub lambda_sq: f64,
    /// `c² = (√ᾱ_s − √((β̄_s − λ²) ᾱ_r/β̄_r))²`, the weight of `Cov[x_0 | x_r]`.
    pub cov_coef: f64,
    /// `β̄_r/ᾱ_r`, so that `Cov[x_0 | x_r] = β̄_r/ᾱ_r · (1 − Γ_r)` (and the upper bound of
    /// Theorem 2 without a data range is `λ² + c² β̄_r/ᾱ_r`).
    pub cov_scale: f64,
}

impl AnalyticStep {
    /// The step from `ᾱ_r` down to `ᾱ_s` (`ᾱ_s = 1` for the clean level) with `η`.
    pub fn new(alpha_bar_r: f64, alpha_bar_s: f64, eta: f64) -> Self {
        let (bb_r, bb_s) = (1.0 - alpha_bar_r, 1.0 - alpha_bar_s);
        let beta_tilde = bb_s / bb_r * (1.0 - alpha_bar_r / alpha_bar_s);
        let lambda_sq = eta * eta * beta_tilde;
        let c = alpha_bar_s.sqrt() - ((bb_s - lambda_sq).max(0.0) * alpha_bar_r / bb_r).sqrt();
        Self {
            lambda_sq,
            cov_coef: c * c,
            cov_scale: bb_r / alpha_bar_r,
        }
    }

    /// Theorem 1 without clipping: `λ² + c² β̄_r/ᾱ_r (1 − Γ)`.
    pub fn optimal_variance(&self, gamma: f64) -> f64 {
        self.lambda_sq + self.cov_coef * self.cov_scale * (1.0 - gamma)
    }
}

impl AnalyticDpmConfig {
    /// Analytic-DDIM as its authors ran it: `η = 0` and the last noisy step clipped to one
    /// pixel bin (`clip_pixels = 1`; Analytic-DDPM's default is 2).
    pub fn ddim() -> Self {
        Self::new().with_eta(0.0).with_clip_pixels(Some(1.0))
    }

    /// The reverse variance of every step of a sampler with descending `timesteps` (those of
    /// [`Scheduler::timesteps`](crate::Scheduler::timesteps)), given `gamma[i] = Γ` at
    /// `timesteps[i]`; ready for [`Ddpm::with_variances`](crate::Ddpm::with_variances)
    /// (`η = 1`) or [`Ddim::with_variances`](crate::Ddim::with_variances) (the same `η` as the
    /// sampler). The last entry is 0.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field, or `timesteps` (not strictly descending or
    /// `≥ T`) or `gamma` (wrong length, not finite).
    pub fn variances(
        &self,
        schedule: &NoiseSchedule,
        timesteps: &[usize],
        gamma: &[f64],
    ) -> Result<Vec<f64>, ConfigError> {
        const C: &str = "AnalyticDpmConfig";
        self.validate()?;
        let t_max = schedule.num_timesteps();
        if timesteps.is_empty()
            || timesteps[0] >= t_max
            || timesteps.windows(2).any(|w| w[0] <= w[1])
        {
            return Err(ConfigError::new(
                C,
                "timesteps",
                format!(
                    "must be non-empty, strictly descending and < T = {t_max}, got {timesteps:?}"
                ),
            ));
        }
        if gamma.len() != timesteps.len() {
            return Err(ConfigError::new(
                C,
                "gamma",
                format!(
                    "needs one Γ per timestep ({}), got {}",
                    timesteps.len(),
                    gamma.len()
                ),
            ));
        }
        if let Some(i) = gamma.iter().position(|g| !g.is_finite()) {
            return Err(ConfigError::new(
                C,
                format!("gamma[{i}]"),
                format!("must be finite, got {}", gamma[i]),
            ));
        }
        let ab = schedule.alpha_bar();
        let half_range = (self.data_max - self.data_min) / 2.0;
        let max_cov = half_range * half_range;
        let n = timesteps.len();
        Ok((0..n)
            .map(|i| {
                let Some(&s) = timesteps.get(i + 1) else {
                    return 0.0;
                };
                let step = AnalyticStep::new(ab[timesteps[i]], ab[s], self.eta);
                let cov = (step.cov_scale * (1.0 - gamma[i])).clamp(0.0, max_cov);
                let var = step.lambda_sq + step.cov_coef * cov;
                match self.clip_pixels {
                    Some(y) if i + 2 == n => {
                        let bound = y * (self.data_max - self.data_min) / 255.0
                            * std::f64::consts::FRAC_PI_2.sqrt();
                        var.min(bound * bound)
                    }
                    _ => var,
                }
            })
            .collect())
    }
}
