//! Integration tests of deepgen-diffusion: schedules, the forward process, prediction targets
//! and loss weights, timestep spacings, x̂₀ clipping, the DDPM/DDIM/DPM-Solver++ samplers,
//! Analytic-DPM, config validation, the variational bound, Γ estimation and its cache, and the
//! MNIST training task (`tasks::mnist`: loss, resume, a tiny end-to-end run).
//!
//! One integration-test binary per crate (every test binary links all of Burn). Each module is
//! one topic; run one with `cargo test --release --test diffusion <module>::`.
//!
//! Golden values come from `golden.py` in this folder (numpy float64, following diffusers,
//! improved-DDPM, lucidrains' and the Analytic-DPM authors' formulas); each constant names the
//! line of its output it was pasted from.

mod analytic_dpm;
mod clipping;
mod common;
mod configs;
mod ddim;
mod ddpm;
mod dpm_solver;
mod forward_process;
mod gamma;
mod learned_variance;
mod mnist_task;
mod schedule;
mod spacing;
mod target;
mod vlb;
