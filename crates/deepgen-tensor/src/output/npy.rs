//! NumPy `.npy` files (format version 1.0), written byte-for-byte as
//! `numpy.save` writes them.
//!
//! Layout: the magic `\x93NUMPY`, version `1 0`, a little-endian `u16`
//! header length, then an ASCII Python dict
//! `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }` padded with
//! spaces and a final `\n` so that the data starts on a 64-byte boundary,
//! then the raw little-endian data in C order. Like NumPy ≥ 1.22 the dict is
//! followed by `21 - len(str(shape[0]))` spare spaces before the padding (room
//! for the first axis to grow in place).

use std::fs;
use std::io::Write;
use std::path::Path;

use super::OutputError;
use super::atomic::{write_atomic, write_err};

const MAGIC: &[u8; 6] = b"\x93NUMPY";
/// Data alignment NumPy uses (`numpy.lib.format.ARRAY_ALIGN`).
const ARRAY_ALIGN: usize = 64;
/// `numpy.lib.format.GROWTH_AXIS_MAX_DIGITS`.
const GROWTH_AXIS_MAX_DIGITS: usize = 21;

/// Python's `repr` of a shape tuple: `()`, `(3,)`, `(2, 3)`.
fn shape_repr(shape: &[usize]) -> String {
    match shape {
        [] => "()".to_string(),
        [d] => format!("({d},)"),
        _ => {
            let parts: Vec<String> = shape.iter().map(|d| d.to_string()).collect();
            format!("({})", parts.join(", "))
        }
    }
}

/// The complete v1.0 header (magic through the final newline) for `descr` and `shape`.
fn header_bytes(descr: &str, shape: &[usize]) -> Result<Vec<u8>, OutputError> {
    let mut dict = format!(
        "{{'descr': '{descr}', 'fortran_order': False, 'shape': {}, }}",
        shape_repr(shape)
    );
    if let Some(first) = shape.first() {
        let digits = first.to_string().len();
        dict.push_str(&" ".repeat(GROWTH_AXIS_MAX_DIGITS.saturating_sub(digits)));
    }
    // 6 magic + 2 version + 2 length bytes, then dict + padding + '\n'.
    let hlen = dict.len() + 1;
    let padlen = ARRAY_ALIGN - (10 + hlen) % ARRAY_ALIGN;
    let total = hlen + padlen;
    let len = u16::try_from(total).map_err(|_| {
        OutputError::arg(
            "shape",
            format!(
                "{} dimensions make the header too long for npy format 1.0",
                shape.len()
            ),
        )
    })?;
    let mut out = Vec::with_capacity(10 + total);
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&[1, 0]);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(dict.as_bytes());
    out.extend(std::iter::repeat_n(b' ', padlen));
    out.push(b'\n');
    Ok(out)
}

/// Checks `data_len == Π shape` and returns the product.
fn check_shape(shape: &[usize], data_len: usize) -> Result<(), OutputError> {
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| {
            OutputError::arg(
                "shape",
                format!("{shape:?} has more elements than fit in usize"),
            )
        })?;
    if count != data_len {
        return Err(OutputError::arg(
            "data",
            format!("has {data_len} elements but shape {shape:?} needs {count}"),
        ));
    }
    Ok(())
}

/// Writes `data` (C order) as a `.npy` array of `float32` (`'<f4'`) with `shape`.
///
/// `numpy.load(path)` returns an array equal to `data.reshape(shape)`. The
/// write is atomic and creates missing parent directories.
///
/// # Errors
/// [`OutputError::InvalidArgument`] naming `data` when `data.len()` is not the
/// product of `shape`; I/O errors naming `path`.
pub fn write_npy_f32(path: &Path, shape: &[usize], data: &[f32]) -> Result<(), OutputError> {
    check_shape(shape, data.len())?;
    let header = header_bytes("<f4", shape)?;
    write_atomic(path, |out| {
        out.write_all(&header).map_err(write_err(path))?;
        for v in data {
            out.write_all(&v.to_le_bytes()).map_err(write_err(path))?;
        }
        Ok(())
    })
}

/// Writes `data` (C order) as a `.npy` array of `int64` (`'<i8'`) with `shape`.
///
/// # Errors
/// As [`write_npy_f32`].
pub fn write_npy_i64(path: &Path, shape: &[usize], data: &[i64]) -> Result<(), OutputError> {
    check_shape(shape, data.len())?;
    let header = header_bytes("<i8", shape)?;
    write_atomic(path, |out| {
        out.write_all(&header).map_err(write_err(path))?;
        for v in data {
            out.write_all(&v.to_le_bytes()).map_err(write_err(path))?;
        }
        Ok(())
    })
}

/// Reads a C-order `float32` (`'<f4'`) `.npy` file (format 1.0, 2.0 or 3.0)
/// and returns `(shape, data)`.
///
/// # Errors
/// [`OutputError::NpyFormat`] naming `path` when the file is not an npy file,
/// its header is malformed, its dtype is not `'<f4'`, it is Fortran-ordered,
/// or its data length does not match the shape; [`OutputError::Io`] when it
/// cannot be read.
pub fn read_npy_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>), OutputError> {
    let bytes = fs::read(path).map_err(|source| OutputError::Io {
        action: "read",
        path: path.to_path_buf(),
        source,
    })?;
    let bad = |reason: String| OutputError::NpyFormat {
        path: path.to_path_buf(),
        reason,
    };
    if bytes.len() < 10 || &bytes[..6] != MAGIC {
        return Err(bad("missing the `\\x93NUMPY` magic; not an npy file".into()));
    }
    let (header_len, start) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10usize),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => {
            return Err(bad(format!(
                "unsupported npy format version {v}.{}",
                bytes[7]
            )));
        }
    };
    let data_start = start
        .checked_add(header_len)
        .filter(|&e| e <= bytes.len())
        .ok_or_else(|| {
            bad(format!(
                "header length {header_len} runs past the end of the file"
            ))
        })?;
    let header = std::str::from_utf8(&bytes[start..data_start])
        .map_err(|_| bad("header is not valid text".into()))?;
    let descr = dict_value(header, "descr")
        .ok_or_else(|| bad(format!("no 'descr' in header {header:?}")))?;
    let descr = descr.trim_matches(|c| c == '\'' || c == '"');
    if descr != "<f4" {
        return Err(bad(format!(
            "dtype is '{descr}', expected '<f4' (float32, little-endian); save with `numpy.save(path, a.astype('<f4'))`"
        )));
    }
    let fortran = dict_value(header, "fortran_order")
        .ok_or_else(|| bad(format!("no 'fortran_order' in header {header:?}")))?;
    match fortran {
        "False" => {}
        "True" => {
            return Err(bad(
                "array is Fortran-ordered; save `numpy.ascontiguousarray(a)` instead".into(),
            ));
        }
        other => {
            return Err(bad(format!(
                "fortran_order is {other:?}, expected True or False"
            )));
        }
    }
    let shape_text = dict_value(header, "shape")
        .ok_or_else(|| bad(format!("no 'shape' in header {header:?}")))?;
    let shape =
        parse_shape(shape_text).ok_or_else(|| bad(format!("malformed shape {shape_text:?}")))?;
    let count = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(format!("shape {shape:?} overflows usize")))?;
    let payload = &bytes[data_start..];
    if Some(payload.len()) != count.checked_mul(4) {
        return Err(bad(format!(
            "shape {shape:?} needs {count} float32 values but the file holds {} data bytes (truncated or corrupt)",
            payload.len()
        )));
    }
    let data = payload
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((shape, data))
}

/// The raw text of `key`'s value in a Python dict literal: up to the next
/// top-level comma or closing brace (parentheses are matched).
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let pos = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?;
    let rest = &header[pos + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    let mut depth = 0i32;
    for (i, ch) in rest.char_indices() {
        match ch {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 {
                    return Some(&rest[..=i]);
                }
            }
            ',' | '}' if depth == 0 => return Some(rest[..i].trim_end()),
            _ => {}
        }
    }
    None
}

/// Parses `()`, `(3,)`, `(2, 3)` into dimensions.
fn parse_shape(text: &str) -> Option<Vec<usize>> {
    let inner = text.trim().strip_prefix('(')?.strip_suffix(')')?;
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.trim_end_matches('L').parse().ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pads a header dict the way the bytes below show NumPy doing it.
    fn numpy_header(dict: &str) -> Vec<u8> {
        let mut v = b"\x93NUMPY\x01\x00v\x00".to_vec();
        v.extend_from_slice(dict.as_bytes());
        v.resize(127, b' ');
        v.push(b'\n');
        v
    }

    #[test]
    fn header_bytes_match_numpy() {
        // Python 3.11, NumPy 2.4.6:
        //   b = io.BytesIO(); numpy.save(b, numpy.zeros((2, 3), '<f4')); b.getvalue()[:128]
        //   == b"\x93NUMPY\x01\x00v\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
        //      + b" " * 58 + b"\n"          (header length 0x76 = 118, data at offset 128)
        // and likewise for shape (3,) of '<i8', shape () of '<f4'.
        let cases = [
            (
                "<f4",
                vec![2, 3],
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
            ),
            (
                "<i8",
                vec![3],
                "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
            ),
            (
                "<f4",
                vec![],
                "{'descr': '<f4', 'fortran_order': False, 'shape': (), }",
            ),
            (
                "<f4",
                vec![0, 3],
                "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }",
            ),
        ];
        for (descr, shape, dict) in cases {
            let got = header_bytes(descr, &shape).unwrap();
            assert_eq!(got, numpy_header(dict), "{descr} {shape:?}");
            assert_eq!(got.len() % 64, 0);
        }
    }

    #[test]
    fn file_bytes_match_numpy_and_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("sub/a.npy");
        let data = [1.5f32, -2.0, 0.25, 3.0, 4.0, 5.0];
        write_npy_f32(&path, &[2, 3], &data).unwrap();
        let bytes = fs::read(&path).unwrap();
        // numpy.save of numpy.array([[1.5, -2, 0.25], [3, 4, 5]], '<f4'): data bytes after the header.
        let numpy_data: [u8; 24] = [
            0, 0, 192, 63, 0, 0, 0, 192, 0, 0, 128, 62, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64,
        ];
        assert_eq!(&bytes[128..], &numpy_data);
        let (shape, back) = read_npy_f32(&path).unwrap();
        assert_eq!(shape, vec![2, 3]);
        assert_eq!(back, data);

        // Special values and 0-d / empty arrays survive too.
        let special = [f32::NAN, f32::INFINITY, -0.0, f32::MIN_POSITIVE];
        write_npy_f32(&path, &[4], &special).unwrap();
        let (shape, back) = read_npy_f32(&path).unwrap();
        assert_eq!(shape, vec![4]);
        assert!(back[0].is_nan() && back[1] == f32::INFINITY && back[2].is_sign_negative());
        write_npy_f32(&path, &[], &[7.0]).unwrap();
        assert_eq!(read_npy_f32(&path).unwrap(), (vec![], vec![7.0]));
        write_npy_f32(&path, &[0, 3], &[]).unwrap();
        assert_eq!(read_npy_f32(&path).unwrap(), (vec![0, 3], vec![]));
    }

    #[test]
    fn i64_bytes_match_numpy() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("labels.npy");
        write_npy_i64(&path, &[3], &[1, -2, 3]).unwrap();
        let bytes = fs::read(&path).unwrap();
        assert_eq!(
            &bytes[..128],
            numpy_header("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }")
        );
        // numpy.save of numpy.array([1, -2, 3], '<i8'): data bytes.
        #[rustfmt::skip]
        let numpy_data: [u8; 24] = [
            1, 0, 0, 0, 0, 0, 0, 0, 254, 255, 255, 255, 255, 255, 255, 255, 3, 0, 0, 0, 0, 0, 0, 0,
        ];
        assert_eq!(&bytes[128..], &numpy_data);
        // Reading it as f32 is a dtype error that says how to convert.
        let err = read_npy_f32(&path).unwrap_err().to_string();
        assert!(err.contains("'<i8'") && err.contains("astype"), "{err}");
    }

    #[test]
    fn long_first_axis_keeps_alignment() {
        // 21 digits of growth room shrink as the first axis grows; alignment must hold.
        for shape in [
            vec![123456789],
            vec![1, 2, 3, 4, 5, 6, 7, 8],
            vec![10usize.pow(15), 0],
        ] {
            let h = header_bytes("<f4", &shape).unwrap();
            assert_eq!(h.len() % 64, 0, "{shape:?}");
            assert_eq!(*h.last().unwrap(), b'\n');
        }
    }

    #[test]
    fn errors_name_argument_or_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("x.npy");
        let err = write_npy_f32(&path, &[2, 2], &[1.0; 3])
            .unwrap_err()
            .to_string();
        assert!(err.contains("`data`") && err.contains("[2, 2]"), "{err}");
        assert!(!path.exists());

        fs::write(&path, b"not an npy file").unwrap();
        let err = read_npy_f32(&path).unwrap_err().to_string();
        assert!(err.contains("x.npy") && err.contains("magic"), "{err}");

        write_npy_f32(&path, &[2, 2], &[1.0; 4]).unwrap();
        let mut bytes = fs::read(&path).unwrap();
        bytes.truncate(bytes.len() - 1);
        fs::write(&path, &bytes).unwrap();
        let err = read_npy_f32(&path).unwrap_err().to_string();
        assert!(err.contains("truncated"), "{err}");

        // Fortran order is rejected with a fix (header as numpy writes it for
        // numpy.asfortranarray(numpy.ones((2, 3), '<f4'))).
        let mut fortran =
            numpy_header("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }");
        fortran.extend_from_slice(&[0; 24]);
        fs::write(&path, &fortran).unwrap();
        let err = read_npy_f32(&path).unwrap_err().to_string();
        assert!(
            err.contains("Fortran") && err.contains("ascontiguousarray"),
            "{err}"
        );

        let err = read_npy_f32(&dir.join("missing.npy"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.npy"), "{err}");
    }
}
