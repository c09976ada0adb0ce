//! k-means initialisation of the codebook (Łańcucki et al. 2020; vector-quantize-pytorch's
//! `kmeans_init`): Lloyd's algorithm on the first batch's encoder outputs, on the device.
//!
//! Centres start at K distinct rows drawn with the caller's [`HostRng`] (rows are reused, in
//! a fresh random order, when the batch has fewer than K); a centre that loses all its rows
//! keeps its previous position. The EMA statistics restart from the result (cluster sizes =
//! the final assignment counts, at least 1), so EMA updates continue from the clustering.

use burn::tensor::{Int, Tensor, TensorData};
use deepgen_tensor::HostRng;

use super::VectorQuantizer;
use super::ema::{BatchStats, l2_normalize, replace};

impl VectorQuantizer {
    /// Replaces the codebook by `iters` Lloyd iterations of k-means on the rows of `z`.
    ///
    /// # Shapes
    /// - z: `[N, D]` (encoder outputs; detached here)
    pub fn kmeans_init(mut self, z: Tensor<2>, iters: usize, rng: &mut HostRng) -> Self {
        let z = z.detach();
        let z = if self.cosine { l2_normalize(z) } else { z };
        let [n, _] = z.dims();
        let k = self.num_codes();
        if n == 0 {
            return self;
        }
        let device = z.device();
        let mut order: Vec<i64> = Vec::with_capacity(k);
        while order.len() < k {
            let perm = rng.permutation(n);
            order.extend(perm.into_iter().take(k - order.len()).map(|i| i as i64));
        }
        let idx = Tensor::<1, Int>::from_data(TensorData::new(order, [k]), &device);
        let mut centres = z.clone().select(0, idx);
        let mut counts = Tensor::<1>::zeros([k], &device);
        for _ in 0..iters {
            self.codebook = replace(self.codebook, centres.clone());
            let codes = self.nearest(z.clone());
            let out = super::QuantizerOutput {
                quantized: z.clone(),
                codes,
                codebook_loss: Tensor::zeros([1], &device),
                commitment_loss: Tensor::zeros([1], &device),
                loss: Tensor::zeros([1], &device),
                inputs: z.clone(),
            };
            let stats = BatchStats::of(&out, k);
            let empty = stats
                .counts
                .clone()
                .equal_elem(0.0)
                .float()
                .unsqueeze_dim(1);
            let means = stats.sums / stats.counts.clone().clamp_min(1.0).unsqueeze_dim(1);
            centres = means * (empty.clone().neg().add_scalar(1.0)) + centres * empty;
            if self.cosine {
                centres = l2_normalize(centres);
            }
            counts = stats.counts;
        }
        let counts = counts.clamp_min(1.0);
        let sums = centres.clone() * counts.clone().unsqueeze_dim(1);
        self.codebook = replace(self.codebook, centres);
        self.ema_count = replace(self.ema_count, counts);
        self.ema_sum = replace(self.ema_sum, sums);
        let zeros = self.steps_unused.val().detach().zeros_like();
        self.steps_unused = replace(self.steps_unused, zeros);
        self
    }
}
