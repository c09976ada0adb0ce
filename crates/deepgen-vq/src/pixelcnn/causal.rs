//! The convolutions and shifts that make the two stacks causal, built from Burn's
//! [`Conv2d`] with asymmetric explicit padding (`PaddingConfig2d::Explicit(top, left, bottom,
//! right)`; Burn pads the input with zeros on each side as given, on every backend and in the
//! backward pass) plus `narrow` crops.
//!
//! With `p = k / 2` for an odd kernel size `k`:
//!
//! | conv | kernel | padding (top, left, bottom, right) | output at `(i, j)` sees input |
//! | --- | --- | --- | --- |
//! | vertical | `(p + 1, k)` | `(p, p, 0, p)` | rows `i − p ..= i`, columns `j − p ..= j + p` |
//! | horizontal, mask B | `(1, p + 1)` | `(0, p, 0, 0)` | row `i`, columns `j − p ..= j` |
//! | horizontal, mask A | `(1, p + 1)` | `(0, p + 1, 0, 0)`, last column cropped | row `i`, columns `j − p − 1 ..= j − 1` |
//!
//! The vertical stack at row `i` therefore depends on input rows `≤ i`; [`shift_down`] moves it
//! one row down before it feeds the horizontal stack, so that the horizontal stack at `(i, j)`
//! sees only rows `< i` through it, and row `i`, columns `< j` through its own convolutions.
//! Every output row depends only on rows at or above it, so a map cropped to its first `r`
//! rows gives the same outputs on those rows (used by sampling).

use burn::nn::PaddingConfig2d;
use burn::tensor::{Device, Tensor};
use deepgen_nn::conv::{Conv2d, Conv2dConfig};

/// The vertical-stack convolution (see the [module docs](self)): `in_channels → out_channels`,
/// kernel `(k/2 + 1, k)`, padded so that the output keeps the input's height and width.
pub fn vertical_conv(
    in_channels: usize,
    out_channels: usize,
    kernel_size: usize,
    device: &Device,
) -> Conv2d {
    let p = kernel_size / 2;
    Conv2dConfig::new([in_channels, out_channels], [p + 1, kernel_size])
        .with_padding(PaddingConfig2d::Explicit(p, p, 0, p))
        .init(device)
}

/// The horizontal-stack convolution (see the [module docs](self)): kernel `(1, k/2 + 1)`;
/// with `mask_a` its left padding is one column wider, so its output is one column wider than
/// the input and must be cut back with [`crop_width`] (which excludes the current column).
pub fn horizontal_conv(
    in_channels: usize,
    out_channels: usize,
    kernel_size: usize,
    mask_a: bool,
    device: &Device,
) -> Conv2d {
    let p = kernel_size / 2;
    let left = if mask_a { p + 1 } else { p };
    Conv2dConfig::new([in_channels, out_channels], [1, p + 1])
        .with_padding(PaddingConfig2d::Explicit(0, left, 0, 0))
        .init(device)
}

/// A 1×1 convolution `in_channels → out_channels`.
pub fn pointwise_conv(in_channels: usize, out_channels: usize, device: &Device) -> Conv2d {
    Conv2dConfig::new([in_channels, out_channels], [1, 1]).init(device)
}

/// Moves a map one row down: row `i` of the output is row `i − 1` of the input, row 0 is zero.
///
/// # Shapes
/// - x: `[B, C, H, W]`
/// - output: `[B, C, H, W]`
pub fn shift_down(x: Tensor<4>) -> Tensor<4> {
    let [_, _, h, _] = x.dims();
    x.pad([(1, 0), (0, 0)], 0.0).narrow(2, 0, h)
}

/// The first `width` columns of a map (drops what a wider left padding added on the right).
///
/// # Shapes
/// - x: `[B, C, H, W']` with `W' ≥ width`
/// - output: `[B, C, H, width]`
pub fn crop_width(x: Tensor<4>, width: usize) -> Tensor<4> {
    x.narrow(3, 0, width)
}
