//! Samplers of the reverse process: one [`Scheduler`] trait, diffusers-like, with the state
//! explicit.
//!
//! A scheduler is built once from a [`NoiseSchedule`] for a number of steps and a [`Spacing`];
//! [`Scheduler::timesteps`] lists the kept timesteps in descending order, and step `i` takes the
//! sample at level `timesteps()[i]` to level `timesteps()[i + 1]` (or to the clean data, `ᾱ = 1`,
//! after the last one). Every coefficient is computed once, on the host in f64; the tensors only
//! see scalars.
//!
//! `step` takes the noise it adds as an argument (`None` draws it from the device RNG), so a test
//! can fix every random number; the [`SamplerState`] carries what a multistep solver remembers
//! between steps (DDPM and DDIM keep nothing).
//!
//! - [`Ddpm`] (`ddpm`): ancestral sampling with `σ² = β̃_t` or `β_t` of the respaced process, or
//!   any per-step variances (Analytic-DPM).
//! - [`Ddim`] (`ddim`): Song et al. (2021), any `η ∈ [0, 1]`, plus the deterministic inversion.
//! - [`DpmSolver`] (`dpm_solver`): DPM-Solver++(2M) (Lu et al. 2022), data prediction.

mod ddim;
mod ddpm;
mod dpm_solver;
mod spacing;

pub use ddim::{Ddim, DdimConfig};
pub use ddpm::{Ddpm, DdpmConfig, DdpmVariance};
pub use dpm_solver::{DpmSolver, DpmSolverConfig};
pub use spacing::Spacing;

use burn::config::Config;
use burn::tensor::{Distribution, Tensor};
use deepgen_tensor::ConfigError;
use deepgen_tensor::config::positive_finite;

use crate::schedule::NoiseSchedule;
use crate::target::Prediction;

/// What happens to the predicted clean sample `x̂_0` before a step uses it.
#[derive(Config, Debug, PartialEq)]
pub enum SampleClipping {
    /// Nothing.
    Off,
    /// Clamp to `[−range, range]` (diffusers' `clip_sample` with `clip_sample_range`; images in
    /// `[−1, 1]` use `range = 1`).
    Clip {
        /// The half-width of the interval, > 0.
        range: f64,
    },
    /// Dynamic thresholding (Saharia et al. 2022, diffusers' `thresholding`): per sample,
    /// `s = clamp(quantile(|x̂_0|, ratio), 1, max_value)` and `x̂_0 ← clamp(x̂_0, −s, s)/s`.
    DynamicThreshold {
        /// The quantile of `|x̂_0|`, in `(0, 1]` (Imagen: 0.995).
        ratio: f64,
        /// The largest threshold `s`, ≥ 1.
        max_value: f64,
    },
}

impl SampleClipping {
    /// Checks the parameters; errors name `config.field.…`.
    pub(crate) fn check(&self, config: &'static str, field: &str) -> Result<(), ConfigError> {
        match *self {
            Self::Off => Ok(()),
            Self::Clip { range } => positive_finite(config, &format!("{field}.range"), range),
            Self::DynamicThreshold { ratio, max_value } => {
                if !(ratio > 0.0 && ratio <= 1.0) {
                    return Err(ConfigError::new(
                        config,
                        format!("{field}.ratio"),
                        format!("must be in (0, 1], got {ratio}"),
                    ));
                }
                if !(max_value.is_finite() && max_value >= 1.0) {
                    return Err(ConfigError::new(
                        config,
                        format!("{field}.max_value"),
                        format!("must be finite and ≥ 1, got {max_value}"),
                    ));
                }
                Ok(())
            }
        }
    }

    /// Applies the clipping to a batch of predictions.
    ///
    /// # Shapes
    /// - x0: `[B, …]`
    /// - output: `[B, …]`
    pub fn apply<const D: usize>(&self, x0: Tensor<D>) -> Tensor<D> {
        match *self {
            Self::Off => x0,
            Self::Clip { range } => x0.clamp(-range, range),
            Self::DynamicThreshold { ratio, max_value } => {
                let dims = x0.dims();
                let b = dims[0];
                let n = x0.shape().num_elements() / b.max(1);
                let flat: Tensor<2> = x0.reshape([b, n]);
                // torch.quantile's linear interpolation between order statistics.
                let sorted = flat.clone().abs().sort(1);
                let pos = ratio * (n - 1) as f64;
                let lo = pos.floor() as usize;
                let hi = (lo + 1).min(n - 1);
                let frac = pos - lo as f64;
                let v_lo = sorted.clone().narrow(1, lo, 1);
                let v_hi = sorted.narrow(1, hi, 1);
                let s = (v_lo.clone() + (v_hi - v_lo).mul_scalar(frac))
                    .clamp(1.0, max_value)
                    .expand([b, n]);
                let clipped = flat.max_pair(s.clone().neg()).min_pair(s.clone()) / s;
                clipped.reshape(dims)
            }
        }
    }
}

/// What one reverse step returns.
#[derive(Debug, Clone)]
pub struct StepOutput<const D: usize> {
    /// The sample at the next (lower) level, `[B, …]`.
    pub prev_sample: Tensor<D>,
    /// The model's clean-sample prediction `x̂_0` at this step, after clipping, `[B, …]`.
    pub pred_original_sample: Tensor<D>,
}

/// What a sampler remembers between steps of one trajectory. Start every trajectory with
/// [`SamplerState::new`]; DDPM and DDIM leave it empty.
#[derive(Debug, Clone)]
pub struct SamplerState<const D: usize> {
    /// The step index and the (clipped) `x̂_0` of the previous step, for multistep solvers.
    pub previous_x0: Option<(usize, Tensor<D>)>,
}

impl<const D: usize> SamplerState<D> {
    /// The state at the start of a trajectory.
    pub fn new() -> Self {
        Self { previous_x0: None }
    }
}

impl<const D: usize> Default for SamplerState<D> {
    fn default() -> Self {
        Self::new()
    }
}

/// A sampler of the reverse process; see the [module docs](self).
pub trait Scheduler {
    /// The kept timesteps, descending; step `i` evaluates the model at `timesteps()[i]`.
    fn timesteps(&self) -> &[usize];

    /// How model outputs are interpreted.
    fn prediction(&self) -> Prediction;

    /// Whether step `index` adds noise (so needs the `noise` argument of [`Scheduler::step`]).
    fn step_uses_noise(&self, index: usize) -> bool;

    /// One reverse step from level `timesteps()[index]`: `model_output` is the model evaluated at
    /// `(sample, timesteps()[index])`; `noise` (standard normal, like `sample`) is used when the
    /// step adds noise, and drawn from the device RNG if `None`.
    ///
    /// # Shapes
    /// - model_output, sample, noise: `[B, …]`
    /// - output: both fields `[B, …]`
    ///
    /// # Panics
    /// If `index ≥ timesteps().len()`.
    fn step<const D: usize>(
        &self,
        state: &mut SamplerState<D>,
        model_output: Tensor<D>,
        index: usize,
        sample: Tensor<D>,
        noise: Option<Tensor<D>>,
    ) -> StepOutput<D>;
}

/// Runs a whole trajectory from `x_t` (at level `timesteps()[0]`, usually pure noise) to the
/// clean level: `model(x, t)` is the network at one timestep for the whole batch, `noise(i)` the
/// noise of step `i` (`None`: device RNG).
///
/// # Shapes
/// - x_t: `[B, …]`
/// - output: `[B, …]`
pub fn run_sampler<S: Scheduler, const D: usize>(
    scheduler: &S,
    x_t: Tensor<D>,
    mut model: impl FnMut(Tensor<D>, usize) -> Tensor<D>,
    mut noise: impl FnMut(usize) -> Option<Tensor<D>>,
) -> Tensor<D> {
    let mut state = SamplerState::new();
    let mut x = x_t;
    for (i, &t) in scheduler.timesteps().iter().enumerate() {
        let out = model(x.clone(), t);
        let z = if scheduler.step_uses_noise(i) {
            noise(i)
        } else {
            None
        };
        x = scheduler.step(&mut state, out, i, x, z).prev_sample;
    }
    x
}

/// The noise of a step: the given one, or standard normal from the device RNG.
pub(crate) fn noise_or_random<const D: usize>(
    noise: Option<Tensor<D>>,
    like: &Tensor<D>,
) -> Tensor<D> {
    match noise {
        Some(z) => {
            assert_eq!(
                z.dims(),
                like.dims(),
                "step: the noise's shape differs from the sample's"
            );
            z
        }
        None => Tensor::random(like.shape(), Distribution::Normal(0.0, 1.0), &like.device()),
    }
}

/// `ᾱ` at level `t`, or the clean level's `final_alpha_bar` for `None`.
pub(crate) fn alpha_bar_at(
    schedule: &NoiseSchedule,
    t: Option<usize>,
    final_alpha_bar: f64,
) -> f64 {
    t.map_or(final_alpha_bar, |t| schedule.alpha_bar()[t])
}

/// The level after step `index`: `timesteps[index + 1]`, or `None` (clean) after the last.
pub(crate) fn next_level(timesteps: &[usize], index: usize) -> Option<usize> {
    assert!(
        index < timesteps.len(),
        "step index {index} out of range for {} steps",
        timesteps.len()
    );
    timesteps.get(index + 1).copied()
}
