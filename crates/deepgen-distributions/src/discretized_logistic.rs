//! Discretized logistic mixture: the PixelCNN++ likelihood (Salimans et al. 2017)
//! for 8-bit (or `num_bins`-level) images, one independent mixture per sub-pixel.

use burn::tensor::activation::{sigmoid, softmax};
use burn::tensor::{Device, Tensor, TensorData};
use deepgen_tensor::numerics::tensor::{expm1, log1mexp, logsumexp, softplus};
use deepgen_tensor::rng::HostRng;

use crate::{DistShape, Distribution, DistributionError, Result, check};

/// Lower clamp of the log-scales ln s (PixelCNN++'s −7, s ≥ 9.1e-4): applied
/// before every use, with zero gradient below it (as `tf.maximum` in PixelCNN++).
pub const MIN_LOG_SCALE: f64 = -7.0;

/// Floor of the bin width in logistic units, 2δ/s, inside `ln(1 − e^{−2δ/s})`:
/// only reached for ln s > ~64, where the result would otherwise be −∞.
const MIN_SCALED_WIDTH: f64 = 1e-30;

/// Interior-bin masses below this use PixelCNN++'s density approximation under
/// [`TinyMassRule::PixelCnnPlusPlus`] (PixelCNN++: `cdf_delta > 1e-5`).
const PIXELCNN_TINY_MASS: f64 = 1e-5;

/// How interior bins with a tiny probability mass are evaluated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TinyMassRule {
    /// The exact mass at every size, computed in log space (the default):
    /// ln[σ(a) − σ(b)] = ln σ(a) + ln σ(−b) + ln(1 − e^{−(a−b)}), which is
    /// finite and accurate however small the mass, so no fallback is needed
    /// and the likelihood stays normalised and smooth in the parameters.
    #[default]
    Exact,
    /// PixelCNN++'s rule: where the interior mass is below 1e-5, use the
    /// density approximation ln pdf(x) + ln(2δ) (the logistic log-density at
    /// the bin centre times the bin width). Matches published PixelCNN++
    /// numbers exactly, but it is discontinuous at the 1e-5 switch and, far in
    /// a tail, is below the exact log-mass by ln(sinh(δ/s)/(δ/s)) (2.1 nats
    /// at PixelCNN++'s smallest scale, ln s = −7, with 256 bins).
    /// The switch is decided on the exact log-mass, so no NaN can leak.
    PixelCnnPlusPlus,
}

/// A batch of discretized logistic mixtures over `num_bins`-level sub-pixels,
/// the PixelCNN++ likelihood with every sub-pixel modelled independently.
///
/// **Layout** (all `[B, K, P]`, the crate's mixture layout): `logits` (mixture
/// logits π), `means` μ and `log_scales` ln s, for B batch elements, K
/// components and P = C·H·W sub-pixels (set the image shape with
/// [`with_event_shape`](Self::with_event_shape)). A decoder that emits
/// `[B, 3K, P]` can be split with [`from_channels`](Self::from_channels).
/// PixelCNN++'s linear RGB coupling coefficients are **not** included:
/// channels are independent given the parameters (exact for grey MNIST).
///
/// **Data**: `x` `[B, P]` on the grid x = 2v/(n−1) − 1, v ∈ {0, …, n−1}, n =
/// `num_bins` (default 256, so x ∈ {−1, −1 + 2/255, …, 1}); the bin half-width
/// is δ = 1/(n−1). See [`grid_from_unit`](Self::grid_from_unit) and
/// [`grid_from_levels`](Self::grid_from_levels).
///
/// **Log-mass** of one component (logistic CDF F(y) = σ((y − μ)/s), s =
/// exp(max(ln s, [`MIN_LOG_SCALE`]))), with a = (x + δ − μ)/s, b = (x − δ − μ)/s:
/// - left edge (v = 0): ln F(x + δ) = ln σ(a) = −softplus(−a);
/// - right edge (v = n−1): ln(1 − F(x − δ)) = ln σ(−b) = −softplus(b);
/// - interior: ln[σ(a) − σ(b)] = ln σ(a) + ln σ(−b) + ln(1 − e^{−2δ/s}), using
///   σ(a) − σ(b) = σ(a)·σ(−b)·(1 − e^{b−a}) and a − b = 2δ/s, with `log1mexp`.
///
/// Every term is finite for finite parameters, so there is no underflow to
/// ln 0, no catastrophic cancellation of two CDFs near 1, and no `where` with
/// a NaN branch: the edge cases are selected by multiplying each term with a
/// 0/1 mask of `x`. See [`TinyMassRule`] for PixelCNN++'s tiny-mass fallback.
/// The mixture is ln p(x) = logsumexp_k(log_softmax(π)_k + ln mass_k(x)),
/// summed over the P sub-pixels.
#[derive(Debug, Clone)]
pub struct DiscretizedLogisticMixture {
    /// Mixture logits π, `[B, K, P]`.
    pub logits: Tensor<3>,
    /// Component means μ (data units, [−1, 1] for the data), `[B, K, P]`.
    pub means: Tensor<3>,
    /// Component log-scales ln s (unclamped; clamped at [`MIN_LOG_SCALE`] on use), `[B, K, P]`.
    pub log_scales: Tensor<3>,
    num_bins: usize,
    tiny_mass: TinyMassRule,
    shape: DistShape,
}

impl DiscretizedLogisticMixture {
    /// Builds the mixture from logits, means and log-scales, each `[B, K, P]`
    /// (equal shapes, no zero-sized dimension), with 256 bins and
    /// [`TinyMassRule::Exact`].
    pub fn new(logits: Tensor<3>, means: Tensor<3>, log_scales: Tensor<3>) -> Result<Self> {
        const NAME: &str = "DiscretizedLogisticMixture";
        check::non_empty(NAME, "logits", &logits)?;
        check::same_shape(NAME, "logits", &logits, "means", &means)?;
        check::same_shape(NAME, "logits", &logits, "log_scales", &log_scales)?;
        let [b, _, p] = logits.dims();
        Ok(Self {
            logits,
            means,
            log_scales,
            num_bins: 256,
            tiny_mass: TinyMassRule::Exact,
            shape: DistShape::vector(b, p),
        })
    }

    /// Splits a decoder output `[B, 3K, P]` into logits (channels `0..K`),
    /// means (`K..2K`) and log-scales (`2K..3K`) — PixelCNN++'s order — and
    /// calls [`new`](Self::new).
    pub fn from_channels(params: Tensor<3>, num_components: usize) -> Result<Self> {
        let dims = params.dims();
        if num_components == 0 || dims[1] != 3 * num_components {
            return Err(DistributionError::Shape {
                distribution: "DiscretizedLogisticMixture",
                argument: "params",
                got: dims.to_vec(),
                expected: format!(
                    "[B, 3·num_components, P] with num_components = {num_components} ≥ 1"
                ),
            });
        }
        let k = num_components;
        Self::new(
            params.clone().narrow(1, 0, k),
            params.clone().narrow(1, k, k),
            params.narrow(1, 2 * k, k),
        )
    }

    /// Sets the number of levels n ≥ 2 (grid x = 2v/(n−1) − 1, half-width 1/(n−1)).
    pub fn with_num_bins(mut self, num_bins: usize) -> Result<Self> {
        check::scalar(
            "DiscretizedLogisticMixture",
            "num_bins",
            num_bins as f64,
            "must be ≥ 2",
            |n| n >= 2.0,
        )?;
        self.num_bins = num_bins;
        Ok(self)
    }

    /// Chooses how tiny interior masses are evaluated (default [`TinyMassRule::Exact`]).
    pub fn with_tiny_mass_rule(mut self, rule: TinyMassRule) -> Self {
        self.tiny_mass = rule;
        self
    }

    /// Sets a multi-dimensional event shape (e.g. `[1, 28, 28]`) with `P` elements.
    pub fn with_event_shape(mut self, event: Vec<usize>) -> Result<Self> {
        self.shape = self.shape.with_event("DiscretizedLogisticMixture", event)?;
        Ok(self)
    }

    /// Number of levels n.
    pub fn num_bins(&self) -> usize {
        self.num_bins
    }

    /// Number of mixture components K.
    pub fn num_components(&self) -> usize {
        self.logits.dims()[1]
    }

    /// The tiny-mass rule in use.
    pub fn tiny_mass_rule(&self) -> TinyMassRule {
        self.tiny_mass
    }

    /// Bin half-width δ = 1/(n − 1) in data units.
    pub fn bin_half_width(&self) -> f64 {
        1.0 / (self.num_bins - 1) as f64
    }

    /// Log-mass of each component at `x` (`[B, P]`, on the grid), `[B, K, P]`
    /// (see the type-level docs for the three cases).
    pub fn component_log_mass(&self, x: Tensor<2>) -> Tensor<3> {
        let delta = self.bin_half_width();
        let x3: Tensor<3> = x.unsqueeze_dim(1); // [B, 1, P]
        // Edge masks from the data only (midway to the neighbouring grid point).
        let not_left = x3.clone().greater_equal_elem(-1.0 + delta).float();
        let not_right = x3.clone().lower_equal_elem(1.0 - delta).float();
        let interior = not_left.clone() * not_right.clone();

        let log_s = self.log_scales.clone().clamp_min(MIN_LOG_SCALE);
        let inv_s = log_s.clone().neg().exp();
        let centered = x3 - self.means.clone();
        let a = (centered.clone() + delta) * inv_s.clone();
        let b = (centered.clone() - delta) * inv_s.clone();
        let log_cdf_plus = softplus(a.neg()).neg(); // ln σ(a)
        let log_sf_minus = softplus(b).neg(); // ln σ(−b) = ln(1 − σ(b))
        let width = (inv_s.clone() * (2.0 * delta)).clamp_min(MIN_SCALED_WIDTH);
        let log_width = log1mexp(width.neg()); // ln(1 − e^{−2δ/s})

        let log_mass =
            log_cdf_plus * not_right + log_sf_minus * not_left + log_width * interior.clone();
        match self.tiny_mass {
            TinyMassRule::Exact => log_mass,
            TinyMassRule::PixelCnnPlusPlus => {
                let mid = centered * inv_s;
                let log_pdf = mid.clone() - log_s - softplus(mid) * 2.0;
                let approx = log_pdf + (2.0 * delta).ln();
                let tiny = (log_mass.clone().lower_elem(PIXELCNN_TINY_MASS.ln()).float()
                    * interior)
                    .greater_elem(0.5);
                log_mass.mask_where(tiny, approx)
            }
        }
    }

    /// Log-probability of each sub-pixel, `[B, P]`:
    /// logsumexp_k(log_softmax(π)_k + ln mass_k(x)).
    pub fn log_prob_per_dim(&self, x: Tensor<2>) -> Tensor<2> {
        let log_w = self.logits.clone() - logsumexp(self.logits.clone(), 1);
        logsumexp(log_w + self.component_log_mass(x), 1).squeeze_dim(1)
    }

    /// The mean of the clamped mixture, `[B, P]`: Σ_k softmax(π)_k·E[clamp(Y_k, −1, 1)]
    /// with Y_k ~ Logistic(μ_k, s_k) — the mean of [`sample`](Distribution::sample)
    /// before rounding to the grid (rounding moves it by at most a midpoint-rule
    /// error, O(δ²/s²) relative to the bin).
    ///
    /// E[clamp(Y, −1, 1)] = −1 + ∫_{−1}^{1} (1 − F) = −1 + s·[softplus(p) − softplus(q)],
    /// p = (1 + μ)/s, q = (μ − 1)/s; the difference is computed as
    /// log1p(σ(q)·expm1(2/s)) while 2/s ≤ 20 (no cancellation for large s) and
    /// directly otherwise. Always in [−1, 1]; ≈ clamp(μ) for small s.
    pub fn mean(&self) -> Tensor<2> {
        const DIRECT_ABOVE: f64 = 20.0;
        let log_s = self.log_scales.clone().clamp_min(MIN_LOG_SCALE);
        let s = log_s.clone().exp();
        let inv_s = log_s.neg().exp();
        let mu = self.means.clone();
        let p = (mu.clone() + 1.0) * inv_s.clone();
        let q = (mu - 1.0) * inv_s.clone();
        let r = inv_s * 2.0;
        let direct_mask = r.clone().greater_elem(DIRECT_ABOVE);
        let r_small = r.clamp_max(DIRECT_ABOVE);
        let via_log1p = (sigmoid(q.clone()) * expm1(r_small)).log1p();
        let direct = softplus(p) - softplus(q);
        let diff = via_log1p.mask_where(direct_mask, direct);
        let comp_mean = (s * diff - 1.0).clamp(-1.0, 1.0);
        let w = softmax(self.logits.clone(), 1);
        (w * comp_mean).sum_dim(1).squeeze_dim(1)
    }

    /// Maps grey levels in [0, 1] (`[B, P]`) to the nearest grid point:
    /// v = round(clamp(x, 0, 1)·(n − 1)), x ↦ 2v/(n − 1) − 1 (for n = 256 and
    /// x = level/255 this is exact). No gradient (rounding).
    pub fn grid_from_unit(x: Tensor<2>, num_bins: usize) -> Tensor<2> {
        let m = (num_bins.max(2) - 1) as f64;
        (x.clamp(0.0, 1.0) * m).round() * (2.0 / m) - 1.0
    }

    /// Maps integer levels v ∈ {0, …, n − 1} (row-major `shape` = `[B, P]`) to the
    /// grid, 2v/(n − 1) − 1. Errors if the length or a level is out of range.
    pub fn grid_from_levels(
        levels: &[u8],
        shape: [usize; 2],
        num_bins: usize,
        device: &Device,
    ) -> Result<Tensor<2>> {
        const NAME: &str = "DiscretizedLogisticMixture";
        check::scalar(NAME, "num_bins", num_bins as f64, "must be ≥ 2", |n| {
            n >= 2.0
        })?;
        if levels.len() != shape[0] * shape[1] {
            return Err(DistributionError::Shape {
                distribution: NAME,
                argument: "levels",
                got: vec![levels.len()],
                expected: format!("{} levels (shape {shape:?})", shape[0] * shape[1]),
            });
        }
        if let Some((i, v)) = levels
            .iter()
            .enumerate()
            .find(|(_, v)| usize::from(**v) >= num_bins)
        {
            return Err(DistributionError::InvalidParameter {
                distribution: NAME,
                argument: "levels",
                reason: format!("must be < num_bins = {num_bins}, but element {i} is {v}"),
            });
        }
        let m = (num_bins - 1) as f64;
        let data: Vec<f32> = levels
            .iter()
            .map(|&v| (2.0 * f64::from(v) / m - 1.0) as f32)
            .collect();
        Ok(Tensor::from_data(TensorData::new(data, shape), device))
    }

    /// Maps grid values back to grey levels in [0, 1]: (x + 1)/2.
    pub fn grid_to_unit(x: Tensor<2>) -> Tensor<2> {
        (x + 1.0) * 0.5
    }
}

impl Distribution for DiscretizedLogisticMixture {
    /// Grid values in [−1, 1], `[B, P]`.
    type Value = Tensor<2>;

    fn shape(&self) -> DistShape {
        self.shape.clone()
    }

    fn device(&self) -> Device {
        self.logits.device()
    }

    /// Σ_p ln p(x_p) (see [`DiscretizedLogisticMixture::log_prob_per_dim`]), `[B]`.
    fn log_prob(&self, x: Tensor<2>) -> Tensor<1> {
        self.log_prob_per_dim(x).sum_dim(1).squeeze_dim(1)
    }

    /// Draws on the host (parameters are read back once, in f64): for every
    /// sub-pixel in row-major `[B, P]` order, K Gumbel variates g_k = −ln(−ln u)
    /// pick the component k* = argmax_k π_k + g_k (Gumbel-max), then one
    /// uniform u gives y = μ + s·(ln u − ln(1 − u)), clamped to [−1, 1] and
    /// rounded to the nearest grid point. No gradient.
    fn sample(&self, rng: &mut HostRng) -> Tensor<2> {
        let [b, k, p] = self.logits.dims();
        let logits = check::host_values(&self.logits);
        let means = check::host_values(&self.means);
        let log_scales = check::host_values(&self.log_scales);
        let m = (self.num_bins - 1) as f64;
        let mut out = Vec::with_capacity(b * p);
        for bi in 0..b {
            for pi in 0..p {
                let at = |c: usize| (bi * k + c) * p + pi;
                let mut best = (f64::NEG_INFINITY, 0);
                for c in 0..k {
                    let g = -(-rng.uniform_open().ln()).ln();
                    let score = logits[at(c)] + g;
                    if score > best.0 {
                        best = (score, c);
                    }
                }
                let i = at(best.1);
                let u = rng.uniform_open();
                let s = log_scales[i].max(MIN_LOG_SCALE).exp();
                let y = (means[i] + s * (u.ln() - (-u).ln_1p())).clamp(-1.0, 1.0);
                let v = ((y + 1.0) * 0.5 * m).round();
                out.push((2.0 * v / m - 1.0) as f32);
            }
        }
        Tensor::from_data(TensorData::new(out, [b, p]), &self.logits.device())
    }
}
