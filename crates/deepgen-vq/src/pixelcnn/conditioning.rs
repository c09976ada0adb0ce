//! The spatial-conditioning net: the conditioning map is fully known (e.g. the top-level
//! codes of a VQ-VAE-2 upsampled to the bottom level's size), so it is processed without any
//! mask and its features are projected into every gated layer.
//!
//! ```text
//! cond [B, C_cond, H, W] ──3×3──ReLU──3×3──ReLU──▶ features [B, C, H, W]
//! ```

use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use deepgen_nn::conv::{Conv2d, Conv2dConfig};

/// Two 3×3 convolutions with ReLUs, `C_cond → C → C`, same height and width.
#[derive(Module, Debug)]
pub struct ConditioningNet {
    /// First 3×3 convolution `C_cond → C`.
    pub conv1: Conv2d,
    /// Second 3×3 convolution `C → C`.
    pub conv2: Conv2d,
}

impl ConditioningNet {
    /// A net from `in_channels` to `channels` features.
    pub fn new(in_channels: usize, channels: usize, device: &Device) -> Self {
        let conv = |i, o| {
            Conv2dConfig::new([i, o], [3, 3])
                .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                .init(device)
        };
        Self {
            conv1: conv(in_channels, channels),
            conv2: conv(channels, channels),
        }
    }

    /// The features of a conditioning map.
    ///
    /// # Shapes
    /// - cond: `[B, C_cond, H, W]`
    /// - output: `[B, C, H, W]`
    pub fn forward(&self, cond: Tensor<4>) -> Tensor<4> {
        relu(self.conv2.forward(relu(self.conv1.forward(cond))))
    }
}
