//! The one error type of this crate.

use std::path::PathBuf;

/// Errors from building, saving or opening a BM25 index.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A storage-level failure (missing, truncated, corrupt or foreign index file).
    #[error(transparent)]
    Store(#[from] trawl_store::Error),
    /// An index file passed its checksum but its content is inconsistent.
    #[error("{path}: corrupt BM25 index: {reason} (rebuild the index)")]
    Corrupt { path: PathBuf, reason: String },
    /// The index was written in another on-disk format version.
    #[error(
        "{path}: BM25 index format version {found}, but this trawl reads version {expected}; \
         rebuild the index (a knowledge base: `trawl kb build DOCS --out KB --force`)"
    )]
    FormatVersion {
        path: PathBuf,
        found: u32,
        expected: u32,
    },
    /// The Snowball language is not one `rust-stemmers` provides.
    #[error("unknown Snowball stemmer language `{language}` (known: {known})")]
    UnknownLanguage { language: String, known: String },
    /// BM25 parameters out of their meaningful range.
    #[error("invalid BM25 parameter: {0}")]
    InvalidParams(String),
    /// Segments searched together differ in analysis or BM25 settings (both named).
    #[error("segments differ in settings: {first} vs {other}; rebuild with one setting")]
    SegmentMismatch { first: String, other: String },
    /// A deletion bitmap that does not fit its segment.
    #[error("segment {segment}: deletion bitmap of {words} words for {docs} documents")]
    BadDeletions {
        segment: usize,
        words: usize,
        docs: usize,
    },
    /// The index is too large for this format (more than u32::MAX documents).
    #[error("too many documents: the index holds at most {max} documents")]
    TooManyDocuments { max: u64 },
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
