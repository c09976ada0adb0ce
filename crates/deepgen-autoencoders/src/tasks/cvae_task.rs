//! The conditional VAE on binarised, labelled MNIST-like images as a [`Task`] for the shared
//! loop.

use burn::tensor::{Device, Int, Tensor};
use deepgen_data::{Binarization, MnistSplit, labels_tensor};
use deepgen_distributions::noise::standard_normal;
use deepgen_tensor::{HostRng, Stream};
use deepgen_train::{ImageSamples, Samples, StepContext, StepOutput, Task, TrainError};

use crate::models::cvae::{ClassCode, Cvae};
use crate::tasks::feed::ImageFeed;

/// Images per forward pass during evaluation.
const EVAL_BATCH: usize = 1000;

/// An external digit classifier for conditional-generation accuracy: images (`N × D` pixels
/// in [0, 1], image-major) → predicted digits. In the example it is deepgen-eval's
/// `MnistEvaluator::classify` (this crate does not depend on deepgen-eval).
pub type DigitJudge = Box<JudgeFn>;

/// The function behind a [`DigitJudge`].
pub type JudgeFn = dyn Fn(&[f32]) -> Result<Vec<u8>, String>;

/// Conditional-generation accuracy: the fraction of generated images the judge assigns to
/// the requested digit, overall and per digit.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionalAccuracy {
    /// Over all generated images (equal count per digit).
    pub overall: f64,
    /// Per requested digit.
    pub per_digit: Vec<f64>,
    /// Images generated per digit.
    pub per_digit_count: usize,
}

impl ConditionalAccuracy {
    /// Compares `predicted` with `requested` (equal lengths; `classes` digits, each requested
    /// equally often).
    ///
    /// # Panics
    /// If the lengths differ or `requested` is empty.
    pub fn of(predicted: &[u8], requested: &[u8], classes: usize) -> Self {
        assert_eq!(
            predicted.len(),
            requested.len(),
            "ConditionalAccuracy::of: one prediction per requested label"
        );
        assert!(!requested.is_empty(), "ConditionalAccuracy::of: no images");
        let mut hit = vec![0usize; classes];
        let mut count = vec![0usize; classes];
        for (&p, &r) in predicted.iter().zip(requested) {
            count[r as usize] += 1;
            hit[r as usize] += usize::from(p == r);
        }
        Self {
            overall: hit.iter().sum::<usize>() as f64 / requested.len() as f64,
            per_digit: hit
                .iter()
                .zip(&count)
                .map(|(&h, &c)| {
                    if c == 0 {
                        f64::NAN
                    } else {
                        h as f64 / c as f64
                    }
                })
                .collect(),
            per_digit_count: count.iter().copied().max().unwrap_or(0),
        }
    }
}

/// Averages over the test split, in nats per image (`accuracy` a fraction).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CvaeTestTerms {
    /// −ln p(x | π, z), one z per image.
    pub recon: f64,
    /// KL(q(z|x) ‖ N(0, I)).
    pub kl: f64,
    /// Cross-entropy of the encoder's classifier.
    pub ce: f64,
    /// Test accuracy of argmax c.
    pub accuracy: f64,
}

/// Trains a [`Cvae`] on a labelled split of images and evaluates it.
///
/// - training inputs: `binarization` of the training split (dynamic in the example) with
///   the true labels;
/// - reparameterisation noise drawn on the host from a per-batch seed of the loop's RNG, so a
///   run is reproducible and `--resume` continues the same stream;
/// - loss weights from the loop's schedules: `"beta"` (KL, default 1) and `"alpha"`
///   (cross-entropy, default 1);
/// - test inputs: the test split statically binarised with [`crate::tasks::feed::TEST_BINARIZATION_SEED`] (grey
///   levels if training uses grey levels), one z per image from a fixed host seed.
///
/// Training metrics (nats per image, logged as `train_<name>`): `recon`, `kl`, `ce`,
/// `neg_elbo` (= recon + kl, with the training class code) and `accuracy` (of argmax c on the
/// batch). Evaluation, always with the one-hot true label as class code (the generative model
/// p(x | y, z) p(z) that generation samples from, whatever the training code):
/// `test_elbo` = −(recon + kl), the ELBO of ln p(x | y); `test_elbo_marginal` = test_elbo −
/// ln K, a bound on ln p(x) = ln Σ_y p(y) p(x | y) with p(y) = 1/K (from p(x) ≥ p(y) p(x | y));
/// `test_loss` (= −test_elbo), `test_recon`, `test_kl`, `test_ce`, `test_accuracy`; with a
/// judge ([`CvaeTask::with_judge`]) `cond_accuracy`, the conditional-generation accuracy of
/// `per_digit` images per digit.
pub struct CvaeTask {
    feed: ImageFeed,
    seed: u64,
    judge: Option<(DigitJudge, usize)>,
}

impl CvaeTask {
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
            .expect("CvaeTask::new: `batch_size` must be at least 1");
        Self {
            feed,
            seed,
            judge: None,
        }
    }

    /// Every epoch, generate `per_digit` images per digit and report the fraction `judge`
    /// classifies as the requested digit (`cond_accuracy`); `per_digit` 0 turns it off.
    pub fn with_judge(mut self, judge: DigitJudge, per_digit: usize) -> Self {
        self.judge = (per_digit > 0).then_some((judge, per_digit));
        self
    }

    /// How test inputs are made (see [`ImageFeed::test_binarization`]).
    pub fn test_binarization(&self) -> Binarization {
        self.feed.test_binarization()
    }

    /// The loss terms averaged over the test split (fixed inputs and noise: repeatable), with
    /// the one-hot true label as class code whatever the training code: `recon + kl` is the
    /// negative ELBO of ln p(x | y) of the model that generation samples from.
    pub fn test_terms(&self, model: &Cvae, device: &Device) -> CvaeTestTerms {
        let n = self.feed.test.len();
        let mut noise = HostRng::stream(self.seed, Stream::EvalNoise);
        let mut sums = [0.0f64; 4];
        for (chunk, x) in self.feed.test_chunks(n, EVAL_BATCH, device) {
            let y = labels_tensor(&self.feed.test, &chunk, device);
            let eps = standard_normal(&mut noise, [chunk.len(), model.latent_dim], device);
            let terms = model.terms_with_code(x, y, eps, ClassCode::Label);
            let parts = [terms.recon_nll, terms.kl, terms.ce, terms.correct];
            for (s, t) in sums.iter_mut().zip(parts) {
                *s += t.sum().into_scalar::<f32>() as f64;
            }
        }
        let n = n as f64;
        CvaeTestTerms {
            recon: sums[0] / n,
            kl: sums[1] / n,
            ce: sums[2] / n,
            accuracy: sums[3] / n,
        }
    }

    /// `per_digit` generated images of each digit, in label order (all 0s, then all 1s, …),
    /// with z ~ N(0, I) from a fixed host seed: pixels (`N × D`, in [0, 1]) and the requested
    /// labels.
    ///
    /// # Errors
    /// If the device data cannot be read as f32.
    pub fn generate_by_digit(
        &self,
        model: &Cvae,
        per_digit: usize,
        device: &Device,
    ) -> Result<(Vec<f32>, Vec<u8>), TrainError> {
        let k = model.num_classes;
        let labels: Vec<usize> = (0..k * per_digit).map(|i| i / per_digit).collect();
        let mut rng = HostRng::stream(self.seed, Stream::Samples);
        let mut data = Vec::with_capacity(labels.len() * self.feed.test.pixels());
        for chunk in labels.chunks(EVAL_BATCH) {
            let images = model.sample_digits(chunk, device, &mut rng);
            data.extend(images.into_data().try_to_vec::<f32>().map_err(|e| {
                TrainError::config("samples", format!("cannot read samples as f32: {e:?}"))
            })?);
        }
        Ok((data, labels.iter().map(|&l| l as u8).collect()))
    }

    /// Conditional-generation accuracy of `per_digit` images per digit under `judge`.
    ///
    /// # Errors
    /// If the samples cannot be read or the judge fails (its message is kept).
    pub fn conditional_accuracy(
        &self,
        model: &Cvae,
        per_digit: usize,
        judge: &JudgeFn,
        device: &Device,
    ) -> Result<ConditionalAccuracy, TrainError> {
        let (images, labels) = self.generate_by_digit(model, per_digit, device)?;
        let predicted = judge(&images).map_err(|e| TrainError::config("judge", e))?;
        if predicted.len() != labels.len() {
            return Err(TrainError::config(
                "judge",
                format!(
                    "returned {} predictions for {} images",
                    predicted.len(),
                    labels.len()
                ),
            ));
        }
        Ok(ConditionalAccuracy::of(
            &predicted,
            &labels,
            model.num_classes,
        ))
    }
}

/// A training batch: inputs, labels and the seed of the reparameterisation noise.
pub struct CvaeBatch {
    /// Model inputs in [0, 1], `[B, D]`.
    pub x: Tensor<2>,
    /// Digit labels, `[B]`.
    pub y: Tensor<1, Int>,
    /// Seed of the host RNG that draws ε (`[B, L]`).
    pub noise_seed: u64,
}

impl Task for CvaeTask {
    type Model = Cvae;
    type Batch = CvaeBatch;

    fn num_train_batches(&self) -> usize {
        self.feed.batches_per_epoch()
    }

    fn train_batch(
        &mut self,
        epoch: usize,
        index: usize,
        rng: &mut HostRng,
        device: &Device,
    ) -> CvaeBatch {
        let (idx, x) = self.feed.train_inputs(epoch, index, rng, device);
        CvaeBatch {
            x,
            y: labels_tensor(&self.feed.train, &idx, device),
            noise_seed: rng.next_u64(),
        }
    }

    fn batch_len(&self, batch: &CvaeBatch) -> usize {
        batch.x.dims()[0]
    }

    fn loss(&self, model: &Cvae, batch: CvaeBatch, ctx: &StepContext) -> StepOutput {
        let beta = ctx.weight_or("beta", 1.0);
        let alpha = ctx.weight_or("alpha", 1.0);
        let mut rng = HostRng::seed_from_u64(batch.noise_seed);
        let terms = model.terms(batch.x, batch.y, &mut rng);
        let recon = terms.recon_nll.clone().mean().detach();
        let kl = terms.kl.clone().mean().detach();
        StepOutput::new(terms.loss(beta, alpha))
            .with_metric("recon", recon.clone())
            .with_metric("kl", kl.clone())
            .with_metric("ce", terms.ce.mean().detach())
            .with_metric("neg_elbo", recon + kl)
            .with_metric("accuracy", terms.correct.mean())
    }

    fn evaluate(
        &mut self,
        model: &Cvae,
        device: &Device,
    ) -> Result<Vec<(String, f64)>, TrainError> {
        let t = self.test_terms(model, device);
        let mut out = vec![
            ("test_elbo".into(), -(t.recon + t.kl)),
            (
                "test_elbo_marginal".into(),
                -(t.recon + t.kl) - (model.num_classes as f64).ln(),
            ),
            ("test_loss".into(), t.recon + t.kl),
            ("test_recon".into(), t.recon),
            ("test_kl".into(), t.kl),
            ("test_ce".into(), t.ce),
            ("test_accuracy".into(), t.accuracy),
        ];
        if let Some((judge, per_digit)) = &self.judge {
            let acc = self.conditional_accuracy(model, *per_digit, judge.as_ref(), device)?;
            out.push(("cond_accuracy".into(), acc.overall));
        }
        Ok(out)
    }

    /// `max(1, n / K)` images per digit in label order; one grid row per digit.
    fn sample(
        &mut self,
        model: &Cvae,
        n: usize,
        device: &Device,
    ) -> Result<Option<Samples>, TrainError> {
        if n == 0 {
            return Ok(None);
        }
        let per_digit = (n / model.num_classes).max(1);
        let (data, labels) = self.generate_by_digit(model, per_digit, device)?;
        Ok(Some(Samples::Images(ImageSamples {
            data,
            shape: [labels.len(), 1, self.feed.test.rows, self.feed.test.cols],
            nrow: per_digit,
            labels: Some(labels.iter().map(|&l| i64::from(l)).collect()),
        })))
    }
}
