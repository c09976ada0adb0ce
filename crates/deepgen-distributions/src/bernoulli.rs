//! Bernoulli distribution parameterised by logits.

use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor};
use deepgen_tensor::numerics::tensor::{bernoulli_log_prob, softplus};
use deepgen_tensor::rng::HostRng;

use crate::{DistShape, Distribution, Entropy, KlDivergence, Result, check, noise};

/// Independent Bernoulli variables: rows of `logits` (`[B, D]`) are batch
/// elements, columns the event dimensions.
///
/// **Parameterisation: logits** ℓ (p = σ(ℓ)), which keeps the log-likelihood
/// finite for saturated predictions; any real ℓ is valid.
#[derive(Debug, Clone)]
pub struct Bernoulli {
    /// Logits ℓ, `[B, D]`.
    pub logits: Tensor<2>,
    shape: DistShape,
}

impl Bernoulli {
    /// Builds the distribution from logits `[B, D]` (no zero-sized dimension).
    pub fn new(logits: Tensor<2>) -> Result<Self> {
        check::non_empty("Bernoulli", "logits", &logits)?;
        let [b, d] = logits.dims();
        Ok(Self {
            logits,
            shape: DistShape::vector(b, d),
        })
    }

    /// Sets a multi-dimensional event shape (e.g. `[1, 28, 28]`) with `D` elements.
    pub fn with_event_shape(mut self, event: Vec<usize>) -> Result<Self> {
        self.shape = self.shape.with_event("Bernoulli", event)?;
        Ok(self)
    }

    /// Success probabilities σ(ℓ), `[B, D]` (the mean).
    pub fn probs(&self) -> Tensor<2> {
        sigmoid(self.logits.clone())
    }

    /// x·ℓ − softplus(ℓ) per dimension (= x·ln σ(ℓ) + (1−x)·ln σ(−ℓ)), `[B, D]`: one fused
    /// operation on flex ([`bernoulli_log_prob`]), with the bits of the composed formula.
    pub fn log_prob_per_dim(&self, x: Tensor<2>) -> Tensor<2> {
        bernoulli_log_prob(self.logits.clone(), x)
    }
}

impl Distribution for Bernoulli {
    /// Bits as 0.0/1.0 floats, `[B, D]`.
    type Value = Tensor<2>;

    fn shape(&self) -> DistShape {
        self.shape.clone()
    }

    fn device(&self) -> Device {
        self.logits.device()
    }

    /// Σ_d x·ln σ(ℓ) + (1−x)·ln σ(−ℓ), computed as x·ℓ − softplus(ℓ) with
    /// deepgen-tensor's stable softplus. `x` may be any value in [0, 1] (grey
    /// levels): that is the (unnormalised) cross-entropy most VAE code uses; see
    /// `ContinuousBernoulli` for the normalised density.
    fn log_prob(&self, x: Tensor<2>) -> Tensor<1> {
        self.log_prob_per_dim(x).sum_dim(1).squeeze_dim(1)
    }

    /// x = 1{u < σ(ℓ)} with host-drawn u.
    fn sample(&self, rng: &mut HostRng) -> Tensor<2> {
        let u = noise::uniform_open(rng, self.logits.dims(), &self.logits.device());
        u.lower(self.probs().detach()).float()
    }
}

impl Entropy for Bernoulli {
    /// Σ_d softplus(ℓ) − σ(ℓ)·ℓ (= −p ln p − (1−p) ln(1−p), with 0·ln 0 = 0).
    fn entropy(&self) -> Tensor<1> {
        let l = self.logits.clone();
        (softplus(l.clone()) - sigmoid(l.clone()) * l)
            .sum_dim(1)
            .squeeze_dim(1)
    }
}

impl KlDivergence<Bernoulli> for Bernoulli {
    /// Σ_d p(ℓ_p − ℓ_q) + softplus(ℓ_q) − softplus(ℓ_p), with p = σ(ℓ_p).
    ///
    /// (From KL = p ln(p/q) + (1−p) ln((1−p)/(1−q)) and ln σ(ℓ) = ℓ − softplus(ℓ),
    /// ln σ(−ℓ) = −softplus(ℓ); finite for saturated logits.)
    fn kl_divergence(&self, q: &Bernoulli) -> Tensor<1> {
        let lp = self.logits.clone();
        let lq = q.logits.clone();
        let p = sigmoid(lp.clone());
        (p * (lp.clone() - lq.clone()) + softplus(lq) - softplus(lp))
            .sum_dim(1)
            .squeeze_dim(1)
    }
}
