//! The VAE on binarised MNIST-like images as a [`Task`] for the shared loop.

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_data::{BatchPlan, Binarization, MnistSplit, images_host, images_tensor};
use deepgen_tensor::HostRng;
use deepgen_train::{Samples, StepContext, StepOutput, Task, TrainError};

use crate::vae::Vae;

/// Seed of the fixed binarisation of the test split, so the test ELBO of every epoch (and of
/// every run) is measured on the same bits.
pub const TEST_BINARIZATION_SEED: u64 = 0x7E57;

/// Images per forward pass during evaluation.
const EVAL_BATCH: usize = 1000;

/// Trains a [`Vae`] on a split of images and evaluates the test ELBO.
///
/// - training inputs: `binarization` of the training split (dynamic by default in the example);
/// - test inputs: the test split statically binarised with [`TEST_BINARIZATION_SEED`], one
///   reparameterisation sample per image drawn from a fixed host seed, so epoch-to-epoch
///   changes of `test_elbo` are the model's, not the noise's;
/// - loss weight `"beta"` (default 1) multiplies the KL term (β-VAE / KL annealing).
///
/// Metrics, all in nats per image: `recon` (−log p(x|z)), `kl`, `neg_elbo` (recon + KL, whatever
/// β is); evaluation adds `test_elbo`, `test_loss` (= −test_elbo), `test_recon`, `test_kl`.
pub struct VaeTask {
    train: MnistSplit,
    test: MnistSplit,
    plan: BatchPlan,
    binarization: Binarization,
    epoch: Option<(usize, Vec<Vec<usize>>)>,
    seed: u64,
}

impl VaeTask {
    /// A task over `train`/`test` with mini-batches of `batch_size` (last partial batch dropped).
    ///
    /// # Panics
    /// If `batch_size` is 0 (checked by the example before; the message names the argument).
    pub fn new(
        train: MnistSplit,
        test: MnistSplit,
        batch_size: usize,
        binarization: Binarization,
        seed: u64,
    ) -> Self {
        let plan = BatchPlan::new(train.len(), batch_size, true, seed, true)
            .expect("VaeTask::new: `batch_size` must be at least 1");
        Self {
            train,
            test,
            plan,
            binarization,
            epoch: None,
            seed,
        }
    }

    fn batches(&mut self, epoch: usize) -> &Vec<Vec<usize>> {
        if self.epoch.as_ref().map(|(e, _)| *e) != Some(epoch) {
            self.epoch = Some((epoch, self.plan.epoch(epoch as u64)));
        }
        &self.epoch.as_ref().expect("just set").1
    }

    /// Test ELBO terms averaged over the test split: `(recon, kl)` in nats per image.
    pub fn test_terms(&self, model: &Vae, device: &Device) -> (f64, f64) {
        let n = self.test.len();
        let d = self.test.pixels();
        let bin = Binarization::Static {
            seed: TEST_BINARIZATION_SEED,
        };
        let mut unused = HostRng::seed_from_u64(0);
        let mut noise = HostRng::seed_from_u64(self.seed ^ 0xE7A1);
        let (mut recon, mut kl) = (0.0f64, 0.0f64);
        let idx: Vec<usize> = (0..n).collect();
        for chunk in idx.chunks(EVAL_BATCH) {
            let x = images_host(&self.test, chunk, bin, &mut unused);
            let x = Tensor::<2>::from_data(TensorData::new(x, [chunk.len(), d]), device);
            let eps: Vec<f32> = (0..chunk.len() * model.latent_dim)
                .map(|_| noise.normal() as f32)
                .collect();
            let eps = Tensor::<2>::from_data(
                TensorData::new(eps, [chunk.len(), model.latent_dim]),
                device,
            );
            let terms = model.elbo_terms_with_noise(x, eps);
            recon += terms.recon_nll.sum().into_scalar::<f32>() as f64;
            kl += terms.kl.sum().into_scalar::<f32>() as f64;
        }
        (recon / n as f64, kl / n as f64)
    }
}

/// A training batch: `[B, D]` inputs.
pub struct VaeBatch {
    /// Binarised images, `[B, D]`.
    pub x: Tensor<2>,
}

impl Task for VaeTask {
    type Model = Vae;
    type Batch = VaeBatch;

    fn num_train_batches(&self) -> usize {
        self.plan.batches_per_epoch()
    }

    fn train_batch(
        &mut self,
        epoch: usize,
        index: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> VaeBatch {
        let bin = self.binarization;
        let idx = self.batches(epoch)[index].clone();
        VaeBatch {
            x: images_tensor(&self.train, &idx, bin, rng, device),
        }
    }

    fn batch_len(&self, batch: &VaeBatch) -> usize {
        batch.x.dims()[0]
    }

    fn loss(&self, model: &Vae, batch: VaeBatch, ctx: &StepContext) -> StepOutput {
        let beta = ctx.weight_or("beta", 1.0);
        let terms = model.elbo_terms(batch.x);
        let recon = terms.recon_nll.clone().mean().detach();
        let kl = terms.kl.clone().mean().detach();
        StepOutput::new(terms.loss(beta))
            .with_metric("recon", recon.clone())
            .with_metric("kl", kl.clone())
            .with_metric("neg_elbo", recon + kl)
    }

    fn evaluate(&mut self, model: &Vae, device: &Device) -> Result<Vec<(String, f64)>, TrainError> {
        let (recon, kl) = self.test_terms(model, device);
        Ok(vec![
            ("test_elbo".into(), -(recon + kl)),
            ("test_loss".into(), recon + kl),
            ("test_recon".into(), recon),
            ("test_kl".into(), kl),
        ])
    }

    fn sample(
        &mut self,
        model: &Vae,
        n: usize,
        device: &Device,
    ) -> Result<Option<Samples>, TrainError> {
        if n == 0 {
            return Ok(None);
        }
        let data: Vec<f32> = model
            .sample_means(n, device)
            .into_data()
            .try_to_vec()
            .map_err(|e| {
                TrainError::config("samples", format!("cannot read samples as f32: {e:?}"))
            })?;
        let nrow = (n as f64).sqrt().ceil() as usize;
        Ok(Some(Samples {
            data,
            shape: [n, 1, self.test.rows, self.test.cols],
            nrow,
            labels: None,
        }))
    }
}
