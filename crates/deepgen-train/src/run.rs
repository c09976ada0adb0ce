//! The driver every example shares: device → trainer → [`Trainer::fit`] → evaluation →
//! `eval.json`.
//!
//! An example parses its flags (with [`CommonArgs`] flattened in), then:
//!
//! ```no_run
//! # use deepgen_train::run::{Run, RunDefaults};
//! # use deepgen_train::{CommonArgs, EvalReport, Task};
//! # fn example<T: Task>(common: &CommonArgs, mut task: T, model: T::Model)
//! #     -> Result<(), Box<dyn std::error::Error>> {
//! let run = Run::start(common, RunDefaults {
//!     name: "my_flow",
//!     out_dir: "runs/my_flow",
//!     plot_title: "my flow on MNIST: test bits/dim",
//!     ..RunDefaults::default()
//! })?;
//! run.announce("MNIST from data/mnist (60000 train / 10000 test)");
//! // build `task` and `model` on `run.device` with `run.batch_size` …
//! let fitted = run.fit(&mut task, model, deepgen_train::FusedAdamConfig::new().init())?;
//! let mut report = EvalReport::new();
//! fitted.push_last(&mut report, &["test_loss"]);
//! // … evaluate `fitted.eval_model()` on `run.eval_device()`, push more entries …
//! run.finish(&report)?;
//! # Ok(()) }
//! ```
//!
//! [`Run::start`] selects the backend (`--device`, `DEEPGEN_DEVICE`), seeds the device with
//! `--seed`, and builds the [`Trainer`] from the example's [`RunDefaults`] overridden by the
//! common flags. [`Run::fit`] trains and prints one summary line. [`Run::finish`] writes the
//! report as strict JSON (see [`crate::report`]). Loading the data is the data crate's job
//! (`deepgen_data::Mnist::load` and its `describe`), so this crate does not depend on it.

use std::fmt;
use std::path::PathBuf;
use std::time::Instant;

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use burn::tensor::Device;
use deepgen_tensor::{BackendKind, DeviceError, select_device};

use crate::report::ReportError;
use crate::{CommonArgs, EvalReport, FitReport, Schedule, Task, TrainError, Trainer};

/// What one example sets before the common flags apply.
#[derive(Debug, Clone)]
pub struct RunDefaults<'a> {
    /// The example's name, printed first (`deepgen NAME: device …`).
    pub name: &'a str,
    /// Output directory when `--out` is not given, e.g. `runs/vae`.
    pub out_dir: &'a str,
    /// Title of `loss.png`.
    pub plot_title: &'a str,
    /// Y-axis label of `loss.png`.
    pub plot_y_label: &'a str,
    /// Metrics drawn in `loss.png`.
    pub plot_metrics: &'a [&'a str],
    /// Epochs when `--epochs` is not given.
    pub epochs: usize,
    /// Batch size when `--batch-size` is not given.
    pub batch_size: usize,
    /// Learning-rate schedule when `--lr` is not given.
    pub lr: Schedule,
    /// Samples drawn per epoch when `--num-samples` is not given.
    pub num_samples: usize,
}

impl Default for RunDefaults<'_> {
    /// 10 epochs, batch 128, constant LR 1e-3, 100 samples, `train_loss`/`test_loss` in nats
    /// per image.
    fn default() -> Self {
        Self {
            name: "example",
            out_dir: "runs/example",
            plot_title: "training loss",
            plot_y_label: "nats per image",
            plot_metrics: &["train_loss", "test_loss"],
            epochs: 10,
            batch_size: 128,
            lr: Schedule::Constant(1e-3),
            num_samples: 100,
        }
    }
}

/// Why a [`Run`] stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// `--device` names a backend that is unknown or not compiled in.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// Training failed (configuration, I/O, divergence, resume).
    #[error(transparent)]
    Train(#[from] TrainError),
    /// `eval.json` could not be written.
    #[error(transparent)]
    Report(#[from] ReportError),
}

/// One example's run: the device, the batch size and the configured [`Trainer`].
pub struct Run {
    /// The backend `--device` selected.
    pub backend: BackendKind,
    /// The autodiff device, seeded with `--seed`: build the model here.
    pub device: Device,
    /// `--batch-size`, or the example's default.
    pub batch_size: usize,
    /// `--seed`.
    pub seed: u64,
    /// The trainer: the example's defaults with the common flags applied. Adjust it (weight
    /// schedules, EMA, evaluation every N steps) before [`fit`](Self::fit).
    pub trainer: Trainer,
    name: String,
    started: Instant,
}

impl Run {
    /// Selects and seeds the device and builds the trainer; first tunes glibc's allocator to
    /// keep freed memory in the process ([`crate::allocator`], `DEEPGEN_MALLOC_TUNING=off` to
    /// skip) and flushes subnormal floats to zero ([`crate::denormals`],
    /// `DEEPGEN_FLUSH_DENORMALS=off` to skip).
    ///
    /// # Errors
    /// [`RunError::Device`] for an unknown or missing backend; [`RunError::Train`] naming the
    /// flag for an invalid common flag.
    pub fn start(common: &CommonArgs, defaults: RunDefaults<'_>) -> Result<Self, RunError> {
        // Examples are binaries: keep their freed tensor memory in the process (glibc).
        crate::allocator::keep_memory_in_process();
        // ... and flush subnormal floats to zero before the thread pools start (they inherit it).
        crate::denormals::flush_denormals_to_zero();
        let (backend, device) = select_device(common.device.as_deref())?;
        let batch_size = common.batch_size.unwrap_or(defaults.batch_size);
        if batch_size == 0 {
            return Err(TrainError::config("batch-size", "must be at least 1").into());
        }
        let trainer = Trainer::new(defaults.out_dir)
            .epochs(defaults.epochs)
            .lr(defaults.lr)
            .num_samples(defaults.num_samples)
            .with_args(common)?
            .plot_metrics(
                defaults
                    .plot_metrics
                    .iter()
                    .map(|m| m.to_string())
                    .collect(),
            )
            .plot_labels(defaults.plot_title, defaults.plot_y_label);
        let device = device.autodiff();
        device.seed(common.seed);
        Ok(Self {
            backend,
            device,
            batch_size,
            seed: common.seed,
            trainer,
            name: defaults.name.to_string(),
            started: Instant::now(),
        })
    }

    /// The device without autodiff, for evaluation after training.
    pub fn eval_device(&self) -> Device {
        self.device.clone().without_autodiff()
    }

    /// The output directory (`--out` or the default).
    pub fn out_dir(&self) -> PathBuf {
        self.trainer.out_dir().to_path_buf()
    }

    /// Prints the run's first line: `deepgen NAME: device BACKEND, WHAT`.
    pub fn announce(&self, what: impl fmt::Display) {
        println!("deepgen {}: device {}, {what}", self.name, self.backend);
    }

    /// Trains `model` on `task` with `optim` through [`Trainer::fit`] and prints
    /// `done: N epochs (S s in this process)`.
    ///
    /// # Errors
    /// As [`Trainer::fit`].
    pub fn fit<T: Task>(
        &self,
        task: &mut T,
        model: T::Model,
        optim: ModuleOptimizer,
    ) -> Result<FitReport<T::Model>, RunError> {
        let started = Instant::now();
        let report = self.trainer.fit(task, model, optim, &self.device)?;
        println!(
            "done: {} epochs ({:.0} s in this process)",
            report.epochs_completed,
            started.elapsed().as_secs_f64()
        );
        Ok(report)
    }

    /// Writes `report` as `eval.json` in the output directory and prints where everything is.
    ///
    /// # Errors
    /// [`RunError::Report`] when the file cannot be written.
    pub fn finish(&self, report: &EvalReport) -> Result<PathBuf, RunError> {
        let path = report.write(self.trainer.out_dir())?;
        println!(
            "samples, metrics, checkpoints and eval.json in {} ({:.0} s)",
            self.trainer.out_dir().display(),
            self.started.elapsed().as_secs_f64()
        );
        Ok(path)
    }
}

impl<M: Module> FitReport<M> {
    /// The weights to evaluate and sample from: the EMA weights when EMA was on, else the
    /// trained ones, without autodiff.
    pub fn eval_model(&self) -> M {
        self.ema_model.as_ref().unwrap_or(&self.model).valid()
    }

    /// Metric `name` of the last end-of-epoch record, if it was recorded.
    pub fn last_metric(&self, name: &str) -> Option<f64> {
        self.last.as_ref().and_then(|r| r.get(name))
    }

    /// Copies `names` from the last end-of-epoch record into `report`; a metric that was not
    /// recorded becomes `null` with the reason.
    pub fn push_last(&self, report: &mut EvalReport, names: &[&str]) {
        for &name in names {
            match self.last_metric(name) {
                Some(v) => report.push(name, v),
                None => report.missing(
                    name,
                    "not in the last epoch's metrics (no epoch finished, or not measured)",
                ),
            };
        }
    }
}
