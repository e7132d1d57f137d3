use std::path::PathBuf;

/// Everything that can go wrong loading a model or encoding text.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A model name that is neither a folder nor in the local Hugging Face cache / ./models.
    #[error("model `{name}` not found; looked in:\n{searched}\nGet all-MiniLM-L6-v2 with `scripts/get-model.sh` (installs ./models/all-MiniLM-L6-v2), put the model in the Hugging Face cache, or pass the path of a sentence-transformers folder")]
    ModelNotFound { name: String, searched: String },
    /// A file the model folder must contain is missing.
    #[error("{path}: missing: {what}")]
    MissingFile { path: PathBuf, what: String },
    /// A JSON file that does not parse or lacks a field.
    #[error("{path}: {message}")]
    BadConfig { path: PathBuf, message: String },
    /// config.json names a model family this crate cannot run.
    #[error(
        "{path}: unsupported architecture `{model_type}` (trawl runs model_type {})",
        crate::config::SUPPORTED_MODEL_TYPES
    )]
    UnsupportedArchitecture { path: PathBuf, model_type: String },
    /// config.json's `architectures` is not a sequence-classification model trawl can rerank with.
    #[error(
        "{path}: `{architecture}` is not a cross-encoder trawl can run (supported architectures: {})",
        crate::cross_encoder::SUPPORTED_CROSS_ENCODERS
    )]
    UnsupportedCrossEncoder { path: PathBuf, architecture: String },
    /// A classifier with several outputs where a reranker needs one relevance logit.
    #[error("{path}: `{tensor}` has {labels} labels; a reranker needs a cross-encoder with one label (num_labels 1, one relevance logit)")]
    LabelCount {
        path: PathBuf,
        tensor: String,
        labels: usize,
    },
    /// modules.json lists a sentence-transformers module this crate does not implement.
    #[error("{path}: unsupported sentence-transformers module `{module}`")]
    UnsupportedModule { path: PathBuf, module: String },
    /// The weights disagree with config.json.
    #[error("{path}: tensor `{tensor}` has shape {found:?}, config.json implies {expected:?}")]
    ShapeMismatch {
        path: PathBuf,
        tensor: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    /// The hidden size in config.json differs from the embedding width of the weights.
    #[error(
        "{path}: config.json says hidden_size {config}, but the weights have hidden size {weights}"
    )]
    HiddenSizeMismatch {
        path: PathBuf,
        config: usize,
        weights: usize,
    },
    /// A weight the model needs is not in the file.
    #[error("{path}: weight `{tensor}` not found")]
    MissingWeight { path: PathBuf, tensor: String },
    /// A weights file that cannot be read (truncated, corrupt, unknown format).
    #[error("{path}: cannot read weights: {message}")]
    BadWeights { path: PathBuf, message: String },
    /// tokenizer.json could not be loaded or a text could not be tokenized.
    #[error("{path}: tokenizer: {message}")]
    Tokenizer { path: PathBuf, message: String },
    /// A GPU was asked for but this build has no CUDA backend.
    #[error("trawl was built without CUDA; rebuild with `--features cuda` (needs the CUDA toolkit) or use the CPU device")]
    CudaNotCompiled,
    /// The GPU backend failed to start.
    #[error("cannot use CUDA device {ordinal}: {message}")]
    CudaUnavailable { ordinal: usize, message: String },
    /// An option value that makes no sense.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// An error from candle during inference.
    #[error("inference failed: {0}")]
    Candle(#[from] candle_core::Error),
    /// I/O on a named file.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub type Result<T> = std::result::Result<T, Error>;
