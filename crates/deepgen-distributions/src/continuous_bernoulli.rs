//! Continuous Bernoulli distribution on [0, 1] (Loaiza-Ganem & Cunningham 2019),
//! parameterised by logits, with a normalising constant that is stable at λ = ½.

use burn::tensor::activation::sigmoid;
use burn::tensor::{Bool, Device, Tensor};
use deepgen_tensor::numerics::tensor::{expm1, log1mexp, softplus};
use deepgen_tensor::rng::HostRng;

use crate::{DistShape, Distribution, Entropy, KlDivergence, Result, Rsample, check, noise};

/// ℓ above which the inverse CDF switches from `log1p(u·expm1(ℓ))/ℓ`
/// (which would overflow `expm1` in f32 beyond ℓ ≈ 88) to
/// `1 + ln(u·(1 − e^{−ℓ}) + e^{−ℓ})/ℓ`.
const ICDF_LARGE_ABOVE: f64 = 16.0;

/// ln C(ℓ) − ln 2 = Σ_{k≥1} a_k ℓ^{2k}, coefficients a_1..a_7 (exact rationals
/// from `sympy.series(log(l/tanh(l/2)), l, 0, 16)`).
const LN_C_SERIES: [f64; 7] = [
    1.0 / 12.0,
    -7.0 / 1440.0,
    31.0 / 90720.0,
    -127.0 / 4838400.0,
    73.0 / 34214400.0,
    -1414477.0 / 7846046208000.0,
    8191.0 / 523069747200.0,
];

/// E[x] − ½ = ℓ·Σ_{k≥0} b_k ℓ^{2k}, coefficients b_0..b_4
/// (`sympy.series(1/(1-exp(-l)) - 1/l, l, 0, 10)`).
const MEAN_SERIES: [f64; 5] = [
    1.0 / 12.0,
    -1.0 / 720.0,
    1.0 / 30240.0,
    -1.0 / 1209600.0,
    1.0 / 47900160.0,
];

/// H = Σ_{k≥1} h_k ℓ^{2k}, coefficients h_1..h_5
/// (`sympy.series(log(expm1(l)/l) - l*(1/(1-exp(-l)) - 1/l), l, 0, 11)`).
const ENTROPY_SERIES: [f64; 5] = [
    -1.0 / 24.0,
    1.0 / 960.0,
    -1.0 / 36288.0,
    1.0 / 1382400.0,
    -1.0 / 53222400.0,
];

/// F⁻¹(u) = log1p(u·expm1(ℓ))/ℓ = Σ_k c_k(u) ℓ^k, k = 0..7; row k holds the
/// coefficients of the polynomial c_k(u), lowest degree first
/// (`sympy.series(log(1 + u*(exp(l) - 1))/l, l, 0, 8)`).
const ICDF_SERIES: [&[f64]; 8] = [
    &[0.0, 1.0],
    &[0.0, 1.0 / 2.0, -1.0 / 2.0],
    &[0.0, 1.0 / 6.0, -1.0 / 2.0, 1.0 / 3.0],
    &[0.0, 1.0 / 24.0, -7.0 / 24.0, 1.0 / 2.0, -1.0 / 4.0],
    &[
        0.0,
        1.0 / 120.0,
        -1.0 / 8.0,
        5.0 / 12.0,
        -1.0 / 2.0,
        1.0 / 5.0,
    ],
    &[
        0.0,
        1.0 / 720.0,
        -31.0 / 720.0,
        1.0 / 4.0,
        -13.0 / 24.0,
        1.0 / 2.0,
        -1.0 / 6.0,
    ],
    &[
        0.0,
        1.0 / 5040.0,
        -1.0 / 80.0,
        43.0 / 360.0,
        -5.0 / 12.0,
        2.0 / 3.0,
        -1.0 / 2.0,
        1.0 / 7.0,
    ],
    &[
        0.0,
        1.0 / 40320.0,
        -127.0 / 40320.0,
        23.0 / 480.0,
        -81.0 / 320.0,
        5.0 / 8.0,
        -19.0 / 24.0,
        1.0 / 2.0,
        -1.0 / 8.0,
    ],
];

/// Independent continuous Bernoulli variables on [0, 1]: rows of `logits`
/// (`[B, D]`) are batch elements, columns the event dimensions.
///
/// **Parameterisation: logits** ℓ, with shape parameter λ = σ(ℓ) (λ is *not*
/// the mean; see [`ContinuousBernoulli::mean`]). The density is
///
/// p(x | λ) = C(λ)·λ^x·(1 − λ)^{1−x},  x ∈ [0, 1],
///
/// with C(λ) = 2·atanh(1 − 2λ)/(1 − 2λ) (C(½) = 2), which in logits is
/// C = ℓ / tanh(ℓ/2) (since 1 − 2λ = −tanh(ℓ/2) and atanh(1 − 2λ) = −ℓ/2).
/// Equivalently p(x) = ℓ·e^{xℓ}/expm1(ℓ): an exponential family in x with
/// natural parameter ℓ and log-partition A(ℓ) = ln(expm1(ℓ)/ℓ) =
/// softplus(ℓ) − ln C(ℓ), which gives the mean (A′), entropy and KL in closed form.
///
/// It is the properly normalised version of the Bernoulli cross-entropy used
/// as a "likelihood" for grey-level pixels. Logits must be finite (not
/// checked: that would cost a device sync); everything else is stable for all
/// finite ℓ, including ℓ = 0 and saturated |ℓ| ≫ 1.
#[derive(Debug, Clone)]
pub struct ContinuousBernoulli {
    /// Logits ℓ, `[B, D]`.
    pub logits: Tensor<2>,
    shape: DistShape,
}

impl ContinuousBernoulli {
    /// `|ℓ|` below which ln C, the mean and the entropy use their Taylor series.
    ///
    /// The closed forms (see [`ContinuousBernoulli::log_norm_const`]) are
    /// differences of `O(1/|ℓ|)` terms whose f32 rounding error, and that of
    /// their derivatives, grows like `ε/|ℓ|`; at `|ℓ| = 1` it is ~1e-7. The
    /// series are truncated so that at `|ℓ| = 1` their truncation error is
    /// below 2e-8 in value and derivative (measured with mpmath), so neither
    /// the value nor the gradient jumps visibly at the switch.
    pub const SERIES_BELOW: f64 = 1.0;

    /// `|ℓ|` below which the inverse CDF uses its bivariate Taylor series in
    /// `(u, ℓ)` (truncation ≤ 3e-8 in value and 4e-7 in ∂/∂ℓ at `|ℓ| = ½`,
    /// measured with mpmath).
    pub const ICDF_SERIES_BELOW: f64 = 0.5;

    /// Builds the distribution from logits `[B, D]` (no zero-sized dimension).
    pub fn new(logits: Tensor<2>) -> Result<Self> {
        check::non_empty("ContinuousBernoulli", "logits", &logits)?;
        let [b, d] = logits.dims();
        Ok(Self {
            logits,
            shape: DistShape::vector(b, d),
        })
    }

    /// Builds the distribution from the shape parameter λ ∈ (0, 1), `[B, D]`
    /// (checked on the host: one device sync), as ℓ = ln λ − ln(1 − λ).
    pub fn from_probs(probs: Tensor<2>) -> Result<Self> {
        check::non_empty("ContinuousBernoulli", "probs", &probs)?;
        check::all_values(
            "ContinuousBernoulli",
            "probs",
            &probs,
            "must lie in the open interval (0, 1)",
            |p| p > 0.0 && p < 1.0,
        )?;
        let logits = probs.clone().log() - probs.neg().log1p();
        Self::new(logits)
    }

    /// Sets a multi-dimensional event shape (e.g. `[1, 28, 28]`) with `D` elements.
    pub fn with_event_shape(mut self, event: Vec<usize>) -> Result<Self> {
        self.shape = self.shape.with_event("ContinuousBernoulli", event)?;
        Ok(self)
    }

    /// The shape parameter λ = σ(ℓ), `[B, D]` (not the mean).
    pub fn probs(&self) -> Tensor<2> {
        sigmoid(self.logits.clone())
    }

    /// ln C(λ) = ln(ℓ / tanh(ℓ/2)) per dimension, `[B, D]` (even in ℓ, ln 2 at ℓ = 0).
    ///
    /// For |ℓ| < [`Self::SERIES_BELOW`]: ln 2 + Σ_{k=1}^{7} a_k ℓ^{2k}
    /// (= ln 2 + ℓ²/12 − 7ℓ⁴/1440 + …, Horner in ℓ²). Otherwise, with t = |ℓ|:
    /// ln t + ln(1 + e^{−t}) − ln(1 − e^{−t}), via `log1p` and `log1mexp`
    /// (no overflow, no cancellation). Differentiable; the unselected branch is
    /// evaluated on a safe argument, so no NaN reaches the gradient.
    pub fn log_norm_const(&self) -> Tensor<2> {
        log_norm_const(self.logits.clone())
    }

    /// log p(x) per dimension, `[B, D]`: x·ℓ − softplus(ℓ) + ln C(ℓ)
    /// (the Bernoulli cross-entropy term plus the log normalising constant).
    pub fn log_prob_per_dim(&self, x: Tensor<2>) -> Tensor<2> {
        let l = self.logits.clone();
        x * l.clone() - softplus(l.clone()) + log_norm_const(l)
    }

    /// The mean E[x] = λ/(2λ − 1) + 1/(2·atanh(1 − 2λ)), `[B, D]`; in logits
    /// E[x] = 1/(1 − e^{−ℓ}) − 1/ℓ (= A′(ℓ); ½ at ℓ = 0).
    ///
    /// For |ℓ| < [`Self::SERIES_BELOW`]: ½ + ℓ/12 − ℓ³/720 + ℓ⁵/30240 − ℓ⁷/1209600 +
    /// ℓ⁹/47900160. Otherwise, with t = |ℓ| and m(t) = 1/(1 − e^{−t}) − 1/t
    /// (1 − e^{−t} needs no `expm1` for t ≥ 1), E[x] = m(t) for ℓ > 0 and 1 − m(t) for ℓ < 0 (the reflection
    /// x ↦ 1 − x maps ℓ to −ℓ), so e^{−t} never overflows.
    pub fn mean(&self) -> Tensor<2> {
        mean(self.logits.clone())
    }

    /// The inverse CDF F⁻¹(u), `[B, D]`, for `u` in (0, 1) of the same shape;
    /// differentiable in ℓ (the pathwise sampler).
    ///
    /// F(x) = expm1(xℓ)/expm1(ℓ) (= x at ℓ = 0), so F⁻¹(u) = log1p(u·expm1(ℓ))/ℓ
    /// (equal to [ln(u(2λ−1) + 1 − λ) − ln(1−λ)]/[ln λ − ln(1−λ)] in λ). Branches:
    /// - |ℓ| < [`Self::ICDF_SERIES_BELOW`]: Σ_{k=0}^{7} c_k(u) ℓ^k with polynomial
    ///   coefficients (c_0 = u, c_1 = u(1−u)/2, c_2 = u(1−u)(1−2u)/6, …), which
    ///   avoids the 0/0 at ℓ = 0 and the cancellation in the derivative;
    /// - ℓ > 16: 1 + ln(u·(1 − e^{−ℓ}) + e^{−ℓ})/ℓ (no overflow of expm1(ℓ));
    /// - otherwise log1p(u·expm1(ℓ))/ℓ (for ℓ < 0, expm1(ℓ) ∈ (−1, 0): no overflow).
    ///
    /// The result is clamped to [0, 1] against rounding.
    pub fn icdf(&self, u: Tensor<2>) -> Tensor<2> {
        icdf(self.logits.clone(), u)
    }

    /// Entropy per dimension, `[B, D]` (see [`Entropy::entropy`]).
    pub fn entropy_per_dim(&self) -> Tensor<2> {
        entropy(self.logits.clone())
    }
}

impl Distribution for ContinuousBernoulli {
    /// Values in [0, 1], `[B, D]`.
    type Value = Tensor<2>;

    fn shape(&self) -> DistShape {
        self.shape.clone()
    }

    fn device(&self) -> Device {
        self.logits.device()
    }

    /// Σ_d x·ℓ − softplus(ℓ) + ln C(ℓ) (see [`ContinuousBernoulli::log_prob_per_dim`]).
    fn log_prob(&self, x: Tensor<2>) -> Tensor<1> {
        self.log_prob_per_dim(x).sum_dim(1).squeeze_dim(1)
    }

    /// F⁻¹(u) with host-drawn u ~ U(0, 1), detached.
    fn sample(&self, rng: &mut HostRng) -> Tensor<2> {
        self.rsample(rng).detach()
    }
}

impl Rsample for ContinuousBernoulli {
    /// u ~ U(0, 1) (open interval), `[B, D]`.
    type Noise = Tensor<2>;

    fn sample_noise(&self, rng: &mut HostRng) -> Tensor<2> {
        noise::uniform_open(rng, self.logits.dims(), &self.logits.device())
    }

    /// x = F⁻¹(u) (see [`ContinuousBernoulli::icdf`]).
    fn rsample_from_noise(&self, u: Tensor<2>) -> Tensor<2> {
        self.icdf(u)
    }
}

impl Entropy for ContinuousBernoulli {
    /// Σ_d H(ℓ_d), H = −E[log p] = A(ℓ) − ℓ·E[x] = softplus(ℓ) − ln C(ℓ) − ℓ·E[x]
    /// (≤ 0: the uniform, ℓ = 0, has the largest entropy, 0). H is even in ℓ.
    ///
    /// For |ℓ| < [`ContinuousBernoulli::SERIES_BELOW`]: −ℓ²/24 + ℓ⁴/960 − ℓ⁶/36288 + ℓ⁸/1382400 −
    /// ℓ¹⁰/53222400. Otherwise, with t = |ℓ|:
    /// H = 1 − ln t + ln(1 − e^{−t}) − t·e^{−t}/(1 − e^{−t}) (`log1mexp`),
    /// which has no cancellation between large terms.
    fn entropy(&self) -> Tensor<1> {
        self.entropy_per_dim().sum_dim(1).squeeze_dim(1)
    }
}

impl KlDivergence<ContinuousBernoulli> for ContinuousBernoulli {
    /// Σ_d (ℓ_p − ℓ_q)·E_p[x] − softplus(ℓ_p) + softplus(ℓ_q) + ln C(ℓ_p) − ln C(ℓ_q).
    ///
    /// log p − log q is linear in x, so its expectation only needs E_p[x]
    /// ([`ContinuousBernoulli::mean`]). Panics if the shapes differ.
    fn kl_divergence(&self, q: &ContinuousBernoulli) -> Tensor<1> {
        assert_eq!(
            self.logits.dims(),
            q.logits.dims(),
            "ContinuousBernoulli ‖ ContinuousBernoulli: shapes differ"
        );
        let lp = self.logits.clone();
        let lq = q.logits.clone();
        ((lp.clone() - lq.clone()) * mean(lp.clone()) - softplus(lp.clone())
            + softplus(lq.clone())
            + log_norm_const(lp)
            - log_norm_const(lq))
        .sum_dim(1)
        .squeeze_dim(1)
    }
}

/// Σ_i c_i·x^i by Horner's rule (`coeffs` lowest degree first, non-empty).
fn horner(x: Tensor<2>, coeffs: &[f64]) -> Tensor<2> {
    let (last, rest) = coeffs.split_last().expect("non-empty coefficients");
    let mut acc = x.zeros_like() + *last;
    for &c in rest.iter().rev() {
        acc = acc * x.clone() + c;
    }
    acc
}

/// Splits ℓ into the series argument (ℓ where |ℓ| < `below`, else 0), the
/// closed-form argument t = |ℓ| (where |ℓ| ≥ `below`, else 1) and the mask of
/// the series region.
fn split_at(l: Tensor<2>, below: f64) -> (Tensor<2>, Tensor<2>, Tensor<2, Bool>) {
    let t = l.clone().abs();
    let small = t.clone().lower_elem(below);
    let l_series = l.mask_fill(small.clone().bool_not(), 0.0);
    let t_direct = t.mask_fill(small.clone(), 1.0);
    (l_series, t_direct, small)
}

/// eˣ − 1: `expm1` for x ≥ −1, `exp(x) − 1` below (no cancellation there, and
/// `expm1`'s Kahan form loses accuracy — and its gradient overflows — once eˣ is
/// subnormal in f32, x < −87).
fn expm1_nonsubnormal(x: Tensor<2>) -> Tensor<2> {
    let far = x.clone().lower_elem(-1.0);
    let near = expm1(x.clone().mask_fill(far.clone(), -0.5));
    near.mask_where(far, x.exp() - 1.0)
}

fn log_norm_const(l: Tensor<2>) -> Tensor<2> {
    let (ls, t, small) = split_at(l, ContinuousBernoulli::SERIES_BELOW);
    let s = ls.clone() * ls;
    let series = s.clone() * horner(s, &LN_C_SERIES) + std::f64::consts::LN_2;
    let direct = t.clone().log() + t.clone().neg().exp().log1p() - log1mexp(t.neg());
    direct.mask_where(small, series)
}

fn mean(l: Tensor<2>) -> Tensor<2> {
    let negative = l.clone().lower_elem(0.0);
    let (ls, t, small) = split_at(l, ContinuousBernoulli::SERIES_BELOW);
    let s = ls.clone() * ls.clone();
    let series = ls * horner(s, &MEAN_SERIES) + 0.5;
    // m(t) = 1/(1 − e^{−t}) − 1/t, the mean for logit +t. For t ≥ 1, 1 − e^{−t}
    // has no cancellation (and e^{−t} may be subnormal, which `expm1`'s
    // Kahan form does not tolerate).
    let m = (t.clone().neg().exp().neg() + 1.0).recip() - t.recip();
    let direct = m.clone().mask_where(negative, m.neg() + 1.0);
    direct.mask_where(small, series)
}

fn entropy(l: Tensor<2>) -> Tensor<2> {
    let (ls, t, small) = split_at(l, ContinuousBernoulli::SERIES_BELOW);
    let s = ls.clone() * ls;
    let series = s.clone() * horner(s, &ENTROPY_SERIES);
    let w = t.clone().neg().exp().neg() + 1.0; // 1 − e^{−t}, t ≥ 1
    let direct = log1mexp(t.clone().neg()) - t.clone().log() + 1.0 - t.clone() * t.neg().exp() / w;
    direct.mask_where(small, series)
}

fn icdf(l: Tensor<2>, u: Tensor<2>) -> Tensor<2> {
    let small = l
        .clone()
        .abs()
        .lower_elem(ContinuousBernoulli::ICDF_SERIES_BELOW);
    let large = l.clone().greater_elem(ICDF_LARGE_ABOVE);
    // Series in (u, ℓ): Σ_k c_k(u) ℓ^k, Horner in ℓ.
    let ls = l.clone().mask_fill(small.clone().bool_not(), 0.0);
    let mut series = horner(u.clone(), ICDF_SERIES[ICDF_SERIES.len() - 1]);
    for c in ICDF_SERIES.iter().rev().skip(1) {
        series = series * ls.clone() + horner(u.clone(), c);
    }
    // General closed form on a safe argument (1) where another branch is used.
    let lg = l
        .clone()
        .mask_fill(small.clone().bool_or(large.clone()), 1.0);
    let general = (u.clone() * expm1_nonsubnormal(lg.clone())).log1p() / lg;
    // Large positive ℓ on a safe argument (2·16) elsewhere.
    let lb = l.mask_fill(large.clone().bool_not(), 2.0 * ICDF_LARGE_ABOVE);
    let e = lb.clone().neg().exp();
    let big = (u * (e.clone().neg() + 1.0) + e).log() / lb + 1.0;
    general
        .mask_where(large, big)
        .mask_where(small, series)
        .clamp(0.0, 1.0)
}
