//! `CrossEncoder`: (query, passage) pairs in, sentence-transformers-equal relevance scores out.
//! A sequence-classification model with one label (`BertForSequenceClassification`,
//! `XLMRobertaForSequenceClassification`, ...) reads both texts at once; its encoder is the
//! same fused forward pass that [`crate::SentenceEncoder`] runs.

mod head;

use std::path::Path;

use rayon::prelude::*;
use serde_json::Value;

use crate::config::{Family, ModelConfig};
use crate::fused::FusedBert;
use crate::tokenize::TextTokenizer;
use crate::weights::{load_weights_from, read_tensors, tensor_prefix, weights_path};
use crate::{Error, Result};

use head::Head;
pub use head::{Activation, SUPPORTED_CROSS_ENCODERS};

/// How to load and run a cross-encoder. `Default`: batch 32, the model's own maximum length.
#[derive(Debug, Clone)]
pub struct CrossEncoderOptions {
    /// Pairs per forward pass (sorted by length first, like CrossEncoder.predict).
    pub batch_size: usize,
    /// Tokens per pair, special tokens included; None: the model's (tokenizer_config.json
    /// model_max_length, capped by the position table).
    pub max_length: Option<usize>,
    /// `Int8`: dynamic int8 quantisation of the encoder's Linear layers (the head stays f32).
    pub quantize: crate::Quantize,
}

impl Default for CrossEncoderOptions {
    fn default() -> Self {
        CrossEncoderOptions {
            batch_size: 32,
            max_length: None,
            quantize: crate::Quantize::None,
        }
    }
}

/// A loaded reranking model.
pub struct CrossEncoder {
    name: String,
    architecture: String,
    tokenizer: TextTokenizer,
    bert: FusedBert,
    head: Head,
    activation: Activation,
    hidden: usize,
    /// BERT's segment embeddings tell the two texts apart; RoBERTa-family models have none.
    token_types: bool,
    batch_size: usize,
    max_length: usize,
}

impl CrossEncoder {
    /// Loads a model from a folder path or a hub id (see [`crate::resolve_model_dir`]).
    pub fn load(name_or_path: &str, opts: &CrossEncoderOptions) -> Result<CrossEncoder> {
        let dir = crate::resolve_model_dir(name_or_path)?;
        if opts.batch_size == 0 {
            return Err(Error::InvalidOption("batch size must be at least 1".into()));
        }
        let config_path = dir.join("config.json");
        let raw: Value = std::fs::read_to_string(&config_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or(Value::Null);
        let architecture = architecture(&raw, &config_path)?;
        let cfg = ModelConfig::read(&dir)?;
        let activation = Activation::from_folder(&dir, &raw)?;
        let max_length = match opts.max_length {
            Some(n) if n < 3 => {
                return Err(Error::InvalidOption(format!(
                    "max length {n} leaves no room for a pair and its special tokens"
                )))
            }
            Some(n) => n.min(cfg.bert.max_position_embeddings - cfg.bert.position_offset),
            None => cfg.max_seq_length,
        };
        let tokenizer = TextTokenizer::load(&dir, max_length, cfg.do_lower_case)?;
        let path = weights_path(&dir)?;
        let tensors = read_tensors(&path)?;
        let prefix = tensor_prefix(&tensors, "embeddings.word_embeddings.weight", &path)?;
        let head = Head::load(&architecture, &tensors, prefix, cfg.bert.hidden_size, &path)?;
        let weights = load_weights_from(&tensors, &path, &cfg.bert)?
            .try_map(|t| Ok(t.flatten_all()?.to_vec1::<f32>()?))?;
        let mut bert = FusedBert::new(cfg.bert.clone(), weights);
        if opts.quantize == crate::Quantize::Int8 {
            bert.quantize_int8();
        }
        Ok(CrossEncoder {
            name: crate::encoder::model_name(name_or_path, &dir),
            architecture,
            tokenizer,
            token_types: cfg.bert.family == Family::Bert
                && cfg.bert.type_vocab_size > 1
                && tokenizer_gives_token_types(&dir),
            hidden: cfg.bert.hidden_size,
            bert,
            head,
            activation,
            batch_size: opts.batch_size,
            max_length,
        })
    }

    /// The model's name as given (hub id or folder name).
    pub fn name(&self) -> &str {
        &self.name
    }
    /// config.json's architecture (`BertForSequenceClassification`, ...).
    pub fn architecture(&self) -> &str {
        &self.architecture
    }
    /// What [`CrossEncoder::predict`] applies to the logit.
    pub fn activation(&self) -> Activation {
        self.activation
    }
    /// Tokens per pair beyond which the longer text is cut.
    pub fn max_length(&self) -> usize {
        self.max_length
    }

    /// Scores of (query, passage) pairs, as CrossEncoder.predict gives them (the folder's
    /// activation applied to the logit).
    pub fn predict(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>> {
        let mut s = self.logits(pairs)?;
        for x in &mut s {
            *x = self.activation.apply(*x);
        }
        Ok(s)
    }

    /// The raw logit of each pair.
    pub fn logits(&self, pairs: &[(&str, &str)]) -> Result<Vec<f32>> {
        let encoded = self.tokenizer.encode_pairs(pairs)?;
        let n = encoded.len();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(encoded[i].0.len()));
        let batches: Vec<&[usize]> = order.chunks(self.batch_size).collect();
        let threads = rayon::current_num_threads();
        let run = |batch: &&[usize], inner_threads: usize| -> Vec<f32> {
            let ids: Vec<Vec<u32>> = batch.iter().map(|&i| encoded[i].0.clone()).collect();
            let types: Option<Vec<Vec<u32>>> = self
                .token_types
                .then(|| batch.iter().map(|&i| encoded[i].1.clone()).collect());
            let (hidden, starts) = self
                .bert
                .forward_typed(&ids, types.as_deref(), inner_threads);
            let h = self.hidden;
            starts[..ids.len()]
                .iter()
                .map(|&s| self.head.logit(&hidden[s * h..(s + 1) * h]))
                .collect()
        };
        // As in SentenceEncoder: with many batches, one single-threaded batch per core.
        let per_batch: Vec<Vec<f32>> = if batches.len() >= 2 * threads && threads > 1 {
            batches
                .par_iter()
                .with_max_len(1)
                .map(|b| run(b, 1))
                .collect()
        } else {
            batches.iter().map(|b| run(b, threads)).collect()
        };
        let mut out = vec![0f32; n];
        for (batch, logits) in batches.iter().zip(&per_batch) {
            for (&i, &l) in batch.iter().zip(logits) {
                out[i] = l;
            }
        }
        Ok(out)
    }
}

/// config.json's first `architectures` entry, if trawl has its head.
fn architecture(config: &Value, path: &Path) -> Result<String> {
    let name = config
        .get("architectures")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .and_then(Value::as_str)
        .unwrap_or("(none given)");
    if SUPPORTED_CROSS_ENCODERS.split(", ").any(|s| s == name) {
        Ok(name.to_string())
    } else {
        Err(Error::UnsupportedCrossEncoder {
            path: path.to_path_buf(),
            architecture: name.to_string(),
        })
    }
}

/// Whether transformers hands the model `token_type_ids` for this folder's tokenizer: the
/// tokenizer's `model_input_names` (tokenizer_config.json), by default those of its class
/// (`BertTokenizer` lists them; transformers 5's generic tokenizer classes do not).
fn tokenizer_gives_token_types(dir: &Path) -> bool {
    let Some(v) = std::fs::read_to_string(dir.join("tokenizer_config.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok())
    else {
        return true;
    };
    if let Some(names) = v.get("model_input_names").and_then(Value::as_array) {
        return names.iter().any(|n| n == "token_type_ids");
    }
    match v.get("tokenizer_class").and_then(Value::as_str) {
        Some(class) => class.starts_with("BertTokenizer") || class.starts_with("ElectraTokenizer"),
        None => true,
    }
}
