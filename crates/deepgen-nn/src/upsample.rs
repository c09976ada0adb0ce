//! Doubling the spatial size between U-Net levels: nearest-neighbour upsampling, then a 3×3
//! convolution (improved-diffusion's `Upsample`).
//!
//! [`Upsample::forward_to`] resizes to an explicit `[H, W]` instead of `2×`, which is what a
//! U-Net needs on odd sizes: 28 → 14 → 7 → 4 going down, and on the way up 4 must come back
//! to the skip connection's 7, not to 8. Nearest-neighbour takes output pixel `i` from input
//! pixel `⌊i · n_in / n_out⌋` (Burn's `InterpolateMode::Nearest`, PyTorch's `"nearest"`).

use crate::conv::Conv2d;
use burn::config::Config;
use burn::module::Module;
use burn::tensor::module::interpolate;
use burn::tensor::ops::{InterpolateMode, InterpolateOptions};
use burn::tensor::{Device, Tensor};
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

use crate::res_block::conv3x3;

/// Configuration of an [`Upsample`].
#[derive(Config, Debug)]
pub struct UpsampleConfig {
    /// Channels (kept).
    pub channels: usize,
    /// Follow the resize with a learned 3×3 convolution.
    #[config(default = true)]
    pub conv: bool,
}

impl Validate for UpsampleConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        positive("UpsampleConfig", "channels", self.channels)
    }
}

impl UpsampleConfig {
    /// Validates the configuration, then initialises the layer on `device`.
    ///
    /// # Errors
    /// The [`ConfigError`] of [`validate`](Validate::validate).
    pub fn try_init(&self, device: &Device) -> Result<Upsample, ConfigError> {
        self.validate()?;
        Ok(Upsample {
            conv: self
                .conv
                .then(|| conv3x3(self.channels, self.channels, false, device)),
        })
    }

    /// Initialises the layer on `device`.
    ///
    /// # Panics
    /// With the [`ConfigError`] message if the configuration is invalid.
    pub fn init(&self, device: &Device) -> Upsample {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Nearest-neighbour upsampling and an optional 3×3 convolution (see the
/// [module docs](self)).
#[derive(Module, Debug)]
pub struct Upsample {
    /// The 3×3 convolution after the resize, if built with `conv`.
    pub conv: Option<Conv2d>,
}

impl Upsample {
    /// Doubles the spatial size.
    ///
    /// # Shapes
    /// - input: `[batch, channels, H, W]`
    /// - output: `[batch, channels, 2H, 2W]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [_, _, h, w] = x.dims();
        self.forward_to(x, [2 * h, 2 * w])
    }

    /// Resizes to exactly `size = [H', W']` (nearest neighbour), then convolves.
    ///
    /// # Shapes
    /// - input: `[batch, channels, H, W]`
    /// - output: `[batch, channels, H', W']`
    ///
    /// # Panics
    /// If a side of `size` is zero.
    pub fn forward_to(&self, x: Tensor<4>, size: [usize; 2]) -> Tensor<4> {
        assert!(
            size[0] > 0 && size[1] > 0,
            "Upsample::forward_to: target size {size:?} has a zero side"
        );
        let [_, _, h, w] = x.dims();
        let x = if [h, w] == size {
            x
        } else {
            interpolate(
                x,
                InterpolateOptions::new(InterpolateMode::Nearest)
                    .with_align_corners(false)
                    .with_output_size(size),
            )
        };
        match &self.conv {
            Some(conv) => conv.forward(x),
            None => x,
        }
    }
}
