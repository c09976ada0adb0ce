//! Atomic file writes: temporary file in the same directory, then rename.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::OutputError;

/// The temporary sibling of `path` used while writing it: same directory,
/// extension replaced by `tmp.<pid>.<counter>` so concurrent writers never collide.
fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_extension(format!("tmp.{}.{n}", std::process::id()))
}

/// Writes `path` atomically: creates missing parent directories, lets
/// `write` fill a temporary file next to `path`, flushes and syncs it, then
/// renames it onto `path`. On any error the temporary file is removed and
/// `path` is left untouched.
pub(crate) fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<File>) -> Result<(), OutputError>,
) -> Result<(), OutputError> {
    if path.file_name().is_none() {
        return Err(OutputError::arg(
            "path",
            format!(
                "`{}` does not name a file; pass a file path such as `out/samples.png`",
                path.display()
            ),
        ));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|source| OutputError::Io {
            action: "create directory",
            path: parent.to_path_buf(),
            source,
        })?;
    }
    let tmp = temp_path(path);
    let result = (|| {
        let file = File::create(&tmp).map_err(|source| OutputError::Io {
            action: "create temporary file",
            path: tmp.clone(),
            source,
        })?;
        let mut out = BufWriter::new(file);
        write(&mut out)?;
        let io_err = |source| OutputError::Io {
            action: "write",
            path: tmp.clone(),
            source,
        };
        out.flush().map_err(io_err)?;
        let file = out.into_inner().map_err(|e| io_err(e.into_error()))?;
        file.sync_all().map_err(io_err)?;
        fs::rename(&tmp, path).map_err(|source| OutputError::Io {
            action: "rename temporary file onto",
            path: path.to_path_buf(),
            source,
        })
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Maps an I/O error while writing to the temporary file of `path`.
pub(crate) fn write_err(path: &Path) -> impl Fn(std::io::Error) -> OutputError + '_ {
    move |source| OutputError::Io {
        action: "write",
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `bytes` to `path` atomically (temporary sibling, `fsync`, rename), creating missing
/// parent directories. A crash leaves either the old file or the new one, never a torn file.
///
/// # Errors
/// [`OutputError::Io`] naming the path and the failed action.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<(), OutputError> {
    write_atomic(path, |out| out.write_all(bytes).map_err(write_err(path)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn creates_parents_and_leaves_no_temporary_file() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let target = dir.join("a/b/c.bin");
        write_atomic(&target, |w| {
            w.write_all(b"hello").map_err(write_err(&target))
        })
        .unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"hello");
        let names: Vec<_> = fs::read_dir(dir.join("a/b"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("c.bin")]);
    }

    #[test]
    fn failed_write_keeps_old_file_and_removes_temporary() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let target = dir.join("keep.bin");
        fs::write(&target, b"old").unwrap();
        let err = write_atomic(&target, |w| {
            w.write_all(b"partial").map_err(write_err(&target))?;
            Err(OutputError::arg("data", "simulated failure"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("simulated failure"));
        assert_eq!(fs::read(&target).unwrap(), b"old");
        assert_eq!(fs::read_dir(dir).unwrap().count(), 1);
    }

    #[test]
    fn unwritable_parent_is_an_error_naming_the_path() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let blocker = dir.join("file");
        fs::write(&blocker, b"x").unwrap();
        // A regular file cannot be a parent directory.
        let target = blocker.join("child.bin");
        let err = write_atomic(&target, |_| Ok(())).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("create directory") && msg.contains("file"),
            "{msg}"
        );
    }
}
