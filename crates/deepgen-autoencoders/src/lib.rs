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
//! - [`vae_task`]: the VAE on binarised MNIST-like images as a [`deepgen_train::Task`], so the
//!   shared loop trains, evaluates (test ELBO in nats) and samples it;
//! - [`cvae`] / [`cvae_task`]: the conditional VAE with an auxiliary classifier (one-hot class
//!   code + Gaussian z, loss recon + β·KL + α·CE) and its task (test ELBO, classifier accuracy,
//!   conditional-generation accuracy under an external digit classifier).

pub mod cvae;
pub mod cvae_task;
pub mod importance;
pub mod likelihood;
pub mod mlp;
pub mod objective;
pub mod posterior_bn;
pub mod vae;
pub mod vae_task;

pub use mlp::{Mlp, MlpConfig};
pub use likelihood::LikelihoodConfig;
pub use objective::{KlControl, VaeObjective};
pub use posterior_bn::PosteriorBatchNorm;
pub use vae::{ElboTerms, Vae, VaeConfig};

pub use cvae::{ClassCode, Cvae, CvaeConfig, CvaeTerms};
