//! The one error type of this crate.

use std::path::PathBuf;

/// Errors from preparing a corpus. Every variant that comes from a file names it.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading a file in one of trawl's formats (queries, qrels, corpus) failed.
    #[error(transparent)]
    Data(#[from] trawl_data::Error),
    /// Writing the output failed.
    #[error(transparent)]
    Store(#[from] trawl_store::Error),
    /// A line did not have the expected shape.
    #[error("{path}:{line}: {message}")]
    Parse {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// The file could not be read (a truncated `.bz2` stream is reported here).
    #[error("{path}: {message}")]
    Read { path: PathBuf, message: String },
    /// An input the preparation needs is missing, or the options do not fit together.
    #[error("{0}")]
    Input(String),
    /// Writing an output file failed.
    #[error("{path}: write failed: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
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

    pub(crate) fn write(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Write {
            path: path.to_path_buf(),
            source,
        }
    }
}
