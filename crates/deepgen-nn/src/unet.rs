//! The DDPM U-Net (Ho et al. 2020, Appendix B; the layout of `diffusion_tf/models/unet.py`),
//! conditioned on a float time and optionally on a class, for images of any `[C, H, W]`
//! including odd sizes.
//!
//! ```text
//! emb  = TimeEmbedding(t) (+ ClassEmbedding(class))               [B, 4·base]
//! h    = conv3×3(x) → base channels                               skips = [h]
//! down: per level i (channels base·mult[i]): num_res_blocks × (ResBlock(·, emb) [+ attention]),
//!       each output pushed to skips; then Downsample (not after the last level), pushed too
//! mid:  ResBlock → SelfAttention2d → ResBlock
//! up:   per level, deepest first: (num_res_blocks + 1) × (ResBlock(concat(h, skips.pop()), emb)
//!       [+ attention]); then Upsample to the spatial size of the next skip (not after level 0)
//! out:  conv3×3(SiLU(GroupNorm(h))) → out_channels               (zero-initialised if zero_init)
//! ```
//!
//! - **Sizes.** Downsampling gives `⌈n/2⌉`, so a 28-pixel side goes 28 → 14 → 7 (→ 4 with a
//!   fourth level), and [`Upsample::forward_to`] brings every level back to its skip's exact
//!   size: the output always has the input's spatial size.
//! - **Attention** goes after every residual block of a level whose spatial size `[h, w]` has
//!   `min(h, w)` in `attention_resolutions`, and always in the middle. The level sizes come
//!   from `image_size` ([`UNetConfig::level_sizes`]); the network itself runs on any size,
//!   but attention placement was decided for `image_size`. The default `[14]` is the MNIST
//!   analogue of DDPM's CIFAR-10 choice (attention at 16 of 32 → 16 → 8 → 4): the half-size
//!   level, with the 7 × 7 middle attending as well.
//! - **GroupNorm groups**: `g = min(groups, base_channels)`, which must divide
//!   `base_channels`; every channel count in the net (levels `base·mult`, skip
//!   concatenations, sums of those) is a multiple of `base_channels`, so `g` divides them all.
//!   The default 32 gives DDPM's 32 groups at base 64 and one channel per group at base ≤ 32.
//! - **Classes**: with `num_classes`, a learned embedding `[num_classes, 4·base]` is added to
//!   the time embedding (improved-diffusion's `label_emb`).
//! - **Trunk and heads**: [`UNet::forward_trunk`] returns the up path's last features
//!   `[B, base·mult[0], H, W]` (everything but the `out` line), [`UNet::forward_head`] applies
//!   the output head to them. Extra heads on the same features ([`UNetConfig::init_head`],
//!   [`UNetHead`]: GroupNorm → SiLU → conv3×3, the layout of the output head) serve e.g. a
//!   second-moment network fit on a fixed trunk (Bao et al., ICML 2022, whose "pretrained"
//!   models put such a head on a frozen noise predictor); pass the trunk features through
//!   `Tensor::detach` to keep a head's loss out of the trunk.

use crate::conv::Conv2d;
use crate::group_norm_kernel::fused_group_norm_silu;
use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, GroupNorm};
use burn::tensor::{Device, Int, Tensor};
use deepgen_tensor::config::{all_positive, positive};
use deepgen_tensor::{ConfigError, Validate};

use crate::downsample::{Downsample, DownsampleConfig, downsampled_size};
use crate::group_norm::{clamped_groups, group_norm, validate_groups};
use crate::res_block::{ResBlock, ResBlockConfig, conv3x3, validate_dropout};
use crate::self_attention2d::{SelfAttention2d, SelfAttention2dConfig};
use crate::time_embedding::{MIN_TIMESTEP_EMBEDDING_DIM, TimeEmbedding, TimeEmbeddingConfig};
use crate::upsample::{Upsample, UpsampleConfig};

/// Configuration of a [`UNet`] (see the [module docs](self) for the layout).
#[derive(Config, Debug)]
pub struct UNetConfig {
    /// Channels of the input image.
    pub in_channels: usize,
    /// The image size `[H, W]` that decides where attention goes (see
    /// [`level_sizes`](Self::level_sizes)).
    pub image_size: [usize; 2],
    /// Channels of the output (`None`: `in_channels`, e.g. a predicted noise ε).
    pub out_channels: Option<usize>,
    /// Channels of the first level; level `i` has `base_channels · channel_mults[i]`. The
    /// sinusoidal time features have `base_channels` entries (so at least 4) and the time
    /// embedding `4 · base_channels`.
    #[config(default = 64)]
    pub base_channels: usize,
    /// Channel multiplier of each level (one level per entry, a Downsample between levels).
    #[config(default = "vec![1, 2, 2]")]
    pub channel_mults: Vec<usize>,
    /// Residual blocks per level on the way down (one more on the way up).
    #[config(default = 2)]
    pub num_res_blocks: usize,
    /// Spatial sizes (the smaller side of a level) at which residual blocks are followed by
    /// self-attention; each must be one of the [`level_sizes`](Self::level_sizes).
    #[config(default = "vec![14]")]
    pub attention_resolutions: Vec<usize>,
    /// Heads of every attention block; must divide the channels where attention is placed.
    #[config(default = 1)]
    pub attention_heads: usize,
    /// Number of classes for class-conditional models (`None`: unconditional).
    pub num_classes: Option<usize>,
    /// Dropout probability inside every residual block.
    #[config(default = 0.1)]
    pub dropout: f64,
    /// GroupNorm groups asked for; the net uses `min(groups, base_channels)`.
    #[config(default = 32)]
    pub groups: usize,
    /// Zero-initialise the last convolution of every residual block, the attention output
    /// projections and the output convolution (DDPM's `init_scale = 0`): the initial network
    /// outputs exactly zero.
    #[config(default = true)]
    pub zero_init: bool,
}

impl UNetConfig {
    /// Output channels (`out_channels`, or `in_channels` when unset).
    pub fn output_channels(&self) -> usize {
        self.out_channels.unwrap_or(self.in_channels)
    }

    /// Features of the time (and class) embedding: `4 · base_channels`.
    pub fn time_embedding_dim(&self) -> usize {
        4 * self.base_channels
    }

    /// The GroupNorm groups every norm of the net uses: `min(groups, base_channels)`.
    pub fn effective_groups(&self) -> usize {
        clamped_groups(self.groups, self.base_channels)
    }

    /// Spatial size `[h, w]` of each level for an `image_size` input: the input size, then
    /// `⌈·/2⌉` per Downsample (28 → 14 → 7 with three levels).
    pub fn level_sizes(&self) -> Vec<[usize; 2]> {
        let mut sizes = vec![self.image_size];
        for _ in 1..self.channel_mults.len() {
            let [h, w] = sizes[sizes.len() - 1];
            sizes.push([downsampled_size(h), downsampled_size(w)]);
        }
        sizes
    }

    /// Channels of the trunk's output features ([`UNet::forward_trunk`]):
    /// `base_channels · channel_mults[0]`.
    pub fn trunk_channels(&self) -> usize {
        self.base_channels * self.channel_mults.first().copied().unwrap_or(1)
    }

    /// A fresh [`UNetHead`] with `out_channels` outputs for the trunk of this configuration
    /// (its GroupNorm has [`effective_groups`](Self::effective_groups) groups); its last
    /// convolution is zero-initialised when `zero_init`.
    ///
    /// # Errors
    /// The [`ConfigError`] of [`validate`](Validate::validate), or on `out_channels` if it is 0.
    pub fn init_head(
        &self,
        out_channels: usize,
        zero_init: bool,
        device: &Device,
    ) -> Result<UNetHead, ConfigError> {
        self.validate()?;
        positive("UNetConfig", "out_channels", out_channels)?;
        let c = self.trunk_channels();
        Ok(UNetHead {
            norm: group_norm(self.effective_groups(), c, device),
            conv: conv3x3(c, out_channels, zero_init, device),
        })
    }

    /// Whether level `i` (of [`level_sizes`](Self::level_sizes)) has attention.
    fn has_attention(&self, size: [usize; 2]) -> bool {
        self.attention_resolutions.contains(&size[0].min(size[1]))
    }

    fn res_block(&self, c_in: usize, c_out: usize) -> ResBlockConfig {
        ResBlockConfig::new(c_in, c_out)
            .with_context_dim(Some(self.time_embedding_dim()))
            .with_groups(self.effective_groups())
            .with_dropout(self.dropout)
            .with_zero_init(self.zero_init)
    }

    fn attention(&self, channels: usize) -> SelfAttention2dConfig {
        SelfAttention2dConfig::new(channels)
            .with_heads(self.attention_heads)
            .with_groups(self.effective_groups())
            .with_zero_init(self.zero_init)
    }
}

impl Validate for UNetConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        const C: &str = "UNetConfig";
        positive(C, "in_channels", self.in_channels)?;
        if let Some(c) = self.out_channels {
            positive(C, "out_channels", c)?;
        }
        if self.base_channels < MIN_TIMESTEP_EMBEDDING_DIM {
            return Err(ConfigError::new(
                C,
                "base_channels",
                format!(
                    "must be at least {MIN_TIMESTEP_EMBEDDING_DIM} (the sinusoidal time \
                     embedding has base_channels features), got {}",
                    self.base_channels
                ),
            ));
        }
        all_positive(C, "channel_mults", &self.channel_mults, true)?;
        positive(C, "num_res_blocks", self.num_res_blocks)?;
        positive(C, "image_size[0]", self.image_size[0])?;
        positive(C, "image_size[1]", self.image_size[1])?;
        if let Some(n) = self.num_classes {
            positive(C, "num_classes", n)?;
        }
        validate_dropout(C, "dropout", self.dropout)?;
        validate_groups(C, "groups", self.groups, self.base_channels)?;
        positive(C, "attention_heads", self.attention_heads)?;

        let sizes = self.level_sizes();
        let sides: Vec<usize> = sizes.iter().map(|[h, w]| (*h).min(*w)).collect();
        for (i, r) in self.attention_resolutions.iter().enumerate() {
            if !sides.contains(r) {
                return Err(ConfigError::new(
                    C,
                    format!("attention_resolutions[{i}]"),
                    format!(
                        "{r} is not the size of any level: a {:?} image gives levels {sides:?}; \
                         use some of those (or an empty list)",
                        self.image_size
                    ),
                ));
            }
        }
        let last = self.channel_mults.len() - 1;
        for (i, (&m, &size)) in self.channel_mults.iter().zip(&sizes).enumerate() {
            let channels = self.base_channels * m;
            if (i == last || self.has_attention(size))
                && !channels.is_multiple_of(self.attention_heads)
            {
                return Err(ConfigError::new(
                    C,
                    "attention_heads",
                    format!(
                        "{} heads do not divide the {channels} channels of level {i}, which \
                         has attention; use a divisor of {channels}",
                        self.attention_heads
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl UNetConfig {
    /// Validates the configuration, then initialises the network on `device`.
    ///
    /// # Errors
    /// The [`ConfigError`] of [`validate`](Validate::validate).
    pub fn try_init(&self, device: &Device) -> Result<UNet, ConfigError> {
        self.validate()?;
        let base = self.base_channels;
        let temb = self.time_embedding_dim();
        let sizes = self.level_sizes();
        let levels = self.channel_mults.len();
        let block = |c_in: usize, c_out: usize, size: [usize; 2]| -> UNetBlock {
            UNetBlock {
                res: self.res_block(c_in, c_out).init(device),
                attention: self
                    .has_attention(size)
                    .then(|| self.attention(c_out).init(device)),
            }
        };

        // Down path; `skip_channels` mirrors the forward pass's stack of skips.
        let mut skip_channels = vec![base];
        let mut c = base;
        let mut down = Vec::with_capacity(levels);
        for (i, &m) in self.channel_mults.iter().enumerate() {
            let c_out = base * m;
            let mut blocks = Vec::with_capacity(self.num_res_blocks);
            for _ in 0..self.num_res_blocks {
                blocks.push(block(c, c_out, sizes[i]));
                c = c_out;
                skip_channels.push(c);
            }
            let downsample = (i + 1 < levels).then(|| {
                skip_channels.push(c);
                DownsampleConfig::new(c).init(device)
            });
            down.push(UNetDownLevel { blocks, downsample });
        }

        let middle = UNetMiddle {
            res1: self.res_block(c, c).init(device),
            attention: self.attention(c).init(device),
            res2: self.res_block(c, c).init(device),
        };

        // Up path, deepest level first.
        let mut up = Vec::with_capacity(levels);
        for (i, &m) in self.channel_mults.iter().enumerate().rev() {
            let c_out = base * m;
            let mut blocks = Vec::with_capacity(self.num_res_blocks + 1);
            for _ in 0..=self.num_res_blocks {
                let skip = skip_channels.pop().expect("one skip per up block");
                blocks.push(block(c + skip, c_out, sizes[i]));
                c = c_out;
            }
            let upsample = (i > 0).then(|| UpsampleConfig::new(c).init(device));
            up.push(UNetUpLevel { blocks, upsample });
        }
        debug_assert!(skip_channels.is_empty());

        Ok(UNet {
            time_embedding: TimeEmbeddingConfig::new(base, temb).init(device),
            class_embedding: self
                .num_classes
                .map(|n| EmbeddingConfig::new(n, temb).init(device)),
            stem: conv3x3(self.in_channels, base, false, device),
            down,
            middle,
            up,
            head_norm: group_norm(self.effective_groups(), c, device),
            head_conv: conv3x3(c, self.output_channels(), self.zero_init, device),
        })
    }

    /// Initialises the network on `device`.
    ///
    /// # Panics
    /// With the [`ConfigError`] message if the configuration is invalid.
    pub fn init(&self, device: &Device) -> UNet {
        self.try_init(device).unwrap_or_else(|e| panic!("{e}"))
    }
}

/// A residual block, optionally followed by self-attention.
#[derive(Module, Debug)]
pub struct UNetBlock {
    /// The residual block (conditioned on the embedding).
    pub res: ResBlock,
    /// Attention after it, at the configured resolutions.
    pub attention: Option<SelfAttention2d>,
}

impl UNetBlock {
    /// # Shapes
    /// - x: `[batch, c_in, H, W]`, emb: `[batch, 4·base]`
    /// - output: `[batch, c_out, H, W]`
    pub fn forward(&self, x: Tensor<4>, emb: &Tensor<2>) -> Tensor<4> {
        let h = self.res.forward(x, Some(emb));
        match &self.attention {
            Some(a) => a.forward(h),
            None => h,
        }
    }
}

/// An output head on the U-Net's trunk features: `conv3×3(SiLU(GroupNorm(h)))`, the layout of
/// the U-Net's own output head ([`UNetConfig::init_head`]).
#[derive(Module, Debug)]
pub struct UNetHead {
    /// GroupNorm over the trunk's channels.
    pub norm: GroupNorm,
    /// 3×3 convolution to the head's channels.
    pub conv: Conv2d,
}

impl UNetHead {
    /// # Shapes
    /// - features: `[batch, base·mult[0], H, W]` ([`UNet::forward_trunk`])
    /// - output: `[batch, out_channels, H, W]`
    pub fn forward(&self, features: Tensor<4>) -> Tensor<4> {
        self.conv
            .forward(fused_group_norm_silu(&self.norm, features))
    }
}

/// One level of the down path.
#[derive(Module, Debug)]
pub struct UNetDownLevel {
    /// `num_res_blocks` blocks.
    pub blocks: Vec<UNetBlock>,
    /// Halving to the next level (none after the last level).
    pub downsample: Option<Downsample>,
}

/// The bottleneck: ResBlock → attention → ResBlock.
#[derive(Module, Debug)]
pub struct UNetMiddle {
    /// First residual block.
    pub res1: ResBlock,
    /// Self-attention at the lowest resolution.
    pub attention: SelfAttention2d,
    /// Second residual block.
    pub res2: ResBlock,
}

/// One level of the up path.
#[derive(Module, Debug)]
pub struct UNetUpLevel {
    /// `num_res_blocks + 1` blocks, each taking a skip connection.
    pub blocks: Vec<UNetBlock>,
    /// Resizing to the next (shallower) level's skip size (none after level 0).
    pub upsample: Option<Upsample>,
}

/// The DDPM U-Net (see the [module docs](self) and [`UNetConfig`]).
#[derive(Module, Debug)]
pub struct UNet {
    /// Time `t` → `[B, 4·base]`.
    pub time_embedding: TimeEmbedding,
    /// Class → `[B, 4·base]`, added to the time embedding, if class-conditional.
    pub class_embedding: Option<Embedding>,
    /// Input 3×3 convolution to `base_channels`.
    pub stem: Conv2d,
    /// Down levels, shallowest first.
    pub down: Vec<UNetDownLevel>,
    /// The bottleneck.
    pub middle: UNetMiddle,
    /// Up levels, deepest first (the order they run in).
    pub up: Vec<UNetUpLevel>,
    /// Output GroupNorm.
    pub head_norm: GroupNorm,
    /// Output 3×3 convolution to `out_channels`.
    pub head_conv: Conv2d,
}

impl UNet {
    /// Predicts from a noisy image, its (float) times and, for a class-conditional net, its
    /// classes.
    ///
    /// # Shapes
    /// - x: `[batch, in_channels, H, W]` (any `H, W ≥ 1`)
    /// - t: `[batch]`
    /// - class: `[batch]` class indices in `0..num_classes`, exactly when `num_classes` is set
    /// - output: `[batch, out_channels, H, W]`
    ///
    /// # Panics
    /// If `t` or `class` have another batch size than `x`, or `class` is given to an
    /// unconditional net or missing for a class-conditional one.
    pub fn forward(&self, x: Tensor<4>, t: Tensor<1>, class: Option<Tensor<1, Int>>) -> Tensor<4> {
        self.forward_head(self.forward_trunk(x, t, class))
    }

    /// The output head alone: `conv3×3(SiLU(GroupNorm(features)))`;
    /// `forward = forward_head ∘ forward_trunk`.
    ///
    /// # Shapes
    /// - features: `[batch, base·mult[0], H, W]`
    /// - output: `[batch, out_channels, H, W]`
    pub fn forward_head(&self, features: Tensor<4>) -> Tensor<4> {
        self.head_conv
            .forward(fused_group_norm_silu(&self.head_norm, features))
    }

    /// The trunk: everything before the output head (see the [module docs](self)).
    ///
    /// # Shapes
    /// - x: `[batch, in_channels, H, W]`, t: `[batch]`, class: as [`UNet::forward`]
    /// - output: `[batch, base·mult[0], H, W]`
    ///
    /// # Panics
    /// As [`UNet::forward`].
    pub fn forward_trunk(
        &self,
        x: Tensor<4>,
        t: Tensor<1>,
        class: Option<Tensor<1, Int>>,
    ) -> Tensor<4> {
        let [b, _, _, _] = x.dims();
        assert_eq!(t.dims(), [b], "UNet: t must have shape [batch] = [{b}]");
        let mut emb = self.time_embedding.forward(t);
        match (&self.class_embedding, class) {
            (Some(embedding), Some(class)) => {
                assert_eq!(
                    class.dims(),
                    [b],
                    "UNet: class must have shape [batch] = [{b}]"
                );
                let [_, d] = emb.dims();
                emb = emb + embedding.forward(class.reshape([b, 1])).reshape([b, d]);
            }
            (None, None) => {}
            (Some(_), None) => panic!(
                "UNet: built with `num_classes` but called without classes; pass a [batch] \
                 Int tensor of class indices"
            ),
            (None, Some(_)) => panic!(
                "UNet: called with classes but built without `num_classes`; set \
                 UNetConfig::num_classes to condition on a class"
            ),
        }

        let mut h = self.stem.forward(x);
        let mut skips = vec![h.clone()];
        for level in &self.down {
            for block in &level.blocks {
                h = block.forward(h, &emb);
                skips.push(h.clone());
            }
            if let Some(down) = &level.downsample {
                h = down.forward(h);
                skips.push(h.clone());
            }
        }

        h = self.middle.res1.forward(h, Some(&emb));
        h = self.middle.attention.forward(h);
        h = self.middle.res2.forward(h, Some(&emb));

        for level in &self.up {
            for block in &level.blocks {
                let skip = skips.pop().expect("one skip per up block");
                h = block.forward(crate::cat(vec![h, skip], 1), &emb);
            }
            if let Some(up) = &level.upsample {
                let [_, _, sh, sw] = skips.last().expect("a skip after each upsample").dims();
                h = up.forward_to(h, [sh, sw]);
            }
        }
        h
    }
}
