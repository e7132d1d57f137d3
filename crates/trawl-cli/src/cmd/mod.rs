//! One module per subcommand: its clap arguments and its `run`.

pub use trawl_kernels::int8::Quantize;

/// `--quantize`, the one flag of every command that loads a model.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct QuantizeArg {
    /// `int8`: run the model's Linear layers in int8 (dynamic quantisation: per-channel int8
    /// weights, per-token int8 activations; about 2x faster on CPU, embeddings at cosine
    /// >= 0.99 to f32); `none`: f32. Default f32, except that queries against a KB are
    /// encoded as its documents were (`kb info` shows it).
    #[arg(long, value_name = "int8|none")]
    pub quantize: Option<Quantize>,
}

impl QuantizeArg {
    /// The setting for a model loaded on its own (f32 unless asked).
    pub fn get(&self) -> Quantize {
        self.quantize.unwrap_or_default()
    }
}

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
