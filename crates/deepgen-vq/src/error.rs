//! Errors of the VQ tasks and examples.

use deepgen_tensor::ConfigError;

/// What went wrong building or running a VQ model or task.
#[derive(Debug, thiserror::Error)]
pub enum VqError {
    /// A configuration value is invalid (names the config, field and reason).
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Two sizes that must agree do not.
    #[error("{what}: {left} vs {right}")]
    Mismatch {
        /// What was compared.
        what: &'static str,
        /// The first size.
        left: usize,
        /// The second size.
        right: usize,
    },
    /// Bad task or data arguments.
    #[error("invalid {name}: {reason}")]
    Task {
        /// The argument.
        name: &'static str,
        /// Why it is invalid and how to fix it.
        reason: String,
    },
}
