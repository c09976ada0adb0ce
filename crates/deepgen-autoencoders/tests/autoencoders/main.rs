//! Integration tests of deepgen-autoencoders: objectives, every model, the latent tools.
//!
//! One integration-test binary per crate: every test binary links all of Burn (flex, ndarray
//! and wgpu), so one binary instead of one per file saves minutes of linking and gigabytes of
//! disk in CI. Each module below is one topic; run one with `cargo test --release --test autoencoders <module>::`.

mod ae;
mod cvae;
mod iaf_vae;
mod importance;
mod latent_tools;
mod spherical_vae;
mod vae;
mod vae_objectives;
