//! Training the evaluation classifier on MNIST.
//!
//! Adam on cross-entropy, mini-batches drawn in a seeded order
//! ([`HostRng`]), the learning rate multiplied by `lr_decay` after every
//! epoch, optional random translations of up to `max_shift` pixels. The
//! committed checkpoint was produced by the `train_classifier` binary with the
//! defaults below (see the crate README for the measured accuracy and time).

use std::time::Instant;

use burn::config::Config;
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::Device;
use deepgen_data::Mnist;
use deepgen_tensor::config::{positive, positive_finite};
use deepgen_tensor::{ConfigError, HostRng, Validate};

use crate::EvalError;
use crate::classifier::{IMAGE_PIXELS, IMAGE_SIDE, MnistClassifier, MnistClassifierConfig};
use crate::inference::{accuracy_on_bytes, images_tensor, labels_tensor};

/// Configuration of [`train_classifier`].
#[derive(Config, Debug)]
pub struct ClassifierTrainConfig {
    /// The network to train.
    #[config(default = "MnistClassifierConfig::new()")]
    pub model: MnistClassifierConfig,
    /// Passes over the 60 000 training images.
    #[config(default = 3)]
    pub epochs: usize,
    /// Images per optimisation step.
    #[config(default = 64)]
    pub batch_size: usize,
    /// Adam learning rate of the first epoch.
    #[config(default = 1e-3)]
    pub learning_rate: f64,
    /// Factor applied to the learning rate after each epoch.
    #[config(default = 0.5)]
    pub lr_decay: f64,
    /// Largest random translation (pixels, each axis) applied to training
    /// images; `0` disables augmentation.
    #[config(default = 0)]
    pub max_shift: usize,
    /// Seed of the weight initialisation, dropout and the batch order.
    #[config(default = 0)]
    pub seed: u64,
}

impl Validate for ClassifierTrainConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const NAME: &str = "ClassifierTrainConfig";
        positive(NAME, "epochs", self.epochs)?;
        positive(NAME, "batch_size", self.batch_size)?;
        positive_finite(NAME, "learning_rate", self.learning_rate)?;
        let d = self.lr_decay;
        if !(d.is_finite() && d > 0.0 && d <= 1.0) {
            return Err(ConfigError::new(
                NAME,
                "lr_decay",
                format!("must be a factor in (0, 1], e.g. 0.5, got {d}"),
            ));
        }
        if self.max_shift > 4 {
            return Err(ConfigError::new(
                NAME,
                "max_shift",
                format!("shift digits by at most 4 pixels, got {}", self.max_shift),
            ));
        }
        self.model.validate().map_err(|e| e.within(NAME, "model"))
    }
}

/// What one finished epoch reports to the callback of [`train_classifier_with`].
#[derive(Debug, Clone, PartialEq)]
pub struct EpochReport {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training cross-entropy over the epoch (nats).
    pub train_loss: f64,
    /// Accuracy on the MNIST test split after the epoch.
    pub test_accuracy: f64,
    /// Learning rate used during the epoch.
    pub learning_rate: f64,
    /// Wall time of the epoch including the test pass, seconds.
    pub seconds: f64,
}

/// Trains a [`MnistClassifier`] on `mnist.train` and returns it (on the plain
/// `device`, in inference mode) with its accuracy on `mnist.test`.
///
/// `device` is a plain device (e.g. `Device::flex()`); training runs on
/// `device.autodiff()`.
///
/// # Errors
/// [`EvalError::Config`] for an invalid `cfg`, [`EvalError::Shape`] if the
/// splits are not 28×28 images.
pub fn train_classifier(
    mnist: &Mnist,
    cfg: &ClassifierTrainConfig,
    device: &Device,
) -> Result<(MnistClassifier, f64), EvalError> {
    train_classifier_with(mnist, cfg, device, |_| {})
}

/// [`train_classifier`] with a callback run after every epoch (progress output).
///
/// # Errors
/// As [`train_classifier`].
pub fn train_classifier_with(
    mnist: &Mnist,
    cfg: &ClassifierTrainConfig,
    device: &Device,
    mut on_epoch: impl FnMut(&EpochReport),
) -> Result<(MnistClassifier, f64), EvalError> {
    cfg.validate()?;
    for (split, name) in [(&mnist.train, "mnist.train"), (&mnist.test, "mnist.test")] {
        if split.rows != IMAGE_SIDE || split.cols != IMAGE_SIDE || split.is_empty() {
            return Err(EvalError::Shape {
                what: if name == "mnist.train" {
                    "train_classifier: `mnist.train`"
                } else {
                    "train_classifier: `mnist.test`"
                },
                expected: "a non-empty split of 28×28 images".to_string(),
                got: format!("{} images of {}×{}", split.len(), split.rows, split.cols),
            });
        }
    }

    let ad = device.clone().autodiff();
    ad.seed(cfg.seed);
    let mut model = cfg.model.init(&ad);
    let mut optim = AdamConfig::new().init();
    let loss_fn = CrossEntropyLossConfig::new().init(&ad);

    let train = &mnist.train;
    let n = train.len();
    let mut lr = cfg.learning_rate;
    let mut test_accuracy = 0.0;
    let mut batch_pixels = Vec::with_capacity(cfg.batch_size * IMAGE_PIXELS);
    let mut batch_labels = Vec::with_capacity(cfg.batch_size);
    for epoch in 1..=cfg.epochs {
        let start = Instant::now();
        let mut rng = HostRng::derive(cfg.seed, epoch as u64);
        let order = rng.permutation(n);
        let mut loss_sum = 0.0;
        let mut steps = 0usize;
        for idx in order.chunks(cfg.batch_size) {
            batch_pixels.clear();
            batch_labels.clear();
            for &i in idx {
                push_image(&mut batch_pixels, train.image(i), cfg.max_shift, &mut rng);
                batch_labels.push(train.labels[i]);
            }
            let x = images_tensor(&batch_pixels, &ad);
            let y = labels_tensor(&batch_labels, &ad);
            let loss = loss_fn.forward(model.forward(x), y);
            loss_sum += loss.clone().into_scalar::<f32>() as f64;
            steps += 1;
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
        }
        let eval_model = model.valid();
        test_accuracy =
            accuracy_on_bytes(&eval_model, &mnist.test.images, &mnist.test.labels, device)?;
        on_epoch(&EpochReport {
            epoch,
            train_loss: loss_sum / steps as f64,
            test_accuracy,
            learning_rate: lr,
            seconds: start.elapsed().as_secs_f64(),
        });
        lr *= cfg.lr_decay;
    }
    Ok((model.valid().to_device(device), test_accuracy))
}

/// Appends one image as `[0, 1]` pixels, translated by a random offset in
/// `-max_shift..=max_shift` along each axis (zero fill).
fn push_image(out: &mut Vec<f32>, image: &[u8], max_shift: usize, rng: &mut HostRng) {
    if max_shift == 0 {
        out.extend(image.iter().map(|&p| p as f32 / 255.0));
        return;
    }
    let span = 2 * max_shift as u64 + 1;
    let dy = rng.below(span) as isize - max_shift as isize;
    let dx = rng.below(span) as isize - max_shift as isize;
    let side = IMAGE_SIDE as isize;
    for r in 0..side {
        for c in 0..side {
            let (sr, sc) = (r - dy, c - dx);
            let v = if (0..side).contains(&sr) && (0..side).contains(&sc) {
                image[(sr * side + sc) as usize] as f32 / 255.0
            } else {
                0.0
            };
            out.push(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shift_moves_pixels_and_zero_fills() {
        let mut img = vec![0u8; IMAGE_PIXELS];
        img[10 * IMAGE_SIDE + 10] = 255;
        let mut rng = HostRng::seed_from_u64(3);
        for _ in 0..20 {
            let mut out = Vec::new();
            push_image(&mut out, &img, 2, &mut rng);
            assert_eq!(out.len(), IMAGE_PIXELS);
            let lit: Vec<usize> = (0..IMAGE_PIXELS).filter(|&k| out[k] == 1.0).collect();
            assert_eq!(lit.len(), 1, "exactly one lit pixel after a shift");
            let (r, c) = (lit[0] / IMAGE_SIDE, lit[0] % IMAGE_SIDE);
            assert!(
                (8..=12).contains(&r) && (8..=12).contains(&c),
                "shifted to ({r}, {c})"
            );
        }
        let mut out = Vec::new();
        push_image(&mut out, &img, 0, &mut rng);
        assert_eq!(out[10 * IMAGE_SIDE + 10], 1.0);
    }

    #[test]
    fn invalid_configs_are_rejected_by_name() {
        let cases = [
            (ClassifierTrainConfig::new().with_epochs(0), "epochs"),
            (
                ClassifierTrainConfig::new().with_batch_size(0),
                "batch_size",
            ),
            (
                ClassifierTrainConfig::new().with_learning_rate(-1.0),
                "learning_rate",
            ),
            (ClassifierTrainConfig::new().with_lr_decay(0.0), "lr_decay"),
            (ClassifierTrainConfig::new().with_max_shift(9), "max_shift"),
            (
                ClassifierTrainConfig::new()
                    .with_model(MnistClassifierConfig::new().with_dropout(1.0)),
                "model.dropout",
            ),
            (
                ClassifierTrainConfig::new()
                    .with_model(MnistClassifierConfig::new().with_feature_dim(0)),
                "model.feature_dim",
            ),
        ];
        for (cfg, field) in cases {
            let err = cfg.validate().unwrap_err();
            assert_eq!(
                (err.config, err.field.as_str()),
                ("ClassifierTrainConfig", field)
            );
            // Through `train_classifier`'s error type the message keeps the field.
            let msg = EvalError::from(err).to_string();
            assert!(
                msg.starts_with(&format!("ClassifierTrainConfig.{field}: ")),
                "{msg}"
            );
        }
        ClassifierTrainConfig::new().validate().unwrap();
        let e = MnistClassifierConfig::new()
            .with_conv2_channels(0)
            .try_init(&burn::tensor::Device::flex())
            .unwrap_err();
        assert_eq!(
            e.to_string(),
            "MnistClassifierConfig.conv2_channels: must be at least 1, got 0"
        );
    }
}
