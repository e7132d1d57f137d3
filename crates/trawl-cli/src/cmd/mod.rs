//! One module per subcommand: its clap arguments and its `run`.

mod quantize_arg;
pub use quantize_arg::{Quantize, QuantizeArg};

pub mod beir;
pub mod bench;
pub mod check;
mod check_faiss;
pub mod chunk;
pub mod compare;
pub mod embeddings;
pub mod encode;
pub mod eval;
pub mod index_args;
pub mod kb;
mod kb_import_faiss;
pub mod kb_index;
mod kb_plan;
mod kb_plan_bm25;
pub mod kb_update;
#[cfg(feature = "train")]
pub mod mine_negatives;
pub mod prep;
pub mod rag_data;
pub mod report;
pub mod rerank;
pub mod reward;
pub mod search;
pub mod serve;
#[cfg(feature = "train")]
pub mod train;
pub mod trec_eval;
#[cfg(not(feature = "train"))]
pub mod without_train;
#[cfg(not(feature = "train"))]
pub use without_train as train;
#[cfg(not(feature = "train"))]
pub use without_train as mine_negatives;
