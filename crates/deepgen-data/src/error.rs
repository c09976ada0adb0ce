//! The one error type of this crate.
//!
//! Every variant that concerns a file carries its path, and every message
//! says what is wrong and, where there is one, how to fix it. Nothing in this
//! crate panics on bad files, bad directories or bad configuration strings.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong while finding, reading or preparing data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file exists (or was expected to) but could not be read.
    #[error("{path}: cannot read: {source}")]
    Io {
        /// The file that could not be read.
        path: PathBuf,
        /// The operating system's reason.
        #[source]
        source: std::io::Error,
    },

    /// A `.gz` file is not a valid gzip stream (bad header, bad CRC, cut short…).
    #[error(
        "{path}: corrupt gzip stream: {source} (the file is damaged or not gzip; \
         copy or download it again, or store it decompressed without the .gz suffix)"
    )]
    Gzip {
        /// The compressed file.
        path: PathBuf,
        /// The decoder's reason.
        #[source]
        source: std::io::Error,
    },

    /// The IDX magic number is not the one expected for this kind of file.
    #[error(
        "{path}: bad magic number 0x{found:08x}, expected 0x{expected:08x} ({what}); \
         this is not an MNIST {what} file"
    )]
    BadMagic {
        /// The offending file.
        path: PathBuf,
        /// The first four bytes, big-endian.
        found: u32,
        /// The magic an IDX file of this kind must start with.
        expected: u32,
        /// `"images"` or `"labels"`.
        what: &'static str,
    },

    /// The file ends before its IDX header does.
    #[error(
        "{path}: truncated header: an IDX {what} header needs {needed} bytes but the file has {found}"
    )]
    TruncatedHeader {
        /// The offending file.
        path: PathBuf,
        /// `"images"` or `"labels"`.
        what: &'static str,
        /// Header length in bytes.
        needed: usize,
        /// Bytes actually present.
        found: usize,
    },

    /// Header dimensions that cannot describe a dataset (zero rows, overflow…).
    #[error("{path}: bad dimensions: {detail}")]
    BadDims {
        /// The offending file.
        path: PathBuf,
        /// What is wrong with the dimensions.
        detail: String,
    },

    /// Fewer data bytes follow the header than the header announces.
    #[error(
        "{path}: truncated: header says {described} ({expected} bytes) but only {found} bytes follow"
    )]
    Truncated {
        /// The offending file.
        path: PathBuf,
        /// The header's content in words, e.g. `60000 images of 28x28`.
        described: String,
        /// Bytes the header announces.
        expected: usize,
        /// Bytes actually present after the header.
        found: usize,
    },

    /// More data bytes follow the header than the header announces.
    #[error(
        "{path}: trailing bytes: header says {described} ({expected} bytes) but {found} bytes follow \
         ({extra} too many); the file is damaged or the header is wrong"
    )]
    TrailingBytes {
        /// The offending file.
        path: PathBuf,
        /// The header's content in words.
        described: String,
        /// Bytes the header announces.
        expected: usize,
        /// Bytes actually present after the header.
        found: usize,
        /// `found - expected`.
        extra: usize,
    },

    /// An image file and its label file disagree on the number of records.
    #[error(
        "{images}: has {n_images} images but {labels} has {n_labels} labels; \
         the two files must come from the same split"
    )]
    CountMismatch {
        /// The image file.
        images: PathBuf,
        /// Its record count.
        n_images: usize,
        /// The label file.
        labels: PathBuf,
        /// Its record count.
        n_labels: usize,
    },

    /// A label outside `0..=9`.
    #[error("{path}: label {value} at index {index} is not a digit 0-9")]
    BadLabel {
        /// The label file.
        path: PathBuf,
        /// Position of the first bad label.
        index: usize,
        /// Its value.
        value: u8,
    },

    /// Neither `NAME.gz` nor `NAME` exists in a directory.
    #[error("{dir}: missing {name}: neither {name}.gz nor {name} exists there")]
    MissingFile {
        /// The directory searched.
        dir: PathBuf,
        /// The IDX base name, e.g. `train-images-idx3-ubyte`.
        name: &'static str,
    },

    /// Every place MNIST may come from was tried and none worked.
    #[error("{}", NotFoundDisplay(.attempts))]
    NotFound {
        /// Each place tried, in order, with why it failed.
        attempts: Vec<Attempt>,
    },

    /// A downloaded file failed its checksum or could not be fetched or stored.
    #[error("download of {name} failed: {detail}")]
    Download {
        /// The file being fetched, e.g. `train-images-idx3-ubyte.gz`.
        name: String,
        /// Every URL tried and what went wrong.
        detail: String,
    },

    /// An invalid configuration (e.g. a [`crate::BatchPlan`] with `batch_size` 0); the
    /// [`ConfigError`](deepgen_tensor::ConfigError) names the config and the field.
    #[error(transparent)]
    Config(#[from] deepgen_tensor::ConfigError),

    /// A bad argument to a data function (split too large…).
    #[error("invalid argument `{name}`: {detail}")]
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// What is wrong and what would be accepted.
        detail: String,
    },

    /// An unknown name for a [`crate::ToyDensity`] or [`crate::Binarization`].
    #[error("unknown {what} `{given}`; valid names: {valid}")]
    UnknownName {
        /// What was being named, e.g. `toy density`.
        what: &'static str,
        /// The string given.
        given: String,
        /// The accepted names, comma-separated.
        valid: String,
    },
}

/// One place MNIST was looked for, and why it did not work.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// Where: e.g. `bundled data/mnist (/work/main/data/mnist)`.
    pub place: String,
    /// Why it failed, e.g. the message of the [`DataError`] it produced.
    pub reason: String,
}

struct NotFoundDisplay<'a>(&'a [Attempt]);

impl fmt::Display for NotFoundDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "MNIST not found; tried, in order:")?;
        for (i, a) in self.0.iter().enumerate() {
            writeln!(f, "  {}. {}: {}", i + 1, a.place, a.reason)?;
        }
        write!(
            f,
            "fix: pass --data DIR (a directory holding train-images-idx3-ubyte[.gz], \
             train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], t10k-labels-idx1-ubyte[.gz]), \
             or set DEEPGEN_DATA=DIR, or copy the four files into data/mnist/ of the repository"
        )
    }
}
