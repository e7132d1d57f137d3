//! `config.json` of a BERT model: the fields the trainable encoder needs.

use std::path::Path;

use serde::Deserialize;

use crate::{Error, Result};

/// The BERT hyper-parameters read from a Hugging Face `config.json`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default = "default_dropout")]
    pub hidden_dropout_prob: f64,
    #[serde(default = "default_dropout")]
    pub attention_probs_dropout_prob: f64,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_model_type")]
    pub model_type: String,
    #[serde(default = "default_pos")]
    pub position_embedding_type: String,
}

fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_dropout() -> f64 {
    0.1
}
fn default_act() -> String {
    "gelu".into()
}
fn default_model_type() -> String {
    "bert".into()
}
fn default_pos() -> String {
    "absolute".into()
}

impl BertConfig {
    /// Reads and checks `config.json`; refuses architectures this encoder does not implement.
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let cfg: BertConfig = serde_json::from_str(&text)
            .map_err(|e| Error::model(path, format!("not a BERT config.json: {e}")))?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    fn validate(&self, path: &Path) -> Result<()> {
        if self.model_type != "bert" {
            return Err(Error::model(
                path,
                format!(
                    "model_type `{}` is not supported for training (only `bert`)",
                    self.model_type
                ),
            ));
        }
        if self.hidden_act != "gelu" {
            return Err(Error::model(
                path,
                format!(
                    "hidden_act `{}` is not supported (only `gelu`, the erf form)",
                    self.hidden_act
                ),
            ));
        }
        if self.position_embedding_type != "absolute" {
            return Err(Error::model(
                path,
                format!(
                    "position_embedding_type `{}` is not supported",
                    self.position_embedding_type
                ),
            ));
        }
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return Err(Error::model(
                path,
                format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    self.hidden_size, self.num_attention_heads
                ),
            ));
        }
        Ok(())
    }
}
