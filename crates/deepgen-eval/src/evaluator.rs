//! [`MnistEvaluator`]: the trained classifier plus the MNIST test set's
//! feature statistics, ready to score generated samples.

use std::path::{Path, PathBuf};

use burn::tensor::Device;
use deepgen_data::Mnist;
use deepgen_tensor::HostRng;

use crate::EvalError;
use crate::checkpoint::{
    EvaluatorCache, ResolvedCheckpoint, checkpoint_fingerprint, load_classifier,
    resolve_checkpoint, save_classifier,
};
use crate::classifier::{IMAGE_PIXELS, MnistClassifier};
use crate::frechet::{GaussianStats, feature_stats, frechet_distance};
use crate::inference::{
    accuracy_on_bytes, agreement, batched_features, batched_predictions, bytes_to_unit, image_count,
};
use crate::train::{ClassifierTrainConfig, train_classifier};

/// Training images behind the Fréchet floor ([`MnistEvaluator::floor`]).
pub const FLOOR_IMAGES: usize = 10_000;
/// Seed of the choice of those training images.
pub const FLOOR_SEED: u64 = 0;

/// Scores MNIST-like samples with the project's own classifier.
///
/// - [`classify`](Self::classify) / [`label_accuracy`](Self::label_accuracy):
///   do class-conditional samples show the digit that was asked for?
/// - [`frechet_to_test`](Self::frechet_to_test): Fréchet distance between the
///   samples and the 10 000 test images in the classifier's 128-d feature space;
/// - [`floor`](Self::floor): the same distance for 10 000 real *training*
///   images — the value a perfect generator would get, up to sampling noise.
///
/// Inference runs in batches of 500 on the device given at load time, which
/// should be a plain (non-autodiff) device.
#[derive(Debug)]
pub struct MnistEvaluator {
    classifier: MnistClassifier,
    device: Device,
    test_stats: GaussianStats,
    floor: f64,
    checkpoint: Option<PathBuf>,
}

impl MnistEvaluator {
    /// Loads MNIST ([`Mnist::load`]`(None)`) and the classifier found by
    /// [`resolve_checkpoint`], then computes the test-set statistics.
    ///
    /// If no checkpoint exists anywhere, a classifier is **trained** with
    /// [`ClassifierTrainConfig::new`] (several minutes on two cores) and saved
    /// to the first writable of the committed path and the user cache, so it
    /// happens once. The floor is read from the JSON cache beside the
    /// checkpoint when it matches, else computed and written there
    /// (write failures are ignored: it is only a cache).
    ///
    /// # Errors
    /// MNIST loading errors ([`EvalError::Data`]), an unreadable or foreign
    /// checkpoint ([`EvalError::Checkpoint`]).
    pub fn load(device: &Device) -> Result<Self, EvalError> {
        let mnist = Mnist::load(None)?;
        match resolve_checkpoint() {
            ResolvedCheckpoint::Found(source) => Self::load_with(&mnist, source.path(), device),
            ResolvedCheckpoint::Missing { save_to } => {
                let (model, _) = train_classifier(&mnist, &ClassifierTrainConfig::new(), device)?;
                for path in &save_to {
                    if save_classifier(&model, path).is_ok() {
                        return Self::load_with(&mnist, path, device);
                    }
                }
                // Nowhere to cache it: evaluate with the in-memory model.
                Self::from_classifier(model, &mnist, device)
            }
        }
    }

    /// Loads the existing classifier checkpoint (`$DEEPGEN_CLASSIFIER` or the committed one, as
    /// [`load`](Self::load) finds it) for `mnist`, **never training one**: what a training
    /// example calls after its run, when minutes of classifier training would be a surprise.
    ///
    /// # Errors
    /// A one-line message: the checkpoint is missing (naming the command that rebuilds it),
    /// or the [`load_with`](Self::load_with) error.
    pub fn load_existing(mnist: &Mnist, device: &Device) -> Result<Self, String> {
        match resolve_checkpoint() {
            ResolvedCheckpoint::Found(source) => {
                Self::load_with(mnist, source.path(), device).map_err(|e| e.to_string())
            }
            ResolvedCheckpoint::Missing { .. } => Err(format!(
                "the deepgen-eval classifier checkpoint is missing (not at {}, nor in the user \
                 cache; a binary copied away from its checkout no longer finds the committed \
                 file): set {}=FILE to a mnist_classifier.bpk, or rebuild it with `cargo run \
                 --release -p deepgen-eval --bin train_classifier`",
                crate::checkpoint::COMMITTED_CHECKPOINT,
                crate::checkpoint::CLASSIFIER_ENV
            )),
        }
    }

    /// Loads the classifier from `checkpoint` (default architecture) and
    /// prepares it on `mnist`, using and refreshing the JSON cache beside it.
    ///
    /// # Errors
    /// [`EvalError::Checkpoint`] for a missing or foreign file, [`EvalError::Io`]
    /// if it cannot be read, [`EvalError::Shape`] if `mnist` is not 28×28.
    pub fn load_with(mnist: &Mnist, checkpoint: &Path, device: &Device) -> Result<Self, EvalError> {
        check_mnist(mnist)?;
        let classifier = load_classifier(checkpoint, device)?;
        let fingerprint = checkpoint_fingerprint(checkpoint)?;
        let floor_images = FLOOR_IMAGES.min(mnist.train.len());
        let test_stats = split_stats(&classifier, &mnist.test.images, device)?;
        let floor =
            match EvaluatorCache::read_matching(checkpoint, &fingerprint, floor_images, FLOOR_SEED)
            {
                Some(cache) => cache.floor,
                None => {
                    let floor = compute_floor(&classifier, mnist, &test_stats, device)?;
                    let test_accuracy = accuracy_on_bytes(
                        &classifier,
                        &mnist.test.images,
                        &mnist.test.labels,
                        device,
                    )?;
                    let cache = EvaluatorCache {
                        checkpoint_fnv1a: fingerprint,
                        floor,
                        floor_images,
                        floor_seed: FLOOR_SEED,
                        test_accuracy,
                    };
                    let _ = cache.write(checkpoint);
                    floor
                }
            };
        Ok(Self {
            classifier,
            device: device.clone(),
            test_stats,
            floor,
            checkpoint: Some(checkpoint.to_path_buf()),
        })
    }

    /// Wraps an in-memory classifier (no checkpoint, no cache): computes the
    /// test statistics and the floor on `mnist`.
    ///
    /// # Errors
    /// [`EvalError::Shape`] if `mnist` is not 28×28 or has fewer than 2 images per split.
    pub fn from_classifier(
        classifier: MnistClassifier,
        mnist: &Mnist,
        device: &Device,
    ) -> Result<Self, EvalError> {
        check_mnist(mnist)?;
        let test_stats = split_stats(&classifier, &mnist.test.images, device)?;
        let floor = compute_floor(&classifier, mnist, &test_stats, device)?;
        Ok(Self {
            classifier,
            device: device.clone(),
            test_stats,
            floor,
            checkpoint: None,
        })
    }

    /// The predicted digit of each image.
    ///
    /// `images`: `N × 784` pixels in `[0, 1]`, image-major, row-major.
    ///
    /// # Errors
    /// [`EvalError::Shape`] if the length is not a positive multiple of 784,
    /// [`EvalError::NonFinite`] for NaN/infinite pixels.
    pub fn classify(&self, images: &[f32]) -> Result<Vec<u8>, EvalError> {
        batched_predictions(&self.classifier, images, &self.device)
    }

    /// Fraction of images classified as the label they were generated for.
    ///
    /// # Errors
    /// As [`classify`](Self::classify), and [`EvalError::Shape`] if
    /// `requested_labels.len()` differs from the number of images.
    pub fn label_accuracy(
        &self,
        images: &[f32],
        requested_labels: &[u8],
    ) -> Result<f64, EvalError> {
        let n = image_count(images, "label_accuracy: `images`")?;
        if requested_labels.len() != n {
            return Err(EvalError::Shape {
                what: "label_accuracy: `requested_labels`",
                expected: format!("one label per image ({n})"),
                got: format!("{} labels", requested_labels.len()),
            });
        }
        Ok(agreement(&self.classify(images)?, requested_labels))
    }

    /// Predicted-digit histogram, its entropy and the mean confidence of `images` (see
    /// [`LabelStats`](crate::LabelStats)).
    ///
    /// # Errors
    /// [`EvalError::Shape`] if the length is not a positive multiple of 784.
    pub fn label_stats(&self, images: &[f32]) -> Result<crate::LabelStats, EvalError> {
        crate::label_stats::label_stats(&self.classifier, images, &self.device)
    }

    /// Feature-layer activations, `N × 128` row-major.
    ///
    /// # Errors
    /// As [`classify`](Self::classify).
    pub fn features(&self, images: &[f32]) -> Result<Vec<f32>, EvalError> {
        batched_features(&self.classifier, images, &self.device)
    }

    /// Fréchet distance between the samples' features and the MNIST test
    /// set's, in the classifier's feature space. Compare with
    /// [`floor`](Self::floor).
    ///
    /// Like FID, the estimate is biased upwards for few samples: use the same
    /// number of samples (≥ 5 000, ideally 10 000) for every model you compare.
    ///
    /// # Errors
    /// As [`classify`](Self::classify); [`EvalError::Shape`] for fewer than 2 images.
    pub fn frechet_to_test(&self, images: &[f32]) -> Result<f64, EvalError> {
        let features = self.features(images)?;
        let stats = feature_stats(
            &features,
            images.len() / IMAGE_PIXELS,
            self.classifier.feature_dim(),
        )?;
        frechet_distance(&stats, &self.test_stats)
    }

    /// The Fréchet distance between [`FLOOR_IMAGES`] real training images
    /// (chosen with seed [`FLOOR_SEED`]) and the test set: the best score a
    /// generator can expect with 10 000 samples.
    pub fn floor(&self) -> f64 {
        self.floor
    }

    /// The classifier's accuracy on `mnist.test` (the committed one: ≥ 99 %).
    ///
    /// # Errors
    /// [`EvalError::Shape`] if the test split is not 28×28 images.
    pub fn test_accuracy(&self, mnist: &Mnist) -> Result<f64, EvalError> {
        accuracy_on_bytes(
            &self.classifier,
            &mnist.test.images,
            &mnist.test.labels,
            &self.device,
        )
    }

    /// Mean and covariance of the test set's features.
    pub fn test_stats(&self) -> &GaussianStats {
        &self.test_stats
    }

    /// The classifier.
    pub fn classifier(&self) -> &MnistClassifier {
        &self.classifier
    }

    /// The checkpoint file the classifier was loaded from, if any.
    pub fn checkpoint_path(&self) -> Option<&Path> {
        self.checkpoint.as_deref()
    }
}

/// Both splits must hold at least 2 images of 28×28.
fn check_mnist(mnist: &Mnist) -> Result<(), EvalError> {
    for (split, what) in [
        (&mnist.train, "MnistEvaluator: `mnist.train`"),
        (&mnist.test, "MnistEvaluator: `mnist.test`"),
    ] {
        if split.rows * split.cols != IMAGE_PIXELS || split.len() < 2 {
            return Err(EvalError::Shape {
                what,
                expected: "at least 2 images of 28×28".to_string(),
                got: format!("{} images of {}×{}", split.len(), split.rows, split.cols),
            });
        }
    }
    Ok(())
}

/// Feature statistics of a split given as MNIST bytes, converted chunk by chunk.
fn split_stats(
    model: &MnistClassifier,
    images: &[u8],
    device: &Device,
) -> Result<GaussianStats, EvalError> {
    let chunk = 2_000 * IMAGE_PIXELS;
    let mut features = Vec::new();
    for part in images.chunks(chunk) {
        features.extend(batched_features(model, &bytes_to_unit(part), device)?);
    }
    let n = images.len() / IMAGE_PIXELS;
    feature_stats(&features, n, model.feature_dim())
}

/// FD between [`FLOOR_IMAGES`] seeded-random training images and the test statistics.
fn compute_floor(
    model: &MnistClassifier,
    mnist: &Mnist,
    test_stats: &GaussianStats,
    device: &Device,
) -> Result<f64, EvalError> {
    let train = &mnist.train;
    let mut idx = HostRng::seed_from_u64(FLOOR_SEED).permutation(train.len());
    idx.truncate(FLOOR_IMAGES);
    let mut bytes = Vec::with_capacity(idx.len() * IMAGE_PIXELS);
    for &i in &idx {
        bytes.extend_from_slice(train.image(i));
    }
    let stats = split_stats(model, &bytes, device)?;
    frechet_distance(&stats, test_stats)
}
