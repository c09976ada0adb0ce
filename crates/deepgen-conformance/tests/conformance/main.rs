//! Cross-backend conformance: flex vs ndarray (default run) and wgpu on lavapipe (`--ignored`).
//!
//! One integration-test binary per crate: every test binary links all of Burn (flex, ndarray
//! and wgpu), so one binary instead of one per file saves minutes of linking and gigabytes of
//! disk in CI. Each module below is one topic; run one with `cargo test --release --test conformance <module>::`.

mod backend_conformance;
mod common;
mod conv_conformance;
mod distributions_conformance;
mod flows_conformance;
mod group_norm_conformance;
mod linear_conformance;
mod silu_conformance;
mod tanh_conformance;
mod vq_conformance;
mod wgpu_lane;
