//! Embedding a diffusion time: the sinusoidal features of DDPM and the small MLP that turns
//! them into the conditioning vector of every [`ResBlock`](crate::ResBlock).
//!
//! # Convention
//!
//! [`timestep_embedding`] is `get_timestep_embedding` of Ho et al.'s `diffusion_tf/nn.py`
//! (also denoising-diffusion-pytorch's `SinusoidalPosEmb`): with `half = ⌊dim/2⌋`,
//!
//! ```text
//! freq_i = exp(−ln(10000) · i / (half − 1)),   i = 0 … half − 1
//! emb(t) = [sin(t·freq_0), …, sin(t·freq_{half−1}), cos(t·freq_0), …, cos(t·freq_{half−1})]
//! ```
//!
//! sines first, then cosines, and a zero column appended when `dim` is odd. The frequencies
//! run from 1 down to exactly 1/10000; `half − 1` in the denominator needs `dim ≥ 4`. (The
//! `/ half` variant of GLIDE/improved-diffusion puts cosines first and stops short of 1/10000;
//! it is not this one.) `t` is a float, so continuous times work as well as step indices.
//!
//! [`TimeEmbedding`] is the DDPM `temb` stack: `Linear(dim → out) → SiLU → Linear(out → out)`
//! on those features (out = 4 × base channels in the U-Net). Its output is left without an
//! activation: each residual block applies SiLU before its own projection.

use crate::silu;
use burn::config::Config;
use burn::module::Module;
use burn::nn::{Linear, LinearConfig};
use burn::tensor::{Device, Tensor, TensorData};
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

/// The smallest `dim` [`timestep_embedding`] accepts (`half − 1 ≥ 1`).
pub const MIN_TIMESTEP_EMBEDDING_DIM: usize = 4;

/// The frequencies `freq_i = exp(−ln(10000)·i/(half − 1))`, `half = ⌊dim/2⌋`, in f64.
///
/// # Panics
/// If `dim < 4`.
pub fn timestep_frequencies(dim: usize) -> Vec<f64> {
    assert!(
        dim >= MIN_TIMESTEP_EMBEDDING_DIM,
        "timestep_embedding: dim = {dim}, but the DDPM convention divides by ⌊dim/2⌋ − 1 and \
         needs dim ≥ {MIN_TIMESTEP_EMBEDDING_DIM}"
    );
    let half = dim / 2;
    let step = 10000f64.ln() / (half - 1) as f64;
    (0..half).map(|i| (-step * i as f64).exp()).collect()
}

/// DDPM's sinusoidal embedding of (float) times `t` (see the [module docs](self) for the
/// exact convention).
///
/// # Shapes
/// - t: `[batch]`
/// - output: `[batch, dim]`
///
/// # Panics
/// If `dim < 4`.
pub fn timestep_embedding(t: Tensor<1>, dim: usize) -> Tensor<2> {
    let freqs: Vec<f32> = timestep_frequencies(dim)
        .into_iter()
        .map(|f| f as f32)
        .collect();
    let half = freqs.len();
    let device = t.device();
    let [b] = t.dims();
    let freqs = Tensor::<2>::from_data(TensorData::new(freqs, [1, half]), &device);
    let args = t.reshape([b, 1]) * freqs;
    let mut parts = vec![args.clone().sin(), args.cos()];
    if dim % 2 == 1 {
        parts.push(Tensor::zeros([b, 1], &device));
    }
    Tensor::cat(parts, 1)
}

/// Configuration of a [`TimeEmbedding`].
#[derive(Config, Debug)]
pub struct TimeEmbeddingConfig {
    /// Features of the sinusoidal embedding (the MLP's input), at least 4.
    pub input_dim: usize,
    /// Output features (the conditioning vector's size).
    pub output_dim: usize,
}

impl Validate for TimeEmbeddingConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "TimeEmbeddingConfig";
        if self.input_dim < MIN_TIMESTEP_EMBEDDING_DIM {
            return Err(ConfigError::new(
                C,
                "input_dim",
                format!(
                    "must be at least {MIN_TIMESTEP_EMBEDDING_DIM} (the sinusoidal frequencies \
                     divide by ⌊input_dim/2⌋ − 1), got {}",
                    self.input_dim
                ),
            ));
        }
        positive(C, "output_dim", self.output_dim)
    }
}

impl TimeEmbeddingConfig {
    /// Validates the configuration, then initialises the MLP on `device`.
    ///
    /// # Errors
    /// The [`ConfigError`] of [`validate`](Validate::validate).
    pub fn try_init(&self, device: &Device) -> Result<TimeEmbedding, ConfigError> {
        self.validate()?;
        Ok(TimeEmbedding {
            linear1: LinearConfig::new(self.input_dim, self.output_dim).init(device),
            linear2: LinearConfig::new(self.output_dim, self.output_dim).init(device),
            input_dim: self.input_dim,
        })
    }

    /// Initialises the MLP on `device`.
    ///
    /// # Panics
    /// With the [`ConfigError`] message if the configuration is invalid.
    pub fn init(&self, device: &Device) -> TimeEmbedding {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Sinusoidal features followed by `Linear → SiLU → Linear` (see the [module docs](self)).
#[derive(Module, Debug)]
pub struct TimeEmbedding {
    /// `input_dim → output_dim`.
    pub linear1: Linear,
    /// `output_dim → output_dim`.
    pub linear2: Linear,
    /// Features of the sinusoidal embedding.
    pub input_dim: usize,
}

impl TimeEmbedding {
    /// Embeds (float) times.
    ///
    /// # Shapes
    /// - t: `[batch]`
    /// - output: `[batch, output_dim]`
    pub fn forward(&self, t: Tensor<1>) -> Tensor<2> {
        let e = timestep_embedding(t, self.input_dim);
        crate::forward_linear(&self.linear2, silu(crate::forward_linear(&self.linear1, e)))
    }
}
