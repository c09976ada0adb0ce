//! Halving the spatial size between U-Net levels: a stride-2 3×3 convolution (padding 1), or
//! 2×2 average pooling.
//!
//! Both give `⌈n/2⌉` for a side `n`, so odd sizes are kept whole: 28 → 14 → 7 → 4. The
//! convolution is improved-diffusion's `Downsample` (`conv_nd(…, 3, stride=2, padding=1)`);
//! the TF reference of Ho et al. pads asymmetrically ("SAME"), which shifts the sampling grid
//! by half a pixel but gives the same sizes for even sides. The pooling uses ceil mode and
//! averages only the in-bounds pixels of a window cut by the border.

use crate::conv::{Conv2d, Conv2dConfig};
use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::pool::{AvgPool2d, AvgPool2dConfig};
use burn::tensor::{Device, Tensor};
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

/// Configuration of a [`Downsample`].
#[derive(Config, Debug)]
pub struct DownsampleConfig {
    /// Channels (kept).
    pub channels: usize,
    /// A learned stride-2 3×3 convolution (`true`) or parameter-free 2×2 average pooling.
    #[config(default = true)]
    pub conv: bool,
}

impl Validate for DownsampleConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        positive("DownsampleConfig", "channels", self.channels)
    }
}

impl DownsampleConfig {
    /// Validates the configuration, then initialises the layer on `device`.
    ///
    /// # Errors
    /// The [`ConfigError`] of [`validate`](Validate::validate).
    pub fn try_init(&self, device: &Device) -> Result<Downsample, ConfigError> {
        self.validate()?;
        let c = self.channels;
        Ok(Downsample {
            conv: self.conv.then(|| {
                Conv2dConfig::new([c, c], [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device)
            }),
            pool: AvgPool2dConfig::new([2, 2])
                .with_count_include_pad(false)
                .with_ceil_mode(true)
                .init(),
        })
    }

    /// Initialises the layer on `device`.
    ///
    /// # Panics
    /// With the [`ConfigError`] message if the configuration is invalid.
    pub fn init(&self, device: &Device) -> Downsample {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Spatial halving (see the [module docs](self)).
#[derive(Module, Debug)]
pub struct Downsample {
    /// The stride-2 convolution, if built with `conv`.
    pub conv: Option<Conv2d>,
    /// The 2×2 ceil-mode average pooling used when there is no convolution.
    pub pool: AvgPool2d,
}

impl Downsample {
    /// Halves the spatial size, rounding up.
    ///
    /// # Shapes
    /// - input: `[batch, channels, H, W]`
    /// - output: `[batch, channels, ⌈H/2⌉, ⌈W/2⌉]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match &self.conv {
            Some(conv) => conv.forward(x),
            None => self.pool.forward(x),
        }
    }
}

/// The side after a [`Downsample`]: `⌈n/2⌉`.
pub fn downsampled_size(n: usize) -> usize {
    n.div_ceil(2)
}
