//! Reading IDX files (the MNIST container format), raw or gzip-compressed.
//!
//! Layout: a big-endian `u32` magic whose third byte is the element type
//! (`0x08` = unsigned byte) and whose fourth is the number of dimensions,
//! then one big-endian `u32` per dimension, then the elements, row-major.
//! MNIST uses `0x00000803` (images: count, rows, cols) and `0x00000801`
//! (labels: count).
//!
//! The reader is strict: wrong magic, a header cut short, fewer or more data
//! bytes than the header announces, and a damaged gzip stream are all typed
//! errors naming the file. Decoding is a single pass: the header is read from
//! the (decompressing) stream, then the body is read straight into a buffer
//! of the announced size, then one probe checks for trailing bytes.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use crate::error::DataError;

/// IDX magic of an unsigned-byte, 3-dimensional file (MNIST images).
pub const IMAGES_MAGIC: u32 = 0x0000_0803;
/// IDX magic of an unsigned-byte, 1-dimensional file (MNIST labels).
pub const LABELS_MAGIC: u32 = 0x0000_0801;

/// At most this many bytes are reserved up front, whatever a header claims,
/// so a corrupt header cannot make the reader allocate absurd amounts before
/// the data proves to be there.
const MAX_RESERVE: usize = 1 << 28;

/// The content of an IDX images file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub count: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// `count * rows * cols` pixels, image-major then row-major.
    pub pixels: Vec<u8>,
}

/// Reads an IDX images file (`…-idx3-ubyte`, gzip if the name ends in `.gz`).
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    with_stream(path, |r, err| {
        let header = read_header(r, path, IMAGES_MAGIC, "images", 3, &err)?;
        let (count, rows, cols) = (header[0], header[1], header[2]);
        if rows == 0 || cols == 0 {
            return Err(DataError::BadDims {
                path: path.to_path_buf(),
                detail: format!(
                    "images of {rows}x{cols} pixels; rows and columns must be positive"
                ),
            });
        }
        let described = format!("{count} images of {rows}x{cols}");
        let expected = count
            .checked_mul(rows)
            .and_then(|n| n.checked_mul(cols))
            .ok_or_else(|| DataError::BadDims {
                path: path.to_path_buf(),
                detail: format!("{described} overflows the address space"),
            })?;
        let pixels = read_body(r, path, expected, &described, &err)?;
        Ok(IdxImages {
            count,
            rows,
            cols,
            pixels,
        })
    })
}

/// Reads an IDX labels file (`…-idx1-ubyte`, gzip if the name ends in `.gz`)
/// and checks that every label is a digit `0..=9`.
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    with_stream(path, |r, err| {
        let header = read_header(r, path, LABELS_MAGIC, "labels", 1, &err)?;
        let count = header[0];
        let labels = read_body(r, path, count, &format!("{count} labels"), &err)?;
        if let Some(index) = labels.iter().position(|&l| l > 9) {
            return Err(DataError::BadLabel {
                path: path.to_path_buf(),
                index,
                value: labels[index],
            });
        }
        Ok(labels)
    })
}

/// Whether a path names a gzip file (by its `.gz` extension).
pub fn is_gzip_path(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"))
}

/// Opens `path` as a byte stream (decompressing `.gz`) and hands it to `f`
/// together with the function that turns stream I/O errors into the right
/// [`DataError`] (`Gzip` for a decompressing stream, `Io` for a plain file).
fn with_stream<T>(
    path: &Path,
    f: impl FnOnce(&mut dyn Read, &dyn Fn(io::Error) -> DataError) -> Result<T, DataError>,
) -> Result<T, DataError> {
    let io_err = |source| DataError::Io {
        path: path.to_path_buf(),
        source,
    };
    if is_gzip_path(path) {
        // Read the compressed bytes first, so that file-system errors are
        // `Io` and every error of the decoder is unambiguously `Gzip`.
        let compressed = std::fs::read(path).map_err(io_err)?;
        let mut decoder = flate2::bufread::MultiGzDecoder::new(&compressed[..]);
        let gz_err = |source| DataError::Gzip {
            path: path.to_path_buf(),
            source,
        };
        f(&mut decoder, &gz_err)
    } else {
        let mut file = File::open(path).map_err(io_err)?;
        f(&mut file, &io_err)
    }
}

/// Reads as many bytes as fit in `buf`, stopping early only at end of stream.
fn read_up_to(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match r.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Reads and checks the magic and the `ndim` dimension sizes.
fn read_header(
    r: &mut dyn Read,
    path: &Path,
    magic: u32,
    what: &'static str,
    ndim: usize,
    err: &dyn Fn(io::Error) -> DataError,
) -> Result<Vec<usize>, DataError> {
    let needed = 4 + 4 * ndim;
    let mut buf = [0u8; 4 + 4 * 3];
    let buf = &mut buf[..needed];
    let found = read_up_to(r, &mut buf[..4]).map_err(err)?;
    if found < 4 {
        return Err(DataError::TruncatedHeader {
            path: path.to_path_buf(),
            what,
            needed,
            found,
        });
    }
    let got = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
    if got != magic {
        return Err(DataError::BadMagic {
            path: path.to_path_buf(),
            found: got,
            expected: magic,
            what,
        });
    }
    let found = 4 + read_up_to(r, &mut buf[4..]).map_err(err)?;
    if found < needed {
        return Err(DataError::TruncatedHeader {
            path: path.to_path_buf(),
            what,
            needed,
            found,
        });
    }
    Ok(buf[4..]
        .chunks_exact(4)
        .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]) as usize)
        .collect())
}

/// Reads exactly `expected` body bytes and checks that nothing follows.
fn read_body(
    r: &mut dyn Read,
    path: &Path,
    expected: usize,
    described: &str,
    err: &dyn Fn(io::Error) -> DataError,
) -> Result<Vec<u8>, DataError> {
    let mut data = Vec::with_capacity(expected.min(MAX_RESERVE));
    Read::take(&mut *r, expected as u64)
        .read_to_end(&mut data)
        .map_err(err)?;
    if data.len() < expected {
        return Err(DataError::Truncated {
            path: PathBuf::from(path),
            described: described.to_string(),
            expected,
            found: data.len(),
        });
    }
    let extra = io::copy(r, &mut io::sink()).map_err(err)? as usize;
    if extra > 0 {
        return Err(DataError::TrailingBytes {
            path: PathBuf::from(path),
            described: described.to_string(),
            expected,
            found: expected + extra,
            extra,
        });
    }
    Ok(data)
}
