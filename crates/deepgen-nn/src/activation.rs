//! Hidden-layer activations by name, for command lines and configs.
//!
//! The networks here take Burn's [`ActivationConfig`]; this file maps the short names the
//! examples accept (`--activation relu`) onto it, so that every binary spells them alike.

use burn::nn::EluConfig;
use burn::nn::activation::ActivationConfig;

/// The names [`parse_activation`] accepts, in the order the error message lists them.
pub const ACTIVATION_NAMES: [&str; 5] = ["relu", "tanh", "elu", "sigmoid", "gelu"];

/// Parses a hidden activation name: `relu`, `tanh`, `elu` (α = 1), `sigmoid` or `gelu`.
///
/// Usable directly as a clap `value_parser`.
///
/// # Errors
/// A message naming the unknown text and the accepted names.
pub fn parse_activation(s: &str) -> Result<ActivationConfig, String> {
    match s {
        "relu" => Ok(ActivationConfig::Relu),
        "tanh" => Ok(ActivationConfig::Tanh),
        "elu" => Ok(ActivationConfig::Elu(EluConfig::new())),
        "sigmoid" => Ok(ActivationConfig::Sigmoid),
        "gelu" => Ok(ActivationConfig::Gelu),
        _ => Err(format!(
            "unknown activation `{s}`: expected one of {}",
            ACTIVATION_NAMES.join(", ")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_name_parses_and_others_are_rejected() {
        for name in ACTIVATION_NAMES {
            assert!(parse_activation(name).is_ok(), "{name}");
        }
        assert!(matches!(
            parse_activation("tanh"),
            Ok(ActivationConfig::Tanh)
        ));
        let e = parse_activation("ReLU").unwrap_err();
        assert!(e.contains("`ReLU`") && e.contains("relu, tanh"), "{e}");
    }
}
