//! The training loop shared by every example.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use burn::module::{Module, ParamId};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};
use deepgen_tensor::config::{in_open_unit, positive};
use deepgen_tensor::output::{PlotOptions, save_line_plot_with};
use deepgen_tensor::{ConfigError, HostRng, Stream, Validate};

use crate::checkpoint::{CHECKPOINT_FORMAT, CheckpointDir, SkippedCheckpoint, TrainState};
use crate::ema::Ema;
use crate::grad::{GradTransforms, LrGroups, collect_paths, optimizer_step};
use crate::metrics::{MetricsLog, MetricsRecord, RESERVED_KEYS, RunningMeans};
use crate::progress::EpochProgress;
use crate::samples::DrawnAt;
use crate::schedule::Schedule;
use crate::{StepContext, Task, TrainError};

/// What [`Trainer::fit`] returns.
#[derive(Debug)]
pub struct FitReport<M> {
    /// The trained model (the raw weights, on the autodiff device).
    pub model: M,
    /// The EMA weights, when EMA was on.
    pub ema_model: Option<M>,
    /// The last end-of-epoch metrics record.
    pub last: Option<MetricsRecord>,
    /// Epochs completed in total (including those before a resume).
    pub epochs_completed: usize,
    /// The checkpoint directory the run resumed from, if it did.
    pub resumed_from: Option<PathBuf>,
    /// Newer checkpoints `--resume` passed over because they are damaged, newest first.
    pub skipped_checkpoints: Vec<SkippedCheckpoint>,
}

/// The shared training loop and its settings (builder style).
///
/// One call to [`Trainer::fit`] trains a [`Task`] for the configured number of epochs and,
/// every epoch, evaluates on held-out data, draws samples, appends to `metrics.jsonl`,
/// redraws `loss.png` and writes an atomic checkpoint. Optionally it also evaluates and
/// samples every N optimizer steps ([`eval_every_steps`](Self::eval_every_steps),
/// [`sample_every_steps`](Self::sample_every_steps)). See the crate docs for the file layout.
///
/// # One optimizer step
///
/// ```text
/// batch = task.train_batch(..)            (the first batch of a fresh run first goes to
///                                          task.before_first_step)
/// out   = task.loss(model, batch, ctx)    one host read of loss + metrics; NaN/Inf → error
/// grads = GradTransforms(backward(loss))  custom map, value clip, global-norm clip
/// model = optimizer step at lr(step) × the LR group's multiplier
/// ema.update(model)                        when EMA is on
/// model = task.after_step(model, ctx)
/// step += 1; evaluate / sample when step is a multiple of N (not at an epoch's last step)
/// ```
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
    plot_log_y: bool,
    eval_every_steps: Option<u64>,
    sample_every_steps: Option<u64>,
}

impl Trainer {
    /// A trainer writing into `out_dir`: 10 epochs, seed 0, Adam-friendly constant LR 1e-3,
    /// no clipping, no EMA, 64 samples, evaluation and sampling at the end of each epoch only,
    /// progress bar on.
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
            plot_log_y: false,
            eval_every_steps: None,
            sample_every_steps: None,
        }
    }

    /// Applies the common example flags over this trainer's defaults.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming the flag for an invalid `--clip-grad-norm` or
    /// `--clip-grad-value` (clap already rejects them when parsing the command line).
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
            self.grad =
                self.grad.clone().with_global_norm(c).map_err(|e| {
                    TrainError::config("clip-grad-norm", ConfigError::from(e).reason)
                })?;
        }
        if let Some(v) = args.clip_grad_value {
            self.grad =
                self.grad.clone().with_value_clip(v).map_err(|e| {
                    TrainError::config("clip-grad-value", ConfigError::from(e).reason)
                })?;
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
    /// Samples drawn per evaluation point.
    pub fn num_samples(mut self, n: usize) -> Self {
        self.num_samples = n;
        self
    }
    /// Continue from the newest intact checkpoint in the output directory.
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
    /// Draw `loss.png` with a logarithmic y axis (default off). Values ≤ 0 cannot be shown on
    /// it and are left out of the plot (not of `metrics.jsonl`), so use it for positive
    /// curves such as a reconstruction error or a diffusion model's noise-prediction loss.
    pub fn plot_log_y(mut self, on: bool) -> Self {
        self.plot_log_y = on;
        self
    }
    /// Also evaluate every `n` optimizer steps (`None`, the default: only at the end of each
    /// epoch).
    ///
    /// After step `s` (counting from 1) with `s % n == 0` the loop runs
    /// [`Task::evaluate`] on the (EMA) model and appends a *mid-epoch* record to
    /// `metrics.jsonl`: `"mid_epoch": true`, a fractional `epoch` (completed epochs plus the
    /// fraction of this epoch's batches done) and `step`, the evaluation metrics, the
    /// schedules' values and `eval_time_s` — no `train_*` means (see [`crate::metrics`]).
    /// `loss.png` plots them at their fractional epoch. A multiple of `n` that falls on an
    /// epoch's last step is covered by the end-of-epoch evaluation instead.
    ///
    /// Evaluation hooks that draw from the device RNG change the noise the following training
    /// steps draw (the device is reseeded only at epoch starts); draw evaluation noise from a
    /// [`HostRng`] stream to keep training independent of this setting.
    pub fn eval_every_steps(mut self, n: Option<u64>) -> Self {
        self.eval_every_steps = n;
        self
    }
    /// Also draw samples every `n` optimizer steps (`None`, the default: only at the end of
    /// each epoch), written to `samples/step-NNNNNNN.png` (and `samples.png`/`samples.npy`).
    /// The same rules as [`eval_every_steps`](Self::eval_every_steps) apply.
    pub fn sample_every_steps(mut self, n: Option<u64>) -> Self {
        self.sample_every_steps = n;
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

    fn weights_at(&self, step: u64) -> BTreeMap<String, f64> {
        self.weights
            .iter()
            .map(|(n, s)| (n.clone(), s.value(step)))
            .collect()
    }

    /// The model evaluation and sampling see: the EMA weights when EMA is on.
    fn eval_model<M: Module>(model: &M, ema: Option<&Ema<M>>) -> M {
        match ema {
            Some(e) => e.model().valid(),
            None => model.valid(),
        }
    }

    /// Trains `model` on `task` with `optim`, on the autodiff `device`.
    ///
    /// Errors: configuration, I/O, an existing checkpoint without `resume` (nothing is
    /// overwritten), a seed other than the checkpoint's on resume, no intact checkpoint to
    /// resume from, a hook that changed `ParamId`s, and divergence (NaN/Inf loss, training
    /// metric or gradient — reported with the step and the metric or parameter; the last good
    /// checkpoint stays on disk).
    pub fn fit<T: Task>(
        &self,
        task: &mut T,
        model: T::Model,
        optim: ModuleOptimizer,
        device: &Device,
    ) -> Result<FitReport<T::Model>, TrainError> {
        Validate::validate(self)?;
        if !device.is_autodiff() {
            return Err(TrainError::config(
                "device",
                "Trainer::fit needs an autodiff device: pass `device.clone().autodiff()`",
            ));
        }
        self.lr_groups
            .check(&model)
            .map_err(|e| ConfigError::from(e).within("Trainer", "lr_groups"))?;
        let eval_device = device.clone().without_autodiff();
        std::fs::create_dir_all(&self.out_dir).map_err(|e| TrainError::io(&self.out_dir, e))?;
        let ckdir = CheckpointDir::new(self.out_dir.join("checkpoint"));
        let ema_err = |e: crate::ema::EmaError| TrainError::config("ema", e.to_string());

        let mut model = model;
        let mut optim = optim;
        let mut ema: Option<Ema<T::Model>> = self
            .ema_decay
            .map(|d| Ema::new(&model, d))
            .transpose()
            .map_err(ema_err)?;
        let mut start_epoch = 0usize;
        let mut step = 0u64;
        let mut elapsed_before = 0.0f64;
        let mut resumed_from = None;
        let mut skipped_checkpoints = Vec::new();

        if self.resume {
            match ckdir.resume(&model, &optim, ema.is_some())? {
                Some(r) => {
                    for s in &r.skipped {
                        println!(
                            "--resume: skipping damaged checkpoint {}: {}",
                            s.dir.display(),
                            s.reason
                        );
                    }
                    let state = &r.checkpoint.state;
                    if state.seed != self.seed {
                        return Err(TrainError::config(
                            "seed",
                            format!(
                                "the checkpoint in {} was trained with --seed {} but this run \
                                 has --seed {}; pass the same seed to resume",
                                r.checkpoint.dir.display(),
                                state.seed,
                                self.seed
                            ),
                        ));
                    }
                    start_epoch = state.epoch;
                    step = state.step;
                    elapsed_before = if state.elapsed_s.is_finite() {
                        state.elapsed_s
                    } else {
                        0.0
                    };
                    println!(
                        "resuming from {} (epoch {}, step {})",
                        r.checkpoint.dir.display(),
                        state.epoch,
                        state.step
                    );
                    resumed_from = Some(r.checkpoint.dir.clone());
                    model = r.model;
                    optim = r.optim;
                    if ema.is_some() {
                        ema = r.ema;
                    }
                    skipped_checkpoints = r.skipped;
                }
                None => println!(
                    "--resume: no checkpoint in {} yet; starting from scratch",
                    ckdir.root().display()
                ),
            }
        } else if !ckdir.is_empty()? {
            let path = ckdir
                .newest_dir()?
                .unwrap_or_else(|| ckdir.root().to_path_buf());
            return Err(TrainError::Checkpoint {
                path,
                reason: format!(
                    "{} already holds a run: pass --resume to continue it, or choose another --out",
                    self.out_dir.display(),
                ),
            });
        }
        let mut log = MetricsLog::open(&self.out_dir.join("metrics.jsonl"), Some(start_epoch))?;
        if start_epoch >= self.epochs {
            println!(
                "already trained for {start_epoch} epochs (--epochs {}); nothing to do",
                self.epochs
            );
        }

        let mut expected_ids = collect_paths(&model);
        let mut first_step_pending = resumed_from.is_none();
        let run_start = Instant::now();
        let mut last = log.records().iter().rev().find(|r| !r.mid_epoch).cloned();
        for epoch in start_epoch..self.epochs {
            let mut rng = HostRng::stream(self.seed, Stream::Epoch(epoch as u64));
            device.seed(HostRng::stream(self.seed, Stream::DeviceEpoch(epoch as u64)).next_u64());
            let n_batches = task.num_train_batches();
            let mut progress = EpochProgress::new(epoch, self.epochs, n_batches, self.progress);
            let mut means = RunningMeans::default();
            let mut examples = 0usize;
            let mut mid_eval_s = 0.0f64;
            for index in 0..n_batches {
                let ctx = StepContext {
                    epoch,
                    step,
                    weights: self.weights_at(step),
                };
                let batch = task.train_batch(epoch, index, &mut rng, device);
                if first_step_pending {
                    first_step_pending = false;
                    model = task.before_first_step(model, &batch)?;
                    check_param_ids("before_first_step", &expected_ids, &model)?;
                    expected_ids = collect_paths(&model);
                    if let Some(d) = self.ema_decay {
                        ema = Some(Ema::new(&model, d).map_err(ema_err)?);
                    }
                }
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
                if let Some((name, v)) = names.iter().zip(&host).find(|(_, v)| !v.is_finite()) {
                    progress.finish();
                    return Err(TrainError::NonFiniteLoss {
                        step,
                        epoch,
                        metric: name.clone(),
                        value: *v as f64,
                        checkpoint_dir: ckdir.root().to_path_buf(),
                    });
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
                    e.update(&model).map_err(ema_err)?;
                }
                model = task.after_step(model, &ctx)?;
                check_param_ids("after_step", &expected_ids, &model)?;
                step += 1;

                let mut row: Vec<(String, f64)> = names
                    .iter()
                    .zip(&host)
                    .map(|(n, v)| (format!("train_{n}"), *v as f64))
                    .collect();
                row.push(("grad_norm".into(), stats.global_norm));
                means.add(&row);
                examples += batch_len;
                progress.step(batch_len, host[0] as f64);

                let at_epoch_end = index + 1 == n_batches;
                let eval_now = !at_epoch_end
                    && self
                        .eval_every_steps
                        .is_some_and(|k| step.is_multiple_of(k));
                let sample_now = !at_epoch_end
                    && self
                        .sample_every_steps
                        .is_some_and(|k| step.is_multiple_of(k));
                if eval_now || sample_now {
                    let started = Instant::now();
                    let eval_model = Self::eval_model(&model, ema.as_ref());
                    if eval_now {
                        let metrics = task.evaluate(&eval_model, &eval_device)?;
                        check_metric_names(&metrics)?;
                        let mut values = vec![("step".to_string(), step as f64)];
                        values.extend(metrics);
                        self.push_schedules(&mut values, step);
                        values.push(("eval_time_s".into(), started.elapsed().as_secs_f64()));
                        let record = MetricsRecord {
                            epoch: epoch as f64 + (index + 1) as f64 / n_batches as f64,
                            mid_epoch: true,
                            values,
                        };
                        progress.println(summary_line(&record, self.epochs));
                        log.append(record)?;
                        self.plot(&log)?;
                    }
                    if sample_now
                        && let Some(s) = task.sample(&eval_model, self.num_samples, &eval_device)?
                    {
                        s.write(&self.out_dir, DrawnAt::Step(step))?;
                    }
                    mid_eval_s += started.elapsed().as_secs_f64();
                }
            }
            let train_time = (progress.elapsed_s() - mid_eval_s).max(0.0);
            let throughput = examples as f64 / train_time.max(1e-9);
            progress.finish();

            // Evaluation and sampling use the EMA weights when EMA is on.
            let eval_model = Self::eval_model(&model, ema.as_ref());
            let eval_start = Instant::now();
            let eval_metrics = task.evaluate(&eval_model, &eval_device)?;
            check_metric_names(&eval_metrics)?;
            if let Some(s) = task.sample(&eval_model, self.num_samples, &eval_device)? {
                s.write(&self.out_dir, DrawnAt::Epoch(epoch + 1))?;
            }

            let mut values = vec![("step".to_string(), step as f64)];
            values.extend(means.means());
            values.extend(eval_metrics);
            self.push_schedules(&mut values, step);
            values.push(("train_examples_per_s".into(), throughput));
            values.push(("train_time_s".into(), train_time));
            values.push(("eval_time_s".into(), eval_start.elapsed().as_secs_f64()));
            let record = MetricsRecord::end_of_epoch(epoch + 1, values);
            println!("{}", summary_line(&record, self.epochs));
            log.append(record.clone())?;
            self.plot(&log)?;
            last = Some(record);

            let state = TrainState {
                format: CHECKPOINT_FORMAT,
                epoch: epoch + 1,
                step,
                seed: self.seed,
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
            resumed_from,
            skipped_checkpoints,
        })
    }

    /// `lr` and every weight schedule at the last step taken (`step − 1`).
    fn push_schedules(&self, values: &mut Vec<(String, f64)>, step: u64) {
        let last_step = step.saturating_sub(1);
        values.push(("lr".into(), self.lr.value(last_step)));
        values.extend(self.weights_at(last_step));
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
        let (title, y_label) = &self.plot_labels;
        let options = PlotOptions {
            log_y: self.plot_log_y,
            ..PlotOptions::default()
        };
        save_line_plot_with(
            &self.out_dir.join("loss.png"),
            title,
            &refs,
            "epoch",
            y_label,
            &options,
        )?;
        Ok(())
    }
}

impl Validate for Trainer {
    /// Every setting, named as `Trainer.<field>` (`Trainer.lr.ratio`, `Trainer.ema_decay`, …).
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "Trainer";
        positive(C, "epochs", self.epochs)?;
        self.lr.validate().map_err(|e| e.within(C, "lr"))?;
        for (name, s) in &self.weights {
            s.validate()
                .map_err(|e| e.within(C, &format!("weights.{name}")))?;
        }
        if let Some(d) = self.ema_decay {
            in_open_unit(C, "ema_decay", d)?;
        }
        self.grad.validate().map_err(|e| e.within(C, "grad"))?;
        self.lr_groups
            .validate()
            .map_err(|e| e.within(C, "lr_groups"))?;
        for (field, every) in [
            ("eval_every_steps", self.eval_every_steps),
            ("sample_every_steps", self.sample_every_steps),
        ] {
            if every == Some(0) {
                return Err(ConfigError::new(
                    C,
                    field,
                    "must be at least 1, got 0 (use None to run only at the end of each epoch)",
                ));
            }
        }
        Ok(())
    }
}

/// Stops with [`TrainError::HookChangedParams`] when `model`'s float parameters are not the
/// `expected` `(ParamId, path)` pairs.
fn check_param_ids<M: Module>(
    hook: &'static str,
    expected: &[(ParamId, String)],
    model: &M,
) -> Result<(), TrainError> {
    let got = collect_paths(model);
    if got == expected {
        return Ok(());
    }
    let changed = |param: &str, problem: &str| TrainError::HookChangedParams {
        hook,
        param: param.to_string(),
        problem: problem.to_string(),
    };
    for (id, path) in expected {
        match got.iter().find(|(_, p)| p == path) {
            None => return Err(changed(path, "is missing")),
            Some((new_id, _)) if new_id != id => return Err(changed(path, "has a new ParamId")),
            Some(_) => {}
        }
    }
    let extra = got
        .iter()
        .find(|(_, p)| !expected.iter().any(|(_, q)| q == p))
        .map_or("?", |(_, p)| p.as_str());
    Err(changed(extra, "is new (the model gained a parameter)"))
}

/// Evaluation metrics may not use the keys `metrics.jsonl` reserves, nor `step`.
fn check_metric_names(metrics: &[(String, f64)]) -> Result<(), TrainError> {
    match metrics
        .iter()
        .find(|(n, _)| RESERVED_KEYS.contains(&n.as_str()) || n == "step")
    {
        Some((name, _)) => Err(TrainError::config(
            "Task::evaluate",
            format!(
                "returned a metric named `{name}`, a key metrics.jsonl reserves \
                 (epoch, mid_epoch, non_finite, step); rename it"
            ),
        )),
        None => Ok(()),
    }
}

fn summary_line(r: &MetricsRecord, epochs: usize) -> String {
    let mut s = if r.mid_epoch {
        format!(
            "epoch {:>6.2}/{epochs} (step {}, mid-epoch evaluation)",
            r.epoch,
            r.get("step").unwrap_or(f64::NAN)
        )
    } else {
        format!("epoch {:>3}/{epochs}", r.epoch)
    };
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
