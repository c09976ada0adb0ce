//! The training loop shared by every example.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use deepgen_tensor::HostRng;
use deepgen_tensor::output::{save_image_grid, save_line_plot, write_npy_f32, write_npy_i64};

use crate::checkpoint::{CHECKPOINT_FORMAT, CheckpointDir, TrainState};
use crate::ema::Ema;
use crate::grad::{GradTransforms, LrGroups, optimizer_step};
use crate::metrics::{MetricsLog, MetricsRecord, RunningMeans};
use crate::progress::EpochProgress;
use crate::schedule::Schedule;
use crate::{StepContext, Task, TrainError};

/// What [`Trainer::fit`] returns.
#[derive(Debug)]
pub struct FitReport<M> {
    /// The trained model (the raw weights, on the autodiff device).
    pub model: M,
    /// The EMA weights, when EMA was on.
    pub ema_model: Option<M>,
    /// The last epoch's metrics record.
    pub last: Option<MetricsRecord>,
    /// Epochs completed in total (including those before a resume).
    pub epochs_completed: usize,
}

/// The shared training loop and its settings (builder style).
///
/// One call to [`Trainer::fit`] trains a [`Task`] for the configured number of epochs and,
/// every epoch, evaluates on held-out data, draws a sample grid, appends to `metrics.jsonl`,
/// redraws `loss.png` and writes an atomic checkpoint. See the crate docs for the file layout.
#[derive(Clone)]
pub struct Trainer {
    out_dir: PathBuf,
    epochs: usize,
    seed: u64,
    lr: Schedule,
    lr_groups: LrGroups,
    grad: GradTransforms,
    ema_decay: Option<f64>,
    weights: Vec<(String, Schedule)>,
    num_samples: usize,
    resume: bool,
    progress: bool,
    plot_metrics: Vec<String>,
    plot_labels: (String, String),
}

impl Trainer {
    /// A trainer writing into `out_dir`: 10 epochs, seed 0, Adam-friendly constant LR 1e-3,
    /// no clipping, no EMA, 64 samples, progress bar on.
    pub fn new(out_dir: impl Into<PathBuf>) -> Self {
        Self {
            out_dir: out_dir.into(),
            epochs: 10,
            seed: 0,
            lr: Schedule::Constant(1e-3),
            lr_groups: LrGroups::default(),
            grad: GradTransforms::new(),
            ema_decay: None,
            weights: Vec::new(),
            num_samples: 64,
            resume: false,
            progress: true,
            plot_metrics: vec!["train_loss".into(), "test_loss".into()],
            plot_labels: ("training curves".into(), "loss".into()),
        }
    }

    /// Applies the common example flags over this trainer's defaults.
    ///
    /// # Errors
    /// [`TrainError::Config`] for an invalid `--clip-grad-norm`.
    pub fn with_args(mut self, args: &crate::CommonArgs) -> Result<Self, TrainError> {
        if let Some(e) = args.epochs {
            self.epochs = e;
        }
        self.seed = args.seed;
        if let Some(lr) = &args.lr {
            self.lr = lr.clone();
        }
        if let Some(o) = &args.out {
            self.out_dir = o.clone();
        }
        self.resume = args.resume;
        if let Some(n) = args.num_samples {
            self.num_samples = n;
        }
        if let Some(d) = args.ema {
            self.ema_decay = Some(d);
        }
        if let Some(c) = args.clip_grad_norm {
            self.grad = self
                .grad
                .clone()
                .with_global_norm(c)
                .map_err(|e| TrainError::config("clip-grad-norm", e.to_string()))?;
        }
        if let Some(v) = args.clip_grad_value {
            self.grad = self
                .grad
                .clone()
                .with_value_clip(v)
                .map_err(|e| TrainError::config("clip-grad-value", e.to_string()))?;
        }
        if let Some(groups) = &args.lr_groups {
            self.lr_groups = groups.clone();
        }
        Ok(self)
    }

    /// Number of epochs.
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.epochs = epochs;
        self
    }
    /// Seed of the run.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }
    /// Learning-rate schedule over optimizer steps.
    pub fn lr(mut self, lr: Schedule) -> Self {
        self.lr = lr;
        self
    }
    /// Per-module learning-rate multipliers.
    pub fn lr_groups(mut self, groups: LrGroups) -> Self {
        self.lr_groups = groups;
        self
    }
    /// Gradient transforms (global-norm / value clipping, custom closure).
    pub fn grad_transforms(mut self, grad: GradTransforms) -> Self {
        self.grad = grad;
        self
    }
    /// Keep an EMA of the weights with `decay`, used for evaluation and sampling.
    pub fn ema(mut self, decay: Option<f64>) -> Self {
        self.ema_decay = decay;
        self
    }
    /// Registers a loss-weight schedule, visible to the task as `ctx.weight_or(name, ..)` and
    /// logged per epoch.
    pub fn weight_schedule(mut self, name: impl Into<String>, schedule: Schedule) -> Self {
        let name = name.into();
        self.weights.retain(|(n, _)| *n != name);
        self.weights.push((name, schedule));
        self
    }
    /// Samples drawn per epoch.
    pub fn num_samples(mut self, n: usize) -> Self {
        self.num_samples = n;
        self
    }
    /// Continue from the latest checkpoint in the output directory.
    pub fn resume(mut self, resume: bool) -> Self {
        self.resume = resume;
        self
    }
    /// Show the progress bar (stderr, terminals only).
    pub fn progress(mut self, on: bool) -> Self {
        self.progress = on;
        self
    }
    /// Metrics drawn in `loss.png` (default `train_loss`, `test_loss`).
    pub fn plot_metrics(mut self, names: Vec<String>) -> Self {
        self.plot_metrics = names;
        self
    }
    /// Title and y-axis label of `loss.png` (default "training curves", "loss").
    pub fn plot_labels(mut self, title: impl Into<String>, y_label: impl Into<String>) -> Self {
        self.plot_labels = (title.into(), y_label.into());
        self
    }
    /// The output directory.
    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }
    /// The number of epochs configured.
    pub fn num_epochs(&self) -> usize {
        self.epochs
    }

    fn validate(&self) -> Result<(), TrainError> {
        if self.epochs == 0 {
            return Err(TrainError::config("epochs", "must be at least 1"));
        }
        self.lr
            .validate()
            .map_err(|e| TrainError::config("lr", e.to_string()))?;
        for (name, s) in &self.weights {
            s.validate().map_err(|e| {
                TrainError::config(format!("weight schedule `{name}`"), e.to_string())
            })?;
        }
        if let Some(d) = self.ema_decay
            && !(d > 0.0 && d < 1.0)
        {
            return Err(TrainError::config(
                "ema",
                format!("decay must be in (0, 1), got {d}"),
            ));
        }
        Ok(())
    }

    fn weights_at(&self, step: u64) -> BTreeMap<String, f64> {
        self.weights
            .iter()
            .map(|(n, s)| (n.clone(), s.value(step)))
            .collect()
    }

    /// Trains `model` on `task` with `optim`, on the autodiff `device`.
    ///
    /// Errors: configuration, I/O, an existing checkpoint without `resume` (nothing is
    /// overwritten), and divergence (NaN/Inf loss, metric or gradient — reported with the step
    /// and the metric or parameter; the last good checkpoint stays on disk).
    pub fn fit<T: Task>(
        &self,
        task: &mut T,
        model: T::Model,
        optim: ModuleOptimizer,
        device: &Device,
    ) -> Result<FitReport<T::Model>, TrainError> {
        self.validate()?;
        if !device.is_autodiff() {
            return Err(TrainError::config(
                "device",
                "Trainer::fit needs an autodiff device: pass `device.clone().autodiff()`",
            ));
        }
        self.lr_groups
            .check(&model)
            .map_err(|e| TrainError::config("lr-groups", e.to_string()))?;
        let eval_device = device.clone().without_autodiff();
        std::fs::create_dir_all(&self.out_dir).map_err(|e| TrainError::io(&self.out_dir, e))?;
        let ckdir = CheckpointDir::new(self.out_dir.join("checkpoint"));

        let mut model = model;
        let mut optim = optim;
        let mut ema: Option<Ema<T::Model>> = match self.ema_decay {
            Some(d) => {
                Some(Ema::new(&model, d).map_err(|e| TrainError::config("ema", e.to_string()))?)
            }
            None => None,
        };
        let mut start_epoch = 0usize;
        let mut step = 0u64;
        let mut elapsed_before = 0.0f64;

        match (ckdir.latest()?, self.resume) {
            (Some(ck), true) => {
                if ck.state.seed != self.seed {
                    return Err(TrainError::config(
                        "seed",
                        format!(
                            "the checkpoint was trained with --seed {} but this run has --seed {}; pass the same seed to resume",
                            ck.state.seed, self.seed
                        ),
                    ));
                }
                model = ck.load_model(model)?;
                optim = ck.load_optimizer(optim)?;
                if ema.is_some() {
                    ema = Some(ck.load_ema(&model)?);
                }
                start_epoch = ck.state.epoch;
                step = ck.state.step;
                elapsed_before = ck.state.elapsed_s;
                println!(
                    "resuming from {} (epoch {}, step {})",
                    ck.dir.display(),
                    ck.state.epoch,
                    ck.state.step
                );
            }
            (Some(ck), false) => {
                return Err(TrainError::Checkpoint {
                    path: ck.dir,
                    reason: format!(
                        "{} already holds a run (epoch {}): pass --resume to continue it, or choose another --out",
                        self.out_dir.display(),
                        ck.state.epoch
                    ),
                });
            }
            (None, true) => {
                println!(
                    "--resume: no checkpoint in {} yet; starting from scratch",
                    ckdir.root().display()
                );
            }
            (None, false) => {}
        }
        let mut log = MetricsLog::open(&self.out_dir.join("metrics.jsonl"), Some(start_epoch))?;
        if start_epoch >= self.epochs {
            println!(
                "already trained for {start_epoch} epochs (--epochs {}); nothing to do",
                self.epochs
            );
        }

        let run_start = Instant::now();
        let mut last = log.records().last().cloned();
        for epoch in start_epoch..self.epochs {
            let mut rng = HostRng::derive(self.seed, epoch as u64);
            device.seed(HostRng::derive(self.seed ^ 0x5EED, epoch as u64).next_u64());
            let n_batches = task.num_train_batches();
            let mut progress = EpochProgress::new(epoch, self.epochs, n_batches, self.progress);
            let mut means = RunningMeans::default();
            for index in 0..n_batches {
                let ctx = StepContext {
                    epoch,
                    step,
                    weights: self.weights_at(step),
                };
                let batch = task.train_batch(epoch, index, &mut rng, device);
                let batch_len = task.batch_len(&batch);
                let out = task.loss(&model, batch, &ctx);

                // One device→host read for the loss and every metric.
                let mut names = Vec::with_capacity(1 + out.metrics.len());
                let mut scalars = Vec::with_capacity(1 + out.metrics.len());
                names.push("loss".to_string());
                scalars.push(out.loss.clone().detach().reshape([1]));
                for (n, v) in &out.metrics {
                    names.push(n.clone());
                    scalars.push(v.clone().detach().reshape([1]));
                }
                let host: Vec<f32> = Tensor::cat(scalars, 0)
                    .into_data()
                    .try_to_vec::<f32>()
                    .map_err(|e| {
                        TrainError::config("loss", format!("cannot read the loss as f32: {e:?}"))
                    })?;
                for (name, v) in names.iter().zip(&host) {
                    if !v.is_finite() {
                        progress.finish();
                        return Err(TrainError::NonFiniteLoss {
                            step,
                            epoch,
                            metric: name.clone(),
                            value: *v as f64,
                            checkpoint_dir: ckdir.root().to_path_buf(),
                        });
                    }
                }

                let grads = GradientsParams::from_grads(out.loss.backward(), &model);
                let (grads, stats) = self.grad.apply(&model, grads);
                if let Some(param) = stats.non_finite {
                    progress.finish();
                    return Err(TrainError::NonFiniteGradient {
                        step,
                        epoch,
                        param,
                        checkpoint_dir: ckdir.root().to_path_buf(),
                    });
                }
                let lr = self.lr.value(step);
                model = optimizer_step(&mut optim, lr, &self.lr_groups, model, grads);
                if let Some(e) = ema.as_mut() {
                    e.update(&model)
                        .map_err(|e| TrainError::config("ema", e.to_string()))?;
                }
                step += 1;

                let mut row: Vec<(String, f64)> = names
                    .iter()
                    .zip(&host)
                    .map(|(n, v)| (format!("train_{n}"), *v as f64))
                    .collect();
                row.push(("grad_norm".into(), stats.global_norm));
                means.add(&row);
                progress.step(batch_len, host[0] as f64);
            }
            let throughput = progress.throughput();
            let train_time = progress.elapsed_s();
            progress.finish();

            // Evaluation and sampling use the EMA weights when EMA is on.
            let eval_model = match &ema {
                Some(e) => e.model().valid(),
                None => model.valid(),
            };
            let eval_start = Instant::now();
            let eval_metrics = task.evaluate(&eval_model, &eval_device)?;
            let samples = task.sample(&eval_model, self.num_samples, &eval_device)?;
            if let Some(s) = &samples {
                self.write_samples(s, epoch)?;
            }

            let mut values = vec![("step".to_string(), step as f64)];
            values.extend(means.means());
            values.extend(eval_metrics);
            values.push(("lr".into(), self.lr.value(step.saturating_sub(1))));
            for (n, v) in self.weights_at(step.saturating_sub(1)) {
                values.push((n, v));
            }
            values.push(("train_examples_per_s".into(), throughput));
            values.push(("train_time_s".into(), train_time));
            values.push(("eval_time_s".into(), eval_start.elapsed().as_secs_f64()));
            let record = MetricsRecord {
                epoch: epoch + 1,
                values,
            };
            println!("{}", summary_line(&record, self.epochs));
            log.append(record.clone())?;
            self.plot(&log)?;
            last = Some(record);

            let state = TrainState {
                format: CHECKPOINT_FORMAT,
                epoch: epoch + 1,
                step,
                seed: self.seed,
                rng: rng.state(),
                elapsed_s: elapsed_before + run_start.elapsed().as_secs_f64(),
            };
            ckdir.save(&state, &model, &optim, ema.as_ref())?;
        }
        let epochs_completed = self.epochs.max(start_epoch);
        Ok(FitReport {
            model,
            ema_model: ema.map(|e| e.into_model()),
            last,
            epochs_completed,
        })
    }

    fn write_samples(&self, s: &crate::Samples, epoch: usize) -> Result<(), TrainError> {
        let [n, c, h, w] = s.shape;
        let png = self.out_dir.join("samples.png");
        save_image_grid(&png, &s.data, n, c, h, w, s.nrow)?;
        let hist = self
            .out_dir
            .join("samples")
            .join(format!("epoch-{:04}.png", epoch + 1));
        save_image_grid(&hist, &s.data, n, c, h, w, s.nrow)?;
        write_npy_f32(&self.out_dir.join("samples.npy"), &s.shape, &s.data)?;
        if let Some(labels) = &s.labels {
            write_npy_i64(&self.out_dir.join("labels.npy"), &[labels.len()], labels)?;
        }
        Ok(())
    }

    fn plot(&self, log: &MetricsLog) -> Result<(), TrainError> {
        let series: Vec<(String, Vec<(f64, f64)>)> = self
            .plot_metrics
            .iter()
            .map(|n| (n.clone(), log.series(n)))
            .filter(|(_, s)| !s.is_empty())
            .collect();
        if series.is_empty() {
            return Ok(());
        }
        let refs: Vec<(&str, &[(f64, f64)])> = series
            .iter()
            .map(|(n, s)| (n.as_str(), s.as_slice()))
            .collect();
        save_line_plot(
            &self.out_dir.join("loss.png"),
            "training curves",
            &refs,
            "epoch",
            "value",
        )?;
        Ok(())
    }
}

fn summary_line(r: &MetricsRecord, epochs: usize) -> String {
    let mut s = format!("epoch {:>3}/{epochs}", r.epoch);
    for (n, v) in &r.values {
        if n == "step" || n.ends_with("_time_s") {
            continue;
        }
        if n == "train_examples_per_s" {
            s.push_str(&format!(" | {v:.0} ex/s"));
        } else {
            s.push_str(&format!(" | {n} {v:.4}"));
        }
    }
    s
}
