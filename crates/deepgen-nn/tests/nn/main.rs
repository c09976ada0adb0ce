//! Integration tests of deepgen-nn: shapes, gradients and invariants of every shared network.
//!
//! One integration-test binary per crate: every test binary links all of Burn (flex, ndarray
//! and wgpu), so one binary instead of one per file saves minutes of linking and gigabytes of
//! disk in CI. Each module below is one topic; run one with `cargo test --release --test nn <module>::`.

mod activation;
mod attention;
mod cat;
mod common;
mod nets;
mod res_block;
mod resample;
mod self_attention2d;
mod time_embedding;
mod unet;
