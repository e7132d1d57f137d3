//! The one error type of this crate.

use std::path::PathBuf;

/// Errors from retrieval, fusion, label loading and reward computation.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Dense retrieval was asked for but the `dense` cargo feature is off.
    #[error("trawl was built without dense retrieval: rebuild with `--features dense` (the default) to use the dense or hybrid retrievers")]
    DenseNotBuilt,
    /// The knowledge base lacks an index a retriever needs.
    #[error("the knowledge base has no {index} index: {hint}")]
    MissingIndex { index: &'static str, hint: String },
    /// A caller-supplied value is out of range or malformed.
    #[error("invalid {field}: {message}")]
    InvalidArgument {
        field: &'static str,
        message: String,
    },
    /// A metric name that the reward code does not accept.
    #[error("unknown metric `{given}`: expected one of ndcg@K, recall@K, hit@K, mrr@K, precision@K (K a positive integer){detail}")]
    UnknownMetric { given: String, detail: String },
    /// A labels file that could not be read or parsed.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Labels {
        path: PathBuf,
        line: Option<usize>,
        message: String,
    },
    /// An error from the underlying engine (BM25 index, vector index, encoder, KB).
    #[error("{retriever} retrieval failed: {message}")]
    Engine { retriever: String, message: String },
    /// An error from reading IR data files.
    #[error(transparent)]
    Data(#[from] trawl_data::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
