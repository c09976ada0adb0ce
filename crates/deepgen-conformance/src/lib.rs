//! # deepgen-conformance
//!
//! Tests only (see `tests/`): the same computations on every compiled backend must agree.
//!
//! - `backend_conformance`: forward pass, gradients and an Adam step of a small network;
//! - `distributions_conformance`: every distribution's log-density, entropy, KL, seeded samples
//!   and gradients;
//! - `wgpu_lane`: the VAE's terms and a few training steps on wgpu.
//!
//! The flex-vs-ndarray tests run in `cargo test --release --workspace`. The wgpu tests are
//! `#[ignore]`d there because they need a Vulkan driver; CI's wgpu lane installs Mesa's lavapipe
//! and runs them from the same build with
//! `cargo test --release --workspace --test conformance -- --ignored`.
