//! The error type of the autoencoder zoo.

use deepgen_tensor::ConfigError;

/// Why an autoencoder, its objective or its task cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum AeError {
    /// An encoder or decoder configuration is invalid.
    #[error(transparent)]
    Net(#[from] ConfigError),
    /// Two sizes that must agree do not.
    #[error("AutoencoderConfig: {what}: {left} ≠ {right}")]
    Mismatch {
        /// Which sizes.
        what: &'static str,
        /// The first size.
        left: usize,
        /// The second size.
        right: usize,
    },
    /// A parameter of an autoencoder kind is out of range.
    #[error("autoencoder kind `{kind}`: {field} = {value} {reason}")]
    Param {
        /// The kind's name.
        kind: &'static str,
        /// The parameter.
        field: &'static str,
        /// Its value.
        value: f64,
        /// What it must be.
        reason: &'static str,
    },
    /// Text that names no autoencoder kind.
    #[error(
        "cannot parse autoencoder kind `{given}`: {reason}; expected one of {}",
        super::AeKind::NAMES
    )]
    Parse {
        /// The text given.
        given: String,
        /// What was wrong.
        reason: String,
    },
    /// The model does not have the layer the kind needs (e.g. the contractive penalty).
    #[error("autoencoder kind `{kind}` cannot use this model: {reason}")]
    Model {
        /// The kind's name.
        kind: &'static str,
        /// What the model lacks and how to fix it.
        reason: String,
    },
    /// A task argument is invalid.
    #[error("AeTask: `{name}` {reason}")]
    Task {
        /// The argument.
        name: &'static str,
        /// What it must be.
        reason: String,
    },
}
