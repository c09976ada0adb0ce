//! # deepgen-autoencoders
//!
//! Autoencoders and the VAE family, trained through `deepgen-train`'s loop.
//!
//! How the parts fit: networks (from `deepgen-nn`, paired by [`body`]) build encoders and
//! decoders; a decoder's output parameterises an observation model ([`likelihood`]); the models
//! ([`vae`], [`spherical_vae`], [`iaf_vae`], [`cvae`], [`ae`]) combine them with distributions from
//! `deepgen-distributions`; objectives ([`objective`], [`importance`]) turn them into losses
//! whose weights come from schedules; tasks ([`vae_task`] for every [`vae_task::VariationalModel`],
//! [`cvae_task`], [`ae::AeTask`]) feed them MNIST; after training, [`run_eval`] measures the
//! test NLL and writes the [`latent_report`].
//!
//! - [`body`] builds a model's mirrored encoder/decoder pair (MLP, or conv with
//!   [`ConvBodyConfig`]) from `deepgen-nn`'s nets, re-exported here ([`Mlp`],
//!   [`EncoderNetConfig`]/[`DecoderNetConfig`], …);
//! - [`likelihood`]: Bernoulli, Gaussian (fixed/learned σ), continuous Bernoulli, discretized
//!   logistic mixture;
//! - [`vae`]: the Gaussian-latent VAE (optionally BN-VAE, [`posterior_bn`]);
//! - [`spherical_vae`]: hyperspherical VAEs — vMF with learned κ (S-VAE) or fixed κ, or the
//!   power spherical posterior — with the uniform prior on S^{m−1};
//! - [`iaf_vae`]: inverse-autoregressive-flow posterior and normal or autoregressive-flow
//!   prior (MADEs from `deepgen-flows`);
//! - [`cvae`] / [`cvae_task`]: the conditional VAE with an auxiliary classifier (one-hot class
//!   code + Gaussian z, loss recon + β·KL + α·CE), with conditional-generation accuracy;
//! - [`ae`]: the deterministic autoencoders (plain, denoising, sparse, k-sparse, contractive);
//! - [`objective`]: ELBO with β, free bits or capacity control, and the IWAE bound;
//! - [`importance`]: importance log-weights and the chunked k-sample estimate of ln p(x);
//! - [`latent_tools`], [`latent_report`]: interpolation (linear, spherical), traversals,
//!   reconstructions, active units;
//! - [`feed`]: seeded training batches and fixed-binarisation test chunks shared by the tasks;
//! - [`vae_task`]: the generic VAE task; [`run_eval`]: the after-training evaluation;
//!   [`cli`]: the flags and fit-then-evaluate driver shared by the VAE-family examples.

pub mod ae;
pub mod body;
pub mod cli;
pub mod cvae;
pub mod cvae_task;
pub mod feed;
pub mod iaf_vae;
pub mod importance;
pub mod latent_report;
pub mod latent_tools;
pub mod likelihood;
pub mod objective;
pub mod posterior_bn;
pub mod run_eval;
pub mod spherical_vae;
pub mod vae;
pub mod vae_task;

pub use ae::{AeKind, Autoencoder, AutoencoderConfig};
pub use body::{BodyConfig, ConvBodyConfig};
pub use cvae::{ClassCode, Cvae, CvaeConfig, CvaeTerms};
pub use deepgen_nn::{
    ConvDecoder, ConvDecoderConfig, ConvEncoder, ConvEncoderConfig, DecoderNet, DecoderNetConfig,
    EncoderNet, EncoderNetConfig, Mlp, MlpConfig, parse_activation,
};
pub use iaf_vae::{IafElboTerms, IafVae, IafVaeConfig, PriorKind};
pub use likelihood::LikelihoodConfig;
pub use objective::{KlControl, VaeObjective};
pub use posterior_bn::PosteriorBatchNorm;
pub use spherical_vae::{SphericalPosterior, SphericalVae, SphericalVaeConfig};
pub use vae::{ElboTerms, Vae, VaeConfig};
