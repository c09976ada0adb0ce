//! Integration tests of deepgen-train: trainer loop, hooks, resume, schedules, the run driver.
//!
//! One integration-test binary per crate: every test binary links all of Burn (flex, ndarray
//! and wgpu), so one binary instead of one per file saves minutes of linking and gigabytes of
//! disk in CI. Each module below is one topic; run one with `cargo test --release --test train <module>::`.

mod allocator;
mod cli_args;
mod common;
mod denormals;
mod ema_shadow;
mod eval_report;
mod fused_adam;
mod grad_transforms;
mod run_driver;
mod schedule_values;
mod temperature_schedule;
mod trainer_features;
mod trainer_hooks;
mod trainer_loop;
mod trainer_resume;
