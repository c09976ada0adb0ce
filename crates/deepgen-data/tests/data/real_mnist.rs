//! The real MNIST bundled in the repository (`data/mnist/`): counts, label
//! histograms, pixel sums and byte-exactness against the published MD5s.
//!
//! Reference values were computed from the same files with Python 3
//! (`gzip` + NumPy 2.4.6): `np.bincount(labels)`, `images.astype(int64).sum()`.

use deepgen_data::mnist::locate::{BUNDLED_DIR, SearchEnv, load_with};
use deepgen_data::mnist::md5_hex;
use deepgen_data::{Mnist, MnistSplit};

fn bundled() -> Mnist {
    Mnist::load_dir(std::path::Path::new(BUNDLED_DIR)).expect("bundled MNIST must load")
}

/// The decompressed IDX file rebuilt from a split (images or labels).
fn idx_bytes(split: &MnistSplit, images: bool) -> Vec<u8> {
    let mut v = Vec::new();
    let header: Vec<u32> = if images {
        vec![
            0x803,
            split.len() as u32,
            split.rows as u32,
            split.cols as u32,
        ]
    } else {
        vec![0x801, split.len() as u32]
    };
    for h in header {
        v.extend_from_slice(&h.to_be_bytes());
    }
    v.extend_from_slice(if images { &split.images } else { &split.labels });
    v
}

#[test]
fn counts_histograms_and_pixel_sums() {
    let m = bundled();
    assert_eq!((m.train.len(), m.train.rows, m.train.cols), (60000, 28, 28));
    assert_eq!((m.test.len(), m.test.rows, m.test.cols), (10000, 28, 28));
    assert_eq!(m.train.images.len(), 60000 * 784);
    assert_eq!(
        m.describe(),
        format!(
            "MNIST from {} (60000 train / 10000 test)",
            m.source.display()
        )
    );
    assert_eq!(
        m.train.label_histogram(),
        [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    );
    assert_eq!(
        m.test.label_histogram(),
        [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    );
    // Python: train sum 1567298545, test sum 264923200; first train image sums
    // to 27525 and is a 5; first test image sums to 18454 and is a 7.
    let sum = |s: &MnistSplit| s.images.iter().map(|&x| x as u64).sum::<u64>();
    assert_eq!(sum(&m.train), 1_567_298_545);
    assert_eq!(sum(&m.test), 264_923_200);
    assert_eq!(
        m.train.image(0).iter().map(|&x| x as u64).sum::<u64>(),
        27525
    );
    assert_eq!(
        m.test.image(0).iter().map(|&x| x as u64).sum::<u64>(),
        18454
    );
    assert_eq!(&m.train.labels[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(&m.test.labels[..10], &[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]);
}

#[test]
fn content_is_byte_identical_to_the_canonical_files() {
    // MD5s of the decompressed canonical files, from data/mnist/README.md.
    let m = bundled();
    assert_eq!(
        md5_hex(&idx_bytes(&m.train, true)),
        "6bbc9ace898e44ae57da46a324031adb"
    );
    assert_eq!(
        md5_hex(&idx_bytes(&m.train, false)),
        "a25bea736e30d166cdddb491f175f624"
    );
    assert_eq!(
        md5_hex(&idx_bytes(&m.test, true)),
        "2646ac647ad5339dbf082846283269ea"
    );
    assert_eq!(
        md5_hex(&idx_bytes(&m.test, false)),
        "27ae3e4e09519cfbb04c329615203637"
    );
}

#[test]
fn search_finds_the_bundled_copy_without_network() {
    let env = SearchEnv {
        bundled: Some(BUNDLED_DIR.into()),
        no_download: true,
        ..SearchEnv::default()
    };
    let m = load_with(None, &env, |_| panic!("must not download")).unwrap();
    assert_eq!(m.train.len(), 60000);
    assert_eq!(m.source, std::path::PathBuf::from(BUNDLED_DIR));
}
