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

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
