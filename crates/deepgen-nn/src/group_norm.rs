//! How many GroupNorm groups a block uses, one rule for every block here.
//!
//! A config asks for `groups` (DDPM uses 32); a GroupNorm over `C` channels then uses
//! `min(groups, C)` groups — so small test networks with 8 or 16 channels work with the
//! default — and that number must divide `C`. [`UNetConfig`](crate::UNetConfig) clamps once to
//! `min(groups, base_channels)`, which then divides every channel count of the net (all are
//! multiples of `base_channels`).

use burn::nn::{GroupNorm, GroupNormConfig};
use burn::tensor::Device;
use deepgen_tensor::ConfigError;
use deepgen_tensor::config::positive;

/// The groups a GroupNorm over `channels` channels uses when `groups` are asked:
/// `min(groups, channels)`.
pub fn clamped_groups(groups: usize, channels: usize) -> usize {
    groups.min(channels)
}

/// Checks that `groups ≥ 1` and that [`clamped_groups`] divides `channels`.
///
/// # Errors
/// A [`ConfigError`] on `config.field` naming the channel count and a `groups` value that
/// would work.
pub fn validate_groups(
    config: &'static str,
    field: &str,
    groups: usize,
    channels: usize,
) -> Result<(), ConfigError> {
    positive(config, field, groups)?;
    let g = clamped_groups(groups, channels);
    if !channels.is_multiple_of(g) {
        let suggestion = (1..=g)
            .rev()
            .find(|d| channels.is_multiple_of(*d))
            .unwrap_or(1);
        return Err(ConfigError::new(
            config,
            field,
            format!(
                "a GroupNorm over {channels} channels would use min({groups}, {channels}) = {g} \
                 groups, which does not divide {channels}; use a divisor of {channels} such as \
                 {suggestion}"
            ),
        ));
    }
    Ok(())
}

/// A GroupNorm over `channels` with [`clamped_groups`] groups (ε = 1e-5, affine).
///
/// # Panics
/// If the clamped count does not divide `channels` (callers validate first).
pub(crate) fn group_norm(groups: usize, channels: usize, device: &Device) -> GroupNorm {
    GroupNormConfig::new(clamped_groups(groups, channels), channels).init(device)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamping_and_divisibility() {
        assert_eq!(clamped_groups(32, 8), 8);
        assert_eq!(clamped_groups(32, 128), 32);
        assert!(validate_groups("X", "groups", 32, 8).is_ok());
        assert!(validate_groups("X", "groups", 32, 96).is_ok());
        let e = validate_groups("X", "groups", 32, 48).unwrap_err();
        assert_eq!(e.field, "groups");
        assert!(e.reason.contains("such as 24"), "{e}");
        assert!(validate_groups("X", "groups", 0, 8).is_err());
    }
}
