//! Hidden-layer activations by name, for command lines and configs.
//!
//! The networks here take Burn's [`ActivationConfig`]; this file maps the short names the
//! examples accept (`--activation relu`) onto it, so that every binary spells them alike, and
//! applies an initialised [`Activation`] with [`activate`].
//!
//! [`activate`] exists for one reason: Burn 0.22's ELU (`burn::tensor::activation::elu`)
//! computes `exp(x)` at every element and then keeps `x` where `x > 0`. For `x > 88.7` that
//! `exp` is `inf` in f32; the forward value is still right (masked away), but the backward pass
//! multiplies the masked branch's zero gradient by `exp(x) = inf` and every gradient upstream
//! becomes NaN. A stack of MAF steps with ELU MADEs hit exactly this on 8 gaussians (a
//! non-finite gradient of the first MADE layer after 200–350 steps at lr 1e-3). [`activate`]
//! evaluates the negative branch at `min(x, 0)` instead, so neither branch overflows; every
//! other activation is Burn's own.

use burn::nn::EluConfig;
use burn::nn::activation::{Activation, ActivationConfig};
use burn::tensor::Tensor;

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

/// `activation` applied to `x`, with an overflow-free ELU (see the [module docs](self)) and
/// `tanh` vectorised on flex ([`tanh`](crate::tanh())); the same values as
/// `activation.forward(x)` (tanh to ~2 ulp).
///
/// # Shapes
/// - x: any; the output has the same shape
pub fn activate<const D: usize>(activation: &Activation, x: Tensor<D>) -> Tensor<D> {
    match activation {
        Activation::Elu(elu) => safe_elu(x, elu.alpha),
        Activation::Tanh(_) => crate::tanh::tanh(x),
        other => other.forward(x),
    }
}

/// `ELU(x) = x` for `x > 0`, `α·(exp(x) − 1)` otherwise, with the exponential evaluated at
/// `min(x, 0)` so that neither branch (nor its gradient) overflows.
///
/// # Shapes
/// - x: any; the output has the same shape
pub fn safe_elu<const D: usize>(x: Tensor<D>, alpha: f64) -> Tensor<D> {
    let negative = x.clone().lower_equal_scalar(0.0);
    let scaled = x
        .clone()
        .clamp_max(0.0)
        .exp()
        .sub_scalar(1.0)
        .mul_scalar(alpha);
    x.mask_where(negative, scaled)
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
