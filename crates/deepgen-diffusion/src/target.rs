//! What the network predicts, conversions among the three targets, and loss weighting.
//!
//! With `a = √ᾱ_t`, `s = √(1 − ᾱ_t)` and `x_t = a x_0 + s ε`:
//!
//! ```text
//! ε-prediction:  x_0 = (x_t − s ε) / a
//! x₀-prediction: ε   = (x_t − a x_0) / s
//! v-prediction:  v   = a ε − s x_0     (Salimans & Ho 2022),  x_0 = a x_t − s v,  ε = s x_t + a v
//! ```
//!
//! Min-SNR-γ weighting (Hang et al. 2023) caps the effective weight of the x₀-space loss at `γ`:
//! on the ε-loss it is `min(SNR, γ)/SNR`, on the x₀-loss `min(SNR, γ)`, on the v-loss
//! `min(SNR, γ)/(SNR + 1)` (since `‖ε̂ − ε‖² = SNR·‖x̂₀ − x₀‖²` and
//! `‖v̂ − v‖² = (SNR + 1)·‖x̂₀ − x₀‖²`).

use burn::config::Config;
use burn::tensor::{Int, Tensor};
use deepgen_tensor::config::positive_finite;
use deepgen_tensor::{ConfigError, Validate};

use crate::forward_process::check_batch;
use crate::schedule::{NoiseSchedule, ScheduleTerm, table_tensor};

/// What a diffusion model's output means.
#[derive(Config, Debug, PartialEq, Eq, Copy)]
pub enum Prediction {
    /// The noise `ε` (Ho et al. 2020).
    Epsilon,
    /// The clean sample `x_0`.
    Sample,
    /// The velocity `v = √ᾱ ε − √(1 − ᾱ) x_0` (Salimans & Ho 2022).
    VPrediction,
}

/// `√ᾱ` and `√(1 − ᾱ)`, either one value for the batch or one per sample.
enum Coef<const D: usize> {
    Scalar(f64),
    PerSample(Box<Tensor<D>>),
}

impl<const D: usize> Coef<D> {
    fn mul(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Scalar(c) => x.mul_scalar(*c),
            Self::PerSample(c) => x * (**c).clone(),
        }
    }

    fn div(&self, x: Tensor<D>) -> Tensor<D> {
        match self {
            Self::Scalar(c) => x.div_scalar(*c),
            Self::PerSample(c) => x / (**c).clone(),
        }
    }
}

fn coefs<const D: usize>(schedule: &NoiseSchedule, t: Tensor<1, Int>) -> (Coef<D>, Coef<D>) {
    (
        Coef::PerSample(Box::new(
            schedule.gather_as(ScheduleTerm::SqrtAlphaBar, t.clone()),
        )),
        Coef::PerSample(Box::new(
            schedule.gather_as(ScheduleTerm::SqrtOneMinusAlphaBar, t),
        )),
    )
}

impl Prediction {
    /// `(x̂_0, ε̂)` from an output, `x_t` and the coefficients.
    fn split_with<const D: usize>(
        self,
        output: Tensor<D>,
        x_t: Tensor<D>,
        a: &Coef<D>,
        s: &Coef<D>,
    ) -> (Tensor<D>, Tensor<D>) {
        match self {
            Self::Epsilon => (a.div(x_t - s.mul(output.clone())), output),
            Self::Sample => (output.clone(), s.div(x_t - a.mul(output))),
            Self::VPrediction => (
                a.mul(x_t.clone()) - s.mul(output.clone()),
                s.mul(x_t) + a.mul(output),
            ),
        }
    }

    /// `(x̂_0, ε̂)` for a batch at one timestep with `ᾱ = alpha_bar` (host f64): what the
    /// samplers use. At `ᾱ = 1` an ε- or v-output gives `x̂_0 = x_t`; an x₀-output cannot give
    /// `ε̂` there (it is `0/0`).
    ///
    /// # Shapes
    /// - output, x_t: `[B, …]`
    /// - output: `(x̂_0, ε̂)`, both `[B, …]`
    pub fn split<const D: usize>(
        self,
        output: Tensor<D>,
        x_t: Tensor<D>,
        alpha_bar: f64,
    ) -> (Tensor<D>, Tensor<D>) {
        let a = Coef::Scalar(alpha_bar.sqrt());
        let s = Coef::Scalar((1.0 - alpha_bar).sqrt());
        self.split_with(output, x_t, &a, &s)
    }

    /// `(x̂_0, ε̂)` for per-sample timesteps.
    ///
    /// # Shapes
    /// - output, x_t: `[B, …]`
    /// - t: `[B]`
    /// - output: `(x̂_0, ε̂)`, both `[B, …]`
    ///
    /// # Panics
    /// If `t` does not hold one timestep per sample.
    pub fn split_at<const D: usize>(
        self,
        schedule: &NoiseSchedule,
        output: Tensor<D>,
        x_t: Tensor<D>,
        t: Tensor<1, Int>,
    ) -> (Tensor<D>, Tensor<D>) {
        check_batch("Prediction::split_at", &x_t, &t);
        let (a, s) = coefs(schedule, t);
        self.split_with(output, x_t, &a, &s)
    }

    /// The clean sample `x̂_0` the output implies.
    ///
    /// # Shapes
    /// - output, x_t: `[B, …]`
    /// - t: `[B]`
    /// - output: `[B, …]`
    pub fn to_sample<const D: usize>(
        self,
        schedule: &NoiseSchedule,
        output: Tensor<D>,
        x_t: Tensor<D>,
        t: Tensor<1, Int>,
    ) -> Tensor<D> {
        self.split_at(schedule, output, x_t, t).0
    }

    /// The noise `ε̂` the output implies.
    ///
    /// # Shapes
    /// - output, x_t: `[B, …]`
    /// - t: `[B]`
    /// - output: `[B, …]`
    pub fn to_epsilon<const D: usize>(
        self,
        schedule: &NoiseSchedule,
        output: Tensor<D>,
        x_t: Tensor<D>,
        t: Tensor<1, Int>,
    ) -> Tensor<D> {
        self.split_at(schedule, output, x_t, t).1
    }

    /// The velocity `v̂ = √ᾱ ε̂ − √(1 − ᾱ) x̂_0` the output implies.
    ///
    /// # Shapes
    /// - output, x_t: `[B, …]`
    /// - t: `[B]`
    /// - output: `[B, …]`
    pub fn to_v<const D: usize>(
        self,
        schedule: &NoiseSchedule,
        output: Tensor<D>,
        x_t: Tensor<D>,
        t: Tensor<1, Int>,
    ) -> Tensor<D> {
        if self == Self::VPrediction {
            return output;
        }
        check_batch("Prediction::to_v", &x_t, &t);
        let (a, s) = coefs(schedule, t);
        let (x0, eps) = self.split_with(output, x_t, &a, &s);
        a.mul(eps) - s.mul(x0)
    }

    /// The training target: what the network should output for `x_t = add_noise(x0, noise, t)`
    /// (`noise`, `x0` or `v = √ᾱ_t noise − √(1 − ᾱ_t) x0`).
    ///
    /// # Shapes
    /// - x0, noise: `[B, …]`
    /// - t: `[B]`
    /// - output: `[B, …]`
    pub fn target<const D: usize>(
        self,
        schedule: &NoiseSchedule,
        x0: Tensor<D>,
        noise: Tensor<D>,
        t: Tensor<1, Int>,
    ) -> Tensor<D> {
        match self {
            Self::Epsilon => noise,
            Self::Sample => x0,
            Self::VPrediction => {
                check_batch("Prediction::target", &x0, &t);
                let (a, s) = coefs(schedule, t);
                a.mul(noise) - s.mul(x0)
            }
        }
    }
}

/// How the per-timestep losses are weighted.
#[derive(Config, Debug, PartialEq)]
pub enum LossWeighting {
    /// Weight 1 at every timestep (Ho et al.'s "simple" loss in the chosen target).
    Uniform,
    /// Min-SNR-γ (Hang et al. 2023): the x₀-space weight `min(SNR_t, γ)`, expressed for the
    /// chosen target (see the [module docs](self)). Hang et al. use `γ = 5`.
    MinSnr {
        /// `γ > 0`.
        gamma: f64,
    },
}

impl Validate for LossWeighting {
    fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Uniform => Ok(()),
            Self::MinSnr { gamma } => positive_finite("LossWeighting", "gamma", *gamma),
        }
    }
}

impl LossWeighting {
    /// The weight of a loss on `prediction`'s target at signal-to-noise ratio `snr`.
    pub fn weight(&self, snr: f64, prediction: Prediction) -> f64 {
        match *self {
            Self::Uniform => 1.0,
            Self::MinSnr { gamma } => {
                let capped = snr.min(gamma);
                match prediction {
                    Prediction::Epsilon => capped / snr,
                    Prediction::Sample => capped,
                    Prediction::VPrediction => capped / (snr + 1.0),
                }
            }
        }
    }

    /// The weight at every timestep of `schedule`, in f64.
    pub fn weights(&self, schedule: &NoiseSchedule, prediction: Prediction) -> Vec<f64> {
        schedule
            .snr()
            .iter()
            .map(|&snr| self.weight(snr, prediction))
            .collect()
    }

    /// The weight at each sample's timestep, f32 on `t`'s device.
    ///
    /// # Shapes
    /// - t: `[B]`
    /// - output: `[B]`
    pub fn gather(
        &self,
        schedule: &NoiseSchedule,
        prediction: Prediction,
        t: Tensor<1, Int>,
    ) -> Tensor<1> {
        let device = t.device();
        table_tensor(&self.weights(schedule, prediction), &device).select(0, t)
    }
}

/// The weighted denoising loss per sample: `w_t · mean((output − target)²)` over all axes but the
/// batch, with the target from [`Prediction::target`] and `w_t` from `weighting`.
///
/// # Shapes
/// - output, x0, noise: `[B, …]`
/// - t: `[B]`
/// - output: `[B]`
///
/// # Panics
/// If `t` does not hold one timestep per sample.
pub fn denoising_loss<const D: usize>(
    schedule: &NoiseSchedule,
    prediction: Prediction,
    weighting: &LossWeighting,
    output: Tensor<D>,
    x0: Tensor<D>,
    noise: Tensor<D>,
    t: Tensor<1, Int>,
) -> Tensor<1> {
    check_batch("denoising_loss", &x0, &t);
    let b = x0.dims()[0];
    let x0_elements = x0.shape().num_elements();
    let target = prediction.target(schedule, x0, noise, t.clone());
    let n = x0_elements / b.max(1);
    let per_sample: Tensor<2> = (output - target).square().reshape([b, n]);
    let mse = per_sample.mean_dim(1).reshape([b]);
    match weighting {
        LossWeighting::Uniform => mse,
        _ => mse * weighting.gather(schedule, prediction, t),
    }
}
