//! The traits every distribution implements.
//!
//! - [`Distribution`]: shapes, `log_prob`, and `sample` from an explicit [`HostRng`];
//! - [`Rsample`]: reparameterised sampling, split into drawing the base noise and
//!   the differentiable map from noise to sample (`rsample_from_noise`), so a
//!   caller can drive the sampler with their own noise;
//! - [`Entropy`];
//! - [`KlDivergence<Q>`]: `KL(self ‖ q)`, implemented per pair so a missing pair
//!   is a compile error; [`monte_carlo_kl`] is the documented fallback.

use burn::tensor::{Device, Tensor};
use deepgen_tensor::rng::HostRng;

use crate::DistShape;

/// A batch of probability distributions over events of a fixed shape.
///
/// No hidden global RNG: every sampler takes a [`HostRng`], and noise is drawn on
/// the host (f64, then uploaded as f32) so samples are identical on every backend.
pub trait Distribution {
    /// What one sample of the whole batch is: `Tensor<2>` `[B, E]` for continuous
    /// vectors, `Tensor<1, Int>` `[B]` for category indices.
    type Value;

    /// Batch and event shape.
    fn shape(&self) -> DistShape;

    /// Device the parameters live on.
    fn device(&self) -> Device;

    /// Log-density (or log-mass) of `value`, summed over the event dimensions: `[B]`.
    fn log_prob(&self, value: Self::Value) -> Tensor<1>;

    /// A sample with no gradient attached.
    fn sample(&self, rng: &mut HostRng) -> Self::Value;
}

/// A distribution with a reparameterised (pathwise-differentiable) sampler.
pub trait Rsample: Distribution {
    /// The base randomness: ε ~ N(0, I) for a Gaussian, Gumbel noise for the
    /// Concrete distribution, the accepted marginal and tangent direction for vMF.
    type Noise;

    /// Draws the base noise for one sample of the batch.
    fn sample_noise(&self, rng: &mut HostRng) -> Self::Noise;

    /// The differentiable map from base noise to a sample.
    fn rsample_from_noise(&self, noise: Self::Noise) -> Self::Value;

    /// `rsample_from_noise(sample_noise(rng))`.
    fn rsample(&self, rng: &mut HostRng) -> Self::Value {
        let noise = self.sample_noise(rng);
        self.rsample_from_noise(noise)
    }
}

/// Differential (or Shannon, for discrete types) entropy.
pub trait Entropy {
    /// Entropy of each batch element in nats: `[B]`.
    fn entropy(&self) -> Tensor<1>;
}

/// `KL(self ‖ q)`. Implemented per pair of types — analytic wherever a closed
/// form exists; pairs without one are left unimplemented (a compile error) and
/// callers use [`monte_carlo_kl`] explicitly.
pub trait KlDivergence<Q: ?Sized> {
    /// KL divergence of each batch element in nats: `[B]`.
    fn kl_divergence(&self, q: &Q) -> Tensor<1>;
}

/// Monte-Carlo estimate of `KL(p ‖ q) = E_p[log p(x) − log q(x)]` with `n` samples
/// per batch element: `[B]`.
///
/// Uses `p.rsample`, so the estimate is differentiable with respect to `p`'s
/// parameters (and unbiased, with standard error ≈ std(log p − log q)/√n).
pub fn monte_carlo_kl<P, Q>(p: &P, q: &Q, rng: &mut HostRng, n: usize) -> Tensor<1>
where
    P: Rsample,
    Q: Distribution<Value = P::Value>,
    P::Value: Clone,
{
    assert!(n > 0, "monte_carlo_kl: `n` must be at least 1");
    let mut total: Option<Tensor<1>> = None;
    for _ in 0..n {
        let x = p.rsample(rng);
        let d = p.log_prob(x.clone()) - q.log_prob(x);
        total = Some(match total {
            None => d,
            Some(t) => t + d,
        });
    }
    total.expect("n > 0") / n as f64
}
