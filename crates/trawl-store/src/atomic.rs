//! Atomic writes: build into a temporary sibling, fsync, then swap it into place, so a crash or
//! an error part-way never leaves a file or directory that looks complete, and never leaves the
//! destination missing.
//!
//! Replacing an existing directory uses `renameat2(RENAME_EXCHANGE)` on Linux: one system call
//! swaps the new directory and the old one, so at every instant the destination is either the
//! whole old one or the whole new one. Where the exchange is not available (other systems, or a
//! filesystem that refuses it) the old directory is renamed aside to `.<name>.old-<pid>` and the
//! new one renamed in; a crash between those two renames leaves the destination missing for a
//! moment, and the next writer (or reader, see [`crate::recover`]) renames the old copy back.
//!
//! Every temporary name is `.<name>.<tag>-<pid>` beside the destination (same filesystem, so
//! renames are atomic; hidden; owned by one process), which is what recovery looks for.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::fault::before_rename;
use crate::lock::DirLock;
use crate::recover::{self, Recovery};
use crate::{Error, Result};

pub(crate) fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

pub(crate) fn file_name(path: &Path) -> Result<String> {
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
pub(crate) fn sibling(path: &Path, tag: &str) -> Result<PathBuf> {
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

/// `fs::rename` through the fault-injection hook.
pub(crate) fn rename(from: &Path, to: &Path) -> Result<()> {
    before_rename();
    fs::rename(from, to).map_err(|e| Error::io(to, e))
}

/// Writes `bytes` to `path` atomically: readers see either the old file or the whole new one.
pub fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let mut f = AtomicFile::create(path)?;
    f.write_all(bytes).map_err(|e| Error::io(path, e))?;
    f.commit()
}

/// A file streamed to a temporary sibling and renamed over `path` by [`AtomicFile::commit`]:
/// an error or a crash part-way leaves an existing `path` untouched (a run file, a `.npy`, a
/// JSONL of mined negatives). Dropping it without `commit` deletes the temporary file.
///
/// ```
/// # let root = tempfile::tempdir().unwrap();
/// use std::io::Write;
/// let path = root.path().join("run.txt");
/// std::fs::write(&path, "old\n").unwrap();
/// let mut f = trawl_store::AtomicFile::create(&path)?;
/// writeln!(f, "q1 Q0 d1 1 2.5 trawl").unwrap();
/// drop(f); // failed part-way: the old file is intact
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "old\n");
/// let mut f = trawl_store::AtomicFile::create(&path)?;
/// writeln!(f, "q1 Q0 d1 1 2.5 trawl").unwrap();
/// f.commit()?;
/// assert_eq!(std::fs::read_to_string(&path).unwrap(), "q1 Q0 d1 1 2.5 trawl\n");
/// # Ok::<(), trawl_store::Error>(())
/// ```
#[derive(Debug)]
pub struct AtomicFile {
    out: Option<BufWriter<File>>,
    tmp: PathBuf,
    dest: PathBuf,
}

impl AtomicFile {
    /// Starts writing `path` (its parent must exist). Temporary files left beside it by killed
    /// processes are removed first.
    pub fn create(path: &Path) -> Result<Self> {
        recover::remove_dead_leftovers(path);
        let tmp = sibling(path, "tmp")?;
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(AtomicFile {
            out: Some(BufWriter::with_capacity(1 << 20, file)),
            tmp,
            dest: path.to_path_buf(),
        })
    }

    /// The final location.
    pub fn dest(&self) -> &Path {
        &self.dest
    }

    /// Flushes, fsyncs and renames the file into place.
    pub fn commit(mut self) -> Result<()> {
        let out = self.out.take().expect("present until commit");
        let file = out
            .into_inner()
            .map_err(|e| Error::io(&self.tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&self.tmp, e))?;
        drop(file);
        rename(&self.tmp, &self.dest)?;
        fsync_dir(&parent_of(&self.dest))
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.out.as_mut().expect("present until commit").write(buf)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.out.as_mut().expect("present until commit").flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.out.is_some() {
            self.out = None;
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// A directory built under a temporary name and swapped into place by [`AtomicDir::commit`],
/// while holding the destination's write lock ([`DirLock`]).
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
/// killed mid-build leaves only a hidden `.<name>.tmp-<pid>` that is never mistaken for `dest`
/// and is removed by the next writer.
#[derive(Debug)]
pub struct AtomicDir {
    tmp: PathBuf,
    dest: PathBuf,
    done: bool,
    recovered: Vec<Recovery>,
    // Dropped last: the lock outlives the temporary directory's clean-up.
    _lock: DirLock,
}

impl AtomicDir {
    /// Takes the write lock of `dest`, recovers what an interrupted writer left (see
    /// [`DirLock::recover`]) and starts building. `dest` itself is untouched until
    /// [`AtomicDir::commit`]. The parent is created if missing.
    pub fn create(dest: &Path) -> Result<Self> {
        Self::with_lock(DirLock::acquire(dest)?)
    }

    /// [`AtomicDir::create`] under a lock the caller already holds (taken earlier to check the
    /// destination before a long build).
    pub fn with_lock(lock: DirLock) -> Result<Self> {
        let recovered = lock.recover()?;
        let dest = lock.dest().to_path_buf();
        let tmp = sibling(&dest, "tmp")?;
        fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
        Ok(AtomicDir {
            tmp,
            dest,
            done: false,
            recovered,
            _lock: lock,
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

    /// What recovery did before this build started (for the caller to report).
    pub fn recovered(&self) -> &[Recovery] {
        &self.recovered
    }

    /// Convenience: writes one file (plain, fsynced at commit) into the directory.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let p = self.tmp.join(name);
        fs::write(&p, bytes).map_err(|e| Error::io(&p, e))
    }

    /// Fsyncs every file, then swaps the directory into place (see the module docs); the old
    /// directory, if any, is deleted after the swap; the lock is released last.
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
/// The caller should hold `dest`'s [`DirLock`].
pub fn replace_dir(src: &Path, dest: &Path) -> Result<()> {
    sync_tree(src)?;
    swap_into_place(src, dest)
}

/// Puts `src` at `dest`: a plain rename when `dest` is absent, an exchange (or the two-rename
/// fallback) when it exists; then deletes the old copy.
fn swap_into_place(src: &Path, dest: &Path) -> Result<()> {
    let parent = parent_of(dest);
    match fs::symlink_metadata(dest) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            rename(src, dest)?;
            return fsync_dir(&parent);
        }
        Err(e) => return Err(Error::io(dest, e)),
        Ok(_) => {}
    }
    if exchange(src, dest).map_err(|e| Error::io(dest, e))? {
        // `src` now names the old directory: complete, but no longer wanted.
        fsync_dir(&parent)?;
        return remove_any(src);
    }
    let old = sibling(dest, "old")?;
    if fs::symlink_metadata(&old).is_ok() {
        remove_any(&old)?;
    }
    rename(dest, &old)?;
    if let Err(e) = rename(src, dest) {
        let _ = fs::rename(&old, dest);
        return Err(e);
    }
    fsync_dir(&parent)?;
    remove_any(&old)
}

/// Swaps two existing paths in one step; `Ok(false)` where the system or filesystem cannot.
#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<bool> {
    use std::ffi::CString;
    if crate::fault::exchange_disabled() {
        return Ok(false);
    }
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    before_rename();
    // SAFETY: two valid NUL-terminated paths; the raw system call avoids needing glibc 2.28.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => Ok(false),
        _ => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(_a: &Path, _b: &Path) -> std::io::Result<bool> {
    Ok(false)
}

pub(crate) fn remove_any(path: &Path) -> Result<()> {
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
