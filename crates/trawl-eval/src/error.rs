//! The one error type of this crate.

use std::path::PathBuf;

/// Errors from evaluating runs: bad input files, bad measure requests, inconsistent data.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A qrels or run file could not be read or parsed (trawl-data's reader names the file and
    /// line).
    #[error(transparent)]
    Data(#[from] trawl_data::Error),
    /// The same document appears twice in one query's ranking (trec_eval refuses such runs too).
    #[error("query '{query}': document '{doc}' appears more than once{}; remove the duplicate lines", .origin.as_ref().map(|p| format!(" in {}", p.display())).unwrap_or_default())]
    DuplicateDoc {
        query: String,
        doc: String,
        origin: Option<PathBuf>,
    },
    /// A measure that trec_eval has (or that was mistyped) but trawl does not compute.
    #[error("measure '{0}' is not implemented by trawl")]
    NotImplemented(String),
    /// A measure request with malformed parameters, e.g. `P.0` or `P.5,5`.
    #[error("measure '{measure}': {message}")]
    BadParameter { measure: String, message: String },
    /// A friendly metric name that could not be parsed, e.g. `ndcg@x`.
    #[error(
        "unknown metric '{0}': expected one of ndcg@K, recall@K, mrr@K, map@K (or map), p@K, hit@K"
    )]
    UnknownMetric(String),
    /// No query is both judged and retrieved, so there is nothing to average.
    #[error("no queries with both results and relevance judgements (check that the query ids of the run match the qrels)")]
    NoQueries,
    /// Significance tests need runs with the same queries.
    #[error("{0}")]
    Mismatch(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
