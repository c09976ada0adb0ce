//! Multi-scale flows (RealNVP, Glow) on uniformly dequantised MNIST, trained by
//! `deepgen-train`'s loop: [`MnistFlowTask`] (the [`Task`]), and the run every image-flow
//! example shares ([`run`] with [`MnistFlowArgs`] and a [`FlowExample`]).
//!
//! # Data and objective
//!
//! MNIST stores pixels as bytes `k ∈ {0, …, 255}`. A training batch is `[B, 1, H, W]` with
//! `x = (k + u)/256`, `u ~ U[0, 1)` drawn from the loop's host RNG of the epoch
//! ([`dequantize`]), so `--resume` replays the same noise. The loss is the negative
//! log-likelihood **in nats per image of the dequantised 8-bit data** `k + u ∈ [0, 256)^D`:
//!
//! ```text
//! loss = −ln p(x) + D·ln 256 = bpd · D · ln 2          (D = C·H·W)
//! ```
//!
//! with `ln p(x)` the flow's density of `x ∈ [0, 1]^D` (including the logit/centring
//! Jacobians). Its gradient is that of `−ln p(x)`; the constant makes it the positive number
//! papers quote. `bpd` is logged beside it (`train_bpd`).
//!
//! # Evaluation
//!
//! [`Task::evaluate`] returns `test_bpd`: [`bits_per_dim`] averaged over the first
//! `test_images` test images (all 10 000 by default), computed in chunks of `eval_batch`, and
//! beside it `test_bpd_median`, `test_bpd_max` and `test_images_above_8_bpd` ([`BpdSummary`]):
//! a flow can give a single test image an absurd value (a two-hour Glow gave one MNIST test
//! image 1.5 × 10⁹ bits/dim, docs/results.md), which then *is* the mean; the median and the
//! count of images worse than a uniform model (8 bits/dim) show it at once. The
//! dequantisation noise of the test set comes from `HostRng::stream(seed, Stream::EvalNoise)`,
//! drawn image after image in order, so every epoch (and every chunk size) is measured on the
//! same noise, and a subset sees the noise of the full set's first images.
//!
//! [`Task::sample`] draws images at temperature 1 from `Stream::Samples` (the same noise every
//! epoch), clamped to `[0, 1]`, so the loop writes `samples.npy` `[N, 1, H, W]` and the PNG
//! grid. After training [`run`] draws `--fd-samples` images at temperature 0.7 (and 1.0) from
//! `Stream::FrechetSamples`, writes `samples_t0.7.npy`/`.png`, and scores them with
//! deepgen-eval's MNIST classifier (Fréchet distance in its feature space, predicted-label
//! histogram, entropy and mean confidence) into `eval.json`.

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use deepgen_data::{BatchPlan, EpochBatches, Mnist, MnistSplit};
use deepgen_eval::MnistEvaluator;
use deepgen_tensor::output::write_image_samples;
use deepgen_tensor::{ConfigError, HostRng, Stream};
use deepgen_train::FusedAdamConfig;
use deepgen_train::grad::GradTransforms;
use deepgen_train::json::same_config_json;
use deepgen_train::{
    CommonArgs, EvalReport, ImageSamples, Run, RunDefaults, Samples, Schedule, StepContext,
    StepOutput, Task, TrainError, Trainer,
};

use crate::density::NormalizingFlow;
use crate::elementwise::{Affine, AffineScale, CouplingBijection};
use crate::image_flows::{GlowConfig, RealNvpConfig};
use crate::multiscale::MultiScaleFlow;
use crate::multiscale::Preprocess;
use crate::preprocess::{PIXEL_LEVELS, bits_per_dim, dequantize};

/// Test images per `log_prob` chunk, and samples per sampling chunk, by default.
pub const DEFAULT_EVAL_BATCH: usize = 500;

/// The temperature of the after-training samples `samples_t0.7.npy` (Glow's choice).
pub const LOW_TEMPERATURE: f64 = 0.7;

/// Dequantised MNIST for a [`MultiScaleFlow`]: see the [module docs](self).
///
/// Epoch `e` visits the first `train_images` images of the seeded permutation
/// `HostRng::derive(seed, e)` of the whole training split (all of it by default), in batches
/// of `batch_size` (a last partial batch is dropped), so a resumed run sees the same batches.
pub struct MnistFlowTask {
    train: MnistSplit,
    test: MnistSplit,
    batches: EpochBatches,
    test_images: usize,
    eval_batch: usize,
    seed: u64,
}

impl MnistFlowTask {
    /// A task on `train`/`test` with mini-batches of `batch_size`, every training image once
    /// per epoch, evaluation on the whole test split in chunks of [`DEFAULT_EVAL_BATCH`].
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `batch-size` when it is 0 or larger than the training
    /// split, or `data` when the splits' image sizes differ.
    pub fn new(
        train: MnistSplit,
        test: MnistSplit,
        batch_size: usize,
        seed: u64,
    ) -> Result<Self, TrainError> {
        if batch_size == 0 || batch_size > train.len() {
            return Err(TrainError::config(
                "batch-size",
                format!(
                    "must be in 1..={} (the training images), got {batch_size}",
                    train.len()
                ),
            ));
        }
        train
            .check_test_split(&test)
            .map_err(|e| TrainError::config("data", e))?;
        let plan = BatchPlan::new(train.len(), batch_size, true, seed, true)
            .map_err(|e| TrainError::config("batch-size", e.to_string()))?;
        let test_images = test.len();
        Ok(Self {
            train,
            test,
            batches: EpochBatches::new(plan),
            test_images,
            eval_batch: DEFAULT_EVAL_BATCH,
            seed,
        })
    }

    /// Visits only `n` training images per epoch (drawn anew each epoch from the seeded
    /// permutation of the whole split); `n` is capped at the split's size.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `train-images` when `n` is smaller than one batch.
    pub fn with_train_images(mut self, n: usize) -> Result<Self, TrainError> {
        self.batches
            .limit_to(n)
            .map_err(|e| TrainError::config("train-images", e))?;
        Ok(self)
    }

    /// Evaluates `test_bpd` on the first `n` test images (capped at the split's size).
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `test-images` when `n` is 0.
    pub fn with_test_images(mut self, n: usize) -> Result<Self, TrainError> {
        if n == 0 {
            return Err(TrainError::config("test-images", "must be at least 1"));
        }
        self.test_images = n.min(self.test.len());
        Ok(self)
    }

    /// Images per chunk of evaluation and sampling.
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

    /// `[C, H, W]` of the images (`[1, 28, 28]` for MNIST).
    pub fn image_shape(&self) -> [usize; 3] {
        [1, self.train.rows, self.train.cols]
    }

    /// `D = C·H·W`.
    pub fn dims(&self) -> usize {
        self.image_shape().iter().product()
    }

    /// Test images behind `test_bpd`.
    pub fn test_images(&self) -> usize {
        self.test_images
    }

    /// The training split.
    pub fn train_split(&self) -> &MnistSplit {
        &self.train
    }

    /// The test split.
    pub fn test_split(&self) -> &MnistSplit {
        &self.test
    }

    /// Training-split indices of batch `index` of `epoch`.
    pub fn batch_indices(&mut self, epoch: usize, index: usize) -> Vec<usize> {
        self.batches.indices(epoch, index)
    }

    /// The mean `test_bpd` of `model` over the first [`test_images`](Self::test_images) test
    /// images (see the [module docs](self) for the noise), in f64 on the host.
    ///
    /// # Errors
    /// [`TrainError::Config`] if the bits/dim cannot be read back as f32.
    pub fn test_bpd(&self, model: &MultiScaleFlow, device: &Device) -> Result<f64, TrainError> {
        self.test_bpd_on(model, self.test_images, device)
    }

    /// [`test_bpd`](Self::test_bpd) on the first `n` test images (capped at the split's size;
    /// the same noise as every other subset on their common images).
    ///
    /// # Errors
    /// As [`test_bpd`](Self::test_bpd); [`TrainError::Config`] naming `test-images` when `n`
    /// is 0.
    pub fn test_bpd_on(
        &self,
        model: &MultiScaleFlow,
        n: usize,
        device: &Device,
    ) -> Result<f64, TrainError> {
        if n == 0 {
            return Err(TrainError::config("test-images", "must be at least 1"));
        }
        let bpd = self.test_bpd_per_image(model, n, device)?;
        Ok(bpd.iter().sum::<f64>() / bpd.len() as f64)
    }

    /// The bits/dim of each of the first `n` test images (capped at the split's size), with
    /// the noise of [`test_bpd`](Self::test_bpd).
    ///
    /// # Errors
    /// As [`test_bpd_on`](Self::test_bpd_on).
    pub fn test_bpd_per_image(
        &self,
        model: &MultiScaleFlow,
        n: usize,
        device: &Device,
    ) -> Result<Vec<f64>, TrainError> {
        if n == 0 {
            return Err(TrainError::config("test-images", "must be at least 1"));
        }
        let mut rng = HostRng::stream(self.seed, Stream::EvalNoise);
        let (n, d) = (n.min(self.test.len()), self.dims());
        let mut out = Vec::with_capacity(n);
        for start in (0..n).step_by(self.eval_batch) {
            let idx: Vec<usize> = (start..(start + self.eval_batch).min(n)).collect();
            let x = dequantize(pixel_levels(&self.test, &idx, device), &mut rng);
            let bpd = bits_per_dim(model.log_prob(x, None), d);
            out.extend(
                read_f32(bpd.into_data(), "test bits/dim")?
                    .iter()
                    .map(|&v| f64::from(v)),
            );
        }
        Ok(out)
    }

    /// The [`BpdSummary`] of the first [`test_images`](Self::test_images) test images.
    ///
    /// # Errors
    /// As [`test_bpd`](Self::test_bpd).
    pub fn test_bpd_summary(
        &self,
        model: &MultiScaleFlow,
        device: &Device,
    ) -> Result<BpdSummary, TrainError> {
        Ok(BpdSummary::new(&self.test_bpd_per_image(
            model,
            self.test_images,
            device,
        )?))
    }

    /// `n` samples of `model` at `temperature` as host pixels `[n, C, H, W]`, drawn in chunks
    /// of `eval_batch` from `rng`, clamped to `[0, 1]`; non-finite values (a diverged inverse)
    /// become 0 and are counted in the second value.
    ///
    /// # Errors
    /// [`TrainError::Config`] if the samples cannot be read back as f32.
    pub fn sample_images(
        &self,
        model: &MultiScaleFlow,
        n: usize,
        temperature: f64,
        rng: &mut HostRng,
    ) -> Result<(Vec<f32>, usize), TrainError> {
        sample_pixels(n, self.eval_batch, rng, |m, rng| {
            model.sample_with_temperature(m, temperature, None, rng)
        })
    }
}

/// `n` images from `draw(m, rng)` (called with chunks of at most `chunk` images, each a
/// `[m, C, H, W]` tensor) as host pixels, clamped to `[0, 1]`; non-finite values (a diverged
/// inverse) become 0 and are counted in the second value. Shared by every image flow's
/// samplers (plain flows and the f-VAE's conditional decoder).
///
/// # Errors
/// [`TrainError::Config`] if the samples cannot be read back as f32.
pub fn sample_pixels(
    n: usize,
    chunk: usize,
    rng: &mut HostRng,
    mut draw: impl FnMut(usize, &mut HostRng) -> Tensor<4>,
) -> Result<(Vec<f32>, usize), TrainError> {
    let mut out = Vec::new();
    let mut non_finite = 0usize;
    let mut left = n;
    while left > 0 {
        let m = left.min(chunk.max(1));
        for v in read_f32(draw(m, rng).into_data(), "samples")? {
            if v.is_finite() {
                out.push(v.clamp(0.0, 1.0));
            } else {
                non_finite += 1;
                out.push(0.0);
            }
        }
        left -= m;
    }
    Ok((out, non_finite))
}

/// The pixel levels `k ∈ {0, …, 255}` of images `idx` of `split` as floats, `[B, 1, H, W]`
/// (exact in f32).
///
/// # Panics
/// If an index is `>= split.len()`, like slice indexing.
pub fn pixel_levels(split: &MnistSplit, idx: &[usize], device: &Device) -> Tensor<4> {
    let d = split.pixels();
    let mut data = Vec::with_capacity(idx.len() * d);
    for &i in idx {
        data.extend(split.image(i).iter().map(|&k| f32::from(k)));
    }
    Tensor::from_data(
        TensorData::new(data, [idx.len(), 1, split.rows, split.cols]),
        device,
    )
}

fn read_f32(data: TensorData, what: &str) -> Result<Vec<f32>, TrainError> {
    data.try_to_vec::<f32>()
        .map_err(|e| TrainError::config(what, format!("cannot read as f32: {e:?}")))
}

impl Task for MnistFlowTask {
    type Model = MultiScaleFlow;
    type Batch = Tensor<4>;

    fn num_train_batches(&self) -> usize {
        self.batches.batches_per_epoch()
    }

    fn train_batch(
        &mut self,
        epoch: usize,
        index: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> Tensor<4> {
        let idx = self.batch_indices(epoch, index);
        dequantize(pixel_levels(&self.train, &idx, device), rng)
    }

    fn batch_len(&self, batch: &Tensor<4>) -> usize {
        batch.dims()[0]
    }

    fn loss(&self, model: &MultiScaleFlow, batch: Tensor<4>, _ctx: &StepContext) -> StepOutput {
        let d = self.dims();
        let log_prob = model.log_prob(batch, None);
        let bpd = bits_per_dim(log_prob.clone(), d).mean();
        let loss = log_prob
            .neg()
            .add_scalar(d as f64 * PIXEL_LEVELS.ln())
            .mean();
        StepOutput::new(loss).with_metric("bpd", bpd)
    }

    /// Glow's data-dependent ActNorm initialisation on the first training batch (the loop
    /// skips this hook on `--resume`; already initialised layers are left unchanged anyway).
    fn before_first_step(
        &mut self,
        model: MultiScaleFlow,
        batch: &Tensor<4>,
    ) -> Result<MultiScaleFlow, TrainError> {
        Ok(model.initialize_actnorm(batch.clone(), None))
    }

    fn evaluate(
        &mut self,
        model: &MultiScaleFlow,
        device: &Device,
    ) -> Result<Vec<(String, f64)>, TrainError> {
        Ok(self.test_bpd_summary(model, device)?.metrics())
    }

    fn sample(
        &mut self,
        model: &MultiScaleFlow,
        n: usize,
        device: &Device,
    ) -> Result<Option<Samples>, TrainError> {
        let _ = device;
        if n == 0 {
            return Ok(None);
        }
        let mut rng = HostRng::stream(self.seed, Stream::Samples);
        let (data, _) = self.sample_images(model, n, 1.0, &mut rng)?;
        Ok(Some(
            ImageSamples::square_grid(data, self.image_shape()).into(),
        ))
    }
}

/// Per-image test bits/dim summarised for `metrics.jsonl` and `eval.json` (see the
/// [module docs](self) for why the mean alone is not enough).
#[derive(Debug, Clone, PartialEq)]
pub struct BpdSummary {
    /// Mean bits/dim (`test_bpd`, the number papers quote).
    pub mean: f64,
    /// Median bits/dim (the mean of the two middle values for an even count).
    pub median: f64,
    /// The largest bits/dim.
    pub max: f64,
    /// Index (in the test split) of the image with the largest bits/dim.
    pub worst_image: usize,
    /// Images with more than 8 bits/dim: worse than a uniform density on the 8-bit cube.
    pub above_uniform: usize,
}

impl BpdSummary {
    /// Metric names of [`metrics`](Self::metrics), in order.
    pub const METRICS: [&'static str; 4] = [
        "test_bpd",
        "test_bpd_median",
        "test_bpd_max",
        "test_images_above_8_bpd",
    ];

    /// The summary of per-image bits/dim `bpd` (test-split order; NaN counts as the worst).
    ///
    /// # Panics
    /// If `bpd` is empty.
    pub fn new(bpd: &[f64]) -> Self {
        assert!(!bpd.is_empty(), "BpdSummary: no images");
        let key = |v: f64| if v.is_nan() { f64::INFINITY } else { v };
        let mut sorted: Vec<f64> = bpd.iter().map(|&v| key(v)).collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        let median = if n % 2 == 1 {
            sorted[n / 2]
        } else {
            0.5 * (sorted[n / 2 - 1] + sorted[n / 2])
        };
        let worst_image = (0..n)
            .max_by(|&a, &b| key(bpd[a]).total_cmp(&key(bpd[b])))
            .unwrap_or(0);
        Self {
            mean: bpd.iter().sum::<f64>() / n as f64,
            median,
            max: bpd[worst_image],
            worst_image,
            above_uniform: bpd.iter().filter(|&&v| v.is_nan() || v > 8.0).count(),
        }
    }

    /// `(name, value)` pairs named by [`METRICS`](Self::METRICS).
    pub fn metrics(&self) -> Vec<(String, f64)> {
        let values = [self.mean, self.median, self.max, self.above_uniform as f64];
        Self::METRICS
            .iter()
            .zip(values)
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }
}

/// The flow architecture of an image-flow example (written as `flow_config.json`).
#[derive(Debug, Clone)]
pub enum ImageFlowConfig {
    /// A multi-scale RealNVP.
    RealNvp(RealNvpConfig),
    /// A Glow.
    Glow(GlowConfig),
}

impl ImageFlowConfig {
    /// Builds the flow on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<MultiScaleFlow, ConfigError> {
        match self {
            ImageFlowConfig::RealNvp(c) => c.try_init(device),
            ImageFlowConfig::Glow(c) => c.try_init(device),
        }
    }

    /// The config as JSON.
    pub fn to_json(&self) -> String {
        match self {
            ImageFlowConfig::RealNvp(c) => format!("{{\"RealNvp\": {c}}}"),
            ImageFlowConfig::Glow(c) => format!("{{\"Glow\": {c}}}"),
        }
    }
}

/// Flags shared by the image-flow examples (`#[command(flatten)]` them beside
/// [`CommonArgs`]); the architecture flags are each example's own.
#[derive(clap::Args, Debug, Clone)]
pub struct MnistFlowArgs {
    /// Training images per epoch (default: all 60 000); each epoch draws them anew from the
    /// seeded permutation. Shorter epochs mean more frequent checkpoints, test bits/dim and
    /// sample grids.
    #[arg(long)]
    pub train_images: Option<usize>,
    /// Test images behind `test_bpd` (per epoch and in eval.json; default: the whole test
    /// split).
    #[arg(long, default_value_t = 10_000)]
    pub test_images: usize,
    /// Images per evaluation / sampling chunk.
    #[arg(long, default_value_t = DEFAULT_EVAL_BATCH)]
    pub eval_batch: usize,
    /// Linear learning-rate warm-up from 0 over this many steps (ignored with --lr).
    #[arg(long, default_value_t = 500)]
    pub warmup: u64,
    /// Also evaluate `test_bpd` every N optimizer steps (mid-epoch records in metrics.jsonl).
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Samples drawn after training at temperature 0.7 (written as samples_t0.7.npy) and at
    /// 1.0, each scored by deepgen-eval's MNIST classifier (0 skips both).
    #[arg(long, default_value_t = 10_000)]
    pub fd_samples: usize,
    /// Skip the temperature-1.0 Fréchet distance (halves the after-training sampling).
    #[arg(long)]
    pub no_fd_t1: bool,
    /// Further temperatures to sample and score after 0.7 and 1.0 (e.g. `0.5,0.6,0.8`), each
    /// written as `samples_t<T>.npy`/`.png` with its scores in eval.json; the 0.7 and 1.0
    /// samples stay the same draws.
    #[arg(long, value_delimiter = ',', value_parser = deepgen_train::cli::positive_finite)]
    pub extra_temperatures: Vec<f64>,
}

/// The input transform and coupling scale of a Glow (`glow_mnist`, and the f-VAE's decoder):
/// `#[command(flatten)]` beside the other flags. The defaults are the CPU-budget choices of
/// docs/flows.md (logit input, soft-clamped `exp` scale); `--preprocess center --scale sigmoid`
/// is the paper's Glow (and [`GlowConfig`]'s own defaults).
#[derive(clap::Args, Debug, Clone)]
pub struct GlowInputArgs {
    /// Scale of the affine couplings: RealNVP's soft-clamped `exp(3·tanh(s/3))` or the
    /// paper's `sigmoid(s + 2)` (contracting only, in the data → latent direction).
    #[arg(long, default_value = "exp", value_parser = ["exp", "sigmoid"])]
    pub scale: String,
    /// Preprocessing: the logit transform with `--alpha` (RealNVP's) or the paper's `x − ½`
    /// (`center`).
    #[arg(long, default_value = "logit", value_parser = ["logit", "center"])]
    pub preprocess: String,
    /// α of the logit transform, in (0, ½).
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// Soft bound `c` on the couplings' shift, `t = c·tanh(t_raw/c)`; `0` (default, the
    /// papers') leaves it unbounded. With `--scale sigmoid` it guarantees `|y| ≤ |x| + c` per
    /// coupling; with the `exp` scale it does not stop the growth (docs/flows.md, "Bounded
    /// shift").
    #[arg(long, default_value_t = 0.0)]
    pub shift_bound: f64,
}

impl GlowInputArgs {
    /// `config` with these flags' coupling bijection and preprocessing.
    pub fn apply(&self, config: GlowConfig) -> GlowConfig {
        let scale = if self.scale == "exp" {
            AffineScale::SoftClampedExp(3.0)
        } else {
            AffineScale::Sigmoid
        };
        let shift_bound = (self.shift_bound != 0.0).then_some(self.shift_bound);
        config
            .with_coupling(CouplingBijection::Affine(
                Affine::new()
                    .with_scale(scale)
                    .with_shift_bound(shift_bound),
            ))
            .with_preprocess(if self.preprocess == "center" {
                Preprocess::Center
            } else {
                Preprocess::Logit(self.alpha)
            })
    }
}

/// What an image-flow example sets before the flags apply.
#[derive(Debug, Clone)]
pub struct FlowExample<'a> {
    /// Name printed first and the default output directory `runs/NAME`.
    pub name: &'a str,
    /// Default output directory.
    pub out_dir: &'a str,
    /// Title of `loss.png`.
    pub plot_title: &'a str,
    /// Epochs without `--epochs`.
    pub epochs: usize,
    /// Batch size without `--batch-size`.
    pub batch_size: usize,
    /// Peak learning rate of Adam after the warm-up (without `--lr`).
    pub lr: f64,
    /// Global gradient-norm clip without `--clip-grad-norm` (`None`: no clipping).
    pub clip_grad_norm: Option<f64>,
}

/// The whole run of an image-flow example: device and trainer ([`Run::start`]), MNIST, the
/// flow from `config` (given `[C, H, W]` of the data), Adam through [`Run::fit`], then the
/// full-test-set `test_bpd`, the temperature-0.7 and 1.0 samples and their scores, and
/// `eval.json`.
///
/// # Errors
/// Invalid flags (naming them), device, data, configuration, training and output errors.
pub fn run(
    common: &CommonArgs,
    args: &MnistFlowArgs,
    example: FlowExample<'_>,
    config: impl FnOnce([usize; 3]) -> ImageFlowConfig,
) -> Result<(), Box<dyn Error>> {
    if args.test_images == 0 {
        return Err(TrainError::config("test-images", "must be at least 1").into());
    }
    if args.eval_batch == 0 {
        return Err(TrainError::config("eval-batch", "must be at least 1").into());
    }
    if args.eval_every == Some(0) {
        return Err(TrainError::config("eval-every", "must be at least 1").into());
    }
    let mut run = Run::start(
        common,
        RunDefaults {
            name: example.name,
            out_dir: example.out_dir,
            plot_title: example.plot_title,
            plot_y_label: "bits/dim",
            plot_metrics: &["train_bpd", "test_bpd"],
            epochs: example.epochs,
            batch_size: example.batch_size,
            lr: Schedule::LinearWarmup {
                start: 0.0,
                end: example.lr,
                warmup_steps: args.warmup,
            },
            num_samples: 100,
        },
    )?;
    let trainer = run.trainer.clone().eval_every_steps(args.eval_every);
    run.trainer = with_default_clip(trainer, common, example.clip_grad_norm)?;

    let mnist = Mnist::load(common.data.as_deref())?;
    let mut task = MnistFlowTask::new(
        mnist.train.clone(),
        mnist.test.clone(),
        run.batch_size,
        run.seed,
    )?
    .with_test_images(args.test_images)?
    .with_eval_batch(args.eval_batch)?;
    if let Some(n) = args.train_images {
        task = task.with_train_images(n)?;
    }
    let config = config(task.image_shape());
    let model = config.try_init(&run.device).map_err(TrainError::from)?;
    let params = model.num_params();
    run.announce(format!(
        "{}, {params} parameters, {} batches of {} per epoch",
        mnist.describe(),
        task.num_train_batches(),
        run.batch_size
    ));
    let out = run.out_dir();
    write_config(&out, &config, common.resume)?;

    let fitted = run.fit(&mut task, model, FusedAdamConfig::new().init())?;
    let model = fitted.eval_model();
    let device = run.eval_device();
    let mut report = EvalReport::new();
    report
        .push("model", example.name)
        .push("parameters", params);
    fitted.push_last(&mut report, &["train_bpd"]);

    // The last epoch's test bits/dim is the trained model's; measure it only if no epoch ran
    // (or the run's metrics predate the summary).
    let started = Instant::now();
    let names = BpdSummary::METRICS;
    let test_metrics: Vec<(String, f64)> = match names
        .iter()
        .map(|k| fitted.last_metric(k))
        .collect::<Option<Vec<f64>>>()
    {
        Some(v) => names.iter().map(|k| k.to_string()).zip(v).collect(),
        None => task.test_bpd_summary(&model, &device)?.metrics(),
    };
    let test_bpd = test_metrics[0].1;
    println!(
        "test bits/dim ({} test images, fixed dequantisation noise): mean {test_bpd:.4}, \
         median {:.4}, max {:.4}, {} image(s) above 8 ({:.0} s)",
        task.test_images(),
        test_metrics[1].1,
        test_metrics[2].1,
        test_metrics[3].1,
        started.elapsed().as_secs_f64()
    );
    for (k, v) in &test_metrics {
        report.push(k, *v);
    }
    report.push("test_images", task.test_images());

    let scores = SampleScores {
        image_shape: task.image_shape(),
        fd_samples: args.fd_samples,
        no_fd_t1: args.no_fd_t1,
        extra_temperatures: args.extra_temperatures.clone(),
        seed: run.seed,
    };
    scores.run(&mnist, &out, &device, &mut report, |n, t, rng| {
        task.sample_images(&model, n, t, rng)
    })?;
    run.finish(&report)?;
    Ok(())
}

/// Writes `flow_config.json` into `out`, unless `out` already holds a run that this one will
/// refuse to overwrite (no `--resume`: the trainer stops with that error). With `--resume`,
/// architecture flags that differ from the run's file are an error naming it.
fn write_config(out: &Path, config: &ImageFlowConfig, resume: bool) -> Result<(), TrainError> {
    let path = out.join("flow_config.json");
    let json = config.to_json();
    match std::fs::read_to_string(&path) {
        Ok(old) if same_config_json(&old, &json) => return Ok(()),
        Ok(_) if resume => {
            return Err(TrainError::config(
                "resume",
                format!(
                    "the architecture flags differ from the run's {}; pass the flags it was \
                     started with",
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

/// A global gradient-norm clip at `clip` (e.g. 100, the image flows' default) on `trainer`,
/// unless the user chose a clip with `--clip-grad-norm`/`--clip-grad-value` (then `trainer`
/// already has it) or `clip` is `None`.
///
/// # Errors
/// [`TrainError::Config`] naming `clip-grad-norm` for a non-positive `clip`.
pub fn with_default_clip(
    trainer: Trainer,
    common: &CommonArgs,
    clip: Option<f64>,
) -> Result<Trainer, TrainError> {
    match (common.clip_grad_norm, common.clip_grad_value, clip) {
        (None, None, Some(c)) => Ok(trainer.grad_transforms(
            GradTransforms::new()
                .with_global_norm(c)
                .map_err(|e| TrainError::config("clip-grad-norm", e.to_string()))?,
        )),
        _ => Ok(trainer),
    }
}

/// The tag of temperature `t` in file names and eval.json keys: `t0.7`, `t1.0`, `t0.65`.
fn temperature_tag(t: f64) -> String {
    if (t * 10.0 - (t * 10.0).round()).abs() < 1e-9 {
        format!("t{t:.1}")
    } else {
        format!("t{t}")
    }
}

/// The after-training samples of an image model: `samples_t0.7.npy`/`.png` and deepgen-eval's
/// scores (Fréchet distance to the test set, label statistics) at temperatures 0.7 and 1.0
/// (and any extra ones).
#[derive(Debug, Clone)]
pub struct SampleScores {
    /// `[C, H, W]` of one sample.
    pub image_shape: [usize; 3],
    /// Samples per temperature (0 skips everything).
    pub fd_samples: usize,
    /// Leave out temperature 1.0.
    pub no_fd_t1: bool,
    /// Temperatures sampled, written and scored after 0.7 and 1.0 (`--extra-temperatures`).
    pub extra_temperatures: Vec<f64>,
    /// Seed of the samples' noise (`Stream::FrechetSamples`).
    pub seed: u64,
}

impl SampleScores {
    /// Draws `fd_samples` images per temperature with `draw(n, temperature, rng)` (host pixels
    /// `[n, C, H, W]` in `[0, 1]` and the count of non-finite values, as [`sample_pixels`]
    /// returns them), writes the temperature-0.7 ones (and the extra temperatures') to `out`,
    /// and pushes `fd_t0.7`, `label_*_t0.7`, `non_finite_samples_t0.7` (and the same at 1.0
    /// and each extra temperature) into `report`. Without the MNIST classifier the scores are reported missing with the reason.
    ///
    /// # Errors
    /// Sampling, classifier and output errors.
    pub fn run(
        &self,
        mnist: &Mnist,
        out: &Path,
        device: &Device,
        report: &mut EvalReport,
        mut draw: impl FnMut(usize, f64, &mut HostRng) -> Result<(Vec<f32>, usize), TrainError>,
    ) -> Result<(), Box<dyn Error>> {
        let (n, seed) = (self.fd_samples, self.seed);
        if n == 0 {
            report.missing("fd_t0.7", "skipped with --fd-samples 0");
            return Ok(());
        }
        let evaluator = match MnistEvaluator::load_existing(mnist, device) {
            Ok(e) => Some(e),
            Err(reason) => {
                println!("no sample scores: {reason}");
                None
            }
        };
        report.push("fd_samples", n);
        if let Some(e) = &evaluator {
            report.push("frechet_floor", e.floor());
        }
        let [c, h, w] = self.image_shape;
        let mut rng = HostRng::stream(seed, Stream::FrechetSamples);
        let mut temperatures = vec![LOW_TEMPERATURE];
        if !self.no_fd_t1 {
            temperatures.push(1.0);
        }
        temperatures.extend(&self.extra_temperatures);
        for (i, &t) in temperatures.iter().enumerate() {
            let started = Instant::now();
            let (images, non_finite) = draw(n, t, &mut rng)?;
            let tag = temperature_tag(t);
            let extra = i >= temperatures.len() - self.extra_temperatures.len();
            if t == LOW_TEMPERATURE || extra {
                write_image_samples(out, &tag, &images, [n, c, h, w])?;
            }
            report.push(format!("non_finite_samples_{tag}"), non_finite);
            let Some(evaluator) = &evaluator else {
                report.missing(format!("fd_{tag}"), "no MNIST classifier (see the log)");
                continue;
            };
            let fd = evaluator.frechet_to_test(&images)?;
            let labels = evaluator.label_stats(&images)?;
            println!(
                "T = {t}: {n} samples in {:.0} s; Fréchet distance to the test set {fd:.2} (floor \
                 {:.2}); labels: entropy {:.3} nats (balance {:.3}), mean confidence {:.3}, \
                 histogram {:?}",
                started.elapsed().as_secs_f64(),
                evaluator.floor(),
                labels.entropy,
                labels.balance,
                labels.mean_confidence,
                labels
                    .histogram
                    .iter()
                    .map(|p| (p * 1000.0).round() / 1000.0)
                    .collect::<Vec<_>>()
            );
            report
                .push(format!("fd_{tag}"), fd)
                .push(format!("label_entropy_{tag}"), labels.entropy)
                .push(format!("label_balance_{tag}"), labels.balance)
                .push(format!("mean_confidence_{tag}"), labels.mean_confidence)
                .push(format!("label_histogram_{tag}"), labels.histogram);
        }
        Ok(())
    }
}
