//! Training a VQ autoencoder ([`VqModel`]: VQ-VAE or VQ-VAE-2) on MNIST-like grey-level images
//! with `deepgen-train`'s loop.
//!
//! - **batches**: seeded shuffles of the training split, grey levels `x/255` as `[B, 1, H, W]`;
//! - **loss**: `‖x̂ − x‖² / σ²` (per pixel, σ² the training split's pixel variance, as in
//!   Sonnet's VQ-VAE example) plus every level's codebook and β-weighted commitment loss;
//! - **training metrics** (per epoch, `train_<name>` in `metrics.jsonl`): `recon_mse` (per
//!   pixel), and per code level `<level>_commitment` and `<level>_perplexity` (of the batch's
//!   code frequencies);
//! - **before the first step**: k-means initialisation of every codebook that asks for it,
//!   on the first batch's encoder outputs;
//! - **after every step**: EMA codebook updates and dead-code re-seeding from the step's batch
//!   statistics (randomness from [`Stream::Codebook`] derived with the step, so `--resume`
//!   replays it);
//! - **evaluation** on the whole test split: `test_recon_mse` (= `test_loss`), and per level
//!   `test_<level>_perplexity`, `test_<level>_codes_used` (fraction of the codebook chosen at
//!   least once), `test_<level>_commitment`; `codes_reseeded` counts re-seeded codes so far in
//!   this process;
//! - **samples**: an autoencoder alone has no prior, so the per-epoch grid holds the
//!   reconstructions of the first N test images (the example samples from the prior after
//!   training).

use std::cell::RefCell;
use std::marker::PhantomData;

use burn::tensor::{Device, Tensor};
use deepgen_data::{BatchPlan, Binarization, MnistSplit, images_host, images_tensor_4d};
use deepgen_tensor::{HostRng, Stream};
use deepgen_train::{ImageSamples, Samples, StepContext, StepOutput, Task, TrainError};

use crate::VqError;
use crate::quantizer::BatchStats;
use crate::quantizer::usage::{CodeUsage, perplexity};
use crate::vq_model::VqModel;

/// Images per forward pass during evaluation.
const EVAL_BATCH: usize = 500;

/// Trains a [`VqModel`]; see the [module docs](self).
pub struct VqTask<M: VqModel> {
    train: MnistSplit,
    test: MnistSplit,
    plan: BatchPlan,
    epoch: Option<(usize, Vec<Vec<usize>>)>,
    recon_scale: f64,
    codebook_seed: u64,
    stats: RefCell<Vec<BatchStats>>,
    reseeded: usize,
    _model: PhantomData<M>,
}

/// A training batch: images `[B, 1, H, W]` in `[0, 1]`.
pub struct VqBatch {
    /// The images.
    pub images: Tensor<4>,
}

/// Variance of the pixel values `x/255` of a split (f64 on the host).
pub fn pixel_variance(split: &MnistSplit) -> f64 {
    let n = split.images.len().max(1) as f64;
    let (mut s, mut s2) = (0.0f64, 0.0f64);
    for &p in &split.images {
        let x = f64::from(p) / 255.0;
        s += x;
        s2 += x * x;
    }
    let mean = s / n;
    (s2 / n - mean * mean).max(1e-12)
}

impl<M: VqModel> VqTask<M> {
    /// A task over `train`/`test`, mini-batches of `batch_size` (last partial batch dropped),
    /// batch order and codebook randomness seeded by `seed`.
    ///
    /// # Errors
    /// [`VqError::Task`] for `batch_size == 0`, a batch larger than the training split or an
    /// empty test split.
    pub fn new(
        train: MnistSplit,
        test: MnistSplit,
        batch_size: usize,
        seed: u64,
    ) -> Result<Self, VqError> {
        let plan = BatchPlan::new(train.len(), batch_size, true, seed, true).map_err(|_| {
            VqError::Task {
                name: "batch_size",
                reason: "must be at least 1".into(),
            }
        })?;
        if plan.batches_per_epoch() == 0 {
            return Err(VqError::Task {
                name: "batch_size",
                reason: format!(
                    "is {batch_size} but the training split has only {} images",
                    train.len()
                ),
            });
        }
        if test.is_empty() {
            return Err(VqError::Task {
                name: "test",
                reason: "the test split is empty".into(),
            });
        }
        let recon_scale = 1.0 / pixel_variance(&train);
        Ok(Self {
            train,
            test,
            plan,
            epoch: None,
            recon_scale,
            codebook_seed: HostRng::stream(seed, Stream::Codebook).next_u64(),
            stats: RefCell::new(Vec::new()),
            reseeded: 0,
            _model: PhantomData,
        })
    }

    /// `1/σ²`, the weight of the per-pixel MSE in the loss.
    pub fn recon_scale(&self) -> f64 {
        self.recon_scale
    }

    /// Checks that `model` takes this data's images.
    ///
    /// # Errors
    /// [`VqError::Mismatch`] naming the dimension that differs.
    pub fn check_model(&self, model: &M) -> Result<(), VqError> {
        let [c, h, w] = model.image_shape();
        for (what, left, right) in [
            ("model image channels vs data", c, 1),
            ("model image height vs data", h, self.test.rows),
            ("model image width vs data", w, self.test.cols),
        ] {
            if left != right {
                return Err(VqError::Mismatch { what, left, right });
            }
        }
        Ok(())
    }

    /// Test images `idx` as a `[B, 1, H, W]` tensor in `[0, 1]`.
    pub fn test_images(&self, idx: &[usize], device: &Device) -> Tensor<4> {
        let mut unused = HostRng::seed_from_u64(0);
        images_tensor_4d(&self.test, idx, Binarization::None, &mut unused, device)
    }

    /// Test metrics (see the [module docs](self)) of `model` on the whole test split.
    pub fn test_metrics(&self, model: &M, device: &Device) -> Vec<(String, f64)> {
        let names = model.level_names();
        let mut usage: Vec<CodeUsage> = (0..names.len())
            .map(|l| CodeUsage::new(model.quantizer(l).num_codes()))
            .collect();
        let mut commit = vec![0.0f64; names.len()];
        let mut mse = 0.0f64;
        let n = self.test.len();
        let idx: Vec<usize> = (0..n).collect();
        for chunk in idx.chunks(EVAL_BATCH) {
            let f = model.vq_forward(self.test_images(chunk, device));
            let b = chunk.len() as f64;
            mse += b * f.recon_mse.into_scalar::<f32>() as f64;
            for (l, (q, codes)) in f.levels.into_iter().zip(f.codes).enumerate() {
                commit[l] += b * q.commitment_loss.into_scalar::<f32>() as f64;
                usage[l].add(codes);
            }
        }
        let nf = n as f64;
        let mut out = vec![
            ("test_recon_mse".to_string(), mse / nf),
            ("test_loss".to_string(), mse / nf),
        ];
        for (l, name) in names.iter().enumerate() {
            out.push((format!("test_{name}_perplexity"), usage[l].perplexity()));
            out.push((format!("test_{name}_codes_used"), usage[l].fraction_used()));
            out.push((format!("test_{name}_commitment"), commit[l] / nf));
        }
        out.push(("codes_reseeded".to_string(), self.reseeded as f64));
        out
    }

    /// Code usage of every level over the whole test split.
    pub fn test_usage(&self, model: &M, device: &Device) -> Vec<CodeUsage> {
        let mut usage: Vec<CodeUsage> = (0..model.level_names().len())
            .map(|l| CodeUsage::new(model.quantizer(l).num_codes()))
            .collect();
        let idx: Vec<usize> = (0..self.test.len()).collect();
        for chunk in idx.chunks(EVAL_BATCH) {
            let f = model.vq_forward(self.test_images(chunk, device));
            for (u, codes) in usage.iter_mut().zip(f.codes) {
                u.add(codes);
            }
        }
        usage
    }

    /// The first `n` test images and their reconstructions, `(originals, reconstructions)`,
    /// `n·H·W` values each in `[0, 1]`.
    pub fn reconstructions(&self, model: &M, n: usize, device: &Device) -> (Vec<f32>, Vec<f32>) {
        let n = n.min(self.test.len());
        let idx: Vec<usize> = (0..n).collect();
        let mut unused = HostRng::seed_from_u64(0);
        let orig = images_host(&self.test, &idx, Binarization::None, &mut unused);
        let mut recon = Vec::with_capacity(orig.len());
        for chunk in idx.chunks(EVAL_BATCH) {
            let f = model.vq_forward(self.test_images(chunk, device));
            recon.extend(
                f.reconstruction
                    .clamp(0.0, 1.0)
                    .into_data()
                    .try_to_vec::<f32>()
                    .expect("f32 images"),
            );
        }
        (orig, recon)
    }

    /// Originals (odd rows) above their reconstructions (even rows), `nrow` per row, as
    /// samples for an image grid.
    pub fn comparison(&self, model: &M, n: usize, nrow: usize, device: &Device) -> ImageSamples {
        let (orig, recon) = self.reconstructions(model, n, device);
        let d = self.test.pixels();
        let n = orig.len() / d;
        let nrow = nrow.max(1);
        let rows = n.div_ceil(nrow);
        let mut data = vec![0f32; 2 * rows * nrow * d];
        for i in 0..n {
            let (r, c) = (i / nrow, i % nrow);
            let top = (2 * r * nrow + c) * d;
            let bottom = ((2 * r + 1) * nrow + c) * d;
            data[top..top + d].copy_from_slice(&orig[i * d..(i + 1) * d]);
            data[bottom..bottom + d].copy_from_slice(&recon[i * d..(i + 1) * d]);
        }
        ImageSamples {
            data,
            shape: [2 * rows * nrow, 1, self.test.rows, self.test.cols],
            nrow,
            labels: None,
        }
    }

    fn batch_indices(&mut self, epoch: usize, index: usize) -> Vec<usize> {
        if self.epoch.as_ref().map(|(e, _)| *e) != Some(epoch) {
            self.epoch = Some((epoch, self.plan.epoch(epoch as u64)));
        }
        self.epoch.as_ref().expect("just set").1[index].clone()
    }
}

impl<M: VqModel> Task for VqTask<M> {
    type Model = M;
    type Batch = VqBatch;

    fn num_train_batches(&self) -> usize {
        self.plan.batches_per_epoch()
    }

    fn train_batch(
        &mut self,
        epoch: usize,
        index: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> VqBatch {
        let idx = self.batch_indices(epoch, index);
        VqBatch {
            images: images_tensor_4d(&self.train, &idx, Binarization::None, rng, device),
        }
    }

    fn batch_len(&self, batch: &VqBatch) -> usize {
        batch.images.dims()[0]
    }

    fn loss(&self, model: &M, batch: VqBatch, _ctx: &StepContext) -> StepOutput {
        let f = model.vq_forward(batch.images);
        let loss = f.loss(self.recon_scale);
        let mut out = StepOutput::new(loss).with_metric("recon_mse", f.recon_mse.detach());
        let mut stats = Vec::with_capacity(f.levels.len());
        for (l, (q, name)) in f.levels.iter().zip(model.level_names()).enumerate() {
            let s = BatchStats::of(q, model.quantizer(l).num_codes());
            out = out
                .with_metric(
                    format!("{name}_commitment"),
                    q.commitment_loss.clone().detach(),
                )
                .with_metric(format!("{name}_perplexity"), perplexity(s.counts.clone()));
            stats.push(s);
        }
        *self.stats.borrow_mut() = stats;
        out
    }

    fn before_first_step(&mut self, model: M, batch: &VqBatch) -> Result<M, TrainError> {
        let mut rng = HostRng::derive(self.codebook_seed, u64::MAX);
        Ok(model.kmeans_init(batch.images.clone(), &mut rng))
    }

    fn after_step(&mut self, mut model: M, ctx: &StepContext) -> Result<M, TrainError> {
        let stats = std::mem::take(&mut *self.stats.borrow_mut());
        let mut rng = HostRng::derive(self.codebook_seed, ctx.step);
        for (l, s) in stats.iter().enumerate() {
            let mut reseeded = 0;
            model = model.map_quantizer(l, &mut |q| {
                let (q, r) = q.apply_batch_stats(s, &mut rng);
                reseeded = r;
                q
            });
            self.reseeded += reseeded;
        }
        Ok(model)
    }

    fn evaluate(&mut self, model: &M, device: &Device) -> Result<Vec<(String, f64)>, TrainError> {
        Ok(self.test_metrics(model, device))
    }

    fn sample(
        &mut self,
        model: &M,
        n: usize,
        device: &Device,
    ) -> Result<Option<Samples>, TrainError> {
        if n == 0 {
            return Ok(None);
        }
        let (_, recon) = self.reconstructions(model, n, device);
        Ok(Some(
            ImageSamples::square_grid(recon, [1, self.test.rows, self.test.cols]).into(),
        ))
    }
}
