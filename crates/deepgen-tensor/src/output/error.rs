//! The error type of the output module.

use std::path::PathBuf;

/// Why writing or reading an output file failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// A file-system operation on `path` failed.
    #[error(
        "{action} `{path}` failed: {source} (check that the directory is writable and the disk is not full)"
    )]
    Io {
        /// What was being done ("create directory", "write", "rename onto", "read" ...).
        action: &'static str,
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying I/O error.
        source: std::io::Error,
    },
    /// PNG encoding of `path` failed.
    #[error("encoding PNG `{path}` failed: {source}")]
    Png {
        /// The PNG being written.
        path: PathBuf,
        /// The encoder's error.
        source: png::EncodingError,
    },
    /// Drawing the plot destined for `path` failed inside the plotting library.
    #[error("drawing the plot for `{path}` failed: {reason}")]
    Plot {
        /// The PNG that was to be written (it is left untouched).
        path: PathBuf,
        /// The plotting library's error.
        reason: String,
    },
    /// An argument is inconsistent or out of range.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// The parameter's name as in the function signature.
        name: &'static str,
        /// What is wrong and how to fix it.
        reason: String,
    },
    /// A `.npy` file could not be parsed or has an unsupported layout.
    #[error("cannot read npy file `{path}`: {reason}")]
    NpyFormat {
        /// The file being read.
        path: PathBuf,
        /// What is wrong and how to fix it.
        reason: String,
    },
}

impl OutputError {
    /// Shorthand for [`OutputError::InvalidArgument`].
    pub(crate) fn arg(name: &'static str, reason: impl Into<String>) -> Self {
        OutputError::InvalidArgument {
            name,
            reason: reason.into(),
        }
    }
}
