//! The one error type of this crate.

use std::path::PathBuf;

/// Errors from building, opening or searching a knowledge base.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The input documents could not be read (bad JSON, missing id, ...).
    #[error("reading documents: {0}")]
    Input(#[from] trawl_data::Error),
    /// Two documents share an id.
    #[error(
        "duplicate document id `{id}`: input record {second} repeats the id of record {first} \
         (records count from 1); document ids must be unique, fix or deduplicate the corpus"
    )]
    DuplicateId { id: String, first: u64, second: u64 },
    /// A document has an empty id.
    #[error("input record {record} has an empty document id; every document needs an id")]
    EmptyId { record: u64 },
    /// The corpus held no documents.
    #[error("the corpus is empty: no documents to build a knowledge base from")]
    EmptyCorpus,
    /// More documents than ordinals (u32) can address.
    #[error("too many documents: a knowledge base holds at most {max}")]
    TooManyDocuments { max: u64 },
    /// A document id that cannot be written to a TREC run file.
    #[error(
        "input record {record}: document id {id:?} contains {what}; ids are written to TREC run \
         files, which split on whitespace: fix the corpus (records count from 1)"
    )]
    BadId {
        record: u64,
        id: String,
        what: String,
    },
    /// The output path exists and is not a knowledge base this trawl may replace.
    #[error(
        "{path} exists and {reason}; refusing to overwrite it: choose another --out directory \
         or remove it yourself"
    )]
    RefuseOverwrite { path: PathBuf, reason: String },
    /// The output path is a knowledge base and overwriting was not asked for.
    #[error("{path} already holds a knowledge base; pass --force (overwrite: true) to replace it")]
    AlreadyExists { path: PathBuf },
    /// The directory is not a knowledge base (or an interrupted build).
    #[error(
        "{path} is not a trawl knowledge base: {reason}; build one with `trawl kb build DOCS --out {path}`"
    )]
    NotAKnowledgeBase { path: PathBuf, reason: String },
    /// The manifest's format version is not the one this trawl reads.
    #[error(
        "{path}: knowledge base format version {found}, but this trawl ({trawl}) reads version \
         {expected}; rebuild it with `trawl kb build ... --force`"
    )]
    FormatVersion {
        path: PathBuf,
        found: u32,
        expected: u32,
        trawl: &'static str,
    },
    /// The manifest is not valid JSON of the expected shape.
    #[error("{path}: corrupt manifest: {message}; rebuild the knowledge base")]
    BadManifest { path: PathBuf, message: String },
    /// A file is missing, cut short or its bytes do not match the recorded checksum.
    #[error("{path}: {message}; the knowledge base is damaged, rebuild it")]
    Corrupt { path: PathBuf, message: String },
    /// An ordinal past the last document.
    #[error("document ordinal {ordinal} is out of range (the knowledge base holds {num_docs})")]
    OrdinalOutOfRange { ordinal: u64, num_docs: u64 },
    /// The knowledge base has no index of this kind.
    #[error("this knowledge base has no {kind} index; rebuild it with {hint}")]
    MissingIndex {
        kind: &'static str,
        hint: &'static str,
    },
    /// Embeddings do not fit the documents or the declared dimension.
    #[error("embeddings: {message}")]
    BadEmbeddings { message: String },
    /// An approximate index that is missing, misnamed or does not fit the KB's vectors.
    #[error("{message}")]
    Ann { message: String },
    /// An update this knowledge base cannot take.
    #[error("{path}: cannot update: {message}")]
    Update { path: PathBuf, message: String },
    /// Documents meant for other BM25 settings than the knowledge base was built with.
    #[error(
        "{path} was built with BM25 settings {kb}, but the update asks for {given}; all \
         segments of a knowledge base share one analyzer and scoring: drop the settings flags \
         to use the KB's, or rebuild it with `trawl kb build DOCS --out KB --force` and the new \
         settings"
    )]
    SettingsMismatch {
        path: PathBuf,
        kb: String,
        given: String,
    },
    /// An error from the BM25 engine.
    #[error(transparent)]
    Bm25(#[from] trawl_bm25::Error),
    /// An error from the vector index.
    #[error(transparent)]
    Vector(#[from] trawl_vector::Error),
    /// An error from the storage layer.
    #[error(transparent)]
    Store(#[from] trawl_store::Error),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::Corrupt {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
