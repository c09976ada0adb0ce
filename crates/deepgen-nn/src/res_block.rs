//! The residual block of diffusion U-Nets (Ho et al. 2020, Appendix B; the layout of their
//! `resnet_block` and of improved-diffusion's `ResBlock`), with an optional conditioning
//! vector.
//!
//! ```text
//! h = conv3×3(SiLU(GroupNorm(x)))
//! h = h + Linear(SiLU(context))[:, :, None, None]        (if context_dim is set)
//! h = conv3×3(Dropout(SiLU(GroupNorm(h))))               (zero-initialised if zero_init)
//! out = skip(x) + h                                       (skip: 1×1 conv if channels change)
//! ```
//!
//! With `zero_init` the block starts as the identity on its skip path (`out = skip(x)`), the
//! initialisation DDPM uses for the last convolution of every block; gradients still reach
//! the zeroed convolution, so training moves it away from zero at the first step.

use crate::conv::{Conv2d, Conv2dConfig};
use crate::group_norm_kernel::fused_group_norm_silu;
use crate::silu;
use burn::config::Config;
use burn::module::Module;
use burn::nn::PaddingConfig2d;
use burn::nn::{Dropout, DropoutConfig, GroupNorm, Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use deepgen_tensor::config::{non_negative, positive};
use deepgen_tensor::{ConfigError, Validate};

use crate::group_norm::{group_norm, validate_groups};

/// Configuration of a [`ResBlock`].
#[derive(Config, Debug)]
pub struct ResBlockConfig {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels (a 1×1 convolution projects the skip path when they differ).
    pub out_channels: usize,
    /// Features of the conditioning vector (a diffusion time embedding, possibly plus a class
    /// embedding), projected to `out_channels` and added after the first convolution; `None`
    /// for an unconditioned block.
    pub context_dim: Option<usize>,
    /// GroupNorm groups asked for; each norm uses `min(groups, C)` (see
    /// [`clamped_groups`](crate::clamped_groups)).
    #[config(default = 32)]
    pub groups: usize,
    /// Dropout probability before the second convolution (0 disables it).
    #[config(default = 0.0)]
    pub dropout: f64,
    /// Zero-initialise the second convolution (weights and bias), so the block starts as its
    /// skip path.
    #[config(default = true)]
    pub zero_init: bool,
}

impl Validate for ResBlockConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "ResBlockConfig";
        positive(C, "in_channels", self.in_channels)?;
        positive(C, "out_channels", self.out_channels)?;
        if let Some(d) = self.context_dim {
            positive(C, "context_dim", d)?;
        }
        validate_groups(C, "groups", self.groups, self.in_channels)?;
        validate_groups(C, "groups", self.groups, self.out_channels)?;
        validate_dropout(C, "dropout", self.dropout)
    }
}

/// `0 ≤ p < 1` for a dropout probability.
pub(crate) fn validate_dropout(
    config: &'static str,
    field: &str,
    p: f64,
) -> Result<(), ConfigError> {
    non_negative(config, field, p)?;
    if p >= 1.0 {
        return Err(ConfigError::new(
            config,
            field,
            format!("must be in [0, 1) (a probability of dropping), got {p}"),
        ));
    }
    Ok(())
}

/// A 3×3 convolution with padding 1 (same spatial size).
pub(crate) fn conv3x3(c_in: usize, c_out: usize, zero: bool, device: &Device) -> Conv2d {
    let cfg = Conv2dConfig::new([c_in, c_out], [3, 3])
        .with_padding(PaddingConfig2d::Explicit(1, 1, 1, 1));
    let cfg = if zero {
        cfg.with_initializer(Initializer::Zeros)
    } else {
        cfg
    };
    cfg.init(device)
}

impl ResBlockConfig {
    /// Validates the configuration, then initialises the block on `device`.
    ///
    /// # Errors
    /// The [`ConfigError`] of [`validate`](Validate::validate).
    pub fn try_init(&self, device: &Device) -> Result<ResBlock, ConfigError> {
        self.validate()?;
        let (ci, co) = (self.in_channels, self.out_channels);
        Ok(ResBlock {
            norm1: group_norm(self.groups, ci, device),
            conv1: conv3x3(ci, co, false, device),
            context_proj: self
                .context_dim
                .map(|d| LinearConfig::new(d, co).init(device)),
            norm2: group_norm(self.groups, co, device),
            dropout: DropoutConfig::new(self.dropout).init(),
            conv2: conv3x3(co, co, self.zero_init, device),
            skip: (ci != co).then(|| Conv2dConfig::new([ci, co], [1, 1]).init(device)),
        })
    }

    /// Initialises the block on `device`.
    ///
    /// # Panics
    /// With the [`ConfigError`] message if the configuration is invalid.
    pub fn init(&self, device: &Device) -> ResBlock {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A residual block (see the [module docs](self) and [`ResBlockConfig`]).
#[derive(Module, Debug)]
pub struct ResBlock {
    /// GroupNorm over the input channels.
    pub norm1: GroupNorm,
    /// First 3×3 convolution, `in_channels → out_channels`.
    pub conv1: Conv2d,
    /// Projection of `SiLU(context)` to `out_channels`, if the block is conditioned.
    pub context_proj: Option<Linear>,
    /// GroupNorm over the output channels.
    pub norm2: GroupNorm,
    /// Dropout before the second convolution.
    pub dropout: Dropout,
    /// Second 3×3 convolution, `out_channels → out_channels`.
    pub conv2: Conv2d,
    /// 1×1 projection of the skip path when the channel count changes.
    pub skip: Option<Conv2d>,
}

impl ResBlock {
    /// Applies the block.
    ///
    /// # Shapes
    /// - input: `[batch, in_channels, H, W]`
    /// - context: `[batch, context_dim]` (exactly when the config had `context_dim`)
    /// - output: `[batch, out_channels, H, W]`
    ///
    /// # Panics
    /// If a context is given to an unconditioned block or missing for a conditioned one.
    pub fn forward(&self, x: Tensor<4>, context: Option<&Tensor<2>>) -> Tensor<4> {
        let h = self
            .conv1
            .forward(fused_group_norm_silu(&self.norm1, x.clone()));
        let h = match (&self.context_proj, context) {
            (Some(proj), Some(c)) => {
                let [b, co, _, _] = h.dims();
                h + proj.forward(silu(c.clone())).reshape([b, co, 1, 1])
            }
            (None, None) => h,
            (Some(_), None) => panic!(
                "ResBlock: built with a `context_dim` but called without a context; pass the \
                 conditioning vector [batch, context_dim]"
            ),
            (None, Some(_)) => panic!(
                "ResBlock: called with a context but built without `context_dim`; set \
                 ResBlockConfig::context_dim to use one"
            ),
        };
        let h = self
            .conv2
            .forward(self.dropout.forward(fused_group_norm_silu(&self.norm2, h)));
        let skip = match &self.skip {
            Some(conv) => conv.forward(x),
            None => x,
        };
        skip + h
    }
}
