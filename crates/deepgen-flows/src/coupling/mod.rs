//! Coupling layers: mask + conditioner + elementwise bijection (Dinh et al. 2014, 2017).
//!
//! A binary mask splits the input into a *conditioning* part (passes through unchanged) and a
//! *transformed* part. The conditioner sees the input with the transformed positions zeroed
//! (plus the context) and emits `P` parameters for every position; the
//! [elementwise bijection](crate::elementwise) maps the transformed positions with them:
//!
//! ```text
//! params = NN(x ⊙ (1 − m), context)
//! y      = x where m = 0,   g(x; params) where m = 1
//! ln|det ∂y/∂x| = Σ_{m = 1} ln|g'(x; params)|
//! ```
//!
//! The Jacobian is block-triangular, hence the ladj. The output is assembled with
//! `mask_where`, so the conditioning positions are bit-for-bit the input (not `x·1 + 0·g`, which
//! would turn an infinite `g` into NaN), and the ladj sums only the transformed positions.
//!
//! Masks ([`VectorMask`], [`ImageMask`]) are rebuilt from the input's shape at every call (a
//! few bytes uploaded), so image couplings work at any resolution; `reverse` swaps the two
//! parts, and consecutive layers alternate it.

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

/// The coupling arithmetic shared by vectors and images: applies `bijection` (forward or
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
    let flat = x.clone().reshape([b * m]);
    let (y, l) = if inverse {
        bijection.inverse(flat, params)
    } else {
        bijection.forward(flat, params)
    };
    let out = x.mask_where(transformed.clone(), y.reshape(dims));
    let l = l.reshape([b, m]);
    let ladj = l
        .zeros_like()
        .mask_where(transformed.reshape([b, m]), l)
        .sum_dim(1)
        .squeeze_dim(1);
    (out, ladj)
}
