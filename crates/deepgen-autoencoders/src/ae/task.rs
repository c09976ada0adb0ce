//! A deterministic autoencoder on MNIST-like grey-level images as a [`Task`] for the shared loop.

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_data::{BatchPlan, Binarization, MnistSplit, images_host};
use deepgen_tensor::HostRng;
use deepgen_train::{ImageSamples, Samples, StepContext, StepOutput, Task, TrainError};

use super::contractive::contractive_penalty;
use super::error::AeError;
use super::kind::AeKind;
use super::ksparse::k_at;
use super::model::{Autoencoder, CodeActivation};
use super::sparse::sparsity_kl_host;
use super::terms::{AeTerms, ae_terms};

/// Images per forward pass during evaluation.
const EVAL_BATCH: usize = 1000;

/// Seed of the corruption of the test images for `test_denoise_*`, the same in every epoch and
/// every run, so denoising results are comparable.
pub const TEST_CORRUPTION_SEED: u64 = 0xDE_7015E;

/// Name of the loss-weight schedule of the `sparse` penalty (default [`DEFAULT_SPARSITY_WEIGHT`]).
pub const SPARSITY_WEIGHT: &str = "sparsity";
/// Name of the loss-weight schedule of the `contractive` penalty (default
/// [`DEFAULT_CONTRACTION_WEIGHT`]).
pub const CONTRACTION_WEIGHT: &str = "contraction";
/// Name of the schedule of the number of kept units of `k-sparse` (default: the kind's `k`).
pub const K_SCHEDULE: &str = "k";
/// Weight of the sparsity penalty when no `"sparsity"` schedule is registered (β = 3 of Ng's
/// CS294A notes; with ρ = 0.05 it brings the mean activation of a 256-unit code to ≈ 0.07 in
/// 10 MNIST epochs).
pub const DEFAULT_SPARSITY_WEIGHT: f64 = 3.0;
/// Weight of the contractive penalty when no `"contraction"` schedule is registered.
pub const DEFAULT_CONTRACTION_WEIGHT: f64 = 1.0;

/// Trains an [`Autoencoder`] of one [`AeKind`] on grey-level images (`x/255` ∈ [0, 1]).
///
/// - **training inputs**: the training split in a seeded order; the denoising kinds corrupt the
///   input with noise from the loop's per-epoch [`HostRng`] (so `--resume` replays it), the
///   target is always the clean image;
/// - **loss** (nats per image): mean Bernoulli cross-entropy of the clean image, plus
///   `w_sparsity`·Σ_j KL(ρ‖ρ̂_j) (`sparse`) or `w_contraction`·mean ‖J‖²_F (`contractive`), the
///   weights from the schedules [`SPARSITY_WEIGHT`] and [`CONTRACTION_WEIGHT`]; `k-sparse` keeps
///   round([`K_SCHEDULE`]) units (default the kind's `k`, e.g. annealed from dense as in
///   Makhzani & Frey 2013);
/// - **training metrics** (logged as `train_<name>` per epoch; `train_loss` is the total):
///   `recon` (cross-entropy, nats/image), `mse` (per pixel), `sparsity_kl` (nats, per batch)
///   and `mean_activation` (mean ρ̂), `contraction` (‖J‖²_F per image), `k` (units kept);
/// - **evaluation** on the clean test split (whatever the kind; `k-sparse` with its final `k`):
///   `test_recon` (nats/image), `test_mse` (per pixel), `test_loss` (= `test_recon`, the
///   number the kinds are compared by), `test_sparsity_kl` (`sparse`: ρ̂ over the whole test
///   split), `test_mean_activation` (every model with a sigmoid code), `test_contraction`
///   (‖J‖²_F of the first layer, every model whose first encoder layer is sigmoid); the
///   denoising kinds add `test_denoise_recon` and `test_denoise_mse`: the clean test images
///   reconstructed from inputs corrupted with [`TEST_CORRUPTION_SEED`];
/// - **samples**: autoencoders have no prior to sample from, so `samples.png` / `samples.npy`
///   hold the **reconstructions σ(ℓ) of the first N test images** (clean inputs), `[N, C, H, W]`
///   in [0, 1]; [`comparison`](Self::comparison) lays originals and reconstructions side by side.
pub struct AeTask {
    train: MnistSplit,
    test: MnistSplit,
    plan: BatchPlan,
    kind: AeKind,
    epoch: Option<(usize, Vec<Vec<usize>>)>,
}

/// A training batch.
pub struct AeBatch {
    /// The model input, `[B, D]`: the corrupted images for the denoising kinds, else the images.
    pub input: Tensor<2>,
    /// The clean images, `[B, D]`.
    pub target: Tensor<2>,
}

impl AeTask {
    /// A task over `train`/`test` with mini-batches of `batch_size` (last partial batch
    /// dropped), batch order seeded by `seed`.
    ///
    /// # Errors
    /// [`AeError::Task`] for `batch_size == 0` or an empty split, [`AeError::Param`] for an
    /// invalid kind.
    pub fn new(
        train: MnistSplit,
        test: MnistSplit,
        batch_size: usize,
        kind: AeKind,
        seed: u64,
    ) -> Result<Self, AeError> {
        kind.validate()?;
        let plan = BatchPlan::new(train.len(), batch_size, true, seed, true).map_err(|_| {
            AeError::Task {
                name: "batch_size",
                reason: "must be at least 1".into(),
            }
        })?;
        if plan.batches_per_epoch() == 0 {
            return Err(AeError::Task {
                name: "batch_size",
                reason: format!(
                    "is {batch_size} but the training split has only {} images",
                    train.len()
                ),
            });
        }
        if test.is_empty() {
            return Err(AeError::Task {
                name: "test",
                reason: "is empty".into(),
            });
        }
        Ok(Self {
            train,
            test,
            plan,
            kind,
            epoch: None,
        })
    }

    /// The kind being trained.
    pub fn kind(&self) -> AeKind {
        self.kind
    }

    /// Image shape `[C, H, W]` = `[1, rows, cols]`.
    pub fn image_shape(&self) -> [usize; 3] {
        [1, self.test.rows, self.test.cols]
    }

    /// Checks that `model` fits the data and the kind (call before training: the loss cannot
    /// return an error).
    ///
    /// # Errors
    /// [`AeError::Mismatch`] if the model's input size is not the images', [`AeError::Model`]
    /// for `contractive` without a sigmoid first layer or `sparse` without a sigmoid code.
    pub fn check_model(&self, model: &Autoencoder) -> Result<(), AeError> {
        let d = self.test.pixels();
        for (what, got) in [
            ("model input vs image pixels", model.input_dim()),
            ("model output vs image pixels", model.output_dim()),
        ] {
            if got != d {
                return Err(AeError::Mismatch {
                    what,
                    left: got,
                    right: d,
                });
            }
        }
        if self.kind == AeKind::Contractive {
            model.first_sigmoid_layer()?;
        }
        if matches!(self.kind, AeKind::Sparse { .. })
            && model.code_activation != CodeActivation::Sigmoid
        {
            return Err(AeError::Model {
                kind: self.kind.name(),
                reason: format!(
                    "the KL sparsity penalty needs mean activations in (0, 1), but the code \
                     activation is {}; use CodeActivation::Sigmoid",
                    model.code_activation.name()
                ),
            });
        }
        Ok(())
    }

    fn batches(&mut self, epoch: usize) -> &Vec<Vec<usize>> {
        if self.epoch.as_ref().map(|(e, _)| *e) != Some(epoch) {
            self.epoch = Some((epoch, self.plan.epoch(epoch as u64)));
        }
        &self.epoch.as_ref().expect("just set").1
    }

    fn k_final(&self) -> usize {
        match self.kind {
            AeKind::KSparse { k } => k,
            _ => usize::MAX,
        }
    }

    fn terms(&self, model: &Autoencoder, input: Tensor<2>, target: Tensor<2>, k: usize) -> AeTerms {
        ae_terms(model, &self.kind, input, target, k)
            .unwrap_or_else(|e| panic!("{e} (call AeTask::check_model before training)"))
    }

    /// The test metrics described in the [type docs](Self), averaged over the test split.
    ///
    /// # Errors
    /// [`AeError::Model`] if the model does not fit the kind.
    pub fn test_metrics(
        &self,
        model: &Autoencoder,
        device: &Device,
    ) -> Result<Vec<(String, f64)>, AeError> {
        self.check_model(model)?;
        let n = self.test.len();
        let d = self.test.pixels();
        let k = self.k_final();
        let mut unused = HostRng::seed_from_u64(0);
        let mut noise = HostRng::seed_from_u64(TEST_CORRUPTION_SEED);
        let (mut recon, mut mse, mut contraction) = (0.0f64, 0.0f64, 0.0f64);
        let (mut d_recon, mut d_mse) = (0.0f64, 0.0f64);
        let mut code_sums: Vec<f64> = Vec::new();
        // Every kind whose model has a sigmoid first layer / code reports ‖J‖²_F and the mean
        // activation, so the regularisers can be compared.
        let has_jacobian = model.first_sigmoid_layer().is_ok();
        let sigmoid_code = model.code_activation == CodeActivation::Sigmoid;
        let idx: Vec<usize> = (0..n).collect();
        for chunk in idx.chunks(EVAL_BATCH) {
            let b = chunk.len();
            let host = images_host(&self.test, chunk, Binarization::None, &mut unused);
            let x = Tensor::<2>::from_data(TensorData::new(host.clone(), [b, d]), device);
            let t = self.terms(model, x.clone(), x.clone(), k);
            recon += sum_host(t.recon);
            mse += sum_host(t.mse);
            if has_jacobian {
                let (h1, w) = model.sigmoid_first_layer(x.clone())?;
                contraction += sum_host(contractive_penalty(h1, w));
            }
            if sigmoid_code {
                let sums = to_host(t.code.sum_dim(0));
                code_sums.resize(sums.len(), 0.0);
                for (a, s) in code_sums.iter_mut().zip(sums) {
                    *a += s;
                }
            }
            if let Some(c) = self.kind.corruption() {
                let xn = c.corrupted(&host, &mut noise);
                let xn = Tensor::<2>::from_data(TensorData::new(xn, [b, d]), device);
                let t = self.terms(model, xn, x, k);
                d_recon += sum_host(t.recon);
                d_mse += sum_host(t.mse);
            }
        }
        let nf = n as f64;
        let mut out = vec![
            ("test_recon".to_string(), recon / nf),
            ("test_mse".to_string(), mse / nf),
            ("test_loss".to_string(), recon / nf),
        ];
        if sigmoid_code {
            let rho_hat: Vec<f64> = code_sums.iter().map(|s| s / nf).collect();
            if let AeKind::Sparse { rho } = self.kind {
                out.push(("test_sparsity_kl".into(), sparsity_kl_host(&rho_hat, rho)));
            }
            out.push((
                "test_mean_activation".into(),
                rho_hat.iter().sum::<f64>() / rho_hat.len().max(1) as f64,
            ));
        }
        if has_jacobian {
            out.push(("test_contraction".into(), contraction / nf));
        }
        if self.kind.corruption().is_some() {
            out.push(("test_denoise_recon".into(), d_recon / nf));
            out.push(("test_denoise_mse".into(), d_mse / nf));
        }
        Ok(out)
    }

    /// The first `n` test images, `n·D` values in [0, 1] (`n` is capped at the split size).
    pub fn test_images(&self, n: usize) -> Vec<f32> {
        let idx: Vec<usize> = (0..n.min(self.test.len())).collect();
        images_host(
            &self.test,
            &idx,
            Binarization::None,
            &mut HostRng::seed_from_u64(0),
        )
    }

    /// Reconstructions σ(ℓ) of the first `n` clean test images (`k-sparse` with its final k),
    /// `n·D` values in [0, 1].
    ///
    /// # Errors
    /// [`AeError::Model`] if the model does not fit the kind.
    pub fn reconstructions(
        &self,
        model: &Autoencoder,
        n: usize,
        device: &Device,
    ) -> Result<Vec<f32>, AeError> {
        self.check_model(model)?;
        let d = self.test.pixels();
        let host = self.test_images(n);
        let n = host.len() / d;
        let mut out = Vec::with_capacity(n * d);
        for chunk in host.chunks(EVAL_BATCH * d) {
            let b = chunk.len() / d;
            let x = Tensor::<2>::from_data(TensorData::new(chunk.to_vec(), [b, d]), device);
            let logits = model.decode(self.terms(model, x.clone(), x, self.k_final()).code);
            out.extend(
                burn::tensor::activation::sigmoid(logits)
                    .into_data()
                    .try_to_vec::<f32>()
                    .map_err(|e| AeError::Task {
                        name: "reconstructions",
                        reason: format!("cannot read the reconstructions as f32: {e:?}"),
                    })?,
            );
        }
        Ok(out)
    }

    /// Originals and reconstructions of the first `n` test images side by side: row pairs of
    /// `nrow` originals followed by their `nrow` reconstructions, as [`Samples`] of `2·n`
    /// images for [`save_image_grid`](deepgen_tensor::output::save_image_grid) (missing
    /// images of a last partial row are left black).
    ///
    /// # Errors
    /// As [`reconstructions`](Self::reconstructions).
    pub fn comparison(
        &self,
        model: &Autoencoder,
        n: usize,
        nrow: usize,
        device: &Device,
    ) -> Result<ImageSamples, AeError> {
        let d = self.test.pixels();
        let nrow = nrow.max(1);
        let orig = self.test_images(n);
        let n = orig.len() / d;
        let recon = self.reconstructions(model, n, device)?;
        let rows = n.div_ceil(nrow);
        let mut data = vec![0f32; 2 * rows * nrow * d];
        for i in 0..n {
            let (r, c) = (i / nrow, i % nrow);
            let top = (2 * r * nrow + c) * d;
            let bottom = ((2 * r + 1) * nrow + c) * d;
            data[top..top + d].copy_from_slice(&orig[i * d..(i + 1) * d]);
            data[bottom..bottom + d].copy_from_slice(&recon[i * d..(i + 1) * d]);
        }
        let [c, h, w] = self.image_shape();
        Ok(ImageSamples {
            data,
            shape: [2 * rows * nrow, c, h, w],
            nrow,
            labels: None,
        })
    }
}

fn to_host<const D: usize>(t: Tensor<D>) -> Vec<f64> {
    t.into_data()
        .try_to_vec::<f32>()
        .expect("f32 tensor")
        .into_iter()
        .map(f64::from)
        .collect()
}

fn sum_host(t: Tensor<1>) -> f64 {
    to_host(t).into_iter().sum()
}

fn scalar(v: f64, device: &Device) -> Tensor<1> {
    Tensor::from_data(TensorData::new(vec![v as f32], [1]), device)
}

impl Task for AeTask {
    type Model = Autoencoder;
    type Batch = AeBatch;

    fn num_train_batches(&self) -> usize {
        self.plan.batches_per_epoch()
    }

    fn train_batch(
        &mut self,
        epoch: usize,
        index: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> AeBatch {
        let idx = self.batches(epoch)[index].clone();
        let d = self.train.pixels();
        let clean = images_host(&self.train, &idx, Binarization::None, rng);
        let input = self
            .kind
            .corruption()
            .map(|c| c.corrupted(&clean, rng))
            .map(|x| Tensor::<2>::from_data(TensorData::new(x, [idx.len(), d]), device));
        let target = Tensor::<2>::from_data(TensorData::new(clean, [idx.len(), d]), device);
        AeBatch {
            input: input.unwrap_or_else(|| target.clone()),
            target,
        }
    }

    fn batch_len(&self, batch: &AeBatch) -> usize {
        batch.target.dims()[0]
    }

    fn loss(&self, model: &Autoencoder, batch: AeBatch, ctx: &StepContext) -> StepOutput {
        let k = match self.kind {
            AeKind::KSparse { k } => k_at(ctx.weight_or(K_SCHEDULE, k as f64), usize::MAX),
            _ => usize::MAX,
        };
        let device = batch.target.device();
        let t = self.terms(model, batch.input, batch.target, k);
        let loss = t.loss(
            ctx.weight_or(SPARSITY_WEIGHT, DEFAULT_SPARSITY_WEIGHT),
            ctx.weight_or(CONTRACTION_WEIGHT, DEFAULT_CONTRACTION_WEIGHT),
        );
        let mut out = StepOutput::new(loss)
            .with_metric("recon", t.recon.mean().detach())
            .with_metric("mse", t.mse.mean().detach());
        if let Some(s) = t.sparsity_kl {
            out = out
                .with_metric("sparsity_kl", s.detach())
                .with_metric("mean_activation", t.code.clone().mean().detach());
        }
        if let Some(c) = t.contraction {
            out = out.with_metric("contraction", c.mean().detach());
        }
        if let AeKind::KSparse { .. } = self.kind {
            let m = t.code.dims()[1];
            out = out.with_metric("k", scalar(k.min(m) as f64, &device));
        }
        out
    }

    fn evaluate(
        &mut self,
        model: &Autoencoder,
        device: &Device,
    ) -> Result<Vec<(String, f64)>, TrainError> {
        self.test_metrics(model, device)
            .map_err(|e| TrainError::config("model", e.to_string()))
    }

    fn sample(
        &mut self,
        model: &Autoencoder,
        n: usize,
        device: &Device,
    ) -> Result<Option<Samples>, TrainError> {
        if n == 0 {
            return Ok(None);
        }
        let data = self
            .reconstructions(model, n, device)
            .map_err(|e| TrainError::config("model", e.to_string()))?;
        Ok(Some(
            ImageSamples::square_grid(data, self.image_shape()).into(),
        ))
    }
}
