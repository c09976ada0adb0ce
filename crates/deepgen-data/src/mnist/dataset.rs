//! The MNIST dataset: the four IDX files of one directory, checked together.

use std::path::{Path, PathBuf};

use super::idx::{IdxImages, read_idx_images, read_idx_labels};
use super::split::MnistSplit;
use crate::error::DataError;

/// One of the four canonical MNIST files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MnistFile {
    /// Base name without `.gz`, e.g. `train-images-idx3-ubyte`.
    pub name: &'static str,
    /// MD5 of the canonical `.gz` file on the public mirrors.
    pub gz_md5: &'static str,
}

/// Training images (60 000 × 28 × 28).
pub const TRAIN_IMAGES: MnistFile = MnistFile {
    name: "train-images-idx3-ubyte",
    gz_md5: "f68b3c2dcbeaaa9fbdd348bbdeb94873",
};
/// Training labels (60 000).
pub const TRAIN_LABELS: MnistFile = MnistFile {
    name: "train-labels-idx1-ubyte",
    gz_md5: "d53e105ee54ea40749a09fcbcd1e9432",
};
/// Test images (10 000 × 28 × 28).
pub const TEST_IMAGES: MnistFile = MnistFile {
    name: "t10k-images-idx3-ubyte",
    gz_md5: "9fb629c4189551a2d022fa330f9573f3",
};
/// Test labels (10 000).
pub const TEST_LABELS: MnistFile = MnistFile {
    name: "t10k-labels-idx1-ubyte",
    gz_md5: "ec29112dd5afa0611ce80d1b7f02629c",
};

/// All four files, in the order train images, train labels, test images, test labels.
pub const MNIST_FILES: [MnistFile; 4] = [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS];

/// MNIST: the 60 000-image training split and the 10 000-image test split (t10k).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mnist {
    /// The training split (`train-*` files).
    pub train: MnistSplit,
    /// The test split (`t10k-*` files).
    pub test: MnistSplit,
    /// The directory the files were read from.
    pub source: PathBuf,
}

impl Mnist {
    /// One line for an example's first output: `MNIST from DIR (60000 train / 10000 test)`.
    pub fn describe(&self) -> String {
        format!(
            "MNIST from {} ({} train / {} test)",
            self.source.display(),
            self.train.len(),
            self.test.len()
        )
    }

    /// Reads the four MNIST files from `dir`.
    ///
    /// Each file may be gzip (`NAME.gz`, preferred when both exist) or raw
    /// (`NAME`). If `dir` holds none of the four files but has a `mnist`
    /// subdirectory, that subdirectory is read instead, so `--data data` and
    /// `--data data/mnist` both work.
    ///
    /// # Errors
    /// Any [`DataError`] of the IDX reader, [`DataError::MissingFile`] for an
    /// absent file, [`DataError::CountMismatch`] when images and labels of a
    /// split disagree. Images of the two splits must also agree in size
    /// ([`DataError::BadDims`]).
    pub fn load_dir(dir: &Path) -> Result<Mnist, DataError> {
        let dir = mnist_dir_in(dir);
        let paths: Vec<PathBuf> = MNIST_FILES
            .iter()
            .map(|f| find_file(&dir, f.name))
            .collect::<Result<_, _>>()?;
        // The training images are 85 % of the bytes: decode them on a second
        // thread while this one reads the other three files.
        let (train_images, rest) = std::thread::scope(|s| {
            let handle = s.spawn(|| read_idx_images(&paths[0]));
            let rest = (|| {
                let train_labels = read_idx_labels(&paths[1])?;
                let test_images = read_idx_images(&paths[2])?;
                let test_labels = read_idx_labels(&paths[3])?;
                Ok::<_, DataError>((train_labels, test_images, test_labels))
            })();
            // The reader never panics on bad input; a panic here would be a bug
            // worth propagating as is.
            let train_images = handle
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            (train_images, rest)
        });
        let train_images = train_images?;
        let (train_labels, test_images, test_labels) = rest?;
        let train = make_split(train_images, train_labels, &paths[0], &paths[1])?;
        let test = make_split(test_images, test_labels, &paths[2], &paths[3])?;
        if (train.rows, train.cols) != (test.rows, test.cols) {
            return Err(DataError::BadDims {
                path: paths[2].clone(),
                detail: format!(
                    "test images are {}x{} but training images ({}) are {}x{}",
                    test.rows,
                    test.cols,
                    paths[0].display(),
                    train.rows,
                    train.cols
                ),
            });
        }
        Ok(Mnist {
            train,
            test,
            source: dir,
        })
    }
}

/// `dir` itself if it holds any MNIST file, else `dir/mnist` if that is a
/// directory, else `dir` (whose error will then name the missing files).
pub fn mnist_dir_in(dir: &Path) -> PathBuf {
    let has_any = MNIST_FILES.iter().any(|f| find_file(dir, f.name).is_ok());
    let sub = dir.join("mnist");
    if !has_any && sub.is_dir() {
        sub
    } else {
        dir.to_path_buf()
    }
}

/// `dir/NAME.gz` if it exists, else `dir/NAME`, else [`DataError::MissingFile`].
pub fn find_file(dir: &Path, name: &'static str) -> Result<PathBuf, DataError> {
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    Err(DataError::MissingFile {
        dir: dir.to_path_buf(),
        name,
    })
}

fn make_split(
    images: IdxImages,
    labels: Vec<u8>,
    images_path: &Path,
    labels_path: &Path,
) -> Result<MnistSplit, DataError> {
    if images.count != labels.len() {
        return Err(DataError::CountMismatch {
            images: images_path.to_path_buf(),
            n_images: images.count,
            labels: labels_path.to_path_buf(),
            n_labels: labels.len(),
        });
    }
    Ok(MnistSplit {
        images: images.pixels,
        labels,
        rows: images.rows,
        cols: images.cols,
    })
}
