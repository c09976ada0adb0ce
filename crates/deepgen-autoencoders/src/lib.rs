//! # deepgen-autoencoders
//!
//! Autoencoders and the VAE family.
//!
//! - [`mlp`]: the configurable MLP used as encoder and decoder;
//! - [`likelihood`]: observation models p(x|z) a decoder parameterises (Bernoulli, Gaussian …);
//! - [`vae`]: the Gaussian-latent VAE and its ELBO terms / importance weights;
//! - [`posterior_bn`]: BN-VAE's fixed-scale batch norm on the posterior means;
//! - [`objective`]: ELBO with β, free bits or capacity control, and the IWAE bound;
//! - [`importance`]: importance log-weights, the IWAE bound and the k-sample estimate of
//!   ln p(x) behind every test NLL;
//! - [`latent_tools`]: reconstructions, linear/spherical interpolation, traversals and
//!   active units for any model with a deterministic code ([`latent_tools::LatentCodec`]);
//! - [`latent_report`]: writes reconstruction / interpolation / traversal grids and returns
//!   the active units — what every VAE example ends with;
//! - [`run_eval`]: the after-training evaluation every VAE example runs (IW NLL, latent
//!   report, Fréchet distance → `eval.json`);
//! - [`spherical_vae`]: hyperspherical VAEs — vMF posterior with learned κ (S-VAE) or fixed κ,
//!   or the power spherical posterior — with the uniform prior on S^{m−1};
//! - [`vae_task`]: the VAE on binarised MNIST-like images as a [`deepgen_train::Task`], so the
//!   shared loop trains, evaluates (test ELBO in nats) and samples it;
//! - [`conv`]: convolutional encoder/decoder for any `[C, H, W]`, and the
//!   [`EncoderNetConfig`]/[`DecoderNetConfig`] enums over MLP and conv nets on flattened data;
//! - [`ae`]: the deterministic autoencoders (plain, denoising, sparse, k-sparse, contractive)
//!   and [`ae::AeTask`].
//! - [`iaf_vae`]: the VAE with an inverse-autoregressive-flow posterior and
//!   a normal or autoregressive-flow prior (Kingma et al. 2016; MADEs from `deepgen-flows`),
//!   single-sample KL estimate ln q(z_T|x) − ln p(z_T), IWAE, importance-weighted NLL; trained
//!   through the generic [`vae_task::VaeTask`].

pub mod ae;
pub mod conv;
pub mod importance;
pub mod latent_report;
pub mod latent_tools;
pub mod likelihood;
pub mod mlp;
pub mod objective;
pub mod posterior_bn;
pub mod run_eval;
pub mod spherical_vae;
pub mod vae;
pub mod vae_task;

pub use ae::{AeKind, Autoencoder, AutoencoderConfig};
pub use conv::{
    ConvDecoder, ConvDecoderConfig, ConvEncoder, ConvEncoderConfig, DecoderNet, DecoderNetConfig,
    EncoderNet, EncoderNetConfig,
};
pub use likelihood::LikelihoodConfig;
pub use mlp::{Mlp, MlpConfig};
pub use objective::{KlControl, VaeObjective};
pub use posterior_bn::PosteriorBatchNorm;
pub use spherical_vae::{SphericalPosterior, SphericalVae, SphericalVaeConfig};
pub use vae::{ElboTerms, Vae, VaeConfig};

pub mod iaf_vae;
pub use iaf_vae::{IafElboTerms, IafVae, IafVaeConfig, PriorKind};
