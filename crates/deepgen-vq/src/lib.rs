//! # deepgen-vq
//!
//! Discrete latents that generate: a vector quantizer, VQ-VAE and VQ-VAE-2 autoencoders, and
//! the gated PixelCNN priors over their code maps (van den Oord et al. 2017; Razavi et al.
//! 2019; van den Oord et al. 2016).
//!
//! - [`quantizer`]: [`VectorQuantizer`] — nearest-code lookup, straight-through gradient,
//!   codebook and commitment losses, EMA codebook updates, k-means initialisation, dead-code
//!   re-seeding, cosine-similarity codes, usage statistics (perplexity, codes used).
//! - [`pixelcnn`]: the gated PixelCNN over `[B, H, W]` maps of symbols (VQ codes, or the two
//!   symbols of binarised MNIST), optionally class- or spatially conditioned; sampling with
//!   temperature.
//! - [`vqvae`] / [`vqvae2`]: the convolutional autoencoders with one or two code levels, on
//!   the [`conv_stack`] encoder/decoder (deepgen-nn's `ResBlock`); both implement [`VqModel`]
//!   ([`vq_model`]), which is all the training task needs.
//! - [`tasks`]: training on MNIST through `deepgen-train`'s loop — [`tasks::vq_task`] (the
//!   autoencoder; k-means in the first-step hook, EMA and dead codes in the after-step hook),
//!   [`tasks::symbol_maps`] (a PixelCNN on code maps or pixels), and the `vqvae`, `vqvae2`
//!   ([`tasks::vq_example`]) and `pixelcnn_mnist` drivers. See `docs/vq.md`.

pub mod conv_stack;
pub mod error;
pub mod pixelcnn;
pub mod quantizer;
pub mod tasks;
pub mod vq_model;
pub mod vqvae;
pub mod vqvae2;

pub use error::VqError;
pub use quantizer::{CodebookUpdate, QuantizerOutput, VectorQuantizer, VectorQuantizerConfig};
pub use vq_model::{VqForward, VqModel};
pub use vqvae::{VqVae, VqVaeConfig};
pub use vqvae2::{VqVae2, VqVae2Config};
