//! A U-Net-lite conditioner for image couplings: one down/up level with a skip connection, so
//! the coupling's parameters see a receptive field twice as wide as [`ConvConditioner`]'s at
//! about the same cost.
//!
//! ```text
//! x ─ 3×3 (in + context → h) ─ ReLU ─┬─ down: 3×3 stride 2 (h → 2h) ─ ReLU ─ 3×3 (2h → 2h) ─ ReLU
//!                                    │                                                    │
//!                                    │    up: nearest to [H, W] ─ 3×3 (2h → h) ─ ReLU ────┘
//!                                    └──────────── concat ─ 1×1 (2h → h) ─ ReLU ─ 3×3 (h → out)
//! ```
//!
//! The down/up blocks are `deepgen-nn`'s [`Downsample`] (improved-diffusion's stride-2 3×3
//! convolution) and [`Upsample`] (nearest neighbour then 3×3, resized to the skip's exact size,
//! so odd sizes such as 7×7 work). The last convolution is zero-initialised by default, like
//! [`ConvConditioner`](super::ConvConditioner)'s, and the context is broadcast as extra input
//! channels.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Initializer, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use deepgen_nn::conv::{Conv2d, Conv2dConfig};
use deepgen_nn::{Downsample, DownsampleConfig, Upsample, UpsampleConfig};
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

use super::conv::with_context_channels;
use crate::bijection::check_context;

/// Configuration of a [`UNetConditioner`]; see the [module docs](self).
#[derive(Config, Debug)]
pub struct UNetConditionerConfig {
    /// Input channels (the masked input of a coupling layer).
    pub in_channels: usize,
    /// Output channels (`P·C` for a coupling layer).
    pub out_channels: usize,
    /// Width `h` of the full-resolution layers (`2h` at half resolution).
    #[config(default = 64)]
    pub hidden_channels: usize,
    /// Width of the context, broadcast over `H × W` as extra input channels (0 = none).
    #[config(default = 0)]
    pub context_dim: usize,
    /// Zero-initialise the last convolution, so a coupling starts as the identity.
    #[config(default = true)]
    pub zero_init_output: bool,
}

impl Validate for UNetConditionerConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "UNetConditionerConfig";
        positive(C, "in_channels", self.in_channels)?;
        positive(C, "out_channels", self.out_channels)?;
        positive(C, "hidden_channels", self.hidden_channels)
    }
}

fn conv(cin: usize, cout: usize, k: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([cin, cout], [k, k])
        .with_padding(PaddingConfig2d::Same)
        .init(device)
}

impl UNetConditionerConfig {
    /// Validates the config, then builds the conditioner on `device`.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the invalid field.
    pub fn try_init(&self, device: &Device) -> Result<UNetConditioner, ConfigError> {
        self.validate()?;
        let h = self.hidden_channels;
        let mut out =
            Conv2dConfig::new([h, self.out_channels], [3, 3]).with_padding(PaddingConfig2d::Same);
        if self.zero_init_output {
            out = out.with_initializer(Initializer::Zeros);
        }
        Ok(UNetConditioner {
            conv_in: conv(self.in_channels + self.context_dim, h, 3, device),
            down: DownsampleConfig::new(h).try_init(device)?,
            widen: conv(h, 2 * h, 1, device),
            mid: conv(2 * h, 2 * h, 3, device),
            up: UpsampleConfig::new(2 * h).try_init(device)?,
            narrow: conv(2 * h, h, 3, device),
            merge: conv(2 * h, h, 1, device),
            conv_out: out.init(device),
            in_channels: self.in_channels,
            context_dim: self.context_dim,
        })
    }

    /// Builds the conditioner on `device`.
    ///
    /// # Panics
    /// If the config is invalid (see [`UNetConditionerConfig::try_init`]).
    pub fn init(&self, device: &Device) -> UNetConditioner {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// The U-Net-lite conditioner; see the [module docs](self).
#[derive(Module, Debug)]
pub struct UNetConditioner {
    /// 3×3, `in + context → h`.
    pub conv_in: Conv2d,
    /// Stride-2 3×3, `h → h`.
    pub down: Downsample,
    /// 1×1, `h → 2h` at half resolution.
    pub widen: Conv2d,
    /// 3×3, `2h → 2h` at half resolution.
    pub mid: Conv2d,
    /// Nearest-neighbour resize to the skip's size, then 3×3 (`2h → 2h`).
    pub up: Upsample,
    /// 3×3, `2h → h` at full resolution.
    pub narrow: Conv2d,
    /// 1×1 on `[skip | up]`, `2h → h`.
    pub merge: Conv2d,
    /// 3×3, `h → out` (zero-initialised by default).
    pub conv_out: Conv2d,
    /// Input channels (without the context).
    pub in_channels: usize,
    /// Width of the context (0 = unconditioned).
    pub context_dim: usize,
}

impl UNetConditioner {
    /// The parameters for `x`.
    ///
    /// # Shapes
    /// - x: `[batch, in_channels, H, W]` (any `H, W ≥ 1`)
    /// - context: `[batch, context_dim]` (`None` when `context_dim = 0`)
    /// - output: `[batch, out_channels, H, W]`
    pub fn forward(&self, x: Tensor<4>, context: Option<&Tensor<2>>) -> Tensor<4> {
        let [b, c, height, width] = x.dims();
        assert!(
            c == self.in_channels,
            "UNetConditioner: input has {c} channels, expected {}",
            self.in_channels
        );
        check_context("UNetConditioner", context, self.context_dim, b);
        let skip = relu(self.conv_in.forward(with_context_channels(x, context)));
        let low = relu(self.widen.forward(relu(self.down.forward(skip.clone()))));
        let low = relu(self.mid.forward(low));
        let up = relu(
            self.narrow
                .forward(self.up.forward_to(low, [height, width])),
        );
        let merged = relu(self.merge.forward(Tensor::cat(vec![skip, up], 1)));
        self.conv_out.forward(merged)
    }
}
