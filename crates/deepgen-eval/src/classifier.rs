//! The MNIST classifier whose features define the project's Fréchet distance.
//!
//! A LeNet-style CNN (LeCun et al. 1998, with ReLU, max pooling and dropout):
//!
//! ```text
//! [B,1,28,28] → conv 5×5 (1→32) → ReLU → maxpool 2 → [B,32,12,12]
//!             → conv 5×5 (32→64) → ReLU → maxpool 2 → [B,64,4,4]
//!             → flatten [B,1024] → linear → 128 → ReLU      ← features
//!             → dropout → linear → 10                        ← logits
//! ```
//!
//! About 185 000 parameters (≈ 0.74 MB as f32).

use burn::config::Config;
use burn::module::Module;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, Relu};
use burn::tensor::{Device, Tensor};
use deepgen_nn::conv::{Conv2d, Conv2dConfig};
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

/// Side length of an MNIST image.
pub const IMAGE_SIDE: usize = 28;
/// Pixels per MNIST image (`28 × 28`).
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
/// Number of classes (digits 0–9).
pub const NUM_CLASSES: usize = 10;

/// Configuration to create a [`MnistClassifier`] using the [init function](MnistClassifierConfig::init).
#[derive(Config, Debug)]
pub struct MnistClassifierConfig {
    /// Output channels of the first 5×5 convolution.
    #[config(default = 32)]
    pub conv1_channels: usize,
    /// Output channels of the second 5×5 convolution.
    #[config(default = 64)]
    pub conv2_channels: usize,
    /// Width of the feature layer (the penultimate layer, after its ReLU).
    #[config(default = 128)]
    pub feature_dim: usize,
    /// Dropout probability between the feature layer and the logits (training only).
    #[config(default = 0.5)]
    pub dropout: f64,
}

/// A small CNN for 28×28 grey-scale digits. Input pixels are in `[0, 1]`.
///
/// Should be created with [`MnistClassifierConfig`]; trained with
/// [`train_classifier`](crate::train_classifier).
#[derive(Module, Debug)]
pub struct MnistClassifier {
    /// First convolution, `1 → conv1_channels`, 5×5, no padding.
    pub conv1: Conv2d,
    /// Second convolution, `conv1_channels → conv2_channels`, 5×5, no padding.
    pub conv2: Conv2d,
    /// 2×2 max pooling, stride 2 (used after both convolutions).
    pub pool: MaxPool2d,
    /// Flattened conv features `→ feature_dim`.
    pub fc1: Linear,
    /// Dropout before the output layer.
    pub dropout: Dropout,
    /// `feature_dim → 10` logits.
    pub fc2: Linear,
    /// ReLU activation.
    pub activation: Relu,
}

impl Validate for MnistClassifierConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const NAME: &str = "MnistClassifierConfig";
        positive(NAME, "conv1_channels", self.conv1_channels)?;
        positive(NAME, "conv2_channels", self.conv2_channels)?;
        positive(NAME, "feature_dim", self.feature_dim)?;
        let p = self.dropout;
        if !(p.is_finite() && (0.0..1.0).contains(&p)) {
            return Err(ConfigError::new(
                NAME,
                "dropout",
                format!("must be a probability in [0, 1), e.g. 0.5, got {p}"),
            ));
        }
        Ok(())
    }
}

impl MnistClassifierConfig {
    /// Initialize a new [`MnistClassifier`] with random weights on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`MnistClassifierConfig::try_init`]).
    pub fn init(&self, device: &Device) -> MnistClassifier {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }

    /// Validates the config, then initialises a [`MnistClassifier`] on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the field: a width of 0, or `dropout` outside `[0, 1)`.
    pub fn try_init(&self, device: &Device) -> Result<MnistClassifier, ConfigError> {
        self.validate()?;
        Ok(self.build(device))
    }

    /// Builds a validated config.
    fn build(&self, device: &Device) -> MnistClassifier {
        // 28 → conv5 → 24 → pool → 12 → conv5 → 8 → pool → 4.
        let flat = self.conv2_channels * 4 * 4;
        MnistClassifier {
            conv1: Conv2dConfig::new([1, self.conv1_channels], [5, 5]).init(device),
            conv2: Conv2dConfig::new([self.conv1_channels, self.conv2_channels], [5, 5])
                .init(device),
            pool: MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            fc1: LinearConfig::new(flat, self.feature_dim).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            fc2: LinearConfig::new(self.feature_dim, NUM_CLASSES).init(device),
            activation: Relu::new(),
        }
    }
}

impl MnistClassifier {
    /// The feature layer: ReLU activations of the penultimate layer.
    ///
    /// # Shapes
    /// - input: `[B, 1, 28, 28]`, pixels in `[0, 1]`
    /// - output: `[B, feature_dim]`
    pub fn features(&self, x: Tensor<4>) -> Tensor<2> {
        let x = self
            .pool
            .forward(self.activation.forward(self.conv1.forward(x)));
        let x = self
            .pool
            .forward(self.activation.forward(self.conv2.forward(x)));
        let x: Tensor<2> = x.flatten(1, 3);
        self.activation.forward(self.fc1.forward(x))
    }

    /// Logits for the ten digit classes.
    ///
    /// # Shapes
    /// - input: `[B, 1, 28, 28]`, pixels in `[0, 1]`
    /// - output: `[B, 10]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<2> {
        self.logits_from_features(self.features(x))
    }

    /// The output head alone: dropout (active only while training on an
    /// autodiff device) then the last linear layer.
    ///
    /// # Shapes
    /// - input: `[B, feature_dim]`
    /// - output: `[B, 10]`
    pub fn logits_from_features(&self, features: Tensor<2>) -> Tensor<2> {
        self.fc2.forward(self.dropout.forward(features))
    }

    /// Width of the feature layer.
    pub fn feature_dim(&self) -> usize {
        self.fc1.weight.dims()[1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Distribution;

    #[test]
    fn shapes_and_parameter_count() {
        let device = Device::flex();
        let model = MnistClassifierConfig::new().init(&device);
        let x = Tensor::<4>::random([3, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
        assert_eq!(model.features(x.clone()).dims(), [3, 128]);
        assert_eq!(model.forward(x).dims(), [3, 10]);
        assert_eq!(model.feature_dim(), 128);
        // conv1 32·25+32, conv2 64·32·25+64, fc1 1024·128+128, fc2 128·10+10.
        let want = (32 * 25 + 32) + (64 * 32 * 25 + 64) + (1024 * 128 + 128) + (128 * 10 + 10);
        assert_eq!(model.num_params(), want);
    }

    #[test]
    fn features_are_nonnegative_and_logits_use_them() {
        let device = Device::flex();
        let model = MnistClassifierConfig::new().init(&device);
        let x = Tensor::<4>::random([2, 1, 28, 28], Distribution::Uniform(0.0, 1.0), &device);
        let f = model.features(x.clone());
        let min: f32 = f.clone().min().into_scalar::<f32>();
        assert!(min >= 0.0, "ReLU features must be ≥ 0, min = {min}");
        // On a plain (non-autodiff) device dropout is the identity, so the
        // head applied to the features reproduces forward().
        let a = model
            .logits_from_features(f)
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        let b = model
            .forward(x)
            .into_data()
            .try_into_vec_as::<f32>()
            .unwrap();
        assert_eq!(a, b);
    }
}
