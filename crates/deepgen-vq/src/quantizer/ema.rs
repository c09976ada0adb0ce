//! Codebook updates by exponential moving averages (van den Oord et al. 2017, Appendix A.1;
//! Sonnet's `VectorQuantizerEMA`), from the statistics of one training batch.
//!
//! ```text
//! N_k ← γ N_k + (1 − γ) n_k                  n_k: rows assigned to code k in the batch
//! m_k ← γ m_k + (1 − γ) Σ_{i: k(i) = k} z_i
//! Ñ_k = (N_k + ε) / (Σ_j N_j + K ε) · Σ_j N_j  (Laplace smoothing: no division by zero)
//! e_k = m_k / Ñ_k                            (cosine codebooks: then L2-normalised)
//! ```

use burn::module::Param;
use burn::tensor::{IndexingUpdateOp, Tensor};

use super::{CodebookUpdate, QuantizerOutput, VectorQuantizer};

/// Per-batch statistics of a quantization: what the EMA update and dead-code re-seeding need.
/// All tensors are detached.
#[derive(Debug, Clone)]
pub struct BatchStats {
    /// Rows assigned to each code, `[K]`.
    pub counts: Tensor<1>,
    /// Sum of the rows assigned to each code, `[K, D]`.
    pub sums: Tensor<2>,
    /// The quantized rows themselves, `[N, D]` (candidates for re-seeding dead codes).
    pub inputs: Tensor<2>,
}

impl BatchStats {
    /// The statistics of `out` for a codebook of `num_codes` codes.
    pub fn of(out: &QuantizerOutput, num_codes: usize) -> Self {
        let inputs = out.inputs.clone().detach();
        let [n, d] = inputs.dims();
        let device = inputs.device();
        let counts = Tensor::<1>::zeros([num_codes], &device).select_assign(
            0,
            out.codes.clone(),
            Tensor::ones([n], &device),
            IndexingUpdateOp::Add,
        );
        let sums = Tensor::<2>::zeros([num_codes, d], &device).select_assign(
            0,
            out.codes.clone(),
            inputs.clone(),
            IndexingUpdateOp::Add,
        );
        Self {
            counts,
            sums,
            inputs,
        }
    }

    /// The statistics of several batches (or several maps of one batch) together.
    pub fn merge(self, other: Self) -> Self {
        Self {
            counts: self.counts + other.counts,
            sums: self.sums + other.sums,
            inputs: Tensor::cat(vec![self.inputs, other.inputs], 0),
        }
    }
}

/// Rows of `x` divided by their L2 norms (1e-12 guards zero rows).
///
/// # Shapes
/// - x: `[N, D]`
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).add_scalar(1e-12).sqrt();
    x / norm
}

/// Replaces a parameter's value, keeping its id and its gradient setting.
pub(crate) fn replace<const D: usize>(p: Param<Tensor<D>>, value: Tensor<D>) -> Param<Tensor<D>> {
    p.map(|old| {
        let grad = old.is_require_grad();
        value.detach().set_require_grad(grad)
    })
}

impl VectorQuantizer {
    /// One EMA step of the codebook from a batch's statistics (see the [module docs](self)).
    /// A quantizer trained by gradient is returned unchanged.
    pub fn ema_update(mut self, stats: &BatchStats) -> Self {
        let CodebookUpdate::Ema { decay, epsilon } = self.update else {
            return self;
        };
        let k = self.num_codes() as f64;
        let count = self.ema_count.val().detach().mul_scalar(decay)
            + stats.counts.clone().mul_scalar(1.0 - decay);
        let sum = self.ema_sum.val().detach().mul_scalar(decay)
            + stats.sums.clone().mul_scalar(1.0 - decay);
        let total = count.clone().sum();
        let smoothed =
            (count.clone().add_scalar(epsilon)) * total.clone() / total.add_scalar(k * epsilon);
        let codebook = sum.clone() / smoothed.unsqueeze_dim(1);
        let codebook = if self.cosine {
            l2_normalize(codebook)
        } else {
            codebook
        };
        self.ema_count = replace(self.ema_count, count);
        self.ema_sum = replace(self.ema_sum, sum);
        self.codebook = replace(self.codebook, codebook);
        self
    }

    /// Everything the quantizer does after an optimizer step: the EMA update (EMA codebooks)
    /// and dead-code bookkeeping and re-seeding ([`reseed_dead_codes`](Self::reseed_dead_codes)).
    /// Returns the quantizer and the number of codes re-seeded.
    pub fn apply_batch_stats(
        self,
        stats: &BatchStats,
        rng: &mut deepgen_tensor::HostRng,
    ) -> (Self, usize) {
        self.ema_update(stats).reseed_dead_codes(stats, rng)
    }
}
