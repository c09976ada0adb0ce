//! Crafted IDX files: every valid form loads exactly, every defect is a typed
//! error whose message names the offending file.

use crate::common;

use common::*;
use deepgen_data::mnist::idx::{read_idx_images, read_idx_labels};
use deepgen_data::{DataError, Mnist};

fn assert_names(err: &DataError, path: &std::path::Path) {
    let msg = err.to_string();
    assert!(
        msg.contains(&path.display().to_string()),
        "message does not name {path:?}: {msg}"
    );
}

#[test]
fn valid_raw_loads_exactly() {
    let dir = temp_dir("raw");
    write_valid(&dir, false);
    let m = Mnist::load_dir(&dir).unwrap();
    assert_eq!(m.source, *dir);
    assert_eq!(
        (m.train.len(), m.train.rows, m.train.cols, m.train.pixels()),
        (3, 2, 3, 6)
    );
    assert_eq!(m.train.images, (0u8..18).collect::<Vec<_>>());
    assert_eq!(m.train.labels, vec![3, 1, 4]);
    assert_eq!(m.train.image(1), &[6, 7, 8, 9, 10, 11]);
    assert_eq!(m.test.len(), 2);
    assert_eq!(m.test.image(1), &[249, 248, 247, 246, 245, 244]);
    assert_eq!(m.test.labels, vec![9, 0]);
}

#[test]
fn valid_gzip_equals_raw_and_mixed_works() {
    let raw = temp_dir("raw2");
    write_valid(&raw, false);
    let gzd = temp_dir("gz");
    write_valid(&gzd, true);
    let mixed = temp_dir("mixed");
    write_file(&mixed, NAMES[0], &train_images(), true);
    write_file(&mixed, NAMES[1], &train_labels(), false);
    write_file(&mixed, NAMES[2], &test_images(), false);
    write_file(&mixed, NAMES[3], &test_labels(), true);
    let a = Mnist::load_dir(&raw).unwrap();
    let b = Mnist::load_dir(&gzd).unwrap();
    let c = Mnist::load_dir(&mixed).unwrap();
    assert_eq!((&a.train, &a.test), (&b.train, &b.test));
    assert_eq!((&a.train, &a.test), (&c.train, &c.test));
}

#[test]
fn gzip_is_preferred_when_both_forms_exist() {
    let dir = temp_dir("both");
    write_valid(&dir, true);
    // A raw train-labels file with different (still valid) content.
    write_file(&dir, NAMES[1], &idx_labels(3, &[7, 7, 7]), false);
    assert_eq!(Mnist::load_dir(&dir).unwrap().train.labels, vec![3, 1, 4]);
}

#[test]
fn mnist_subdirectory_is_found() {
    let dir = temp_dir("parent");
    let sub = dir.join("mnist");
    std::fs::create_dir_all(&sub).unwrap();
    write_valid(&sub, true);
    let m = Mnist::load_dir(&dir).unwrap();
    assert_eq!(m.source, sub);
}

#[test]
fn bad_magic_is_reported() {
    let dir = temp_dir("magic");
    write_valid(&dir, false);
    // An images file carrying the labels magic.
    let mut bytes = train_images();
    bytes[3] = 0x01;
    let path = write_file(&dir, NAMES[0], &bytes, false);
    let err = Mnist::load_dir(&dir).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::BadMagic {
                found: 0x801,
                expected: 0x803,
                what: "images",
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path);
    // A labels file carrying the images magic.
    let path = write_file(&dir, "labels", &idx_images(1, 1, 1, &[0]), false);
    let err = read_idx_labels(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::BadMagic {
                found: 0x803,
                expected: 0x801,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path);
}

#[test]
fn truncated_data_is_reported_with_counts() {
    let dir = temp_dir("trunc");
    let full = train_images();
    let path = write_file(&dir, NAMES[0], &full[..16 + 10], true);
    let err = read_idx_images(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::Truncated {
                expected: 18,
                found: 10,
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert_eq!(
        msg,
        format!(
            "{}: truncated: header says 3 images of 2x3 (18 bytes) but only 10 bytes follow",
            path.display()
        )
    );
}

#[test]
fn truncated_header_is_reported() {
    let dir = temp_dir("trunchead");
    let path = write_file(&dir, NAMES[0], &train_images()[..10], false);
    let err = read_idx_images(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::TruncatedHeader {
                needed: 16,
                found: 10,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path);
    let path = write_file(&dir, NAMES[1], &[0, 0], false);
    let err = read_idx_labels(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::TruncatedHeader {
                needed: 8,
                found: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path);
}

#[test]
fn trailing_bytes_are_reported() {
    let dir = temp_dir("trail");
    let mut bytes = train_labels();
    bytes.extend_from_slice(&[1, 2, 3, 4, 5]);
    let path = write_file(&dir, NAMES[1], &bytes, true);
    let err = read_idx_labels(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::TrailingBytes {
                expected: 3,
                found: 8,
                extra: 5,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path);
}

#[test]
fn count_mismatch_names_both_files() {
    let dir = temp_dir("count");
    write_valid(&dir, false);
    let labels = write_file(&dir, NAMES[3], &idx_labels(3, &[1, 2, 3]), false);
    let err = Mnist::load_dir(&dir).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::CountMismatch {
                n_images: 2,
                n_labels: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &labels);
    assert_names(&err, &dir.join(NAMES[2]));
}

#[test]
fn label_above_nine_is_reported() {
    let dir = temp_dir("label");
    let path = write_file(&dir, NAMES[1], &idx_labels(3, &[3, 10, 4]), true);
    let err = read_idx_labels(&path).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::BadLabel {
                index: 1,
                value: 10,
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &path);
}

#[test]
fn zero_sized_images_are_bad_dims() {
    let dir = temp_dir("dims");
    let path = write_file(&dir, NAMES[0], &idx_images(3, 0, 28, &[]), false);
    let err = read_idx_images(&path).unwrap_err();
    assert!(matches!(err, DataError::BadDims { .. }), "{err:?}");
    assert_names(&err, &path);
}

#[test]
fn corrupt_gzip_is_reported() {
    let dir = temp_dir("gzbad");
    // 1. Damaged deflate data / CRC: flip bytes in the middle of the stream.
    let mut bytes = gz(&train_images());
    let mid = bytes.len() / 2;
    for b in &mut bytes[mid - 2..mid + 2] {
        *b ^= 0xA5;
    }
    let path = dir.join("flipped.gz");
    std::fs::write(&path, &bytes).unwrap();
    let err = read_idx_images(&path).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err:?}");
    assert_names(&err, &path);
    // 2. A gzip stream cut short.
    let bytes = gz(&train_images());
    let path = dir.join("cut.gz");
    std::fs::write(&path, &bytes[..bytes.len() - 6]).unwrap();
    let err = read_idx_images(&path).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err:?}");
    assert_names(&err, &path);
    // 3. Not gzip at all, but named .gz.
    let path = dir.join("plain.gz");
    std::fs::write(&path, train_images()).unwrap();
    let err = read_idx_images(&path).unwrap_err();
    assert!(matches!(err, DataError::Gzip { .. }), "{err:?}");
    assert!(err.to_string().contains("corrupt gzip stream"), "{err}");
}

#[test]
fn missing_file_is_reported() {
    let dir = temp_dir("missing");
    write_valid(&dir, true);
    std::fs::remove_file(dir.join(format!("{}.gz", NAMES[2]))).unwrap();
    let err = Mnist::load_dir(&dir).unwrap_err();
    assert!(
        matches!(
            err,
            DataError::MissingFile {
                name: "t10k-images-idx3-ubyte",
                ..
            }
        ),
        "{err:?}"
    );
    assert_names(&err, &dir);
    assert!(
        err.to_string().contains("t10k-images-idx3-ubyte.gz"),
        "{err}"
    );
}

#[test]
fn unreadable_path_is_io_error() {
    let dir = temp_dir("io");
    let path = dir.join("does-not-exist-idx3-ubyte");
    let err = read_idx_images(&path).unwrap_err();
    assert!(matches!(err, DataError::Io { .. }), "{err:?}");
    assert_names(&err, &path);
}
