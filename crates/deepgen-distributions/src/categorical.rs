//! Categorical distribution over `{0, …, K−1}`, parameterised by logits and
//! sampled by the Gumbel-max trick.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor};
use deepgen_tensor::rng::HostRng;

use crate::{
    DistShape, Distribution, DistributionError, Entropy, KlDivergence, Result, check, noise,
};

/// A batch of categorical distributions: row `b` of `logits` (`[B, K]`) gives
/// `P(x = k) = softmax(ℓ_b)_k = exp(ℓ_bk) / Σ_j exp(ℓ_bj)`.
///
/// **Parameterisation: logits** ℓ, unnormalised (any row shift gives the same
/// distribution). A logit of `−∞` gives the category probability exactly 0
/// (masking); every row needs at least one finite logit, and NaN / `+∞` logits
/// are not allowed (they make the row NaN). Logit values are not checked by
/// [`Categorical::new`], since that would cost a device sync on every call; use
/// [`Categorical::from_probs`] (checked) when the parameters come from the host.
///
/// **Values** are category indices, `Tensor<1, Int>` `[B]` (one per row), so the
/// event is a scalar: [`DistShape::scalar`]`(B)`.
///
/// **Sampling** is the Gumbel-max trick (the "reparameterisation" construction of
/// a discrete distribution): `x = argmax_k (ℓ_k + g_k)` with i.i.d. standard
/// Gumbel `g_k = −ln(−ln u_k)`, `u_k ~ U(0, 1)` drawn on the host; then
/// `P(x = k) = softmax(ℓ)_k` exactly.
#[derive(Debug, Clone)]
pub struct Categorical {
    /// Logits ℓ, `[B, K]`.
    pub logits: Tensor<2>,
    shape: DistShape,
}

impl Categorical {
    /// Largest accepted |Σ_k p_k − 1| per row in [`Categorical::from_probs`].
    ///
    /// The row sums are taken on the host in f64 from the stored f32 values, so a
    /// row normalised in f64 and rounded to f32 is off by ≈ 1e-7; 1e-4 also accepts
    /// rows normalised in f32 (the logits are renormalised anyway, see `log_probs`).
    pub const PROBS_SUM_TOLERANCE: f64 = 1e-4;

    /// Builds the distribution from logits `[B, K]` (`B ≥ 1`, `K ≥ 1`).
    ///
    /// Only the shape is checked (free); see the type docs for valid values.
    pub fn new(logits: Tensor<2>) -> Result<Self> {
        check::non_empty("Categorical", "logits", &logits)?;
        let [b, _] = logits.dims();
        Ok(Self {
            logits,
            shape: DistShape::scalar(b),
        })
    }

    /// Builds the distribution from probabilities `[B, K]`: every entry must be
    /// finite and ≥ 0 and every row must sum to 1 within [`Self::PROBS_SUM_TOLERANCE`]
    /// (checked on the host: one device sync). Errors name `probs`.
    ///
    /// Stores `logits = ln p` (a zero probability becomes a `−∞` logit).
    pub fn from_probs(probs: Tensor<2>) -> Result<Self> {
        check::non_empty("Categorical", "probs", &probs)?;
        let [b, k] = probs.dims();
        let v = check::host_values(&probs);
        if let Some((i, p)) = v
            .iter()
            .enumerate()
            .find(|(_, p)| !(p.is_finite() && **p >= 0.0))
        {
            return Err(DistributionError::InvalidParameter {
                distribution: "Categorical",
                argument: "probs",
                reason: format!("must be finite and ≥ 0, but element {i} is {p}"),
            });
        }
        for r in 0..b {
            let s: f64 = v[r * k..(r + 1) * k].iter().sum();
            if (s - 1.0).abs() > Self::PROBS_SUM_TOLERANCE {
                return Err(DistributionError::InvalidParameter {
                    distribution: "Categorical",
                    argument: "probs",
                    reason: format!(
                        "every row must sum to 1 (within {}), but row {r} sums to {s}",
                        Self::PROBS_SUM_TOLERANCE
                    ),
                });
            }
        }
        Self::new(probs.log())
    }

    /// Number of categories K.
    pub fn num_categories(&self) -> usize {
        self.logits.dims()[1]
    }

    /// Normalised log-probabilities `ln p_k = ℓ_k − logsumexp(ℓ)`, `[B, K]`
    /// (Burn's max-shifted `log_softmax`: no overflow, `−∞` logits stay `−∞`).
    pub fn log_probs(&self) -> Tensor<2> {
        log_softmax(self.logits.clone(), 1)
    }

    /// Probabilities `p = softmax(ℓ)`, `[B, K]` (= `exp(log_probs)`).
    pub fn probs(&self) -> Tensor<2> {
        self.log_probs().exp()
    }

    /// The most probable category of each row, `argmax_k ℓ_k`, `[B]` (first on ties).
    pub fn mode(&self) -> Tensor<1, Int> {
        self.logits.clone().detach().argmax(1).squeeze_dim(1)
    }

    /// Gumbel-max with caller-supplied noise: `argmax_k (ℓ_k + g_k)`, `[B]`.
    ///
    /// `gumbel` is `[B, K]`; with i.i.d. standard Gumbel entries (e.g.
    /// [`noise::standard_gumbel`]) the result is an exact draw from this
    /// distribution. No gradient flows (argmax is piecewise constant).
    ///
    /// # Panics
    /// If `gumbel` is not `[B, K]`.
    pub fn sample_with_noise(&self, gumbel: Tensor<2>) -> Tensor<1, Int> {
        assert_eq!(
            gumbel.dims(),
            self.logits.dims(),
            "Categorical::sample_with_noise: noise must have the shape of `logits`"
        );
        (self.logits.clone().detach() + gumbel)
            .argmax(1)
            .squeeze_dim(1)
    }
}

/// `Σ_k p_k · d_k` with the convention `0 · d = 0` wherever `p_k = 0` (even for
/// `d_k = ±∞` or NaN): the difference is masked *before* the product, so neither
/// the value nor the gradient sees `0 · ∞`.
fn expectation_masked(log_p: Tensor<2>, d: Tensor<2>) -> Tensor<1> {
    let p = log_p.exp();
    let zero = p.clone().equal_elem(0.0);
    (p * d.mask_fill(zero, 0.0)).sum_dim(1).squeeze_dim(1)
}

impl Distribution for Categorical {
    /// Category indices in `0..K`, `[B]`.
    type Value = Tensor<1, Int>;

    fn shape(&self) -> DistShape {
        self.shape.clone()
    }

    fn device(&self) -> Device {
        self.logits.device()
    }

    /// `ln p_x = log_softmax(ℓ)_x` (gathered per row), `[B]`; `−∞` for a category
    /// whose logit is `−∞`. Indices must lie in `0..K` (not checked: that would
    /// cost a sync).
    fn log_prob(&self, x: Tensor<1, Int>) -> Tensor<1> {
        self.log_probs()
            .gather(1, x.unsqueeze_dim(1))
            .squeeze_dim(1)
    }

    /// Gumbel-max: `argmax_k (ℓ_k + g_k)` with host-drawn standard Gumbel noise.
    fn sample(&self, rng: &mut HostRng) -> Tensor<1, Int> {
        let g = noise::standard_gumbel(rng, self.logits.dims(), &self.logits.device());
        self.sample_with_noise(g)
    }
}

impl Entropy for Categorical {
    /// `H = −Σ_k p_k ln p_k` with `0 · ln 0 = 0`: categories with `p_k = 0`
    /// (a `−∞` logit, or a probability that underflows in f32) contribute nothing
    /// and no NaN appears in the value or the gradient.
    fn entropy(&self) -> Tensor<1> {
        let lp = self.log_probs();
        expectation_masked(lp.clone(), lp).neg()
    }
}

impl KlDivergence<Categorical> for Categorical {
    /// `KL(p ‖ q) = Σ_k p_k (ln p_k − ln q_k)` with `0 · (…) = 0` where `p_k = 0`
    /// (so a zero of `p` never gives NaN); `+∞` if `q_k = 0 < p_k`.
    ///
    /// # Panics
    /// If the shapes of the two logit tensors differ.
    fn kl_divergence(&self, q: &Categorical) -> Tensor<1> {
        assert_eq!(
            self.logits.dims(),
            q.logits.dims(),
            "Categorical ‖ Categorical: logits shapes differ"
        );
        let lp = self.log_probs();
        expectation_masked(lp.clone(), lp - q.log_probs())
    }
}
