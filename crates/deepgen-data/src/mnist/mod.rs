//! MNIST: strict IDX reading, the dataset type, where the files are found,
//! and (feature `download`) fetching them from public mirrors.
//!
//! Search order of [`Mnist::load`]: `--data DIR`, `$DEEPGEN_DATA`, the
//! repository's bundled `data/mnist/`, `./data/mnist`, the user cache, then a
//! verified download into the cache (see [`locate`]).

pub mod checksum;
pub mod dataset;
#[cfg(feature = "download")]
pub mod download;
pub mod idx;
pub mod locate;
pub mod split;

pub use checksum::md5_hex;
pub use dataset::{
    MNIST_FILES, Mnist, MnistFile, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS,
};
pub use locate::{SearchEnv, load_with};
pub use split::{MnistSplit, split_validation};
