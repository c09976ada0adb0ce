//! Conditioners: the networks that read the conditioning part of a layer's input (and the
//! context) and emit the parameters of an [elementwise bijection](crate::elementwise).
//!
//! - [`MlpConditioner`] for vectors `[B, D]`: the context is concatenated to the input.
//! - [`ConvConditioner`] for images `[B, C, H, W]`: 3×3 conv → ReLU → 1×1 conv → ReLU → 3×3
//!   conv (RealNVP's and Glow's `NN()`), the context broadcast over `H × W` as extra input
//!   channels.
//! - [`UNetConditioner`] for images: the same with one down/up level and a skip connection
//!   (a U-Net-lite, twice the receptive field); [`ImageConditionerKind`] picks one of the two
//!   in image-coupling configs and [`ImageConditioner`] holds either.
//!
//! Both emit `P·F` features (`F` = `D` or `C`) laid out **parameter-major**: feature
//! `p·F + f` is parameter `p` of input feature `f`. Both zero-initialise their last layer by
//! default, so a coupling layer starts as the identity map (Glow's "zero initialisation").

pub(crate) mod conv;
mod mlp;
mod unet;

pub use conv::{ConvConditioner, ConvConditionerConfig};
pub use mlp::{MlpConditioner, MlpConditionerConfig};
pub use unet::{UNetConditioner, UNetConditionerConfig};

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor};
use deepgen_tensor::ConfigError;

/// Which network an image coupling uses as its conditioner (part of the image-flow configs).
#[derive(Config, Debug, Copy, PartialEq, Eq)]
pub enum ImageConditionerKind {
    /// [`ConvConditioner`]: 3×3 → 1×1 → 3×3 (RealNVP's and Glow's `NN()`).
    Conv,
    /// [`UNetConditioner`]: one down/up level with a skip connection.
    UNet,
}

impl ImageConditionerKind {
    /// Builds the conditioner `in_channels → out_channels` on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(
        self,
        in_channels: usize,
        out_channels: usize,
        hidden_channels: usize,
        context_dim: usize,
        zero_init_output: bool,
        device: &Device,
    ) -> Result<ImageConditioner, ConfigError> {
        Ok(match self {
            Self::Conv => ImageConditioner::Conv(
                ConvConditionerConfig::new(in_channels, out_channels)
                    .with_hidden_channels(hidden_channels)
                    .with_context_dim(context_dim)
                    .with_zero_init_output(zero_init_output)
                    .try_init(device)?,
            ),
            Self::UNet => ImageConditioner::UNet(
                UNetConditionerConfig::new(in_channels, out_channels)
                    .with_hidden_channels(hidden_channels)
                    .with_context_dim(context_dim)
                    .with_zero_init_output(zero_init_output)
                    .try_init(device)?,
            ),
        })
    }
}

/// An image conditioner: either network (see [`ImageConditionerKind`]).
// One per coupling layer: the size difference of the variants costs nothing worth a `Box`
// (which `#[derive(Module)]` would have to see through).
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum ImageConditioner {
    /// The three-layer conv net.
    Conv(ConvConditioner),
    /// The U-Net-lite.
    UNet(UNetConditioner),
}

impl ImageConditioner {
    /// The parameters for `x`.
    ///
    /// # Shapes
    /// - x: `[batch, in_channels, H, W]`
    /// - context: `[batch, context_dim]` (`None` when `context_dim = 0`)
    /// - output: `[batch, out_channels, H, W]`
    pub fn forward(&self, x: Tensor<4>, context: Option<&Tensor<2>>) -> Tensor<4> {
        match self {
            Self::Conv(c) => c.forward(x, context),
            Self::UNet(u) => u.forward(x, context),
        }
    }
}
