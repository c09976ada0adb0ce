//! Noise schedules: the variances `β_t` of the forward process and every host table derived
//! from them, computed once in f64.
//!
//! # Indexing
//!
//! Timesteps are 0-based as in diffusers: index `t ∈ [0, T)` is step `t + 1` of Ho et al.
//! (2020), so `ᾱ_0 = 1 − β_0 < 1` is the first noisy level and "ᾱ before step 0" is 1.
//!
//! ```text
//! α_t = 1 − β_t          ᾱ_t = Π_{s ≤ t} α_s          ᾱ_prev(t) = ᾱ_{t−1} (1 at t = 0)
//! q(x_t | x_0) = N(√ᾱ_t x_0, (1 − ᾱ_t) I)              SNR_t = ᾱ_t / (1 − ᾱ_t)
//! β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)                  (posterior variance, 0 at t = 0)
//! μ̃_t = β_t √ᾱ_{t−1} / (1 − ᾱ_t) · x_0 + (1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t) · x_t
//! ```
//!
//! The clipped log posterior variance replaces `ln β̃_0 = −∞` by `ln β̃_1`, as Ho et al. and
//! improved-DDPM do. Tables live on the host in f64; [`NoiseSchedule::gather`] uploads one as
//! f32 and picks a value per sample.

use std::f64::consts::FRAC_PI_2;

use burn::config::Config;
use burn::tensor::{Device, Int, Tensor, TensorData};
use deepgen_tensor::config::{in_open_unit, non_negative, positive, positive_finite};
use deepgen_tensor::{ConfigError, Validate};

/// Ho et al.'s `β_1` for `T = 1000`.
pub const HO_BETA_START: f64 = 1e-4;
/// Ho et al.'s `β_T` for `T = 1000`.
pub const HO_BETA_END: f64 = 0.02;
/// Nichol & Dhariwal's offset `s` of the cosine schedule.
pub const COSINE_S: f64 = 0.008;
/// Nichol & Dhariwal's cap on `β_t` (the cosine schedule's last `β` would be 1).
pub const COSINE_MAX_BETA: f64 = 0.999;
/// The cap on `β_t` of the sigmoid schedule (lucidrains' `torch.clip(betas, 0, 0.999)`).
pub const SIGMOID_MAX_BETA: f64 = 0.999;

/// How `β_t` depends on `t`.
#[derive(Config, Debug, PartialEq)]
pub enum BetaSchedule {
    /// Ho et al. (2020): `β` linear from `beta_start·1000/T` to `beta_end·1000/T` (the values
    /// are given for `T = 1000` and scaled as improved-DDPM's `get_named_beta_schedule` does, so
    /// that any `T` gives the same process).
    Linear {
        /// `β` of the first step for `T = 1000` (Ho et al.: `1e-4`).
        beta_start: f64,
        /// `β` of the last step for `T = 1000` (Ho et al.: `0.02`).
        beta_end: f64,
    },
    /// Nichol & Dhariwal (2021): `ᾱ(t) = f(t)/f(0)`, `f(t) = cos²((t/T + s)/(1 + s)·π/2)`,
    /// `β_t = min(1 − ᾱ(t+1)/ᾱ(t), max_beta)` (diffusers' `betas_for_alpha_bar`), in f64.
    Cosine {
        /// The offset `s` (Nichol & Dhariwal: 0.008).
        s: f64,
        /// The cap on `β_t` (Nichol & Dhariwal: 0.999).
        max_beta: f64,
    },
    /// The sigmoid schedule of lucidrains' `denoising-diffusion-pytorch`
    /// (`sigmoid_beta_schedule`): `ᾱ(τ) ∝ σ(end/tau) − σ((τ(end − start) + start)/tau)` at
    /// `τ = t/T`, normalised to `ᾱ(0) = 1`, `β_t = clip(1 − ᾱ(t+1)/ᾱ(t), 0, 0.999)`.
    Sigmoid {
        /// The left end of the sigmoid's input range (lucidrains: −3).
        start: f64,
        /// The right end of the sigmoid's input range (lucidrains: 3).
        end: f64,
        /// The temperature (lucidrains: 1).
        tau: f64,
    },
}

impl BetaSchedule {
    /// Ho et al.'s linear schedule (`1e-4 → 0.02` at `T = 1000`).
    pub fn linear() -> Self {
        Self::Linear {
            beta_start: HO_BETA_START,
            beta_end: HO_BETA_END,
        }
    }

    /// Nichol & Dhariwal's cosine schedule (`s = 0.008`, `max_beta = 0.999`).
    pub fn cosine() -> Self {
        Self::Cosine {
            s: COSINE_S,
            max_beta: COSINE_MAX_BETA,
        }
    }

    /// lucidrains' sigmoid schedule (`start = −3`, `end = 3`, `tau = 1`).
    pub fn sigmoid() -> Self {
        Self::Sigmoid {
            start: -3.0,
            end: 3.0,
            tau: 1.0,
        }
    }

    /// `β_t` for `t = 0..num_timesteps`, in f64. Does not validate (see
    /// [`NoiseScheduleConfig::validate`]).
    pub fn betas(&self, num_timesteps: usize) -> Vec<f64> {
        let n = num_timesteps;
        let nf = n as f64;
        match *self {
            Self::Linear {
                beta_start,
                beta_end,
            } => {
                let scale = 1000.0 / nf;
                linspace(beta_start * scale, beta_end * scale, n)
            }
            Self::Cosine { s, max_beta } => {
                let f = |t: f64| {
                    let c = ((t + s) / (1.0 + s) * FRAC_PI_2).cos();
                    c * c
                };
                (0..n)
                    .map(|i| {
                        let t1 = i as f64 / nf;
                        let t2 = (i + 1) as f64 / nf;
                        (1.0 - f(t2) / f(t1)).min(max_beta)
                    })
                    .collect()
            }
            Self::Sigmoid { start, end, tau } => {
                let sigmoid = |x: f64| 1.0 / (1.0 + (-x).exp());
                let v_start = sigmoid(start / tau);
                let v_end = sigmoid(end / tau);
                let raw = |i: usize| {
                    let t = i as f64 / nf;
                    (v_end - sigmoid((t * (end - start) + start) / tau)) / (v_end - v_start)
                };
                let a0 = raw(0);
                let alpha_bar: Vec<f64> = (0..=n).map(|i| raw(i) / a0).collect();
                alpha_bar
                    .windows(2)
                    .map(|w| (1.0 - w[1] / w[0]).clamp(0.0, SIGMOID_MAX_BETA))
                    .collect()
            }
        }
    }

    fn validate_params(&self, num_timesteps: usize) -> Result<(), ConfigError> {
        const C: &str = "NoiseScheduleConfig";
        match *self {
            Self::Linear {
                beta_start,
                beta_end,
            } => {
                positive_finite(C, "schedule.beta_start", beta_start)?;
                positive_finite(C, "schedule.beta_end", beta_end)?;
                let scale = 1000.0 / num_timesteps as f64;
                for (field, beta) in [
                    ("schedule.beta_start", beta_start),
                    ("schedule.beta_end", beta_end),
                ] {
                    if beta * scale >= 1.0 {
                        return Err(ConfigError::new(
                            C,
                            field,
                            format!(
                                "scaled to T = {num_timesteps} it is {beta}·1000/{num_timesteps} = \
                                 {} ≥ 1; use more timesteps or a smaller β",
                                beta * scale
                            ),
                        ));
                    }
                }
                Ok(())
            }
            Self::Cosine { s, max_beta } => {
                non_negative(C, "schedule.s", s)?;
                in_open_unit(C, "schedule.max_beta", max_beta)
            }
            Self::Sigmoid { start, end, tau } => {
                if !start.is_finite() {
                    return Err(ConfigError::new(
                        C,
                        "schedule.start",
                        format!("must be finite, got {start}"),
                    ));
                }
                if !(end.is_finite() && end > start) {
                    return Err(ConfigError::new(
                        C,
                        "schedule.end",
                        format!("must be finite and > start = {start}, got {end}"),
                    ));
                }
                positive_finite(C, "schedule.tau", tau)
            }
        }
    }
}

/// `n` evenly spaced values from `start` to `stop` inclusive, as `numpy.linspace` computes them
/// (`start + i·step`, the last one exactly `stop`).
pub(crate) fn linspace(start: f64, stop: f64, n: usize) -> Vec<f64> {
    match n {
        0 => Vec::new(),
        1 => vec![start],
        _ => {
            let step = (stop - start) / (n - 1) as f64;
            let mut v: Vec<f64> = (0..n).map(|i| start + i as f64 * step).collect();
            v[n - 1] = stop;
            v
        }
    }
}

/// Configuration of a [`NoiseSchedule`].
#[derive(Config, Debug)]
pub struct NoiseScheduleConfig {
    /// How `β_t` depends on `t`.
    #[config(default = "BetaSchedule::Linear { beta_start: 1e-4, beta_end: 0.02 }")]
    pub schedule: BetaSchedule,
    /// `T`, the number of diffusion steps.
    #[config(default = 1000)]
    pub num_timesteps: usize,
}

impl Validate for NoiseScheduleConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        positive("NoiseScheduleConfig", "num_timesteps", self.num_timesteps)?;
        self.schedule.validate_params(self.num_timesteps)?;
        check_betas(&self.schedule.betas(self.num_timesteps))
            .map_err(|e| ConfigError::new("NoiseScheduleConfig", "schedule", e.reason))
    }
}

impl NoiseScheduleConfig {
    /// Validates the config, then computes every table.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field: `num_timesteps = 0`, a parameter out of range,
    /// or a schedule whose `β_t` leaves `(0, 1)` (e.g. a sigmoid so steep that `ᾱ` underflows).
    pub fn try_init(&self) -> Result<NoiseSchedule, ConfigError> {
        self.validate()?;
        NoiseSchedule::from_betas(self.schedule.betas(self.num_timesteps))
    }

    /// Computes every table.
    ///
    /// # Panics
    /// If the config is invalid (see [`NoiseScheduleConfig::try_init`]).
    pub fn init(&self) -> NoiseSchedule {
        self.try_init().unwrap_or_else(|e| panic!("{e}"))
    }
}

fn check_betas(betas: &[f64]) -> Result<(), ConfigError> {
    if betas.is_empty() {
        return Err(ConfigError::new(
            "NoiseSchedule",
            "betas",
            "must not be empty",
        ));
    }
    match betas.iter().position(|&b| !(b > 0.0 && b < 1.0)) {
        Some(t) => Err(ConfigError::new(
            "NoiseSchedule",
            format!("betas[{t}]"),
            format!("β_{t} = {} is not in (0, 1)", betas[t]),
        )),
        None => Ok(()),
    }
}

/// One table of a [`NoiseSchedule`], by name (see the [module docs](self) for the formulas).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScheduleTerm {
    /// `β_t`.
    Beta,
    /// `α_t = 1 − β_t`.
    Alpha,
    /// `ᾱ_t`.
    AlphaBar,
    /// `ᾱ_{t−1}`, 1 at `t = 0`.
    AlphaBarPrev,
    /// `√ᾱ_t`.
    SqrtAlphaBar,
    /// `√(1 − ᾱ_t)`.
    SqrtOneMinusAlphaBar,
    /// `ln(1 − ᾱ_t)`.
    LogOneMinusAlphaBar,
    /// `β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)` (0 at `t = 0`).
    PosteriorVariance,
    /// `ln β̃_t`, with `ln β̃_1` at `t = 0` (`ln β_0` when `T = 1`).
    PosteriorLogVarianceClipped,
    /// The coefficient of `x_0` in `μ̃_t`: `β_t √ᾱ_{t−1} / (1 − ᾱ_t)`.
    PosteriorMeanCoefX0,
    /// The coefficient of `x_t` in `μ̃_t`: `(1 − ᾱ_{t−1}) √α_t / (1 − ᾱ_t)`.
    PosteriorMeanCoefXt,
    /// `SNR_t = ᾱ_t / (1 − ᾱ_t)`.
    Snr,
}

/// A noise schedule: the host f64 tables of one `β` sequence; see the [module docs](self).
///
/// Built by [`NoiseScheduleConfig::try_init`] or [`NoiseSchedule::from_betas`]; immutable.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseSchedule {
    betas: Vec<f64>,
    alphas: Vec<f64>,
    alpha_bar: Vec<f64>,
    alpha_bar_prev: Vec<f64>,
    sqrt_alpha_bar: Vec<f64>,
    sqrt_one_minus_alpha_bar: Vec<f64>,
    log_one_minus_alpha_bar: Vec<f64>,
    posterior_variance: Vec<f64>,
    posterior_log_variance_clipped: Vec<f64>,
    posterior_mean_coef_x0: Vec<f64>,
    posterior_mean_coef_xt: Vec<f64>,
    snr: Vec<f64>,
}

impl NoiseSchedule {
    /// The schedule of any `β` sequence (`T = betas.len()`).
    ///
    /// # Errors
    /// A [`ConfigError`] on `NoiseSchedule.betas[t]` if some `β_t ∉ (0, 1)` (or the sequence is
    /// empty).
    pub fn from_betas(betas: Vec<f64>) -> Result<Self, ConfigError> {
        check_betas(&betas)?;
        let n = betas.len();
        let alphas: Vec<f64> = betas.iter().map(|b| 1.0 - b).collect();
        let alpha_bar: Vec<f64> = alphas
            .iter()
            .scan(1.0, |acc, a| {
                *acc *= a;
                Some(*acc)
            })
            .collect();
        let alpha_bar_prev: Vec<f64> = std::iter::once(1.0)
            .chain(alpha_bar[..n - 1].iter().copied())
            .collect();
        // 1 − ᾱ_t = −expm1(Σ ln(1 − β_s)): exact to rounding even where ᾱ_t ≈ 1 (t = 0 of a
        // long schedule), where `1 − ᾱ_t` would lose digits to cancellation.
        let one_minus: Vec<f64> = betas
            .iter()
            .scan(0.0, |acc, b| {
                *acc += (-b).ln_1p();
                Some(-acc.exp_m1())
            })
            .collect();
        let one_minus_prev: Vec<f64> = std::iter::once(0.0)
            .chain(one_minus[..n - 1].iter().copied())
            .collect();
        let posterior_variance: Vec<f64> = (0..n)
            .map(|t| betas[t] * one_minus_prev[t] / one_minus[t])
            .collect();
        let posterior_log_variance_clipped: Vec<f64> = (0..n)
            .map(|t| match (t, n) {
                (0, 1) => betas[0].ln(),
                (0, _) => posterior_variance[1].ln(),
                _ => posterior_variance[t].ln(),
            })
            .collect();
        Ok(Self {
            sqrt_alpha_bar: alpha_bar.iter().map(|a| a.sqrt()).collect(),
            sqrt_one_minus_alpha_bar: one_minus.iter().map(|a| a.sqrt()).collect(),
            log_one_minus_alpha_bar: one_minus.iter().map(|a| a.ln()).collect(),
            posterior_mean_coef_x0: (0..n)
                .map(|t| betas[t] * alpha_bar_prev[t].sqrt() / one_minus[t])
                .collect(),
            posterior_mean_coef_xt: (0..n)
                .map(|t| one_minus_prev[t] * alphas[t].sqrt() / one_minus[t])
                .collect(),
            snr: (0..n).map(|t| alpha_bar[t] / one_minus[t]).collect(),
            posterior_variance,
            posterior_log_variance_clipped,
            betas,
            alphas,
            alpha_bar,
            alpha_bar_prev,
        })
    }

    /// `T`, the number of timesteps.
    pub fn num_timesteps(&self) -> usize {
        self.betas.len()
    }

    /// The host table of `term`, `T` values in f64.
    pub fn values(&self, term: ScheduleTerm) -> &[f64] {
        match term {
            ScheduleTerm::Beta => &self.betas,
            ScheduleTerm::Alpha => &self.alphas,
            ScheduleTerm::AlphaBar => &self.alpha_bar,
            ScheduleTerm::AlphaBarPrev => &self.alpha_bar_prev,
            ScheduleTerm::SqrtAlphaBar => &self.sqrt_alpha_bar,
            ScheduleTerm::SqrtOneMinusAlphaBar => &self.sqrt_one_minus_alpha_bar,
            ScheduleTerm::LogOneMinusAlphaBar => &self.log_one_minus_alpha_bar,
            ScheduleTerm::PosteriorVariance => &self.posterior_variance,
            ScheduleTerm::PosteriorLogVarianceClipped => &self.posterior_log_variance_clipped,
            ScheduleTerm::PosteriorMeanCoefX0 => &self.posterior_mean_coef_x0,
            ScheduleTerm::PosteriorMeanCoefXt => &self.posterior_mean_coef_xt,
            ScheduleTerm::Snr => &self.snr,
        }
    }

    /// `β_t`.
    pub fn betas(&self) -> &[f64] {
        &self.betas
    }

    /// `ᾱ_t`.
    pub fn alpha_bar(&self) -> &[f64] {
        &self.alpha_bar
    }

    /// `SNR_t = ᾱ_t / (1 − ᾱ_t)`.
    pub fn snr(&self) -> &[f64] {
        &self.snr
    }

    /// The table of `term` as an f32 tensor on `device`.
    ///
    /// # Shapes
    /// - output: `[T]`
    pub fn table(&self, term: ScheduleTerm, device: &Device) -> Tensor<1> {
        table_tensor(self.values(term), device)
    }

    /// `term` at each sample's timestep, f32 on `t`'s device.
    ///
    /// Timesteps must lie in `[0, T)`; what an out-of-range index gives depends on the backend.
    ///
    /// # Shapes
    /// - t: `[B]`
    /// - output: `[B]`
    pub fn gather(&self, term: ScheduleTerm, t: Tensor<1, Int>) -> Tensor<1> {
        let device = t.device();
        self.table(term, &device).select(0, t)
    }

    /// [`NoiseSchedule::gather`] reshaped to broadcast against a batch of any rank `D`.
    ///
    /// # Shapes
    /// - t: `[B]`
    /// - output: `[B, 1, …, 1]` (rank `D`)
    pub fn gather_as<const D: usize>(&self, term: ScheduleTerm, t: Tensor<1, Int>) -> Tensor<D> {
        per_sample(self.gather(term, t))
    }
}

/// An f32 tensor `[n]` from f64 host values.
pub(crate) fn table_tensor(values: &[f64], device: &Device) -> Tensor<1> {
    let data: Vec<f32> = values.iter().map(|&v| v as f32).collect();
    let n = data.len();
    Tensor::from_data(TensorData::new(data, [n]), device)
}

/// `[B]` → `[B, 1, …, 1]` of rank `D`, to broadcast a per-sample coefficient.
///
/// # Shapes
/// - coef: `[B]`
/// - output: `[B, 1, …, 1]`
pub fn per_sample<const D: usize>(coef: Tensor<1>) -> Tensor<D> {
    let mut shape = [1usize; D];
    shape[0] = coef.dims()[0];
    coef.reshape(shape)
}
