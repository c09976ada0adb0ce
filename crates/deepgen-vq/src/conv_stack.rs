//! The convolutional encoder and decoder stacks of the VQ models (the layout of the VQ-VAE
//! paper's networks: strided convolutions down, residual blocks at the code resolution, and
//! back up), with `deepgen-nn`'s [`ResBlock`] (GroupNorm–SiLU–conv, as in the diffusion U-Net).
//!
//! ```text
//! widths: w(0) = C/2 at the input resolution, w(r) = C after r ≥ 1 downsamplings
//! encoder: conv3×3(in→w0) → [SiLU, conv3×3 stride 2 (w(r−1)→w(r))] × R → ResBlock(C) × n
//!          → GroupNorm → SiLU → conv1×1(C→out)
//! decoder: conv3×3(in→C) → ResBlock(C) × n → [SiLU, nearest resize to the encoder's exact
//!          size, conv3×3 (w(r)→w(r−1))] × R → GroupNorm → SiLU → conv3×3(w0→out)
//! ```
//!
//! Stride-2 convolutions give `ceil(n/2)` (28 → 14 → 7 on MNIST); the decoder resizes to the
//! encoder's sizes, so odd sizes round-trip. Full-resolution layers use half the channels:
//! most of the compute of a 28×28 model is there.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{GroupNorm, GroupNormConfig, PaddingConfig2d};
use burn::tensor::{Device, Tensor};
use deepgen_nn::conv::{Conv2d, Conv2dConfig};
use deepgen_nn::{
    ResBlock, ResBlockConfig, Upsample, UpsampleConfig, clamped_groups, downsampled_size,
    validate_groups,
};
use deepgen_nn::{fused_group_norm_silu, silu};
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

/// Configuration of an [`EncoderStack`] or a [`DecoderStack`].
#[derive(Config, Debug)]
pub struct ConvStackConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Working channels C.
    pub channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Number of ×2 down- (encoder) or upsamplings (decoder).
    pub resamples: usize,
    /// Residual blocks at the lowest resolution.
    #[config(default = 2)]
    pub res_blocks: usize,
    /// GroupNorm groups (clamped to the channels).
    #[config(default = 32)]
    pub groups: usize,
}

impl Validate for ConvStackConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "ConvStackConfig";
        positive(C, "in_channels", self.in_channels)?;
        positive(C, "channels", self.channels)?;
        positive(C, "out_channels", self.out_channels)?;
        validate_groups(C, "groups", self.groups, self.channels)?;
        validate_groups(C, "groups", self.groups, self.width(0))
    }
}

fn res_block(c: usize, groups: usize, device: &Device) -> Result<ResBlock, ConfigError> {
    ResBlockConfig::new(c, c)
        .with_groups(groups)
        .try_init(device)
}

fn norm(c: usize, groups: usize, device: &Device) -> GroupNorm {
    GroupNormConfig::new(clamped_groups(groups, c), c).init(device)
}

impl ConvStackConfig {
    /// Channels after `r` downsamplings: `C/2` at the input resolution (`C` if there is no
    /// resampling), `C` below it.
    pub fn width(&self, r: usize) -> usize {
        if r == 0 && self.resamples > 0 {
            (self.channels / 2).max(1)
        } else {
            self.channels
        }
    }

    /// Builds the encoder stack.
    ///
    /// # Errors
    /// The [`ConfigError`] of an invalid field.
    pub fn try_init_encoder(&self, device: &Device) -> Result<EncoderStack, ConfigError> {
        self.validate()?;
        let c = self.channels;
        let levels = (1..=self.resamples)
            .map(|r| {
                Conv2dConfig::new([self.width(r - 1), self.width(r)], [3, 3])
                    .with_stride([2, 2])
                    .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1))
                    .init(device)
            })
            .collect();
        Ok(EncoderStack {
            input: Conv2dConfig::new([self.in_channels, self.width(0)], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            levels,
            mid: (0..self.res_blocks)
                .map(|_| res_block(c, self.groups, device))
                .collect::<Result<_, _>>()?,
            norm: norm(c, self.groups, device),
            output: Conv2dConfig::new([c, self.out_channels], [1, 1]).init(device),
        })
    }

    /// Builds the decoder stack.
    ///
    /// # Errors
    /// The [`ConfigError`] of an invalid field.
    pub fn try_init_decoder(&self, device: &Device) -> Result<DecoderStack, ConfigError> {
        self.validate()?;
        let c = self.channels;
        let mut levels = Vec::with_capacity(self.resamples);
        for r in (1..=self.resamples).rev() {
            levels.push(DecoderLevel {
                up: UpsampleConfig::new(self.width(r))
                    .with_conv(false)
                    .try_init(device)?,
                conv: Conv2dConfig::new([self.width(r), self.width(r - 1)], [3, 3])
                    .with_padding(PaddingConfig2d::Same)
                    .init(device),
            });
        }
        let w0 = self.width(0);
        Ok(DecoderStack {
            input: Conv2dConfig::new([self.in_channels, c], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device),
            mid: (0..self.res_blocks)
                .map(|_| res_block(c, self.groups, device))
                .collect::<Result<_, _>>()?,
            levels,
            norm: norm(w0, self.groups, device),
            output: Conv2dConfig::new([w0, self.out_channels], [3, 3])
                .with_padding(PaddingConfig2d::Same)
                .init(device),
        })
    }
}

/// The spatial sizes after each of `resamples` stride-2 downsamplings of `[h, w]` (first: the
/// input size itself).
pub fn size_ladder(size: [usize; 2], resamples: usize) -> Vec<[usize; 2]> {
    let mut out = vec![size];
    for _ in 0..resamples {
        let [h, w] = *out.last().expect("non-empty");
        out.push([downsampled_size(h), downsampled_size(w)]);
    }
    out
}

/// One decoder level: a nearest-neighbour resize to an exact size, then a 3×3 convolution.
#[derive(Module, Debug)]
pub struct DecoderLevel {
    /// Nearest-neighbour resize (no convolution).
    pub up: Upsample,
    /// 3×3 convolution `w(r) → w(r−1)`.
    pub conv: Conv2d,
}

/// The downsampling stack; see the [module docs](self).
#[derive(Module, Debug)]
pub struct EncoderStack {
    /// `in → C`, 3×3.
    pub input: Conv2d,
    /// Stride-2 3×3 convolutions, one per level.
    pub levels: Vec<Conv2d>,
    /// Residual blocks at the lowest resolution.
    pub mid: Vec<ResBlock>,
    /// Final normalisation.
    pub norm: GroupNorm,
    /// `C → out`, 1×1.
    pub output: Conv2d,
}

impl EncoderStack {
    /// # Shapes
    /// - x: `[B, in, H, W]`
    /// - output: `[B, out, H', W']` with `H'`, `W'` the last of [`size_ladder`]
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let mut h = self.input.forward(x);
        for conv in &self.levels {
            h = conv.forward(silu(h));
        }
        for block in &self.mid {
            h = block.forward(h, None);
        }
        self.output.forward(fused_group_norm_silu(&self.norm, h))
    }
}

/// The upsampling stack; see the [module docs](self).
#[derive(Module, Debug)]
pub struct DecoderStack {
    /// `in → C`, 3×3.
    pub input: Conv2d,
    /// Residual blocks at the lowest resolution.
    pub mid: Vec<ResBlock>,
    /// Resize + convolution per level.
    pub levels: Vec<DecoderLevel>,
    /// Final normalisation.
    pub norm: GroupNorm,
    /// `w(0) → out`, 3×3.
    pub output: Conv2d,
}

impl DecoderStack {
    /// Decodes, upsampling to `sizes[i]` at level `i`.
    ///
    /// # Shapes
    /// - x: `[B, in, h, w]`
    /// - output: `[B, out, H, W]` with `[H, W]` the last of `sizes`
    ///
    /// # Panics
    /// If `sizes` does not have one entry per level.
    pub fn forward_to(&self, x: Tensor<4>, sizes: &[[usize; 2]]) -> Tensor<4> {
        assert_eq!(
            sizes.len(),
            self.levels.len(),
            "DecoderStack: one output size per upsampling level"
        );
        let mut h = self.input.forward(x);
        for block in &self.mid {
            h = block.forward(h, None);
        }
        for (level, size) in self.levels.iter().zip(sizes) {
            h = level.conv.forward(level.up.forward_to(silu(h), *size));
        }
        self.output.forward(fused_group_norm_silu(&self.norm, h))
    }
}
