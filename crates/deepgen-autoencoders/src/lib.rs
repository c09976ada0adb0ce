//! # deepgen-autoencoders
//!
//! Autoencoders and the VAE family.
//!
//! - [`mlp`]: the configurable MLP used as encoder and decoder;
//! - [`vae`]: the Gaussian-latent VAE with a Bernoulli decoder and its ELBO terms;
//! - [`importance`]: importance log-weights, the IWAE bound and the k-sample estimate of
//!   ln p(x) behind every test NLL;
//! - [`vae_task`]: the VAE on binarised MNIST-like images as a [`deepgen_train::Task`], so the
//!   shared loop trains, evaluates (test ELBO in nats) and samples it;
//! - [`conv`]: convolutional encoder/decoder for any `[C, H, W]`, and the
//!   [`EncoderNetConfig`]/[`DecoderNetConfig`] enums over MLP and conv nets on flattened data;
//! - [`ae`]: the deterministic autoencoders (plain, denoising, sparse, k-sparse, contractive)
//!   and [`ae::AeTask`].

pub mod ae;
pub mod conv;
pub mod importance;
pub mod mlp;
pub mod vae;
pub mod vae_task;

pub use ae::{AeKind, Autoencoder, AutoencoderConfig};
pub use conv::{
    ConvDecoder, ConvDecoderConfig, ConvEncoder, ConvEncoderConfig, DecoderNet, DecoderNetConfig,
    EncoderNet, EncoderNetConfig,
};
pub use mlp::{Mlp, MlpConfig};
pub use vae::{ElboTerms, Vae, VaeConfig};
