//! Integration tests of deepgen-data: IDX files, locating/downloading MNIST, batching, toy densities.
//!
//! One integration-test binary per crate: every test binary links all of Burn (flex, ndarray
//! and wgpu), so one binary instead of one per file saves minutes of linking and gigabytes of
//! disk in CI. Each module below is one topic; run one with `cargo test --release --test data <module>::`.

mod batching;
mod common;
mod download;
mod idx_files;
mod locate;
mod real_mnist;
mod toy_densities;
