//! Reads a sentence-transformers folder: config.json, sentence_bert_config.json, modules.json,
//! the pooling config and the prompts, into one `ModelConfig`.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::{Error, Result};

/// How token vectors become one sentence vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pooling {
    /// Average over the real (non-padding) tokens.
    Mean,
    /// The first token ([CLS]).
    Cls,
    /// Element-wise maximum over the real tokens.
    Max,
    /// Sum divided by sqrt(number of tokens).
    MeanSqrtLen,
}

/// Architecture numbers from config.json (BERT family).
#[derive(Debug, Clone, PartialEq)]
pub struct BertConfig {
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
}

/// Everything needed to run a model folder the way sentence-transformers does.
#[derive(Debug, Clone)]
pub struct ModelConfig {
    pub dir: PathBuf,
    pub bert: BertConfig,
    /// Tokens per text including [CLS]/[SEP] (sentence_bert_config.json max_seq_length).
    pub max_seq_length: usize,
    /// Lowercase text before tokenizing (sentence_bert_config.json do_lower_case).
    pub do_lower_case: bool,
    pub pooling: Pooling,
    /// A Normalize module follows pooling.
    pub normalize: bool,
    pub query_prefix: String,
    pub document_prefix: String,
}

fn read_json(path: &Path) -> Result<Value> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::MissingFile {
                path: path.to_path_buf(),
                what: "required model file".into(),
            }
        } else {
            Error::Io {
                path: path.to_path_buf(),
                source: e,
            }
        }
    })?;
    serde_json::from_str(&text).map_err(|e| Error::BadConfig {
        path: path.to_path_buf(),
        message: format!("invalid JSON: {e}"),
    })
}

fn read_optional_json(path: &Path) -> Result<Option<Value>> {
    if path.exists() {
        read_json(path).map(Some)
    } else {
        Ok(None)
    }
}

fn usize_field(v: &Value, key: &str, path: &Path) -> Result<usize> {
    v.get(key)
        .and_then(Value::as_u64)
        .map(|x| x as usize)
        .ok_or_else(|| Error::BadConfig {
            path: path.to_path_buf(),
            message: format!("expected a non-negative integer field `{key}`"),
        })
}

impl ModelConfig {
    /// Reads the configuration files of the model folder `dir`.
    pub fn read(dir: &Path) -> Result<ModelConfig> {
        let config_path = dir.join("config.json");
        let cfg = read_json(&config_path)?;
        let model_type = cfg
            .get("model_type")
            .and_then(Value::as_str)
            .unwrap_or("bert");
        if model_type != "bert" {
            return Err(Error::UnsupportedArchitecture {
                path: config_path,
                model_type: model_type.to_string(),
            });
        }
        if let Some(act) = cfg.get("hidden_act").and_then(Value::as_str) {
            if act != "gelu" {
                return Err(Error::BadConfig {
                    path: config_path,
                    message: format!("hidden_act `{act}` is not supported (expected \"gelu\")"),
                });
            }
        }
        if let Some(pe) = cfg.get("position_embedding_type").and_then(Value::as_str) {
            if pe != "absolute" {
                return Err(Error::BadConfig {
                    path: config_path,
                    message: format!(
                        "position_embedding_type `{pe}` is not supported (expected \"absolute\")"
                    ),
                });
            }
        }
        let bert = BertConfig {
            vocab_size: usize_field(&cfg, "vocab_size", &config_path)?,
            hidden_size: usize_field(&cfg, "hidden_size", &config_path)?,
            num_hidden_layers: usize_field(&cfg, "num_hidden_layers", &config_path)?,
            num_attention_heads: usize_field(&cfg, "num_attention_heads", &config_path)?,
            intermediate_size: usize_field(&cfg, "intermediate_size", &config_path)?,
            max_position_embeddings: usize_field(&cfg, "max_position_embeddings", &config_path)?,
            type_vocab_size: cfg
                .get("type_vocab_size")
                .and_then(Value::as_u64)
                .unwrap_or(2) as usize,
            layer_norm_eps: cfg
                .get("layer_norm_eps")
                .and_then(Value::as_f64)
                .unwrap_or(1e-12),
        };
        if bert.num_attention_heads == 0
            || !bert.hidden_size.is_multiple_of(bert.num_attention_heads)
        {
            return Err(Error::BadConfig {
                path: config_path,
                message: format!(
                    "hidden_size {} is not a multiple of num_attention_heads {}",
                    bert.hidden_size, bert.num_attention_heads
                ),
            });
        }

        let sbert = read_optional_json(&dir.join("sentence_bert_config.json"))?;
        let max_seq_length = sbert
            .as_ref()
            .and_then(|v| v.get("max_seq_length"))
            .and_then(Value::as_u64)
            .map(|x| x as usize)
            .unwrap_or(bert.max_position_embeddings)
            .min(bert.max_position_embeddings);
        let do_lower_case = sbert
            .as_ref()
            .and_then(|v| v.get("do_lower_case"))
            .and_then(Value::as_bool)
            .unwrap_or(false);

        let (pooling, normalize) = read_modules(dir)?;
        let name = dir.to_string_lossy().to_lowercase();
        let (mut query_prefix, mut document_prefix) = known_prefixes(&name);
        if let Some(st) = read_optional_json(&dir.join("config_sentence_transformers.json"))? {
            if let Some(prompts) = st.get("prompts").and_then(Value::as_object) {
                if let Some(q) = prompts.get("query").and_then(Value::as_str) {
                    query_prefix = q.to_string();
                }
                if let Some(d) = prompts
                    .get("document")
                    .or_else(|| prompts.get("passage"))
                    .and_then(Value::as_str)
                {
                    document_prefix = d.to_string();
                }
            }
        }
        Ok(ModelConfig {
            dir: dir.to_path_buf(),
            bert,
            max_seq_length,
            do_lower_case,
            pooling,
            normalize,
            query_prefix,
            document_prefix,
        })
    }
}

/// Prefixes the model cards of well-known families ask for.
pub fn known_prefixes(name: &str) -> (String, String) {
    let name = name.to_lowercase();
    if name.contains("e5-") || name.contains("/e5") || name.contains("e5_") {
        ("query: ".into(), "passage: ".into())
    } else if name.contains("bge-") && name.contains("-en") {
        (
            "Represent this sentence for searching relevant passages: ".into(),
            String::new(),
        )
    } else {
        (String::new(), String::new())
    }
}

/// modules.json -> (pooling, normalize). Without modules.json: mean pooling, no normalisation
/// (what sentence-transformers does for a plain Hugging Face folder).
fn read_modules(dir: &Path) -> Result<(Pooling, bool)> {
    let path = dir.join("modules.json");
    let Some(modules) = read_optional_json(&path)? else {
        return Ok((Pooling::Mean, false));
    };
    let list = modules.as_array().ok_or_else(|| Error::BadConfig {
        path: path.clone(),
        message: "expected a JSON array".into(),
    })?;
    let mut pooling = None;
    let mut normalize = false;
    for m in list {
        let ty = m.get("type").and_then(Value::as_str).unwrap_or("");
        let short = ty.rsplit('.').next().unwrap_or(ty);
        match short {
            "Transformer" => {}
            "Normalize" => normalize = true,
            "Pooling" => {
                let sub = m.get("path").and_then(Value::as_str).unwrap_or("1_Pooling");
                pooling = Some(read_pooling(&dir.join(sub).join("config.json"))?);
            }
            other => {
                return Err(Error::UnsupportedModule {
                    path: path.clone(),
                    module: other.to_string(),
                })
            }
        }
    }
    Ok((pooling.unwrap_or(Pooling::Mean), normalize))
}

fn read_pooling(path: &Path) -> Result<Pooling> {
    let v = read_json(path)?;
    if let Some(mode) = v.get("pooling_mode").and_then(Value::as_str) {
        return match mode {
            "mean" => Ok(Pooling::Mean),
            "cls" => Ok(Pooling::Cls),
            "max" => Ok(Pooling::Max),
            "mean_sqrt_len_tokens" => Ok(Pooling::MeanSqrtLen),
            other => Err(Error::BadConfig {
                path: path.to_path_buf(),
                message: format!("unsupported pooling_mode `{other}`"),
            }),
        };
    }
    let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
    let modes = [
        ("pooling_mode_mean_tokens", Pooling::Mean),
        ("pooling_mode_cls_token", Pooling::Cls),
        ("pooling_mode_max_tokens", Pooling::Max),
        ("pooling_mode_mean_sqrt_len_tokens", Pooling::MeanSqrtLen),
    ];
    let on: Vec<Pooling> = modes
        .iter()
        .filter(|(k, _)| flag(k))
        .map(|(_, p)| *p)
        .collect();
    for k in ["pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"] {
        if flag(k) {
            return Err(Error::BadConfig {
                path: path.to_path_buf(),
                message: format!("`{k}` is not supported"),
            });
        }
    }
    match on.as_slice() {
        [one] => Ok(*one),
        [] => Err(Error::BadConfig {
            path: path.to_path_buf(),
            message: "no pooling mode is enabled".into(),
        }),
        _ => Err(Error::BadConfig {
            path: path.to_path_buf(),
            message: "several pooling modes at once (concatenated) are not supported".into(),
        }),
    }
}
