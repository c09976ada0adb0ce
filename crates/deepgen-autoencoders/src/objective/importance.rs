//! Importance sampling for latent-variable models: log-weights, the IWAE bound,
//! and the importance-weighted estimate of log p(x) used to report test NLL.
//!
//! For a model with prior p(z), likelihood p(x|z) and proposal q(z|x), the
//! weights w_j = p(x|z_j) p(z_j) / q(z_j|x), z_j ~ q(·|x), give
//!
//! - the IWAE bound L_k = E[ln (1/k) Σ_j w_j] ≤ ln p(x) (Burda et al. 2016),
//!   which tightens as k grows (L_1 is the ELBO);
//! - the estimate ln p̂(x) = ln (1/k) Σ_j w_j, consistent as k → ∞ — the
//!   "test NLL" of the VAE literature is −ln p̂(x) with k = 5000 (seed article
//!   "变分自编码器(八):估计样本概率密度").
//!
//! Everything is computed as log-mean-exp of log-weights (never the weights
//! themselves); the estimator sums in f64 on the host over chunks of samples,
//! so k = 5000 costs memory of one chunk, not of all k samples.

use burn::tensor::Tensor;
use deepgen_tensor::HostRng;
use deepgen_tensor::numerics::{host, tensor};

/// A model that can produce importance log-weights ln p(x, z) − ln q(z|x).
pub trait ImportanceSampled {
    /// ln w for `k` proposals per row of `x` (`[B, D]`): `[B, k]`, differentiable
    /// (reparameterised) where the model's proposal is.
    fn log_weights(&self, x: Tensor<2>, k: usize, rng: &mut HostRng) -> Tensor<2>;
}

/// The IWAE bound per row, ln (1/k) Σ_j exp(ln w_j), from log-weights `[B, k]`: `[B]`.
pub fn iwae_bound(log_weights: Tensor<2>) -> Tensor<1> {
    tensor::log_mean_exp(log_weights, 1).squeeze_dim(1)
}

/// Settings of [`log_likelihood`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IwSettings {
    /// Importance samples per image (the literature's test NLL uses 5000).
    pub k: usize,
    /// Upper bound on rows × samples evaluated in one forward pass (memory ∝ this × D).
    pub max_rows_times_samples: usize,
}

impl Default for IwSettings {
    fn default() -> Self {
        Self {
            k: 5000,
            max_rows_times_samples: 50_000,
        }
    }
}

/// ln p̂(x) per row of `x` (`[B, D]`) with `settings.k` importance samples, in f64.
///
/// Samples are drawn in chunks of at most `max_rows_times_samples / B` per row;
/// the per-row log-weights are gathered on the host and combined with an f64
/// log-mean-exp. Run it on a model on a non-autodiff device (`model.valid()`).
///
/// # Panics
/// If `settings.k` is 0 or `x` has no rows.
pub fn log_likelihood<M: ImportanceSampled>(
    model: &M,
    x: Tensor<2>,
    settings: IwSettings,
    rng: &mut HostRng,
) -> Vec<f64> {
    let [b, _] = x.dims();
    assert!(settings.k > 0, "log_likelihood: `k` must be at least 1");
    assert!(b > 0, "log_likelihood: `x` has no rows");
    let chunk = (settings.max_rows_times_samples / b).clamp(1, settings.k);
    let mut per_row: Vec<Vec<f64>> = vec![Vec::with_capacity(settings.k); b];
    let mut done = 0;
    while done < settings.k {
        let kk = chunk.min(settings.k - done);
        let lw = model
            .log_weights(x.clone(), kk, rng)
            .into_data()
            .convert::<f64>()
            .try_to_vec::<f64>()
            .expect("log-weights convert to f64");
        for (r, row) in per_row.iter_mut().enumerate() {
            row.extend_from_slice(&lw[r * kk..(r + 1) * kk]);
        }
        done += kk;
    }
    per_row.iter().map(|w| host::log_mean_exp(w)).collect()
}

/// Mean and standard error of a per-image quantity.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MeanSe {
    /// Sample mean.
    pub mean: f64,
    /// Standard error of the mean, s/√n.
    pub se: f64,
}

impl MeanSe {
    /// Mean and standard error of `values` (SE is 0 for one value).
    pub fn of(values: &[f64]) -> Self {
        let n = values.len() as f64;
        let mean = values.iter().sum::<f64>() / n;
        let se = if values.len() > 1 {
            (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0) / n).sqrt()
        } else {
            0.0
        };
        Self { mean, se }
    }
}
