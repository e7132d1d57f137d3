//! The one error type of trawl-rag.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A conversation that is not what the format asks for; `at` is `file:line`.
    #[error("{at}: {message}")]
    Conversation { at: String, message: String },
    /// Reading the conversations failed.
    #[error(transparent)]
    Data(#[from] trawl_data::Error),
    #[error(transparent)]
    Retrieve(#[from] trawl_retrieve::Error),
    #[error(transparent)]
    Kb(#[from] trawl_kb::Error),
    /// The external command that writes the next hop's query failed.
    #[error("--next-query-cmd `{command}`: {message}")]
    NextQueryCommand { command: String, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Options that cannot work together.
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, Error>;
