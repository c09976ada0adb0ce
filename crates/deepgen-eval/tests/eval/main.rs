//! Integration tests of deepgen-eval: the classifier evaluator and a training smoke run.
//!
//! One integration-test binary per crate: every test binary links all of Burn (flex, ndarray
//! and wgpu), so one binary instead of one per file saves minutes of linking and gigabytes of
//! disk in CI. Each module below is one topic; run one with `cargo test --release --test eval <module>::`.

mod evaluator;
mod score_samples;
mod train_smoke;
