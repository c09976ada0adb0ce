//! # deepgen-nn
//!
//! The networks every deepgen model family shares, written once against Burn's `Tensor<D>`.
//!
//! How the parts fit: [`Mlp`] and the stride-2 [`ConvEncoder`]/[`ConvDecoder`] (sizes from
//! [`conv_geometry`]) are the bodies of autoencoders and VAEs, interchangeable on flattened
//! data through [`EncoderNetConfig`]/[`DecoderNetConfig`]. The diffusion-style blocks —
//! [`ResBlock`] (GroupNorm, SiLU, 3×3 convs, an optional conditioning vector), [`Downsample`],
//! [`Upsample`] (to an exact size, for odd images), [`SelfAttention2d`] and the sinusoidal
//! [`timestep_embedding`] with its [`TimeEmbedding`] MLP — compose into the DDPM [`UNet`],
//! which flows, diffusion and VQ models reuse. Every 2-D convolution in the workspace is
//! [`Conv2d`] (and every transposed one [`ConvTranspose2d`]) from [`conv`]: Burn's layers and
//! records, computed on flex by deepgen's own batch-parallel im2col + GEMM kernels (a Burn
//! backend extension with its own backward), and [`silu()`], [`tanh()`] and
//! [`fused_group_norm`] (and [`fused_group_norm_silu`], both in one pass) are fused and vectorised there too, and
//! [`cat()`] copies the U-Net's skip concatenations in parallel, and [`scaled_dot_product_attention`]
//! runs [`SelfAttention2d`]'s products and softmax as parallel chunks of images with Burn's
//! roundings; every linear layer goes through [`linear()`] ([`forward_linear`]
//! for Burn's `Linear`), one GEMM into the bias rows on flex.
//! Every config implements [`Validate`](deepgen_tensor::Validate) and has `try_init` (a
//! [`ConfigError`](deepgen_tensor::ConfigError) naming the field) and `init` (panics with it).

pub mod activation;
pub mod attention;
pub mod cat;
pub mod conv;
pub mod conv_decoder;
pub mod conv_encoder;
pub mod conv_geometry;
pub mod downsample;
mod flex_kernels;
pub mod group_norm;
pub mod group_norm_kernel;
pub mod linear;
pub mod mlp;
pub mod net;
pub mod res_block;
pub mod self_attention2d;
pub mod silu;
mod small_gemm;
pub mod tanh;
pub mod time_embedding;
pub mod unet;
pub mod upsample;

pub use activation::{ACTIVATION_NAMES, activate, parse_activation, safe_elu};
pub use attention::scaled_dot_product_attention;
pub use cat::cat;
pub use conv::{
    Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig, conv_transpose2d, conv2d,
};
pub use conv_decoder::{ConvDecoder, ConvDecoderConfig};
pub use conv_encoder::{ConvEncoder, ConvEncoderConfig};
pub use conv_geometry::{block_output_padding, block_output_size, block_padding, block_sizes};
pub use downsample::{Downsample, DownsampleConfig, downsampled_size};
pub use group_norm::{clamped_groups, validate_groups};
pub use group_norm_kernel::{fused_group_norm, fused_group_norm_silu};
pub use linear::{forward_linear, linear};
pub use mlp::{Mlp, MlpConfig};
pub use net::{DecoderNet, DecoderNetConfig, EncoderNet, EncoderNetConfig};
pub use res_block::{ResBlock, ResBlockConfig};
pub use self_attention2d::{SelfAttention2d, SelfAttention2dConfig};
pub use silu::silu;
pub use tanh::tanh;
pub use time_embedding::{
    MIN_TIMESTEP_EMBEDDING_DIM, TimeEmbedding, TimeEmbeddingConfig, timestep_embedding,
    timestep_frequencies,
};
pub use unet::{UNet, UNetBlock, UNetConfig, UNetDownLevel, UNetHead, UNetMiddle, UNetUpLevel};
pub use upsample::{Upsample, UpsampleConfig};
