//! Integration tests of deepgen-vq: the quantizer (nearest code against brute force,
//! straight-through gradient, EMA update by hand, dead-code re-seeding, k-means), the gated
//! PixelCNN (causality on every position, no blind spot, save/load, overfitting one batch), the
//! symbol-map task, VQ-VAE and VQ-VAE-2.
//!
//! One integration-test binary per crate (every test binary links all of Burn); run one module
//! with `cargo test --release --test vq <module>::`.

mod common;
mod pixelcnn;
mod quantizer;
mod symbol_task;
mod vqvae;
