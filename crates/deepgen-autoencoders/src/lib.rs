//! # deepgen-autoencoders
//!
//! Autoencoders and the VAE family, trained through `deepgen-train`'s loop. Four layers, each
//! importing only the ones above it in this list:
//!
//! 1. [`objective`]: observation models ([`likelihood`]), importance weights and ln p(x)
//!    estimates ([`importance`]), and the losses — ELBO with β, free bits or capacity, IWAE;
//! 2. [`models`]: [`Vae`] (and BN-VAE), [`SphericalVae`], [`IafVae`], [`Cvae`], built from
//!    `deepgen-nn` networks ([`body`]) and `deepgen-distributions`; [`ae`] holds the
//!    deterministic autoencoder zoo with its own task;
//! 3. [`tasks`]: MNIST fed to any model through `deepgen-train`'s `Task` ([`vae_task`],
//!    [`cvae_task`]);
//! 4. [`eval`] (latent tools, the after-training report) and [`cli`] (the VAE examples' flags
//!    on `deepgen-train`'s run driver).
//!
//! The modules are also re-exported flat (`deepgen_autoencoders::vae_task`, `::importance`, …).

pub mod ae;
pub mod cli;
pub mod eval;
pub mod models;
pub mod objective;
pub mod tasks;

pub use eval::{latent_report, latent_tools, run_eval};
pub use models::{body, cvae, iaf_vae, posterior_bn, spherical_vae, vae, variational};
pub use objective::{importance, likelihood};
pub use tasks::{cvae_task, feed, vae_task};

pub use ae::{AeKind, Autoencoder, AutoencoderConfig};
pub use body::{BodyConfig, ConvBodyConfig, WithBody};
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
