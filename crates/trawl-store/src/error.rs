//! The one error type of this crate.

use std::path::PathBuf;

/// Errors from reading, verifying or writing stored files.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An operating-system error on a named file or directory.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file exists but its content is not what was written: cut short, checksum mismatch, bad
    /// header. The index must be rebuilt.
    #[error("{path}: corrupt file: {reason} (rebuild it)")]
    Corrupt { path: PathBuf, reason: String },
    /// The file was written by another program or for another purpose (wrong magic bytes).
    #[error("{path}: not a {expected} file (found magic {found:?})")]
    WrongMagic {
        path: PathBuf,
        expected: String,
        found: String,
    },
    /// The file was written by an incompatible version of trawl.
    #[error("{path}: format version {found} is not supported (this build reads version {expected}; rebuild the index)")]
    UnsupportedVersion {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    /// Another process holds the write lock of this destination.
    #[error(
        "{path} is being written by another trawl process ({holder}; lock file {lock}); wait for \
         it to finish or stop it (the lock is released when that process exits)"
    )]
    Locked {
        path: PathBuf,
        lock: PathBuf,
        holder: String,
    },
    /// A file that must be a regular file is a FIFO, a device, a directory, ...
    #[error("{path}: not a regular file ({kind}); refusing to read it")]
    NotRegularFile { path: PathBuf, kind: String },
    /// A file larger than the cap for its kind.
    #[error(
        "{path}: larger than the {limit}-byte limit for this kind of file; refusing to read it"
    )]
    TooLarge { path: PathBuf, limit: u64 },
    /// A path recorded inside a directory (e.g. in a manifest) would lead outside it.
    #[error("{root}: the recorded path `{entry}` is not allowed: {reason}")]
    UnsafePath {
        root: PathBuf,
        entry: String,
        reason: String,
    },
    /// An output folder holds files that trawl did not write: it is never replaced.
    #[error(
        "{path} holds files that trawl did not write ({list}); refusing to replace or delete \
         it: move those files away, remove the folder yourself, or choose another output",
        list = preview(files)
    )]
    ForeignFiles { path: PathBuf, files: Vec<String> },
    /// An output location that contains (or is) something the command reads.
    #[error(
        "the output {out} contains {input}, which this command reads; replacing it would \
         destroy the input: choose an output outside it"
    )]
    OutputContainsInput { out: PathBuf, input: PathBuf },
    /// A byte range outside a source was requested.
    #[error("byte range {start}..{end} is outside a source of {len} bytes")]
    OutOfRange {
        start: usize,
        end: usize,
        len: usize,
    },
}

impl Error {
    /// Wraps an `io::Error` with the path it concerns.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// A [`Error::Corrupt`] for `path`.
    pub fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Error::Corrupt {
            path: path.into(),
            reason: reason.into(),
        }
    }
}

/// The first few names of a list, for messages.
fn preview(files: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut s = files
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if files.len() > SHOWN {
        s.push_str(&format!(" and {} more", files.len() - SHOWN));
    }
    s
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
