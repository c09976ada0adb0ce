//! The monotone rational-quadratic spline of Durkan et al. 2019 ("Neural Spline Flows"), with
//! identity ("linear") tails.
//!
//! # The map
//!
//! `K` bins partition `[−B, B]` in `x` (knots `x_0 = −B < … < x_K = B`) and in `y` (knots
//! `y_k`), with positive derivatives `d_0 … d_K` at the knots (`d_0 = d_K = 1`, so the spline
//! joins the identity tails with a continuous derivative). In bin `k`, with `w = x_{k+1} − x_k`,
//! `h = y_{k+1} − y_k`, `s = h/w` and `ξ = (x − x_k)/w ∈ [0, 1]`:
//!
//! ```text
//! y      = y_k + h·(s ξ² + d_k ξ(1−ξ)) / (s + (d_{k+1} + d_k − 2s) ξ(1−ξ))        (eq. 4)
//! dy/dx  = s²·(d_{k+1} ξ² + 2s ξ(1−ξ) + d_k (1−ξ)²) / (s + (d_{k+1} + d_k − 2s) ξ(1−ξ))²   (eq. 5)
//! ```
//!
//! The inverse solves the quadratic `a ξ² + b ξ + c = 0` of appendix A, with `Δ = y − y_k` and
//! `δ = d_{k+1} + d_k − 2s`:
//!
//! ```text
//! a = h(s − d_k) + Δ δ,   b = h d_k − Δ δ,   c = −s Δ,   ξ = 2c / (−b − √(b² − 4ac))
//! ```
//!
//! (the numerically stable root), and its ln|derivative| is minus eq. 5 at that `ξ`. Outside
//! `[−B, B]` the map is the identity with ln|derivative| 0.
//!
//! # Parameters
//!
//! `3K − 1` per element: `K` unnormalised widths, `K` unnormalised heights, `K − 1` unconstrained
//! interior derivatives. Widths are `softmax` scaled so every bin is at least
//! `min_bin_width·2B` wide (`w_k = 2B·(m + (1 − mK)·softmax_k)`), the same for heights;
//! interior derivatives are `min_derivative + softplus(u + c)` with
//! `c = ln(e^{1 − min_derivative} − 1)`, so that `u = 0` gives derivative exactly 1: all-zero
//! parameters are the identity map (equal bins, unit slopes). The first and last knots are set
//! to exactly `∓B`.
//!
//! # No NaN from the tails
//!
//! The spline is evaluated on the input **clamped** into `[−B, B]`, and the result is chosen with
//! a mask (`mask_where`) — identity where `|x| > B`. The unselected spline branch therefore only
//! ever sees in-range, finite values, so its (discarded) gradient is finite too and no
//! `0 · ∞ = NaN` can leak into the parameters' or the input's gradient, whatever the input
//! (±1e6 included). `ξ` is additionally clamped into `[0, 1]` against rounding at the knots.
//! Reference read for cross-checking: nflows' `rational_quadratic.py`; this is written from the
//! paper's formulas, and the tests compare it with an independent f64 host implementation.

use burn::config::Config;
use burn::tensor::activation::softmax;
use burn::tensor::{Int, Tensor};
use deepgen_tensor::config::positive_finite;
use deepgen_tensor::numerics::tensor::softplus;
use deepgen_tensor::{ConfigError, Validate};

use super::{ElementwiseBijection, check_params};

/// The rational-quadratic spline bijection; see the [module docs](self).
#[derive(Config, Debug, PartialEq)]
pub struct RationalQuadraticSpline {
    /// `K`, the number of bins (≥ 2).
    #[config(default = 8)]
    pub bins: usize,
    /// `B`: the spline acts on `[−B, B]`, identity outside.
    #[config(default = 3.0)]
    pub bound: f64,
    /// Smallest bin width as a fraction of `2B` (`bins·min_bin_width < 1`).
    #[config(default = 1e-3)]
    pub min_bin_width: f64,
    /// Smallest bin height as a fraction of `2B` (`bins·min_bin_height < 1`).
    #[config(default = 1e-3)]
    pub min_bin_height: f64,
    /// Smallest interior derivative (in `(0, 1)`).
    #[config(default = 1e-3)]
    pub min_derivative: f64,
}

impl Validate for RationalQuadraticSpline {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "RationalQuadraticSpline";
        if self.bins < 2 {
            return Err(ConfigError::new(
                C,
                "bins",
                format!("must be at least 2, got {}", self.bins),
            ));
        }
        positive_finite(C, "bound", self.bound)?;
        for (field, m) in [
            ("min_bin_width", self.min_bin_width),
            ("min_bin_height", self.min_bin_height),
        ] {
            if !(m >= 0.0 && m * (self.bins as f64) < 1.0) {
                return Err(ConfigError::new(
                    C,
                    field,
                    format!("must be ≥ 0 with bins·{field} < 1, got {m}"),
                ));
            }
        }
        if !(self.min_derivative > 0.0 && self.min_derivative < 1.0) {
            return Err(ConfigError::new(
                C,
                "min_derivative",
                format!("must be in (0, 1), got {}", self.min_derivative),
            ));
        }
        Ok(())
    }
}

/// Knots of one spline per row.
struct Knots {
    /// `x_0 … x_K`, `[N, K+1]`.
    cum_w: Tensor<2>,
    /// Bin widths, `[N, K]`.
    w: Tensor<2>,
    /// `y_0 … y_K`, `[N, K+1]`.
    cum_h: Tensor<2>,
    /// Bin heights, `[N, K]`.
    h: Tensor<2>,
    /// `d_0 … d_K`, `[N, K+1]`.
    d: Tensor<2>,
}

/// The per-element quantities of the bin an element falls in, each `[N, 1]`.
struct Bin {
    x_k: Tensor<2>,
    w: Tensor<2>,
    y_k: Tensor<2>,
    h: Tensor<2>,
    d0: Tensor<2>,
    d1: Tensor<2>,
}

impl RationalQuadraticSpline {
    /// `ln(e^{1 − m} − 1)`: the offset that makes a zero raw derivative equal 1.
    fn derivative_offset(&self) -> f64 {
        (1.0 - self.min_derivative).exp_m1().ln()
    }

    /// Knot positions `[N, K+1]` and bin sizes `[N, K]` from unnormalised sizes `[N, K]`.
    fn edges(&self, raw: Tensor<2>, min: f64) -> (Tensor<2>, Tensor<2>) {
        let [n, k] = raw.dims();
        let b = self.bound;
        let device = raw.device();
        let p = softmax(raw, 1)
            .mul_scalar(1.0 - min * k as f64)
            .add_scalar(min);
        let cum = p.cumsum(1).mul_scalar(2.0 * b).sub_scalar(b);
        let knots = Tensor::cat(
            vec![
                Tensor::full([n, 1], -b, &device),
                cum.narrow(1, 0, k - 1),
                Tensor::full([n, 1], b, &device),
            ],
            1,
        );
        let sizes = knots.clone().narrow(1, 1, k) - knots.clone().narrow(1, 0, k);
        (knots, sizes)
    }

    fn knots(&self, params: Tensor<2>) -> Knots {
        let k = self.bins;
        let n = params.dims()[0];
        let device = params.device();
        let (cum_w, w) = self.edges(params.clone().narrow(1, 0, k), self.min_bin_width);
        let (cum_h, h) = self.edges(params.clone().narrow(1, k, k), self.min_bin_height);
        let interior = softplus(
            params
                .narrow(1, 2 * k, k - 1)
                .add_scalar(self.derivative_offset()),
        )
        .add_scalar(self.min_derivative);
        let ones = Tensor::ones([n, 1], &device);
        let d = Tensor::cat(vec![ones.clone(), interior, ones], 1);
        Knots {
            cum_w,
            w,
            cum_h,
            h,
            d,
        }
    }

    /// Index `[N, 1]` of the bin of each `v` (`[N, 1]`, inside `[−B, B]`): the number of
    /// interior knots `≤ v`, in `0..K`.
    fn bin_index(&self, knots: &Tensor<2>, v: &Tensor<2>) -> Tensor<2, Int> {
        let [n, _] = knots.dims();
        let interior = knots.clone().narrow(1, 1, self.bins - 1);
        v.clone()
            .expand([n, self.bins - 1])
            .greater_equal(interior)
            .int()
            .sum_dim(1)
    }

    fn bin(&self, knots: &Knots, idx: Tensor<2, Int>) -> Bin {
        let next = idx.clone().add_scalar(1);
        Bin {
            x_k: knots.cum_w.clone().gather(1, idx.clone()),
            w: knots.w.clone().gather(1, idx.clone()),
            y_k: knots.cum_h.clone().gather(1, idx.clone()),
            h: knots.h.clone().gather(1, idx.clone()),
            d0: knots.d.clone().gather(1, idx),
            d1: knots.d.clone().gather(1, next),
        }
    }

    /// `ln(dy/dx)` (eq. 5) at `ξ` in a bin with slope `s`.
    fn log_derivative(bin: &Bin, s: Tensor<2>, xi: Tensor<2>) -> Tensor<2> {
        let one_minus = xi.clone().neg().add_scalar(1.0);
        let t = xi.clone() * one_minus.clone();
        let den =
            s.clone() + (bin.d1.clone() + bin.d0.clone() - s.clone().mul_scalar(2.0)) * t.clone();
        let num = bin.d1.clone() * xi.square()
            + s.clone().mul_scalar(2.0) * t
            + bin.d0.clone() * one_minus.square();
        s.log().mul_scalar(2.0) + num.log() - den.log().mul_scalar(2.0)
    }

    /// Shared tail handling: evaluates `inside` on the clamped input and selects.
    fn with_tails(
        &self,
        v: Tensor<1>,
        inside: impl FnOnce(Tensor<2>) -> (Tensor<2>, Tensor<2>),
    ) -> (Tensor<1>, Tensor<1>) {
        let b = self.bound;
        let in_range = v.clone().abs().lower_equal_elem(b);
        let clamped = v.clone().clamp(-b, b).unsqueeze_dim(1);
        let (out, ladj) = inside(clamped);
        let zeros = v.zeros_like();
        (
            v.mask_where(in_range.clone(), out.squeeze_dim(1)),
            zeros.mask_where(in_range, ladj.squeeze_dim(1)),
        )
    }
}

impl ElementwiseBijection for RationalQuadraticSpline {
    fn num_params(&self) -> usize {
        3 * self.bins - 1
    }

    fn forward(&self, x: Tensor<1>, params: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
        check_params("RationalQuadraticSpline", &x, &params, self.num_params());
        let knots = self.knots(params);
        self.with_tails(x, |xc| {
            let bin = self.bin(&knots, self.bin_index(&knots.cum_w, &xc));
            let s = bin.h.clone() / bin.w.clone();
            let xi = ((xc - bin.x_k.clone()) / bin.w.clone()).clamp(0.0, 1.0);
            let t = xi.clone() * xi.clone().neg().add_scalar(1.0);
            let den = s.clone()
                + (bin.d1.clone() + bin.d0.clone() - s.clone().mul_scalar(2.0)) * t.clone();
            let num = bin.h.clone() * (s.clone() * xi.clone().square() + bin.d0.clone() * t);
            let y = bin.y_k.clone() + num / den;
            let ladj = Self::log_derivative(&bin, s, xi);
            (y, ladj)
        })
    }

    fn inverse(&self, y: Tensor<1>, params: Tensor<2>) -> (Tensor<1>, Tensor<1>) {
        check_params("RationalQuadraticSpline", &y, &params, self.num_params());
        let knots = self.knots(params);
        self.with_tails(y, |yc| {
            let bin = self.bin(&knots, self.bin_index(&knots.cum_h, &yc));
            let s = bin.h.clone() / bin.w.clone();
            let delta = yc - bin.y_k.clone();
            let slope_sum = bin.d1.clone() + bin.d0.clone() - s.clone().mul_scalar(2.0);
            let a =
                bin.h.clone() * (s.clone() - bin.d0.clone()) + delta.clone() * slope_sum.clone();
            let b = bin.h.clone() * bin.d0.clone() - delta.clone() * slope_sum;
            let c = s.clone().neg() * delta;
            let disc = (b.clone().square() - a.mul_scalar(4.0) * c.clone()).clamp_min(0.0);
            let xi = (c.mul_scalar(2.0) / (b.neg() - disc.sqrt())).clamp(0.0, 1.0);
            let x = xi.clone() * bin.w.clone() + bin.x_k.clone();
            let ladj = Self::log_derivative(&bin, s, xi).neg();
            (x, ladj)
        })
    }
}
