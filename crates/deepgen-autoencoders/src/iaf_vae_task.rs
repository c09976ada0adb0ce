//! The [`IafVae`] on binarised MNIST-like images as a [`Task`] for the shared loop (the same
//! data conventions as [`VaeTask`](crate::vae_task::VaeTask), so the test numbers of the two
//! are comparable).

use burn::tensor::{Device, Tensor, TensorData};
use deepgen_data::{BatchPlan, Binarization, MnistSplit, images_host, images_tensor};
use deepgen_distributions::noise::standard_normal;
use deepgen_tensor::HostRng;
use deepgen_train::{Samples, StepContext, StepOutput, Task, TrainError};

use crate::iaf_vae::IafVae;
use crate::importance::{IwSettings, MeanSe, log_likelihood};
use crate::vae_task::TEST_BINARIZATION_SEED;

/// Images per forward pass during evaluation.
const EVAL_BATCH: usize = 1000;

/// Test-split averages of the single-sample ELBO terms, nats per image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IafTestTerms {
    /// E[−ln p(x|z_T)].
    pub recon: f64,
    /// E[ln q(z_T|x) − ln p(z_T)].
    pub kl: f64,
    /// E[Σ ln|det| of the IAF steps].
    pub flow_ladj: f64,
}

/// Trains an [`IafVae`] on a split of images and evaluates the test ELBO.
///
/// - training inputs: `binarization` of the training split (dynamic in the example);
/// - test inputs: the test split statically binarised with [`TEST_BINARIZATION_SEED`] (grey
///   levels when training on grey levels), one posterior sample per image from a fixed host
///   seed, so epoch-to-epoch changes of `test_elbo` are the model's, not the noise's;
/// - the objective: recon + β·(ln q − ln p) with `"beta"` from the loop's schedules, or the
///   IWAE bound with k samples ([`IafVaeTask::with_iw_samples`]; see
///   [`IafVae::objective_step`]);
/// - reparameterisation noise drawn on the host from a per-batch seed taken from the loop's
///   RNG, so a run is reproducible and `--resume` continues the same stream.
///
/// Metrics, nats per image: those of [`IafVae::objective_step`] (logged as `train_recon`,
/// `train_kl`, `train_flow_ladj`, …); evaluation adds `test_elbo`, `test_loss`
/// (= −test_elbo), `test_recon`, `test_kl`, `test_flow_ladj`, and with
/// [`IafVaeTask::with_eval_nll`] `test_nll`.
pub struct IafVaeTask {
    train: MnistSplit,
    test: MnistSplit,
    plan: BatchPlan,
    binarization: Binarization,
    epoch: Option<(usize, Vec<Vec<usize>>)>,
    seed: u64,
    iw_samples: usize,
    eval_nll: Option<(usize, usize)>,
}

impl IafVaeTask {
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
            .expect("IafVaeTask::new: `batch_size` must be at least 1");
        Self {
            train,
            test,
            plan,
            binarization,
            epoch: None,
            seed,
            iw_samples: 1,
            eval_nll: None,
        }
    }

    /// Train on the IWAE bound with `k` importance samples (1: the ELBO).
    ///
    /// # Panics
    /// If `k` is 0 (checked by the example before).
    pub fn with_iw_samples(mut self, k: usize) -> Self {
        assert!(
            k >= 1,
            "IafVaeTask::with_iw_samples: `k` must be at least 1"
        );
        self.iw_samples = k;
        self
    }

    /// Also evaluate the importance-weighted test NLL with `k` samples on the first `images`
    /// test images every epoch (0 images: off).
    pub fn with_eval_nll(mut self, k: usize, images: usize) -> Self {
        self.eval_nll = (k > 0 && images > 0).then_some((k, images.min(self.test.len())));
        self
    }

    /// How test inputs are made: grey levels if training uses grey levels, otherwise the fixed
    /// binarisation with [`TEST_BINARIZATION_SEED`].
    pub fn test_binarization(&self) -> Binarization {
        match self.binarization {
            Binarization::None => Binarization::None,
            _ => Binarization::Static {
                seed: TEST_BINARIZATION_SEED,
            },
        }
    }

    /// The first `n` test images as model inputs (test binarisation), `[n, D]`.
    pub fn test_inputs(&self, n: usize, device: &Device) -> Tensor<2> {
        let n = n.min(self.test.len());
        let idx: Vec<usize> = (0..n).collect();
        self.inputs(&idx, device)
    }

    fn inputs(&self, idx: &[usize], device: &Device) -> Tensor<2> {
        let x = images_host(
            &self.test,
            idx,
            self.test_binarization(),
            &mut HostRng::seed_from_u64(0),
        );
        Tensor::from_data(TensorData::new(x, [idx.len(), self.test.pixels()]), device)
    }

    /// Importance-weighted test NLL −ln p̂(x) (nats per image, mean ± SE over images) of the
    /// first `images` test images with `settings.k` samples each; seeded, so repeatable.
    pub fn test_nll(
        &self,
        model: &IafVae,
        device: &Device,
        settings: IwSettings,
        images: usize,
    ) -> MeanSe {
        let n = images.min(self.test.len());
        let mut rng = HostRng::seed_from_u64(self.seed ^ 0x1A5E_11DE);
        let rows = (settings.max_rows_times_samples / settings.k).clamp(1, 100);
        let idx: Vec<usize> = (0..n).collect();
        let mut nll = Vec::with_capacity(n);
        for chunk in idx.chunks(rows) {
            let x = self.inputs(chunk, device);
            nll.extend(
                log_likelihood(model, x, settings, &mut rng)
                    .iter()
                    .map(|v| -v),
            );
        }
        MeanSe::of(&nll)
    }

    /// Test ELBO terms averaged over the test split (one seeded sample per image).
    pub fn test_terms(&self, model: &IafVae, device: &Device) -> IafTestTerms {
        let n = self.test.len();
        let mut noise = HostRng::seed_from_u64(self.seed ^ 0xE7A1);
        let (mut recon, mut kl, mut ladj) = (0.0f64, 0.0f64, 0.0f64);
        let idx: Vec<usize> = (0..n).collect();
        for chunk in idx.chunks(EVAL_BATCH) {
            let x = self.inputs(chunk, device);
            let eps = standard_normal(&mut noise, [chunk.len(), model.latent_dim], device);
            let t = model.elbo_terms_with_noise(x, eps);
            recon += sum(t.recon_nll.clone());
            kl += sum(t.kl());
            ladj += sum(t.flow_ladj);
        }
        IafTestTerms {
            recon: recon / n as f64,
            kl: kl / n as f64,
            flow_ladj: ladj / n as f64,
        }
    }

    fn batches(&mut self, epoch: usize) -> &Vec<Vec<usize>> {
        if self.epoch.as_ref().map(|(e, _)| *e) != Some(epoch) {
            self.epoch = Some((epoch, self.plan.epoch(epoch as u64)));
        }
        &self.epoch.as_ref().expect("just set").1
    }
}

/// A training batch: `[B, D]` inputs and the seed of its reparameterisation noise.
pub struct IafVaeBatch {
    /// Model inputs in [0, 1], `[B, D]`.
    pub x: Tensor<2>,
    /// Seed of the host RNG that draws ε (`[B·k, L]`).
    pub noise_seed: u64,
}

fn sum(t: Tensor<1>) -> f64 {
    t.sum().into_scalar::<f32>() as f64
}

impl Task for IafVaeTask {
    type Model = IafVae;
    type Batch = IafVaeBatch;

    fn num_train_batches(&self) -> usize {
        self.plan.batches_per_epoch()
    }

    fn train_batch(
        &mut self,
        epoch: usize,
        index: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> IafVaeBatch {
        let bin = self.binarization;
        let idx = self.batches(epoch)[index].clone();
        IafVaeBatch {
            x: images_tensor(&self.train, &idx, bin, rng, device),
            noise_seed: rng.next_u64(),
        }
    }

    fn batch_len(&self, batch: &IafVaeBatch) -> usize {
        batch.x.dims()[0]
    }

    fn loss(&self, model: &IafVae, batch: IafVaeBatch, ctx: &StepContext) -> StepOutput {
        let [b, _] = batch.x.dims();
        let k = self.iw_samples;
        let mut rng = HostRng::seed_from_u64(batch.noise_seed);
        let eps = standard_normal(&mut rng, [b * k, model.latent_dim], &batch.x.device());
        model.objective_step(batch.x, eps, k, ctx.weight_or("beta", 1.0))
    }

    fn evaluate(
        &mut self,
        model: &IafVae,
        device: &Device,
    ) -> Result<Vec<(String, f64)>, TrainError> {
        let t = self.test_terms(model, device);
        let mut out = vec![
            ("test_elbo".into(), -(t.recon + t.kl)),
            ("test_loss".into(), t.recon + t.kl),
            ("test_recon".into(), t.recon),
            ("test_kl".into(), t.kl),
            ("test_flow_ladj".into(), t.flow_ladj),
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
        model: &IafVae,
        n: usize,
        device: &Device,
    ) -> Result<Option<Samples>, TrainError> {
        if n == 0 {
            return Ok(None);
        }
        let data: Vec<f32> = model
            .sample_means(
                n,
                device,
                &mut HostRng::seed_from_u64(self.seed ^ 0x05A3_B1E5),
            )
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
