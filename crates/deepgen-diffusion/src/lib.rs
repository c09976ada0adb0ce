//! # deepgen-diffusion
//!
//! The math core of denoising diffusion models on Burn tensors, on every backend: schedules on
//! the host in f64, tensor math in f32 on the device.
//!
//! - [`schedule`]: [`BetaSchedule`] (linear, cosine, sigmoid) and [`NoiseSchedule`], the f64
//!   tables (`β`, `ᾱ`, posterior variance and mean coefficients, SNR, …) gathered per sample.
//! - [`forward_process`]: `add_noise`, the moments of `q(x_t | x_0)` and of the posterior
//!   `q(x_{t−1} | x_t, x_0)` on batches of any rank.
//! - [`target`]: [`Prediction`] (ε, x₀, v) with conversions among them, [`LossWeighting`]
//!   (uniform, min-SNR-γ) and [`denoising_loss`].
//! - [`scheduler`]: the [`Scheduler`] trait with explicit [`SamplerState`] and noise arguments,
//!   [`Spacing`] of the sampling timesteps, [`Ddpm`], [`Ddim`] (with inversion) and
//!   [`DpmSolver`] (DPM-Solver++(2M)), [`SampleClipping`] (clip, dynamic thresholding).
//! - [`analytic_dpm`]: Analytic-DPM's optimal reverse variances from `Γ_t` (pure f64).
//! - [`model`]: [`DiffusionModel`], deepgen-nn's U-Net with its schedule and prediction type,
//!   optionally class-conditional (with a null label).
//! - [`guidance`]: classifier-free guidance (Ho & Salimans 2022): label dropout for training,
//!   the guided prediction `(1 + w) ε(x, c) − w ε(x, ∅)` for every sampler.
//! - [`mlp_denoiser`]: [`MlpDenoiser`], an MLP with a sinusoidal time embedding for `[B, D]`
//!   data (the 2-D toy densities), with its schedule and prediction type.
//! - [`energy_distance`](mod@energy_distance): the energy distance between point sets (host
//!   f64), the toy task's sample-quality number.
//! - [`vlb`]: the variational bound in bits/dim (discretized Gaussian decoder, KL terms with
//!   DDPM's or Analytic-DPM's scalar variances or SN-/NPR-DPM's per-pixel ones, prior), exact
//!   or by Monte Carlo over timesteps.
//! - [`gamma`]: Analytic-DPM's `Γ_t` estimated with a trained model, cached in `gamma.json`.
//! - [`covariance_head`]: what SN-DPM's and NPR-DPM's heads predict (the second moment of the
//!   noise, or of the noise-prediction residual), their losses and the residual moment.
//! - [`learned_variance`]: SN-/NPR-DDPM and SN-/NPR-DDIM, samplers with per-pixel reverse
//!   variances from those heads (Bao et al., ICML 2022).
//! - [`tasks`]: DDPM on MNIST (unconditional or class-conditional with guidance) and on the
//!   2-D toy densities, for `deepgen-train`'s loop and the `ddpm_mnist` / `ddpm_2d` examples.
//!
//! Timesteps are 0-based (`t ∈ [0, T)`, diffusers' convention). Every config implements
//! [`Validate`](deepgen_tensor::Validate) and has `try_init` returning a
//! [`ConfigError`](deepgen_tensor::ConfigError) that names the field, and `init` (panicking with
//! that message).

pub mod analytic_dpm;
pub mod covariance_head;
pub mod energy_distance;
pub mod forward_process;
pub mod gamma;
pub mod guidance;
pub mod learned_variance;
pub mod mlp_denoiser;
pub mod model;
pub mod schedule;
pub mod scheduler;
pub mod target;
pub mod tasks;
pub mod vlb;

pub use analytic_dpm::{AnalyticDpmConfig, AnalyticStep};
pub use covariance_head::CovarianceHead;
pub use energy_distance::energy_distance;
pub use forward_process::GaussianMoments;
pub use gamma::{GammaCache, GammaKey, estimate_gamma};
pub use guidance::{drop_labels, guide};
pub use learned_variance::LearnedVarianceSampler;
pub use mlp_denoiser::{MlpDenoiser, MlpDenoiserConfig};
pub use model::{DiffusionModel, DiffusionModelConfig, MomentOutput};
pub use schedule::{BetaSchedule, NoiseSchedule, NoiseScheduleConfig, ScheduleTerm, per_sample};
pub use scheduler::{
    Ddim, DdimConfig, Ddpm, DdpmConfig, DdpmVariance, DpmSolver, DpmSolverConfig, SampleClipping,
    SamplerState, Scheduler, Spacing, StepOutput, run_sampler,
};
pub use target::{LossWeighting, Prediction, denoising_loss};
pub use vlb::{
    PixelVariances, ReverseVariances, VlbEstimator, VlbSummary, VlbTerms, vlb_terms,
    vlb_terms_with_pixel_variances,
};
