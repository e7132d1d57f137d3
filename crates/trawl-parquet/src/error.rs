//! The one error type of this crate.

use std::path::PathBuf;

/// Errors reading or writing parquet files; every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file is not parquet, is damaged, or uses a codec this build lacks.
    #[error("{path}: {message}")]
    Parquet { path: PathBuf, message: String },
    /// A named column is missing or has the wrong type.
    #[error("{path}: {message}")]
    Column { path: PathBuf, message: String },
    /// A row's value is not what the column should hold (row numbers count from 1).
    #[error("{path}: row {row}: {message}")]
    Value {
        path: PathBuf,
        row: usize,
        message: String,
    },
    #[error(transparent)]
    Store(#[from] trawl_store::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn parquet(path: &std::path::Path, e: impl std::fmt::Display) -> Self {
        let mut message = e.to_string();
        if message.contains("Disabled feature") || message.contains("not supported") {
            message.push_str(
                "; trawl reads parquet compressed with snappy, lz4, zstd or uncompressed: \
                 rewrite the file with one of those",
            );
        }
        Error::Parquet {
            path: path.to_path_buf(),
            message,
        }
    }
}
