//! DPM-Solver++(2M) (Lu et al. 2022): a second-order multistep solver of the diffusion ODE in
//! data prediction, with `α_t = √ᾱ_t`, `σ_t = √(1 − ᾱ_t)`, `λ_t = ln α_t − ln σ_t`.
//!
//! From level `s` (model output → `x̂_0 = D_0`) to the next kept level `t`, with `h = λ_t − λ_s`:
//!
//! ```text
//! first order:   x_t = (σ_t/σ_s) x_s − α_t (e^{−h} − 1) D_0
//! second order:  x_t = (σ_t/σ_s) x_s − α_t (e^{−h} − 1) (D_0 + ½ D_1),
//!                D_1 = (D_0 − D_prev)/r,  r = (λ_s − λ_prev)/h
//! ```
//!
//! (diffusers' `DPMSolverMultistepScheduler` with `algorithm_type = "dpmsolver++"`,
//! `solver_order = 2`, `solver_type = "midpoint"`, `final_sigmas_type = "zero"`). The first step
//! has no previous `x̂_0` and is first order; the last step goes to `σ = 0` and is first order,
//! returning `x̂_0`. The previous `x̂_0` is kept in the [`SamplerState`].

use burn::config::Config;
use burn::tensor::Tensor;
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

use super::spacing::check_timesteps;
use super::{SampleClipping, SamplerState, Scheduler, Spacing, StepOutput, next_level};
use crate::schedule::NoiseSchedule;
use crate::target::Prediction;

/// Configuration of a [`DpmSolver`].
#[derive(Config, Debug)]
pub struct DpmSolverConfig {
    /// `n`, the number of solver steps (one model evaluation each; `≤ T`).
    pub num_inference_steps: usize,
    /// How the `n` timesteps are picked.
    #[config(default = "Spacing::Linspace")]
    pub spacing: Spacing,
    /// Added to every timestep of `Spacing::Leading` (diffusers' `steps_offset`).
    #[config(default = 0)]
    pub steps_offset: usize,
    /// How model outputs are interpreted.
    #[config(default = "Prediction::Epsilon")]
    pub prediction: Prediction,
    /// What happens to `x̂_0` before it is used (diffusers' `thresholding`).
    #[config(default = "SampleClipping::Off")]
    pub clipping: SampleClipping,
}

impl Validate for DpmSolverConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        positive(
            "DpmSolverConfig",
            "num_inference_steps",
            self.num_inference_steps,
        )?;
        self.clipping.check("DpmSolverConfig", "clipping")
    }
}

impl DpmSolverConfig {
    /// Validates the config against `schedule` and computes every step's coefficients.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the field (e.g. `num_inference_steps` > T).
    pub fn try_init(&self, schedule: &NoiseSchedule) -> Result<DpmSolver, ConfigError> {
        self.validate()?;
        let timesteps = self.spacing.checked_timesteps(
            "DpmSolverConfig",
            schedule.num_timesteps(),
            self.num_inference_steps,
            self.steps_offset,
        )?;
        Ok(self.build(schedule, timesteps))
    }

    /// [`DpmSolverConfig::try_init`] on explicit `timesteps` (strictly descending, `< T`)
    /// instead of `num_inference_steps`, `spacing` and `steps_offset`, which are ignored.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field, or `timesteps`.
    pub fn try_init_with_timesteps(
        &self,
        schedule: &NoiseSchedule,
        timesteps: &[usize],
    ) -> Result<DpmSolver, ConfigError> {
        self.validate()?;
        check_timesteps("DpmSolverConfig", schedule.num_timesteps(), timesteps)?;
        Ok(self.build(schedule, timesteps.to_vec()))
    }

    fn build(&self, schedule: &NoiseSchedule, timesteps: Vec<usize>) -> DpmSolver {
        let level = |t: usize| {
            let ab = schedule.alpha_bar()[t];
            let (alpha, sigma) = (ab.sqrt(), (1.0 - ab).sqrt());
            (alpha, sigma, alpha.ln() - sigma.ln())
        };
        let steps = (0..timesteps.len())
            .map(|i| {
                let (_, sigma_s, lambda_s) = level(timesteps[i]);
                let (to, second) = match next_level(&timesteps, i) {
                    None => (None, None),
                    Some(t) => {
                        let (alpha_t, sigma_t, lambda_t) = level(t);
                        let h = lambda_t - lambda_s;
                        let c_x0 = -alpha_t * (-h).exp_m1();
                        let second = (i > 0).then(|| {
                            let (_, _, lambda_p) = level(timesteps[i - 1]);
                            (lambda_s - lambda_p) / h
                        });
                        (Some((sigma_t / sigma_s, c_x0)), second)
                    }
                };
                DpmStep {
                    alpha_bar: schedule.alpha_bar()[timesteps[i]],
                    to,
                    r: second,
                }
            })
            .collect();
        DpmSolver {
            timesteps,
            steps,
            prediction: self.prediction,
            clipping: self.clipping.clone(),
        }
    }

    /// Builds the solver.
    ///
    /// # Panics
    /// If the config is invalid (see [`DpmSolverConfig::try_init`]).
    pub fn init(&self, schedule: &NoiseSchedule) -> DpmSolver {
        self.try_init(schedule).unwrap_or_else(|e| panic!("{e}"))
    }
}

#[derive(Debug, Clone, PartialEq)]
struct DpmStep {
    alpha_bar: f64,
    /// `(σ_t/σ_s, −α_t(e^{−h} − 1))`, `None` for the last step (to `σ = 0`).
    to: Option<(f64, f64)>,
    /// `r = (λ_s − λ_prev)/h` when there is a previous step.
    r: Option<f64>,
}

/// The DPM-Solver++(2M) sampler; see the [module docs](self).
#[derive(Debug, Clone, PartialEq)]
pub struct DpmSolver {
    timesteps: Vec<usize>,
    steps: Vec<DpmStep>,
    prediction: Prediction,
    clipping: SampleClipping,
}

impl Scheduler for DpmSolver {
    fn timesteps(&self) -> &[usize] {
        &self.timesteps
    }

    fn prediction(&self) -> Prediction {
        self.prediction
    }

    fn step_uses_noise(&self, _index: usize) -> bool {
        false
    }

    /// Deterministic (`noise` is ignored). Step `index` is second order when `state` holds the
    /// `x̂_0` of step `index − 1` (as [`run_sampler`](super::run_sampler) arranges), first order
    /// otherwise; the state then holds this step's `x̂_0`.
    fn step<const D: usize>(
        &self,
        state: &mut SamplerState<D>,
        model_output: Tensor<D>,
        index: usize,
        sample: Tensor<D>,
        _noise: Option<Tensor<D>>,
    ) -> StepOutput<D> {
        next_level(&self.timesteps, index);
        let s = &self.steps[index];
        let (x0, _) = self
            .prediction
            .split(model_output, sample.clone(), s.alpha_bar);
        let x0 = self.clipping.apply(x0);
        let previous = match state.previous_x0.take() {
            Some((i, m1)) if i + 1 == index => Some(m1),
            _ => None,
        };
        let prev_sample = match s.to {
            None => x0.clone(),
            Some((ratio, c_x0)) => {
                let d = match (previous, s.r) {
                    (Some(m1), Some(r)) => {
                        // D_0 + ½ D_1 = D_0 + (D_0 − D_prev)/(2r)
                        x0.clone().mul_scalar(1.0 + 0.5 / r) - m1.mul_scalar(0.5 / r)
                    }
                    _ => x0.clone(),
                };
                sample.mul_scalar(ratio) + d.mul_scalar(c_x0)
            }
        };
        state.previous_x0 = Some((index, x0.clone()));
        StepOutput {
            prev_sample,
            pred_original_sample: x0,
        }
    }
}
