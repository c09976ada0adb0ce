//! The runs of the `vqvae` and `vqvae2` examples: train the autoencoder, encode MNIST into code
//! maps, train gated PixelCNN priors on them, then generate (prior → codes → decoder) and score
//! the samples with the project's evaluator.
//!
//! Stage 1 trains the [`VqModel`] with [`VqTask`] in `--out` (checkpoints, `metrics.jsonl`,
//! per-epoch reconstruction grids). Stage 2 trains the prior(s) with [`SymbolMapTask`] in
//! `--out/prior` (VQ-VAE) or `--out/prior_top` and `--out/prior_bottom` (VQ-VAE-2: the bottom
//! prior is conditioned on the top code vectors, nearest-upsampled to the bottom map), each with
//! its own checkpoints and metrics. `--resume` continues whichever stage is unfinished.
//!
//! Files in `--out` after the run: `reconstructions.png` (test images above their
//! reconstructions), `codebook_usage.png` (code frequencies on the test split, most used first,
//! per level), `samples.npy` (`[N, 1, 28, 28]` in [0, 1], N = `--fd-samples`), `samples.png`
//! (the first 100), `labels.npy` (class-conditional priors), `vq_config.json`, and `eval.json`
//! with the test reconstruction MSE, codebook perplexity and usage per level, the priors' test
//! NLL (nats per code map), the samples' Fréchet distance to the test set, label statistics
//! (and label accuracy for class-conditional priors), and the budget (parameters, wall seconds
//! per stage).

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use deepgen_data::{Binarization, Mnist, MnistSplit, images_tensor_4d};
use deepgen_eval::MnistEvaluator;
use deepgen_tensor::output::{save_image_grid, save_line_plot, write_npy_f32, write_npy_i64};
use deepgen_tensor::{HostRng, Stream};
use deepgen_train::FusedAdamConfig;
use deepgen_train::json::same_config_json;
use deepgen_train::{
    CommonArgs, EvalReport, ImageSamples, Run, RunDefaults, Samples, Schedule, TrainError, Trainer,
};

use crate::pixelcnn::{GatedPixelCnn, GatedPixelCnnConfig};
use crate::quantizer::{CodebookUpdate, VectorQuantizerConfig};
use crate::tasks::symbol_maps::{MapRenderer, SymbolMapTask, SymbolMaps, train_error};
use crate::tasks::vq_task::VqTask;
use crate::vq_model::VqModel;
use crate::vqvae::VqVaeConfig;
use crate::vqvae2::{VqVae2, VqVae2Config};

/// Images per forward pass when encoding the dataset and decoding samples.
const CHUNK: usize = 500;
use super::MNIST_CLASSES;

/// Flags of the `vqvae` and `vqvae2` examples (`#[command(flatten)]` beside [`CommonArgs`]).
#[derive(clap::Args, Debug, Clone)]
pub struct VqExampleArgs {
    /// Codebook size K (VQ-VAE-2: of the bottom level).
    #[arg(long, default_value_t = 64)]
    pub num_codes: usize,
    /// Code dimension D (VQ-VAE-2: of the bottom level).
    #[arg(long, default_value_t = 16)]
    pub code_dim: usize,
    /// VQ-VAE-2: codebook size of the top level.
    #[arg(long, default_value_t = 32)]
    pub top_codes: usize,
    /// VQ-VAE-2: code dimension of the top level (also the bottom prior's conditioning
    /// channels).
    #[arg(long, default_value_t = 8)]
    pub top_code_dim: usize,
    /// Working channels of encoder and decoder (half of them at full resolution).
    #[arg(long, default_value_t = 32)]
    pub channels: usize,
    /// VQ-VAE: stride-2 downsamplings (2 → 7×7 codes, 1 → 14×14).
    #[arg(long, default_value_t = 2)]
    pub downsamples: usize,
    /// Residual blocks at the code resolution.
    #[arg(long, default_value_t = 2)]
    pub res_blocks: usize,
    /// Commitment weight β.
    #[arg(long, default_value_t = 0.25)]
    pub commitment: f64,
    /// Codebook updates: `ema` (decay --ema-decay) or `gradient`.
    #[arg(long, default_value = "ema")]
    pub codebook_update: String,
    /// Decay of the EMA codebook updates.
    #[arg(long, default_value_t = 0.99)]
    pub ema_decay: f64,
    /// Cosine-similarity codes (L2-normalised inputs and codes).
    #[arg(long)]
    pub cosine: bool,
    /// Re-seed codes unused for this many steps from encoder outputs (0: never).
    #[arg(long, default_value_t = 200)]
    pub dead_code_steps: usize,
    /// Skip the k-means initialisation of the codebooks.
    #[arg(long)]
    pub no_kmeans_init: bool,
    /// Epochs of the prior(s).
    #[arg(long, default_value_t = 3)]
    pub prior_epochs: usize,
    /// Learning rate of the prior(s) (Adam).
    #[arg(long, default_value_t = 1e-3)]
    pub prior_lr: f64,
    /// Training code maps per prior epoch (a fresh part of each epoch's permutation; 0: all).
    #[arg(long, default_value_t = 0)]
    pub prior_train_maps: usize,
    /// Mini-batch size of the prior(s).
    #[arg(long, default_value_t = 64)]
    pub prior_batch_size: usize,
    /// Channels of the PixelCNN prior(s).
    #[arg(long, default_value_t = 32)]
    pub prior_channels: usize,
    /// Gated layers of the PixelCNN prior(s) after the first.
    #[arg(long, default_value_t = 6)]
    pub prior_layers: usize,
    /// Kernel size of the PixelCNN prior(s).
    #[arg(long, default_value_t = 3)]
    pub prior_kernel_size: usize,
    /// Condition the (top) prior on the digit; samples then carry labels (`labels.npy`) and
    /// `eval.json` reports their label accuracy.
    #[arg(long)]
    pub class_conditional: bool,
    /// Draw every sample for this digit (with --class-conditional; default 0, 1, …, 9, 0, …).
    #[arg(long)]
    pub class: Option<usize>,
    /// Sampling temperature of the prior(s).
    #[arg(long, default_value_t = 1.0)]
    pub temperature: f64,
    /// Samples drawn after training for `samples.npy` and the Fréchet distance (0: none).
    #[arg(long, default_value_t = 2000)]
    pub fd_samples: usize,
}

impl VqExampleArgs {
    fn update(&self) -> Result<CodebookUpdate, TrainError> {
        match self.codebook_update.as_str() {
            "ema" => Ok(CodebookUpdate::Ema {
                decay: self.ema_decay,
                epsilon: 1e-5,
            }),
            "gradient" => Ok(CodebookUpdate::Gradient),
            other => Err(TrainError::config(
                "codebook-update",
                format!("must be `ema` or `gradient`, got `{other}`"),
            )),
        }
    }

    fn quantizer(&self, k: usize, d: usize) -> Result<VectorQuantizerConfig, TrainError> {
        Ok(VectorQuantizerConfig::new(k, d)
            .with_commitment(self.commitment)
            .with_update(self.update()?)
            .with_cosine(self.cosine)
            .with_dead_code_steps(self.dead_code_steps)
            .with_kmeans_init(!self.no_kmeans_init))
    }

    /// The VQ-VAE the flags describe.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming the flag of an invalid value.
    pub fn vqvae_config(&self) -> Result<VqVaeConfig, TrainError> {
        let config = VqVaeConfig::new(self.quantizer(self.num_codes, self.code_dim)?)
            .with_channels(self.channels)
            .with_downsamples(self.downsamples)
            .with_res_blocks(self.res_blocks);
        validated(config)
    }

    /// The VQ-VAE-2 the flags describe.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming the flag of an invalid value.
    pub fn vqvae2_config(&self) -> Result<VqVae2Config, TrainError> {
        let config = VqVae2Config::new(
            self.quantizer(self.top_codes, self.top_code_dim)?,
            self.quantizer(self.num_codes, self.code_dim)?,
        )
        .with_channels(self.channels)
        .with_res_blocks(self.res_blocks);
        validated(config)
    }

    fn prior_config(&self, k: usize, classes: bool, cond: Option<usize>) -> GatedPixelCnnConfig {
        GatedPixelCnnConfig::new(k)
            .with_channels(self.prior_channels)
            .with_layers(self.prior_layers)
            .with_kernel_size(self.prior_kernel_size)
            .with_num_classes(if classes { MNIST_CLASSES } else { 0 })
            .with_cond_channels(cond)
    }

    /// Checks the flags that do not belong to a model config.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming the flag.
    pub fn check(&self) -> Result<(), TrainError> {
        super::check_sampling_flags(self.temperature, self.class, self.class_conditional)?;
        for (flag, v) in [
            ("prior-epochs", self.prior_epochs),
            ("prior-batch-size", self.prior_batch_size),
        ] {
            if v == 0 {
                return Err(TrainError::config(flag, "must be at least 1"));
            }
        }
        if !(self.prior_lr.is_finite() && self.prior_lr > 0.0) {
            return Err(TrainError::config(
                "prior-lr",
                format!("must be finite and positive, got {}", self.prior_lr),
            ));
        }
        validated(self.prior_config(2, false, None)).map(|_| ())
    }
}

/// Maps a config's validation error to the flag that sets the field.
fn validated<C: deepgen_tensor::Validate>(config: C) -> Result<C, TrainError> {
    config.validate().map_err(|e| {
        let field = e.field.rsplit('.').next().unwrap_or("").to_string();
        let flag = match field.as_str() {
            "num_codes" => "num-codes",
            "code_dim" => "code-dim",
            "commitment" => "commitment",
            "decay" => "ema-decay",
            "channels" if e.config.contains("PixelCnn") => "prior-channels",
            "layers" => "prior-layers",
            "kernel_size" => "prior-kernel-size",
            "channels" | "groups" => "channels",
            "downsamples" => "downsamples",
            _ => "model",
        };
        TrainError::config(flag, e.to_string())
    })?;
    Ok(config)
}

/// Writes `vq_config.json`, or with `--resume` checks that the flags match the run's file.
fn write_config(out: &Path, json: &str, resume: bool) -> Result<(), TrainError> {
    let path = out.join("vq_config.json");
    match std::fs::read_to_string(&path) {
        Ok(old) if same_config_json(&old, json) => return Ok(()),
        Ok(_) if resume => {
            return Err(TrainError::config(
                "resume",
                format!(
                    "the model flags differ from the run's {}; pass the flags it was started with",
                    path.display()
                ),
            ));
        }
        _ => {}
    }
    std::fs::create_dir_all(out).map_err(|e| TrainError::io(out, e))?;
    deepgen_train::checkpoint::write_atomic(&path, json.as_bytes())
}

/// Code maps of `split` under `model`: per level, the codes (`u32`, row-major `[N, h, w]`).
fn encode_split<M: VqModel>(model: &M, split: &MnistSplit, device: &Device) -> Vec<Vec<u32>> {
    let levels = model.level_names().len();
    let mut out = vec![Vec::new(); levels];
    let mut unused = HostRng::seed_from_u64(0);
    let idx: Vec<usize> = (0..split.len()).collect();
    for chunk in idx.chunks(CHUNK) {
        let x = images_tensor_4d(split, chunk, Binarization::None, &mut unused, device);
        for (l, codes) in model.encode_levels(x).into_iter().enumerate() {
            out[l].extend(int_host(codes).into_iter().map(|c| c as u32));
        }
    }
    out
}

fn int_host<const D: usize>(t: Tensor<D, Int>) -> Vec<i64> {
    t.into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .expect("integer codes")
}

fn float_host<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().expect("f32 tensor")
}

fn int_tensor(values: &[u32], shape: [usize; 3], device: &Device) -> Tensor<3, Int> {
    let v: Vec<i64> = values.iter().map(|&c| i64::from(c)).collect();
    Tensor::from_data(TensorData::new(v, shape), device)
}

/// The VQ-VAE-2 bottom prior's conditioning: the top code vectors of `top` (row-major
/// `[N, h_t, w_t]`), nearest-upsampled to the bottom size, `[N, D_t, h_b, w_b]` row-major.
fn top_conditioning(model: &VqVae2, top: &[u32], n: usize, device: &Device) -> Vec<f32> {
    let [ht, wt] = model.top_size();
    let [hb, wb] = model.bottom_size();
    let mut out = Vec::with_capacity(n * model.top.code_dim() * hb * wb);
    for start in (0..n).step_by(CHUNK) {
        let b = CHUNK.min(n - start);
        let codes = int_tensor(
            &top[start * ht * wt..(start + b) * ht * wt],
            [b, ht, wt],
            device,
        );
        let e = float_host(model.top.lookup_map(codes));
        // Nearest neighbour: bottom pixel (i, j) takes top pixel (i·h_t/h_b, j·w_t/w_b).
        let dt = e.len() / (b * ht * wt);
        for plane in e.chunks(ht * wt).take(b * dt) {
            for i in 0..hb {
                let row = &plane[(i * ht / hb) * wt..(i * ht / hb + 1) * wt];
                out.extend((0..wb).map(|j| row[j * wt / wb]));
            }
        }
    }
    out
}

fn maps(
    symbols: Vec<u32>,
    split: &MnistSplit,
    size: [usize; 2],
    labels: bool,
    cond: Option<(Vec<f32>, usize)>,
) -> Result<SymbolMaps, TrainError> {
    let (cond, channels) = match cond {
        Some((c, ch)) => (Some(c), ch),
        None => (None, 0),
    };
    SymbolMaps::new(
        symbols,
        split.len(),
        size[0],
        size[1],
        labels.then(|| split.labels.clone()),
        cond,
        channels,
    )
    .map_err(train_error)
}

/// A trained prior with its task (for sampling) and budget.
struct TrainedPrior {
    model: GatedPixelCnn,
    task: SymbolMapTask,
    /// Test NLL, nats per code map.
    nll: f64,
    wall: f64,
    params: usize,
}

impl TrainedPrior {
    /// Pushes `<name>_parameters`, `<name>_test_nll` (nats per map),
    /// `<name>_test_bits_per_code` (for maps of `[h, w]` codes) and `<name>_wall_seconds`.
    fn push_to(&self, report: &mut EvalReport, name: &str, [h, w]: [usize; 2]) {
        report
            .push(format!("{name}_parameters"), self.params)
            .push(format!("{name}_test_nll"), self.nll)
            .push(
                format!("{name}_test_bits_per_code"),
                self.nll / ((h * w) as f64 * std::f64::consts::LN_2),
            )
            .push(format!("{name}_wall_seconds"), self.wall);
    }
}

/// Trains one prior in `dir` (its own checkpoints and metrics) and returns it with its test
/// NLL (nats per map) and the seconds it took.
#[allow(clippy::too_many_arguments)]
fn train_prior(
    run: &Run,
    common: &CommonArgs,
    args: &VqExampleArgs,
    dir: &Path,
    train: SymbolMaps,
    test: SymbolMaps,
    config: GatedPixelCnnConfig,
    renderer: MapRenderer,
) -> Result<TrainedPrior, Box<dyn Error>> {
    let k = config.num_symbols;
    let mut task = SymbolMapTask::new(train, test, k, args.prior_batch_size, run.seed)
        .map_err(train_error)?
        .with_renderer(renderer)
        .with_temperature(args.temperature)
        .with_sample_class(args.class);
    if args.prior_train_maps > 0 {
        task = task
            .with_train_maps(args.prior_train_maps)
            .map_err(|e| match e {
                crate::VqError::Task { reason, .. } => {
                    TrainError::config("prior-train-maps", reason)
                }
                other => train_error(other),
            })?;
    }
    let model = config.try_init(&run.device).map_err(TrainError::from)?;
    task.check_model(&model).map_err(train_error)?;
    let params = model.num_params();
    println!(
        "prior in {}: {params} parameters, {} batches of {} per epoch",
        dir.display(),
        deepgen_train::Task::num_train_batches(&task),
        args.prior_batch_size
    );
    let trainer = Trainer::new(dir)
        .epochs(args.prior_epochs)
        .seed(common.seed)
        .lr(Schedule::Constant(args.prior_lr))
        .resume(common.resume)
        .num_samples(common.num_samples.unwrap_or(64).min(100))
        .plot_metrics(vec!["train_nll".into(), "test_nll".into()])
        .plot_labels("PixelCNN prior over code maps: NLL", "nats per code map");
    let started = Instant::now();
    let fitted = trainer.fit(&mut task, model, FusedAdamConfig::new().init(), &run.device)?;
    let wall = started.elapsed().as_secs_f64();
    let model = fitted.eval_model();
    let nll = match fitted.last_metric("test_nll") {
        Some(v) => v,
        None => task
            .test_nll(&model, &run.eval_device())
            .map_err(train_error)?,
    };
    Ok(TrainedPrior {
        model,
        task,
        nll,
        wall,
        params,
    })
}

/// Scores generated images: Fréchet distance, label statistics, label accuracy.
fn score(
    mnist: &Mnist,
    images: &[f32],
    labels: Option<&[i64]>,
    device: &Device,
    report: &mut EvalReport,
) -> Result<(), Box<dyn Error>> {
    let evaluator = match MnistEvaluator::load_existing(mnist, device) {
        Ok(e) => e,
        Err(reason) => {
            println!("no sample scores: {reason}");
            report.missing("fd", format!("no MNIST classifier: {reason}"));
            return Ok(());
        }
    };
    let fd = evaluator.frechet_to_test(images)?;
    let stats = evaluator.label_stats(images)?;
    report
        .push("fd", fd)
        .push("frechet_floor", evaluator.floor())
        .push("label_entropy", stats.entropy)
        .push("label_balance", stats.balance)
        .push("mean_confidence", stats.mean_confidence)
        .push("label_histogram", stats.histogram.clone());
    let mut line = format!(
        "samples: Fréchet distance {fd:.2} (floor {:.2}); labels: balance {:.3}, mean confidence \
         {:.3}",
        evaluator.floor(),
        stats.balance,
        stats.mean_confidence
    );
    if let Some(labels) = labels {
        let want: Vec<u8> = labels.iter().map(|&l| l as u8).collect();
        let acc = evaluator.label_accuracy(images, &want)?;
        report.push("label_accuracy", acc);
        line.push_str(&format!(", accuracy of the requested digits {acc:.3}"));
    }
    println!("{line}");
    Ok(())
}

fn usage_plot(path: &Path, title: &str, levels: &[(&str, Vec<u64>)]) -> Result<(), Box<dyn Error>> {
    let series: Vec<(String, Vec<(f64, f64)>)> = levels
        .iter()
        .map(|(name, counts)| {
            let total = counts.iter().sum::<u64>().max(1) as f64;
            let mut sorted = counts.clone();
            sorted.sort_unstable_by(|a, b| b.cmp(a));
            let pts = sorted
                .iter()
                .enumerate()
                .map(|(i, &c)| (i as f64, c as f64 / total))
                .collect();
            (name.to_string(), pts)
        })
        .collect();
    let refs: Vec<(&str, &[(f64, f64)])> = series
        .iter()
        .map(|(n, p)| (n.as_str(), p.as_slice()))
        .collect();
    save_line_plot(
        path,
        title,
        &refs,
        "code rank (most used first)",
        "fraction of test positions",
    )?;
    Ok(())
}

fn write_samples(
    out: &Path,
    images: &[f32],
    labels: Option<&[i64]>,
    [c, h, w]: [usize; 3],
) -> Result<(), Box<dyn Error>> {
    let n = images.len() / (c * h * w);
    write_npy_f32(&out.join("samples.npy"), &[n, c, h, w], images)?;
    let shown = n.min(100);
    save_image_grid(
        &out.join("samples.png"),
        &images[..shown * c * h * w],
        shown,
        c,
        h,
        w,
        10,
    )?;
    if let Some(l) = labels {
        write_npy_i64(&out.join("labels.npy"), &[l.len()], l)?;
    }
    Ok(())
}

/// Stage 1 for either model: train, then the autoencoder's report entries and files.
fn train_autoencoder<M: VqModel + 'static>(
    run: &Run,
    mnist: &Mnist,
    model: M,
    report: &mut EvalReport,
) -> Result<(M, f64), Box<dyn Error>> {
    let mut task = VqTask::<M>::new(
        mnist.train.clone(),
        mnist.test.clone(),
        run.batch_size,
        run.seed,
    )
    .map_err(train_error)?;
    task.check_model(&model).map_err(train_error)?;
    let params = model.num_params();
    println!(
        "autoencoder: {params} parameters, {} batches of {} per epoch, reconstruction weight \
         1/σ² = {:.2}",
        deepgen_train::Task::num_train_batches(&task),
        run.batch_size,
        task.recon_scale()
    );
    let started = Instant::now();
    let fitted = run.fit(&mut task, model, FusedAdamConfig::new().init())?;
    let wall = started.elapsed().as_secs_f64();
    let model = fitted.eval_model();
    let device = run.eval_device();
    let out = run.out_dir();
    report.push("autoencoder_parameters", params);
    report.push("autoencoder_epochs", fitted.epochs_completed);
    report.push("autoencoder_wall_seconds", wall);
    for (name, value) in task.test_metrics(&model, &device) {
        if name != "test_loss" {
            report.push(name, value);
        }
    }
    let grid = task.comparison(&model, 32, 8, &device);
    save_image_grid(
        &out.join("reconstructions.png"),
        &grid.data,
        grid.shape[0],
        1,
        grid.shape[2],
        grid.shape[3],
        grid.nrow,
    )?;
    let usage = task.test_usage(&model, &device);
    let names = model.level_names();
    let levels: Vec<(&str, Vec<u64>)> = names
        .iter()
        .zip(&usage)
        .map(|(n, u)| (*n, u.counts().to_vec()))
        .collect();
    usage_plot(
        &out.join("codebook_usage.png"),
        "codebook usage on the test split",
        &levels,
    )?;
    Ok((model, wall))
}

/// Images and the labels they were drawn for, from one chunk of samples.
type SampleChunk = (Vec<f32>, Option<Vec<i64>>);

/// The after-training samples of either example: `--fd-samples` images drawn in chunks,
/// written to `samples.npy`/`samples.png`/`labels.npy` and scored.
struct SampleRun<'a> {
    run: &'a Run,
    mnist: &'a Mnist,
    args: &'a VqExampleArgs,
    image_shape: [usize; 3],
}

impl SampleRun<'_> {
    /// Draws with `draw(chunk, rng, device)` (images `[chunk, C, H, W]` in [0, 1] and their
    /// labels) from [`Stream::FrechetSamples`], then writes and scores them into `report`.
    fn draw_and_score(
        &self,
        report: &mut EvalReport,
        mut draw: impl FnMut(usize, &mut HostRng, &Device) -> Result<SampleChunk, Box<dyn Error>>,
    ) -> Result<(), Box<dyn Error>> {
        let n = self.args.fd_samples;
        if n == 0 {
            report.missing("fd", "skipped with --fd-samples 0");
            return Ok(());
        }
        let device = self.run.eval_device();
        let mut rng = HostRng::stream(self.run.seed, Stream::FrechetSamples);
        let started = Instant::now();
        let mut images = Vec::with_capacity(n * self.image_shape.iter().product::<usize>());
        let mut labels: Vec<i64> = Vec::new();
        for start in (0..n).step_by(CHUNK) {
            let (x, l) = draw(CHUNK.min(n - start), &mut rng, &device)?;
            images.extend(x);
            labels.extend(l.unwrap_or_default());
        }
        let secs = started.elapsed().as_secs_f64();
        println!("{n} samples in {secs:.0} s");
        report.push("fd_samples", n).push("sampling_seconds", secs);
        let labels = self.args.class_conditional.then_some(labels);
        write_samples(
            &self.run.out_dir(),
            &images,
            labels.as_deref(),
            self.image_shape,
        )?;
        score(self.mnist, &images, labels.as_deref(), &device, report)
    }
}

/// The start both examples share: device and trainer, MNIST, `vq_config.json` (checked on
/// `--resume`), and a report naming the model.
fn start(
    common: &CommonArgs,
    name: &'static str,
    out_dir: &'static str,
    config_json: &str,
) -> Result<(Run, Mnist, EvalReport), Box<dyn Error>> {
    let run = Run::start(common, defaults(name, out_dir))?;
    let mnist = Mnist::load(common.data.as_deref())?;
    run.announce(mnist.describe());
    write_config(&run.out_dir(), config_json, common.resume)?;
    let mut report = EvalReport::new();
    report.push("model", name);
    Ok((run, mnist, report))
}

fn defaults(name: &'static str, out_dir: &'static str) -> RunDefaults<'static> {
    RunDefaults {
        name,
        out_dir,
        plot_title: "VQ autoencoder on MNIST: reconstruction MSE per pixel",
        plot_y_label: "MSE per pixel",
        plot_metrics: &["train_recon_mse", "test_recon_mse"],
        epochs: 3,
        batch_size: 128,
        lr: Schedule::Constant(1e-3),
        num_samples: 64,
    }
}

/// The whole run of the `vqvae` example (see the [module docs](self)).
///
/// # Errors
/// Invalid flags (naming them), device, data, configuration, training and output errors.
pub fn run_vqvae(common: &CommonArgs, args: &VqExampleArgs) -> Result<(), Box<dyn Error>> {
    args.check()?;
    let config = args.vqvae_config()?;
    let (run, mnist, mut report) = start(common, "vqvae", "runs/vqvae", &config.to_string())?;
    let out = run.out_dir();
    let model = config.try_init(&run.device).map_err(TrainError::from)?;
    let (model, _) = train_autoencoder(&run, &mnist, model, &mut report)?;
    let device = run.eval_device();
    let size = model.code_size();
    let k = model.num_codes();
    let started = Instant::now();
    let train_codes = encode_split(&model, &mnist.train, &device).remove(0);
    let test_codes = encode_split(&model, &mnist.test, &device).remove(0);
    println!(
        "encoded MNIST into {}×{} code maps in {:.0} s",
        size[0],
        size[1],
        started.elapsed().as_secs_f64()
    );
    let classes = args.class_conditional;
    let train = maps(train_codes, &mnist.train, size, classes, None)?;
    let test = maps(test_codes, &mnist.test, size, classes, None)?;
    let decoder = model.clone();
    let renderer: MapRenderer = Box::new(move |codes, labels, device| {
        let images = decoder.decode_codes(codes.to_device(device));
        let mut s = ImageSamples::from_tensor(images, decoder.image_shape)?;
        s.labels = labels;
        Ok(Samples::from(s))
    });
    let trained = train_prior(
        &run,
        common,
        args,
        &out.join("prior"),
        train,
        test,
        args.prior_config(k, classes, None),
        renderer,
    )?;
    trained.push_to(&mut report, "prior", size);
    report.push("temperature", args.temperature);
    let TrainedPrior {
        model: prior, task, ..
    } = trained;
    let samples = SampleRun {
        run: &run,
        mnist: &mnist,
        args,
        image_shape: model.image_shape,
    };
    samples.draw_and_score(&mut report, |b, rng, device| {
        let (codes, labels) = task
            .sample_maps(&prior, b, rng, device)
            .map_err(train_error)?;
        Ok((float_host(model.decode_codes(codes)), labels))
    })?;
    run.finish(&report)?;
    Ok(())
}

/// The whole run of the `vqvae2` example (see the [module docs](self)).
///
/// # Errors
/// Invalid flags (naming them), device, data, configuration, training and output errors.
pub fn run_vqvae2(common: &CommonArgs, args: &VqExampleArgs) -> Result<(), Box<dyn Error>> {
    args.check()?;
    let config = args.vqvae2_config()?;
    let (run, mnist, mut report) = start(common, "vqvae2", "runs/vqvae2", &config.to_string())?;
    let out = run.out_dir();
    let model = config.try_init(&run.device).map_err(TrainError::from)?;
    let (model, _) = train_autoencoder(&run, &mnist, model, &mut report)?;
    let device = run.eval_device();
    let (top_size, bottom_size) = (model.top_size(), model.bottom_size());
    let started = Instant::now();
    let mut train_codes = encode_split(&model, &mnist.train, &device);
    let mut test_codes = encode_split(&model, &mnist.test, &device);
    println!(
        "encoded MNIST into top and bottom code maps in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let (train_bottom, test_bottom) = (train_codes.remove(1), test_codes.remove(1));
    let (train_top, test_top) = (train_codes.remove(0), test_codes.remove(0));
    let dt = model.top.code_dim();
    let classes = args.class_conditional;

    // Top prior (class-conditional if asked), rendered as grey code maps during training.
    let top = train_prior(
        &run,
        common,
        args,
        &out.join("prior_top"),
        maps(train_top.clone(), &mnist.train, top_size, classes, None)?,
        maps(test_top.clone(), &mnist.test, top_size, classes, None)?,
        args.prior_config(model.top.num_codes(), classes, None),
        crate::tasks::symbol_maps::grey_renderer(model.top.num_codes()),
    )?;
    // Bottom prior conditioned on the top code vectors; its per-epoch samples are decoded
    // with the test images' top codes.
    let train_cond = top_conditioning(&model, &train_top, mnist.train.len(), &device);
    let test_cond = top_conditioning(&model, &test_top, mnist.test.len(), &device);
    let decoder = model.clone();
    let [ht, wt] = top_size;
    let test_top_for_render = test_top.clone();
    let renderer: MapRenderer = Box::new(move |bottom, labels, device| {
        let n = bottom.dims()[0];
        let top = int_tensor(&test_top_for_render[..n * ht * wt], [n, ht, wt], device);
        let images = decoder.decode_codes(top, bottom.to_device(device));
        let mut s = ImageSamples::from_tensor(images, decoder.image_shape)?;
        s.labels = labels;
        Ok(Samples::from(s))
    });
    let bottom = train_prior(
        &run,
        common,
        args,
        &out.join("prior_bottom"),
        maps(
            train_bottom,
            &mnist.train,
            bottom_size,
            false,
            Some((train_cond, dt)),
        )?,
        maps(
            test_bottom,
            &mnist.test,
            bottom_size,
            false,
            Some((test_cond, dt)),
        )?,
        args.prior_config(model.bottom.num_codes(), false, Some(dt)),
        renderer,
    )?;
    top.push_to(&mut report, "prior_top", top_size);
    bottom.push_to(&mut report, "prior_bottom", bottom_size);
    report.push("temperature", args.temperature);
    let TrainedPrior {
        model: top_prior,
        task: top_task,
        ..
    } = top;
    let bottom_prior = bottom.model;
    let samples = SampleRun {
        run: &run,
        mnist: &mnist,
        args,
        image_shape: model.image_shape,
    };
    samples.draw_and_score(&mut report, |b, rng, device| {
        let (top, labels) = top_task
            .sample_maps(&top_prior, b, rng, device)
            .map_err(train_error)?;
        let top_host: Vec<u32> = int_host(top.clone())
            .into_iter()
            .map(|c| c as u32)
            .collect();
        let cond = top_conditioning(&model, &top_host, b, device);
        let cond = Tensor::<4>::from_data(
            TensorData::new(cond, [b, dt, bottom_size[0], bottom_size[1]]),
            device,
        );
        let bottom = bottom_prior.sample(
            b,
            bottom_size,
            None,
            Some(cond),
            args.temperature,
            rng,
            device,
        );
        Ok((float_host(model.decode_codes(top, bottom)), labels))
    })?;
    run.finish(&report)?;
    Ok(())
}
