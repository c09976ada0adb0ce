//! The squeeze operation of RealNVP: `[B, C, H, W] → [B, f²·C, H/f, W/f]`, trading spatial
//! resolution for channels (`f = 2` in the papers). A permutation of the elements: ladj 0.
//!
//! Output channel `c·f² + i·f + j` at `(h, w)` holds input channel `c` at `(h·f + i, w·f + j)`,
//! so each `f × f` block of a channel becomes `f²` consecutive channels (Glow's layout).

use burn::module::Module;
use burn::tensor::Tensor;

use crate::bijection::{Bijection, zero_ladj};

/// The squeeze; see the [module docs](self).
#[derive(Module, Debug)]
pub struct Squeeze {
    /// `f` (≥ 1; 2 in RealNVP and Glow).
    pub factor: usize,
}

impl Squeeze {
    /// The squeeze by `factor`.
    ///
    /// # Panics
    /// If `factor` is 0.
    pub fn new(factor: usize) -> Self {
        assert!(factor >= 1, "Squeeze: factor must be at least 1");
        Self { factor }
    }

    /// `[B, C, H, W] → [B, f²C, H/f, W/f]`.
    ///
    /// # Panics
    /// If `H` or `W` is not a multiple of `f`.
    pub fn squeeze(&self, x: Tensor<4>) -> Tensor<4> {
        let f = self.factor;
        let [b, c, h, w] = x.dims();
        assert!(
            h.is_multiple_of(f) && w.is_multiple_of(f),
            "Squeeze: {h}×{w} is not divisible by the factor {f}"
        );
        x.reshape([b, c, h / f, f, w / f, f])
            .permute([0, 1, 3, 5, 2, 4])
            .reshape([b, c * f * f, h / f, w / f])
    }

    /// `[B, f²C, H, W] → [B, C, H·f, W·f]`, the inverse of [`Squeeze::squeeze`].
    ///
    /// # Panics
    /// If the channels are not a multiple of `f²`.
    pub fn unsqueeze(&self, z: Tensor<4>) -> Tensor<4> {
        let f = self.factor;
        let [b, c, h, w] = z.dims();
        assert!(
            c.is_multiple_of(f * f),
            "Squeeze: {c} channels are not divisible by {}",
            f * f
        );
        z.reshape([b, c / (f * f), f, f, h, w])
            .permute([0, 1, 4, 2, 5, 3])
            .reshape([b, c / (f * f), h * f, w * f])
    }
}

impl Bijection<4> for Squeeze {
    fn forward_and_ladj(
        &self,
        x: Tensor<4>,
        _context: Option<&Tensor<2>>,
    ) -> (Tensor<4>, Tensor<1>) {
        let ladj = zero_ladj(&x);
        (self.squeeze(x), ladj)
    }

    fn inverse_and_ladj(
        &self,
        z: Tensor<4>,
        _context: Option<&Tensor<2>>,
    ) -> (Tensor<4>, Tensor<1>) {
        let ladj = zero_ladj(&z);
        (self.unsqueeze(z), ladj)
    }
}
