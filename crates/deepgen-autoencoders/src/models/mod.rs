//! The VAE-family models: each combines an encoder/decoder pair ([`body`], networks from
//! `deepgen-nn`) with a posterior and prior from `deepgen-distributions` and an observation
//! model from [`crate::objective::likelihood`], and implements the traits of [`variational`].
//! Imports run downward only: models use the objective layer, never the tasks or evaluation.

pub mod body;
pub mod cvae;
pub mod iaf_vae;
pub mod posterior_bn;
pub mod spherical_vae;
pub mod vae;
pub mod variational;
