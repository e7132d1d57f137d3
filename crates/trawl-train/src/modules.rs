//! The sentence-transformers module files of a model folder: `modules.json`, the pooling config,
//! `sentence_bert_config.json` and an optional Dense projection.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// One entry of `modules.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ModuleEntry {
    pub idx: usize,
    pub name: String,
    pub path: String,
    #[serde(rename = "type")]
    pub kind: String,
}

/// How token states become one vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    Mean,
    Cls,
}

/// Activation after a Dense projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenseActivation {
    Identity,
    Tanh,
}

impl DenseActivation {
    pub fn torch_name(self) -> &'static str {
        match self {
            DenseActivation::Identity => "torch.nn.modules.linear.Identity",
            DenseActivation::Tanh => "torch.nn.modules.activation.Tanh",
        }
    }
}

/// `config.json` of a sentence-transformers Dense module.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DenseConfig {
    pub in_features: usize,
    pub out_features: usize,
    #[serde(default = "yes")]
    pub bias: bool,
    #[serde(default = "tanh_name")]
    pub activation_function: String,
}

fn yes() -> bool {
    true
}
fn tanh_name() -> String {
    DenseActivation::Tanh.torch_name().to_string()
}

impl DenseConfig {
    pub fn activation(&self, path: &Path) -> Result<DenseActivation> {
        match self.activation_function.rsplit('.').next() {
            Some("Identity") => Ok(DenseActivation::Identity),
            Some("Tanh") => Ok(DenseActivation::Tanh),
            _ => Err(Error::model(
                path,
                format!(
                    "Dense activation `{}` is not supported (Identity or Tanh)",
                    self.activation_function
                ),
            )),
        }
    }
}

/// The pipeline a folder describes: pooling, an optional Dense module (its folder name) and
/// whether the output is L2-normalised.
#[derive(Debug, Clone)]
pub struct Pipeline {
    pub modules: Vec<ModuleEntry>,
    pub pooling: Pooling,
    pub dense_dir: Option<String>,
    pub normalize: bool,
    pub max_seq_length: Option<usize>,
}

pub(crate) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| Error::model(path, format!("invalid JSON: {e}")))
}

impl Pipeline {
    /// Reads the module files of `dir`. A folder without `modules.json` is treated as a plain
    /// transformer with mean pooling and no normalisation (what sentence-transformers does).
    pub fn read(dir: &Path) -> Result<Self> {
        let modules_path = dir.join("modules.json");
        let modules: Vec<ModuleEntry> = if modules_path.exists() {
            read_json(&modules_path)?
        } else {
            Vec::new()
        };
        let mut pooling = Pooling::Mean;
        let mut dense_dir = None;
        let mut normalize = false;
        for m in &modules {
            let short = m.kind.rsplit('.').next().unwrap_or("");
            match short {
                "Transformer" => {}
                "Pooling" => pooling = read_pooling(&dir.join(&m.path).join("config.json"))?,
                "Dense" => {
                    if dense_dir.is_some() {
                        return Err(Error::model(&modules_path, "more than one Dense module"));
                    }
                    dense_dir = Some(m.path.clone());
                }
                "Normalize" => normalize = true,
                other => {
                    return Err(Error::model(
                        &modules_path,
                        format!("module type `{other}` is not supported for training"),
                    ))
                }
            }
        }
        let sbert = dir.join("sentence_bert_config.json");
        let max_seq_length = if sbert.exists() {
            let v: serde_json::Value = read_json(&sbert)?;
            v.get("max_seq_length")
                .and_then(|x| x.as_u64())
                .map(|x| x as usize)
        } else {
            None
        };
        Ok(Self {
            modules,
            pooling,
            dense_dir,
            normalize,
            max_seq_length,
        })
    }
}

fn read_pooling(path: &Path) -> Result<Pooling> {
    let v: serde_json::Value = read_json(path)?;
    let flag = |k: &str| v.get(k).and_then(|x| x.as_bool()).unwrap_or(false);
    let others = [
        "pooling_mode_max_tokens",
        "pooling_mode_mean_sqrt_len_tokens",
    ];
    if others.iter().any(|k| flag(k)) {
        return Err(Error::model(path, "only mean or CLS pooling is supported"));
    }
    match (
        flag("pooling_mode_mean_tokens"),
        flag("pooling_mode_cls_token"),
    ) {
        (true, false) => Ok(Pooling::Mean),
        (false, true) => Ok(Pooling::Cls),
        _ => Err(Error::model(
            path,
            "expected exactly one of pooling_mode_mean_tokens / pooling_mode_cls_token",
        )),
    }
}
