//! The one error type of this crate.

use std::path::PathBuf;

/// Errors from loading, training, evaluating and saving a retriever. File errors name the file;
/// data errors also name the 1-based line and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A training-data line did not have the expected shape.
    #[error("{path}:{line}: {message}")]
    Data {
        path: PathBuf,
        line: usize,
        message: String,
    },
    /// A model folder is incomplete or inconsistent (missing file, missing tensor, bad config).
    #[error("model {path}: {message}")]
    Model { path: PathBuf, message: String },
    /// A model name that names no folder (the message lists where it looked), or a folder the
    /// sentence-transformers reader (trawl-embed, shared with inference) refuses.
    #[error(transparent)]
    ModelLookup(trawl_embed::Error),
    /// The output folder already holds something that must not be overwritten.
    #[error("{path}: {message}")]
    OutputExists { path: PathBuf, message: String },
    /// A training option is out of range or options contradict each other.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// The tokenizer failed.
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    /// A tensor operation failed (a bug or an unsupported device/dtype).
    #[error("tensor: {0}")]
    Tensor(#[from] candle_core::Error),
    /// An atomic write (temp dir + rename) failed.
    #[error(transparent)]
    Store(#[from] trawl_store::Error),
    /// Reading shared IR data (BEIR corpus, queries, qrels) failed.
    #[error(transparent)]
    IrData(#[from] trawl_data::Error),
    /// Opening or reading a knowledge base (`--kb`) failed.
    #[error(transparent)]
    Kb(#[from] trawl_kb::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: &std::path::Path, source: std::io::Error) -> Self {
        Error::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn model(path: &std::path::Path, message: impl Into<String>) -> Self {
        Error::Model {
            path: path.to_path_buf(),
            message: message.into(),
        }
    }

    pub(crate) fn data(path: &std::path::Path, line: usize, message: impl Into<String>) -> Self {
        Error::Data {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}
