//! One validation style for every deepgen configuration.
//!
//! Every config type (`*Config`, built with Burn's `#[derive(Config)]` or by hand) implements
//! [`Validate`]: `validate()` returns `Ok(())` or a [`ConfigError`] naming the config type, the
//! field and what is wrong with it. Construction goes through `try_init(&device)`, which calls
//! `validate()` first and returns the error; `init(&device)` is `try_init(..).unwrap_or_else(..)`
//! with the same message (Burn's modules panic on a bad config in `init`, and so do ours — but
//! with the field named). Command-line boundaries convert a `ConfigError` into their own error
//! (`TrainError::Config`) without losing the field name; clap rejects out-of-range flags itself
//! where it can (`value_parser = clap::value_parser!(u64).range(1..)`).
//!
//! The checks themselves are the helpers below ([`positive`], [`in_open_unit`], …) so that the
//! same condition is worded the same way everywhere.

use std::fmt;

/// A configuration field with an invalid value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{config}.{field}: {reason}")]
pub struct ConfigError {
    /// The config type, e.g. `"MlpConfig"`.
    pub config: &'static str,
    /// The field (or a dotted path into it), e.g. `"hidden"` or `"conv.shape"`.
    pub field: String,
    /// What is wrong and, where it helps, how to fix it.
    pub reason: String,
}

impl ConfigError {
    /// An error on `config.field`.
    pub fn new(config: &'static str, field: impl Into<String>, reason: impl fmt::Display) -> Self {
        Self {
            config,
            field: field.into(),
            reason: reason.to_string(),
        }
    }

    /// The same error seen from an enclosing config: `Outer.inner_field.field`.
    pub fn within(self, config: &'static str, field: &str) -> Self {
        Self {
            config,
            field: format!("{field}.{}", self.field),
            reason: self.reason,
        }
    }
}

/// What every deepgen config implements.
pub trait Validate {
    /// `Ok(())`, or the first invalid field.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the config, the field and the reason.
    fn validate(&self) -> Result<(), ConfigError>;
}

/// `value ≥ 1`.
///
/// # Errors
/// `"must be at least 1, got 0"`.
pub fn positive(config: &'static str, field: &str, value: usize) -> Result<(), ConfigError> {
    if value == 0 {
        Err(ConfigError::new(config, field, "must be at least 1, got 0"))
    } else {
        Ok(())
    }
}

/// Every element of `values` is ≥ 1 (and, if `non_empty`, there is at least one).
///
/// # Errors
/// Naming the first zero by index, or the empty list.
pub fn all_positive(
    config: &'static str,
    field: &str,
    values: &[usize],
    non_empty: bool,
) -> Result<(), ConfigError> {
    if non_empty && values.is_empty() {
        return Err(ConfigError::new(config, field, "must not be empty"));
    }
    match values.iter().position(|&v| v == 0) {
        Some(i) => Err(ConfigError::new(
            config,
            format!("{field}[{i}]"),
            format!("must be at least 1, got 0 (in {values:?})"),
        )),
        None => Ok(()),
    }
}

/// A finite `value > 0`.
///
/// # Errors
/// Naming the value when it is ≤ 0, NaN or infinite.
pub fn positive_finite(config: &'static str, field: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value > 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            config,
            field,
            format!("must be finite and > 0, got {value}"),
        ))
    }
}

/// A finite `value ≥ 0`.
///
/// # Errors
/// Naming the value when it is < 0, NaN or infinite.
pub fn non_negative(config: &'static str, field: &str, value: f64) -> Result<(), ConfigError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            config,
            field,
            format!("must be finite and ≥ 0, got {value}"),
        ))
    }
}

/// `0 < value < 1` (decays, dropout-like rates).
///
/// # Errors
/// Naming the value when it is outside the open unit interval.
pub fn in_open_unit(config: &'static str, field: &str, value: f64) -> Result<(), ConfigError> {
    if value > 0.0 && value < 1.0 {
        Ok(())
    } else {
        Err(ConfigError::new(
            config,
            field,
            format!("must be in (0, 1), got {value}"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_config_field_and_value() {
        let e = positive("MlpConfig", "input_dim", 0).unwrap_err();
        assert_eq!(
            e.to_string(),
            "MlpConfig.input_dim: must be at least 1, got 0"
        );
        let e = all_positive("UNetConfig", "channel_mults", &[1, 0, 2], true).unwrap_err();
        assert_eq!(e.field, "channel_mults[1]");
        assert!(all_positive("X", "h", &[], true).is_err());
        assert!(all_positive("X", "h", &[], false).is_ok());
        assert!(positive_finite("X", "lr", f64::NAN).is_err());
        assert!(positive_finite("X", "lr", 1e-3).is_ok());
        assert!(non_negative("X", "beta", 0.0).is_ok());
        assert!(non_negative("X", "beta", -1e-9).is_err());
        assert!(in_open_unit("Ema", "decay", 1.0).is_err());
        assert!(in_open_unit("Ema", "decay", 0.999).is_ok());
        let outer = positive("MlpConfig", "input_dim", 0)
            .unwrap_err()
            .within("VaeConfig", "encoder");
        assert_eq!(
            outer.to_string(),
            "VaeConfig.encoder.input_dim: must be at least 1, got 0"
        );
    }
}
