//! # deepgen-eval
//!
//! The project's own MNIST evaluator, shared by every model family:
//!
//! 1. **label accuracy** of class-conditional samples
//!    ([`MnistEvaluator::label_accuracy`]): the fraction a trained classifier
//!    assigns to the digit that was asked for;
//! 2. a **Fréchet distance** ([`MnistEvaluator::frechet_to_test`]) between
//!    Gaussians fitted to the classifier's 128-d feature-layer activations of
//!    the samples and of the 10 000 MNIST test images;
//! 3. **label statistics** of unconditional samples ([`MnistEvaluator::label_stats`]):
//!    the predicted-digit histogram, its entropy and the classifier's mean confidence;
//! 4. the classifier's own **test accuracy** ([`MnistEvaluator::test_accuracy`],
//!    ≥ 99 % for the committed checkpoint).
//!
//! How the parts fit: [`classifier`] defines a LeNet-style CNN whose
//! penultimate layer is the feature space; [`train`] fits it (binary
//! `train_classifier`); [`checkpoint`] finds the committed weights
//! (`data/models/mnist_classifier.bpk`, or `$DEEPGEN_CLASSIFIER`) and the JSON
//! cache beside them; [`inference`] runs it in batches; [`frechet`] (with the
//! Jacobi eigensolver in [`eigen`]) turns features into a distance in f64 on
//! the host; [`evaluator`] ties them together.
//!
//! **This is not FID.** The distance lives in this classifier's feature space,
//! not Inception-v3's, so its values are not comparable with FID numbers in
//! papers — only with each other, for the same checkpoint and the same number
//! of samples. Its scale is set by [`MnistEvaluator::floor`], the distance
//! between 10 000 real *training* images and the test set: the score a
//! perfect generator would get. Report sample FDs next to the floor.
//!
//! ```no_run
//! # fn main() -> Result<(), deepgen_eval::EvalError> {
//! let device = burn::tensor::Device::flex();
//! let eval = deepgen_eval::MnistEvaluator::load(&device)?;
//! let samples: Vec<f32> = vec![0.0; 100 * 784]; // from a generator, in [0, 1]
//! println!("FD {:.3} (floor {:.3})", eval.frechet_to_test(&samples)?, eval.floor());
//! # Ok(()) }
//! ```

pub mod checkpoint;
pub mod classifier;
pub mod eigen;
pub mod error;
pub mod evaluator;
pub mod frechet;
pub mod inference;
pub mod label_stats;
pub mod train;

pub use checkpoint::{CLASSIFIER_ENV, COMMITTED_CHECKPOINT, load_classifier, save_classifier};
pub use classifier::{MnistClassifier, MnistClassifierConfig};
pub use error::EvalError;
pub use evaluator::MnistEvaluator;
pub use frechet::{GaussianStats, feature_stats, frechet_distance};
pub use label_stats::LabelStats;
pub use train::{ClassifierTrainConfig, EpochReport, train_classifier, train_classifier_with};
