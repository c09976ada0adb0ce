//! Self-attention over the `H·W` positions of a feature map, the attention block of diffusion
//! U-Nets (Ho et al. 2020's `attn_block`; multi-head as in improved-diffusion's
//! `AttentionBlock`). Used at low resolutions, where `(H·W)²` attention weights are cheap.
//!
//! ```text
//! h = GroupNorm(x) as [B, N = H·W, C]
//! q, k, v = h·W_q + b_q, h·W_k + b_k, h·W_v + b_v        split into `heads` of d = C/heads
//! a = softmax(q kᵀ / √d) v                              per head, softmax over the N keys
//! out = x + (concat_heads(a)·W_o + b_o) as [B, C, H, W]  (W_o, b_o zero if zero_init)
//! ```
//!
//! There are no positional encodings, so the block is equivariant to any permutation of the
//! `H·W` positions (tested).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{GroupNorm, Initializer, Linear, LinearConfig};
use burn::tensor::{Device, Tensor};
use deepgen_tensor::config::positive;
use deepgen_tensor::{ConfigError, Validate};

use crate::attention::scaled_dot_product_attention;
use crate::group_norm::{group_norm, validate_groups};
use crate::group_norm_kernel::fused_group_norm;

/// Configuration of a [`SelfAttention2d`].
#[derive(Config, Debug)]
pub struct SelfAttention2dConfig {
    /// Channels `C` (kept).
    pub channels: usize,
    /// Attention heads; must divide `channels`.
    #[config(default = 1)]
    pub heads: usize,
    /// GroupNorm groups asked for; the norm uses `min(groups, channels)`.
    #[config(default = 32)]
    pub groups: usize,
    /// Zero-initialise the output projection, so the block starts as the identity.
    #[config(default = true)]
    pub zero_init: bool,
}

impl Validate for SelfAttention2dConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "SelfAttention2dConfig";
        positive(C, "channels", self.channels)?;
        positive(C, "heads", self.heads)?;
        if !self.channels.is_multiple_of(self.heads) {
            return Err(ConfigError::new(
                C,
                "heads",
                format!(
                    "{} heads do not divide {} channels; use a divisor of the channels",
                    self.heads, self.channels
                ),
            ));
        }
        validate_groups(C, "groups", self.groups, self.channels)
    }
}

impl SelfAttention2dConfig {
    /// Validates the configuration, then initialises the block on `device`.
    ///
    /// # Errors
    /// The [`ConfigError`] of [`validate`](Validate::validate).
    pub fn try_init(&self, device: &Device) -> Result<SelfAttention2d, ConfigError> {
        self.validate()?;
        let c = self.channels;
        let linear = || LinearConfig::new(c, c).init(device);
        let output = if self.zero_init {
            LinearConfig::new(c, c)
                .with_initializer(Initializer::Zeros)
                .init(device)
        } else {
            linear()
        };
        Ok(SelfAttention2d {
            norm: group_norm(self.groups, c, device),
            query: linear(),
            key: linear(),
            value: linear(),
            output,
            heads: self.heads,
        })
    }

    /// Initialises the block on `device`.
    ///
    /// # Panics
    /// With the [`ConfigError`] message if the configuration is invalid.
    pub fn init(&self, device: &Device) -> SelfAttention2d {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// Residual multi-head self-attention over spatial positions (see the [module docs](self)).
#[derive(Module, Debug)]
pub struct SelfAttention2d {
    /// GroupNorm before the projections.
    pub norm: GroupNorm,
    /// Query projection `C → C` (weight `[C_in, C_out]`, Burn's layout).
    pub query: Linear,
    /// Key projection `C → C`.
    pub key: Linear,
    /// Value projection `C → C`.
    pub value: Linear,
    /// Output projection `C → C`, added to the input.
    pub output: Linear,
    /// Number of heads.
    pub heads: usize,
}

impl SelfAttention2d {
    /// Applies the block.
    ///
    /// # Shapes
    /// - input: `[batch, channels, H, W]`
    /// - output: `[batch, channels, H, W]`
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [b, c, h, w] = x.dims();
        let n = h * w;
        let (heads, d) = (self.heads, c / self.heads);
        // [B, C, H, W] → [B, N, C]
        let tokens = fused_group_norm(&self.norm, x.clone())
            .reshape([b, c, n])
            .swap_dims(1, 2);
        // [B, N, C] → [B, heads, N, d]
        let split = |t: Tensor<3>| t.reshape([b, n, heads, d]).swap_dims(1, 2);
        let q = split(self.query.forward(tokens.clone()));
        let k = split(self.key.forward(tokens.clone()));
        let v = split(self.value.forward(tokens));
        let a = scaled_dot_product_attention(q, k, v); // [B, heads, N, d]
        let a = a.swap_dims(1, 2).reshape([b, n, c]);
        let out = self.output.forward(a).swap_dims(1, 2).reshape([b, c, h, w]);
        x + out
    }
}
