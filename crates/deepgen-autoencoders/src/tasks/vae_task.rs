//! Variational autoencoders on MNIST-like images as a [`Task`] for the shared loop.
//!
//! [`VaeTask`] is generic over the model through [`VariationalModel`] (what a VAE variant
//! provides: a training step, ELBO parts for evaluation, prior samples, importance weights), so
//! the Gaussian VAE, the vMF-VAE and others share batching, evaluation and sampling.

use std::marker::PhantomData;

use burn::tensor::{Device, Tensor};
use deepgen_data::{Binarization, MnistSplit};
use deepgen_tensor::config::Validate;
use deepgen_tensor::{HostRng, Stream};
use deepgen_train::{ImageSamples, Samples, StepContext, StepOutput, Task, TrainError};

use crate::models::vae::Vae;
pub use crate::models::variational::VariationalModel;
use crate::objective::VaeObjective;
use crate::objective::importance::{IwSettings, MeanSe, log_likelihood};
use crate::tasks::feed::ImageFeed;
pub use crate::tasks::feed::TEST_BINARIZATION_SEED;

/// Images per forward pass during evaluation.
const EVAL_BATCH: usize = 1000;

/// Trains a [`VariationalModel`] (by default the Gaussian [`Vae`]) on a split of images and
/// evaluates the test ELBO.
///
/// - training inputs: `binarization` of the training split (dynamic by default in the example);
/// - test inputs: the test split statically binarised with [`TEST_BINARIZATION_SEED`], one
///   reparameterisation sample per image drawn from a fixed host seed, so epoch-to-epoch
///   changes of `test_elbo` are the model's, not the noise's;
///   (grey-level training, `Binarization::None`, evaluates on grey levels);
/// - the objective ([`VaeObjective`]: β / free bits / capacity, or IWAE with k samples) with
///   its weights `"beta"` and `"capacity"` from the loop's schedules;
/// - reparameterisation noise drawn on the host from the loop's RNG (a per-batch seed), so a
///   run is reproducible and `--resume` continues the same stream.
///
/// Metrics, all in nats per image: those of [`Vae::objective_step`](crate::models::vae::Vae::objective_step) (or the model's own step); evaluation adds
/// `test_elbo`, `test_loss` (= −test_elbo), `test_recon`, `test_kl`, and with
/// [`VaeTask::with_eval_nll`] `test_nll` (importance-weighted, k samples, first n images).
pub struct VaeTask<M = Vae> {
    model: PhantomData<fn() -> M>,
    feed: ImageFeed,
    seed: u64,
    objective: VaeObjective,
    eval_nll: Option<(usize, usize)>,
}

impl<M: VariationalModel> VaeTask<M> {
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
        let feed = ImageFeed::new(train, test, batch_size, binarization, seed)
            .expect("VaeTask::new: `batch_size` must be at least 1");
        Self {
            feed,
            model: PhantomData,
            seed,
            objective: VaeObjective::default(),
            eval_nll: None,
        }
    }

    /// Sets the training objective.
    ///
    /// # Panics
    /// If the objective is invalid (checked by the example before; see [`VaeObjective::validate`]).
    pub fn with_objective(mut self, objective: VaeObjective) -> Self {
        if let Err(e) = objective.validate() {
            panic!("VaeTask::with_objective: {e}");
        }
        self.objective = objective;
        self
    }

    /// Also evaluate the importance-weighted test NLL with `k` samples on the first `images`
    /// test images every epoch (0 images: off).
    pub fn with_eval_nll(mut self, k: usize, images: usize) -> Self {
        self.eval_nll = (k > 0 && images > 0).then_some((k, images.min(self.feed.test.len())));
        self
    }

    /// How test inputs are made (see [`ImageFeed::test_binarization`]).
    pub fn test_binarization(&self) -> Binarization {
        self.feed.test_binarization()
    }

    /// The first `n` test images as model inputs (test binarisation), `[n, D]`.
    pub fn test_inputs(&self, n: usize, device: &Device) -> Tensor<2> {
        self.feed.test_inputs(n, device)
    }

    /// Importance-weighted test NLL −ln p̂(x) (nats per image, mean ± SE over images) of the
    /// first `images` test images with `settings.k` samples each; seeded, so repeatable.
    pub fn test_nll(
        &self,
        model: &M,
        device: &Device,
        settings: IwSettings,
        images: usize,
    ) -> MeanSe {
        let mut rng = HostRng::stream(self.seed, Stream::NllNoise);
        let rows = (settings.max_rows_times_samples / settings.k).clamp(1, 100);
        let mut nll = Vec::with_capacity(images);
        for (_, x) in self.feed.test_chunks(images, rows, device) {
            nll.extend(
                log_likelihood(model, x, settings, &mut rng)
                    .iter()
                    .map(|v| -v),
            );
        }
        MeanSe::of(&nll)
    }

    /// Test ELBO terms averaged over the test split: `(recon, kl)` in nats per image.
    pub fn test_terms(&self, model: &M, device: &Device) -> (f64, f64) {
        let n = self.feed.test.len();
        let mut noise = HostRng::stream(self.seed, Stream::EvalNoise);
        let (mut recon, mut kl) = (0.0f64, 0.0f64);
        for (_, x) in self.feed.test_chunks(n, EVAL_BATCH, device) {
            let (r, k) = model.elbo_parts(x, &mut noise);
            recon += r.sum().into_scalar::<f32>() as f64;
            kl += k.sum().into_scalar::<f32>() as f64;
        }
        (recon / n as f64, kl / n as f64)
    }
}

/// A training batch: `[B, D]` inputs and the seed of its reparameterisation noise.
pub struct VaeBatch {
    /// Model inputs in [0, 1], `[B, D]`.
    pub x: Tensor<2>,
    /// Seed of the host RNG that draws ε (`[B·k, L]`).
    pub noise_seed: u64,
}

impl<M: VariationalModel> Task for VaeTask<M> {
    type Model = M;
    type Batch = VaeBatch;

    fn num_train_batches(&self) -> usize {
        self.feed.batches_per_epoch()
    }

    fn train_batch(
        &mut self,
        epoch: usize,
        index: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> VaeBatch {
        let (_, x) = self.feed.train_inputs(epoch, index, rng, device);
        VaeBatch {
            x,
            noise_seed: rng.next_u64(),
        }
    }

    fn batch_len(&self, batch: &VaeBatch) -> usize {
        batch.x.dims()[0]
    }

    fn loss(&self, model: &M, batch: VaeBatch, ctx: &StepContext) -> StepOutput {
        let mut rng = HostRng::seed_from_u64(batch.noise_seed);
        model.train_step(&self.objective, batch.x, &mut rng, ctx)
    }

    fn evaluate(&mut self, model: &M, device: &Device) -> Result<Vec<(String, f64)>, TrainError> {
        let (recon, kl) = self.test_terms(model, device);
        let mut out = vec![
            ("test_elbo".into(), -(recon + kl)),
            ("test_loss".into(), recon + kl),
            ("test_recon".into(), recon),
            ("test_kl".into(), kl),
        ];
        if let Some((k, images)) = self.eval_nll {
            let settings = IwSettings {
                k,
                ..IwSettings::default()
            };
            out.push((
                "test_nll".into(),
                self.test_nll(model, device, settings, images).mean,
            ));
        }
        Ok(out)
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
        let means = model.sample_means(n, device, &mut HostRng::stream(self.seed, Stream::Samples));
        let shape = [1, self.feed.test.rows, self.feed.test.cols];
        Ok(Some(ImageSamples::from_tensor(means, shape)?.into()))
    }
}
