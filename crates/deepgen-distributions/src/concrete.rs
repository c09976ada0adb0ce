//! The Gumbel-softmax / Concrete distribution (Jang et al. 2017; Maddison et al.
//! 2017): a continuous relaxation of [`Categorical`](crate::Categorical) on the
//! probability simplex, with a reparameterised sampler, its exact density, and the
//! straight-through "hard" sample.

use burn::tensor::activation::{log_softmax, softmax};
use burn::tensor::{Device, Int, Tensor};
use deepgen_tensor::numerics::host;
use deepgen_tensor::rng::HostRng;

use crate::{DistShape, Distribution, Result, Rsample, check, noise};

/// A batch of Gumbel-softmax (Concrete) distributions with logits `[B, K]` and a
/// temperature τ > 0 shared by the batch.
///
/// **Sampling** (Jang et al. 2017, eq. 1; Maddison et al. 2017, Def. 1): with
/// i.i.d. standard Gumbel noise `g_k` (host-drawn),
/// `y = softmax((ℓ + g)/τ)`, a point in the interior of the simplex `Δ^{K−1}`.
/// `argmax_k y_k = argmax_k (ℓ_k + g_k)` is exactly `Categorical(softmax ℓ)` for
/// every τ (Gumbel-max), and `y` tends to that one-hot vector as τ → 0.
///
/// **Density** (Maddison et al. 2017, Def. 1, with α_k = e^{ℓ_k}, λ = τ):
///
/// `ln p(y) = ln Γ(K) + (K−1) ln τ + Σ_k (ℓ_k − (τ+1) ln y_k) − K·logsumexp_k(ℓ_k − τ ln y_k)`,
///
/// a density **with respect to Lebesgue measure on the first K−1 coordinates**
/// `(y_1, …, y_{K−1})` (with `y_K = 1 − Σ_{k<K} y_k`). This is the same convention and
/// the same value as PyTorch's `RelaxedOneHotCategorical(τ, logits).log_prob(y)`
/// (ExpRelaxedCategorical's density of `ln y` minus `Σ_k ln y_k`, the Jacobian of
/// `exp`); for K = 2 it integrates to 1 over `y_1 ∈ (0, 1)` (tested).
///
/// **Parameterisation: logits** ℓ (unnormalised; the density and the sampler are
/// invariant to a shift of a row) and a host `f64` temperature. Logits must be
/// finite for [`log_prob`](Distribution::log_prob) (a `−∞` logit puts the
/// distribution on a face of the simplex, where this density does not apply);
/// sampling accepts `−∞` logits.
///
/// Also known as `RelaxedOneHotCategorical`; [`Concrete`] is an alias.
#[derive(Debug, Clone)]
pub struct GumbelSoftmax {
    /// Logits ℓ, `[B, K]`.
    pub logits: Tensor<2>,
    temperature: f64,
    shape: DistShape,
}

/// The Concrete distribution of Maddison et al. (2017): the same type as
/// [`GumbelSoftmax`].
pub type Concrete = GumbelSoftmax;

impl GumbelSoftmax {
    /// Builds the distribution from logits `[B, K]` (`B, K ≥ 1`) and a temperature τ.
    ///
    /// Errors: a zero-sized `logits` dimension, or a `temperature` that is not
    /// finite and > 0 (the error names `temperature`). Logit values are not
    /// checked (that would cost a device sync); see the type docs.
    pub fn new(logits: Tensor<2>, temperature: f64) -> Result<Self> {
        check::non_empty("GumbelSoftmax", "logits", &logits)?;
        check_temperature(temperature)?;
        let [b, k] = logits.dims();
        Ok(Self {
            logits,
            temperature,
            shape: DistShape::vector(b, k),
        })
    }

    /// The same logits at another temperature (e.g. the next value of an
    /// annealing schedule); checked like [`GumbelSoftmax::new`].
    pub fn with_temperature(mut self, temperature: f64) -> Result<Self> {
        check_temperature(temperature)?;
        self.temperature = temperature;
        Ok(self)
    }

    /// The temperature τ.
    pub fn temperature(&self) -> f64 {
        self.temperature
    }

    /// Number of categories K.
    pub fn num_categories(&self) -> usize {
        self.logits.dims()[1]
    }

    /// `(ℓ + g)/τ`, `[B, K]`.
    fn scaled(&self, gumbel: Tensor<2>) -> Tensor<2> {
        assert_eq!(
            gumbel.dims(),
            self.logits.dims(),
            "GumbelSoftmax: noise must have the shape of `logits`"
        );
        (self.logits.clone() + gumbel) / self.temperature
    }

    /// `ln y = log_softmax((ℓ + g)/τ)`, `[B, K]`: the log of
    /// [`rsample_from_noise`](Rsample::rsample_from_noise), differentiable.
    ///
    /// At small τ the coordinates of `y` underflow to exactly 0 in f32 (they are
    /// ≈ e^{−Δ/τ}), so `y.log()` is `−∞` and the density cannot be evaluated from
    /// `y`; `ln y` computed here stays finite. Pair it with
    /// [`log_prob_from_log`](Self::log_prob_from_log).
    pub fn log_rsample_from_noise(&self, gumbel: Tensor<2>) -> Tensor<2> {
        log_softmax(self.scaled(gumbel), 1)
    }

    /// Straight-through ("hard") Gumbel-softmax from given noise (Jang et al.
    /// 2017, §2.2): the forward value is exactly `one_hot(argmax_k (ℓ_k + g_k))`,
    /// the gradient is that of the soft sample `y_soft = softmax((ℓ + g)/τ)`.
    ///
    /// Computed as `y_hard + (y_soft − stopgrad(y_soft))`: the same value and
    /// gradient as the usual `y_hard − stopgrad(y_soft) + y_soft`, grouped so that
    /// the forward value is exactly `y_hard` by construction (`x − x = 0` for any
    /// finite `x`), without relying on how `1 − s + s` rounds. Ties in the argmax
    /// go to the first index.
    pub fn hard_from_noise(&self, gumbel: Tensor<2>) -> Tensor<2> {
        let z = self.scaled(gumbel);
        let [b, k] = z.dims();
        let idx: Tensor<2, Int> = z.clone().detach().argmax(1); // [B, 1]
        let classes = Tensor::<1, Int>::arange(0..k as i64, &z.device())
            .unsqueeze_dim::<2>(0)
            .expand([b, k]);
        let y_hard = classes.equal(idx.expand([b, k])).float();
        let y_soft = softmax(z, 1);
        y_hard + (y_soft.clone() - y_soft.detach())
    }

    /// [`hard_from_noise`](Self::hard_from_noise) with host-drawn Gumbel noise.
    pub fn rsample_hard(&self, rng: &mut HostRng) -> Tensor<2> {
        let g = self.sample_noise(rng);
        self.hard_from_noise(g)
    }

    /// The Concrete log-density from `ln y` (`[B, K]`, each row with
    /// `logsumexp = 0`), `[B]`:
    ///
    /// with `a_k = ℓ_k − τ ln y_k`,
    /// `ln p = ln Γ(K) + (K−1) ln τ + Σ_k log_softmax(a)_k − Σ_k ln y_k`,
    ///
    /// which equals the formula in the type docs (`Σ_k a_k − K·logsumexp(a) =
    /// Σ_k log_softmax(a)_k`, and `Σ_k ℓ_k − τ ln y_k − ln y_k` regroups). Written
    /// with `log_softmax` it is invariant to shifts of the logits without
    /// cancellation, and it never forms `y` itself — use it with
    /// [`log_rsample_from_noise`](Self::log_rsample_from_noise) at small τ, where
    /// `y` underflows (see there).
    pub fn log_prob_from_log(&self, log_y: Tensor<2>) -> Tensor<1> {
        let k = self.num_categories();
        let tau = self.temperature;
        let constant = host::lgamma(k as f64) + (k as f64 - 1.0) * tau.ln();
        let a = self.logits.clone() - log_y.clone() * tau;
        (log_softmax(a, 1) - log_y).sum_dim(1).squeeze_dim(1) + constant
    }
}

/// τ must be finite and > 0.
fn check_temperature(temperature: f64) -> Result<()> {
    check::scalar(
        "GumbelSoftmax",
        "temperature",
        temperature,
        "must be finite and > 0",
        |t| t.is_finite() && t > 0.0,
    )
}

impl Distribution for GumbelSoftmax {
    /// Points of the simplex (relaxed one-hot vectors), `[B, K]`.
    type Value = Tensor<2>;

    fn shape(&self) -> DistShape {
        self.shape.clone()
    }

    fn device(&self) -> Device {
        self.logits.device()
    }

    /// The Concrete log-density of `y` (see the type docs for the formula and the
    /// reference measure): [`log_prob_from_log`](Self::log_prob_from_log)`(ln y)`.
    /// Coordinates of `y` that are exactly 0 give a non-finite result; at small τ
    /// evaluate from `ln y` instead.
    fn log_prob(&self, y: Tensor<2>) -> Tensor<1> {
        self.log_prob_from_log(y.log())
    }

    fn sample(&self, rng: &mut HostRng) -> Tensor<2> {
        self.rsample(rng).detach()
    }
}

impl Rsample for GumbelSoftmax {
    /// Standard Gumbel noise g, `[B, K]`.
    type Noise = Tensor<2>;

    fn sample_noise(&self, rng: &mut HostRng) -> Tensor<2> {
        noise::standard_gumbel(rng, self.logits.dims(), &self.logits.device())
    }

    /// `y = softmax((ℓ + g)/τ)`.
    fn rsample_from_noise(&self, gumbel: Tensor<2>) -> Tensor<2> {
        softmax(self.scaled(gumbel), 1)
    }
}
