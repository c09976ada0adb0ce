//! Image preprocessing as bijections, so that bits/dim includes their Jacobians.
//!
//! # From pixels to a density on `[0, 1]^D`
//!
//! 8-bit pixels `k ∈ {0, …, 255}` are **uniformly dequantised** ([`dequantize`]):
//! `x = (k + u)/256` with `u ~ U[0, 1)` drawn on the host. A model density `p(x)` on `[0, 1]^D`
//! is a density `p(x)/256^D` on the dequantised pixel values `k + u ∈ [0, 256)^D`, whose
//! expectation lower-bounds the discrete log-likelihood (Theis et al. 2016). Hence
//! [`bits_per_dim`]:
//!
//! ```text
//! bpd = −(ln p(x) − D·ln 256) / (D·ln 2)
//! ```
//!
//! with `ln p(x)` the flow's log-density of `x ∈ [0, 1]^D` (including every preprocessing
//! Jacobian below) and `D = C·H·W`.
//!
//! # Preprocessing layers (first steps of an image flow)
//!
//! - [`LogitTransform`] (RealNVP, α = 0.05): `y = logit(α + (1 − 2α)x)`, mapping `[0, 1]` into
//!   a bounded slice of ℝ with `ln|dy/dx| = ln(1 − 2α) − ln p − ln(1 − p)`, `p = α + (1−2α)x`.
//!   `α > 0` keeps `p` inside `[α, 1 − α]`: no infinities at `x = 0` or `1`. The inverse uses
//!   the stable `log_sigmoid` for its ladj.
//! - [`Shift`] (Glow): `y = x + offset` (Glow uses `x − ½`), ladj 0.

use burn::module::Module;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Tensor, TensorData};
use deepgen_tensor::numerics::tensor::log_sigmoid;
use deepgen_tensor::rng::HostRng;

use crate::bijection::{Bijection, sum_per_row, zero_ladj};

/// Number of levels of an 8-bit pixel.
pub const PIXEL_LEVELS: f64 = 256.0;

/// Uniform dequantisation of 8-bit pixels: `x = (k + u)/256`, `u ~ U[0, 1)` from `rng`.
///
/// # Shapes
/// - pixels: any shape, values in `{0, …, 255}` (as floats)
/// - output: the same shape, values in `[0, 1)`
pub fn dequantize<const R: usize>(pixels: Tensor<R>, rng: &mut HostRng) -> Tensor<R> {
    let dims = pixels.dims();
    let n: usize = dims.iter().product();
    let u: Vec<f64> = (0..n)
        .map(|_| rng.uniform().min(1.0 - f64::from(f32::EPSILON)))
        .collect();
    let noise = Tensor::<R>::from_data(TensorData::new(u, dims), &pixels.device());
    (pixels + noise).div_scalar(PIXEL_LEVELS)
}

/// Bits per dimension of 8-bit data from the log-density of its dequantised, `1/256`-scaled
/// version (see the [module docs](self)): `−(ln p(x) − D·ln 256)/(D·ln 2)`.
///
/// # Shapes
/// - log_prob: `[batch]`, `ln p(x)` of `x ∈ [0, 1]^D`
/// - output: `[batch]`
pub fn bits_per_dim(log_prob: Tensor<1>, dims: usize) -> Tensor<1> {
    let d = dims as f64;
    log_prob
        .sub_scalar(d * PIXEL_LEVELS.ln())
        .div_scalar(-d * std::f64::consts::LN_2)
}

/// The logit transform with boundary margin `α` (see the [module docs](self)).
#[derive(Module, Debug)]
pub struct LogitTransform {
    /// `α ∈ (0, ½)`; RealNVP uses 0.05.
    pub alpha: f64,
}

impl LogitTransform {
    /// The transform with margin `alpha`.
    ///
    /// # Panics
    /// Unless `0 < alpha < 0.5`.
    pub fn new(alpha: f64) -> Self {
        assert!(
            alpha > 0.0 && alpha < 0.5,
            "LogitTransform: alpha must be in (0, 0.5), got {alpha}"
        );
        Self { alpha }
    }
}

impl<const R: usize> Bijection<R> for LogitTransform {
    /// # Shapes
    /// - x: any, values in `[0, 1]`
    fn forward_and_ladj(
        &self,
        x: Tensor<R>,
        _context: Option<&Tensor<2>>,
    ) -> (Tensor<R>, Tensor<1>) {
        let a = self.alpha;
        let p = x.mul_scalar(1.0 - 2.0 * a).add_scalar(a);
        let log_p = p.clone().log();
        let log_1mp = p.neg().add_scalar(1.0).log();
        let y = log_p.clone() - log_1mp.clone();
        let ladj = sum_per_row((log_p + log_1mp).neg().add_scalar((1.0 - 2.0 * a).ln()));
        (y, ladj)
    }

    fn inverse_and_ladj(
        &self,
        y: Tensor<R>,
        _context: Option<&Tensor<2>>,
    ) -> (Tensor<R>, Tensor<1>) {
        let a = self.alpha;
        let ladj = sum_per_row(
            (log_sigmoid(y.clone()) + log_sigmoid(y.clone().neg()))
                .sub_scalar((1.0 - 2.0 * a).ln()),
        );
        let x = sigmoid(y).sub_scalar(a).div_scalar(1.0 - 2.0 * a);
        (x, ladj)
    }
}

/// `y = x + offset`, ladj 0 (Glow's `x − ½` centring).
#[derive(Module, Debug)]
pub struct Shift {
    /// The offset added on `forward`.
    pub offset: f64,
}

impl<const R: usize> Bijection<R> for Shift {
    fn forward_and_ladj(
        &self,
        x: Tensor<R>,
        _context: Option<&Tensor<2>>,
    ) -> (Tensor<R>, Tensor<1>) {
        let ladj = zero_ladj(&x);
        (x.add_scalar(self.offset), ladj)
    }

    fn inverse_and_ladj(
        &self,
        z: Tensor<R>,
        _context: Option<&Tensor<2>>,
    ) -> (Tensor<R>, Tensor<1>) {
        let ladj = zero_ladj(&z);
        (z.sub_scalar(self.offset), ladj)
    }
}
