//! The one error type of the training loop.

use std::path::PathBuf;

use deepgen_tensor::ConfigError;

/// Everything that can stop [`Trainer::fit`](crate::Trainer::fit) or an example.
///
/// Each message is one line that says what went wrong and, where there is
/// one, how to fix it.
#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    /// The device could not be selected (unknown name, backend not compiled in).
    #[error(transparent)]
    Device(#[from] deepgen_tensor::DeviceError),
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
    /// A task hook returned a model whose parameters no longer carry the ids the optimizer
    /// state is keyed by.
    #[error(
        "`Task::{hook}` returned a model whose parameter `{param}` {problem}; the optimizer \
         state is keyed by ParamId, so a hook must keep every parameter's id — change values \
         with `Param::map` (or `Param::initialized(param.id, ..)`), never with a fresh `Param`"
    )]
    HookChangedParams {
        /// `before_first_step` or `after_step`.
        hook: &'static str,
        /// Path of the first parameter concerned, e.g. `flow.0.actnorm.scale`.
        param: String,
        /// What changed (`has a new ParamId`, `is missing`, …).
        problem: String,
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
    /// An invalid configuration value: a field of a config type (`Trainer.ema_decay`) or a
    /// command-line flag (`batch-size`).
    #[error("invalid configuration: `{}` {reason}", qualified(.config, .name))]
    Config {
        /// The config type when the error came from a [`ConfigError`] (`"Trainer"`), `None`
        /// for a flag or option named on its own.
        config: Option<&'static str>,
        /// The option or field at fault (a dotted path inside `config`, when there is one).
        name: String,
        /// What is wrong with it and what is expected.
        reason: String,
    },
}

fn qualified(config: &Option<&'static str>, name: &str) -> String {
    match config {
        Some(c) => format!("{c}.{name}"),
        None => name.to_string(),
    }
}

impl From<ConfigError> for TrainError {
    /// Keeps the config type and field: `Trainer.ema_decay: must be in (0, 1), got 1.5`
    /// becomes ``invalid configuration: `Trainer.ema_decay` must be in (0, 1), got 1.5``.
    fn from(e: ConfigError) -> Self {
        TrainError::Config {
            config: Some(e.config),
            name: e.field,
            reason: e.reason,
        }
    }
}

impl TrainError {
    /// Shorthand for a [`TrainError::Config`] naming a flag or option on its own
    /// (`TrainError::config("batch-size", "must be at least 1")`).
    pub fn config(name: impl Into<String>, reason: impl Into<String>) -> Self {
        TrainError::Config {
            config: None,
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

    /// The [`ConfigError`] behind a [`TrainError::Config`] that came from one (`None` for
    /// other variants and for flags named on their own).
    pub fn config_error(&self) -> Option<ConfigError> {
        match self {
            TrainError::Config {
                config: Some(config),
                name,
                reason,
            } => Some(ConfigError::new(config, name.clone(), reason)),
            _ => None,
        }
    }
}
