use std::path::PathBuf;

/// Everything that can go wrong in this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A vector (or a batch of them) does not have the index's dimension.
    #[error("wrong vector dimension: the index holds {expected}-d vectors, received {received} values per vector")]
    WrongVectorDimension { expected: usize, received: usize },
    /// A flat buffer whose length is not a multiple of the dimension.
    #[error("a batch of {len} values is not a whole number of {dim}-d vectors")]
    RaggedBatch { len: usize, dim: usize },
    /// A dimension of zero was asked for.
    #[error("a vector index needs a dimension of at least 1")]
    ZeroDimension,
    /// The index would exceed u32 document ordinals.
    #[error("a flat index holds at most {max} vectors")]
    TooManyVectors { max: u64 },
    /// A file that is not a trawl vector file, from a newer version, truncated or corrupted.
    #[error("{path}: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    /// Parameters that cannot build an index (e.g. nlist larger than the number of vectors).
    #[error("{0}")]
    InvalidParams(String),
    /// A FAISS index file trawl cannot import (unsupported type, truncated, inconsistent).
    #[error("{path}: FAISS index: {message}")]
    Faiss { path: PathBuf, message: String },
    /// A file-level error from trawl-store (checksum, footer, version, I/O).
    #[error(transparent)]
    Store(#[from] trawl_store::Error),
    /// I/O on a named file.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.to_path_buf(),
        source,
    }
}
