//! Recovery: finishing or discarding what a killed writer left beside a destination.
//!
//! A writer's temporary names are `.<name>.<tag>-<pid>` (see [`crate::atomic`]):
//! - `tmp-<pid>`, `build-<pid>`: a directory or file being built, or (after an exchange) the old
//!   copy being deleted. Never the only copy of anything: removed.
//! - `old-<pid>`: the old copy moved aside by the two-rename fallback. If the destination is
//!   missing, the writer died between its two renames: the old copy is renamed back (the swap is
//!   undone; the last complete state returns). Otherwise removed.
//!
//! Only leftovers of processes that no longer run are touched, and only under the destination's
//! write lock ([`DirLock::recover`]) or when nobody holds it ([`recover_unlocked`]).

use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use crate::atomic::{file_name, parent_of, remove_any, rename};
use crate::lock::DirLock;
use crate::{Error, Result};

/// Tags of temporary names that recovery understands.
const TAGS: &[&str] = &["tmp", "build", "old"];

/// One thing recovery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recovery {
    /// `from` (an old copy) was renamed back to `dest`, which was missing.
    Restored { from: PathBuf, dest: PathBuf },
    /// A leftover of an interrupted write was deleted.
    Removed { path: PathBuf },
}

impl fmt::Display for Recovery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Recovery::Restored { from, dest } => write!(
                f,
                "recovered {}: a replace was interrupted between its renames; restored the last complete copy from {}",
                dest.display(),
                from.display()
            ),
            Recovery::Removed { path } => write!(
                f,
                "removed {}, left by an interrupted write",
                path.display()
            ),
        }
    }
}

#[derive(Debug)]
struct Leftover {
    path: PathBuf,
    tag: &'static str,
    pid: u32,
}

/// The `.<name>.<tag>-<pid>` entries beside `dest`.
fn leftovers(dest: &Path) -> Result<Vec<Leftover>> {
    let parent = parent_of(dest);
    let prefix = format!(".{}.", file_name(dest)?);
    let entries = match fs::read_dir(&parent) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(&parent, e)),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(&parent, e))?;
        let name = entry.file_name();
        let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(prefix.as_str())) else {
            continue;
        };
        let Some((tag, pid)) = rest.rsplit_once('-') else {
            continue;
        };
        let Some(tag) = TAGS.iter().copied().find(|t| *t == tag) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        found.push(Leftover {
            path: entry.path(),
            tag,
            pid,
        });
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(found)
}

/// True when a process with this id runs (or might: we cannot tell).
#[cfg(unix)]
fn alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn alive(_pid: u32) -> bool {
    true
}

fn modified(path: &Path) -> std::time::SystemTime {
    fs::symlink_metadata(path)
        .and_then(|m| m.modified())
        .unwrap_or(std::time::UNIX_EPOCH)
}

/// Recovers `dest`; `own_ok`: leftovers with this process's id are stale too (true under the
/// lock, which no other handle in this process can hold at the same time).
fn recover_at(dest: &Path, own_ok: bool) -> Result<Vec<Recovery>> {
    let me = std::process::id();
    let mut stale: Vec<Leftover> = leftovers(dest)?
        .into_iter()
        .filter(|l| if l.pid == me { own_ok } else { !alive(l.pid) })
        .collect();
    let mut done = Vec::new();
    let dest_missing =
        matches!(fs::symlink_metadata(dest), Err(e) if e.kind() == std::io::ErrorKind::NotFound);
    if dest_missing {
        // The newest old copy is the last complete state.
        let newest = stale
            .iter()
            .enumerate()
            .filter(|(_, l)| l.tag == "old")
            .max_by_key(|(_, l)| modified(&l.path))
            .map(|(i, _)| i);
        if let Some(i) = newest {
            let from = stale.remove(i).path;
            rename(&from, dest)?;
            done.push(Recovery::Restored {
                from,
                dest: dest.to_path_buf(),
            });
        }
    }
    for l in stale {
        remove_any(&l.path)?;
        done.push(Recovery::Removed { path: l.path });
    }
    Ok(done)
}

impl DirLock {
    /// Finishes or discards what interrupted writers left beside the locked destination (see
    /// the module docs) and says what it did.
    pub fn recover(&self) -> Result<Vec<Recovery>> {
        recover_at(self.dest(), true)
    }
}

/// Recovery for readers: when leftovers exist beside `dest` and no writer holds its lock, takes
/// the lock briefly and recovers. A held lock, or a folder where a lock cannot be created
/// (read-only), means nothing is done: the writer (or a later one) will do it.
pub fn recover_unlocked(dest: &Path) -> Result<Vec<Recovery>> {
    let me = std::process::id();
    let any = leftovers(dest)?
        .iter()
        .any(|l| l.pid != me && !alive(l.pid));
    if !any {
        return Ok(Vec::new());
    }
    match DirLock::acquire(dest) {
        Ok(lock) => recover_at(lock.dest(), false),
        Err(Error::Locked { .. }) | Err(Error::Io { .. }) => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

/// Best effort, for unlocked single files: deletes temporary files of dead processes beside
/// `dest` (never an `old` copy, never anything of a live process).
pub(crate) fn remove_dead_leftovers(dest: &Path) {
    let me = std::process::id();
    if let Ok(found) = leftovers(dest) {
        for l in found {
            if l.tag != "old" && l.pid != me && !alive(l.pid) {
                let _ = remove_any(&l.path);
            }
        }
    }
}
