//! Vector flows on the 2-D toy densities of `deepgen-data` ([`ToyDensity`]), trained by
//! `deepgen-train`'s loop: [`ToyFlowTask`] (the [`Task`]), the flows the example offers
//! ([`ToyFlowKind`], [`ToyFlowConfig`]) and the whole run of `examples/flows_2d.rs` ([`run`]
//! with [`ToyFlowArgs`]).
//!
//! # Data and objective
//!
//! There is no fixed training set: every training batch is `batch_size` fresh draws of the toy
//! density, taken from the loop's host RNG of the epoch (`HostRng::stream(seed,
//! Stream::Epoch(e))`), so equal seeds give equal runs and `--resume` replays the same
//! batches. An "epoch" is a fixed number of optimiser steps (`steps_per_epoch`, 500 in the
//! example), after which the loop evaluates, samples and checkpoints. The loss is the negative
//! log-likelihood in **nats per point**, `−mean ln p(x)`; `train_log_det` (the mean forward
//! ln|det J|) and `train_base_nll` (the mean `−ln N(f(x); 0, I)`) are logged beside it, and add
//! up to the loss.
//!
//! # Evaluation
//!
//! [`Task::evaluate`] returns `test_nll`: `−mean ln p(x)` over a **fixed held-out set** of
//! `test_points` draws (20 000 by default) from `HostRng::stream(seed, Stream::EvalNoise)`,
//! computed in chunks of `eval_batch` and summed in f64. Where the density has a closed form
//! (`8gaussians`, `checkerboard`, `rings`) it also returns `true_nll`, the mean `−ln p*(x)` of
//! the **same points** under the true density, computed once on the host in f64, and
//! `nll_gap = test_nll − true_nll`: an estimate of `KL(p* ‖ p)` (≥ 0 up to the Monte Carlo
//! error of the shared points, which cancels to first order since both terms use them).
//!
//! [`Task::sample`] returns `N` points ([`PointSamples`], `[N, 2]`) from
//! `HostRng::stream(seed, Stream::Samples)` (the same base noise every epoch), so the loop
//! writes `samples.npy` and the scatter plot `samples.png`.
//!
//! # ActNorm
//!
//! [`Task::before_first_step`] runs [`VectorFlow::initialize_actnorm`] on the first batch
//! (a no-op for flows without ActNorm, and for layers already initialised — a loaded model is
//! never re-initialised; the loop skips the hook on `--resume` anyway).

use std::error::Error;
use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use deepgen_data::ToyDensity;
use deepgen_distributions::standard_normal_log_prob;
use deepgen_tensor::output::{heatmap_cell_centers, save_density_heatmap};
use deepgen_tensor::{ConfigError, HostRng, Stream, Validate};
use deepgen_train::FusedAdamConfig;
use deepgen_train::{
    CommonArgs, EvalReport, PointSamples, Run, RunDefaults, Samples, Schedule, StepContext,
    StepOutput, Task, TrainError,
};

use crate::bijection::Bijection;
use crate::density::NormalizingFlow;
use crate::vector_flow::{CouplingFlowConfig, VectorFlow};

/// Held-out points behind `test_nll` by default.
pub const DEFAULT_TEST_POINTS: usize = 20_000;
/// Points per `log_prob` chunk of the evaluation, the heat-map and sampling by default.
pub const DEFAULT_EVAL_BATCH: usize = 5_000;
/// Optimiser steps per "epoch" (between evaluations and checkpoints) in the example.
pub const DEFAULT_STEPS_PER_EPOCH: usize = 500;
/// Cells per side of the density heat-maps.
pub const HEATMAP_CELLS: usize = 200;

/// The flows `flows_2d` trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ToyFlowKind {
    /// NICE: additive couplings and a final diagonal scaling (Dinh et al. 2014).
    Nice,
    /// RealNVP: affine couplings with a soft-clamped `exp` scale (Dinh et al. 2017).
    RealNvp,
    /// MAF: masked autoregressive affine layers (Papamakarios et al. 2017) —
    /// [`AutoregressiveLayer`](crate::AutoregressiveLayer)s with RealNVP's soft-clamped affine
    /// map and zero-initialised MADE outputs (`CouplingFlowConfig::with_autoregressive`),
    /// orders alternating natural / reversed. (A stack of [`MafStep`](crate::MafStep)s, ELU
    /// MADE with log-scale bound 3, diverged on 8 gaussians at lr 1e-3 before Burn's ELU was
    /// replaced by `deepgen_nn::activate`: a non-finite gradient of the first MADE layer after
    /// 200–350 steps. Since the fix it trains 5000 steps finitely; the flows test
    /// `a_maf_step_stack_trains_on_8_gaussians_without_a_non_finite_gradient` guards it.)
    Maf,
    /// Neural spline flow: rational-quadratic spline couplings (Durkan et al. 2019).
    Spline,
}

impl ToyFlowKind {
    /// Every kind, in documentation order.
    pub const ALL: [ToyFlowKind; 4] = [
        ToyFlowKind::Nice,
        ToyFlowKind::RealNvp,
        ToyFlowKind::Maf,
        ToyFlowKind::Spline,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            ToyFlowKind::Nice => "nice",
            ToyFlowKind::RealNvp => "realnvp",
            ToyFlowKind::Maf => "maf",
            ToyFlowKind::Spline => "spline",
        }
    }

    /// Layers (couplings or MAF steps) without `--layers`.
    pub fn default_layers(self) -> usize {
        match self {
            ToyFlowKind::Nice | ToyFlowKind::RealNvp => 16,
            ToyFlowKind::Maf => 8,
            ToyFlowKind::Spline => 8,
        }
    }
}

impl fmt::Display for ToyFlowKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for ToyFlowKind {
    type Err = String;

    /// A name of [`ToyFlowKind::name`], ignoring ASCII case (`real-nvp`, `nsf` accepted too).
    fn from_str(s: &str) -> Result<Self, String> {
        let key: String = s
            .trim()
            .chars()
            .filter(|c| *c != '-' && *c != '_')
            .map(|c| c.to_ascii_lowercase())
            .collect();
        match key.as_str() {
            "nice" => Ok(ToyFlowKind::Nice),
            "realnvp" => Ok(ToyFlowKind::RealNvp),
            "maf" => Ok(ToyFlowKind::Maf),
            "spline" | "nsf" => Ok(ToyFlowKind::Spline),
            _ => Err(format!(
                "unknown flow `{s}`; valid: {}",
                ToyFlowKind::ALL.map(ToyFlowKind::name).join(", ")
            )),
        }
    }
}

/// The architecture of a 2-D flow: `layers` couplings (or MAF steps) of `kind`, each
/// conditioner an MLP with `hidden` widths, optionally an ActNorm before every layer.
#[derive(Debug, Clone, PartialEq)]
pub struct ToyFlowConfig {
    /// Which flow.
    pub kind: ToyFlowKind,
    /// Couplings (NICE, RealNVP, spline) or autoregressive layers (MAF) (≥ 1).
    pub layers: usize,
    /// Hidden widths of every conditioner MLP / MADE.
    pub hidden: Vec<usize>,
    /// Spline bins (spline only).
    pub bins: usize,
    /// Spline interval `[−bound, bound]`, identity outside (spline only).
    pub bound: f64,
    /// An ActNorm before every layer (data-dependent initialisation on the first batch).
    pub actnorm: bool,
}

impl ToyFlowConfig {
    /// The defaults of `kind`: 16 couplings (NICE, RealNVP) or 8 layers (MAF, spline), two
    /// hidden layers of 128, 8 spline bins on `[−5, 5]`, no ActNorm.
    pub fn new(kind: ToyFlowKind) -> Self {
        Self {
            kind,
            layers: kind.default_layers(),
            hidden: vec![128, 128],
            bins: 8,
            bound: 5.0,
            actnorm: false,
        }
    }

    /// The flow on `device` (two dimensions, standard-normal base).
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<VectorFlow, ConfigError> {
        let coupling = |c: CouplingFlowConfig| {
            c.with_hidden(self.hidden.clone())
                .with_actnorm(self.actnorm)
                .try_init(device)
        };
        match self.kind {
            ToyFlowKind::Nice => coupling(CouplingFlowConfig::nice(2, self.layers)),
            ToyFlowKind::RealNvp => coupling(CouplingFlowConfig::realnvp(2, self.layers)),
            ToyFlowKind::Spline => coupling(CouplingFlowConfig::spline(
                2,
                self.layers,
                self.bins,
                self.bound,
            )),
            ToyFlowKind::Maf => {
                coupling(CouplingFlowConfig::realnvp(2, self.layers).with_autoregressive(true))
            }
        }
    }

    /// The config as one JSON object (written as `flow_config.json`).
    pub fn to_json(&self) -> String {
        let hidden: Vec<String> = self.hidden.iter().map(ToString::to_string).collect();
        format!(
            "{{\"kind\": \"{}\", \"layers\": {}, \"hidden\": [{}], \"bins\": {}, \"bound\": {}, \
             \"actnorm\": {}}}\n",
            self.kind,
            self.layers,
            hidden.join(", "),
            self.bins,
            self.bound,
            self.actnorm
        )
    }
}

/// `points` as a `[N, 2]` f32 tensor on `device`.
pub fn points_tensor(points: &[[f64; 2]], device: &Device) -> Tensor<2> {
    let data: Vec<f32> = points.iter().flatten().map(|&v| v as f32).collect();
    Tensor::from_data(TensorData::new(data, [points.len(), 2]), device)
}

/// The mean `−ln p*(x)` of `points` under `density`'s exact density, in f64 on the host, or
/// `None` when it has no closed form.
pub fn mean_true_nll(density: ToyDensity, points: &[[f64; 2]]) -> Option<f64> {
    if !density.has_log_density() || points.is_empty() {
        return None;
    }
    let sum: f64 = points
        .iter()
        .map(|&p| -density.log_density(p).expect("analytic"))
        .sum();
    Some(sum / points.len() as f64)
}

/// `ln p(x)` of `model` at every point, in chunks of `chunk` (`chunk ≥ 1`).
///
/// # Errors
/// [`TrainError::Config`] if the values cannot be read back as f32.
pub fn log_prob_points(
    model: &VectorFlow,
    points: &[[f64; 2]],
    chunk: usize,
    device: &Device,
) -> Result<Vec<f64>, TrainError> {
    let mut out = Vec::with_capacity(points.len());
    for part in points.chunks(chunk.max(1)) {
        let lp = model.log_prob(points_tensor(part, device), None);
        out.extend(
            read_f32(lp.into_data(), "log_prob")?
                .into_iter()
                .map(f64::from),
        );
    }
    Ok(out)
}

/// A square plotting window `[−L, L]²` around `points`: `L` is 1.1 × the largest absolute
/// coordinate, rounded up to a half unit (at least 1).
pub fn plot_window(points: &[[f64; 2]]) -> (f64, f64) {
    let m = points
        .iter()
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0f64, |a, v| a.max(v.abs()));
    let l = ((1.1 * m) * 2.0).ceil().max(2.0) / 2.0;
    (-l, l)
}

fn read_f32(data: TensorData, what: &str) -> Result<Vec<f32>, TrainError> {
    data.try_to_vec::<f32>()
        .map_err(|e| TrainError::config(what, format!("cannot read as f32: {e:?}")))
}

/// A 2-D toy density for a [`VectorFlow`]: see the [module docs](self).
pub struct ToyFlowTask {
    density: ToyDensity,
    batch_size: usize,
    steps_per_epoch: usize,
    test: Vec<[f64; 2]>,
    true_nll: Option<f64>,
    eval_batch: usize,
    seed: u64,
}

impl ToyFlowTask {
    /// A task on `density` with batches of `batch_size` fresh points, `steps_per_epoch`
    /// optimiser steps per epoch, and [`DEFAULT_TEST_POINTS`] held-out points from `seed`.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `batch-size` or `steps-per-epoch` when 0.
    pub fn new(
        density: ToyDensity,
        batch_size: usize,
        steps_per_epoch: usize,
        seed: u64,
    ) -> Result<Self, TrainError> {
        if batch_size == 0 {
            return Err(TrainError::config("batch-size", "must be at least 1"));
        }
        if steps_per_epoch == 0 {
            return Err(TrainError::config("steps-per-epoch", "must be at least 1"));
        }
        let mut task = Self {
            density,
            batch_size,
            steps_per_epoch,
            test: Vec::new(),
            true_nll: None,
            eval_batch: DEFAULT_EVAL_BATCH,
            seed,
        };
        task.draw_test(DEFAULT_TEST_POINTS);
        Ok(task)
    }

    fn draw_test(&mut self, n: usize) {
        let mut rng = HostRng::stream(self.seed, Stream::EvalNoise);
        self.test = self.density.sample(n, &mut rng);
        self.true_nll = mean_true_nll(self.density, &self.test);
    }

    /// Uses `n` held-out points (the first `n` of the same stream).
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `test-points` when `n` is 0.
    pub fn with_test_points(mut self, n: usize) -> Result<Self, TrainError> {
        if n == 0 {
            return Err(TrainError::config("test-points", "must be at least 1"));
        }
        self.draw_test(n);
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

    /// The toy density.
    pub fn density(&self) -> ToyDensity {
        self.density
    }

    /// The held-out points behind `test_nll`.
    pub fn test_points(&self) -> &[[f64; 2]] {
        &self.test
    }

    /// The mean true NLL of the held-out points (analytic densities only).
    pub fn true_nll(&self) -> Option<f64> {
        self.true_nll
    }

    /// `−mean ln p(x)` of `model` over the held-out points, in f64 on the host.
    ///
    /// # Errors
    /// [`TrainError::Config`] if the log-densities cannot be read back as f32.
    pub fn test_nll(&self, model: &VectorFlow, device: &Device) -> Result<f64, TrainError> {
        let lp = log_prob_points(model, &self.test, self.eval_batch, device)?;
        Ok(-lp.iter().sum::<f64>() / lp.len() as f64)
    }

    /// `n` samples of `model` from `rng` as row-major `[n, 2]` f32, drawn in chunks of
    /// `eval_batch`; non-finite coordinates (a diverged inverse) are counted in the second
    /// value and left as they are.
    ///
    /// # Errors
    /// [`TrainError::Config`] if the samples cannot be read back as f32.
    pub fn sample_points(
        &self,
        model: &VectorFlow,
        n: usize,
        rng: &mut HostRng,
    ) -> Result<(Vec<f32>, usize), TrainError> {
        let mut out = Vec::with_capacity(2 * n);
        let mut left = n;
        while left > 0 {
            let m = left.min(self.eval_batch);
            out.extend(read_f32(model.sample(m, None, rng).into_data(), "samples")?);
            left -= m;
        }
        let non_finite = out.iter().filter(|v| !v.is_finite()).count();
        Ok((out, non_finite))
    }
}

impl Task for ToyFlowTask {
    type Model = VectorFlow;
    type Batch = Tensor<2>;

    fn num_train_batches(&self) -> usize {
        self.steps_per_epoch
    }

    fn train_batch(
        &mut self,
        _epoch: usize,
        _index: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> Tensor<2> {
        points_tensor(&self.density.sample(self.batch_size, rng), device)
    }

    fn batch_len(&self, batch: &Tensor<2>) -> usize {
        batch.dims()[0]
    }

    fn loss(&self, model: &VectorFlow, batch: Tensor<2>, _ctx: &StepContext) -> StepOutput {
        let (z, ladj) = model.forward_and_ladj(batch, None);
        let base_nll = standard_normal_log_prob(z).neg().mean();
        let log_det = ladj.mean();
        let loss = base_nll.clone() - log_det.clone();
        StepOutput::new(loss)
            .with_metric("log_det", log_det)
            .with_metric("base_nll", base_nll)
    }

    /// ActNorm's data-dependent initialisation on the first training batch.
    fn before_first_step(
        &mut self,
        model: VectorFlow,
        batch: &Tensor<2>,
    ) -> Result<VectorFlow, TrainError> {
        Ok(model.initialize_actnorm(batch.clone(), None))
    }

    fn evaluate(
        &mut self,
        model: &VectorFlow,
        device: &Device,
    ) -> Result<Vec<(String, f64)>, TrainError> {
        let test_nll = self.test_nll(model, device)?;
        let mut out = vec![("test_nll".to_string(), test_nll)];
        if let Some(t) = self.true_nll {
            out.push(("true_nll".into(), t));
            out.push(("nll_gap".into(), test_nll - t));
        }
        Ok(out)
    }

    fn sample(
        &mut self,
        model: &VectorFlow,
        n: usize,
        _device: &Device,
    ) -> Result<Option<Samples>, TrainError> {
        if n == 0 {
            return Ok(None);
        }
        let mut rng = HostRng::stream(self.seed, Stream::Samples);
        let (data, _) = self.sample_points(model, n, &mut rng)?;
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

/// The flags of `flows_2d` besides [`CommonArgs`] (`#[command(flatten)]` them).
#[derive(clap::Args, Debug, Clone)]
pub struct ToyFlowArgs {
    /// Toy density: moons, 8gaussians, checkerboard, 2spirals, rings, pinwheel, swissroll.
    #[arg(long, default_value = "checkerboard")]
    pub density: ToyDensity,
    /// Flow: nice, realnvp, maf, spline.
    #[arg(long, default_value = "realnvp")]
    pub flow: ToyFlowKind,
    /// Couplings (MAF steps); default 16 for nice/realnvp, 8 for maf/spline.
    #[arg(long)]
    pub layers: Option<usize>,
    /// Hidden widths of every conditioner MLP, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "128,128")]
    pub hidden: Vec<usize>,
    /// Spline bins (--flow spline).
    #[arg(long, default_value_t = 8)]
    pub bins: usize,
    /// Spline interval [−B, B], identity outside (--flow spline).
    #[arg(long, default_value_t = 5.0)]
    pub bound: f64,
    /// An ActNorm before every layer (data-dependent initialisation on the first batch).
    #[arg(long)]
    pub actnorm: bool,
    /// Total optimiser steps (a multiple of --steps-per-epoch; instead of --epochs).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Optimiser steps per epoch (between evaluations, sample plots and checkpoints).
    #[arg(long, default_value_t = DEFAULT_STEPS_PER_EPOCH)]
    pub steps_per_epoch: usize,
    /// Peak learning rate of the default cosine decay to 1 % of it (without --lr).
    #[arg(long, default_value_t = 1e-3)]
    pub lr_peak: f64,
    /// Adam's ε (added to √v̂). The default is PyTorch's 1e-8, not Burn's 1e-5: see
    /// [`DEFAULT_ADAM_EPSILON`].
    #[arg(long, default_value_t = DEFAULT_ADAM_EPSILON, value_parser = deepgen_train::cli::positive_finite)]
    pub adam_eps: f64,
    /// Held-out points behind test_nll (and true_nll).
    #[arg(long, default_value_t = DEFAULT_TEST_POINTS)]
    pub test_points: usize,
    /// Points per evaluation / sampling chunk.
    #[arg(long, default_value_t = DEFAULT_EVAL_BATCH)]
    pub eval_batch: usize,
    /// Also evaluate every N optimiser steps (mid-epoch records in metrics.jsonl).
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Also draw samples every N optimiser steps (samples/step-NNNNNNN.png).
    #[arg(long)]
    pub sample_every: Option<u64>,
}

/// Epochs without `--epochs`/`--steps` (5000 steps of 500).
pub const DEFAULT_EPOCHS: usize = 10;

/// Adam's ε for the toy flows: PyTorch's default 1e-8 rather than Burn's 1e-5
/// ([`FusedAdamConfig`]'s default), so that `flows_2d` runs the same recipe as the PyTorch
/// reference (`benches/pytorch/realnvp_2d.py`, `torch.optim.Adam` defaults). Late in a 2-D fit,
/// at the cosine schedule's small learning rates, many gradients are ~10⁻⁵, where ε = 1e-5 is
/// comparable to `√v̂` and damps the step. Over seeds the difference in the final gap is within
/// the seed-to-seed spread (docs/results.md); `--adam-eps 1e-5` gives Burn's.
pub const DEFAULT_ADAM_EPSILON: f64 = 1e-8;

/// The whole run of `flows_2d`: device and trainer ([`Run::start`]), the flow, Adam with a
/// cosine learning-rate decay through [`Run::fit`], then `test_nll` (and `true_nll`,
/// `nll_gap`), the density heat-maps and `eval.json`.
///
/// # Errors
/// Invalid flags (naming them), device, configuration, training and output errors.
pub fn run(common: &CommonArgs, args: &ToyFlowArgs) -> Result<(), Box<dyn Error>> {
    if args.steps_per_epoch == 0 {
        return Err(TrainError::config("steps-per-epoch", "must be at least 1").into());
    }
    for (flag, v) in [
        ("eval-every", args.eval_every),
        ("sample-every", args.sample_every),
    ] {
        if v == Some(0) {
            return Err(TrainError::config(flag, "must be at least 1").into());
        }
    }
    if !(args.lr_peak.is_finite() && args.lr_peak > 0.0) {
        return Err(TrainError::config("lr-peak", "must be a finite number > 0").into());
    }
    let common = common.with_total_steps(args.steps, args.steps_per_epoch)?;
    let config = ToyFlowConfig {
        kind: args.flow,
        layers: args.layers.unwrap_or(args.flow.default_layers()),
        hidden: args.hidden.clone(),
        bins: args.bins,
        bound: args.bound,
        actnorm: args.actnorm,
    };
    let name = format!("{}-{}", args.density, args.flow);
    let out_dir = format!("runs/flows_2d/{name}");
    let title = format!("{} on {}: NLL", args.flow, args.density);
    let mut run = Run::start(
        &common,
        RunDefaults {
            name: "flows_2d",
            out_dir: &out_dir,
            plot_title: &title,
            plot_y_label: "nats per point",
            plot_metrics: &["train_loss", "test_nll", "true_nll"],
            epochs: DEFAULT_EPOCHS,
            batch_size: 512,
            lr: Schedule::Constant(args.lr_peak),
            num_samples: 2000,
        },
    )?;
    let total_steps = (run.trainer.num_epochs() * args.steps_per_epoch) as u64;
    let mut trainer = run
        .trainer
        .clone()
        .eval_every_steps(args.eval_every)
        .sample_every_steps(args.sample_every);
    if common.lr.is_none() {
        trainer = trainer.lr(Schedule::Cosine {
            base: args.lr_peak,
            min: args.lr_peak / 100.0,
            warmup_steps: 0,
            total_steps,
        });
    }
    run.trainer = trainer;

    let mut task = ToyFlowTask::new(args.density, run.batch_size, args.steps_per_epoch, run.seed)?
        .with_test_points(args.test_points)?
        .with_eval_batch(args.eval_batch)?;
    let model = config.try_init(&run.device).map_err(TrainError::from)?;
    let params = model.num_params();
    run.announce(format!(
        "{} on {}, {} layers, hidden {:?}, {params} parameters; {} epochs of {} steps of {} \
         fresh points",
        args.flow,
        args.density,
        config.layers,
        config.hidden,
        run.trainer.num_epochs(),
        args.steps_per_epoch,
        run.batch_size
    ));
    let out = run.out_dir();
    std::fs::create_dir_all(&out).map_err(|e| TrainError::io(&out, e))?;
    let config_path = out.join("flow_config.json");
    std::fs::write(&config_path, config.to_json()).map_err(|e| TrainError::io(&config_path, e))?;

    let started = Instant::now();
    let optim = FusedAdamConfig::new().with_epsilon(args.adam_eps as f32);
    optim.validate()?;
    let fitted = run.fit(&mut task, model, optim.init())?;
    let fit_s = started.elapsed().as_secs_f64();
    let model = fitted.eval_model();
    let device = run.eval_device();

    let mut report = EvalReport::new();
    report
        .push("density", args.density.name())
        .push("flow", args.flow.name())
        .push("layers", config.layers)
        .push("parameters", params)
        .push("steps", total_steps)
        .push("batch_size", run.batch_size)
        .push("fit_seconds_this_process", fit_s);
    fitted.push_last(&mut report, &["train_loss"]);
    let test_nll = match fitted.last_metric("test_nll") {
        Some(v) => v,
        None => task.test_nll(&model, &device)?,
    };
    report
        .push("test_nll", test_nll)
        .push("test_points", task.test_points().len());
    match task.true_nll() {
        Some(t) => {
            report.push("true_nll", t).push("nll_gap", test_nll - t);
            println!(
                "test NLL {test_nll:.4} nats, true NLL {t:.4}, gap {:.4} ({} held-out points)",
                test_nll - t,
                task.test_points().len()
            );
        }
        None => {
            let why = format!("{} has no closed-form density", args.density);
            report
                .missing("true_nll", why.clone())
                .missing("nll_gap", why);
            println!(
                "test NLL {test_nll:.4} nats ({} held-out points; {} has no closed-form density)",
                task.test_points().len(),
                args.density
            );
        }
    }
    let heat_title = format!("{} on {}", args.flow, args.density);
    save_heatmaps(&task, &model, &out, &heat_title, &device)?;
    run.finish(&report)?;
    Ok(())
}

/// `density.png` (the model's density on a grid covering the held-out points) and, for
/// analytic densities, `true_density.png` on the same grid.
///
/// # Errors
/// Read-back and output errors.
pub fn save_heatmaps(
    task: &ToyFlowTask,
    model: &VectorFlow,
    out: &Path,
    title: &str,
    device: &Device,
) -> Result<(), Box<dyn Error>> {
    let range = plot_window(task.test_points());
    let n = HEATMAP_CELLS;
    let centres: Vec<[f64; 2]> = heatmap_cell_centers(n, n, range, range)
        .into_iter()
        .map(|(x, y)| [x, y])
        .collect();
    let model_density: Vec<f64> = log_prob_points(model, &centres, task.eval_batch, device)?
        .into_iter()
        .map(f64::exp)
        .collect();
    save_density_heatmap(
        &out.join("density.png"),
        &format!("{title}: model density"),
        &model_density,
        n,
        n,
        range,
        range,
    )?;
    let density = task.density();
    if density.has_log_density() {
        let truth: Vec<f64> = centres
            .iter()
            .map(|&p| density.log_density(p).expect("analytic").exp())
            .collect();
        save_density_heatmap(
            &out.join("true_density.png"),
            &format!("{density}: true density"),
            &truth,
            n,
            n,
            range,
            range,
        )?;
    }
    Ok(())
}
