//! Conditioners: the networks that read the conditioning part of a layer's input (and the
//! context) and emit the parameters of an [elementwise bijection](crate::elementwise).
//!
//! - [`MlpConditioner`] for vectors `[B, D]`: the context is concatenated to the input.
//! - [`ConvConditioner`] for images `[B, C, H, W]`: 3×3 conv → ReLU → 1×1 conv → ReLU → 3×3
//!   conv (RealNVP's and Glow's `NN()`), the context broadcast over `H × W` as extra input
//!   channels.
//!
//! Both emit `P·F` features (`F` = `D` or `C`) laid out **parameter-major**: feature
//! `p·F + f` is parameter `p` of input feature `f`. Both zero-initialise their last layer by
//! default, so a coupling layer starts as the identity map (Glow's "zero initialisation").

pub(crate) mod conv;
mod mlp;

pub use conv::{ConvConditioner, ConvConditionerConfig};
pub use mlp::{MlpConditioner, MlpConditionerConfig};
