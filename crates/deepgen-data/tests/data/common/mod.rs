//! Helpers shared by the integration tests: temporary directories and crafted IDX files.
#![allow(dead_code)]

use std::io::Write;
use std::ops::Deref;
use std::path::{Path, PathBuf};

/// A fresh, empty temporary directory (from `tempfile`), removed when dropped; derefs to its
/// path.
pub struct TestDir(tempfile::TempDir);

impl Deref for TestDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        self.0.path()
    }
}

impl AsRef<Path> for TestDir {
    fn as_ref(&self) -> &Path {
        self.0.path()
    }
}

/// A fresh, empty directory under the system temp dir, named after `tag`.
pub fn temp_dir(tag: &str) -> TestDir {
    TestDir(
        tempfile::Builder::new()
            .prefix(&format!("deepgen-data-{tag}-"))
            .tempdir()
            .expect("create a temporary directory"),
    )
}

/// IDX bytes of an images file with the given header fields and body.
pub fn idx_images(count: u32, rows: u32, cols: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [0x0000_0803u32, count, rows, cols] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend_from_slice(body);
    v
}

/// IDX bytes of a labels file with the given count field and body.
pub fn idx_labels(count: u32, body: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [0x0000_0801u32, count] {
        v.extend_from_slice(&x.to_be_bytes());
    }
    v.extend_from_slice(body);
    v
}

/// Gzip-compresses `bytes`.
pub fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(bytes).unwrap();
    e.finish().unwrap()
}

/// Train: 3 images of 2x3 with pixels 0..18, labels [3, 1, 4].
pub fn train_images() -> Vec<u8> {
    idx_images(3, 2, 3, &(0u8..18).collect::<Vec<_>>())
}
/// Labels of [`train_images`].
pub fn train_labels() -> Vec<u8> {
    idx_labels(3, &[3, 1, 4])
}
/// Test: 2 images of 2x3 with pixels 255 - (0..12), labels [9, 0].
pub fn test_images() -> Vec<u8> {
    idx_images(2, 2, 3, &(0u8..12).map(|x| 255 - x).collect::<Vec<_>>())
}
/// Labels of [`test_images`].
pub fn test_labels() -> Vec<u8> {
    idx_labels(2, &[9, 0])
}

/// The four base names, in train-images, train-labels, test-images, test-labels order.
pub const NAMES: [&str; 4] = [
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
];

/// Writes the four valid tiny files into `dir`, gzip-compressed if `gzip`.
pub fn write_valid(dir: &Path, gzip: bool) {
    let contents = [train_images(), train_labels(), test_images(), test_labels()];
    for (name, bytes) in NAMES.iter().zip(contents) {
        write_file(dir, name, &bytes, gzip);
    }
}

/// Writes `bytes` as `dir/NAME` (or `dir/NAME.gz`, compressed, if `gzip`).
pub fn write_file(dir: &Path, name: &str, bytes: &[u8], gzip: bool) -> PathBuf {
    let path = if gzip {
        dir.join(format!("{name}.gz"))
    } else {
        dir.join(name)
    };
    let data = if gzip { gz(bytes) } else { bytes.to_vec() };
    std::fs::write(&path, data).unwrap();
    path
}
