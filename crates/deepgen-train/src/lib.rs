//! # deepgen-train
//!
//! The one training loop every deepgen example uses.
//!
//! A model family implements [`Task`] (a loss plus named scalar metrics per batch, optional
//! evaluation and sampling hooks). [`Trainer`] runs it: epochs, a progress bar with live loss
//! and throughput, evaluation each epoch, a sample grid each epoch, `metrics.jsonl`,
//! `loss.png`, an atomic checkpoint each epoch ([`checkpoint`]) and `--resume`. Around it:
//! - [`schedule`]: constant / linear warm-up / cosine / cyclical schedules for the learning
//!   rate and for loss weights such as a VAE's β;
//! - [`grad`]: per-module learning rates, global-norm and value clipping, custom gradient maps;
//! - [`ema`]: exponential moving average of the weights;
//! - [`cli`]: the flags every example shares and one-line error reporting.
//!
//! Files written into the output directory:
//! `samples.png`, `samples/epoch-NNNN.png`, `samples.npy` (`[N, C, H, W]` float32 in [0, 1]),
//! `labels.npy` (class-conditional models), `metrics.jsonl`, `loss.png`, `checkpoint/`.

pub mod checkpoint;
pub mod cli;
pub mod ema;
mod error;
pub mod grad;
pub mod metrics;
pub mod progress;
pub mod schedule;
mod task;
mod trainer;

pub use cli::{CommonArgs, exit_on_error};
pub use error::TrainError;
pub use schedule::Schedule;
pub use task::{Samples, StepContext, StepOutput, Task};
pub use trainer::{FitReport, Trainer};
