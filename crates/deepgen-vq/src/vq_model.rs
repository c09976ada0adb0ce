//! What the VQ training task needs from a model with one or more code levels
//! ([`VqVae`](crate::vqvae::VqVae): one; [`VqVae2`](crate::vqvae2::VqVae2): top and bottom).

use burn::module::Module;
use burn::tensor::{Int, Tensor};
use deepgen_tensor::HostRng;

use crate::quantizer::{QuantizerOutput, VectorQuantizer};

/// One forward pass of a VQ autoencoder: the reconstruction and, per code level, the quantizer
/// output and the code map.
#[derive(Debug, Clone)]
pub struct VqForward {
    /// Reconstructions (unclamped), `[B, C, H, W]`.
    pub reconstruction: Tensor<4>,
    /// Mean squared error per pixel, `[1]`.
    pub recon_mse: Tensor<1>,
    /// Per level (in [`VqModel::level_names`] order): the quantizer's output.
    pub levels: Vec<QuantizerOutput>,
    /// Per level: the code map `[B, h, w]`.
    pub codes: Vec<Tensor<3, Int>>,
}

impl VqForward {
    /// `recon_scale · recon_mse + Σ_levels (codebook + β · commitment)`, `[1]`.
    pub fn loss(&self, recon_scale: f64) -> Tensor<1> {
        self.levels
            .iter()
            .fold(self.recon_mse.clone().mul_scalar(recon_scale), |acc, q| {
                acc + q.loss.clone()
            })
    }
}

/// A vector-quantized autoencoder the [`VqTask`](crate::tasks::vq_task::VqTask) can train.
pub trait VqModel: Module + Sized {
    /// Names of the code levels, e.g. `["codes"]` or `["top", "bottom"]` (metric prefixes).
    fn level_names(&self) -> Vec<&'static str>;

    /// Encodes, quantizes and decodes images in `[0, 1]`, `[B, C, H, W]`.
    fn vq_forward(&self, x: Tensor<4>) -> VqForward;

    /// The code maps of images in `[0, 1]`, one per level, `[B, h, w]` each — without
    /// decoding (the default runs [`vq_forward`](Self::vq_forward) and drops the rest).
    fn encode_levels(&self, x: Tensor<4>) -> Vec<Tensor<3, Int>> {
        self.vq_forward(x).codes
    }

    /// The quantizer of level `i`.
    fn quantizer(&self, level: usize) -> &VectorQuantizer;

    /// Replaces the quantizer of level `i` (keeping parameter ids: the quantizer's own update
    /// methods do).
    fn map_quantizer(
        self,
        level: usize,
        f: &mut dyn FnMut(VectorQuantizer) -> VectorQuantizer,
    ) -> Self;

    /// Image shape `[C, H, W]`.
    fn image_shape(&self) -> [usize; 3];

    /// Initialises every codebook whose config asks for it by k-means on the encoder outputs
    /// of `x`, level by level (a later level's inputs depend on the earlier levels' codes).
    fn kmeans_init(mut self, x: Tensor<4>, rng: &mut HostRng) -> Self {
        for level in 0..self.level_names().len() {
            let q = self.quantizer(level);
            if !q.kmeans_init {
                continue;
            }
            let iters = q.kmeans_iters;
            let z = self.vq_forward(x.clone()).levels[level].inputs.clone();
            self = self.map_quantizer(level, &mut |q| q.kmeans_init(z.clone(), iters, rng));
        }
        self
    }
}
