//! The one error type of this crate.

use std::path::PathBuf;

/// Errors from reading results and building tables and reports.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read.
    #[error("{}: {source}", .path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    /// A file was read but is not what was expected (the message says what and what to do).
    #[error("{}: {message}", .path.display())]
    Parse { path: PathBuf, message: String },
    /// Results that cannot be compared or tabulated (e.g. an unknown baseline).
    #[error("{0}")]
    Invalid(String),
    /// A significance test failed (e.g. fewer than 2 queries).
    #[error(transparent)]
    Eval(#[from] trawl_eval::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
