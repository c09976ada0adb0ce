//! Codebook usage: perplexity `exp(H(p))` of the code frequencies `p` (K when every code is
//! used equally, 1 when one code takes everything) and the fraction of codes used.

use burn::tensor::{Int, Tensor};

/// Perplexity of the code frequencies given by `counts` (`[K]`, any non-negative scale) as a
/// `[1]` tensor (a training metric; no host read).
pub fn perplexity(counts: Tensor<1>) -> Tensor<1> {
    let p = counts.clone() / counts.sum().add_scalar(1e-12);
    let plogp = p.clone() * p.add_scalar(1e-12).log();
    plogp.sum().neg().exp()
}

/// Code counts accumulated on the host over many batches (an evaluation pass).
#[derive(Debug, Clone)]
pub struct CodeUsage {
    counts: Vec<u64>,
}

impl CodeUsage {
    /// No codes seen yet, for a codebook of `num_codes`.
    pub fn new(num_codes: usize) -> Self {
        Self {
            counts: vec![0; num_codes],
        }
    }

    /// Adds the codes of a batch (any shape; one host read).
    ///
    /// # Panics
    /// If a code is outside `0..K`.
    pub fn add<const D: usize>(&mut self, codes: Tensor<D, Int>) {
        let host = codes
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .expect("integer codes");
        for c in host {
            self.counts[usize::try_from(c).expect("non-negative code")] += 1;
        }
    }

    /// How often each code was chosen.
    pub fn counts(&self) -> &[u64] {
        &self.counts
    }

    /// `exp(−Σ p_k ln p_k)` over the accumulated frequencies (f64; 0 before any code).
    pub fn perplexity(&self) -> f64 {
        let total: u64 = self.counts.iter().sum();
        if total == 0 {
            return 0.0;
        }
        let h: f64 = self
            .counts
            .iter()
            .filter(|c| **c > 0)
            .map(|&c| {
                let p = c as f64 / total as f64;
                -p * p.ln()
            })
            .sum();
        h.exp()
    }

    /// Fraction of the K codes chosen at least once.
    pub fn fraction_used(&self) -> f64 {
        let used = self.counts.iter().filter(|c| **c > 0).count();
        used as f64 / self.counts.len().max(1) as f64
    }
}
