//! What a learned-covariance head predicts (Bao et al., ICML 2022, "Estimating the Optimal
//! Covariance with Imperfect Mean in Diffusion Probabilistic Models"): SN-DPM's second moment
//! of the noise or NPR-DPM's second moment of the noise-prediction residual, its training
//! target, and the residual moment the reverse variances need.
//!
//! # The optimal diagonal covariance with a given mean
//!
//! With the mean `μ(x_r) = μ̃(x_r, x̂_0)` of a DDIM-family step `r → s` (the notation of
//! [`crate::analytic_dpm`]: `λ²`, `c = √ᾱ_s − √((β̄_s − λ²) ᾱ_r/β̄_r)`), the diagonal Gaussian
//! `p(x_s | x_r)` closest to `q(x_s | x_r)` in KL has, per element, the variance
//!
//! ```text
//! σ²(x_r) = λ² + c² E[(x_0 − x̂_0)² | x_r] = λ² + c² β̄_r/ᾱ_r · E[(ε − ε̂)² | x_r]
//! ```
//!
//! since `x_0 − x̂_0 = −√(β̄_r/ᾱ_r) (ε − ε̂)` for the `x̂_0` implied by `ε̂`. The paper estimates
//! the residual moment `E[(ε − ε̂)² | x_r]` in two ways:
//!
//! - **SN-DPM** ([`CovarianceHead::SecondMoment`], "second moment"): a network
//!   `h ≈ E[ε² | x_r]` trained with `E‖h − ε²‖²`; with an exact mean `ε̂ = E[ε | x_r]` the
//!   residual moment is the conditional variance `h − ε̂²` (the authors' code,
//!   github.com/baofff/Extended-Analytic-DPM: `dt_dsdm` and `eps2_pred − eps_pred²` in
//!   `DTDPM._predict_cov_x0`). With an imperfect `ε̂` this misses the mean's error.
//! - **NPR-DPM** ([`CovarianceHead::ResidualMoment`], "noise prediction residual"): a network
//!   `h ≈ E[(ε − ε̂)² | x_r]` trained with `E‖h − (ε − ε̂)²‖²` on the *fixed* (detached)
//!   noise predictor `ε̂`; the residual moment is `h` itself (their `dt_dsdm_err` and
//!   `epsc_pred`), which stays right when `ε̂` is imperfect — the paper's correction of the
//!   optimal covariance for an imperfect mean.
//!
//! Both are clamped to `[0, ((max − min)/2)²]` after scaling by `β̄_r/ᾱ_r` (the data-range
//! bound of Analytic-DPM's Theorem 2, their `clip_cov_x0`); with a zero residual moment
//! (NPR's `h = 0`, SN's `h = ε̂²`) `σ² = λ²`, the DDIM family's own variance (DDPM's fixed
//! small `β̃` for `η = 1`, 0 for DDIM).

use burn::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Which moment a learned-covariance head predicts; see the [module docs](self).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum CovarianceHead {
    /// SN-DPM: `h ≈ E[ε² | x_t]`.
    SecondMoment,
    /// NPR-DPM: `h ≈ E[(ε − ε̂)² | x_t]` with `ε̂` the model's (fixed) noise prediction.
    ResidualMoment,
}

impl CovarianceHead {
    /// Both heads, SN first.
    pub const ALL: [CovarianceHead; 2] = [Self::SecondMoment, Self::ResidualMoment];

    /// The short name used in sampler and metric names: `"sn"` or `"npr"`.
    pub fn name(self) -> &'static str {
        match self {
            Self::SecondMoment => "sn",
            Self::ResidualMoment => "npr",
        }
    }

    /// The regression target of `h` per element: `ε²` (SN) or `(ε − ε̂)²` (NPR). `eps_hat` is
    /// detached here, so the target never carries gradients into the noise predictor.
    ///
    /// # Shapes
    /// - eps, eps_hat: `[B, …]`
    /// - output: `[B, …]`
    pub fn target<const D: usize>(self, eps: Tensor<D>, eps_hat: Tensor<D>) -> Tensor<D> {
        match self {
            Self::SecondMoment => eps.square(),
            Self::ResidualMoment => (eps - eps_hat.detach()).square(),
        }
    }

    /// The head's loss per image: the mean over the elements of `(h − target)²`.
    ///
    /// # Shapes
    /// - h, eps, eps_hat: `[B, …]`
    /// - output: `[B]`
    pub fn loss<const D: usize>(
        self,
        h: Tensor<D>,
        eps: Tensor<D>,
        eps_hat: Tensor<D>,
    ) -> Tensor<1> {
        let b = h.dims()[0];
        let err: Tensor<2> = (h - self.target(eps, eps_hat))
            .square()
            .reshape([b as i32, -1]);
        err.mean_dim(1).reshape([b])
    }

    /// The estimate of the residual moment `E[(ε − ε̂)² | x_t]` per element: `h − ε̂²` (SN) or
    /// `h` (NPR); not clamped.
    ///
    /// # Shapes
    /// - h, eps_hat: `[B, …]`
    /// - output: `[B, …]`
    pub fn residual_moment<const D: usize>(self, h: Tensor<D>, eps_hat: Tensor<D>) -> Tensor<D> {
        match self {
            Self::SecondMoment => h - eps_hat.square(),
            Self::ResidualMoment => h,
        }
    }

    /// [`residual_moment`](Self::residual_moment) of one element in f64.
    pub fn residual_moment_f64(self, h: f64, eps_hat: f64) -> f64 {
        match self {
            Self::SecondMoment => h - eps_hat * eps_hat,
            Self::ResidualMoment => h,
        }
    }
}
