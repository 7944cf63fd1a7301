//! Files in and out: checkpoints in safetensors ([`save`], [`load`],
//! [`load_into`]) and 8-bit PNG images ([`image`]); PNG and JPEG files
//! decoded and resized for image folders (`decode`, `resize`).
//!
//! Every write is atomic: the bytes go to `<path>.tmp` in the same
//! directory, are flushed to disk (`fsync`), and only then renamed over
//! `path`. A failure at any point removes the temporary file and leaves
//! whatever was at `path` untouched, so a crash during a save never
//! destroys the previous good checkpoint.

pub(crate) mod decode;
pub mod image;
pub(crate) mod resize;
mod safetensors;

#[cfg(feature = "onnx")]
pub(crate) use self::safetensors::f16_to_f32;
pub use self::safetensors::{load, load_into, save, Checkpoint};

use crate::error::{Error, Result};
use std::ffi::OsString;
use std::fs::{self, File};
use std::path::{Path, PathBuf};

/// `<path>.tmp`: the same directory, so that the rename cannot cross file
/// systems.
fn tmp_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(".tmp");
    PathBuf::from(name)
}

/// Runs `write` on `<path>.tmp`, syncs it to disk and renames it over
/// `path`. On any error the temporary file is removed and `path` is left
/// as it was.
pub(crate) fn write_atomic(path: &Path, write: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let tmp = tmp_path(path);
    let result = write(&tmp)
        .and_then(|()| {
            File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io(&tmp, e))
        })
        .and_then(|()| fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    match result {
        Ok(()) => {
            sync_parent(path);
            Ok(())
        }
        Err(e) => {
            // Best effort: the error that matters is the one above.
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Writes `bytes` to `path` atomically, as every write here (temporary
/// file, fsync, rename): the CSV history and the SVG curves of a run.
pub fn write_bytes_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    write_atomic(path, |tmp| {
        fs::write(tmp, bytes).map_err(|e| Error::io(tmp, e))
    })
}

/// Makes the rename itself durable where the platform allows opening a
/// directory (Unix); elsewhere, and on failure, nothing is lost but
/// durability across a power cut.
fn sync_parent(path: &Path) {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        if let Ok(dir) = File::open(parent) {
            let _ = dir.sync_all();
        }
    }
    #[cfg(not(unix))]
    let _ = path;
}

/// A fresh directory under the system's temporary directory, for tests.
#[cfg(test)]
pub(crate) fn test_dir(tag: &str) -> PathBuf {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("cnn-test-{tag}-{}-{n}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).expect("create a test directory");
    dir
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn a_failing_write_leaves_the_old_file_and_no_temporary() {
        let dir = test_dir("atomic");
        let path = dir.join("out.bin");
        fs::write(&path, b"good").unwrap();
        let err = write_atomic(&path, |tmp| {
            let mut f = File::create(tmp).unwrap();
            f.write_all(b"half a fi").unwrap();
            Err(Error::format(tmp, "simulated failure half way"))
        })
        .unwrap_err();
        assert!(err.to_string().contains("simulated"), "{err}");
        assert_eq!(fs::read(&path).unwrap(), b"good");
        assert!(!tmp_path(&path).exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_failing_rename_leaves_no_temporary() {
        // Renaming a file over a non-empty directory fails on every platform.
        let dir = test_dir("rename");
        let path = dir.join("taken");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("keep"), b"x").unwrap();
        let err = write_atomic(&path, |tmp| {
            fs::write(tmp, b"new").map_err(|e| Error::io(tmp, e))
        })
        .unwrap_err();
        assert!(
            matches!(err, Error::Io { ref path, .. } if path.ends_with("taken")),
            "{err}"
        );
        assert!(!tmp_path(&path).exists());
        assert!(path.join("keep").exists());
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_successful_write_replaces_the_file() {
        let dir = test_dir("replace");
        let path = dir.join("out.bin");
        fs::write(&path, b"old").unwrap();
        write_atomic(&path, |tmp| {
            fs::write(tmp, b"new").map_err(|e| Error::io(tmp, e))
        })
        .unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert!(!tmp_path(&path).exists());
        fs::remove_dir_all(dir).unwrap();
    }
}
