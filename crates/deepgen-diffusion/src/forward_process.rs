//! The forward (noising) process and its posterior, on batches of any rank.
//!
//! ```text
//! q(x_t | x_0)           = N(√ᾱ_t x_0, (1 − ᾱ_t) I)                     add_noise, q_sample_moments
//! q(x_{t−1} | x_t, x_0)  = N(μ̃_t(x_t, x_0), β̃_t I)                      q_posterior
//! ```
//!
//! Every function takes a per-sample timestep `t: Tensor<1, Int>` (`[B]`, values in `[0, T)`)
//! and broadcasts the schedule's coefficient over the other axes of `x_0`.

use burn::tensor::{Int, Tensor};

use crate::schedule::{NoiseSchedule, ScheduleTerm};

/// A diagonal Gaussian with one variance per sample: the moments the forward process gives.
#[derive(Debug, Clone)]
pub struct GaussianMoments<const D: usize> {
    /// The mean, shaped like the data `[B, …]`.
    pub mean: Tensor<D>,
    /// The variance per sample, `[B, 1, …, 1]` (broadcasts against the mean).
    pub variance: Tensor<D>,
    /// Its natural log, `[B, 1, …, 1]`.
    pub log_variance: Tensor<D>,
}

pub(crate) fn check_batch<const D: usize>(what: &str, x: &Tensor<D>, t: &Tensor<1, Int>) {
    let b = x.dims()[0];
    let bt = t.dims()[0];
    assert_eq!(
        b, bt,
        "{what}: the batch has {b} samples but t has {bt} timesteps"
    );
}

impl NoiseSchedule {
    /// `x_t = √ᾱ_t x_0 + √(1 − ᾱ_t) ε`, a sample of `q(x_t | x_0)` for given noise.
    ///
    /// # Shapes
    /// - x0, noise: `[B, …]`
    /// - t: `[B]`
    /// - output: `[B, …]`
    ///
    /// # Panics
    /// If `t` does not hold one timestep per sample.
    pub fn add_noise<const D: usize>(
        &self,
        x0: Tensor<D>,
        noise: Tensor<D>,
        t: Tensor<1, Int>,
    ) -> Tensor<D> {
        check_batch("add_noise", &x0, &t);
        let a = self.gather_as::<D>(ScheduleTerm::SqrtAlphaBar, t.clone());
        let s = self.gather_as::<D>(ScheduleTerm::SqrtOneMinusAlphaBar, t);
        x0 * a + noise * s
    }

    /// The moments of `q(x_t | x_0)`: mean `√ᾱ_t x_0`, variance `1 − ᾱ_t`.
    ///
    /// # Shapes
    /// - x0: `[B, …]`
    /// - t: `[B]`
    /// - output: mean `[B, …]`, variance and log-variance `[B, 1, …, 1]`
    ///
    /// # Panics
    /// If `t` does not hold one timestep per sample.
    pub fn q_sample_moments<const D: usize>(
        &self,
        x0: Tensor<D>,
        t: Tensor<1, Int>,
    ) -> GaussianMoments<D> {
        check_batch("q_sample_moments", &x0, &t);
        let a = self.gather_as::<D>(ScheduleTerm::SqrtAlphaBar, t.clone());
        let s = self.gather_as::<D>(ScheduleTerm::SqrtOneMinusAlphaBar, t.clone());
        GaussianMoments {
            mean: x0 * a,
            variance: s.square(),
            log_variance: self.gather_as::<D>(ScheduleTerm::LogOneMinusAlphaBar, t),
        }
    }

    /// The moments of the posterior `q(x_{t−1} | x_t, x_0)`: mean
    /// `μ̃_t = c₀ x_0 + c_t x_t`, variance `β̃_t` and the clipped log-variance (at `t = 0`, where
    /// `β̃_0 = 0`, it is `ln β̃_1` as in Ho et al.).
    ///
    /// # Shapes
    /// - x0, xt: `[B, …]`
    /// - t: `[B]`
    /// - output: mean `[B, …]`, variance and log-variance `[B, 1, …, 1]`
    ///
    /// # Panics
    /// If the shapes of `x0` and `xt` differ or `t` does not hold one timestep per sample.
    pub fn q_posterior<const D: usize>(
        &self,
        x0: Tensor<D>,
        xt: Tensor<D>,
        t: Tensor<1, Int>,
    ) -> GaussianMoments<D> {
        assert_eq!(
            x0.dims(),
            xt.dims(),
            "q_posterior: x0 and xt have different shapes"
        );
        check_batch("q_posterior", &x0, &t);
        let c0 = self.gather_as::<D>(ScheduleTerm::PosteriorMeanCoefX0, t.clone());
        let ct = self.gather_as::<D>(ScheduleTerm::PosteriorMeanCoefXt, t.clone());
        GaussianMoments {
            mean: x0 * c0 + xt * ct,
            variance: self.gather_as::<D>(ScheduleTerm::PosteriorVariance, t.clone()),
            log_variance: self.gather_as::<D>(ScheduleTerm::PosteriorLogVarianceClipped, t),
        }
    }
}
