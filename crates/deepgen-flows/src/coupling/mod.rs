//! Coupling layers: mask + conditioner + elementwise bijection (Dinh et al. 2014, 2017).
//!
//! A binary mask splits the input into a *conditioning* part (passes through unchanged) and a
//! *transformed* part; the conditioner reads the conditioning part (plus the context) and
//! emits `P` parameters per transformed element, and the
//! [elementwise bijection](crate::elementwise) maps the transformed part with them:
//!
//! ```text
//! params = NN(x_cond, context)
//! y      = x where m = 0,   g(x; params) where m = 1
//! ln|det ∂y/∂x| = Σ_{m = 1} ln|g'(x; params)|
//! ```
//!
//! The Jacobian is block-triangular, hence the ladj. Two layouts compute it:
//!
//! - **Split masks** ([`VectorMask::Halves`], [`ImageMask::ChannelWise`], Glow's and NICE's
//!   split) cut the features (or channels) into two contiguous blocks: the conditioner reads
//!   only the conditioning block (`⌊C/2⌋` or `⌈C/2⌉` channels) and predicts parameters for the
//!   transformed block only, and the output is the two blocks concatenated back. This halves
//!   the first and last layer of every conditioner and the elementwise work against masking.
//! - **Interleaved masks** ([`VectorMask::Alternating`], [`ImageMask::Checkerboard`]) keep
//!   RealNVP's masking formulation: the conditioner sees the whole input with the transformed
//!   positions zeroed and predicts parameters for every position; the output is assembled with
//!   `mask_where`, so the conditioning positions are bit-for-bit the input (not `x·1 + 0·g`,
//!   which would turn an infinite `g` into NaN), and the ladj sums only the transformed
//!   positions.
//!
//! Masks are rebuilt from the input's shape at every call (a few bytes uploaded), so image
//! couplings work at any resolution; `reverse` swaps the two parts, and consecutive layers
//! alternate it.

mod image;
mod vector;

pub use image::{ImageCoupling, ImageCouplingConfig};
pub use vector::{VectorCoupling, VectorCouplingConfig};

use burn::config::Config;
use burn::tensor::{Bool, Device, Tensor, TensorData};

use crate::elementwise::ElementwiseBijection;

/// Which features of a vector `[B, D]` a [`VectorCoupling`] transforms.
#[derive(Config, Debug, PartialEq)]
pub enum VectorMask {
    /// Transform the second half `⌊D/2⌋ ≤ i < D` (`reverse`: the first half).
    Halves,
    /// Transform the odd features (`reverse`: the even ones).
    Alternating,
}

/// `((start, len) of the conditioning block, (start, len) of the transformed block)` of a split
/// mask over `n` features: the transformed block is `⌊n/2⌋ ≤ i < n`, or `0 ≤ i < ⌊n/2⌋` when
/// `reverse` (the same positions as [`VectorMask::Halves`] and [`ImageMask::ChannelWise`]).
pub(crate) fn split_blocks(n: usize, reverse: bool) -> ((usize, usize), (usize, usize)) {
    let h = n / 2;
    if reverse {
        ((h, n - h), (0, h))
    } else {
        ((0, h), (h, n - h))
    }
}

/// A split-mask coupling along dimension 1: `conditioner` maps the conditioning block to the
/// parameters of the transformed block (`[B, P·F_t, ...]`), `bijection` maps that block, and the
/// blocks are concatenated back in their places.
pub(crate) fn couple_split<const R: usize, E: ElementwiseBijection>(
    x: Tensor<R>,
    reverse: bool,
    conditioner: impl FnOnce(Tensor<R>) -> Tensor<R>,
    bijection: &E,
    inverse: bool,
) -> (Tensor<R>, Tensor<1>) {
    let ((cs, cl), (ts, tl)) = split_blocks(x.dims()[1], reverse);
    let kept = x.clone().narrow(1, cs, cl);
    let params = conditioner(kept.clone());
    let (y, ladj) = couple_all(x.narrow(1, ts, tl), params, bijection, inverse);
    let parts = if reverse {
        vec![y, kept]
    } else {
        vec![kept, y]
    };
    (Tensor::cat(parts, 1), ladj)
}

impl VectorMask {
    /// `true` at the transformed features, `[1, dim]`.
    pub fn transformed(&self, dim: usize, reverse: bool, device: &Device) -> Tensor<2, Bool> {
        let v: Vec<bool> = (0..dim)
            .map(|i| {
                let t = match self {
                    Self::Halves => i >= dim / 2,
                    Self::Alternating => i % 2 == 1,
                };
                t != reverse
            })
            .collect();
        Tensor::from_data(TensorData::new(v, [1, dim]), device)
    }
}

/// Which positions of an image `[B, C, H, W]` an [`ImageCoupling`] transforms.
#[derive(Config, Debug, PartialEq)]
pub enum ImageMask {
    /// RealNVP's checkerboard: transform pixels with `h + w` odd, in every channel
    /// (`reverse`: `h + w` even).
    Checkerboard,
    /// RealNVP's channel-wise mask and Glow's split: transform channels `⌊C/2⌋ ≤ c < C`
    /// (`reverse`: the first `⌊C/2⌋`).
    ChannelWise,
}

impl ImageMask {
    /// `true` at the transformed positions, `[1, C, H, W]`.
    pub fn transformed(
        &self,
        [c, h, w]: [usize; 3],
        reverse: bool,
        device: &Device,
    ) -> Tensor<4, Bool> {
        let mut v = Vec::with_capacity(c * h * w);
        for ci in 0..c {
            for hi in 0..h {
                for wi in 0..w {
                    let t = match self {
                        Self::Checkerboard => (hi + wi) % 2 == 1,
                        Self::ChannelWise => ci >= c / 2,
                    };
                    v.push(t != reverse);
                }
            }
        }
        Tensor::from_data(TensorData::new(v, [1, c, h, w]), device)
    }
}

/// The masked coupling arithmetic shared by vectors and images: applies `bijection` (forward or
/// inverse) at the positions where `transformed` is true, with `params` in the conditioners'
/// parameter-major layout, and sums the ladj over those positions.
///
/// # Shapes
/// - x: `[B, F, ...]`
/// - transformed: the same shape as `x`
/// - params: `[B, P·F, ...]`
/// - output: `[B, F, ...]` and the ladj `[B]`
pub(crate) fn couple<const R: usize, E: ElementwiseBijection>(
    x: Tensor<R>,
    transformed: Tensor<R, Bool>,
    params: Tensor<R>,
    bijection: &E,
    inverse: bool,
) -> (Tensor<R>, Tensor<1>) {
    let dims = x.dims();
    let b = dims[0];
    let m: usize = dims[1..].iter().product();
    let (y, l) = elementwise(x.clone(), params, bijection, inverse);
    let out = x.mask_where(transformed.clone(), y);
    let ladj = l
        .zeros_like()
        .mask_where(transformed.reshape([b, m]), l)
        .sum_dim(1)
        .squeeze_dim(1);
    (out, ladj)
}

/// [`couple`] with every position transformed: `(y, ladj)` summed over all elements.
pub(crate) fn couple_all<const R: usize, E: ElementwiseBijection>(
    x: Tensor<R>,
    params: Tensor<R>,
    bijection: &E,
    inverse: bool,
) -> (Tensor<R>, Tensor<1>) {
    let (y, l) = elementwise(x, params, bijection, inverse);
    (y, l.sum_dim(1).squeeze_dim(1))
}

/// `bijection` on every element of `x` with `params` in parameter-major layout
/// (`[B, P·F, ...]`): `(y, ln|derivative|)` with `y` shaped like `x` and the ln-derivatives
/// `[B, F·...]`.
fn elementwise<const R: usize, E: ElementwiseBijection>(
    x: Tensor<R>,
    params: Tensor<R>,
    bijection: &E,
    inverse: bool,
) -> (Tensor<R>, Tensor<2>) {
    let dims = x.dims();
    let b = dims[0];
    let m: usize = dims[1..].iter().product();
    let p = bijection.num_params();
    let pdims = params.dims();
    let pn: usize = pdims.iter().product();
    assert!(
        pdims[0] == b && pn == b * p * m,
        "coupling: conditioner output {pdims:?} does not hold {p} parameters per element of {dims:?}"
    );
    let params = params
        .reshape([b, p, m])
        .swap_dims(1, 2)
        .reshape([b * m, p]);
    let flat = x.reshape([b * m]);
    let (y, l) = if inverse {
        bijection.inverse(flat, params)
    } else {
        bijection.forward(flat, params)
    };
    (y.reshape(dims), l.reshape([b, m]))
}
