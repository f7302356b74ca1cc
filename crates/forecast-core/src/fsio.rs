//! Atomic, durable writes — the one way every crate of the workspace writes a file or a
//! directory that someone may read while it is written or after a crash: write beside
//! the destination, fsync, rename into place, fsync the parent directory. A reader sees
//! the old version or the new one, never half of one; after a crash the destination is
//! whole (old or new), and a failed write leaves no temporary file behind.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A name beside `path` that no other writer uses: the process id and a counter.
fn beside(path: &Path, tag: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "out".into());
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    parent_of(path).join(format!(".{name}.{tag}-{}-{n}", std::process::id()))
}

fn parent_of(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Flush a directory's entries (a rename inside it) to disk. Directories cannot be
/// fsynced on every platform; there the rename's durability is the system's.
pub fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        let d = File::open(dir).map_err(|e| Error::io(dir, e))?;
        d.sync_all().map_err(|e| Error::io(dir, e))?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Write a file through `write` atomically and durably, creating its parent directory.
pub fn write_file_with(path: &Path, write: impl FnOnce(&mut File) -> Result<()>) -> Result<()> {
    let parent = parent_of(path);
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = beside(path, "tmp");
    let result = (|| {
        let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        write(&mut f)?;
        f.flush().map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        drop(f);
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        sync_dir(parent)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Write `bytes` to a file atomically and durably, creating its parent directory.
pub fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    write_file_with(path, |f| f.write_all(bytes).map_err(|e| Error::io(path, e)))
}

/// Write `bytes` to a file atomically but not durably: a crash of the process leaves
/// the old content or the new, never a torn file, and the data reaches the disk when
/// the system flushes it or at the next [`sync_filesystem`]. For many small records
/// made durable together (a tuning study's trial runs).
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = parent_of(path);
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = beside(path, "tmp");
    let result = std::fs::write(&tmp, bytes)
        .map_err(|e| Error::io(&tmp, e))
        .and_then(|()| std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e)));
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Flush everything written to the filesystem that holds `path` to disk (Linux's
/// `syncfs`: one call for any number of files written by [`write_file_atomic`]).
pub fn sync_filesystem(path: &Path) -> Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let f = File::open(path).map_err(|e| Error::io(path, e))?;
        // SAFETY: syncfs takes an open file descriptor, valid while `f` lives.
        if unsafe { libc::syncfs(f.as_raw_fd()) } != 0 {
            return Err(Error::io(path, std::io::Error::last_os_error()));
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        // No syncfs: flush the directory's entries at least.
        sync_dir(path)?;
    }
    Ok(())
}

/// Take an exclusive advisory lock on the file `path` (created if needed) without
/// waiting: `Some(file)` holds the lock until the file is dropped, and the operating
/// system releases it when the process ends, however it ends; `None` when another
/// open file holds it (another process, or another handle in this one).
pub fn try_lock(path: &Path) -> Result<Option<File>> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    match file.try_lock() {
        Ok(()) => Ok(Some(file)),
        Err(std::fs::TryLockError::WouldBlock) => Ok(None),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(path, e)),
    }
}

/// Fsync every regular file under `dir`, then `dir` itself.
fn sync_tree(dir: &Path) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let p = entry.path();
        let kind = entry.file_type().map_err(|e| Error::io(&p, e))?;
        if kind.is_dir() {
            sync_tree(&p)?;
        } else if kind.is_file() {
            File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io(&p, e))?;
        }
    }
    sync_dir(dir)
}

/// Write a directory atomically and durably: `fill` writes the new contents into a
/// fresh directory beside `dir`, which is fsynced and renamed over `dir` (an existing
/// `dir` is moved aside first and removed once the new one is in place, or put back if
/// the swap fails). A reader that opens `dir` sees a complete version, old or new.
pub fn write_dir(dir: &Path, fill: impl FnOnce(&Path) -> Result<()>) -> Result<()> {
    let parent = parent_of(dir);
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let tmp = beside(dir, "tmp");
    let old = beside(dir, "old");
    let result = (|| {
        std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
        fill(&tmp)?;
        sync_tree(&tmp)?;
        if dir.exists() {
            std::fs::rename(dir, &old).map_err(|e| Error::io(dir, e))?;
        }
        std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))?;
        sync_dir(parent)
    })();
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
        if old.exists() && !dir.exists() {
            let _ = std::fs::rename(&old, dir);
        }
    }
    if old.exists() {
        let _ = std::fs::remove_dir_all(&old);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_and_directories_are_replaced_whole_and_leave_nothing_beside() {
        let root = tempfile::tempdir().unwrap();
        let f = root.path().join("sub/a.json");
        write_file(&f, b"one").unwrap();
        write_file(&f, b"two").unwrap();
        assert_eq!(std::fs::read(&f).unwrap(), b"two");
        let d = root.path().join("model");
        write_dir(&d, |t| write_file(&t.join("x"), b"1")).unwrap();
        write_dir(&d, |t| write_file(&t.join("y"), b"2")).unwrap();
        assert!(!d.join("x").exists() && d.join("y").is_file());
        // A failing fill keeps the old directory and removes the temporary one.
        let e = write_dir(&d, |_| Err(Error::config("fill", "refused"))).unwrap_err();
        assert!(e.to_string().contains("refused"));
        assert!(d.join("y").is_file());
        let left: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
        let mut left = left;
        left.sort();
        assert_eq!(left, ["model", "sub"]);
        assert_eq!(
            std::fs::read_dir(root.path().join("sub")).unwrap().count(),
            1
        );
    }
}
