//! The sequence-classification head on top of the encoder, as transformers defines it for each
//! architecture, and the activation sentence-transformers' CrossEncoder applies to its logit.

use std::collections::HashMap;
use std::path::Path;

use candle_core::Tensor;
use serde_json::Value;

use crate::weights::float_f32;
use crate::{Error, Result};

/// The `architectures` entries of config.json that trawl scores pairs with.
pub const SUPPORTED_CROSS_ENCODERS: &str = "BertForSequenceClassification, DistilBertForSequenceClassification, RobertaForSequenceClassification, XLMRobertaForSequenceClassification";

/// What the CrossEncoder applies to the logit (its `activation_fn`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Sigmoid,
    Identity,
    Tanh,
}

impl Activation {
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::Identity => x,
            Activation::Tanh => x.tanh(),
        }
    }

    /// The activation a folder asks for, looked up where sentence-transformers looks:
    /// config_sentence_transformers.json `activation_fn` (v5+), config.json
    /// `sentence_transformers.activation_fn` (v4), config.json
    /// `sbert_ce_default_activation_function` (older); Sigmoid when none is given (one label).
    /// Like sentence-transformers without `trust_remote_code`, a class outside `torch.` is ignored.
    pub fn from_folder(dir: &Path, config: &Value) -> Result<Activation> {
        let st_path = dir.join("config_sentence_transformers.json");
        let st: Option<Value> = std::fs::read_to_string(&st_path)
            .ok()
            .and_then(|t| serde_json::from_str(&t).ok());
        let (path, name) = if let Some(n) = st
            .as_ref()
            .and_then(|v| v.get("activation_fn"))
            .and_then(Value::as_str)
        {
            (st_path, n.to_string())
        } else if let Some(n) = config
            .pointer("/sentence_transformers/activation_fn")
            .or_else(|| config.get("sbert_ce_default_activation_function"))
            .and_then(Value::as_str)
        {
            (dir.join("config.json"), n.to_string())
        } else {
            return Ok(Activation::Sigmoid);
        };
        if !name.starts_with("torch.") {
            return Ok(Activation::Sigmoid);
        }
        match name.rsplit('.').next() {
            Some("Sigmoid") => Ok(Activation::Sigmoid),
            Some("Identity") => Ok(Activation::Identity),
            Some("Tanh") => Ok(Activation::Tanh),
            _ => Err(Error::BadConfig {
                path,
                message: format!(
                    "activation `{name}` is not supported (torch.nn Sigmoid, Identity or Tanh)"
                ),
            }),
        }
    }
}

/// `logit = out · act(dense · h_first + dense_b) + out_b` on the first token's hidden state:
/// BERT's pooler + classifier and RoBERTa's classification head (dense, tanh, out_proj) with
/// tanh, DistilBERT's pre_classifier + classifier with ReLU, under different names.
pub(crate) struct Head {
    dense_w: Vec<f32>,
    dense_b: Vec<f32>,
    out_w: Vec<f32>,
    out_b: f32,
    /// ReLU between the two layers (DistilBERT); tanh otherwise.
    relu: bool,
}

impl Head {
    /// Reads the head of `architecture` from `tensors` (the encoder's tensors carry `prefix`).
    pub fn load(
        architecture: &str,
        tensors: &HashMap<String, Tensor>,
        prefix: &str,
        hidden: usize,
        path: &Path,
    ) -> Result<Head> {
        let (dense, out) = match architecture {
            "BertForSequenceClassification" => {
                (format!("{prefix}pooler.dense"), "classifier".into())
            }
            "DistilBertForSequenceClassification" => {
                ("pre_classifier".into(), "classifier".to_string())
            }
            "RobertaForSequenceClassification" | "XLMRobertaForSequenceClassification" => {
                ("classifier.dense".into(), "classifier.out_proj".to_string())
            }
            other => {
                return Err(Error::UnsupportedCrossEncoder {
                    path: path.to_path_buf(),
                    architecture: other.to_string(),
                })
            }
        };
        let get = |name: String| -> Result<Tensor> {
            let t = tensors.get(&name).ok_or_else(|| Error::MissingWeight {
                path: path.to_path_buf(),
                tensor: name.clone(),
            })?;
            float_f32(t, &name, path)
        };
        let vec = |t: Tensor| -> Result<Vec<f32>> { Ok(t.flatten_all()?.to_vec1::<f32>()?) };
        let out_w = get(format!("{out}.weight"))?;
        let labels = out_w.dims().first().copied().unwrap_or(0);
        if labels != 1 {
            return Err(Error::LabelCount {
                path: path.to_path_buf(),
                tensor: format!("{out}.weight"),
                labels,
            });
        }
        let shapes = [
            (format!("{dense}.weight"), vec![hidden, hidden]),
            (format!("{dense}.bias"), vec![hidden]),
            (format!("{out}.weight"), vec![1, hidden]),
            (format!("{out}.bias"), vec![1]),
        ];
        let mut parts = Vec::with_capacity(4);
        for (name, shape) in shapes {
            let t = get(name.clone())?;
            if t.dims() != shape.as_slice() {
                return Err(Error::ShapeMismatch {
                    path: path.to_path_buf(),
                    tensor: name,
                    expected: shape,
                    found: t.dims().to_vec(),
                });
            }
            parts.push(vec(t)?);
        }
        let out_b = parts.pop().unwrap_or_default()[0];
        let out_w = parts.pop().unwrap_or_default();
        let dense_b = parts.pop().unwrap_or_default();
        let dense_w = parts.pop().unwrap_or_default();
        Ok(Head {
            dense_w,
            dense_b,
            out_w,
            out_b,
            relu: architecture == "DistilBertForSequenceClassification",
        })
    }

    /// The logit of one first-token hidden state.
    pub fn logit(&self, first: &[f32]) -> f32 {
        let h = first.len();
        let mut acc = self.out_b;
        for (j, row) in self.dense_w.chunks_exact(h).enumerate() {
            let z: f32 = row.iter().zip(first).map(|(a, b)| a * b).sum::<f32>() + self.dense_b[j];
            acc += self.out_w[j] * if self.relu { z.max(0.0) } else { z.tanh() };
        }
        acc
    }
}
