//! The vector quantizer of VQ-VAE (van den Oord et al. 2017), with the codebook-training
//! options that make it work in practice (Razavi et al. 2019; vector-quantize-pytorch).
//!
//! ```text
//! k(z)  = argmin_k ‖z − e_k‖²  = argmin_k (‖z‖² − 2 z·e_k + ‖e_k‖²)     (batched, one matmul)
//! z_q   = z + sg[e_k(z) − z]                                           (straight-through)
//! loss  = ‖sg[z] − e_k‖² (codebook; gradient updates only) + β ‖z − sg[e_k]‖² (commitment)
//! ```
//!
//! Both losses are means over elements (`F.mse_loss`), so β = 0.25 means what it means in the
//! paper and in Sonnet. The codebook is trained either by its gradient
//! ([`CodebookUpdate::Gradient`]) or by exponential moving averages of the assigned encoder
//! outputs ([`CodebookUpdate::Ema`], [`ema`]): the optimizer never touches it then, and the
//! task applies [`VectorQuantizer::apply_batch_stats`] after every step (the trainer's
//! after-step hook). [`kmeans`] initialises the codebook from the first batch; [`dead_codes`]
//! re-seeds codes unused for N steps from encoder outputs. With `cosine`, inputs and codes are
//! L2-normalised before the lookup and `z_q` is the unit code (Yu et al. 2022).
//!
//! The EMA statistics (`ema_count`, `ema_sum`) and each code's count of steps without use
//! (`steps_unused`) are module parameters that no loss ever reaches: they are saved in
//! checkpoints with the codebook, so a resumed run continues the same averages.

pub mod dead_codes;
pub mod ema;
pub mod kmeans;
pub mod usage;

use burn::config::Config;
use burn::module::{Module, Param};
use burn::tensor::{Device, Distribution, Int, Tensor};
use deepgen_tensor::config::{in_open_unit, positive, positive_finite};
use deepgen_tensor::{ConfigError, Validate};

pub use ema::BatchStats;
pub use usage::CodeUsage;

/// How the codebook learns.
#[derive(Config, Debug, PartialEq, Copy)]
pub enum CodebookUpdate {
    /// By gradient descent on the codebook loss `‖sg[z] − e‖²`.
    Gradient,
    /// By exponential moving averages of cluster sizes and sums (`decay` γ, e.g. 0.99) with
    /// Laplace smoothing `epsilon` of the cluster sizes (e.g. 1e-5); no codebook loss.
    Ema {
        /// γ in `N ← γN + (1 − γ)n`.
        decay: f64,
        /// Laplace smoothing of the cluster sizes.
        epsilon: f64,
    },
}

/// Configuration of a [`VectorQuantizer`].
#[derive(Config, Debug)]
pub struct VectorQuantizerConfig {
    /// Codebook size K.
    pub num_codes: usize,
    /// Dimension D of each code (the encoder's output channels).
    pub code_dim: usize,
    /// Commitment weight β.
    #[config(default = 0.25)]
    pub commitment: f64,
    /// How the codebook learns (default: EMA with decay 0.99, ε = 1e-5).
    #[config(default = "CodebookUpdate::Ema { decay: 0.99, epsilon: 1e-5 }")]
    pub update: CodebookUpdate,
    /// Look codes up by cosine similarity (inputs and codes L2-normalised).
    #[config(default = false)]
    pub cosine: bool,
    /// Re-seed a code from the batch's encoder outputs after this many consecutive steps
    /// without being chosen (0: never).
    #[config(default = 0)]
    pub dead_code_steps: usize,
    /// Initialise the codebook by k-means on the first training batch's encoder outputs
    /// (the training task does it in its before-first-step hook).
    #[config(default = true)]
    pub kmeans_init: bool,
    /// Lloyd iterations of that k-means.
    #[config(default = 10)]
    pub kmeans_iters: usize,
}

impl Validate for VectorQuantizerConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "VectorQuantizerConfig";
        if self.num_codes < 2 {
            return Err(ConfigError::new(
                C,
                "num_codes",
                format!(
                    "must be at least 2 (a codebook of one code carries no information), got {}",
                    self.num_codes
                ),
            ));
        }
        positive(C, "code_dim", self.code_dim)?;
        if !(self.commitment.is_finite() && self.commitment >= 0.0) {
            return Err(ConfigError::new(
                C,
                "commitment",
                format!("must be finite and ≥ 0, got {}", self.commitment),
            ));
        }
        if let CodebookUpdate::Ema { decay, epsilon } = self.update {
            in_open_unit(C, "update.decay", decay)?;
            positive_finite(C, "update.epsilon", epsilon)?;
        }
        if self.kmeans_init {
            positive(C, "kmeans_iters", self.kmeans_iters)?;
        }
        Ok(())
    }
}

impl VectorQuantizerConfig {
    /// Builds the quantizer with a codebook drawn uniformly from `[−1/K, 1/K]` (the paper's
    /// and Sonnet's initialisation; k-means replaces it when `kmeans_init` is on).
    ///
    /// # Errors
    /// The [`ConfigError`] of [`Validate::validate`].
    pub fn try_init(&self, device: &Device) -> Result<VectorQuantizer, ConfigError> {
        self.validate()?;
        let (k, d) = (self.num_codes, self.code_dim);
        let a = 1.0 / k as f64;
        let codebook = Tensor::<2>::random([k, d], Distribution::Uniform(-a, a), device);
        let codebook = if self.cosine {
            ema::l2_normalize(codebook)
        } else {
            codebook
        };
        let trained_by_gradient = self.update == CodebookUpdate::Gradient;
        Ok(VectorQuantizer {
            ema_sum: Param::from_tensor(codebook.clone()).set_require_grad(false),
            codebook: Param::from_tensor(codebook).set_require_grad(trained_by_gradient),
            ema_count: Param::from_tensor(Tensor::ones([k], device)).set_require_grad(false),
            steps_unused: Param::from_tensor(Tensor::zeros([k], device)).set_require_grad(false),
            commitment: self.commitment,
            update: self.update,
            cosine: self.cosine,
            dead_code_steps: self.dead_code_steps,
            kmeans_init: self.kmeans_init,
            kmeans_iters: self.kmeans_iters,
        })
    }

    /// As [`try_init`](Self::try_init), panicking with the config error.
    pub fn init(&self, device: &Device) -> VectorQuantizer {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A codebook of K vectors of dimension D with nearest-code lookup; see the [module docs](self).
#[derive(Module, Debug)]
pub struct VectorQuantizer {
    /// The codes e_k, `[K, D]`.
    pub codebook: Param<Tensor<2>>,
    /// EMA cluster sizes N_k, `[K]` (EMA updates only; never trained).
    pub ema_count: Param<Tensor<1>>,
    /// EMA cluster sums m_k, `[K, D]` (EMA updates only; never trained).
    pub ema_sum: Param<Tensor<2>>,
    /// Consecutive steps each code went unchosen, `[K]` (for dead-code re-seeding).
    pub steps_unused: Param<Tensor<1>>,
    /// Commitment weight β.
    #[module(skip)]
    pub commitment: f64,
    /// How the codebook learns.
    #[module(skip)]
    pub update: CodebookUpdate,
    /// Cosine-similarity lookup.
    #[module(skip)]
    pub cosine: bool,
    /// Steps without use before a code is re-seeded (0: never).
    #[module(skip)]
    pub dead_code_steps: usize,
    /// Whether the training task initialises the codebook by k-means.
    #[module(skip)]
    pub kmeans_init: bool,
    /// Lloyd iterations of that k-means.
    #[module(skip)]
    pub kmeans_iters: usize,
}

/// What [`VectorQuantizer::quantize`] returns.
#[derive(Debug, Clone)]
pub struct QuantizerOutput {
    /// The straight-through quantized vectors `z + sg[e − z]`, `[N, D]` (values: the codes;
    /// gradient: the identity to `z`).
    pub quantized: Tensor<2>,
    /// The chosen code of each row, `[N]`.
    pub codes: Tensor<1, Int>,
    /// Codebook loss `mean ‖sg[z] − e‖²` (zero for EMA updates), `[1]`.
    pub codebook_loss: Tensor<1>,
    /// Commitment loss `mean ‖z − sg[e]‖²` (unweighted), `[1]`.
    pub commitment_loss: Tensor<1>,
    /// `codebook_loss + β · commitment_loss`, `[1]`.
    pub loss: Tensor<1>,
    /// The (detached, for cosine: normalised) encoder outputs that were quantized, `[N, D]`:
    /// what the EMA update, k-means and dead-code re-seeding use.
    pub inputs: Tensor<2>,
}

impl VectorQuantizer {
    /// Codebook size K.
    pub fn num_codes(&self) -> usize {
        self.codebook.val().dims()[0]
    }

    /// Code dimension D.
    pub fn code_dim(&self) -> usize {
        self.codebook.val().dims()[1]
    }

    /// The codebook as used in the lookup (detached for EMA updates, whose codebook no loss
    /// trains).
    fn codes_for_lookup(&self) -> Tensor<2> {
        let e = self.codebook.val();
        match self.update {
            CodebookUpdate::Gradient => e,
            CodebookUpdate::Ema { .. } => e.detach(),
        }
    }

    /// Index of the nearest code of every row of `z` (cosine: the most similar code).
    ///
    /// # Shapes
    /// - z: `[N, D]`
    /// - output: `[N]`
    pub fn nearest(&self, z: Tensor<2>) -> Tensor<1, Int> {
        let e = self.codebook.val().detach();
        let z = z.detach();
        let (z, e) = if self.cosine {
            (ema::l2_normalize(z), ema::l2_normalize(e))
        } else {
            (z, e)
        };
        let n = z.dims()[0];
        // ‖z‖² is the same for every code: argmin over k of ‖e_k‖² − 2 z·e_k.
        let e_sq = e.clone().powi_scalar(2).sum_dim(1).reshape([1, -1]);
        let scores = e_sq - z.matmul(e.transpose()).mul_scalar(2.0);
        scores.argmin(1).reshape([n])
    }

    /// The codes of `indices` (the decoder's input when sampling from a prior).
    ///
    /// # Shapes
    /// - indices: `[N]` in `0..K`
    /// - output: `[N, D]`
    pub fn lookup(&self, indices: Tensor<1, Int>) -> Tensor<2> {
        let e = self.codebook.val().detach();
        let e = if self.cosine { ema::l2_normalize(e) } else { e };
        e.select(0, indices)
    }

    /// Quantizes rows of `z`; see the [module docs](self).
    ///
    /// # Shapes
    /// - z: `[N, D]`
    pub fn quantize(&self, z: Tensor<2>) -> QuantizerOutput {
        let z = if self.cosine { ema::l2_normalize(z) } else { z };
        let codes = self.nearest(z.clone());
        let e_all = self.codes_for_lookup();
        let e_all = if self.cosine {
            ema::l2_normalize(e_all)
        } else {
            e_all
        };
        let e = e_all.select(0, codes.clone());
        let commitment_loss = (z.clone() - e.clone().detach()).powi_scalar(2).mean();
        let codebook_loss = match self.update {
            CodebookUpdate::Gradient => (z.clone().detach() - e.clone()).powi_scalar(2).mean(),
            CodebookUpdate::Ema { .. } => commitment_loss.zeros_like().detach(),
        };
        let loss = codebook_loss.clone() + commitment_loss.clone().mul_scalar(self.commitment);
        let quantized = z.clone() + (e - z.clone()).detach();
        QuantizerOutput {
            quantized,
            codes,
            codebook_loss,
            commitment_loss,
            loss,
            inputs: z.detach(),
        }
    }

    /// Quantizes a feature map channel-wise: every pixel's `D` channels are one vector.
    ///
    /// # Shapes
    /// - z: `[B, D, H, W]`
    /// - output: `quantized` `[B, D, H, W]`, `codes` `[B, H, W]`, `inputs` `[B·H·W, D]`
    pub fn quantize_map(&self, z: Tensor<4>) -> (QuantizerOutput, Tensor<4>, Tensor<3, Int>) {
        let [b, d, h, w] = z.dims();
        let flat = z.permute([0, 2, 3, 1]).reshape([b * h * w, d]);
        let out = self.quantize(flat);
        let map = out
            .quantized
            .clone()
            .reshape([b, h, w, d])
            .permute([0, 3, 1, 2]);
        let codes = out.codes.clone().reshape([b, h, w]);
        (out, map, codes)
    }

    /// The code vectors of a map of indices, channels first (the decoder's input).
    ///
    /// # Shapes
    /// - codes: `[B, H, W]`
    /// - output: `[B, D, H, W]`
    pub fn lookup_map(&self, codes: Tensor<3, Int>) -> Tensor<4> {
        let [b, h, w] = codes.dims();
        let d = self.code_dim();
        self.lookup(codes.reshape([b * h * w]))
            .reshape([b, h, w, d])
            .permute([0, 3, 1, 2])
    }
}
