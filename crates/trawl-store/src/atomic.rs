//! Atomic writes: build into a temporary sibling, fsync, then rename into place, so a crash or an
//! error part-way never leaves a file or directory that looks complete.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::{Error, Result};

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn file_name(path: &Path) -> Result<String> {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .ok_or_else(|| {
            Error::io(
                path,
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "path has no file name"),
            )
        })
}

/// `parent/.<name>.<tag>-<pid>`: hidden, beside the destination (same filesystem, so rename is
/// atomic), and unique per process.
fn sibling(path: &Path, tag: &str) -> Result<PathBuf> {
    let name = file_name(path)?;
    Ok(parent_of(path).join(format!(".{name}.{tag}-{}", std::process::id())))
}

fn fsync_dir(dir: &Path) -> Result<()> {
    // Directories can be opened read-only and fsynced on Unix; elsewhere this is best effort.
    match File::open(dir) {
        Ok(f) => match f.sync_all() {
            Ok(()) => Ok(()),
            Err(e) if cfg!(unix) => Err(Error::io(dir, e)),
            Err(_) => Ok(()),
        },
        Err(e) if cfg!(unix) => Err(Error::io(dir, e)),
        Err(_) => Ok(()),
    }
}

/// Writes `bytes` to `path` atomically: readers see either the old file or the whole new one.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = sibling(path, "tmp")?;
    let result = (|| {
        let mut f = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        f.write_all(bytes).map_err(|e| Error::io(&tmp, e))?;
        f.sync_all().map_err(|e| Error::io(&tmp, e))?;
        drop(f);
        fs::rename(&tmp, path).map_err(|e| Error::io(path, e))?;
        fsync_dir(&parent_of(path))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A directory built under a temporary name and renamed into place by [`AtomicDir::commit`].
///
/// ```
/// # let root = tempfile::tempdir().unwrap();
/// use trawl_store::AtomicDir;
/// let dest = root.path().join("index");
/// let dir = AtomicDir::create(&dest)?;
/// std::fs::write(dir.path().join("data.bin"), b"hello").unwrap();
/// assert!(!dest.exists()); // nothing visible until commit
/// dir.commit()?;
/// assert_eq!(std::fs::read(dest.join("data.bin")).unwrap(), b"hello");
/// # Ok::<(), trawl_store::Error>(())
/// ```
///
/// Dropping it without `commit` (an error, a panic) deletes the temporary directory; a process
/// killed mid-build leaves only a hidden `.<name>.tmp-<pid>` that is never mistaken for `dest`.
#[derive(Debug)]
pub struct AtomicDir {
    tmp: PathBuf,
    dest: PathBuf,
    done: bool,
}

impl AtomicDir {
    /// Starts building `dest` (its parent is created if missing). The destination itself is
    /// untouched until [`AtomicDir::commit`].
    pub fn create(dest: &Path) -> Result<Self> {
        let parent = parent_of(dest);
        fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
        let tmp = sibling(dest, "tmp")?;
        if tmp.exists() {
            // Left by an earlier crashed run that had our pid; never a valid directory.
            fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
        }
        fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(AtomicDir {
            tmp,
            dest: dest.to_path_buf(),
            done: false,
        })
    }

    /// Where to write the directory's files before commit.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    /// The final location.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Convenience: writes one file (plain, fsynced at commit) into the directory.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let p = self.tmp.join(name);
        fs::write(&p, bytes).map_err(|e| Error::io(&p, e))
    }

    /// Fsyncs every file, then renames the directory into place. An existing `dest` is moved
    /// aside first and deleted after the new one is in place (a crash in between leaves the
    /// old copy as a hidden `.<name>.old-<pid>` sibling, never a half-written `dest`).
    pub fn commit(mut self) -> Result<()> {
        sync_tree(&self.tmp)?;
        swap_into_place(&self.tmp, &self.dest)?;
        self.done = true;
        Ok(())
    }
}

/// `parent/.<name>.<tag>-<pid>` beside `dest`: a place to build a directory that will replace
/// `dest` with [`replace_dir`] (same filesystem, so the rename is atomic).
pub fn staging_path(dest: &Path, tag: &str) -> Result<PathBuf> {
    sibling(dest, tag)
}

/// Replaces `dest` with the finished directory `src` (fsynced first), as
/// [`AtomicDir::commit`] does: readers see the old `dest` or the whole new one, never a mix.
pub fn replace_dir(src: &Path, dest: &Path) -> Result<()> {
    sync_tree(src)?;
    swap_into_place(src, dest)
}

/// Moves an existing `dest` aside, renames `src` into place, then deletes the old copy (a crash
/// in between leaves the old copy as a hidden `.<name>.old-<pid>` sibling).
fn swap_into_place(src: &Path, dest: &Path) -> Result<()> {
    let parent = parent_of(dest);
    let old = sibling(dest, "old")?;
    let had_old = match fs::symlink_metadata(dest) {
        Ok(_) => {
            if old.exists() {
                remove_any(&old)?;
            }
            fs::rename(dest, &old).map_err(|e| Error::io(dest, e))?;
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => return Err(Error::io(dest, e)),
    };
    if let Err(e) = fs::rename(src, dest) {
        if had_old {
            let _ = fs::rename(&old, dest);
        }
        return Err(Error::io(dest, e));
    }
    fsync_dir(&parent)?;
    if had_old {
        remove_any(&old)?;
    }
    Ok(())
}

fn remove_any(path: &Path) -> Result<()> {
    let meta = fs::symlink_metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        fs::remove_dir_all(path).map_err(|e| Error::io(path, e))
    } else {
        fs::remove_file(path).map_err(|e| Error::io(path, e))
    }
}

fn sync_tree(dir: &Path) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let p = entry.path();
        let ty = entry.file_type().map_err(|e| Error::io(&p, e))?;
        if ty.is_dir() {
            sync_tree(&p)?;
        } else if ty.is_file() {
            File::open(&p)
                .and_then(|f| f.sync_all())
                .map_err(|e| Error::io(&p, e))?;
        }
    }
    fsync_dir(dir)
}

impl Drop for AtomicDir {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.tmp);
        }
    }
}
