//! The one error type of trawl-chunk.

use std::path::PathBuf;

/// What can go wrong while chunking.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A chunk size or overlap that cannot work (size 0, overlap >= size, a token size without a
    /// tokenizer).
    #[error("invalid chunking settings: {0}")]
    Settings(String),
    /// A document with no text to cut (empty or only whitespace).
    #[error("document {id:?} has no text to chunk (empty or only whitespace); remove it from the corpus or skip empty documents")]
    EmptyDocument { id: String },
    /// The tokenizer could not be loaded or failed on a text.
    #[error("tokenizer {path}: {message}")]
    Tokenizer { path: PathBuf, message: String },
}

pub type Result<T> = std::result::Result<T, Error>;
