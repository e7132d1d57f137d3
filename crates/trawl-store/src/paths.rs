//! Paths that trawl writes or trusts: entries recorded in a manifest stay inside their folder,
//! an output never contains what a command reads, and only files trawl wrote are replaced.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::{Error, Result};

/// `root/entry` for a relative path recorded inside `root` (e.g. `bm25.dir` in a manifest):
/// refused unless it is relative, made only of plain names (no `..`, `.`, root or drive), and
/// no part of it below `root` is a symbolic link.
pub fn confined_join(root: &Path, entry: &str) -> Result<PathBuf> {
    let bad = |reason: &str| Error::UnsafePath {
        root: root.to_path_buf(),
        entry: entry.to_string(),
        reason: reason.to_string(),
    };
    if entry.is_empty() {
        return Err(bad("it is empty"));
    }
    if entry.contains('\\') || entry.contains('\0') {
        return Err(bad("it holds a backslash or NUL"));
    }
    let rel = Path::new(entry);
    let mut path = root.to_path_buf();
    for c in rel.components() {
        match c {
            Component::Normal(name) => {
                path.push(name);
                if fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
                    return Err(bad("it goes through a symbolic link"));
                }
            }
            Component::ParentDir => return Err(bad("it contains `..`")),
            Component::CurDir => return Err(bad("it contains `.`")),
            Component::RootDir | Component::Prefix(_) => {
                return Err(bad("it is absolute; it must be relative to the folder"))
            }
        }
    }
    Ok(path)
}

/// Refuses an output `out` that is, or contains, one of `inputs` (compared after resolving
/// links; paths that do not exist cannot collide).
pub fn refuse_output_containing(out: &Path, inputs: &[&Path]) -> Result<()> {
    let Ok(out_real) = fs::canonicalize(out) else {
        return Ok(());
    };
    for input in inputs {
        if let Ok(input_real) = fs::canonicalize(input) {
            if input_real.starts_with(&out_real) {
                return Err(Error::OutputContainsInput {
                    out: out.to_path_buf(),
                    input: input.to_path_buf(),
                });
            }
        }
    }
    Ok(())
}

/// Every non-directory entry under `dir`, as relative paths with `/` separators, sorted (what
/// a manifest records as the files it owns).
pub fn list_files(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    walk(dir, "", &mut out)?;
    out.sort();
    Ok(out)
}

fn walk(dir: &Path, prefix: &str, out: &mut Vec<String>) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let entry = entry.map_err(|e| Error::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = format!("{prefix}{name}");
        let ty = entry.file_type().map_err(|e| Error::io(entry.path(), e))?;
        if ty.is_dir() {
            let before = out.len();
            walk(&entry.path(), &format!("{rel}/"), out)?;
            if out.len() == before {
                // An empty folder is an entry too (so a foreign one is noticed).
                out.push(format!("{rel}/"));
            }
        } else {
            out.push(rel);
        }
    }
    Ok(())
}

/// The entries under `dir` that are not in `owned` (as [`list_files`] writes them), sorted.
pub fn foreign_entries(dir: &Path, owned: &[String]) -> Result<Vec<String>> {
    let owned: BTreeSet<&str> = owned.iter().map(String::as_str).collect();
    Ok(list_files(dir)?
        .into_iter()
        .filter(|f| !owned.contains(f.as_str()))
        .collect())
}

/// Puts `from`'s content at `to` (parents created): a hard link where the filesystem allows (a
/// new generation shares the unchanged files of the old one; safe because trawl never writes a
/// file in place), a copy otherwise.
pub fn link_or_copy(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    }
    if fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    fs::copy(from, to).map_err(|e| Error::io(from, e))?;
    Ok(())
}
