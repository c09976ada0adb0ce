//! Training objectives of the Gaussian VAE: ELBO with β, free bits or a
//! capacity target, and the IWAE bound.
//!
//! The weights that change during training come from the loop's
//! [`StepContext`] (schedules from `deepgen-train`), never from the model:
//! `"beta"` (KL weight, default 1 — KL annealing is a `linear:` or `cyclical:`
//! schedule) and `"capacity"` (target KL C in nats for the capacity objective,
//! default 0).

use std::fmt;
use std::str::FromStr;

use burn::tensor::Tensor;
use deepgen_train::{StepContext, StepOutput};

use crate::importance::iwae_bound;
use crate::vae::Vae;

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

impl VaeObjective {
    /// Checks the combination; the message names the offending setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.iw_samples == 0 {
            return Err("`iw-samples` must be at least 1".into());
        }
        if self.iw_samples > 1 && self.kl != KlControl::Plain {
            return Err(format!(
                "`iw-samples` {} (IWAE) cannot be combined with {} — IWAE has no separate KL term",
                self.iw_samples, self.kl
            ));
        }
        match self.kl {
            KlControl::FreeBits { lambda } if !(lambda.is_finite() && lambda >= 0.0) => {
                Err(format!("`free-bits` must be finite and ≥ 0, got {lambda}"))
            }
            KlControl::Capacity { gamma } if !(gamma.is_finite() && gamma > 0.0) => Err(format!(
                "`capacity-gamma` must be finite and > 0, got {gamma}"
            )),
            _ => Ok(()),
        }
    }

    /// Loss and metrics for a batch `x` (`[B, D]`) with noise `eps` (`[B·k, L]`).
    ///
    /// Metrics (nats per image, batch means): `recon`, `kl`, `neg_elbo` always (for
    /// IWAE estimated from the k samples: −mean ln w); `iwae` (−bound) for k > 1;
    /// `kl_free_bits` for free bits; `capacity` and `kl_gap` (|KL − C|) for capacity.
    pub fn step(&self, model: &Vae, x: Tensor<2>, eps: Tensor<2>, ctx: &StepContext) -> StepOutput {
        if self.iw_samples > 1 {
            let lw = model.log_weights_with_noise(x, eps, self.iw_samples);
            let neg_bound = iwae_bound(lw.clone()).neg().mean();
            let neg_elbo = lw.mean().neg().detach();
            return StepOutput::new(neg_bound.clone())
                .with_metric("iwae", neg_bound.detach())
                .with_metric("neg_elbo", neg_elbo);
        }
        let beta = ctx.weight_or("beta", 1.0);
        let terms = model.elbo_terms_with_noise(x, eps);
        let recon = terms.recon_nll.clone().mean();
        let kl = terms.kl.clone().mean();
        let (loss, extra): (Tensor<1>, Vec<(&str, Tensor<1>)>) = match self.kl {
            KlControl::Plain => (recon.clone() + kl.clone() * beta, vec![]),
            KlControl::FreeBits { lambda } => {
                let per_dim = terms.kl_per_dim.clone().mean_dim(0).squeeze_dim::<1>(0);
                let fb = per_dim.clamp_min(lambda).sum();
                (
                    recon.clone() + fb.clone() * beta,
                    vec![("kl_free_bits", fb.detach())],
                )
            }
            KlControl::Capacity { gamma } => {
                let c = ctx.weight_or("capacity", 0.0);
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
