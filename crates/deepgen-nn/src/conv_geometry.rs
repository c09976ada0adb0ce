//! Shape arithmetic of the stride-2 blocks shared by [`ConvEncoder`](crate::ConvEncoder) and
//! [`ConvDecoder`](crate::ConvDecoder), kept apart so that both (and their tests) compute
//! sizes the same way.
//!
//! Every encoder block is a `kernel × kernel` convolution with stride 2 and symmetric padding
//! `p = ⌊(kernel − 1)/2⌋`. A side of length `n` becomes
//!
//! ```text
//! n' = ⌊(n + 2p − kernel)/2⌋ + 1        (kernel 4: ⌊n/2⌋, kernel 3: ⌈n/2⌉)
//! ```
//!
//! so 28 → 14 → 7 with either kernel, 17 × 23 → 8 × 11 → 4 × 5 with kernel 4. The mirrored
//! stride-2 transposed convolution with the same kernel and padding and the output padding
//!
//! ```text
//! op = (n + 2p − kernel) mod 2   ∈ {0, 1}
//! ```
//!
//! gives `(n' − 1)·2 − 2p + kernel + op = n` exactly, for every side length `n`.

use deepgen_tensor::ConfigError;
use deepgen_tensor::config::{all_positive, positive};

/// Padding of a stride-2 block with this kernel: `⌊(kernel − 1)/2⌋`.
pub fn block_padding(kernel: usize) -> usize {
    kernel.saturating_sub(1) / 2
}

/// Side length after one stride-2 block: `⌊(n + 2p − kernel)/2⌋ + 1`, or `None` if the block
/// does not fit (`n + 2p < kernel`).
pub fn block_output_size(n: usize, kernel: usize) -> Option<usize> {
    let p = block_padding(kernel);
    (n + 2 * p)
        .checked_sub(kernel)
        .map(|r| r / 2 + 1)
        .filter(|&s| s > 0)
}

/// Output padding of the transposed convolution that maps the side `block_output_size(n)`
/// back to exactly `n`: `(n + 2p − kernel) mod 2`.
///
/// # Panics
/// If the block does not fit (`n + 2p < kernel`; [`block_sizes`] reports that as an error).
pub fn block_output_padding(n: usize, kernel: usize) -> usize {
    (n + 2 * block_padding(kernel) - kernel) % 2
}

/// Spatial sizes `[H, W]` before the first and after every stride-2 block (`blocks + 1`
/// entries, the first being `[h, w]`).
///
/// # Errors
/// A [`ConfigError`] on `config`: field `kernel` for a kernel below 2, field `channels` when
/// the image is too small for that many blocks (a side would reach zero).
pub fn block_sizes(
    config: &'static str,
    h: usize,
    w: usize,
    blocks: usize,
    kernel: usize,
) -> Result<Vec<[usize; 2]>, ConfigError> {
    if kernel < 2 {
        return Err(ConfigError::new(
            config,
            "kernel",
            format!("is {kernel}; stride-2 blocks need a kernel of at least 2 (3 or 4 are usual)"),
        ));
    }
    let mut sizes = vec![[h, w]];
    for block in 1..=blocks {
        let [a, b] = sizes[block - 1];
        match (block_output_size(a, kernel), block_output_size(b, kernel)) {
            (Some(a), Some(b)) => sizes.push([a, b]),
            _ => {
                return Err(ConfigError::new(
                    config,
                    "channels",
                    format!(
                        "a {h}×{w} image is too small for {blocks} stride-2 blocks with kernel \
                         {kernel} (the feature map after block {block} would be empty); use \
                         fewer `channels` or a larger image"
                    ),
                ));
            }
        }
    }
    Ok(sizes)
}

/// The checks shared by the conv encoder and decoder configs: positive `[C, H, W]` (field
/// `shape_field`), a positive feature count (field `dim.0`), at least one block of positive
/// channels, and an image that survives the blocks. Returns the sizes of [`block_sizes`].
pub(crate) fn validate_conv(
    config: &'static str,
    shape_field: &str,
    shape: [usize; 3],
    channels: &[usize],
    kernel: usize,
    dim: (&str, usize),
) -> Result<Vec<[usize; 2]>, ConfigError> {
    let [c, h, w] = shape;
    for (i, v) in [c, h, w].into_iter().enumerate() {
        positive(config, &format!("{shape_field}[{i}]"), v)?;
    }
    positive(config, dim.0, dim.1)?;
    if channels.is_empty() {
        return Err(ConfigError::new(
            config,
            "channels",
            "is empty; give at least one block (e.g. [32, 64]) or use an MLP",
        ));
    }
    all_positive(config, "channels", channels, true)?;
    block_sizes(config, h, w, channels.len(), kernel)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_output_paddings_by_hand() {
        assert_eq!(block_padding(4), 1);
        assert_eq!(block_padding(3), 1);
        assert_eq!(block_padding(5), 2);
        assert_eq!(block_output_size(28, 4), Some(14));
        assert_eq!(block_output_size(7, 4), Some(3));
        assert_eq!(block_output_size(7, 3), Some(4));
        assert_eq!(block_output_size(1, 4), None);
        // 17 → 8 with kernel 4: (8 − 1)·2 − 2 + 4 + op = 17 → op = 1.
        assert_eq!(block_output_padding(17, 4), 1);
        assert_eq!(block_output_padding(28, 3), 1);
        assert_eq!(block_output_padding(28, 4), 0);
    }
}
