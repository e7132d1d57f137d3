//! Sentence embeddings for trawl: loads sentence-transformers folders (BERT-family encoders and
//! Qwen3 decoders) and gives the same vectors as sentence-transformers, on a fused CPU forward
//! pass (or candle tensors, which also run on CUDA with the `cuda` feature).
//!
//! ```no_run
//! use trawl_embed::{EncoderOptions, SentenceEncoder};
//! // A folder, or a hub id found in ./models or the local Hugging Face cache.
//! let enc = SentenceEncoder::load("all-MiniLM-L6-v2", &EncoderOptions::default())?;
//! let docs = enc.encode_documents(&["Dense retrieval embeds text.", "BM25 counts terms."])?;
//! let query = enc.encode_queries(&["what is dense retrieval?"])?;
//! assert_eq!((docs.n, docs.dim), (2, 384));
//! let score: f32 = query.row(0).iter().zip(docs.row(0)).map(|(a, b)| a * b).sum();
//! # let _ = score;
//! # Ok::<(), trawl_embed::Error>(())
//! ```

mod candle_bert;
mod config;
mod cross_encoder;
mod dense;
mod embeddings;
mod encoder;
mod error;
mod fused;
mod pooling;
mod qwen3;
mod relative;
mod resolve;
mod tokenize;
mod weights;

pub use config::{
    known_prefixes, BertConfig, DecoderConfig, DenseActivation, DenseConfig, DenseModule, Family,
    ModelConfig, Pooling, SUPPORTED_MODEL_TYPES,
};
pub use cross_encoder::{Activation, CrossEncoder, CrossEncoderOptions, SUPPORTED_CROSS_ENCODERS};
pub use dense::load_dense_tensors;
pub use embeddings::Embeddings;
pub use encoder::{Backend, Device, EncoderOptions, Progress, SentenceEncoder};
pub use error::{Error, Result};
pub use relative::{relative_bucket_matrix, relative_buckets_up_to};
pub use resolve::resolve_model_dir;
pub use tokenize::TextTokenizer;
pub use trawl_kernels::int8::Quantize;
pub use weights::{
    float_f32, layer_names, read_tensors, tensor_prefix, weights_path, LayerNames, RELATIVE_BIAS,
};
