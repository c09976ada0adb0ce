//! The one error type of the training loop.

use std::path::PathBuf;

/// Everything that can stop [`Trainer::fit`](crate::Trainer::fit) or an example.
///
/// Each message is one line that says what went wrong and, where there is
/// one, how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The device could not be selected (unknown name, backend not compiled in).
    #[error(transparent)]
    Device(#[from] deepgen_tensor::DeviceError),
    /// The data could not be loaded.
    #[error(transparent)]
    Data(#[from] deepgen_data::DataError),
    /// A PNG / npy / plot could not be written.
    #[error(transparent)]
    Output(#[from] deepgen_tensor::output::OutputError),
    /// A loss or metric became NaN or infinite.
    #[error(
        "training diverged at step {step} (epoch {epoch}): `{metric}` is {value}; the last good \
         checkpoint is kept in {checkpoint_dir} — lower the learning rate (--lr) or enable \
         gradient clipping, then --resume"
    )]
    NonFiniteLoss {
        /// Global optimizer step (0-based) whose forward pass produced the value.
        step: u64,
        /// Epoch (0-based).
        epoch: usize,
        /// Name of the loss or metric.
        metric: String,
        /// The offending value.
        value: f64,
        /// Where the last good checkpoint lives.
        checkpoint_dir: PathBuf,
    },
    /// A gradient became NaN or infinite.
    #[error(
        "training diverged at step {step} (epoch {epoch}): the gradient of parameter `{param}` \
         is not finite; the last good checkpoint is kept in {checkpoint_dir} — lower the \
         learning rate (--lr) or enable gradient clipping, then --resume"
    )]
    NonFiniteGradient {
        /// Global optimizer step (0-based).
        step: u64,
        /// Epoch (0-based).
        epoch: usize,
        /// Path of the first parameter whose gradient is not finite.
        param: String,
        /// Where the last good checkpoint lives.
        checkpoint_dir: PathBuf,
    },
    /// A checkpoint could not be written or read.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// File or directory concerned.
        path: PathBuf,
        /// What went wrong and how to fix it.
        reason: String,
    },
    /// Plain file-system error with the path it concerns.
    #[error("{path}: {source}")]
    Io {
        /// File or directory concerned.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An invalid configuration value.
    #[error("invalid configuration: `{name}` {reason}")]
    Config {
        /// The option or field at fault.
        name: String,
        /// What is wrong with it and what is expected.
        reason: String,
    },
}

impl TrainError {
    /// Shorthand for [`TrainError::Config`].
    pub fn config(name: impl Into<String>, reason: impl Into<String>) -> Self {
        TrainError::Config {
            name: name.into(),
            reason: reason.into(),
        }
    }

    /// Shorthand for [`TrainError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        TrainError::Io {
            path: path.into(),
            source,
        }
    }
}
