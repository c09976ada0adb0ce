//! The variational bound (VLB) on the negative log-likelihood of 8-bit images in `[−1, 1]`, in
//! bits per dimension, for any trajectory of timesteps and any reverse variances (DDPM's fixed
//! small/large, Analytic-DPM's), exactly or by an unbiased Monte-Carlo estimate over timesteps.
//!
//! # The bound
//!
//! On a trajectory of `K` kept levels `τ_0 > τ_1 > … > τ_{K−1}` (descending, as the samplers'
//! [`timesteps`](crate::Scheduler::timesteps); the full chain is `T−1, …, 0`) with `ᾱ` of the
//! clean level 1, the model `p(x_{τ_{k+1}} | x_{τ_k}) = N(μ_θ, σ_k² I)` and the discretized
//! Gaussian decoder `p(x_0 | x_{τ_{K−1}})`:
//!
//! ```text
//! −ln p(x_0) ≤ L_prior + Σ_{k=0}^{K−2} L_k + L_dec
//! L_prior = KL(q(x_{τ_0} | x_0) ‖ N(0, I))
//! L_k     = KL(q(x_{τ_{k+1}} | x_{τ_k}, x_0) ‖ N(μ̃_k(x_{τ_k}, x̂_0), σ_k² I)),  x_{τ_k} ~ q(· | x_0)
//! L_dec   = −ln ∫_bin N(y; x̂_0(x_{τ_{K−1}}), σ_dec² I) dy,                x_{τ_{K−1}} ~ q(· | x_0)
//! ```
//!
//! `q(x_s | x_r, x_0)` is the posterior of the respaced process (improved-DDPM's
//! `space_timesteps`): with `β' = 1 − ᾱ_r/ᾱ_s`, mean `c₀ x_0 + c_t x_r`,
//! `c₀ = √ᾱ_s β'/(1 − ᾱ_r)`, `c_t = √(1 − β')(1 − ᾱ_s)/(1 − ᾱ_r)`, variance
//! `σ_q² = β'(1 − ᾱ_s)/(1 − ᾱ_r)`; the model mean replaces `x_0` by `x̂_0` (clipped to `[−1, 1]`
//! when `clip_x0`, as improved-DDPM's `calc_bpd_loop`). Both Gaussians are isotropic and the
//! means differ by `c₀ (x_0 − x̂_0)`, so with `d` dimensions
//!
//! ```text
//! L_k = ½ [d (ln σ_k² − ln σ_q² + σ_q²/σ_k² − 1) + c₀² ‖x_0 − x̂_0‖² / σ_k²]
//! ```
//!
//! — one network evaluation gives `‖x_0 − x̂_0‖²`, and every choice of variances is then host
//! arithmetic in f64. The decoder is improved-DDPM's `discretized_gaussian_log_likelihood`
//! (bins of width `2/255` centred on the 256 levels, the outer bins open to `±∞`), with the
//! exact normal CDF (`erf`) instead of their tanh approximation.
//!
//! # Estimators
//!
//! - [`VlbEstimator::Full`]: every `L_k` (`K` network evaluations per image: `K − 1` terms and
//!   the decoder).
//! - [`VlbEstimator::MonteCarlo`] with `n` draws: `L_prior + L_dec + (1/n) Σ_j L_{k_j}/p_{k_j}`,
//!   `k_j` drawn with replacement from the proposal `p` — unbiased for the full sum, `1 + n`
//!   evaluations per image. The decoder term (the largest) is always exact. Since
//!   `c₀²/σ_q² = SNR_s − SNR_r`, the mean part of `L_k` is `½ ΔSNR_k ‖x_0 − x̂_0‖²`, which for
//!   a good model (`‖x_0 − x̂_0‖² ∝ 1/SNR` at low noise) is roughly `∝ Δ ln SNR_k`; uniform
//!   draws would rarely hit the few low-noise steps that carry most of the sum. The proposal
//!   is therefore the even mixture `p_k = ½/(K−1) + ½ Δln SNR_k / Σ Δln SNR` (importance
//!   sampling by log-SNR, defensively mixed with uniform). The Monte-Carlo variance per image
//!   is estimated from the `n` draws (`n ≥ 2`), and the standard error of the mean over images
//!   is `√(Σ_i Var_i)/N`: the error of the estimate of *these images'* full sum, which is what
//!   comparing it with [`VlbEstimator::Full`] on the same images checks.
//!
//! # Random numbers
//!
//! All noise comes from the host `rng` passed in, in a documented order: per batch, for the
//! decoder the noise of every image (image-major, `d` values each); then, Monte Carlo: for each
//! draw `j`, the step of every image (one `uniform()` each, inverted through the proposal's
//! CDF) then its noise; full sum: for each step `k`
//! ascending, the noise of every image.

use burn::tensor::{Int, Tensor, TensorData};
use deepgen_tensor::{ConfigError, HostRng};

use crate::analytic_dpm::{AnalyticDpmConfig, AnalyticStep};
use crate::covariance_head::CovarianceHead;
use crate::model::timesteps_tensor;
use crate::schedule::{NoiseSchedule, ScheduleTerm};
use crate::scheduler::DdpmVariance;
use crate::target::Prediction;

/// Half the width of a quantisation bin of 8-bit data scaled to `[−1, 1]`: `1/255`.
pub const HALF_BIN: f64 = 1.0 / 255.0;

/// The smallest decoder variance of [`ReverseVariances::analytic`]: Analytic-DPM's decoder
/// variance `β̄/ᾱ (1 − Γ)` is 0 when the estimated `Γ ≥ 1`; the floor keeps the likelihood
/// finite (and very small where `x̂_0` misses the pixel's bin).
pub const MIN_DECODER_VARIANCE: f64 = 1e-10;

/// The discretized Gaussian log-likelihood of 8-bit data in `[−1, 1]` (improved-DDPM's
/// `discretized_gaussian_log_likelihood`, with the exact normal CDF): per element
/// `ln(Φ((x − μ + 1/255)/σ) − Φ((x − μ − 1/255)/σ))`, the lowest bin (`x < −0.999`)
/// `ln Φ((x − μ + 1/255)/σ)`, the highest (`x > 0.999`) `ln(1 − Φ((x − μ − 1/255)/σ))`, each
/// probability clamped below at `1e−12`; `σ = exp(log_scale)`.
///
/// # Shapes
/// - x, mean, log_scale: the same shape `[B, …]`
/// - output: `[B, …]` (nats per element)
pub fn discretized_gaussian_log_likelihood<const D: usize>(
    x: Tensor<D>,
    mean: Tensor<D>,
    log_scale: Tensor<D>,
) -> Tensor<D> {
    let inv_std = log_scale.neg().exp();
    let centered = x.clone() - mean;
    let cdf = |z: Tensor<D>| {
        z.div_scalar(std::f64::consts::SQRT_2)
            .erf()
            .add_scalar(1.0)
            .mul_scalar(0.5)
    };
    let cdf_plus = cdf(centered.clone().add_scalar(HALF_BIN) * inv_std.clone());
    let cdf_min = cdf(centered.sub_scalar(HALF_BIN) * inv_std);
    let log_cdf_plus = cdf_plus.clone().clamp_min(1e-12).log();
    let log_one_minus_cdf_min = cdf_min.clone().neg().add_scalar(1.0).clamp_min(1e-12).log();
    let log_delta = (cdf_plus - cdf_min).clamp_min(1e-12).log();
    log_delta
        .mask_where(x.clone().lower_elem(-0.999), log_cdf_plus)
        .mask_where(x.greater_elem(0.999), log_one_minus_cdf_min)
}

/// The KL divergence in nats between two isotropic Gaussians in `d` dimensions,
/// `KL(N(μ_q, σ_q² I) ‖ N(μ_p, σ_p² I))`, from `‖μ_q − μ_p‖²`.
pub fn isotropic_gaussian_kl(d: usize, mean_sq_dist: f64, var_q: f64, var_p: f64) -> f64 {
    0.5 * (d as f64 * (var_p.ln() - var_q.ln() + var_q / var_p - 1.0) + mean_sq_dist / var_p)
}

/// The respaced forward-posterior quantities of one step `r → s` (`alpha_bar_s = 1` for the
/// clean level): `(c₀, σ_q²)`, see the [module docs](self).
fn posterior_step(alpha_bar_r: f64, alpha_bar_s: f64) -> (f64, f64) {
    let beta = 1.0 - alpha_bar_r / alpha_bar_s;
    let (bb_r, bb_s) = (1.0 - alpha_bar_r, 1.0 - alpha_bar_s);
    (alpha_bar_s.sqrt() * beta / bb_r, beta * bb_s / bb_r)
}

/// One choice of reverse variances on a trajectory of `K` levels: `σ_k²` of the `K − 1`
/// Gaussian steps and the decoder's `σ_dec²`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReverseVariances {
    /// A short name for reports, e.g. `"ddpm_small"`.
    pub name: String,
    /// `σ_k²` of step `τ_k → τ_{k+1}`, `k = 0..K−1`.
    pub steps: Vec<f64>,
    /// `σ_dec²` of the discretized decoder at `τ_{K−1}`.
    pub decoder: f64,
}

fn check_trajectory(schedule: &NoiseSchedule, timesteps: &[usize]) -> Result<(), ConfigError> {
    let t_max = schedule.num_timesteps();
    if timesteps.is_empty() || timesteps[0] >= t_max || timesteps.windows(2).any(|w| w[0] <= w[1]) {
        return Err(ConfigError::new(
            "Vlb",
            "timesteps",
            format!("must be non-empty, strictly descending and < T = {t_max}, got {timesteps:?}"),
        ));
    }
    Ok(())
}

impl ReverseVariances {
    /// DDPM's fixed variances on the trajectory: `σ_k² = σ_q²` (fixed small, `β̃'`) or `β'`
    /// (fixed large) of the respaced process; the decoder takes `β̃'` of the last Gaussian step
    /// for both (improved-DDPM: `posterior_variance[1]` at `t = 0`), or `1 − ᾱ` of its level
    /// when the trajectory has a single level.
    ///
    /// # Errors
    /// A [`ConfigError`] on `Vlb.timesteps` if they are not strictly descending and `< T`.
    pub fn ddpm(
        schedule: &NoiseSchedule,
        timesteps: &[usize],
        variance: DdpmVariance,
    ) -> Result<Self, ConfigError> {
        check_trajectory(schedule, timesteps)?;
        let ab = schedule.alpha_bar();
        let steps: Vec<f64> = timesteps
            .windows(2)
            .map(|w| {
                let (_, var_q) = posterior_step(ab[w[0]], ab[w[1]]);
                match variance {
                    DdpmVariance::FixedSmall => var_q,
                    DdpmVariance::FixedLarge => 1.0 - ab[w[0]] / ab[w[1]],
                }
            })
            .collect();
        let decoder = match timesteps.windows(2).last() {
            Some(w) => posterior_step(ab[w[0]], ab[w[1]]).1,
            None => 1.0 - ab[timesteps[0]],
        };
        Ok(Self {
            name: match variance {
                DdpmVariance::FixedSmall => "ddpm_small".into(),
                DdpmVariance::FixedLarge => "ddpm_large".into(),
            },
            steps,
            decoder,
        })
    }

    /// Analytic-DPM's optimal variances (Bao et al. 2022, `η = 1`, no clipping of the last
    /// step, see [`AnalyticDpmConfig`]) from `gamma[k] = Γ` at `timesteps[k]`; the decoder's is
    /// the same formula onto the clean level, `β̄/ᾱ (1 − Γ)` at `τ_{K−1}`, clamped to
    /// `[MIN_DECODER_VARIANCE, 1]` (1 is Theorem 2's bound for data in `[−1, 1]`).
    ///
    /// # Errors
    /// As [`AnalyticDpmConfig::variances`].
    pub fn analytic(
        schedule: &NoiseSchedule,
        timesteps: &[usize],
        gamma: &[f64],
    ) -> Result<Self, ConfigError> {
        let config = AnalyticDpmConfig::new().with_clip_pixels(None);
        let mut steps = config.variances(schedule, timesteps, gamma)?;
        steps.pop();
        let last = timesteps.len() - 1;
        let step = AnalyticStep::new(schedule.alpha_bar()[timesteps[last]], 1.0, 1.0);
        let decoder = (step.cov_scale * (1.0 - gamma[last])).clamp(MIN_DECODER_VARIANCE, 1.0);
        Ok(Self {
            name: "analytic".into(),
            steps,
            decoder,
        })
    }
}

/// SN-DPM's or NPR-DPM's per-pixel variances on a trajectory ([`crate::learned_variance`] with
/// `η = 1` and no pixel clipping): step `k` has, per element,
/// `σ_k² = λ² + c² clamp(β̄/ᾱ · m, 0, 1)` with the residual moment `m` of the head's `h` and the
/// model's `ε̂` at `τ_k` ([`CovarianceHead::residual_moment_f64`]). The decoder's variance is
/// DDPM's fixed small one of the same trajectory (`β̃` of its last step;
/// [`ReverseVariances::ddpm`]), not a per-pixel moment: the authors' likelihood code fixes the
/// last step's variance the same way for every variance type (`_nelbo_dtdpm` in
/// github.com/baofff/Extended-Analytic-DPM, `core/diffusion/likelihood.py`: "fix the last step
/// variance", `tilde_beta(1, 2)`). The per-pixel moment there, `β̄/ᾱ · m` at `t ≈ 0`, falls to
/// ≈ 0 on pixels the model predicts well, and a pixel whose `x̂_0` still misses its bin then
/// costs up to the log-likelihood floor: on MNIST that decoder added 2–4 bits/dim
/// (docs/diffusion.md, "SN-DPM and NPR-DPM heads, measured").
#[derive(Debug, Clone, PartialEq)]
pub struct PixelVariances {
    /// A short name for reports: the head's name, `"sn"` or `"npr"`.
    pub name: String,
    /// Which head's output `h` is.
    pub head: CovarianceHead,
    steps: Vec<AnalyticStep>,
    decoder: f64,
}

impl PixelVariances {
    /// The variances of `head` on the trajectory `timesteps` (descending).
    ///
    /// # Errors
    /// A [`ConfigError`] on `Vlb.timesteps` if they are not strictly descending and `< T`.
    pub fn new(
        head: CovarianceHead,
        schedule: &NoiseSchedule,
        timesteps: &[usize],
    ) -> Result<Self, ConfigError> {
        let decoder =
            ReverseVariances::ddpm(schedule, timesteps, DdpmVariance::FixedSmall)?.decoder;
        let ab = schedule.alpha_bar();
        Ok(Self {
            name: head.name().into(),
            head,
            steps: timesteps
                .windows(2)
                .map(|w| AnalyticStep::new(ab[w[0]], ab[w[1]], 1.0))
                .collect(),
            decoder,
        })
    }

    /// `σ_k²` of one element from the model's `ε̂` and the head's `h` at `τ_k`.
    ///
    /// # Panics
    /// If `k ≥ K − 1`.
    pub fn step_variance(&self, k: usize, eps: f64, h: f64) -> f64 {
        let s = &self.steps[k];
        let m = self.head.residual_moment_f64(h, eps);
        s.lambda_sq + s.cov_coef * (s.cov_scale * m).clamp(0.0, 1.0)
    }

    /// `σ_dec²`, the same for every element: DDPM's fixed small decoder variance of this
    /// trajectory (see the type's docs).
    pub fn decoder_variance(&self) -> f64 {
        self.decoder
    }
}

/// The KL divergence in nats between two diagonal Gaussians with the isotropic `q`,
/// `KL(N(μ_q, σ_q² I) ‖ N(μ_p, diag σ_p²))`, from the per-element mean differences and `σ_p²`:
/// `½ Σ_i (ln σ_{p,i}² − ln σ_q² + σ_q²/σ_{p,i}² − 1 + Δμ_i²/σ_{p,i}²)`.
///
/// # Panics
/// If the slices differ in length.
pub fn diagonal_gaussian_kl(mean_diff: &[f64], var_q: f64, var_p: &[f64]) -> f64 {
    assert_eq!(
        mean_diff.len(),
        var_p.len(),
        "diagonal_gaussian_kl: lengths differ"
    );
    0.5 * mean_diff
        .iter()
        .zip(var_p)
        .map(|(dm, &vp)| vp.ln() - var_q.ln() + var_q / vp - 1.0 + dm * dm / vp)
        .sum::<f64>()
}

/// How the sum over steps is computed; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VlbEstimator {
    /// Every term.
    Full,
    /// `n ≥ 1` uniformly drawn steps per image (with replacement).
    MonteCarlo(usize),
}

/// The bound's terms for one image under one [`ReverseVariances`], in nats.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VlbTerms {
    /// `L_prior`.
    pub prior: f64,
    /// `L_dec`.
    pub decoder: f64,
    /// `Σ_k L_k`, exact or estimated.
    pub kl: f64,
    /// The Monte-Carlo variance of `kl` (`None` for the full sum, or one draw).
    pub kl_variance: Option<f64>,
}

impl VlbTerms {
    /// `L_prior + Σ L_k + L_dec`.
    pub fn total(&self) -> f64 {
        self.prior + self.kl + self.decoder
    }
}

/// The bound of a set of images in bits/dim.
#[derive(Debug, Clone, PartialEq)]
pub struct VlbSummary {
    /// The variances' name.
    pub name: String,
    /// The mean bound, bits/dim.
    pub bpd: f64,
    /// The Monte-Carlo standard error of `bpd` (see the [module docs](self)); 0 for the full
    /// sum, `None` with one draw per image.
    pub stderr: Option<f64>,
    /// The prior term's share, bits/dim.
    pub prior_bpd: f64,
    /// The decoder term's share, bits/dim.
    pub decoder_bpd: f64,
    /// The KL terms' share, bits/dim.
    pub kl_bpd: f64,
    /// Images averaged.
    pub images: usize,
}

impl VlbSummary {
    /// The mean over `terms` (one per image) in bits per dimension of `d`.
    ///
    /// # Panics
    /// If `terms` is empty.
    pub fn new(name: impl Into<String>, terms: &[VlbTerms], d: usize) -> Self {
        assert!(!terms.is_empty(), "VlbSummary: no images");
        let n = terms.len() as f64;
        let scale = 1.0 / (d as f64 * std::f64::consts::LN_2);
        let mean = |f: &dyn Fn(&VlbTerms) -> f64| terms.iter().map(f).sum::<f64>() / n * scale;
        let stderr = terms
            .iter()
            .map(|t| t.kl_variance)
            .sum::<Option<f64>>()
            .map(|sum| sum.sqrt() / n * scale);
        Self {
            name: name.into(),
            bpd: mean(&|t| t.total()),
            stderr,
            prior_bpd: mean(&|t| t.prior),
            decoder_bpd: mean(&|t| t.decoder),
            kl_bpd: mean(&|t| t.kl),
            images: terms.len(),
        }
    }
}

/// `n` standard normal values from `rng` as an f32 tensor of `shape`.
pub(crate) fn host_normal<const D: usize>(
    rng: &mut HostRng,
    shape: [usize; D],
    device: &burn::tensor::Device,
) -> Tensor<D> {
    let n: usize = shape.iter().product();
    let data: Vec<f32> = (0..n).map(|_| rng.normal() as f32).collect();
    Tensor::from_data(TensorData::new(data, shape), device)
}

/// Per-sample sum of squares over all axes but the batch, read back to the host.
fn per_sample_sq_sum<const D: usize>(x: Tensor<D>) -> Vec<f64> {
    let b = x.dims()[0];
    let n = x.shape().num_elements() / b.max(1);
    let s: Tensor<2> = x.square().reshape([b, n]).sum_dim(1);
    host_f64(s)
}

fn host_f64<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .try_to_vec_as::<f32>()
        .expect("f32 data")
        .into_iter()
        .map(f64::from)
        .collect()
}

/// The bound's terms for every image of `x0` and every entry of `variances`, as
/// `result[v][i]`; see the [module docs](self) for the bound, the estimators and the order of
/// the random numbers.
///
/// `model(x_t, t)` is the network's raw output (interpreted by `prediction`) at per-sample
/// timesteps; `x0` must hold 8-bit data scaled to `[−1, 1]` (`2k/255 − 1`).
///
/// # Shapes
/// - x0: `[B, …]`
/// - model: `([B, …], [B]) → [B, …]`
///
/// # Errors
/// A [`ConfigError`] on `Vlb.timesteps` (not strictly descending, `≥ T`), `Vlb.variances`
/// (not one `σ²` per step, not finite and > 0) or `Vlb.estimator` (`MonteCarlo(0)`).
#[allow(clippy::too_many_arguments)]
pub fn vlb_terms<const D: usize>(
    schedule: &NoiseSchedule,
    prediction: Prediction,
    timesteps: &[usize],
    variances: &[ReverseVariances],
    x0: Tensor<D>,
    mut model: impl FnMut(Tensor<D>, Tensor<1, Int>) -> Tensor<D>,
    estimator: VlbEstimator,
    clip_x0: bool,
    rng: &mut HostRng,
) -> Result<Vec<Vec<VlbTerms>>, ConfigError> {
    vlb_terms_with_pixel_variances(
        schedule,
        prediction,
        timesteps,
        variances,
        &[],
        x0,
        |x, t| (model(x, t), Vec::new()),
        estimator,
        clip_x0,
        rng,
    )
}

/// [`vlb_terms`] for scalar `variances` and per-pixel `pixel_variances` (SN-DPM's, NPR-DPM's)
/// at once, from the same network passes and random numbers (the same order as
/// [`vlb_terms`]): `result[v][i]` for the scalar entries first, then the per-pixel ones. The
/// per-pixel KL terms are the diagonal Gaussian KL ([`diagonal_gaussian_kl`]) and the decoder
/// takes its per-pixel `σ_dec²`; both computed in f64 on the host from the model's `ε̂` and
/// the heads' outputs read back per element.
///
/// `model(x_t, t)` returns the raw output and, in the order of `pixel_variances`, each entry's
/// head output `h` at `(x_t, t)`.
///
/// # Shapes
/// - x0: `[B, …]`
/// - model: `([B, …], [B]) → ([B, …], [[B, …]; pixel_variances.len()])`
///
/// # Errors
/// As [`vlb_terms`].
///
/// # Panics
/// If `model` does not return one head output per entry of `pixel_variances`, or
/// `pixel_variances` were built for another trajectory.
#[allow(clippy::too_many_arguments)]
pub fn vlb_terms_with_pixel_variances<const D: usize>(
    schedule: &NoiseSchedule,
    prediction: Prediction,
    timesteps: &[usize],
    variances: &[ReverseVariances],
    pixel_variances: &[PixelVariances],
    x0: Tensor<D>,
    mut model: impl FnMut(Tensor<D>, Tensor<1, Int>) -> (Tensor<D>, Vec<Tensor<D>>),
    estimator: VlbEstimator,
    clip_x0: bool,
    rng: &mut HostRng,
) -> Result<Vec<Vec<VlbTerms>>, ConfigError> {
    check_trajectory(schedule, timesteps)?;
    let k_steps = timesteps.len() - 1;
    for (vi, v) in variances.iter().enumerate() {
        if v.steps.len() != k_steps {
            return Err(ConfigError::new(
                "Vlb",
                format!("variances[{vi}].steps"),
                format!("needs one σ² per step ({k_steps}), got {}", v.steps.len()),
            ));
        }
        if let Some(bad) = v
            .steps
            .iter()
            .chain(std::iter::once(&v.decoder))
            .find(|s| !(s.is_finite() && **s > 0.0))
        {
            return Err(ConfigError::new(
                "Vlb",
                format!("variances[{vi}]"),
                format!("every σ² must be finite and > 0, got {bad}"),
            ));
        }
    }
    for (vi, v) in pixel_variances.iter().enumerate() {
        assert_eq!(
            v.steps.len(),
            k_steps,
            "vlb: pixel_variances[{vi}] belong to another trajectory"
        );
    }
    if estimator == VlbEstimator::MonteCarlo(0) {
        return Err(ConfigError::new(
            "Vlb",
            "estimator",
            "Monte Carlo needs at least 1 timestep per image, got 0",
        ));
    }
    let dims = x0.dims();
    let b = dims[0];
    let d = x0.shape().num_elements() / b.max(1);
    let device = x0.device();
    let ab = schedule.alpha_bar();
    let one_minus: Vec<f64> = schedule
        .values(ScheduleTerm::LogOneMinusAlphaBar)
        .iter()
        .map(|l| l.exp())
        .collect();
    let n_pixel = pixel_variances.len();
    let n_all = variances.len() + n_pixel;

    // x̂_0 at per-sample timesteps for one draw of noise; with per-pixel variances and
    // `per_pixel` also the host copies of ε̂ and of each head's output (the KL steps need them,
    // the decoder, whose variance is fixed, does not).
    struct Prediction0<const D: usize> {
        x0_hat: Tensor<D>,
        eps: Vec<f64>,
        heads: Vec<Vec<f64>>,
    }
    let mut predict = |t: &[usize], noise: Tensor<D>, per_pixel: bool| -> Prediction0<D> {
        let t = timesteps_tensor(t, &device);
        let x_t = schedule.add_noise(x0.clone(), noise, t.clone());
        let (out, heads) = model(x_t.clone(), t.clone());
        assert_eq!(
            heads.len(),
            n_pixel,
            "vlb: the model must return one head output per pixel variance"
        );
        let per_pixel = per_pixel && n_pixel > 0;
        let (x0_hat, eps) = if per_pixel {
            let (x0_hat, eps) = prediction.split_at(schedule, out, x_t, t);
            (x0_hat, host_f64(eps))
        } else {
            (prediction.to_sample(schedule, out, x_t, t), Vec::new())
        };
        let x0_hat = if clip_x0 {
            x0_hat.clamp(-1.0, 1.0)
        } else {
            x0_hat
        };
        Prediction0 {
            x0_hat,
            eps,
            heads: if per_pixel {
                heads.into_iter().map(host_f64).collect()
            } else {
                Vec::new()
            },
        }
    };

    // Prior term.
    let top = timesteps[0];
    let x0_sq = per_sample_sq_sum(x0.clone());
    let prior: Vec<f64> = x0_sq
        .iter()
        .map(|&s| 0.5 * (d as f64 * (-one_minus[top].ln() + one_minus[top] - 1.0) + ab[top] * s))
        .collect();

    // Decoder term, one per variance.
    let last = timesteps[k_steps];
    let noise = host_normal(rng, dims, &device);
    let p = predict(&vec![last; b], noise, false);
    let decoder_nll = |log_scale: Tensor<D>| {
        let ll = discretized_gaussian_log_likelihood(x0.clone(), p.x0_hat.clone(), log_scale);
        let nll: Tensor<2> = ll.reshape([b, d]).sum_dim(1).neg();
        host_f64(nll)
    };
    let mut decoder: Vec<Vec<f64>> = variances
        .iter()
        .map(|v| decoder_nll(p.x0_hat.zeros_like().add_scalar(0.5 * v.decoder.ln())))
        .collect();
    for v in pixel_variances {
        decoder.push(decoder_nll(
            p.x0_hat
                .zeros_like()
                .add_scalar(0.5 * v.decoder_variance().ln()),
        ));
    }

    // KL terms: per image, the sampled (or every) step's ‖x_0 − x̂_0‖² (and, for per-pixel
    // variances, x_0 − x̂_0, ε̂ and h per element).
    let steps: Vec<(f64, f64)> = timesteps
        .windows(2)
        .map(|w| posterior_step(ab[w[0]], ab[w[1]]))
        .collect();
    let kl_of = |v: &ReverseVariances, k: usize, sq: f64| {
        let (c0, var_q) = steps[k];
        isotropic_gaussian_kl(d, c0 * c0 * sq, var_q, v.steps[k])
    };
    // The Monte-Carlo proposal over steps and its CDF.
    let snr = schedule.snr();
    let dlog: Vec<f64> = timesteps
        .windows(2)
        .map(|w| (snr[w[1]].ln() - snr[w[0]].ln()).max(0.0))
        .collect();
    let dlog_sum: f64 = dlog.iter().sum();
    let proposal: Vec<f64> = dlog
        .iter()
        .map(|&x| {
            let uniform = 1.0 / k_steps as f64;
            if dlog_sum > 0.0 {
                0.5 * uniform + 0.5 * x / dlog_sum
            } else {
                uniform
            }
        })
        .collect();
    let cdf: Vec<f64> = proposal
        .iter()
        .scan(0.0, |acc, p| {
            *acc += p;
            Some(*acc)
        })
        .collect();
    let draw_step = |u: f64| {
        cdf.partition_point(|&c| c <= u * cdf[k_steps - 1])
            .min(k_steps - 1)
    };
    let mut kl_sum = vec![vec![0.0f64; b]; n_all];
    let mut kl_sq = vec![vec![0.0f64; b]; n_all];
    let draws = match estimator {
        VlbEstimator::Full => k_steps,
        VlbEstimator::MonteCarlo(n) => n,
    };
    if k_steps > 0 {
        for j in 0..draws {
            let ks: Vec<usize> = match estimator {
                VlbEstimator::Full => vec![j; b],
                VlbEstimator::MonteCarlo(_) => (0..b).map(|_| draw_step(rng.uniform())).collect(),
            };
            let t: Vec<usize> = ks.iter().map(|&k| timesteps[k]).collect();
            let noise = host_normal(rng, dims, &device);
            let p = predict(&t, noise, true);
            let diff = x0.clone() - p.x0_hat;
            let diff_host = if n_pixel > 0 {
                host_f64(diff.clone())
            } else {
                Vec::new()
            };
            let sq = per_sample_sq_sum(diff);
            let weight = |i: usize| match estimator {
                VlbEstimator::Full => 1.0,
                VlbEstimator::MonteCarlo(_) => 1.0 / proposal[ks[i]],
            };
            let mut add = |vi: usize, i: usize, l: f64| {
                let l = l * weight(i);
                kl_sum[vi][i] += l;
                kl_sq[vi][i] += l * l;
            };
            for (vi, v) in variances.iter().enumerate() {
                for i in 0..b {
                    add(vi, i, kl_of(v, ks[i], sq[i]));
                }
            }
            for (pj, v) in pixel_variances.iter().enumerate() {
                for i in 0..b {
                    let (c0, var_q) = steps[ks[i]];
                    let px = i * d..(i + 1) * d;
                    let mean_diff: Vec<f64> =
                        diff_host[px.clone()].iter().map(|x| c0 * x).collect();
                    let var_p: Vec<f64> = p.eps[px.clone()]
                        .iter()
                        .zip(&p.heads[pj][px])
                        .map(|(&e, &h)| v.step_variance(ks[i], e, h))
                        .collect();
                    add(
                        variances.len() + pj,
                        i,
                        diagonal_gaussian_kl(&mean_diff, var_q, &var_p),
                    );
                }
            }
        }
    }
    Ok((0..n_all)
        .map(|vi| {
            (0..b)
                .map(|i| {
                    let (kl, kl_variance) = match estimator {
                        VlbEstimator::Full => (kl_sum[vi][i], Some(0.0)),
                        VlbEstimator::MonteCarlo(_) if k_steps == 0 => (0.0, Some(0.0)),
                        VlbEstimator::MonteCarlo(n) => {
                            let nf = n as f64;
                            let mean = kl_sum[vi][i] / nf;
                            let var = (n >= 2).then(|| {
                                (kl_sq[vi][i] - nf * mean * mean).max(0.0) / (nf - 1.0) / nf
                            });
                            (mean, var)
                        }
                    };
                    VlbTerms {
                        prior: prior[i],
                        decoder: decoder[vi][i],
                        kl,
                        kl_variance,
                    }
                })
                .collect()
        })
        .collect())
}
