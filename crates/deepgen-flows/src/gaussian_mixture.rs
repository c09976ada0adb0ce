//! A full-covariance Gaussian mixture on the host in f64, fitted by EM: the ex-post density of
//! an autoencoder's codes (Ghosh et al. 2020, "From Variational to Deterministic Autoencoders":
//! a 10-component mixture fitted to the training codes after training; Dai & Wipf 2019 make
//! the same point with a second-stage VAE). The f-VAE's `fvae_mnist` uses it to draw codes
//! where the encoder actually put its posteriors instead of from `N(0, I)`.
//!
//! ```text
//! p(z) = Σ_j w_j N(z; μ_j, Σ_j)
//! E-step: r_ij = w_j N(z_i; μ_j, Σ_j) / p(z_i)                     (in log space)
//! M-step: w_j = N_j / N,  μ_j = Σ_i r_ij z_i / N_j,
//!         Σ_j = Σ_i r_ij (z_i − μ_j)(z_i − μ_j)ᵀ / N_j + reg·I,    N_j = Σ_i r_ij
//! ```
//!
//! Initialisation: k-means++ centres (Arthur & Vassilvitskii 2007) from the seeded host RNG,
//! hard assignments to the nearest centre, then EM until the mean log-likelihood improves by
//! less than `tol` (scikit-learn's `GaussianMixture` defaults: `reg_covar = 1e-6`, `tol = 1e-3`,
//! k-means-based init). A component whose weight collapses is re-seeded at the point the
//! mixture explains worst.
//!
//! Written by hand: no well-kept Rust crate fits full-covariance mixtures (linfa-clustering's
//! GMM pulls in ndarray-linalg and a LAPACK build), and `d` here is a latent size (tens), so
//! plain f64 loops with this crate's [`cholesky`](crate::linalg::cholesky) are exact and fast.

use deepgen_tensor::{ConfigError, HostRng, Validate};
use serde::Serialize;

use crate::linalg::cholesky;

const LN_2PI: f64 = 1.837_877_066_409_345_5;

/// Settings of [`GaussianMixture::fit`].
#[derive(Debug, Clone, PartialEq)]
pub struct GaussianMixtureFit {
    /// Number of components `k` (≥ 1).
    pub components: usize,
    /// Added to every covariance's diagonal (keeps it positive definite).
    pub reg_covar: f64,
    /// Stop when the mean log-likelihood per point improves by less than this.
    pub tol: f64,
    /// At most this many EM iterations.
    pub max_iter: usize,
}

impl GaussianMixtureFit {
    /// `k` components with scikit-learn's defaults (`reg_covar` 1e-6, `tol` 1e-3, 100 iterations).
    pub fn new(components: usize) -> Self {
        Self {
            components,
            reg_covar: 1e-6,
            tol: 1e-3,
            max_iter: 100,
        }
    }
}

impl Validate for GaussianMixtureFit {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "GaussianMixtureFit";
        if self.components == 0 {
            return Err(ConfigError::new(C, "components", "must be at least 1"));
        }
        if !(self.reg_covar.is_finite() && self.reg_covar >= 0.0) {
            return Err(ConfigError::new(
                C,
                "reg_covar",
                format!("must be finite and ≥ 0, got {}", self.reg_covar),
            ));
        }
        if !(self.tol.is_finite() && self.tol >= 0.0) {
            return Err(ConfigError::new(
                C,
                "tol",
                format!("must be finite and ≥ 0, got {}", self.tol),
            ));
        }
        if self.max_iter == 0 {
            return Err(ConfigError::new(C, "max_iter", "must be at least 1"));
        }
        Ok(())
    }
}

/// A fitted mixture `Σ_j w_j N(μ_j, Σ_j)` in `d` dimensions (serialises to JSON as weights,
/// means, covariances).
#[derive(Debug, Clone, Serialize)]
pub struct GaussianMixture {
    /// Dimension `d`.
    pub dim: usize,
    /// Mixture weights `w_j`, summing to 1.
    pub weights: Vec<f64>,
    /// Means `μ_j`, each of length `d`.
    pub means: Vec<Vec<f64>>,
    /// Covariances `Σ_j`, each row-major `d × d`.
    pub covariances: Vec<Vec<f64>>,
    /// Mean log-likelihood per point of the data it was fitted to.
    pub mean_log_likelihood: f64,
    /// EM iterations run.
    pub iterations: usize,
    /// Whether EM stopped because the improvement fell below `tol` (not at `max_iter`).
    pub converged: bool,
    #[serde(skip)]
    chol: Vec<Vec<f64>>,
}

impl GaussianMixture {
    /// Fits the mixture to the `n` rows of the row-major `[n, d]` `data` by EM.
    ///
    /// # Errors
    /// A [`ConfigError`] when the settings are invalid, `data` is not `n·d` finite values,
    /// or there are fewer points than components.
    pub fn fit(
        data: &[f64],
        n: usize,
        d: usize,
        settings: &GaussianMixtureFit,
        rng: &mut HostRng,
    ) -> Result<Self, ConfigError> {
        const C: &str = "GaussianMixture::fit";
        settings.validate()?;
        let k = settings.components;
        if d == 0 || data.len() != n * d {
            return Err(ConfigError::new(
                C,
                "data",
                format!("expected {n}·{d} values, got {}", data.len()),
            ));
        }
        if n < k {
            return Err(ConfigError::new(
                C,
                "data",
                format!("{n} points cannot fit {k} components"),
            ));
        }
        if data.iter().any(|v| !v.is_finite()) {
            return Err(ConfigError::new(C, "data", "contains NaN or ±∞"));
        }
        let row = |i: usize| &data[i * d..(i + 1) * d];

        // k-means++ centres, then hard assignments as the first responsibilities.
        let centres = kmeans_pp(data, n, d, k, rng);
        let mut resp = vec![0.0f64; n * k];
        for i in 0..n {
            let j = (0..k)
                .min_by(|&a, &b| {
                    sq_dist(row(i), &centres[a]).total_cmp(&sq_dist(row(i), &centres[b]))
                })
                .expect("k ≥ 1");
            resp[i * k + j] = 1.0;
        }
        let mut gm = Self {
            dim: d,
            weights: vec![1.0 / k as f64; k],
            means: vec![vec![0.0; d]; k],
            covariances: vec![vec![0.0; d * d]; k],
            mean_log_likelihood: f64::NEG_INFINITY,
            iterations: 0,
            converged: false,
            chol: Vec::new(),
        };
        let mut log_p = vec![0.0f64; n];
        gm.m_step(data, n, &resp, settings.reg_covar, &log_p);
        let mut previous = f64::NEG_INFINITY;
        for iter in 1..=settings.max_iter {
            let ll = gm.e_step(data, n, &mut resp, &mut log_p);
            gm.iterations = iter;
            gm.mean_log_likelihood = ll;
            if (ll - previous).abs() < settings.tol {
                gm.converged = true;
                break;
            }
            previous = ll;
            gm.m_step(data, n, &resp, settings.reg_covar, &log_p);
        }
        if !gm.converged {
            // Stopped at max_iter after an M-step: report the final parameters' likelihood.
            gm.mean_log_likelihood = gm.e_step(data, n, &mut resp, &mut log_p);
        }
        Ok(gm)
    }

    /// Builds a mixture from its parameters (weights normalised here).
    ///
    /// # Errors
    /// A [`ConfigError`] when the shapes disagree, a weight is negative or all are zero, or a
    /// covariance is not positive definite.
    pub fn new(
        weights: Vec<f64>,
        means: Vec<Vec<f64>>,
        covariances: Vec<Vec<f64>>,
    ) -> Result<Self, ConfigError> {
        const C: &str = "GaussianMixture::new";
        let k = weights.len();
        let d = means.first().map_or(0, Vec::len);
        if k == 0 || d == 0 || means.len() != k || covariances.len() != k {
            return Err(ConfigError::new(
                C,
                "weights",
                "need k ≥ 1 weights, means and covariances",
            ));
        }
        let total: f64 = weights.iter().sum();
        if weights.iter().any(|w| !(w.is_finite() && *w >= 0.0)) || total <= 0.0 {
            return Err(ConfigError::new(
                C,
                "weights",
                "must be finite, ≥ 0 and not all zero",
            ));
        }
        let mut chol = Vec::with_capacity(k);
        for (j, (m, s)) in means.iter().zip(&covariances).enumerate() {
            if m.len() != d || s.len() != d * d {
                return Err(ConfigError::new(
                    C,
                    "means",
                    format!("component {j} is not {d}-dimensional"),
                ));
            }
            chol.push(cholesky(s, d).ok_or_else(|| {
                ConfigError::new(
                    C,
                    "covariances",
                    format!("component {j}'s covariance is not positive definite"),
                )
            })?);
        }
        Ok(Self {
            dim: d,
            weights: weights.iter().map(|w| w / total).collect(),
            means,
            covariances,
            mean_log_likelihood: f64::NAN,
            iterations: 0,
            converged: false,
            chol,
        })
    }

    /// Number of components.
    pub fn components(&self) -> usize {
        self.weights.len()
    }

    /// `ln p(z)` of one point.
    ///
    /// # Panics
    /// If `z` is not `d`-dimensional.
    pub fn log_prob(&self, z: &[f64]) -> f64 {
        assert_eq!(
            z.len(),
            self.dim,
            "GaussianMixture::log_prob: expected a {}-vector",
            self.dim
        );
        let mut buf = vec![0.0; self.dim];
        let terms: Vec<f64> = (0..self.components())
            .map(|j| self.weights[j].ln() + self.component_log_pdf(j, z, &mut buf))
            .collect();
        log_sum_exp(&terms)
    }

    /// `n` draws, row-major `[n, d]`: a component by its weight, then `μ_j + L_j ε`
    /// (`Σ_j = L_j L_jᵀ`) with `ε` standard normal.
    pub fn sample(&self, n: usize, rng: &mut HostRng) -> Vec<f64> {
        self.sample_with_temperature(n, 1.0, rng)
    }

    /// `n` draws at temperature `t`: a component by its (unchanged) weight, then
    /// `μ_j + t·L_j ε`, i.e. from `N(μ_j, t²Σ_j)` — Glow's and NVAE's temperature applied to
    /// every component. `t = 1` is [`GaussianMixture::sample`] (the same draws for the same
    /// `rng` state).
    ///
    /// # Panics
    /// If `t` is negative or not finite.
    pub fn sample_with_temperature(&self, n: usize, t: f64, rng: &mut HostRng) -> Vec<f64> {
        assert!(
            t.is_finite() && t >= 0.0,
            "GaussianMixture::sample_with_temperature: the temperature must be finite and \
             non-negative, got {t}"
        );
        let d = self.dim;
        let mut out = Vec::with_capacity(n * d);
        let mut eps = vec![0.0; d];
        for _ in 0..n {
            let u = rng.uniform();
            let mut acc = 0.0;
            let mut j = self.components() - 1;
            for (c, w) in self.weights.iter().enumerate() {
                acc += w;
                if u < acc {
                    j = c;
                    break;
                }
            }
            for e in &mut eps {
                *e = rng.normal();
            }
            let l = &self.chol[j];
            for r in 0..d {
                let s: f64 = (0..=r).map(|c| l[r * d + c] * eps[c]).sum();
                out.push(self.means[j][r] + t * s);
            }
        }
        out
    }

    /// `ln N(z; μ_j, Σ_j)` through the Cholesky factor (`buf`: scratch of length `d`).
    fn component_log_pdf(&self, j: usize, z: &[f64], buf: &mut [f64]) -> f64 {
        let d = self.dim;
        let l = &self.chol[j];
        let m = &self.means[j];
        let mut log_det_half = 0.0;
        let mut maha = 0.0;
        // Forward substitution L y = z − μ.
        for r in 0..d {
            let s: f64 = (0..r).map(|c| l[r * d + c] * buf[c]).sum();
            let y = (z[r] - m[r] - s) / l[r * d + r];
            buf[r] = y;
            maha += y * y;
            log_det_half += l[r * d + r].ln();
        }
        -0.5 * (d as f64 * LN_2PI + maha) - log_det_half
    }

    /// Responsibilities and per-point `ln p(z_i)`; returns the mean log-likelihood.
    fn e_step(&self, data: &[f64], n: usize, resp: &mut [f64], log_p: &mut [f64]) -> f64 {
        let (d, k) = (self.dim, self.components());
        let mut buf = vec![0.0; d];
        let mut terms = vec![0.0; k];
        let mut total = 0.0;
        for i in 0..n {
            let z = &data[i * d..(i + 1) * d];
            for (j, t) in terms.iter_mut().enumerate() {
                *t = self.weights[j].ln() + self.component_log_pdf(j, z, &mut buf);
            }
            let lse = log_sum_exp(&terms);
            for j in 0..k {
                resp[i * k + j] = (terms[j] - lse).exp();
            }
            log_p[i] = lse;
            total += lse;
        }
        total / n as f64
    }

    /// Weights, means and covariances from the responsibilities. A component with (almost) no
    /// responsibility is re-seeded at the point of lowest `log_p` with the data's pooled
    /// covariance.
    fn m_step(&mut self, data: &[f64], n: usize, resp: &[f64], reg: f64, log_p: &[f64]) {
        let (d, k) = (self.dim, self.components());
        let row = |i: usize| &data[i * d..(i + 1) * d];
        let mut dead = Vec::new();
        for j in 0..k {
            let nj: f64 = (0..n).map(|i| resp[i * k + j]).sum();
            if nj < 1e-8 * n as f64 + f64::EPSILON {
                dead.push(j);
                continue;
            }
            let mut mean = vec![0.0; d];
            for i in 0..n {
                let r = resp[i * k + j];
                if r > 0.0 {
                    for (m, x) in mean.iter_mut().zip(row(i)) {
                        *m += r * x;
                    }
                }
            }
            mean.iter_mut().for_each(|m| *m /= nj);
            let mut cov = vec![0.0; d * d];
            let mut diff = vec![0.0; d];
            for i in 0..n {
                let r = resp[i * k + j];
                if r <= 0.0 {
                    continue;
                }
                for (df, (x, m)) in diff.iter_mut().zip(row(i).iter().zip(&mean)) {
                    *df = x - m;
                }
                for a in 0..d {
                    let ra = r * diff[a];
                    for b in 0..=a {
                        cov[a * d + b] += ra * diff[b];
                    }
                }
            }
            for a in 0..d {
                for b in 0..=a {
                    let v = cov[a * d + b] / nj;
                    cov[a * d + b] = v;
                    cov[b * d + a] = v;
                }
                cov[a * d + a] += reg;
            }
            self.weights[j] = nj / n as f64;
            self.means[j] = mean;
            self.covariances[j] = cov;
        }
        if !dead.is_empty() {
            let pooled = pooled_covariance(data, n, d, reg);
            let mut order: Vec<usize> = (0..n).collect();
            order.sort_by(|&a, &b| log_p[a].total_cmp(&log_p[b]));
            for (slot, &j) in dead.iter().enumerate() {
                self.means[j] = row(order[slot % n]).to_vec();
                self.covariances[j] = pooled.clone();
                self.weights[j] = 1.0 / n as f64;
            }
        }
        let total: f64 = self.weights.iter().sum();
        self.weights.iter_mut().for_each(|w| *w /= total);
        self.chol = self
            .covariances
            .iter_mut()
            .map(|s| {
                // reg_covar keeps Σ positive definite in exact arithmetic; grow it if rounding
                // disagrees (a component on a lower-dimensional subset of the data).
                let mut extra = reg.max(1e-12);
                loop {
                    if let Some(l) = cholesky(s, d) {
                        break l;
                    }
                    for a in 0..d {
                        s[a * d + a] += extra;
                    }
                    extra *= 10.0;
                }
            })
            .collect();
    }
}

fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}

fn log_sum_exp(v: &[f64]) -> f64 {
    let m = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if m == f64::NEG_INFINITY {
        return m;
    }
    m + v.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// k-means++ seeding: the first centre uniformly, each next one with probability ∝ the squared
/// distance to the nearest centre so far.
fn kmeans_pp(data: &[f64], n: usize, d: usize, k: usize, rng: &mut HostRng) -> Vec<Vec<f64>> {
    let row = |i: usize| &data[i * d..(i + 1) * d];
    let mut centres = vec![row(rng.below(n as u64) as usize).to_vec()];
    let mut nearest: Vec<f64> = (0..n).map(|i| sq_dist(row(i), &centres[0])).collect();
    while centres.len() < k {
        let total: f64 = nearest.iter().sum();
        let pick = if total > 0.0 {
            let u = rng.uniform() * total;
            let mut acc = 0.0;
            let mut pick = n - 1;
            for (i, w) in nearest.iter().enumerate() {
                acc += w;
                if u < acc {
                    pick = i;
                    break;
                }
            }
            pick
        } else {
            rng.below(n as u64) as usize
        };
        let c = row(pick).to_vec();
        for (i, m) in nearest.iter_mut().enumerate() {
            *m = m.min(sq_dist(row(i), &c));
        }
        centres.push(c);
    }
    centres
}

fn pooled_covariance(data: &[f64], n: usize, d: usize, reg: f64) -> Vec<f64> {
    let mut mean = vec![0.0; d];
    for i in 0..n {
        for (m, x) in mean.iter_mut().zip(&data[i * d..(i + 1) * d]) {
            *m += x / n as f64;
        }
    }
    let mut cov = vec![0.0; d * d];
    for i in 0..n {
        let x = &data[i * d..(i + 1) * d];
        for a in 0..d {
            for b in 0..d {
                cov[a * d + b] += (x[a] - mean[a]) * (x[b] - mean[b]) / n as f64;
            }
        }
    }
    for a in 0..d {
        cov[a * d + a] += reg.max(1e-6);
    }
    cov
}
