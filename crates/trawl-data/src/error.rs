//! The one error type of this crate.

use std::path::PathBuf;

/// Errors from reading or writing IR data files. Every variant that comes from a file names it;
/// parse errors also name the 1-based line, what was expected and what was found.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be opened or read (or a `.gz` stream is corrupt).
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A line did not have the expected shape.
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A file that the layout requires is not there (`hint` says what is there instead).
    #[error("{path}: file not found{hint}")]
    MissingFile { path: PathBuf, hint: String },
    /// The file name does not say which format it is in.
    #[error("{path}: {message}")]
    UnknownFormat { path: PathBuf, message: String },
    /// A Python pickle this crate's safe reader refuses (see [`crate::pickle`]).
    #[error("{path}: pickle at byte {offset}: {message}")]
    Pickle {
        path: PathBuf,
        offset: usize,
        message: String,
    },
    /// Writing output failed.
    #[error("write failed: {0}")]
    Write(#[source] std::io::Error),
    /// The data cannot be written in the requested format without losing information
    /// (e.g. an id containing whitespace in a whitespace-separated TREC file).
    #[error("cannot write {format}: {message}")]
    Unrepresentable {
        format: &'static str,
        message: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn parse(path: &std::path::Path, line: usize, message: impl Into<String>) -> Self {
        Error::Parse {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }
}
