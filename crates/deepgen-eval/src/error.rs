//! The error type of this crate.

use std::path::PathBuf;

/// Everything that can go wrong while training, loading or using the evaluator.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    /// An argument has the wrong length or shape.
    #[error("{what}: expected {expected}, got {got}")]
    Shape {
        /// The argument (and function) at fault.
        what: &'static str,
        /// What was expected.
        expected: String,
        /// What was passed.
        got: String,
    },
    /// An input contains NaN or infinity.
    #[error(
        "{what} contains NaN or infinite values; check the generator's outputs before evaluating"
    )]
    NonFinite {
        /// The argument (and function) at fault.
        what: &'static str,
    },
    /// The Jacobi eigenvalue iteration did not converge.
    #[error(
        "symmetric eigendecomposition of a {n}×{n} matrix did not converge in {sweeps} sweeps; \
         the matrix is probably badly scaled (entries near f64 overflow)"
    )]
    NoConvergence {
        /// Sweeps performed.
        sweeps: usize,
        /// Matrix order.
        n: usize,
    },
    /// A configuration value is out of range; the [`ConfigError`](deepgen_tensor::ConfigError)
    /// names the config and the field.
    #[error(transparent)]
    Config(#[from] deepgen_tensor::ConfigError),
    /// The classifier checkpoint could not be read or written.
    #[error(
        "classifier checkpoint {path}: {message}. Rebuild it with `cargo run --release -p deepgen-eval \
         --bin train_classifier -- --out {path}` or set DEEPGEN_CLASSIFIER to a valid .bpk file"
    )]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// Burn's record error, printed.
        message: String,
    },
    /// A file (cache, checkpoint directory) could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// MNIST could not be loaded.
    #[error(transparent)]
    Data(#[from] deepgen_data::DataError),
}
