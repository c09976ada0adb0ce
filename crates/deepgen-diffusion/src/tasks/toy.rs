//! DDPM on the 2-D toy densities of `deepgen-data` ([`ToyDensity`]), trained by
//! `deepgen-train`'s loop: [`ToyDiffusionTask`] (the [`Task`]) and the whole run of
//! `examples/ddpm_2d.rs` ([`run`] with [`Ddpm2dArgs`]).
//!
//! # Data and objective
//!
//! There is no fixed training set: every training batch is `batch_size` fresh draws of the
//! density from the loop's host RNG of the epoch, then one timestep `t ~ U{0, …, T−1}` per
//! point, then the noise (point-major), so equal seeds give equal runs and `--resume` replays
//! them. The coordinates are used as they are (the densities span about `[−4, 4]²`; with
//! `T = 1000` linear steps `√ᾱ_{T−1} ≈ 0.006`, so `x_{T−1}` is standard normal to within
//! 0.03). An "epoch" is `steps_per_epoch` optimiser steps. The loss is the mean of
//! [`denoising_loss`] (uniform weighting) with the model's [`Prediction`].
//!
//! # Evaluation
//!
//! [`Task::evaluate`] returns `test_loss`: the same loss on `test_points` fixed held-out points
//! (`Stream::EvalNoise`: the points, then per point its `t` and noise). [`Task::sample`] draws
//! the per-epoch scatter with deterministic DDIM (`sample_steps` steps) from `Stream::Samples`.
//!
//! After training, [`run`] draws `--eval-samples` points with every sampler (DDPM with the
//! fixed small variance at `--ddpm-steps`, DDIM η = 0 at each `--ddim-steps`, DPM-Solver++(2M)
//! at each `--dpm-steps`; all from the same `Stream::FrechetSamples` noise, no clipping of
//! `x̂_0`), writes `samples_<sampler>.npy` (`[N, 2]` f32) and `.png`, and scores each by the
//! [`energy_distance`] to `N` fresh draws of the density (`Stream::ModelStatistics`). The
//! **floor** `energy_floor` is the energy distance between those draws and `N` further draws
//! of the density: what a perfect sampler would score at this `N`.

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use deepgen_data::ToyDensity;
use deepgen_tensor::output::{save_scatter_plot, write_npy_f32};
use deepgen_tensor::{HostRng, Stream};
use deepgen_train::FusedAdamConfig;
use deepgen_train::{
    CommonArgs, EvalReport, PointSamples, Run, RunDefaults, Samples, Schedule, StepContext,
    StepOutput, Task, TrainError,
};

use crate::energy_distance::energy_distance;
use crate::mlp_denoiser::{MlpDenoiser, MlpDenoiserConfig};
use crate::model::timesteps_tensor;
use crate::schedule::{BetaSchedule, NoiseScheduleConfig};
use crate::scheduler::{DdimConfig, DdpmConfig, DpmSolverConfig, Scheduler, run_sampler};
use crate::target::{LossWeighting, Prediction, denoising_loss};

/// Held-out points behind `test_loss` by default.
pub const DEFAULT_TEST_POINTS: usize = 5_000;
/// Points per evaluation / sampling chunk by default.
pub const DEFAULT_EVAL_BATCH: usize = 5_000;
/// Optimiser steps per "epoch" by default.
pub const DEFAULT_STEPS_PER_EPOCH: usize = 1_000;
/// Epochs without `--epochs`/`--steps`.
pub const DEFAULT_EPOCHS: usize = 10;

/// A training batch of points: clean points, their noise and timesteps.
#[derive(Debug, Clone)]
pub struct PointBatch {
    /// `x_0`, `[B, 2]`.
    pub x0: Tensor<2>,
    /// `ε`, `[B, 2]`.
    pub noise: Tensor<2>,
    /// `t`, `[B]`.
    pub t: Tensor<1, Int>,
}

/// `points` as a `[N, 2]` f32 tensor on `device`.
///
/// # Shapes
/// - output: `[points.len(), 2]`
pub fn points_tensor(points: &[[f64; 2]], device: &Device) -> Tensor<2> {
    let data: Vec<f32> = points.iter().flatten().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(data, [points.len(), 2]), device)
}

fn host_normal_points(rng: &mut HostRng, n: usize, device: &Device) -> Tensor<2> {
    let data: Vec<f32> = (0..2 * n).map(|_| rng.normal() as f32).collect();
    Tensor::from_data(TensorData::new(data, [n, 2]), device)
}

fn read_f32(data: TensorData, what: &str) -> Result<Vec<f32>, TrainError> {
    data.try_to_vec_as::<f32>()
        .map_err(|e| TrainError::config(what, format!("cannot read as f32: {e:?}")))
}

/// A 2-D toy density for an [`MlpDenoiser`]; see the [module docs](self).
pub struct ToyDiffusionTask {
    density: ToyDensity,
    batch_size: usize,
    steps_per_epoch: usize,
    num_timesteps: usize,
    test_points: usize,
    eval_batch: usize,
    sample_steps: usize,
    seed: u64,
}

impl ToyDiffusionTask {
    /// A task on `density` for a model with `num_timesteps` steps: batches of `batch_size`
    /// fresh points, `steps_per_epoch` steps per epoch, [`DEFAULT_TEST_POINTS`] held-out
    /// points, 50 DDIM steps (at most `T`) for the per-epoch samples.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `batch-size`, `steps-per-epoch` or `timesteps` when 0.
    pub fn new(
        density: ToyDensity,
        batch_size: usize,
        steps_per_epoch: usize,
        num_timesteps: usize,
        seed: u64,
    ) -> Result<Self, TrainError> {
        for (flag, n) in [
            ("batch-size", batch_size),
            ("steps-per-epoch", steps_per_epoch),
            ("timesteps", num_timesteps),
        ] {
            if n == 0 {
                return Err(TrainError::config(flag, "must be at least 1"));
            }
        }
        Ok(Self {
            density,
            batch_size,
            steps_per_epoch,
            num_timesteps,
            test_points: DEFAULT_TEST_POINTS,
            eval_batch: DEFAULT_EVAL_BATCH,
            sample_steps: 50.min(num_timesteps),
            seed,
        })
    }

    /// `test_loss` on `n` held-out points.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `test-points` when `n` is 0.
    pub fn with_test_points(mut self, n: usize) -> Result<Self, TrainError> {
        if n == 0 {
            return Err(TrainError::config("test-points", "must be at least 1"));
        }
        self.test_points = n;
        Ok(self)
    }

    /// Points per chunk of evaluation and sampling.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `eval-batch` when `n` is 0.
    pub fn with_eval_batch(mut self, n: usize) -> Result<Self, TrainError> {
        if n == 0 {
            return Err(TrainError::config("eval-batch", "must be at least 1"));
        }
        self.eval_batch = n;
        Ok(self)
    }

    /// DDIM steps of the per-epoch samples.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `sample-steps` unless `1 ≤ n ≤ T`.
    pub fn with_sample_steps(mut self, n: usize) -> Result<Self, TrainError> {
        if n == 0 || n > self.num_timesteps {
            return Err(TrainError::config(
                "sample-steps",
                format!("must be in 1..={} (T), got {n}", self.num_timesteps),
            ));
        }
        self.sample_steps = n;
        Ok(self)
    }

    /// The toy density.
    pub fn density(&self) -> ToyDensity {
        self.density
    }

    /// Held-out points behind `test_loss`.
    pub fn test_points(&self) -> usize {
        self.test_points
    }

    /// A batch of `n` fresh points with timesteps and noise, all from `rng`: the points, then
    /// one `t` per point, then the noise, point-major.
    pub fn draw_batch(&self, n: usize, rng: &mut HostRng, device: &Device) -> PointBatch {
        let x0 = points_tensor(&self.density.sample(n, rng), device);
        let t: Vec<usize> = (0..n)
            .map(|_| rng.below(self.num_timesteps as u64) as usize)
            .collect();
        let noise = host_normal_points(rng, n, device);
        PointBatch {
            x0,
            noise,
            t: timesteps_tensor(&t, device),
        }
    }

    /// The per-point denoising loss (uniform weighting) of `model` on `batch`.
    ///
    /// # Shapes
    /// - output: `[B]`
    ///
    /// # Panics
    /// If the model's `T` differs from the task's.
    pub fn per_point_loss(&self, model: &MlpDenoiser, batch: PointBatch) -> Tensor<1> {
        assert_eq!(
            model.num_timesteps(),
            self.num_timesteps,
            "ToyDiffusionTask: the model has T = {} but the task draws t < {}",
            model.num_timesteps(),
            self.num_timesteps
        );
        let PointBatch { x0, noise, t } = batch;
        let x_t = model
            .schedule
            .add_noise(x0.clone(), noise.clone(), t.clone());
        let out = model.forward(x_t, t.clone());
        denoising_loss(
            &model.schedule,
            model.prediction,
            &LossWeighting::Uniform,
            out,
            x0,
            noise,
            t,
        )
    }

    /// The mean `test_loss` of `model` over the held-out points (`Stream::EvalNoise`), summed
    /// in f64 over chunks of `eval_batch`.
    ///
    /// # Errors
    /// [`TrainError::Config`] if the loss cannot be read back as f32.
    pub fn test_loss(&self, model: &MlpDenoiser, device: &Device) -> Result<f64, TrainError> {
        let mut rng = HostRng::stream(self.seed, Stream::EvalNoise);
        let batch = self.draw_batch(self.test_points, &mut rng, device);
        let mut sum = 0.0f64;
        let n = self.test_points;
        for start in (0..n).step_by(self.eval_batch) {
            let m = self.eval_batch.min(n - start);
            let part = PointBatch {
                x0: batch.x0.clone().narrow(0, start, m),
                noise: batch.noise.clone().narrow(0, start, m),
                t: batch.t.clone().narrow(0, start, m),
            };
            sum += read_f32(self.per_point_loss(model, part).into_data(), "test loss")?
                .iter()
                .map(|&v| f64::from(v))
                .sum::<f64>();
        }
        Ok(sum / n as f64)
    }

    /// `n` samples of `model` by `sampler` as row-major `[n, 2]` f32, in chunks of
    /// `eval_batch`; per chunk, `x_T` then every noisy step's noise come from `rng`.
    /// Non-finite coordinates are counted in the second value and left as they are.
    ///
    /// # Errors
    /// [`TrainError::Config`] if the samples cannot be read back as f32.
    pub fn sample_points<S: Scheduler>(
        &self,
        model: &MlpDenoiser,
        sampler: &S,
        n: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> Result<(Vec<f32>, usize), TrainError> {
        let mut out = Vec::with_capacity(2 * n);
        let mut left = n;
        while left > 0 {
            let m = left.min(self.eval_batch);
            let x_t = host_normal_points(rng, m, device);
            let x0 = run_sampler(
                sampler,
                x_t,
                |x, t| model.forward_at(x, t),
                |_| Some(host_normal_points(rng, m, device)),
            );
            out.extend(read_f32(x0.into_data(), "samples")?);
            left -= m;
        }
        let non_finite = out.iter().filter(|v| !v.is_finite()).count();
        Ok((out, non_finite))
    }
}

impl Task for ToyDiffusionTask {
    type Model = MlpDenoiser;
    type Batch = PointBatch;

    fn num_train_batches(&self) -> usize {
        self.steps_per_epoch
    }

    fn train_batch(
        &mut self,
        _epoch: usize,
        _index: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> PointBatch {
        self.draw_batch(self.batch_size, rng, device)
    }

    fn batch_len(&self, batch: &PointBatch) -> usize {
        batch.x0.dims()[0]
    }

    fn loss(&self, model: &MlpDenoiser, batch: PointBatch, _ctx: &StepContext) -> StepOutput {
        StepOutput::new(self.per_point_loss(model, batch).mean())
    }

    fn evaluate(
        &mut self,
        model: &MlpDenoiser,
        device: &Device,
    ) -> Result<Vec<(String, f64)>, TrainError> {
        Ok(vec![(
            "test_loss".to_string(),
            self.test_loss(model, device)?,
        )])
    }

    fn sample(
        &mut self,
        model: &MlpDenoiser,
        n: usize,
        device: &Device,
    ) -> Result<Option<Samples>, TrainError> {
        if n == 0 {
            return Ok(None);
        }
        let sampler = DdimConfig::new(self.sample_steps)
            .with_prediction(model.prediction)
            .try_init(&model.schedule)
            .map_err(|e| TrainError::config("sample-steps", e.to_string()))?;
        let mut rng = HostRng::stream(self.seed, Stream::Samples);
        let (data, _) = self.sample_points(model, &sampler, n, &mut rng, device)?;
        Ok(Some(
            PointSamples {
                data,
                dim: 2,
                labels: None,
            }
            .into(),
        ))
    }
}

/// The flags of `ddpm_2d` besides [`CommonArgs`] (`#[command(flatten)]` them).
#[derive(clap::Args, Debug, Clone)]
pub struct Ddpm2dArgs {
    /// Toy density: moons, 8gaussians, checkerboard, 2spirals, rings, pinwheel, swissroll.
    #[arg(long, default_value = "checkerboard")]
    pub density: ToyDensity,
    /// Noise schedule: Ho et al.'s linear β (rescaled for T ≠ 1000) or Nichol & Dhariwal's
    /// cosine ᾱ.
    #[arg(long, default_value = "linear", value_parser = ["linear", "cosine"])]
    pub schedule: String,
    /// T, the number of diffusion steps.
    #[arg(long, default_value_t = 1000)]
    pub timesteps: usize,
    /// What the MLP predicts: the noise (eps), the clean point (x0) or the velocity (v).
    #[arg(long, default_value = "eps", value_parser = ["eps", "x0", "v"])]
    pub prediction: String,
    /// Hidden widths of the denoising MLP, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "128,128,128")]
    pub hidden: Vec<usize>,
    /// Total optimiser steps (a multiple of --steps-per-epoch; instead of --epochs).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Optimiser steps per epoch (between evaluations, scatter plots and checkpoints).
    #[arg(long, default_value_t = DEFAULT_STEPS_PER_EPOCH)]
    pub steps_per_epoch: usize,
    /// Peak learning rate of the default cosine decay to 1 % of it (without --lr).
    #[arg(long, default_value_t = 1e-3)]
    pub lr_peak: f64,
    /// Do not keep an EMA of the weights (without `--ema`, the default decay is 0.999).
    #[arg(long)]
    pub no_ema: bool,
    /// Held-out points behind test_loss.
    #[arg(long, default_value_t = DEFAULT_TEST_POINTS)]
    pub test_points: usize,
    /// Points per evaluation / sampling chunk.
    #[arg(long, default_value_t = DEFAULT_EVAL_BATCH)]
    pub eval_batch: usize,
    /// DDIM steps of the per-epoch scatter.
    #[arg(long, default_value_t = 50)]
    pub sample_steps: usize,
    /// Samples per sampler after training (and fresh draws of the density for the energy
    /// distance and its floor); 0 skips them.
    #[arg(long, default_value_t = 10_000)]
    pub eval_samples: usize,
    /// Steps of the DDPM sampler (fixed small variance, respaced; --timesteps: the full
    /// chain, 10× slower at the defaults).
    #[arg(long, default_value_t = 100)]
    pub ddpm_steps: usize,
    /// Steps of the DDIM (η = 0) samplers, one per entry.
    #[arg(long, value_delimiter = ',', default_value = "50")]
    pub ddim_steps: Vec<usize>,
    /// Steps of the DPM-Solver++(2M) samplers, one per entry.
    #[arg(long, value_delimiter = ',', default_value = "20")]
    pub dpm_steps: Vec<usize>,
}

impl Ddpm2dArgs {
    /// The model config from the flags.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `hidden` or `timesteps` for an invalid value.
    pub fn model_config(&self) -> Result<MlpDenoiserConfig, TrainError> {
        let prediction = match self.prediction.as_str() {
            "x0" => Prediction::Sample,
            "v" => Prediction::VPrediction,
            _ => Prediction::Epsilon,
        };
        let schedule = match self.schedule.as_str() {
            "cosine" => BetaSchedule::cosine(),
            _ => BetaSchedule::linear(),
        };
        let config = MlpDenoiserConfig::new(2)
            .with_hidden(self.hidden.clone())
            .with_schedule(
                NoiseScheduleConfig::new()
                    .with_schedule(schedule)
                    .with_num_timesteps(self.timesteps),
            )
            .with_prediction(prediction);
        deepgen_tensor::Validate::validate(&config).map_err(|e| {
            let flag = match e.field.as_str() {
                f if f.starts_with("hidden") => "hidden",
                f if f.starts_with("schedule.num_timesteps") => "timesteps",
                f if f.starts_with("schedule") => "schedule",
                _ => "model",
            };
            TrainError::config(flag, e.to_string())
        })?;
        Ok(config)
    }

    fn check(&self) -> Result<(), TrainError> {
        let t = self.timesteps;
        if t == 0 {
            return Err(TrainError::config("timesteps", "must be at least 1"));
        }
        let in_range = |flag: &str, n: usize| {
            if n == 0 || n > t {
                Err(TrainError::config(
                    flag,
                    format!("every entry must be in 1..={t} (--timesteps), got {n}"),
                ))
            } else {
                Ok(())
            }
        };
        in_range("ddpm-steps", self.ddpm_steps)?;
        in_range("sample-steps", self.sample_steps)?;
        for &n in &self.ddim_steps {
            in_range("ddim-steps", n)?;
        }
        for &n in &self.dpm_steps {
            in_range("dpm-steps", n)?;
        }
        for (flag, n) in [
            ("steps-per-epoch", self.steps_per_epoch),
            ("test-points", self.test_points),
            ("eval-batch", self.eval_batch),
        ] {
            if n == 0 {
                return Err(TrainError::config(flag, "must be at least 1"));
            }
        }
        if self.eval_samples == 1 {
            return Err(TrainError::config(
                "eval-samples",
                "must be 0 (no samples) or at least 2 (the energy distance's floor compares \
                 two draws)",
            ));
        }
        if !(self.lr_peak.is_finite() && self.lr_peak > 0.0) {
            return Err(TrainError::config(
                "lr-peak",
                format!("must be a finite number > 0, got {}", self.lr_peak),
            ));
        }
        Ok(())
    }
}

/// The whole run of `ddpm_2d`: device and trainer ([`Run::start`]), the MLP denoiser, Adam
/// with a cosine learning-rate decay and an EMA of the weights (0.999) through [`Run::fit`],
/// then every sampler's samples, their energy distances and `eval.json` (see the
/// [module docs](self)).
///
/// # Errors
/// Invalid flags (naming them), device, configuration, training and output errors.
pub fn run(common: &CommonArgs, args: &Ddpm2dArgs) -> Result<(), Box<dyn Error>> {
    args.check()?;
    let config = args.model_config()?;
    let common = common.with_total_steps(args.steps, args.steps_per_epoch)?;
    let out_dir = format!("runs/ddpm_2d/{}", args.density);
    let title = format!("DDPM on {}: denoising loss", args.density);
    let mut run = Run::start(
        &common,
        RunDefaults {
            name: "ddpm_2d",
            out_dir: &out_dir,
            plot_title: &title,
            plot_y_label: "loss",
            plot_metrics: &["train_loss", "test_loss"],
            epochs: DEFAULT_EPOCHS,
            batch_size: 512,
            lr: Schedule::Constant(args.lr_peak),
            num_samples: 2000,
        },
    )?;
    let total_steps = (run.trainer.num_epochs() * args.steps_per_epoch) as u64;
    let mut trainer = run.trainer.clone();
    if common.lr.is_none() {
        trainer = trainer.lr(Schedule::Cosine {
            base: args.lr_peak,
            min: args.lr_peak / 100.0,
            warmup_steps: 0,
            total_steps,
        });
    }
    if common.ema.is_none() && !args.no_ema {
        trainer = trainer.ema(Some(0.999));
    }
    let ema = common.ema.is_some() || !args.no_ema;
    run.trainer = trainer;

    let mut task = ToyDiffusionTask::new(
        args.density,
        run.batch_size,
        args.steps_per_epoch,
        args.timesteps,
        run.seed,
    )?
    .with_test_points(args.test_points)?
    .with_eval_batch(args.eval_batch)?
    .with_sample_steps(args.sample_steps)?;
    let model = config.try_init(&run.device).map_err(TrainError::from)?;
    let params = model.num_params();
    run.announce(format!(
        "DDPM on {}, MLP {:?}, {params} parameters, T = {} ({}); {} epochs of {} steps of {} \
         fresh points",
        args.density,
        config.hidden,
        args.timesteps,
        args.schedule,
        run.trainer.num_epochs(),
        args.steps_per_epoch,
        run.batch_size
    ));
    let out = run.out_dir();
    write_config(&out, &config.to_string(), common.resume)?;

    let started = Instant::now();
    let fitted = run.fit(&mut task, model, FusedAdamConfig::new().init())?;
    let fit_s = started.elapsed().as_secs_f64();
    let model = fitted.eval_model();
    let device = run.eval_device();

    let mut report = EvalReport::new();
    report
        .push("model", "ddpm_2d")
        .push("density", args.density.name())
        .push("parameters", params)
        .push("timesteps", args.timesteps)
        .push("schedule", args.schedule.as_str())
        .push("prediction", args.prediction.as_str())
        .push("ema", if ema { "on" } else { "off" })
        .push("steps", total_steps)
        .push("batch_size", run.batch_size)
        .push("fit_seconds_this_process", fit_s);
    fitted.push_last(&mut report, &["train_loss"]);
    let test_loss = match fitted.last_metric("test_loss") {
        Some(v) => v,
        None => task.test_loss(&model, &device)?,
    };
    report
        .push("test_loss", test_loss)
        .push("test_points", task.test_points());
    score_samplers(&task, &model, args, run.seed, &out, &device, &mut report)?;
    run.finish(&report)?;
    Ok(())
}

/// Writes `model_config.json`; with `--resume`, other model flags than the run's are an error.
fn write_config(out: &Path, json: &str, resume: bool) -> Result<(), TrainError> {
    let path = out.join("model_config.json");
    match std::fs::read_to_string(&path) {
        Ok(old) if deepgen_train::json::same_config_json(&old, json) => return Ok(()),
        Ok(_) if resume => {
            return Err(TrainError::config(
                "resume",
                format!(
                    "the model flags differ from the run's {}; pass the flags it was started \
                     with",
                    path.display()
                ),
            ));
        }
        _ if !resume && out.join("checkpoint").exists() => return Ok(()),
        _ => {}
    }
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    std::fs::write(&path, json).map_err(|e| TrainError::io(&path, e))
}

/// A sampler of the toy run.
enum ToySampler {
    Ddpm(crate::scheduler::Ddpm),
    Ddim(crate::scheduler::Ddim),
    Dpm(crate::scheduler::DpmSolver),
}

/// Draws `--eval-samples` points with every sampler, writes them and their scatter plots, and
/// scores them by the energy distance to fresh draws of the density.
fn score_samplers(
    task: &ToyDiffusionTask,
    model: &MlpDenoiser,
    args: &Ddpm2dArgs,
    seed: u64,
    out: &Path,
    device: &Device,
    report: &mut EvalReport,
) -> Result<(), Box<dyn Error>> {
    let n = args.eval_samples;
    let flag = |f: &'static str| {
        move |e: deepgen_tensor::ConfigError| TrainError::config(f, e.to_string())
    };
    let p = model.prediction;
    let mut samplers: Vec<(String, ToySampler)> = Vec::new();
    let s = DdpmConfig::new(args.ddpm_steps)
        .with_prediction(p)
        .try_init(&model.schedule)
        .map_err(flag("ddpm-steps"))?;
    samplers.push((format!("ddpm_{}", args.ddpm_steps), ToySampler::Ddpm(s)));
    for &m in &args.ddim_steps {
        let s = DdimConfig::new(m)
            .with_prediction(p)
            .try_init(&model.schedule)
            .map_err(flag("ddim-steps"))?;
        samplers.push((format!("ddim_{m}"), ToySampler::Ddim(s)));
    }
    for &m in &args.dpm_steps {
        let s = DpmSolverConfig::new(m)
            .with_prediction(p)
            .try_init(&model.schedule)
            .map_err(flag("dpm-steps"))?;
        samplers.push((format!("dpm_solver_{m}"), ToySampler::Dpm(s)));
    }
    if n == 0 {
        report.missing("energy_floor", "skipped with --eval-samples 0");
        for (name, _) in &samplers {
            report.missing(
                format!("energy_distance_{name}"),
                "skipped with --eval-samples 0",
            );
        }
        return Ok(());
    }
    let started = Instant::now();
    let mut rng = HostRng::stream(seed, Stream::ModelStatistics);
    let reference: Vec<f64> = task
        .density()
        .sample(n, &mut rng)
        .into_iter()
        .flatten()
        .collect();
    let second: Vec<f64> = task
        .density()
        .sample(n, &mut rng)
        .into_iter()
        .flatten()
        .collect();
    let floor = energy_distance(&reference, &second, 2);
    println!(
        "energy distance between two draws of {} points of {} (the floor): {floor:.5} ({:.0} s)",
        n,
        task.density(),
        started.elapsed().as_secs_f64()
    );
    report.push("eval_samples", n).push("energy_floor", floor);
    let scatter = |path: &Path, title: &str, xy: &[f64]| {
        let points: Vec<(f64, f64)> = xy.chunks_exact(2).map(|p| (p[0], p[1])).collect();
        save_scatter_plot(path, title, &points, "x₁", "x₂")
    };
    scatter(
        &out.join("density_samples.png"),
        &format!("{}: {n} draws of the density", task.density()),
        &reference,
    )?;
    for (i, (name, sampler)) in samplers.iter().enumerate() {
        let started = Instant::now();
        let mut rng = HostRng::stream(seed, Stream::FrechetSamples);
        let (points, non_finite) = match sampler {
            ToySampler::Ddpm(s) => task.sample_points(model, s, n, &mut rng, device)?,
            ToySampler::Ddim(s) => task.sample_points(model, s, n, &mut rng, device)?,
            ToySampler::Dpm(s) => task.sample_points(model, s, n, &mut rng, device)?,
        };
        let secs = started.elapsed().as_secs_f64();
        write_npy_f32(&out.join(format!("samples_{name}.npy")), &[n, 2], &points)?;
        let xy: Vec<f64> = points.iter().map(|&v| f64::from(v)).collect();
        let title = format!("DDPM on {}: {n} samples, {name}", task.density());
        scatter(&out.join(format!("samples_{name}.png")), &title, &xy)?;
        if i == 0 {
            // The default sampler's points are the run's samples.npy / samples.png.
            write_npy_f32(&out.join("samples.npy"), &[n, 2], &points)?;
            scatter(&out.join("samples.png"), &title, &xy)?;
        }
        report
            .push(format!("non_finite_samples_{name}"), non_finite)
            .push(format!("sample_seconds_{name}"), secs);
        if non_finite > 0 {
            report.missing(
                format!("energy_distance_{name}"),
                format!("{non_finite} non-finite coordinates"),
            );
            println!("{name}: {non_finite} non-finite coordinates; no energy distance");
            continue;
        }
        let e = energy_distance(&xy, &reference, 2);
        println!("{name}: {n} samples in {secs:.1} s; energy distance {e:.5} (floor {floor:.5})");
        report.push(format!("energy_distance_{name}"), e);
    }
    Ok(())
}
