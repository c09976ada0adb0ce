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
//! - [`vae_task`]: the VAE on binarised MNIST-like images as a [`deepgen_train::Task`], so the
//!   shared loop trains, evaluates (test ELBO in nats) and samples it;
//! - [`iaf_vae`] / [`iaf_vae_task`]: the VAE with an inverse-autoregressive-flow posterior and
//!   a normal or autoregressive-flow prior (Kingma et al. 2016; MADEs from `deepgen-flows`),
//!   single-sample KL estimate ln q(z_T|x) − ln p(z_T), IWAE, importance-weighted NLL.

pub mod importance;
pub mod latent_report;
pub mod latent_tools;
pub mod likelihood;
pub mod mlp;
pub mod objective;
pub mod posterior_bn;
pub mod vae;
pub mod vae_task;

pub use likelihood::LikelihoodConfig;
pub use mlp::{Mlp, MlpConfig};
pub use objective::{KlControl, VaeObjective};
pub use posterior_bn::PosteriorBatchNorm;
pub use vae::{ElboTerms, Vae, VaeConfig};

pub mod iaf_vae;
pub mod iaf_vae_task;
pub use iaf_vae::{IafElboTerms, IafVae, IafVaeConfig, PriorKind};
