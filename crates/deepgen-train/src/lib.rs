//! # deepgen-train
//!
//! The one training loop every deepgen example uses, and the files it leaves behind.
//!
//! A model family implements [`Task`]: training batches, a loss with named scalar metrics,
//! and optional hooks — evaluation, sampling (images or 2-D points), a data-dependent
//! initialisation before the first step, a model edit after every step. [`Trainer::fit`] runs
//! it: per step, one host read of loss and metrics, gradient transforms ([`grad`]: clipping,
//! per-module learning rates), the optimizer at the [`schedule`]d learning rate, an [`ema`]
//! update; per epoch (and optionally every N steps) evaluation and sampling on the EMA or raw
//! weights, a [`metrics`] record and `loss.png`; per epoch an atomic [`checkpoint`] that
//! `--resume` restores — falling back past damaged ones — so that a resumed run equals an
//! uninterrupted one. [`cli`] holds the flags every example shares; [`run`] is the driver every
//! example runs (device → trainer → fit → evaluation → `eval.json`); [`report`] writes the
//! after-training `eval.json`; [`json`] is how every JSON file here stores NaN and ±∞;
//! [`allocator`] keeps freed tensor memory in the process for the examples (glibc tuning) and
//! [`denormals`] flushes subnormal floats to zero in them (FTZ/DAZ); [`pool`] runs a program
//! on rayon's pool so that parallel kernels start without a cross-thread hand-off;
//! [`adam`] is the optimizer the examples use, Burn's Adam fused into one loop on flex.
//! Configuration errors use deepgen-tensor's [`Validate`](deepgen_tensor::Validate) style.
//!
//! Source files: `adam.rs` ([`FusedAdam`]), `allocator.rs`, `denormals.rs`, `pool.rs`, `task.rs` ([`Task`], [`StepContext`], [`StepOutput`]), `samples.rs`
//! ([`Samples`]), `trainer.rs` ([`Trainer`], [`FitReport`]), `checkpoint.rs`, `metrics.rs`,
//! `schedule.rs`, `grad.rs`, `ema.rs`, `export.rs` ([`export_npy`]: parameters as `.npy`), `progress.rs`, `cli.rs`, `run.rs`, `report.rs`, `json.rs`,
//! `error.rs` ([`TrainError`]).
//!
//! Files written into the output directory:
//! `samples.png` and `samples/epoch-NNNN.png` (image grid or 2-D scatter; `step-NNNNNNN.png`
//! for mid-epoch draws), `samples.npy` (`[N, C, H, W]` in [0, 1], or `[N, D]` points, float32),
//! `labels.npy` (when samples carry labels), `metrics.jsonl`, `loss.png`, `checkpoint/`, and
//! `eval.json` when the example writes an [`report::EvalReport`].

pub mod adam;
pub mod allocator;
pub mod checkpoint;
pub mod cli;
pub mod denormals;
pub mod ema;
mod error;
pub mod export;
pub mod grad;
pub mod json;
pub mod metrics;
pub mod pool;
pub mod progress;
pub mod report;
pub mod run;
pub mod samples;
pub mod schedule;
mod task;
mod trainer;

pub use adam::{FusedAdam, FusedAdamConfig};
pub use cli::{CommonArgs, exit_on_error, run_main};
pub use error::TrainError;
pub use export::{ExportedParam, export_npy};
pub use report::{EvalReport, ReportValue};
pub use run::{Run, RunDefaults, RunError};
pub use samples::{ImageSamples, PointSamples, Samples};
pub use schedule::Schedule;
pub use task::{StepContext, StepOutput, Task};
pub use trainer::{FitReport, Trainer};
