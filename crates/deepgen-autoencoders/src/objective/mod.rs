//! Training objectives of the Gaussian VAE: ELBO with β, free bits or a
//! capacity target, and the IWAE bound.
//!
//! The weights that change during training come from the loop's
//! [`StepContext`] (schedules from `deepgen-train`), never from the model:
//! `"beta"` (KL weight, default 1 — KL annealing is a `linear:` or `cyclical:`
//! schedule) and `"capacity"` (target KL C in nats for the capacity objective,
//! default 0).

pub mod importance;
pub mod likelihood;

use std::fmt;
use std::str::FromStr;

use burn::tensor::Tensor;
use deepgen_tensor::config::{ConfigError, Validate, positive};
use deepgen_train::{StepContext, StepOutput};

use importance::iwae_bound;

/// How the KL term enters the loss.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum KlControl {
    /// recon + β·KL (β = 1: the ELBO; β > 1: β-VAE, Higgins et al. 2017).
    Plain,
    /// Free bits (Kingma et al. 2016): recon + β·Σ_j max(λ, E_batch KL_j): latent
    /// dimensions whose batch-average KL is below `lambda` nats get no KL gradient.
    FreeBits {
        /// λ, nats per latent dimension.
        lambda: f64,
    },
    /// Capacity control (Burgess et al. 2018): recon + γ·|KL − C|, with C the
    /// `"capacity"` weight (annealed from 0 upwards by a schedule).
    Capacity {
        /// γ, the penalty weight (the paper uses 1000 for dSprites).
        gamma: f64,
    },
}

/// The VAE objective: the KL control, and `iw_samples` k > 1 for the IWAE bound.
#[derive(Debug, Clone, PartialEq)]
pub struct VaeObjective {
    /// Importance samples per example: 1 is the (β-)ELBO, k > 1 the IWAE bound
    /// (Burda et al. 2016), which requires `KlControl::Plain` with β = 1.
    pub iw_samples: usize,
    /// KL treatment for k = 1.
    pub kl: KlControl,
}

impl Default for VaeObjective {
    fn default() -> Self {
        Self {
            iw_samples: 1,
            kl: KlControl::Plain,
        }
    }
}

impl Validate for VaeObjective {
    /// Checks the combination; the error names the offending setting.
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "VaeObjective";
        positive(C, "iw_samples", self.iw_samples)?;
        if self.iw_samples > 1 && self.kl != KlControl::Plain {
            return Err(ConfigError::new(
                C,
                "kl",
                format!(
                    "`iw-samples` {} (IWAE) cannot be combined with {} — IWAE has no separate \
                     KL term",
                    self.iw_samples, self.kl
                ),
            ));
        }
        match self.kl {
            KlControl::FreeBits { lambda } if !(lambda.is_finite() && lambda >= 0.0) => {
                Err(ConfigError::new(
                    C,
                    "kl",
                    format!("`free-bits` must be finite and ≥ 0, got {lambda}"),
                ))
            }
            KlControl::Capacity { gamma } if !(gamma.is_finite() && gamma > 0.0) => {
                Err(ConfigError::new(
                    C,
                    "kl",
                    format!("`capacity` γ must be finite and > 0, got {gamma}"),
                ))
            }
            _ => Ok(()),
        }
    }
}

impl VaeObjective {
    /// The (β-, free-bits or capacity-controlled) ELBO loss of every VAE variant from its
    /// per-example terms.
    ///
    /// Metrics (nats per image, batch means): `recon`, `kl`, `neg_elbo`; `kl_free_bits` for
    /// free bits; `capacity` and `kl_gap` (|KL − C|) for capacity control.
    ///
    /// # Panics
    /// With [`KlControl::FreeBits`] when `parts.kl_per_dim` is `None` — a model without a
    /// per-dimension KL rejects free bits in its `check_objective`.
    pub fn elbo_step(&self, parts: ElboParts, weights: KlWeights) -> StepOutput {
        let beta = weights.beta;
        let recon = parts.recon.mean();
        let kl = parts.kl.mean();
        let (loss, extra): (Tensor<1>, Vec<(&str, Tensor<1>)>) = match self.kl {
            KlControl::Plain => (recon.clone() + kl.clone() * beta, vec![]),
            KlControl::FreeBits { lambda } => {
                let per_dim = parts
                    .kl_per_dim
                    .expect("free bits needs a per-dimension KL (rejected by check_objective)")
                    .mean_dim(0)
                    .squeeze_dim::<1>(0);
                let fb = per_dim.clamp_min(lambda).sum();
                (
                    recon.clone() + fb.clone() * beta,
                    vec![("kl_free_bits", fb.detach())],
                )
            }
            KlControl::Capacity { gamma } => {
                let c = weights.capacity;
                let gap = (kl.clone() - c).abs();
                (
                    recon.clone() + gap.clone() * gamma,
                    vec![
                        ("capacity", Tensor::full([1], c, &recon.device())),
                        ("kl_gap", gap.detach()),
                    ],
                )
            }
        };
        let mut out = StepOutput::new(loss)
            .with_metric("recon", recon.clone().detach())
            .with_metric("kl", kl.clone().detach())
            .with_metric("neg_elbo", (recon + kl).detach());
        for (name, v) in extra {
            out = out.with_metric(name, v);
        }
        out
    }
}

/// The loss weights of this step, from the training loop's schedules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KlWeights {
    /// β, the KL weight (1 for the ELBO).
    pub beta: f64,
    /// C, the capacity target in nats (capacity control only).
    pub capacity: f64,
}

impl KlWeights {
    /// The `"beta"` (default 1) and `"capacity"` (default 0) weights of `ctx`.
    pub fn from_context(ctx: &StepContext) -> Self {
        Self {
            beta: ctx.weight_or("beta", 1.0),
            capacity: ctx.weight_or("capacity", 0.0),
        }
    }
}

/// The per-example terms of a VAE's negative ELBO that [`VaeObjective::elbo_step`] weighs.
#[derive(Debug)]
pub struct ElboParts {
    /// −ln p(x|z), `[B]`.
    pub recon: Tensor<1>,
    /// KL(q(z|x) ‖ p(z)) (analytic or a single-sample estimate), `[B]`.
    pub kl: Tensor<1>,
    /// The KL per latent dimension, `[B, L]`, for free bits; `None` where the posterior has
    /// no per-dimension KL (spherical posteriors, flow posteriors).
    pub kl_per_dim: Option<Tensor<2>>,
}

/// The negative IWAE bound (Burda et al. 2016) from importance log-weights `[B, k]`: the loss
/// −mean_b ln (1/k) Σ_i w_bi, with metrics `iwae` (the same value) and `neg_elbo` (−mean ln w,
/// the ELBO estimated from the same k samples).
pub fn iwae_step(log_weights: Tensor<2>) -> StepOutput {
    let neg_bound = iwae_bound(log_weights.clone()).neg().mean();
    StepOutput::new(neg_bound.clone())
        .with_metric("iwae", neg_bound.detach())
        .with_metric("neg_elbo", log_weights.mean().neg().detach())
}

impl fmt::Display for KlControl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Plain => write!(f, "plain KL"),
            Self::FreeBits { lambda } => write!(f, "free bits λ = {lambda}"),
            Self::Capacity { gamma } => write!(f, "capacity control γ = {gamma}"),
        }
    }
}

impl FromStr for KlControl {
    type Err = String;

    /// `plain`, `free-bits:LAMBDA`, `capacity:GAMMA`.
    fn from_str(s: &str) -> Result<Self, String> {
        let num = |v: &str| {
            v.parse::<f64>()
                .map_err(|_| format!("KL control `{s}`: `{v}` is not a number"))
        };
        match s.split_once(':') {
            None if s == "plain" => Ok(Self::Plain),
            Some(("free-bits", v)) => Ok(Self::FreeBits { lambda: num(v)? }),
            Some(("capacity", v)) => Ok(Self::Capacity { gamma: num(v)? }),
            _ => Err(format!(
                "unknown KL control `{s}`: expected plain, free-bits:LAMBDA or capacity:GAMMA"
            )),
        }
    }
}
