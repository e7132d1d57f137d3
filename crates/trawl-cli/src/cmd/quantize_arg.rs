//! `--quantize`, shared by every command that loads a model (its own file so that
//! trawl-train's CLI test can compile `train.rs` beside it).

pub use trawl_kernels::int8::Quantize;

/// `--quantize`, the one flag of every command that loads a model.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct QuantizeArg {
    /// `int8`: run the model's Linear layers in int8 (dynamic quantisation: per-channel int8
    /// weights, per-token int8 activations; about 2.6x f32 on CPU, embeddings at a cosine of at
    /// least 0.99 to f32); `none`: f32. Default f32, except that queries against a KB are
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
