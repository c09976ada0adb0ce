//! The f-VAE ([`FVae`]) on uniformly dequantised MNIST: [`FVaeTask`], and the run of the
//! `fvae_mnist` example ([`run`]).
//!
//! Data exactly as for the flows ([`crate::tasks::image`]): exact 8-bit levels, `x = (k + u)/256`
//! with `u` from the loop's RNG. The loss is the negative ELBO in nats of the 8-bit data,
//! `−ELBO(x) + D·ln 256`, one posterior sample per image (its noise from the same RNG, so a
//! resumed run replays it); `bpd` of the bound is logged beside it (an upper bound on the model's
//! bits/dim). Evaluation: `test_bpd_elbo` on the first `test_images` test images with fixed
//! dequantisation and posterior noise (`Stream::EvalNoise`). Samples: `z ~ N(0, I)`, then the
//! flow decoder at temperature 0.7 (`Stream::Samples`, the same noise every epoch). After
//! training, [`SampleScores`] draws `--fd-samples` decoder samples at temperatures 0.7 and 1.0
//! and scores them with deepgen-eval's classifier (Fréchet distance, label statistics), as for
//! the plain image flows (`z ~ N(0, T_z²·I)` with `--latent-temperature`); then codes from a
//! full-covariance Gaussian mixture fitted by EM to the training images' posterior means
//! (`--expost-components`, default 30, codes at `--expost-temperature` 0.7; ex-post density
//! estimation: `samples_expost_t0.7`, `expost_prior.json`), and 1000 test reconstructions with
//! the aggregate posterior's variance. The decoder's input transform and coupling scale default
//! to `glow_mnist`'s (logit input, soft-clamped `exp`; [`GlowInputArgs`]); its base is
//! conditioned on `z` (`--base-net 32,64`, [`FVaeConfig::base_channels`]).

use std::error::Error;

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_data::{Mnist, MnistSplit};
use deepgen_distributions::noise;
use deepgen_tensor::{HostRng, Stream};
use deepgen_train::FusedAdamConfig;
use deepgen_train::{
    CommonArgs, EvalReport, ImageSamples, Run, RunDefaults, Samples, Schedule, StepContext,
    StepOutput, Task, TrainError,
};

use crate::fvae::{FVae, FVaeConfig};
use crate::gaussian_mixture::{GaussianMixture, GaussianMixtureFit};
use crate::preprocess::{PIXEL_LEVELS, bits_per_dim, dequantize};
use crate::tasks::image::{
    DEFAULT_EVAL_BATCH, GlowInputArgs, MnistFlowTask, SampleScores, pixel_levels, sample_pixels,
    with_default_clip,
};

/// Temperature of the flow decoder's samples.
pub const SAMPLE_TEMPERATURE: f64 = 0.7;
/// Global gradient-norm clip without `--clip-grad-norm`/`--clip-grad-value` (as the image
/// flows').
pub const GRAD_CLIP: f64 = 100.0;

/// A training batch: dequantised images and the posterior noise ε.
pub struct FVaeBatch {
    /// `[B, 1, H, W]` in `[0, 1]`.
    pub x: Tensor<4>,
    /// `[B, latent_dim]`.
    pub eps: Tensor<2>,
}

/// Dequantised MNIST for an [`FVae`]; see the [module docs](self). Batches, epochs and the
/// image layout are [`MnistFlowTask`]'s (the same seeded permutation per epoch).
pub struct FVaeTask {
    data: MnistFlowTask,
    latent_dim: usize,
    test_images: usize,
    seed: u64,
}

impl FVaeTask {
    /// Mini-batches of `batch_size` of the whole training split; `test_bpd_elbo` on the first
    /// `test_images` test images.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `batch-size`, `data` or `test-images`.
    pub fn new(
        train: MnistSplit,
        test: MnistSplit,
        batch_size: usize,
        latent_dim: usize,
        test_images: usize,
        seed: u64,
    ) -> Result<Self, TrainError> {
        if test_images == 0 {
            return Err(TrainError::config("test-images", "must be at least 1"));
        }
        let test_images = test_images.min(test.len());
        Ok(Self {
            data: MnistFlowTask::new(train, test, batch_size, seed)?,
            latent_dim,
            test_images,
            seed,
        })
    }

    /// Visits only `n` training images per epoch (see [`MnistFlowTask::with_train_images`]).
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `train-images` when `n` is smaller than one batch.
    pub fn with_train_images(mut self, n: usize) -> Result<Self, TrainError> {
        self.data = self.data.with_train_images(n)?;
        Ok(self)
    }

    fn dims(&self) -> usize {
        self.data.dims()
    }

    /// Mean bits/dim of the ELBO over the first `test_images` test images, with fixed noise.
    ///
    /// # Errors
    /// [`TrainError::Config`] if the values cannot be read back as f32.
    pub fn test_bpd_elbo(&self, model: &FVae, device: &Device) -> Result<f64, TrainError> {
        let mut rng = HostRng::stream(self.seed, Stream::EvalNoise);
        let (n, d) = (self.test_images, self.dims());
        let mut sum = 0.0f64;
        for start in (0..n).step_by(500) {
            let idx: Vec<usize> = (start..(start + 500).min(n)).collect();
            let x = dequantize(pixel_levels(self.data.test_split(), &idx, device), &mut rng);
            let eps = noise::standard_normal(&mut rng, [idx.len(), self.latent_dim], device);
            let bpd = bits_per_dim(model.terms_with_noise(x, eps).elbo(), d);
            sum += bpd
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| TrainError::config("test bits/dim", format!("{e:?}")))?
                .iter()
                .map(|&v| f64::from(v))
                .sum::<f64>();
        }
        Ok(sum / n as f64)
    }
}

impl Task for FVaeTask {
    type Model = FVae;
    type Batch = FVaeBatch;

    fn num_train_batches(&self) -> usize {
        self.data.num_train_batches()
    }

    fn train_batch(
        &mut self,
        epoch: usize,
        index: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> FVaeBatch {
        let idx = self.data.batch_indices(epoch, index);
        let x = dequantize(pixel_levels(self.data.train_split(), &idx, device), rng);
        let eps = noise::standard_normal(rng, [idx.len(), self.latent_dim], device);
        FVaeBatch { x, eps }
    }

    fn batch_len(&self, batch: &FVaeBatch) -> usize {
        batch.x.dims()[0]
    }

    fn loss(&self, model: &FVae, batch: FVaeBatch, _ctx: &StepContext) -> StepOutput {
        let d = self.dims();
        let terms = model.terms_with_noise(batch.x, batch.eps);
        let elbo = terms.elbo();
        let bpd = bits_per_dim(elbo.clone(), d).mean();
        let loss = elbo.neg().add_scalar(d as f64 * PIXEL_LEVELS.ln()).mean();
        StepOutput::new(loss)
            .with_metric("bpd", bpd)
            .with_metric("kl", terms.kl.mean().detach())
    }

    /// The decoder's ActNorm initialisation on the first batch (posterior means as `z`).
    fn before_first_step(&mut self, model: FVae, batch: &FVaeBatch) -> Result<FVae, TrainError> {
        Ok(model.initialize_actnorm(batch.x.clone()))
    }

    fn evaluate(
        &mut self,
        model: &FVae,
        device: &Device,
    ) -> Result<Vec<(String, f64)>, TrainError> {
        Ok(vec![(
            "test_bpd_elbo".into(),
            self.test_bpd_elbo(model, device)?,
        )])
    }

    fn sample(
        &mut self,
        model: &FVae,
        n: usize,
        _device: &Device,
    ) -> Result<Option<Samples>, TrainError> {
        if n == 0 {
            return Ok(None);
        }
        let mut rng = HostRng::stream(self.seed, Stream::Samples);
        let x = model
            .sample(n, SAMPLE_TEMPERATURE, &mut rng)
            .clamp(0.0, 1.0);
        Ok(Some(
            ImageSamples::from_tensor(x, self.data.image_shape())?.into(),
        ))
    }
}

/// Flags of the `fvae_mnist` example (beside [`CommonArgs`]).
#[derive(clap::Args, Debug, Clone)]
pub struct FVaeArgs {
    /// Dimensionality of the latent z.
    #[arg(long, default_value_t = 32)]
    pub latent: usize,
    /// Glow levels of the decoder (28×28 allows 2).
    #[arg(long, default_value_t = 2)]
    pub levels: usize,
    /// Glow steps per level of the decoder.
    #[arg(long, default_value_t = 4)]
    pub steps: usize,
    /// Hidden channels of the decoder's coupling networks.
    #[arg(long, default_value_t = 64)]
    pub hidden: usize,
    /// Channels of the conv net z → (μ, ln σ) of the decoder flow's base distribution
    /// (`none`: the base is N(0, I) and z enters only through the conditioners, which keeps
    /// far less of each digit in z: 16 % of reconstructions keep their label against 73 %).
    #[arg(long, default_value = "32,64")]
    pub base_net: deepgen_train::cli::SizeList,
    /// Training images per epoch (default: all 60 000), drawn anew each epoch.
    #[arg(long)]
    pub train_images: Option<usize>,
    /// Test images behind `test_bpd_elbo`.
    #[arg(long, default_value_t = 10_000)]
    pub test_images: usize,
    /// Linear learning-rate warm-up steps (ignored with --lr).
    #[arg(long, default_value_t = 500)]
    pub warmup: u64,
    /// The decoder's input transform and coupling scale (as `glow_mnist`'s).
    #[command(flatten)]
    pub input: GlowInputArgs,
    /// Decoder samples (z ~ N(0, I)) drawn after training at temperature 0.7 (written as
    /// samples_t0.7.npy) and at 1.0, each scored by deepgen-eval's MNIST classifier (0 skips).
    #[arg(long, default_value_t = 10_000)]
    pub fd_samples: usize,
    /// Skip the temperature-1.0 Fréchet distance (halves the after-training sampling).
    #[arg(long)]
    pub no_fd_t1: bool,
    /// Scale of the prior codes of the after-training samples: `z ~ N(0, T_z²·I)` (1: the
    /// model's prior; below 1 avoids the prior's tails, which the encoder's posteriors may
    /// leave empty). Recorded as `latent_temperature` in eval.json.
    #[arg(long, default_value_t = 1.0, value_parser = deepgen_train::cli::positive_finite)]
    pub latent_temperature: f64,
    /// Further temperatures to sample and score after 0.7 and 1.0 (e.g. `0.5,0.6,0.8`), each
    /// written as `samples_t<T>.npy`/`.png` with its scores in eval.json; the 0.7 and 1.0
    /// samples stay the same draws.
    #[arg(long, value_delimiter = ',', value_parser = deepgen_train::cli::positive_finite)]
    pub extra_temperatures: Vec<f64>,
    /// Components of the ex-post mixture fitted by EM to the training images' posterior means
    /// (1: a single full-covariance Gaussian; Ghosh et al. 2020 use 10). 30 by default: on the
    /// 10- and 20-epoch models it lowered the Fréchet distance by 23–28 % against 10 and raised
    /// the labels' confidence (docs/results.md, f-VAE).
    #[arg(long, default_value_t = 30, value_parser = deepgen_train::cli::at_least_one)]
    pub expost_components: usize,
    /// Temperature of the ex-post codes: each mixture component's covariance scaled by `T²`
    /// (`GaussianMixture::sample_with_temperature`; 1: the fitted mixture itself). 0.7 by
    /// default, the decoder's temperature, so that `samples_expost_t0.7` is the whole model at
    /// 0.7 (NVAE's convention: every Gaussian of a sample is tempered). Recorded as
    /// `expost_code_temperature` in eval.json.
    #[arg(long, default_value_t = 0.7, value_parser = deepgen_train::cli::positive_finite)]
    pub expost_temperature: f64,
}

/// The whole `fvae_mnist` run: trainer, MNIST, the model, [`Run::fit`], `eval.json`.
///
/// # Errors
/// Invalid flags, device, data, configuration, training and output errors.
pub fn run(common: &CommonArgs, args: &FVaeArgs) -> Result<(), Box<dyn Error>> {
    let mut run = Run::start(
        common,
        RunDefaults {
            name: "fvae_mnist",
            out_dir: "runs/fvae_mnist",
            plot_title: "f-VAE on dequantised MNIST: bits/dim of the ELBO",
            plot_y_label: "bits/dim",
            plot_metrics: &["train_bpd", "test_bpd_elbo"],
            epochs: 5,
            batch_size: 64,
            lr: Schedule::LinearWarmup {
                start: 0.0,
                end: 1e-3,
                warmup_steps: args.warmup,
            },
            num_samples: 100,
        },
    )?;
    run.trainer = with_default_clip(run.trainer.clone(), common, Some(GRAD_CLIP))?;
    let mnist = Mnist::load(common.data.as_deref())?;
    let shape = [1, mnist.train.rows, mnist.train.cols];
    let config = FVaeConfig::new()
        .with_latent_dim(args.latent)
        .with_flow(
            args.input.apply(
                crate::GlowConfig::new(shape)
                    .with_levels(args.levels)
                    .with_steps_per_level(args.steps)
                    .with_hidden_channels(args.hidden),
            ),
        )
        .with_base_channels(args.base_net.0.clone());
    let model = config.try_init(&run.device).map_err(TrainError::from)?;
    let mut task = FVaeTask::new(
        mnist.train.clone(),
        mnist.test.clone(),
        run.batch_size,
        args.latent,
        args.test_images,
        run.seed,
    )?;
    if let Some(n) = args.train_images {
        task = task.with_train_images(n)?;
    }
    run.announce(format!(
        "{}, f-VAE with {} parameters, {} batches of {} per epoch",
        mnist.describe(),
        burn::module::Module::num_params(&model),
        task.num_train_batches(),
        run.batch_size
    ));
    let fitted = run.fit(&mut task, model, FusedAdamConfig::new().init())?;
    let model = fitted.eval_model();
    let device = run.eval_device();
    let mut report = EvalReport::new();
    report.push("model", "fvae_mnist");
    fitted.push_last(&mut report, &["train_bpd", "test_bpd_elbo"]);
    report.push("test_images", task.test_images);
    let scores = SampleScores {
        image_shape: task.data.image_shape(),
        fd_samples: args.fd_samples,
        no_fd_t1: args.no_fd_t1,
        extra_temperatures: args.extra_temperatures.clone(),
        seed: run.seed,
    };
    report.push("latent_temperature", args.latent_temperature);
    let tz = args.latent_temperature;
    scores.run(&mnist, &run.out_dir(), &device, &mut report, |n, t, rng| {
        sample_pixels(n, DEFAULT_EVAL_BATCH, rng, |m, rng| {
            model.sample_tempered(m, tz, t, rng)
        })
    })?;
    if args.fd_samples > 0 {
        match deepgen_eval::MnistEvaluator::load_existing(&mnist, &device) {
            Ok(evaluator) => {
                let out = run.out_dir();
                expost_samples(
                    &model,
                    &mnist,
                    &evaluator,
                    &out,
                    ExPost {
                        seed: run.seed,
                        n: args.fd_samples,
                        components: args.expost_components,
                        code_temperature: args.expost_temperature,
                    },
                    &mut report,
                )?;
                reconstructions(
                    &model,
                    &mnist,
                    &evaluator,
                    &out,
                    &device,
                    run.seed,
                    &mut report,
                )?;
            }
            Err(reason) => {
                report.missing("expost_fd_t0.7", reason.clone());
                report.missing("reconstruction_label_accuracy_t0.7", reason);
            }
        }
    }
    run.finish(&report)?;
    Ok(())
}

/// Test images reconstructed through the f-VAE: `z = μ(x)` of the encoder, then a decoder
/// sample at temperature 0.7 given that `z`. Written as `reconstructions.png` (the first 100;
/// originals in odd rows, reconstructions in even rows), and scored by deepgen-eval's
/// classifier against the true labels (`reconstruction_label_accuracy_t0.7` in eval.json): with
/// `z` from the encoder rather than the prior, this separates what the decoder does from what
/// the prior's `z` does to the samples.
fn reconstructions(
    model: &FVae,
    mnist: &Mnist,
    evaluator: &deepgen_eval::MnistEvaluator,
    out: &std::path::Path,
    device: &Device,
    seed: u64,
    report: &mut EvalReport,
) -> Result<(), Box<dyn Error>> {
    const N: usize = 1000;
    let n = N.min(mnist.test.len());
    let mut rng = HostRng::stream(seed, Stream::FrechetSamples);
    let [c, h, w] = [1, mnist.test.rows, mnist.test.cols];
    let originals = bin_centres(&mnist.test, 0..n);
    let mut images = Vec::with_capacity(originals.len());
    let mut moments = AggregatePosterior::new(model.latent_dim);
    for chunk in originals.chunks(DEFAULT_EVAL_BATCH * c * h * w) {
        let m = chunk.len() / (c * h * w);
        let x = Tensor::<4>::from_data(TensorData::new(chunk.to_vec(), [m, c, h, w]), device);
        let q = model.posterior(x);
        let variance = q.variance().detach();
        let z = q.mean.detach();
        moments.add(&host_values(z.clone())?, &host_values(variance)?);
        let (pixels, _) = sample_pixels(m, m, &mut rng, |_, rng| model.decode(&z, 0.7, rng))?;
        images.extend(pixels);
    }
    let accuracy = evaluator.label_accuracy(&images, &mnist.test.labels[..n])?;
    println!(
        "reconstructions (z = μ(x), decoder at T = 0.7) of {n} test images: {:.1} % keep their \
         label",
        100.0 * accuracy
    );
    report.push("reconstruction_label_accuracy_t0.7", accuracy);
    let (var, active) = moments.finish();
    println!(
        "aggregate posterior of those images: mean variance per dimension {var:.3} (the prior's \
         is 1), {active} of {} dimensions active (Var μ > 0.01)",
        model.latent_dim
    );
    report
        .push("aggregate_posterior_variance", var)
        .push("active_latent_dimensions", active);
    let d = c * h * w;
    let shown = n.min(50);
    let mut grid = Vec::with_capacity(2 * shown * d);
    for row in 0..shown.div_ceil(10) {
        let (a, b) = (row * 10, ((row + 1) * 10).min(shown));
        grid.extend_from_slice(&originals[a * d..b * d]);
        grid.extend_from_slice(&images[a * d..b * d]);
    }
    deepgen_tensor::output::save_image_grid(
        &out.join("reconstructions.png"),
        &grid,
        grid.len() / d,
        c,
        h,
        w,
        10,
    )?;
    Ok(())
}

/// Rows of `[n, d]` values read back as f64.
fn host_values(t: Tensor<2>) -> Result<Vec<f64>, TrainError> {
    Ok(t.into_data()
        .try_to_vec::<f32>()
        .map_err(|e| TrainError::config("posterior", format!("{e:?}")))?
        .into_iter()
        .map(f64::from)
        .collect())
}

/// Moments of the aggregate posterior `q(z) = (1/n) Σ_i N(μ_i, σ_i²)` per latent dimension:
/// its variance `Var_i(μ_i) + mean_i σ_i²` (1 where it matches the prior `N(0, I)`).
struct AggregatePosterior {
    d: usize,
    n: usize,
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
    sum_var: Vec<f64>,
}

impl AggregatePosterior {
    fn new(d: usize) -> Self {
        Self {
            d,
            n: 0,
            sum: vec![0.0; d],
            sum_sq: vec![0.0; d],
            sum_var: vec![0.0; d],
        }
    }

    /// Adds rows of means and variances (`[m, d]`, row-major).
    fn add(&mut self, means: &[f64], variances: &[f64]) {
        for (row, vars) in means.chunks(self.d).zip(variances.chunks(self.d)) {
            self.n += 1;
            for j in 0..self.d {
                self.sum[j] += row[j];
                self.sum_sq[j] += row[j] * row[j];
                self.sum_var[j] += vars[j];
            }
        }
    }

    /// (mean over dimensions of the aggregate variance, dimensions with `Var(μ) > 0.01`).
    fn finish(&self) -> (f64, usize) {
        let n = self.n.max(1) as f64;
        let mut total = 0.0;
        let mut active = 0;
        for j in 0..self.d {
            let mean = self.sum[j] / n;
            let var_mu = (self.sum_sq[j] / n - mean * mean).max(0.0);
            total += var_mu + self.sum_var[j] / n;
            if var_mu > 0.01 {
                active += 1;
            }
        }
        (total / self.d as f64, active)
    }
}

/// What [`expost_samples`] draws: `n` samples from a `components`-component mixture.
struct ExPost {
    seed: u64,
    n: usize,
    components: usize,
    code_temperature: f64,
}

/// Samples with codes from a full-covariance Gaussian mixture fitted by EM
/// ([`GaussianMixture`]) to the posterior means `μ(x)` of the first 10 000 training images
/// (ex-post density estimation, Ghosh et al. 2020, "From Variational to Deterministic
/// Autoencoders") and drawn at `code_temperature`, decoded at temperature 0.7: the prior
/// `N(0, I)` puts codes where no posterior lies when the aggregate posterior does not fill it
/// (`aggregate_posterior_variance`). `n` samples written as `samples_expost_t0.7.npy`/`.png`
/// and scored (`expost_fd_t0.7`, `expost_label_balance_t0.7`, `expost_mean_confidence_t0.7`);
/// the fitted mixture goes to `expost_prior.json`.
fn expost_samples(
    model: &FVae,
    mnist: &Mnist,
    evaluator: &deepgen_eval::MnistEvaluator,
    out: &std::path::Path,
    what: ExPost,
    report: &mut EvalReport,
) -> Result<(), Box<dyn Error>> {
    let ExPost {
        seed,
        n,
        components,
        code_temperature,
    } = what;
    let device = &crate::density::NormalizingFlow::flow_device(&model.flow);
    let started = std::time::Instant::now();
    let d = model.latent_dim;
    let k = mnist.train.len().min(10_000);
    let [c, h, w] = [1, mnist.train.rows, mnist.train.cols];
    let mut means = Vec::with_capacity(k * d);
    for start in (0..k).step_by(DEFAULT_EVAL_BATCH) {
        let end = (start + DEFAULT_EVAL_BATCH).min(k);
        let pixels = bin_centres(&mnist.train, start..end);
        let x = Tensor::<4>::from_data(TensorData::new(pixels, [end - start, c, h, w]), device);
        let mu = model.posterior(x).mean.detach().into_data();
        means.extend(
            mu.try_to_vec::<f32>()
                .map_err(|e| TrainError::config("posterior", format!("{e:?}")))?
                .into_iter()
                .map(f64::from),
        );
    }
    let mut rng = HostRng::stream(seed, Stream::FrechetSamples);
    let mixture =
        GaussianMixture::fit(&means, k, d, &GaussianMixtureFit::new(components), &mut rng)?;
    let json = serde_json::json!({
        "fitted_to": format!("posterior means of the first {k} training images"),
        "mixture": &mixture,
    });
    deepgen_train::checkpoint::write_atomic(
        &out.join("expost_prior.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    let codes: Vec<f32> = mixture
        .sample_with_temperature(n, code_temperature, &mut rng)
        .into_iter()
        .map(|v| v as f32)
        .collect();
    let z = Tensor::<2>::from_data(TensorData::new(codes, [n, d]), device);
    let mut next = 0;
    let (images, non_finite) = sample_pixels(n, DEFAULT_EVAL_BATCH, &mut rng, |m, rng| {
        let zi = z.clone().narrow(0, next, m);
        next += m;
        model.decode(&zi, 0.7, rng)
    })?;
    deepgen_tensor::output::write_image_samples(out, "expost_t0.7", &images, [n, c, h, w])?;
    let fd = evaluator.frechet_to_test(&images)?;
    let labels = evaluator.label_stats(&images)?;
    println!(
        "ex-post codes ({components}-component Gaussian mixture fitted to {k} training posterior \
         means in {} EM iterations; codes at T = {code_temperature}), decoder at T = 0.7: {n} \
         samples in {:.0} s, Fréchet distance {fd:.2}, labels: balance {:.3}, mean confidence \
         {:.3}",
        mixture.iterations,
        started.elapsed().as_secs_f64(),
        labels.balance,
        labels.mean_confidence
    );
    report
        .push("expost_components", components)
        .push("expost_code_temperature", code_temperature)
        .push("expost_fd_t0.7", fd)
        .push("expost_label_balance_t0.7", labels.balance)
        .push("expost_mean_confidence_t0.7", labels.mean_confidence)
        .push("expost_label_histogram_t0.7", labels.histogram)
        .push("expost_non_finite_samples_t0.7", non_finite);
    Ok(())
}

/// Images `range` of `split` at their bin centres `(k + ½)/256`: the data the model saw,
/// without dequantisation noise, row-major `[n, C·H·W]`.
fn bin_centres(split: &MnistSplit, range: std::ops::Range<usize>) -> Vec<f32> {
    range
        .flat_map(|i| split.image(i).iter())
        .map(|&k| ((f64::from(k) + 0.5) / PIXEL_LEVELS) as f32)
        .collect()
}
