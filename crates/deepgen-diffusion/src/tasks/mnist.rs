//! DDPM on MNIST, trained by `deepgen-train`'s loop: [`MnistDiffusionTask`] (the [`Task`]) and
//! the run of the `ddpm_mnist` example ([`run`] with [`DdpmMnistArgs`]).
//!
//! # Data and objective
//!
//! Pixels `k ∈ {0, …, 255}` become `x_0 = 2k/255 − 1 ∈ [−1, 1]` ([`scaled_images`]). A training
//! batch draws, from the loop's host RNG of the epoch (so `--resume` replays it), one timestep
//! `t ~ U{0, …, T−1}` per image and then the images' noise `ε ~ N(0, I)` (image-major). The
//! loss is the mean over the batch of [`denoising_loss`] with the model's [`Prediction`] and the
//! task's [`LossWeighting`] (uniform: Ho et al.'s simple loss; min-SNR-γ), plus the mean loss
//! of each learned-covariance head the model has ([`CovarianceHead::loss`], logged as
//! `sn_loss` / `npr_loss`: `train_sn_loss` / `train_npr_loss` in `metrics.jsonl`; the heads
//! see detached trunk features, so these train only the heads).
//!
//! # Evaluation
//!
//! [`Task::evaluate`] returns
//! - `test_loss`: the same loss on the first `test_images` test images with fixed `t` and `ε`
//!   (`Stream::EvalNoise`, per image its `t` then its noise, so every evaluation — and every
//!   chunk size — sees the same numbers);
//! - `test_bpd` / `test_bpd_large` (and `test_bpd_stderr`): the variational bound in bits/dim
//!   on the first `nll_images` test images over the full chain of `T` steps with DDPM's
//!   fixed-small / fixed-large variances ([`crate::vlb`]), by Monte Carlo over
//!   `nll_timesteps` steps per image (or the full sum), noise from `Stream::NllNoise`.
//!
//! [`Task::sample`] draws the per-epoch grid with deterministic DDIM (`sample_steps` steps,
//! x̂₀ clipped to `[−1, 1]`) from `Stream::Samples`; the loop passes the EMA weights when EMA is
//! on. Images are mapped back to `[0, 1]` by `(x + 1)/2`.
//!
//! # After training ([`run`])
//!
//! `params/` holds the sampling (EMA) weights as `.npy` ([`deepgen_train::export_npy`]; what
//! `benches/pytorch/ddpm_mnist.py --load-params` reads). `eval.json` gets the test loss; `Γ` ([`crate::gamma`], cached in `gamma.json`) at every
//! timestep; the bound in bits/dim on the full chain and on the `--ddpm-steps` trajectory with
//! DDPM's fixed small/large, Analytic-DPM's and — with `--sn-dpm` / `--npr-dpm` — the heads'
//! per-pixel variances ([`crate::vlb::PixelVariances`]); and for every sampler — DDPM fixed
//! small and large at `--ddpm-steps`, DDIM (η = 0) at each `--ddim-steps`, Analytic-DDPM at
//! `--ddpm-steps`, Analytic-DDIM at each `--ddim-steps`, DPM-Solver++(2M) at each
//! `--dpm-steps`, and with a head SN-/NPR-DDPM at `--ddpm-steps` and SN-/NPR-DDIM at each
//! `--ddim-steps` ([`crate::learned_variance`]) — `samples_<sampler>.npy`
//! (`[N, 1, 28, 28]` f32 in `[0, 1]`) and `.png`, the
//! Fréchet distance to the test set and label statistics under deepgen-eval's classifier. All
//! samplers start from the same noise (a fresh `Stream::FrechetSamples` each).
//!
//! # Class-conditional models (classifier-free guidance)
//!
//! With [`MnistDiffusionTask::with_class_conditioning`] (`--class-conditional`) every training
//! batch carries its images' digits, each replaced by the null label with probability
//! `--label-dropout` ([`crate::guidance::drop_labels`], one host uniform per image drawn after
//! the noise, so unconditional runs draw exactly what they drew before). `test_loss` uses the
//! true test labels (no dropout); the bound and `Γ` are those of the unconditional prediction
//! (null label). Every sampler — the per-epoch grid and each after-training sampler — runs on
//! the guided output of [`DiffusionModel::guided_forward`] with strength `--guidance w` (Ho &
//! Salimans' `w`; diffusers' `guidance_scale` is `1 + w`) for the requested labels: `--class K`
//! for all samples, or the balanced `0, 1, …, 9, 0, …` by default. Beside each
//! `samples_<sampler>.npy` goes `labels_<sampler>.npy` (`[N]` int64, the requested labels), and
//! `eval.json` gets `label_accuracy_<sampler>`: the fraction of samples deepgen-eval's
//! classifier assigns the requested label. The learned-covariance heads are not combined with
//! guidance (`--sn-dpm` or `--npr-dpm` with `--class-conditional` is refused): their variances
//! would be those of one label's prediction, not of the guided one.

use std::error::Error;
use std::path::Path;
use std::time::Instant;

use burn::module::Module;
use burn::tensor::{Device, Int, Tensor, TensorData};
use deepgen_data::{BatchPlan, EpochBatches, Mnist, MnistSplit};
use deepgen_eval::MnistEvaluator;
use deepgen_nn::UNetConfig;
use deepgen_tensor::output::{write_image_samples, write_npy_i64};
use deepgen_tensor::{HostRng, Stream, Validate};
use deepgen_train::FusedAdamConfig;
use deepgen_train::checkpoint::CheckpointDir;
use deepgen_train::grad::GradTransforms;
use deepgen_train::{
    CommonArgs, EvalReport, ImageSamples, Run, RunDefaults, Samples, Schedule, StepContext,
    StepOutput, Task, TrainError,
};

use crate::AnalyticDpmConfig;
use crate::covariance_head::CovarianceHead;
use crate::gamma::{GAMMA_CACHE_FILE, GammaCache, GammaKey, estimate_gamma};
use crate::guidance::drop_labels;
use crate::learned_variance::LearnedVarianceSampler;
use crate::model::{DiffusionModel, DiffusionModelConfig, timesteps_tensor};
use crate::schedule::{BetaSchedule, NoiseScheduleConfig};
use crate::scheduler::{
    Ddim, DdimConfig, Ddpm, DdpmConfig, DdpmVariance, DpmSolver, DpmSolverConfig, SampleClipping,
    Scheduler, Spacing, run_sampler,
};
use crate::target::{LossWeighting, Prediction, denoising_loss};
use crate::vlb::{
    PixelVariances, ReverseVariances, VlbEstimator, VlbSummary, host_normal,
    vlb_terms_with_pixel_variances,
};

/// Images per evaluation / sampling chunk by default.
pub const DEFAULT_EVAL_BATCH: usize = 250;

/// A training batch: clean images, their noise and timesteps.
#[derive(Debug, Clone)]
pub struct DiffusionBatch {
    /// `x_0 ∈ [−1, 1]`, `[B, 1, H, W]`.
    pub x0: Tensor<4>,
    /// `ε`, `[B, 1, H, W]`.
    pub noise: Tensor<4>,
    /// `t`, `[B]`.
    pub t: Tensor<1, Int>,
    /// Class labels (after label dropout) of a class-conditional task, `[B]`; `None` for an
    /// unconditional one.
    pub labels: Option<Tensor<1, Int>>,
}

/// The digits of MNIST, the classes of a class-conditional model.
pub const MNIST_CLASSES: usize = 10;

/// Class conditioning of a [`MnistDiffusionTask`]: the null label and the label dropout.
#[derive(Debug, Clone, Copy, PartialEq)]
struct ClassConditioning {
    null: usize,
    dropout: f64,
    guidance: f64,
}

/// Per-image losses of a training batch ([`MnistDiffusionTask::per_image_losses`]), each `[B]`.
#[derive(Debug, Clone)]
pub struct ImageLosses {
    /// The weighted denoising loss.
    pub denoise: Tensor<1>,
    /// SN-DPM's head loss, with that head.
    pub sn: Option<Tensor<1>>,
    /// NPR-DPM's head loss, with that head.
    pub npr: Option<Tensor<1>>,
}

/// MNIST for a [`DiffusionModel`]; see the [module docs](self).
///
/// Epoch `e` visits the first `train_images` images of the seeded permutation
/// `HostRng::derive(seed, e)` of the training split (all by default) in batches of
/// `batch_size` (a last partial batch is dropped).
pub struct MnistDiffusionTask {
    train: MnistSplit,
    test: MnistSplit,
    batches: EpochBatches,
    num_timesteps: usize,
    weighting: LossWeighting,
    test_images: usize,
    nll_images: usize,
    nll_estimator: VlbEstimator,
    eval_batch: usize,
    sample_steps: usize,
    conditioning: Option<ClassConditioning>,
    seed: u64,
}

impl MnistDiffusionTask {
    /// A task on `train`/`test` for a model with `num_timesteps` diffusion steps: batches of
    /// `batch_size`, every training image once per epoch, uniform loss weighting, `test_loss`
    /// on 1000 test images, the bound on 200 test images with 4 Monte-Carlo timesteps each,
    /// 20 DDIM steps for the per-epoch samples.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `batch-size` (0 or larger than the training split),
    /// `timesteps` (0) or `data` (splits of different image sizes, no test image).
    pub fn new(
        train: MnistSplit,
        test: MnistSplit,
        batch_size: usize,
        num_timesteps: usize,
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
        if num_timesteps == 0 {
            return Err(TrainError::config("timesteps", "must be at least 1"));
        }
        train
            .check_test_split(&test)
            .map_err(|e| TrainError::config("data", e))?;
        let plan = BatchPlan::new(train.len(), batch_size, true, seed, true)
            .map_err(|e| TrainError::config("batch-size", e.to_string()))?;
        Ok(Self {
            test_images: 1000.min(test.len()),
            nll_images: 200.min(test.len()),
            train,
            test,
            batches: EpochBatches::new(plan),
            num_timesteps,
            weighting: LossWeighting::Uniform,
            nll_estimator: VlbEstimator::MonteCarlo(4),
            eval_batch: DEFAULT_EVAL_BATCH,
            sample_steps: 20,
            conditioning: None,
            seed,
        })
    }

    /// Visits only `n` training images per epoch (capped at the split's size).
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `train-images` when `n` is smaller than one batch.
    pub fn with_train_images(mut self, n: usize) -> Result<Self, TrainError> {
        self.batches
            .limit_to(n)
            .map_err(|e| TrainError::config("train-images", e))?;
        Ok(self)
    }

    /// The loss weighting.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `min-snr-gamma` for a `γ` that is not finite and > 0.
    pub fn with_weighting(mut self, weighting: LossWeighting) -> Result<Self, TrainError> {
        weighting
            .validate()
            .map_err(|e| TrainError::config("min-snr-gamma", e.reason))?;
        self.weighting = weighting;
        Ok(self)
    }

    /// `test_loss` on the first `n` test images (capped at the split's size).
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

    /// The bound on the first `n` test images (capped) with `estimator`.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `nll-images` when `n` is 0, `nll-timesteps` for
    /// `MonteCarlo(0)`.
    pub fn with_nll(mut self, n: usize, estimator: VlbEstimator) -> Result<Self, TrainError> {
        if n == 0 {
            return Err(TrainError::config("nll-images", "must be at least 1"));
        }
        if estimator == VlbEstimator::MonteCarlo(0) {
            return Err(TrainError::config("nll-timesteps", "must be at least 1"));
        }
        self.nll_images = n.min(self.test.len());
        self.nll_estimator = estimator;
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

    /// Trains class-conditionally on the images' labels (`0..MNIST_CLASSES`), each replaced
    /// by the null label `MNIST_CLASSES` with probability `label_dropout`, and draws the
    /// per-epoch grid with guidance strength `guidance` (see the [module docs](self)). The
    /// model must have `num_classes = Some(MNIST_CLASSES)`.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `label-dropout` unless `0 ≤ p < 1`, `guidance` unless
    /// `w` is finite and ≥ 0, `data` when a label is not a digit.
    pub fn with_class_conditioning(
        mut self,
        label_dropout: f64,
        guidance: f64,
    ) -> Result<Self, TrainError> {
        check_conditioning(label_dropout, guidance)?;
        for split in [&self.train, &self.test] {
            if let Some(&bad) = split
                .labels
                .iter()
                .find(|&&l| usize::from(l) >= MNIST_CLASSES)
            {
                return Err(TrainError::config(
                    "data",
                    format!("a label is {bad}; class conditioning needs digits 0..=9"),
                ));
            }
        }
        self.conditioning = Some(ClassConditioning {
            null: MNIST_CLASSES,
            dropout: label_dropout,
            guidance,
        });
        Ok(self)
    }

    /// Whether the task trains class-conditionally.
    pub fn is_class_conditional(&self) -> bool {
        self.conditioning.is_some()
    }

    /// `[C, H, W]` of the images.
    pub fn image_shape(&self) -> [usize; 3] {
        [1, self.train.rows, self.train.cols]
    }

    /// `D = C·H·W`.
    pub fn dims(&self) -> usize {
        self.image_shape().iter().product()
    }

    /// Test images behind `test_loss`.
    pub fn test_images(&self) -> usize {
        self.test_images
    }

    /// Test images behind the bound.
    pub fn nll_images(&self) -> usize {
        self.nll_images
    }

    /// The estimator of the bound.
    pub fn nll_estimator(&self) -> VlbEstimator {
        self.nll_estimator
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

    /// A batch of images `idx` with timesteps and noise drawn from `rng`: first one `t` per
    /// image, then the noise, image-major; for a class-conditional task then the label
    /// dropout (one uniform per image).
    pub fn batch_from(
        &self,
        split: &MnistSplit,
        idx: &[usize],
        rng: &mut HostRng,
        device: &Device,
    ) -> DiffusionBatch {
        let x0 = scaled_images(split, idx, device);
        let t: Vec<usize> = idx
            .iter()
            .map(|_| rng.below(self.num_timesteps as u64) as usize)
            .collect();
        let noise = host_normal(rng, x0.dims(), device);
        let labels = self.conditioning.map(|c| {
            let labels: Vec<usize> = idx.iter().map(|&i| usize::from(split.labels[i])).collect();
            let (kept, _) = drop_labels(&labels, c.dropout, c.null, rng);
            timesteps_tensor(&kept, device)
        });
        DiffusionBatch {
            x0,
            noise,
            t: timesteps_tensor(&t, device),
            labels,
        }
    }

    /// The per-image weighted denoising loss of `model` on `batch`.
    ///
    /// # Shapes
    /// - output: `[B]`
    pub fn per_image_loss(&self, model: &DiffusionModel, batch: DiffusionBatch) -> Tensor<1> {
        self.per_image_losses(model, batch).denoise
    }

    /// The per-image weighted denoising loss and, for each learned-covariance head the model
    /// has, that head's per-image loss ([`CovarianceHead::loss`]: `mean((h − ε²)²)` for SN-DPM,
    /// `mean((h − (ε − ε̂)²)²)` with `ε̂` detached for NPR-DPM). The heads see detached trunk
    /// features, so their losses reach only the heads.
    pub fn per_image_losses(&self, model: &DiffusionModel, batch: DiffusionBatch) -> ImageLosses {
        assert_eq!(
            model.num_timesteps(),
            self.num_timesteps,
            "MnistDiffusionTask: the model has T = {} but the task draws t < {}",
            model.num_timesteps(),
            self.num_timesteps
        );
        let DiffusionBatch {
            x0,
            noise,
            t,
            labels,
        } = batch;
        assert_eq!(
            model.num_classes.is_some(),
            self.conditioning.is_some(),
            "MnistDiffusionTask: a class-conditional task needs a class-conditional model and \
             an unconditional task an unconditional one"
        );
        let x_t = model
            .schedule
            .add_noise(x0.clone(), noise.clone(), t.clone());
        let outs = model.forward_class_with_moments(x_t.clone(), t.clone(), labels);
        let head_loss = |head: CovarianceHead| {
            outs.moment(head).map(|h| {
                let (_, eps_hat) = model.prediction.split_at(
                    &model.schedule,
                    outs.out.clone(),
                    x_t.clone(),
                    t.clone(),
                );
                head.loss(h, noise.clone(), eps_hat)
            })
        };
        let sn = head_loss(CovarianceHead::SecondMoment);
        let npr = head_loss(CovarianceHead::ResidualMoment);
        let denoise = denoising_loss(
            &model.schedule,
            model.prediction,
            &self.weighting,
            outs.out,
            x0,
            noise,
            t,
        );
        ImageLosses { denoise, sn, npr }
    }

    /// The mean `test_loss` of `model` over the first [`test_images`](Self::test_images) test
    /// images with the fixed `t` and noise of `Stream::EvalNoise` (per image: its `t`, then its
    /// noise); a class-conditional task uses the images' true labels.
    ///
    /// # Errors
    /// [`TrainError::Config`] if the loss cannot be read back as f32.
    pub fn test_loss(&self, model: &DiffusionModel, device: &Device) -> Result<f64, TrainError> {
        let mut rng = HostRng::stream(self.seed, Stream::EvalNoise);
        let n = self.test_images;
        let d = self.dims();
        let mut sum = 0.0f64;
        for start in (0..n).step_by(self.eval_batch) {
            let idx: Vec<usize> = (start..(start + self.eval_batch).min(n)).collect();
            let mut t = Vec::with_capacity(idx.len());
            let mut noise = Vec::with_capacity(idx.len() * d);
            for _ in &idx {
                t.push(rng.below(self.num_timesteps as u64) as usize);
                noise.extend((0..d).map(|_| rng.normal() as f32));
            }
            let [c, h, w] = self.image_shape();
            let batch = DiffusionBatch {
                x0: scaled_images(&self.test, &idx, device),
                noise: Tensor::from_data(TensorData::new(noise, [idx.len(), c, h, w]), device),
                t: timesteps_tensor(&t, device),
                labels: self.conditioning.map(|_| {
                    let labels: Vec<usize> = idx
                        .iter()
                        .map(|&i| usize::from(self.test.labels[i]))
                        .collect();
                    timesteps_tensor(&labels, device)
                }),
            };
            sum += read_f32(self.per_image_loss(model, batch).into_data(), "test loss")?
                .iter()
                .map(|&v| f64::from(v))
                .sum::<f64>();
        }
        Ok(sum / n as f64)
    }

    /// The variational bound of `model` on the first [`nll_images`](Self::nll_images) test
    /// images along `timesteps` (descending) for each of `variances`, in chunks of
    /// `eval_batch`, with the task's estimator and the noise of `Stream::NllNoise`.
    ///
    /// # Errors
    /// [`TrainError::Config`] for invalid timesteps or variances.
    pub fn vlb(
        &self,
        model: &DiffusionModel,
        timesteps: &[usize],
        variances: &[ReverseVariances],
        device: &Device,
    ) -> Result<Vec<VlbSummary>, TrainError> {
        self.vlb_with_heads(model, timesteps, variances, &[], device)
    }

    /// [`vlb`](Self::vlb) for the scalar `variances` and, from the same network passes, the
    /// per-pixel variances of each of `heads` ([`PixelVariances`], named `"sn"` / `"npr"`),
    /// listed after the scalar ones.
    ///
    /// # Errors
    /// As [`vlb`](Self::vlb), and [`TrainError::Config`] naming `sn-dpm` / `npr-dpm` when the
    /// model lacks one of `heads`.
    pub fn vlb_with_heads(
        &self,
        model: &DiffusionModel,
        timesteps: &[usize],
        variances: &[ReverseVariances],
        heads: &[CovarianceHead],
        device: &Device,
    ) -> Result<Vec<VlbSummary>, TrainError> {
        if let Some(h) = heads.iter().find(|&&h| !model.has_head(h)) {
            return Err(TrainError::config(
                format!("{}-dpm", h.name()),
                format!("the model has no {} head", h.name()),
            ));
        }
        let pixel = heads
            .iter()
            .map(|&h| PixelVariances::new(h, &model.schedule, timesteps))
            .collect::<Result<Vec<_>, _>>()?;
        let mut rng = HostRng::stream(self.seed, Stream::NllNoise);
        let n = self.nll_images;
        let mut all = vec![Vec::with_capacity(n); variances.len() + pixel.len()];
        for start in (0..n).step_by(self.eval_batch) {
            let idx: Vec<usize> = (start..(start + self.eval_batch).min(n)).collect();
            let x0 = scaled_images(&self.test, &idx, device);
            let terms = vlb_terms_with_pixel_variances(
                &model.schedule,
                model.prediction,
                timesteps,
                variances,
                &pixel,
                x0,
                |x, t| {
                    if heads.is_empty() {
                        (model.forward(x, t), Vec::new())
                    } else {
                        let outs = model.forward_with_moments(x, t);
                        let hs = heads
                            .iter()
                            .map(|&h| outs.moment(h).expect("checked"))
                            .collect();
                        (outs.out, hs)
                    }
                },
                self.nll_estimator,
                true,
                &mut rng,
            )?;
            for (acc, t) in all.iter_mut().zip(terms) {
                acc.extend(t);
            }
        }
        let names = variances
            .iter()
            .map(|v| v.name.clone())
            .chain(pixel.iter().map(|p| p.name.clone()));
        Ok(names
            .zip(&all)
            .map(|(name, terms)| VlbSummary::new(name, terms, self.dims()))
            .collect())
    }

    /// The bound over the full chain `T−1, …, 0` with DDPM's fixed small and large variances.
    ///
    /// # Errors
    /// As [`vlb`](Self::vlb).
    pub fn full_chain_vlb(
        &self,
        model: &DiffusionModel,
        device: &Device,
    ) -> Result<Vec<VlbSummary>, TrainError> {
        let timesteps: Vec<usize> = (0..model.num_timesteps()).rev().collect();
        let variances = [
            ReverseVariances::ddpm(&model.schedule, &timesteps, DdpmVariance::FixedSmall)?,
            ReverseVariances::ddpm(&model.schedule, &timesteps, DdpmVariance::FixedLarge)?,
        ];
        self.vlb(model, &timesteps, &variances, device)
    }

    /// [`sample_images`](Self::sample_images) with a learned-variance sampler (SN-/NPR-DDPM,
    /// SN-/NPR-DDIM; the model must have its head); the same order of random numbers.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `sn-dpm` / `npr-dpm` when the model lacks the sampler's
    /// head, or if the samples cannot be read back as f32.
    pub fn sample_images_learned(
        &self,
        model: &DiffusionModel,
        sampler: &LearnedVarianceSampler,
        n: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> Result<(Vec<f32>, usize), TrainError> {
        let head = sampler.head();
        if !model.has_head(head) {
            return Err(TrainError::config(
                format!("{}-dpm", head.name()),
                format!("the model has no {} head", head.name()),
            ));
        }
        let [c, h, w] = self.image_shape();
        self.collect_samples(n, |_, m| {
            let x_t = host_normal(rng, [m, c, h, w], device);
            sampler.sample(model, x_t, |_| host_normal(rng, [m, c, h, w], device))
        })
    }

    fn collect_samples(
        &self,
        n: usize,
        mut draw: impl FnMut(usize, usize) -> Tensor<4>,
    ) -> Result<(Vec<f32>, usize), TrainError> {
        let mut out = Vec::with_capacity(n * self.dims());
        let mut non_finite = 0usize;
        let mut left = n;
        while left > 0 {
            let m = left.min(self.eval_batch);
            for v in read_f32(draw(n - left, m).into_data(), "samples")? {
                if v.is_finite() {
                    out.push(((v + 1.0) / 2.0).clamp(0.0, 1.0));
                } else {
                    non_finite += 1;
                    out.push(0.0);
                }
            }
            left -= m;
        }
        Ok((out, non_finite))
    }

    /// `n` samples of `model` by `sampler` as host pixels `[n, C, H, W]` in `[0, 1]`, drawn in
    /// chunks of `eval_batch`; per chunk, `x_T` then every noisy step's noise come from `rng`.
    /// Non-finite values become 0 and are counted in the second value.
    ///
    /// # Errors
    /// [`TrainError::Config`] if the samples cannot be read back as f32.
    pub fn sample_images<S: Scheduler>(
        &self,
        model: &DiffusionModel,
        sampler: &S,
        n: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> Result<(Vec<f32>, usize), TrainError> {
        let [c, h, w] = self.image_shape();
        self.collect_samples(n, |_, m| {
            let x_t = host_normal(rng, [m, c, h, w], device);
            run_sampler(
                sampler,
                x_t,
                |x, t| model.forward_at(x, t),
                |_| Some(host_normal(rng, [m, c, h, w], device)),
            )
        })
    }

    /// [`sample_images`](Self::sample_images) of a class-conditional model with classifier-free
    /// guidance of strength `w` ([`DiffusionModel::guided_forward`]): sample `i` is drawn for
    /// class `labels[i]`; the same order of random numbers.
    ///
    /// # Errors
    /// [`TrainError::Config`] naming `class-conditional` when the model is unconditional,
    /// `class` for a label outside `0..num_classes`, `guidance` for a negative or non-finite
    /// `w`, or if the samples cannot be read back as f32.
    pub fn sample_images_guided<S: Scheduler>(
        &self,
        model: &DiffusionModel,
        sampler: &S,
        labels: &[usize],
        w: f64,
        rng: &mut HostRng,
        device: &Device,
    ) -> Result<(Vec<f32>, usize), TrainError> {
        let Some(k) = model.num_classes else {
            return Err(TrainError::config(
                "class-conditional",
                "guided sampling needs a class-conditional model",
            ));
        };
        if let Some(&bad) = labels.iter().find(|&&l| l >= k) {
            return Err(TrainError::config(
                "class",
                format!("must be in 0..{k}, got {bad}"),
            ));
        }
        check_conditioning(0.0, w)?;
        let [c, h, w_px] = self.image_shape();
        self.collect_samples(labels.len(), |start, m| {
            let x_t = host_normal(rng, [m, c, h, w_px], device);
            let class = timesteps_tensor(&labels[start..start + m], device);
            run_sampler(
                sampler,
                x_t,
                |x, t| model.guided_forward_at(x, t, class.clone(), w),
                |_| Some(host_normal(rng, [m, c, h, w_px], device)),
            )
        })
    }
}

/// Images `idx` of `split` scaled to `[−1, 1]` (`2k/255 − 1`), `[B, 1, H, W]`.
///
/// # Shapes
/// - output: `[idx.len(), 1, H, W]`
///
/// # Panics
/// If an index is `>= split.len()`, like slice indexing.
pub fn scaled_images(split: &MnistSplit, idx: &[usize], device: &Device) -> Tensor<4> {
    let mut data = Vec::with_capacity(idx.len() * split.pixels());
    for &i in idx {
        data.extend(
            split
                .image(i)
                .iter()
                .map(|&k| (f64::from(k) * 2.0 / 255.0 - 1.0) as f32),
        );
    }
    Tensor::from_data(
        TensorData::new(data, [idx.len(), 1, split.rows, split.cols]),
        device,
    )
}

fn read_f32(data: TensorData, what: &str) -> Result<Vec<f32>, TrainError> {
    data.try_to_vec_as::<f32>()
        .map_err(|e| TrainError::config(what, format!("cannot read as f32: {e:?}")))
}

/// `0, 1, …, k−1, 0, 1, …`: `n` labels, every class equally often (up to one).
pub fn balanced_labels(n: usize, k: usize) -> Vec<usize> {
    (0..n).map(|i| i % k.max(1)).collect()
}

fn check_conditioning(label_dropout: f64, guidance: f64) -> Result<(), TrainError> {
    if !(0.0..1.0).contains(&label_dropout) {
        return Err(TrainError::config(
            "label-dropout",
            format!(
                "must be in [0, 1) (the probability of replacing a label by the null label), \
                 got {label_dropout}"
            ),
        ));
    }
    if !(guidance.is_finite() && guidance >= 0.0) {
        return Err(TrainError::config(
            "guidance",
            format!(
                "must be a finite number ≥ 0 (Ho & Salimans' w; 0 is the plain conditional \
                 model), got {guidance}"
            ),
        ));
    }
    Ok(())
}

fn ddim(prediction: Prediction, steps: usize, spacing: Spacing) -> DdimConfig {
    DdimConfig::new(steps)
        .with_spacing(spacing)
        .with_prediction(prediction)
        .with_clipping(SampleClipping::Clip { range: 1.0 })
}

impl Task for MnistDiffusionTask {
    type Model = DiffusionModel;
    type Batch = DiffusionBatch;

    fn num_train_batches(&self) -> usize {
        self.batches.batches_per_epoch()
    }

    fn train_batch(
        &mut self,
        epoch: usize,
        index: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> DiffusionBatch {
        let idx = self.batch_indices(epoch, index);
        self.batch_from(&self.train, &idx, rng, device)
    }

    fn batch_len(&self, batch: &DiffusionBatch) -> usize {
        batch.x0.dims()[0]
    }

    /// The mean denoising loss plus the mean loss of each learned-covariance head (logged as
    /// `sn_loss` / `npr_loss`).
    fn loss(
        &self,
        model: &DiffusionModel,
        batch: DiffusionBatch,
        _ctx: &StepContext,
    ) -> StepOutput {
        let ImageLosses { denoise, sn, npr } = self.per_image_losses(model, batch);
        let mut total = denoise.mean();
        let mut metrics = Vec::new();
        for (name, l) in [("sn_loss", sn), ("npr_loss", npr)] {
            if let Some(l) = l {
                let l = l.mean();
                total = total + l.clone();
                metrics.push((name, l));
            }
        }
        metrics
            .into_iter()
            .fold(StepOutput::new(total), |o, (name, l)| {
                o.with_metric(name, l)
            })
    }

    fn evaluate(
        &mut self,
        model: &DiffusionModel,
        device: &Device,
    ) -> Result<Vec<(String, f64)>, TrainError> {
        let mut out = vec![("test_loss".to_string(), self.test_loss(model, device)?)];
        let vlb = self.full_chain_vlb(model, device)?;
        out.push(("test_bpd".into(), vlb[0].bpd));
        if let Some(se) = vlb[0].stderr {
            out.push(("test_bpd_stderr".into(), se));
        }
        out.push(("test_bpd_large".into(), vlb[1].bpd));
        Ok(out)
    }

    fn sample(
        &mut self,
        model: &DiffusionModel,
        n: usize,
        device: &Device,
    ) -> Result<Option<Samples>, TrainError> {
        if n == 0 {
            return Ok(None);
        }
        let sampler = ddim(model.prediction, self.sample_steps, Spacing::Leading)
            .try_init(&model.schedule)
            .map_err(|e| TrainError::config("sample-steps", e.to_string()))?;
        let mut rng = HostRng::stream(self.seed, Stream::Samples);
        match self.conditioning {
            None => {
                let (data, _) = self.sample_images(model, &sampler, n, &mut rng, device)?;
                Ok(Some(
                    ImageSamples::square_grid(data, self.image_shape()).into(),
                ))
            }
            Some(c) => {
                let labels = balanced_labels(n, c.null);
                let (data, _) = self
                    .sample_images_guided(model, &sampler, &labels, c.guidance, &mut rng, device)?;
                let mut grid = ImageSamples::square_grid(data, self.image_shape());
                grid.labels = Some(labels.iter().map(|&l| l as i64).collect());
                Ok(Some(grid.into()))
            }
        }
    }
}

/// Flags of the `ddpm_mnist` example (`#[command(flatten)]` beside [`CommonArgs`]).
#[derive(clap::Args, Debug, Clone)]
pub struct DdpmMnistArgs {
    /// Noise schedule: Ho et al.'s linear β (1e-4 → 0.02 at T = 1000, rescaled for other T) or
    /// Nichol & Dhariwal's cosine ᾱ.
    #[arg(long, default_value = "linear", value_parser = ["linear", "cosine"])]
    pub schedule: String,
    /// T, the number of diffusion steps.
    #[arg(long, default_value_t = 1000)]
    pub timesteps: usize,
    /// What the U-Net predicts: the noise (eps), the clean image (x0) or the velocity (v).
    #[arg(long, default_value = "eps", value_parser = ["eps", "x0", "v"])]
    pub prediction: String,
    /// Min-SNR-γ loss weighting with this γ (Hang et al. use 5); uniform weighting without.
    #[arg(long)]
    pub min_snr_gamma: Option<f64>,
    /// Channels of the U-Net's first level.
    #[arg(long, default_value_t = 16)]
    pub base_channels: usize,
    /// Channel multiplier per U-Net level (28 → 14 → 7 for three levels).
    #[arg(long, value_delimiter = ',', default_value = "1,2,2")]
    pub channel_mults: Vec<usize>,
    /// Residual blocks per level.
    #[arg(long, default_value_t = 1)]
    pub res_blocks: usize,
    /// Level sizes with self-attention after the residual blocks (the middle always attends);
    /// `--attention ''` or `--attention none`: only the middle.
    #[arg(long, default_value = "7")]
    pub attention: SizeList,
    /// Dropout inside the residual blocks.
    #[arg(long, default_value_t = 0.0)]
    pub dropout: f64,
    /// Add SN-DPM's second-moment head (on the detached U-Net trunk, trained on `‖h − ε²‖²`),
    /// the SN-DDPM sampler at `--ddpm-steps`, SN-DDIM at each `--ddim-steps` and its bounds.
    #[arg(long)]
    pub sn_dpm: bool,
    /// Add NPR-DPM's residual-moment head (on the detached U-Net trunk, trained on
    /// `‖h − (ε − ε̂)²‖²`), the NPR-DDPM sampler at `--ddpm-steps`, NPR-DDIM at each
    /// `--ddim-steps` and its bounds.
    #[arg(long)]
    pub npr_dpm: bool,
    /// Train class-conditionally for classifier-free guidance: the U-Net gets the digit (and
    /// a null label for the dropped ones); every sampler then draws guided samples.
    #[arg(long)]
    pub class_conditional: bool,
    /// Probability that a training label is replaced by the null label (with
    /// --class-conditional; default 0.2).
    #[arg(long)]
    pub label_dropout: Option<f64>,
    /// Guidance strength w of the samplers: ε̃ = (1 + w) ε(x, c) − w ε(x, ∅) (Ho & Salimans;
    /// diffusers' guidance_scale = 1 + w). With --class-conditional; default 3.
    #[arg(long)]
    pub guidance: Option<f64>,
    /// Draw every sample for this digit (with --class-conditional; default: the balanced
    /// labels 0, 1, …, 9, 0, …).
    #[arg(long)]
    pub class: Option<usize>,
    /// Do not keep an EMA of the weights (without `--ema`, the default decay is 0.999).
    #[arg(long)]
    pub no_ema: bool,
    /// Peak learning rate of Adam after the warm-up (without --lr).
    #[arg(long, default_value_t = 5e-4)]
    pub lr_peak: f64,
    /// Linear learning-rate warm-up from 0 over this many steps (ignored with --lr).
    #[arg(long, default_value_t = 200)]
    pub warmup: u64,
    /// Training images per epoch (60000: all of them), drawn anew each epoch from the seeded
    /// permutation; shorter epochs mean more frequent checkpoints, evaluations and grids.
    #[arg(long, default_value_t = 15_000)]
    pub train_images: usize,
    /// Test images behind `test_loss`.
    #[arg(long, default_value_t = 1000)]
    pub test_images: usize,
    /// Test images behind the bits/dim of the variational bound.
    #[arg(long, default_value_t = 200)]
    pub nll_images: usize,
    /// Monte-Carlo timesteps per image of the bound (the decoder term is always exact).
    #[arg(long, default_value_t = 4)]
    pub nll_timesteps: usize,
    /// The exact bound: every timestep of each trajectory (T network passes per image).
    #[arg(long)]
    pub nll_full: bool,
    /// Also evaluate every N optimizer steps (mid-epoch records in metrics.jsonl).
    #[arg(long)]
    pub eval_every: Option<u64>,
    /// Images per evaluation / sampling chunk.
    #[arg(long, default_value_t = DEFAULT_EVAL_BATCH)]
    pub eval_batch: usize,
    /// DDIM steps of the per-epoch sample grid.
    #[arg(long, default_value_t = 20)]
    pub sample_steps: usize,
    /// Respaced steps of the DDPM and Analytic-DDPM samplers (and of the Analytic-DPM bound).
    #[arg(long, default_value_t = 100)]
    pub ddpm_steps: usize,
    /// Timestep spacing of the after-training DDPM- and DDIM-family samplers (plain, Analytic,
    /// SN/NPR) and of the respaced bound: `leading` (DDIM's uniform skip; 10 steps of 1000 are
    /// 900, 800, …, 0), `linspace` (999, 888, …, 0: the Analytic-DPM authors' "linear"
    /// trajectory), `trailing` (999, 899, …, 99) or `quadratic`. DPM-Solver++ always uses
    /// `linspace`, the per-epoch grid `leading`.
    #[arg(long, default_value = "leading")]
    pub spacing: Spacing,
    /// Steps of the DDIM and Analytic-DDIM samplers, one sampler per entry.
    #[arg(long, value_delimiter = ',', default_value = "50,20")]
    pub ddim_steps: Vec<usize>,
    /// Steps of the DPM-Solver++(2M) samplers, one per entry.
    #[arg(long, value_delimiter = ',', default_value = "10,20")]
    pub dpm_steps: Vec<usize>,
    /// Training images of the Monte-Carlo estimate of Analytic-DPM's Γ.
    #[arg(long, default_value_t = 64)]
    pub gamma_images: usize,
    /// Samples per sampler after training, scored by deepgen-eval's MNIST classifier
    /// (0 skips sampling and the scores).
    #[arg(long, default_value_t = 100)]
    pub fd_samples: usize,
}

/// The after-training samplers.
enum AnySampler {
    Ddpm(Ddpm),
    Ddim(Ddim),
    Dpm(DpmSolver),
    Learned(LearnedVarianceSampler),
}

/// Label dropout without `--label-dropout`.
pub const DEFAULT_LABEL_DROPOUT: f64 = 0.2;
/// Guidance strength `w` without `--guidance`.
pub const DEFAULT_GUIDANCE: f64 = 3.0;

/// `--attention`'s list type; it lives in deepgen-train's CLI conventions (shared with
/// `fvae_mnist`'s `--base-net`).
pub use deepgen_train::cli::SizeList;

impl DdpmMnistArgs {
    /// `--label-dropout` or [`DEFAULT_LABEL_DROPOUT`].
    pub fn label_dropout(&self) -> f64 {
        self.label_dropout.unwrap_or(DEFAULT_LABEL_DROPOUT)
    }

    /// `--guidance` or [`DEFAULT_GUIDANCE`].
    pub fn guidance(&self) -> f64 {
        self.guidance.unwrap_or(DEFAULT_GUIDANCE)
    }

    /// The requested label of each of `n` samples: `--class` for all, or balanced.
    pub fn sample_labels(&self, n: usize) -> Vec<usize> {
        match self.class {
            Some(k) => vec![k; n],
            None => balanced_labels(n, MNIST_CLASSES),
        }
    }

    fn model_config(&self, shape: [usize; 3]) -> Result<DiffusionModelConfig, TrainError> {
        let [c, h, w] = shape;
        let prediction = match self.prediction.as_str() {
            "x0" => Prediction::Sample,
            "v" => Prediction::VPrediction,
            _ => Prediction::Epsilon,
        };
        let schedule = match self.schedule.as_str() {
            "cosine" => BetaSchedule::cosine(),
            _ => BetaSchedule::linear(),
        };
        let unet = UNetConfig::new(c, [h, w])
            .with_base_channels(self.base_channels)
            .with_channel_mults(self.channel_mults.clone())
            .with_num_res_blocks(self.res_blocks)
            .with_attention_resolutions(self.attention.0.clone())
            .with_dropout(self.dropout);
        let config = DiffusionModelConfig::new(unet)
            .with_schedule(
                NoiseScheduleConfig::new()
                    .with_schedule(schedule)
                    .with_num_timesteps(self.timesteps),
            )
            .with_prediction(prediction)
            .with_second_moment_head(self.sn_dpm)
            .with_residual_moment_head(self.npr_dpm)
            .with_num_classes(self.class_conditional.then_some(MNIST_CLASSES));
        config.validate().map_err(|e| {
            let flag = match e.field.as_str() {
                f if f.starts_with("unet.base_channels") || f.starts_with("unet.groups") => {
                    "base-channels"
                }
                f if f.starts_with("unet.channel_mults") => "channel-mults",
                f if f.starts_with("unet.num_res_blocks") => "res-blocks",
                f if f.starts_with("unet.attention") => "attention",
                f if f.starts_with("unet.dropout") => "dropout",
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
        if t == 0 {
            return Err(TrainError::config("timesteps", "must be at least 1"));
        }
        in_range("ddpm-steps", self.ddpm_steps)?;
        in_range("sample-steps", self.sample_steps)?;
        for &n in &self.ddim_steps {
            in_range("ddim-steps", n)?;
        }
        for &n in &self.dpm_steps {
            in_range("dpm-steps", n)?;
        }
        if let Some(g) = self.min_snr_gamma
            && !(g.is_finite() && g > 0.0)
        {
            return Err(TrainError::config(
                "min-snr-gamma",
                format!("must be a finite number > 0, got {g}"),
            ));
        }
        for (flag, n) in [
            ("test-images", self.test_images),
            ("nll-images", self.nll_images),
            ("nll-timesteps", self.nll_timesteps),
            ("eval-batch", self.eval_batch),
            ("gamma-images", self.gamma_images),
        ] {
            if n == 0 {
                return Err(TrainError::config(flag, "must be at least 1"));
            }
        }
        if self.fd_samples == 1 {
            return Err(TrainError::config(
                "fd-samples",
                "must be 0 (no samples) or at least 2 (a Fréchet distance needs a covariance)",
            ));
        }
        if self.class_conditional {
            for (flag, given) in [("sn-dpm", self.sn_dpm), ("npr-dpm", self.npr_dpm)] {
                if given {
                    return Err(TrainError::config(
                        flag,
                        format!(
                            "cannot be combined with --class-conditional (the learned-covariance \
                             heads' variances are not guided); drop --{flag} or \
                             --class-conditional"
                        ),
                    ));
                }
            }
            check_conditioning(self.label_dropout(), self.guidance())?;
            if let Some(k) = self.class
                && k >= MNIST_CLASSES
            {
                return Err(TrainError::config(
                    "class",
                    format!("must be a digit 0..=9, got {k}"),
                ));
            }
        } else {
            for (flag, given) in [
                ("label-dropout", self.label_dropout.is_some()),
                ("guidance", self.guidance.is_some()),
                ("class", self.class.is_some()),
            ] {
                if given {
                    return Err(TrainError::config(
                        flag,
                        "only applies with --class-conditional (an unconditional model has no \
                         labels); add --class-conditional or drop the flag",
                    ));
                }
            }
        }
        if self.eval_every == Some(0) {
            return Err(TrainError::config("eval-every", "must be at least 1"));
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

/// The whole run of the `ddpm_mnist` example: device and trainer ([`Run::start`]), MNIST, the
/// model from the flags, Adam with warm-up, gradient-norm clipping at 1 and EMA 0.999 (unless
/// the flags say otherwise) through [`Run::fit`], then the evaluation described in the
/// [module docs](self) and `eval.json`.
///
/// # Errors
/// Invalid flags (naming them), device, data, configuration, training and output errors.
pub fn run(common: &CommonArgs, args: &DdpmMnistArgs) -> Result<(), Box<dyn Error>> {
    args.check()?;
    let mut run = Run::start(
        common,
        RunDefaults {
            name: "ddpm_mnist",
            out_dir: "runs/ddpm_mnist",
            plot_title: "DDPM on MNIST: denoising loss",
            plot_y_label: "loss",
            plot_metrics: &["train_loss", "test_loss"],
            epochs: 8,
            batch_size: 64,
            lr: Schedule::LinearWarmup {
                start: 0.0,
                end: args.lr_peak,
                warmup_steps: args.warmup,
            },
            num_samples: 64,
        },
    )?;
    let mut trainer = run.trainer.clone().eval_every_steps(args.eval_every);
    if common.ema.is_none() && !args.no_ema {
        trainer = trainer.ema(Some(0.999));
    }
    if let (None, None) = (common.clip_grad_norm, common.clip_grad_value) {
        trainer = trainer.grad_transforms(
            GradTransforms::new()
                .with_global_norm(1.0)
                .map_err(|e| TrainError::config("clip-grad-norm", e.to_string()))?,
        );
    }
    let ema = common.ema.is_some() || !args.no_ema;
    run.trainer = trainer;

    let mnist = Mnist::load(common.data.as_deref())?;
    let weighting = match args.min_snr_gamma {
        Some(gamma) => LossWeighting::MinSnr { gamma },
        None => LossWeighting::Uniform,
    };
    let mut task = MnistDiffusionTask::new(
        mnist.train.clone(),
        mnist.test.clone(),
        run.batch_size,
        args.timesteps,
        run.seed,
    )?
    .with_weighting(weighting)?
    .with_test_images(args.test_images)?
    .with_nll(
        args.nll_images,
        if args.nll_full {
            VlbEstimator::Full
        } else {
            VlbEstimator::MonteCarlo(args.nll_timesteps)
        },
    )?
    .with_eval_batch(args.eval_batch)?
    .with_sample_steps(args.sample_steps)?;
    task = task.with_train_images(args.train_images)?;
    if args.class_conditional {
        task = task.with_class_conditioning(args.label_dropout(), args.guidance())?;
    }
    let config = args.model_config(task.image_shape())?;
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
    // The sampling weights as .npy (what benches/pytorch/ddpm_mnist.py --load-params reads).
    deepgen_train::export_npy(&model, &out.join("params"))?;
    let device = run.eval_device();
    let mut report = EvalReport::new();
    report
        .push("model", "ddpm_mnist")
        .push("parameters", params)
        .push("ema", if ema { "on" } else { "off" })
        .push("spacing", args.spacing.name())
        .push(
            "class_conditional",
            if args.class_conditional { "on" } else { "off" },
        );
    if args.class_conditional {
        report
            .push("label_dropout", args.label_dropout())
            .push("guidance", args.guidance())
            .push(
                "sample_class",
                match args.class {
                    Some(k) => k.to_string(),
                    None => "balanced".to_string(),
                },
            );
    }
    fitted.push_last(&mut report, &["train_loss"]);
    let test_loss = match fitted.last_metric("test_loss") {
        Some(v) => v,
        None => task.test_loss(&model, &device)?,
    };
    report
        .push("test_loss", test_loss)
        .push("test_images", task.test_images());

    // Γ at every timestep (Analytic-DPM's variances on the full chain and on every sampler's
    // subset), then the bound on the full chain and on the --ddpm-steps trajectory: DDPM's,
    // Analytic-DPM's and the heads' per-pixel variances.
    let started = Instant::now();
    let estimator = match task.nll_estimator() {
        VlbEstimator::Full => "full sum".to_string(),
        VlbEstimator::MonteCarlo(n) => format!("Monte Carlo, {n} timesteps per image"),
    };
    report
        .push("nll_images", task.nll_images())
        .push("nll_estimator", estimator.as_str());

    let schedule = model.schedule.clone();
    let ddpm_timesteps = args.spacing.timesteps(args.timesteps, args.ddpm_steps, 0);
    let full_timesteps: Vec<usize> = (0..args.timesteps).rev().collect();
    let gamma_timesteps = full_timesteps.clone();
    let step = CheckpointDir::new(out.join("checkpoint"))
        .latest()?
        .map_or(0, |c| c.state.step);
    let key = GammaKey {
        model_step: step,
        ema,
        schedule: config.schedule.to_string(),
        prediction: format!("{:?}", config.prediction),
        images: args.gamma_images.min(task.train_split().len()),
        seed: run.seed,
    };
    let gamma_started = Instant::now();
    let (gamma, cached) =
        GammaCache::load_or_estimate(&out.join(GAMMA_CACHE_FILE), &key, &gamma_timesteps, |ts| {
            let idx: Vec<usize> = (0..key.images).collect();
            let x0 = scaled_images(task.train_split(), &idx, &device);
            let mut rng = HostRng::stream(run.seed, Stream::ModelStatistics);
            Ok(estimate_gamma(
                &schedule,
                model.prediction,
                ts,
                x0,
                |x, t| model.forward(x, t),
                args.eval_batch,
                &mut rng,
            ))
        })?;
    println!(
        "Γ at {} timesteps ({} training images, step {step}): {} ({:.0} s)",
        gamma_timesteps.len(),
        key.images,
        if cached {
            "from gamma.json"
        } else {
            "estimated"
        },
        gamma_started.elapsed().as_secs_f64()
    );
    let gamma_at = |ts: &[usize]| -> Vec<f64> {
        ts.iter()
            .map(|t| gamma[gamma_timesteps.iter().position(|s| s == t).expect("kept")])
            .collect()
    };
    let heads: Vec<CovarianceHead> = CovarianceHead::ALL
        .into_iter()
        .filter(|&h| model.has_head(h))
        .collect();
    let bound_variances = |ts: &[usize]| -> Result<Vec<ReverseVariances>, TrainError> {
        Ok(vec![
            ReverseVariances::ddpm(&schedule, ts, DdpmVariance::FixedSmall)?,
            ReverseVariances::ddpm(&schedule, ts, DdpmVariance::FixedLarge)?,
            ReverseVariances::analytic(&schedule, ts, &gamma_at(ts))?,
        ])
    };
    let full = task.vlb_with_heads(
        &model,
        &full_timesteps,
        &bound_variances(&full_timesteps)?,
        &heads,
        &device,
    )?;
    push_vlb(&mut report, "nll_bpd", &full);
    let k = task.vlb_with_heads(
        &model,
        &ddpm_timesteps,
        &bound_variances(&ddpm_timesteps)?,
        &heads,
        &device,
    )?;
    push_vlb(&mut report, &format!("nll_bpd_k{}", args.ddpm_steps), &k);
    let list = |s: &[VlbSummary]| {
        s.iter()
            .map(|v| format!("{} {:.4}", v.name, v.bpd))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "bits/dim bound on {} test images ({estimator}): full chain {}; {} steps: {} ({:.0} s)",
        task.nll_images(),
        list(&full),
        args.ddpm_steps,
        list(&k),
        started.elapsed().as_secs_f64()
    );

    // The samplers.
    let prediction = model.prediction;
    let clip = SampleClipping::Clip { range: 1.0 };
    let flag = |f: &'static str| {
        move |e: deepgen_tensor::ConfigError| TrainError::config(f, e.to_string())
    };
    let mut samplers: Vec<(String, AnySampler)> = Vec::new();
    let n = args.ddpm_steps;
    for (name, v) in [
        ("ddpm_small", DdpmVariance::FixedSmall),
        ("ddpm_large", DdpmVariance::FixedLarge),
    ] {
        let s = DdpmConfig::new(n)
            .with_spacing(args.spacing)
            .with_variance(v)
            .with_prediction(prediction)
            .with_clipping(clip.clone())
            .try_init(&schedule)
            .map_err(flag("ddpm-steps"))?;
        samplers.push((format!("{name}_{n}"), AnySampler::Ddpm(s)));
    }
    for &m in &args.ddim_steps {
        let s = ddim(prediction, m, args.spacing)
            .try_init(&schedule)
            .map_err(flag("ddim-steps"))?;
        samplers.push((format!("ddim_{m}"), AnySampler::Ddim(s)));
    }
    {
        let s = DdpmConfig::new(n)
            .with_spacing(args.spacing)
            .with_prediction(prediction)
            .with_clipping(clip.clone())
            .try_init(&schedule)
            .map_err(flag("ddpm-steps"))?;
        let v = AnalyticDpmConfig::new()
            .variances(&schedule, s.timesteps(), &gamma_at(s.timesteps()))
            .map_err(flag("ddpm-steps"))?;
        let s = s.with_variances(&v).map_err(flag("ddpm-steps"))?;
        samplers.push((format!("analytic_ddpm_{n}"), AnySampler::Ddpm(s)));
    }
    for &m in &args.ddim_steps {
        let s = ddim(prediction, m, args.spacing)
            .try_init(&schedule)
            .map_err(flag("ddim-steps"))?;
        // The authors' Analytic-DDIM: η = 0, the last noisy step clipped to one pixel bin
        // (Analytic-DDPM above keeps their two bins for the linear schedule).
        let v = AnalyticDpmConfig::ddim()
            .variances(&schedule, s.timesteps(), &gamma_at(s.timesteps()))
            .map_err(flag("ddim-steps"))?;
        let s = s.with_variances(&v).map_err(flag("ddim-steps"))?;
        samplers.push((format!("analytic_ddim_{m}"), AnySampler::Ddim(s)));
    }
    for &m in &args.dpm_steps {
        let s = DpmSolverConfig::new(m)
            .with_prediction(prediction)
            .with_clipping(clip.clone())
            .try_init(&schedule)
            .map_err(flag("dpm-steps"))?;
        samplers.push((format!("dpm_solver_{m}"), AnySampler::Dpm(s)));
    }
    for head in CovarianceHead::ALL
        .into_iter()
        .filter(|&h| model.has_head(h))
    {
        let s = LearnedVarianceSampler::ddpm(
            head,
            &DdpmConfig::new(n)
                .with_spacing(args.spacing)
                .with_prediction(prediction)
                .with_clipping(clip.clone()),
            &AnalyticDpmConfig::new(),
            &schedule,
        )
        .map_err(flag("ddpm-steps"))?;
        samplers.push((format!("{}_ddpm_{n}", head.name()), AnySampler::Learned(s)));
        for &m in &args.ddim_steps {
            let s = LearnedVarianceSampler::ddim(
                head,
                &ddim(prediction, m, args.spacing),
                &AnalyticDpmConfig::new(),
                &schedule,
            )
            .map_err(flag("ddim-steps"))?;
            samplers.push((format!("{}_ddim_{m}", head.name()), AnySampler::Learned(s)));
        }
    }
    score_samplers(
        &task,
        &model,
        &samplers,
        &mnist,
        args,
        run.seed,
        &out,
        &device,
        &mut report,
    )?;
    run.finish(&report)?;
    Ok(())
}

fn push_vlb(report: &mut EvalReport, prefix: &str, summaries: &[VlbSummary]) {
    for s in summaries {
        let name = format!("{prefix}_{}", s.name);
        report.push(name.clone(), s.bpd);
        match s.stderr {
            Some(se) => report.push(format!("{name}_stderr"), se),
            None => report.missing(format!("{name}_stderr"), "one Monte-Carlo draw per image"),
        };
        // The bound's three parts (they sum to it), to see which term a variance choice moves.
        report.push(format!("{name}_prior"), s.prior_bpd);
        report.push(format!("{name}_kl"), s.kl_bpd);
        report.push(format!("{name}_decoder"), s.decoder_bpd);
    }
}

/// Writes `model_config.json` into `out` (as the flow examples write theirs): with `--resume`,
/// architecture flags that differ from the run's file are an error naming them — a run
/// trained class-conditionally and one trained without (`num_classes`) get their own message
/// naming `--class-conditional`. A file written before `num_classes` existed counts as
/// unconditional.
fn write_config(out: &Path, config: &DiffusionModelConfig, resume: bool) -> Result<(), TrainError> {
    let path = out.join("model_config.json");
    let json = config.to_string();
    match std::fs::read_to_string(&path) {
        Ok(old) if deepgen_train::json::same_config_json(&old, &json) => return Ok(()),
        Ok(old) if resume => {
            let was = saved_num_classes(&old);
            if was != config.num_classes {
                let what = match was {
                    Some(k) => format!(
                        "was trained class-conditionally ({k} classes); pass \
                         --class-conditional to resume it"
                    ),
                    None => "was trained without class conditioning; resume it without \
                             --class-conditional"
                        .to_string(),
                };
                return Err(TrainError::config(
                    "class-conditional",
                    format!("the run in {} {what}", out.display()),
                ));
            }
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

/// `num_classes` of a saved `model_config.json` (`None` when absent, null or unreadable).
fn saved_num_classes(text: &str) -> Option<usize> {
    serde_json::from_str::<serde_json::Value>(text)
        .ok()?
        .get("num_classes")?
        .as_u64()
        .map(|k| k as usize)
}

/// Draws `--fd-samples` images with every sampler, writes them, and scores them.
#[allow(clippy::too_many_arguments)]
fn score_samplers(
    task: &MnistDiffusionTask,
    model: &DiffusionModel,
    samplers: &[(String, AnySampler)],
    mnist: &Mnist,
    args: &DdpmMnistArgs,
    seed: u64,
    out: &Path,
    device: &Device,
    report: &mut EvalReport,
) -> Result<(), Box<dyn Error>> {
    let n = args.fd_samples;
    if n == 0 {
        for (name, _) in samplers {
            report.missing(format!("fd_{name}"), "skipped with --fd-samples 0");
        }
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
    let [c, h, w] = task.image_shape();
    let labels = args.class_conditional.then(|| args.sample_labels(n));
    let guidance = args.guidance();
    for (name, sampler) in samplers {
        let started = Instant::now();
        let mut rng = HostRng::stream(seed, Stream::FrechetSamples);
        let (images, non_finite) = match (sampler, &labels) {
            (AnySampler::Ddpm(s), None) => task.sample_images(model, s, n, &mut rng, device)?,
            (AnySampler::Ddim(s), None) => task.sample_images(model, s, n, &mut rng, device)?,
            (AnySampler::Dpm(s), None) => task.sample_images(model, s, n, &mut rng, device)?,
            (AnySampler::Learned(s), None) => {
                task.sample_images_learned(model, s, n, &mut rng, device)?
            }
            (AnySampler::Ddpm(s), Some(l)) => {
                task.sample_images_guided(model, s, l, guidance, &mut rng, device)?
            }
            (AnySampler::Ddim(s), Some(l)) => {
                task.sample_images_guided(model, s, l, guidance, &mut rng, device)?
            }
            (AnySampler::Dpm(s), Some(l)) => {
                task.sample_images_guided(model, s, l, guidance, &mut rng, device)?
            }
            (AnySampler::Learned(s), Some(_)) => {
                return Err(TrainError::config(
                    format!("{}-dpm", s.head().name()),
                    "cannot be combined with --class-conditional",
                )
                .into());
            }
        };
        let secs = started.elapsed().as_secs_f64();
        write_image_samples(out, name, &images, [n, c, h, w])?;
        if let Some(l) = &labels {
            let as_i64: Vec<i64> = l.iter().map(|&v| v as i64).collect();
            write_npy_i64(&out.join(format!("labels_{name}.npy")), &[n], &as_i64)?;
        }
        report
            .push(format!("non_finite_samples_{name}"), non_finite)
            .push(format!("sample_seconds_{name}"), secs);
        let Some(evaluator) = &evaluator else {
            report.missing(format!("fd_{name}"), "no MNIST classifier (see the log)");
            if labels.is_some() {
                report.missing(
                    format!("label_accuracy_{name}"),
                    "no MNIST classifier (see the log)",
                );
            }
            continue;
        };
        let fd = evaluator.frechet_to_test(&images)?;
        let stats = evaluator.label_stats(&images)?;
        println!(
            "{name}: {n} samples in {secs:.0} s; Fréchet distance {fd:.2} (floor {:.2}); label \
             balance {:.3}, mean confidence {:.3}",
            evaluator.floor(),
            stats.balance,
            stats.mean_confidence,
        );
        report
            .push(format!("fd_{name}"), fd)
            .push(format!("label_entropy_{name}"), stats.entropy)
            .push(format!("label_balance_{name}"), stats.balance)
            .push(format!("mean_confidence_{name}"), stats.mean_confidence)
            .push(format!("label_histogram_{name}"), stats.histogram);
        if let Some(l) = &labels {
            let requested: Vec<u8> = l.iter().map(|&v| v as u8).collect();
            let accuracy = evaluator.label_accuracy(&images, &requested)?;
            println!(
                "{name}: {:.1} % of the samples carry the requested label (guidance w = {guidance})",
                100.0 * accuracy
            );
            report.push(format!("label_accuracy_{name}"), accuracy);
        }
    }
    Ok(())
}
