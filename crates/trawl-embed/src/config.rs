//! Reads a sentence-transformers folder: config.json, sentence_bert_config.json, modules.json,
//! the pooling and Dense configs and the prompts, into one `ModelConfig`. Inference
//! ([`crate::SentenceEncoder`]) and training (trawl-train) both read folders through here.

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

/// The encoder families that share one post-LayerNorm transformer forward (they differ in
/// weight names, position ids, token types and MPNet's relative attention bias).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    Bert,
    /// RoBERTa and XLM-RoBERTa: positions start past the padding index.
    Roberta,
    DistilBert,
    /// MPNet: RoBERTa's positions, no token types, a relative position bias in attention.
    MPNet,
}

/// The `model_type`s trawl runs, for error messages.
pub const SUPPORTED_MODEL_TYPES: &str = "bert, roberta, xlm-roberta, distilbert, mpnet";

impl Family {
    fn from_model_type(t: &str) -> Option<Family> {
        match t {
            "bert" => Some(Family::Bert),
            "roberta" | "xlm-roberta" | "camembert" => Some(Family::Roberta),
            "distilbert" => Some(Family::DistilBert),
            "mpnet" => Some(Family::MPNet),
            _ => None,
        }
    }
}

/// Architecture numbers from config.json (BERT family).
#[derive(Debug, Clone, PartialEq)]
pub struct BertConfig {
    /// config.json's `model_type` (`bert`, `roberta`, ...).
    pub model_type: String,
    pub family: Family,
    /// Position id of a text's first token (RoBERTa and MPNet: padding index + 1).
    pub position_offset: usize,
    /// MPNet's relative attention buckets (0: no relative bias).
    pub relative_attention_num_buckets: usize,
    pub vocab_size: usize,
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    pub max_position_embeddings: usize,
    pub type_vocab_size: usize,
    pub layer_norm_eps: f64,
    /// Dropout rates (used by training only).
    pub hidden_dropout_prob: f64,
    pub attention_probs_dropout_prob: f64,
}

/// Activation after a Dense projection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DenseActivation {
    Identity,
    Tanh,
}

impl DenseActivation {
    /// The class name sentence-transformers writes into a Dense module's config.json.
    pub fn torch_name(self) -> &'static str {
        match self {
            DenseActivation::Identity => "torch.nn.modules.linear.Identity",
            DenseActivation::Tanh => "torch.nn.modules.activation.Tanh",
        }
    }
}

/// `config.json` of a sentence-transformers Dense module.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, PartialEq)]
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

/// A Dense module of the pipeline: `y = act(x W^T + b)`, weights in `dir`.
#[derive(Debug, Clone, PartialEq)]
pub struct DenseModule {
    pub dir: PathBuf,
    pub config: DenseConfig,
    pub activation: DenseActivation,
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
    /// Dense modules after pooling, in order.
    pub dense: Vec<DenseModule>,
    /// A Normalize module follows pooling (and the Dense modules).
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

/// The first of `keys` present as a number (config files renamed some fields over the years).
fn f64_field(v: &Value, keys: &[&str]) -> Option<f64> {
    keys.iter().find_map(|k| v.get(*k).and_then(Value::as_f64))
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
        let Some(family) = Family::from_model_type(model_type) else {
            return Err(Error::UnsupportedArchitecture {
                path: config_path,
                model_type: model_type.to_string(),
            });
        };
        let act_key = if family == Family::DistilBert {
            "activation"
        } else {
            "hidden_act"
        };
        if let Some(act) = cfg.get(act_key).and_then(Value::as_str) {
            if act != "gelu" {
                return Err(Error::BadConfig {
                    path: config_path,
                    message: format!("{act_key} `{act}` is not supported (expected \"gelu\")"),
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
        // DistilBERT names the same numbers differently.
        let key = |bert_key: &'static str, distil_key: &'static str| {
            if family == Family::DistilBert {
                distil_key
            } else {
                bert_key
            }
        };
        let pad = cfg.get("pad_token_id").and_then(Value::as_u64).unwrap_or(1) as usize;
        let bert = BertConfig {
            vocab_size: usize_field(&cfg, "vocab_size", &config_path)?,
            hidden_size: usize_field(&cfg, key("hidden_size", "dim"), &config_path)?,
            num_hidden_layers: usize_field(
                &cfg,
                key("num_hidden_layers", "n_layers"),
                &config_path,
            )?,
            num_attention_heads: usize_field(
                &cfg,
                key("num_attention_heads", "n_heads"),
                &config_path,
            )?,
            intermediate_size: usize_field(
                &cfg,
                key("intermediate_size", "hidden_dim"),
                &config_path,
            )?,
            max_position_embeddings: usize_field(&cfg, "max_position_embeddings", &config_path)?,
            type_vocab_size: match family {
                Family::DistilBert | Family::MPNet => 0,
                _ => cfg
                    .get("type_vocab_size")
                    .and_then(Value::as_u64)
                    .unwrap_or(2) as usize,
            },
            layer_norm_eps: f64_field(&cfg, &["layer_norm_eps", "norm_eps", "layer_norm_epsilon"])
                .unwrap_or(1e-12),
            hidden_dropout_prob: f64_field(
                &cfg,
                &["hidden_dropout_prob", "hidden_dropout", "dropout"],
            )
            .unwrap_or(0.1),
            attention_probs_dropout_prob: f64_field(
                &cfg,
                &["attention_probs_dropout_prob", "attention_dropout"],
            )
            .unwrap_or(0.1),
            model_type: model_type.to_string(),
            family,
            position_offset: match family {
                Family::Roberta => pad + 1,
                // MPNet's embeddings hard-code padding index 1.
                Family::MPNet => 2,
                Family::Bert | Family::DistilBert => 0,
            },
            relative_attention_num_buckets: if family == Family::MPNet {
                cfg.get("relative_attention_num_buckets")
                    .and_then(Value::as_u64)
                    .unwrap_or(32) as usize
            } else {
                0
            },
        };
        if bert.max_position_embeddings <= bert.position_offset {
            return Err(Error::BadConfig {
                path: config_path,
                message: format!(
                    "max_position_embeddings {} leaves no positions past the padding index",
                    bert.max_position_embeddings
                ),
            });
        }
        if bert.family == Family::MPNet
            && bert.relative_attention_num_buckets != crate::relative::BUCKETS
        {
            return Err(Error::BadConfig {
                path: config_path,
                message: format!(
                    "relative_attention_num_buckets {} is not supported (transformers' MPNet computes {} buckets)",
                    bert.relative_attention_num_buckets,
                    crate::relative::BUCKETS
                ),
            });
        }
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
        // sentence_bert_config.json's max_seq_length; folders written by sentence-transformers 6
        // keep it as tokenizer_config.json's model_max_length instead.
        let positions = bert.max_position_embeddings - bert.position_offset;
        let tokenizer_max = read_optional_json(&dir.join("tokenizer_config.json"))?
            .and_then(|v| v.get("model_max_length").and_then(Value::as_u64))
            .map(|x| x as usize);
        let max_seq_length = sbert
            .as_ref()
            .and_then(|v| v.get("max_seq_length"))
            .and_then(Value::as_u64)
            .map(|x| x as usize)
            .or(tokenizer_max)
            .unwrap_or(positions)
            .min(positions);
        let do_lower_case = sbert
            .as_ref()
            .and_then(|v| v.get("do_lower_case"))
            .and_then(Value::as_bool)
            .unwrap_or(false);

        let (pooling, dense, normalize) = read_modules(dir)?;
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
            dense,
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

/// modules.json -> (pooling, dense modules, normalize). Without modules.json: mean pooling, no
/// normalisation (what sentence-transformers does for a plain Hugging Face folder).
fn read_modules(dir: &Path) -> Result<(Pooling, Vec<DenseModule>, bool)> {
    let path = dir.join("modules.json");
    let Some(modules) = read_optional_json(&path)? else {
        return Ok((Pooling::Mean, Vec::new(), false));
    };
    let list = modules.as_array().ok_or_else(|| Error::BadConfig {
        path: path.clone(),
        message: "expected a JSON array".into(),
    })?;
    let mut pooling = None;
    let mut dense = Vec::new();
    let mut normalize = false;
    for m in list {
        let ty = m.get("type").and_then(Value::as_str).unwrap_or("");
        let short = ty.rsplit('.').next().unwrap_or(ty);
        match short {
            "Transformer" => {}
            "Normalize" => normalize = true,
            "Dense" => {
                let sub = m.get("path").and_then(Value::as_str).unwrap_or("2_Dense");
                dense.push(read_dense(&dir.join(sub))?);
            }
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
    Ok((pooling.unwrap_or(Pooling::Mean), dense, normalize))
}

fn read_dense(dir: &Path) -> Result<DenseModule> {
    let path = dir.join("config.json");
    let config: DenseConfig =
        serde_json::from_value(read_json(&path)?).map_err(|e| Error::BadConfig {
            path: path.clone(),
            message: format!("not a Dense module config: {e}"),
        })?;
    let activation = match config.activation_function.rsplit('.').next() {
        Some("Identity") => DenseActivation::Identity,
        Some("Tanh") => DenseActivation::Tanh,
        _ => {
            return Err(Error::BadConfig {
                path,
                message: format!(
                    "Dense activation `{}` is not supported (Identity or Tanh)",
                    config.activation_function
                ),
            })
        }
    };
    Ok(DenseModule {
        dir: dir.to_path_buf(),
        config,
        activation,
    })
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
