//! One writer per destination: an advisory lock file `.<name>.lock` beside it, held with
//! `flock` (released by the kernel when the holder exits, even by `kill -9`, so a lock is never
//! stale), with the holder's PID written inside so a second writer is told who holds it.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use crate::atomic::{file_name, parent_of};
use crate::{Error, Result};

/// The held write lock of a destination (a KB folder, a model folder, an output file). Dropping
/// it removes the lock file and releases the lock.
#[derive(Debug)]
pub struct DirLock {
    file: File,
    lock_path: PathBuf,
    dest: PathBuf,
}

/// `parent/.<name>.lock`: beside `dest`, so it exists before `dest` does and survives swaps.
pub fn lock_path(dest: &Path) -> Result<PathBuf> {
    Ok(parent_of(dest).join(format!(".{}.lock", file_name(dest)?)))
}

impl DirLock {
    /// Takes the write lock of `dest` without waiting; [`Error::Locked`] (naming the holder's
    /// PID) when another process (or another handle in this one) holds it. The parent folder
    /// is created if missing.
    pub fn acquire(dest: &Path) -> Result<DirLock> {
        let parent = parent_of(dest);
        fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let lock_path = lock_path(dest)?;
        // A holder that exits unlinks the file; we may have opened the unlinked one. Retry until
        // the file we locked is the one at the path.
        for _ in 0..100 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&lock_path)
                .map_err(|e| Error::io(&lock_path, e))?;
            if !try_lock(&file).map_err(|e| Error::io(&lock_path, e))? {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                let holder = match text.trim().parse::<u32>() {
                    Ok(pid) => format!("PID {pid}"),
                    Err(_) => "PID not yet recorded".to_string(),
                };
                return Err(Error::Locked {
                    path: dest.to_path_buf(),
                    lock: lock_path,
                    holder,
                });
            }
            if !same_file(&file, &lock_path) {
                continue;
            }
            let pid = std::process::id();
            file.set_len(0)
                .and_then(|()| file.seek(SeekFrom::Start(0)))
                .and_then(|_| writeln!(file, "{pid}"))
                .and_then(|()| file.flush())
                .map_err(|e| Error::io(&lock_path, e))?;
            return Ok(DirLock {
                file,
                lock_path,
                dest: dest.to_path_buf(),
            });
        }
        Err(Error::io(
            &lock_path,
            std::io::Error::other("the lock file keeps being replaced; is another writer looping?"),
        ))
    }

    /// The locked destination.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.lock_path
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Unlink while still holding the lock; closing the file releases it.
        let _ = fs::remove_file(&self.lock_path);
        let _ = &self.file;
    }
}

#[cfg(unix)]
fn try_lock(file: &File) -> std::io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    // SAFETY: flock on a descriptor we own.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

#[cfg(unix)]
fn same_file(file: &File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

// Elsewhere: std's lock (Rust 1.89+); the file is not unlinked while open on Windows anyway.
#[cfg(not(unix))]
fn try_lock(file: &File) -> std::io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(std::fs::TryLockError::WouldBlock) => Ok(false),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

#[cfg(not(unix))]
fn same_file(_file: &File, path: &Path) -> bool {
    path.exists()
}
