//! One split of MNIST (train, test or a held-out part) held as raw bytes.

use crate::error::DataError;

/// Images and labels of one split, as read from the IDX files.
///
/// `images` holds `len() * rows * cols` bytes (0 = background, 255 = ink),
/// image-major then row-major; `labels[i]` is the digit of image `i`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MnistSplit {
    /// Pixels of every image, `len() * rows * cols` bytes.
    pub images: Vec<u8>,
    /// One digit `0..=9` per image.
    pub labels: Vec<u8>,
    /// Image height in pixels (28 for MNIST).
    pub rows: usize,
    /// Image width in pixels (28 for MNIST).
    pub cols: usize,
}

impl MnistSplit {
    /// Number of images.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether the split holds no image.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Checks that `test` can evaluate a model trained on `self`: the same image size and at
    /// least one image.
    ///
    /// # Errors
    /// A message with both sizes and the test count, for the caller's error type.
    pub fn check_test_split(&self, test: &MnistSplit) -> Result<(), String> {
        if (self.rows, self.cols) != (test.rows, test.cols) || test.is_empty() {
            return Err(format!(
                "train images are {}×{}, test images {}×{} ({} of them); need equal sizes and \
                 at least one test image",
                self.rows,
                self.cols,
                test.rows,
                test.cols,
                test.len()
            ));
        }
        Ok(())
    }

    /// Pixels per image, `rows * cols`.
    pub fn pixels(&self) -> usize {
        self.rows * self.cols
    }

    /// The `rows * cols` pixels of image `i`.
    ///
    /// # Panics
    /// If `i >= self.len()`, like slice indexing.
    pub fn image(&self, i: usize) -> &[u8] {
        let d = self.pixels();
        &self.images[i * d..(i + 1) * d]
    }

    /// The first `n` images (all of them if `n >= len()`), e.g. for quick runs.
    pub fn subset(&self, n: usize) -> MnistSplit {
        let n = n.min(self.len());
        MnistSplit {
            images: self.images[..n * self.pixels()].to_vec(),
            labels: self.labels[..n].to_vec(),
            rows: self.rows,
            cols: self.cols,
        }
    }

    /// Counts of each digit `0..=9`.
    pub fn label_histogram(&self) -> [usize; 10] {
        let mut h = [0usize; 10];
        for &l in &self.labels {
            // Labels are validated to be digits when read; anything else is
            // ignored rather than panicking on a hand-built split.
            if let Some(c) = h.get_mut(l as usize) {
                *c += 1;
            }
        }
        h
    }

    /// The images with the given indices, in that order (indices may repeat).
    ///
    /// # Panics
    /// If an index is `>= self.len()`, like slice indexing.
    pub fn select(&self, idx: &[usize]) -> MnistSplit {
        let mut images = Vec::with_capacity(idx.len() * self.pixels());
        for &i in idx {
            images.extend_from_slice(self.image(i));
        }
        MnistSplit {
            images,
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            rows: self.rows,
            cols: self.cols,
        }
    }
}

/// Splits a training set into `(train, valid)`: `valid` is the **last**
/// `n_valid` images, `train` the ones before them.
///
/// Keeping the held-out part at the end (as in the classic 50 000 / 10 000
/// MNIST split) leaves the positions of the training images unchanged, so a
/// static binarisation keyed by position (see [`crate::Binarization`]) gives
/// the same bits before and after splitting.
///
/// # Errors
/// [`DataError::InvalidArgument`] if `n_valid > split.len()`.
pub fn split_validation(
    split: &MnistSplit,
    n_valid: usize,
) -> Result<(MnistSplit, MnistSplit), DataError> {
    let n = split.len();
    if n_valid > n {
        return Err(DataError::InvalidArgument {
            name: "n_valid",
            detail: format!(
                "asked for {n_valid} validation images but the split has only {n}; \
                 use at most {n}"
            ),
        });
    }
    let cut = n - n_valid;
    let d = split.pixels();
    let part = |a: usize, b: usize| MnistSplit {
        images: split.images[a * d..b * d].to_vec(),
        labels: split.labels[a..b].to_vec(),
        rows: split.rows,
        cols: split.cols,
    };
    Ok((part(0, cut), part(cut, n)))
}
