//! Downloading MNIST from public mirrors, verified by MD5 (cargo feature `download`).
//!
//! Each `.gz` file is fetched whole into memory, its MD5 compared with the
//! canonical value, then written to a temporary file in the target directory
//! and renamed into place, so an interrupted download never leaves a
//! half-written file under the real name. A file already present with the
//! right MD5 is not fetched again. Mirrors are tried in order per file.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use super::checksum::md5_hex;
use super::dataset::{MNIST_FILES, MnistFile};
use crate::error::DataError;

/// The public mirrors, tried in this order. Each serves `NAME.gz` under its prefix.
pub const MIRRORS: [&str; 2] = [
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
];

/// Refuse bodies larger than this (the largest MNIST file is 9.9 MB).
const MAX_BODY: u64 = 64 << 20;

/// Downloads the four canonical MNIST `.gz` files into `dir` (created if
/// needed) from [`MIRRORS`], honouring the usual proxy variables.
///
/// # Errors
/// [`DataError::Download`] naming the file and every URL tried with its
/// failure (network error, HTTP status, MD5 mismatch); [`DataError::Io`]
/// when `dir` cannot be created or written.
pub fn download_mnist(dir: &Path) -> Result<(), DataError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_resolve(Some(Duration::from_secs(30)))
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .build()
        .into();
    download_files(&agent, dir, &MIRRORS, &MNIST_FILES)
}

/// Downloads `files` into `dir` from `mirrors` (URL prefixes ending in `/`)
/// with `agent`, verifying each against its [`MnistFile::gz_md5`].
///
/// # Errors
/// As [`download_mnist`].
pub fn download_files(
    agent: &ureq::Agent,
    dir: &Path,
    mirrors: &[&str],
    files: &[MnistFile],
) -> Result<(), DataError> {
    std::fs::create_dir_all(dir).map_err(|source| DataError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    for file in files {
        let name = format!("{}.gz", file.name);
        let dest = dir.join(&name);
        if std::fs::read(&dest).is_ok_and(|b| md5_hex(&b) == file.gz_md5) {
            continue;
        }
        let mut failures = Vec::new();
        let mut body = None;
        for mirror in mirrors {
            let url = format!("{mirror}{name}");
            match fetch(agent, &url) {
                Ok(bytes) => {
                    let got = md5_hex(&bytes);
                    if got == file.gz_md5 {
                        body = Some(bytes);
                        break;
                    }
                    failures.push(format!(
                        "{url}: MD5 {got} does not match the canonical {}",
                        file.gz_md5
                    ));
                }
                Err(e) => failures.push(format!("{url}: {e}")),
            }
        }
        let Some(bytes) = body else {
            return Err(DataError::Download {
                name,
                detail: failures.join("; "),
            });
        };
        write_atomically(&dest, &bytes)?;
    }
    Ok(())
}

fn fetch(agent: &ureq::Agent, url: &str) -> Result<Vec<u8>, ureq::Error> {
    agent
        .get(url)
        .call()?
        .body_mut()
        .with_config()
        .limit(MAX_BODY)
        .read_to_vec()
}

/// Writes `bytes` to a temporary sibling of `dest`, syncs it, and renames it to `dest`.
fn write_atomically(dest: &Path, bytes: &[u8]) -> Result<(), DataError> {
    let file_name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dest.with_file_name(format!(".{file_name}.part-{}", std::process::id()));
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| DataError::Io { path, source }
    };
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(io_err(&tmp))?;
        f.write_all(bytes).map_err(io_err(&tmp))?;
        f.sync_all().map_err(io_err(&tmp))?;
        std::fs::rename(&tmp, dest).map_err(io_err(dest))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
