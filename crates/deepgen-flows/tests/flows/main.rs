//! Integration tests of deepgen-flows: MADE, IAF/MAF, configs, and the coupling-flow library
//! (elementwise bijections, coupling and image layers, vector and multi-scale flows).
//!
//! One integration-test binary per crate: every test binary links all of Burn (flex, ndarray
//! and wgpu), so one binary instead of one per file saves minutes of linking and gigabytes of
//! disk in CI. Each module below is one topic; run one with `cargo test --release --test flows <module>::`.

mod autoregressive;
mod common;
mod configs;
mod coupling_layers;
mod elementwise;
mod flow_density;
mod flows;
mod fvae;
mod gaussian_mixture;
mod image_task;
mod made;
mod toy_task;
