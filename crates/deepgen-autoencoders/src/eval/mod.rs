//! After training: [`latent_tools`] (reconstruction, interpolation, traversal, active units for
//! any [`LatentCodec`](crate::models::variational::LatentCodec)), [`latent_report`] (the PNGs
//! every VAE example writes) and [`run_eval`] (IW test NLL, latent report and Fréchet distance
//! into the run's `eval.json`).

pub mod latent_report;
pub mod latent_tools;
pub mod run_eval;
