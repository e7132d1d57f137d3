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
    /// The last real token (decoders such as Qwen3-Embedding), wherever padding was put.
    LastToken,
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
    /// Qwen3 decoder as an embedder (Qwen3-Embedding): pre-RMSNorm, RoPE, grouped-query causal
    /// attention with per-head q/k RMSNorm, SwiGLU MLP; its own forward ([`crate::qwen3`]).
    Qwen3,
}

/// The `model_type`s trawl runs, for error messages.
pub const SUPPORTED_MODEL_TYPES: &str =
    "bert, roberta, xlm-roberta, camembert, distilbert, mpnet, qwen3";

impl Family {
    fn from_model_type(t: &str) -> Option<Family> {
        match t {
            "bert" => Some(Family::Bert),
            "roberta" | "xlm-roberta" | "camembert" => Some(Family::Roberta),
            "distilbert" => Some(Family::DistilBert),
            "mpnet" => Some(Family::MPNet),
            "qwen3" => Some(Family::Qwen3),
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
    /// Decoder (Qwen3) settings; None for the BERT-style encoders.
    pub decoder: Option<DecoderConfig>,
}

/// What a Qwen3 decoder adds to [`BertConfig`] (whose `layer_norm_eps` then holds the RMSNorm
/// epsilon and `num_attention_heads` the query heads).
#[derive(Debug, Clone, PartialEq)]
pub struct DecoderConfig {
    /// Key/value heads of grouped-query attention (each serves `heads / kv_heads` query heads).
    pub num_key_value_heads: usize,
    /// Width of one attention head (config `head_dim`, else hidden_size / heads).
    pub head_dim: usize,
    /// RoPE base frequency (`rope_theta`, or transformers 5's `rope_parameters.rope_theta`).
    pub rope_theta: f64,
    /// Linear layers of attention carry biases (`attention_bias`).
    pub attention_bias: bool,
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
    /// The prompt of config_sentence_transformers.json's `default_prompt_name` (empty if none):
    /// what sentence-transformers puts before texts encoded without a named prompt.
    pub default_prompt: String,
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
        if family == Family::Qwen3 {
            let bert = qwen3_config(&cfg, &config_path)?;
            check_pad_token(dir)?;
            return ModelConfig::read_modules_and_prompts(dir, bert);
        }
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
                Family::Bert | Family::DistilBert | Family::Qwen3 => 0,
            },
            relative_attention_num_buckets: if family == Family::MPNet {
                cfg.get("relative_attention_num_buckets")
                    .and_then(Value::as_u64)
                    .unwrap_or(32) as usize
            } else {
                0
            },
            decoder: None,
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
        ModelConfig::read_modules_and_prompts(dir, bert)
    }

    /// The sentence-transformers files around the Hugging Face config: sequence length,
    /// lowercasing, modules and prompts.
    fn read_modules_and_prompts(dir: &Path, bert: BertConfig) -> Result<ModelConfig> {
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
        let mut default_prompt = String::new();
        if let Some(st) = read_optional_json(&dir.join("config_sentence_transformers.json"))? {
            let prompts = read_prompts(&st, &dir.join("config_sentence_transformers.json"))?;
            // As SentenceTransformer.encode_query / encode_document choose: the `query` prompt,
            // the first of `document`, `passage`, `corpus`; without one, the default prompt
            // (`default_prompt_name`), which plain `encode` also applies.
            if let Some(name) = st.get("default_prompt_name").and_then(Value::as_str) {
                default_prompt = prompts.get(name).cloned().ok_or_else(|| Error::BadConfig {
                    path: dir.join("config_sentence_transformers.json"),
                    message: format!(
                        "default_prompt_name `{name}` is not one of the `prompts` ({})",
                        prompts.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                })?;
            }
            if let Some(q) = prompts.get("query") {
                query_prefix = q.clone();
            } else if !default_prompt.is_empty() {
                query_prefix = default_prompt.clone();
            }
            if let Some(d) = ["document", "passage", "corpus"]
                .iter()
                .find_map(|k| prompts.get(*k))
            {
                document_prefix = d.clone();
            } else if !default_prompt.is_empty() {
                document_prefix = default_prompt.clone();
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
            default_prompt,
        })
    }
}

/// config_sentence_transformers.json's `prompts` (name -> text put before the input).
fn read_prompts(st: &Value, path: &Path) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    let Some(prompts) = st.get("prompts") else {
        return Ok(out);
    };
    let bad = || Error::BadConfig {
        path: path.to_path_buf(),
        message: "`prompts` must map prompt names to strings".into(),
    };
    if prompts.is_null() {
        return Ok(out);
    }
    for (k, v) in prompts.as_object().ok_or_else(bad)? {
        // A null prompt is an empty one (as sentence-transformers reads it).
        let text = if v.is_null() {
            ""
        } else {
            v.as_str().ok_or_else(bad)?
        };
        out.insert(k.clone(), text.to_string());
    }
    Ok(out)
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
            "lasttoken" => Ok(Pooling::LastToken),
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
        ("pooling_mode_lasttoken", Pooling::LastToken),
    ];
    let on: Vec<Pooling> = modes
        .iter()
        .filter(|(k, _)| flag(k))
        .map(|(_, p)| *p)
        .collect();
    for k in ["pooling_mode_weightedmean_tokens"] {
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

/// config.json of a Qwen3 model (Qwen3Model / Qwen3ForCausalLM; Qwen3-Embedding) as a
/// [`BertConfig`] with its [`DecoderConfig`]. Accepts the keys of transformers 4 (`rope_theta`,
/// `rms_norm_eps`) and of transformers 5 (`rope_parameters`, `norm_eps`), and refuses what the
/// forward pass does not implement (RoPE scaling, sliding-window layers, another activation).
fn qwen3_config(cfg: &Value, path: &Path) -> Result<BertConfig> {
    let bad = |message: String| Error::BadConfig {
        path: path.to_path_buf(),
        message,
    };
    if let Some(act) = cfg.get("hidden_act").and_then(Value::as_str) {
        if act != "silu" {
            return Err(bad(format!(
                "hidden_act `{act}` is not supported for qwen3 (expected \"silu\")"
            )));
        }
    }
    // transformers 5 keeps RoPE settings in `rope_parameters`; older configs in `rope_theta`
    // and `rope_scaling`.
    let rope = cfg
        .get("rope_parameters")
        .filter(|v| !v.is_null())
        .or_else(|| cfg.get("rope_scaling").filter(|v| !v.is_null()));
    if let Some(rope) = rope {
        let kind = rope
            .get("rope_type")
            .or_else(|| rope.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("default");
        if kind != "default" {
            return Err(bad(format!(
                "RoPE scaling `{kind}` is not supported (only the default rotary embedding)"
            )));
        }
    }
    let rope_theta = rope
        .and_then(|r| r.get("rope_theta"))
        .and_then(Value::as_f64)
        .or_else(|| cfg.get("rope_theta").and_then(Value::as_f64))
        .unwrap_or(10_000.0);
    if cfg.get("use_sliding_window").and_then(Value::as_bool) == Some(true) {
        return Err(bad(
            "use_sliding_window is true: sliding-window attention is not supported".into(),
        ));
    }
    if let Some(types) = cfg.get("layer_types").and_then(Value::as_array) {
        if let Some(t) = types.iter().find(|t| t.as_str() != Some("full_attention")) {
            return Err(bad(format!(
                "layer type {t} is not supported (only \"full_attention\")"
            )));
        }
    }
    let heads = usize_field(cfg, "num_attention_heads", path)?;
    let hidden = usize_field(cfg, "hidden_size", path)?;
    let kv_heads = cfg
        .get("num_key_value_heads")
        .and_then(Value::as_u64)
        .map_or(heads, |x| x as usize);
    if heads == 0 || kv_heads == 0 || !heads.is_multiple_of(kv_heads) {
        return Err(bad(format!(
            "num_attention_heads {heads} is not a multiple of num_key_value_heads {kv_heads}"
        )));
    }
    let head_dim = match cfg.get("head_dim").and_then(Value::as_u64) {
        Some(d) => d as usize,
        None if hidden.is_multiple_of(heads) => hidden / heads,
        None => {
            return Err(bad(format!(
                "no head_dim, and hidden_size {hidden} is not a multiple of num_attention_heads {heads}"
            )))
        }
    };
    if head_dim == 0 || !head_dim.is_multiple_of(2) {
        return Err(bad(format!(
            "head_dim {head_dim} must be even (rotary embeddings rotate pairs)"
        )));
    }
    let model_type = cfg
        .get("model_type")
        .and_then(Value::as_str)
        .unwrap_or("qwen3");
    Ok(BertConfig {
        model_type: model_type.to_string(),
        family: Family::Qwen3,
        position_offset: 0,
        relative_attention_num_buckets: 0,
        vocab_size: usize_field(cfg, "vocab_size", path)?,
        hidden_size: hidden,
        num_hidden_layers: usize_field(cfg, "num_hidden_layers", path)?,
        num_attention_heads: heads,
        intermediate_size: usize_field(cfg, "intermediate_size", path)?,
        max_position_embeddings: usize_field(cfg, "max_position_embeddings", path)?,
        type_vocab_size: 0,
        layer_norm_eps: f64_field(cfg, &["rms_norm_eps", "norm_eps"]).unwrap_or(1e-6),
        hidden_dropout_prob: 0.0,
        attention_probs_dropout_prob: f64_field(cfg, &["attention_dropout"]).unwrap_or(0.0),
        decoder: Some(DecoderConfig {
            num_key_value_heads: kv_heads,
            head_dim,
            rope_theta,
            attention_bias: cfg
                .get("attention_bias")
                .and_then(Value::as_bool)
                .unwrap_or(false),
        }),
    })
}

/// Refuses a decoder folder whose tokenizer names no pad token: sentence-transformers cannot pad
/// a batch with it (transformers: "Asking to pad but the tokenizer does not have a padding
/// token"), which is the usual sign of a base language model's tokenizer rather than an
/// embedding model's. Looked up where transformers looks: tokenizer_config.json,
/// special_tokens_map.json, tokenizer.json's padding.
fn check_pad_token(dir: &Path) -> Result<()> {
    let named = |v: Option<Value>, key: &str| {
        v.as_ref().and_then(|v| v.get(key)).is_some_and(|p| {
            p.as_str().is_some_and(|s| !s.is_empty())
                || p.get("content").and_then(Value::as_str).is_some()
        })
    };
    let config = read_optional_json(&dir.join("tokenizer_config.json"))?;
    let special = read_optional_json(&dir.join("special_tokens_map.json"))?;
    let tokenizer = read_optional_json(&dir.join("tokenizer.json"))?;
    let padding = tokenizer
        .as_ref()
        .and_then(|t| t.get("padding"))
        .is_some_and(|p| p.get("pad_token").is_some());
    if named(config, "pad_token") || named(special, "pad_token") || padding {
        return Ok(());
    }
    Err(Error::BadConfig {
        path: dir.join("tokenizer_config.json"),
        message: "the tokenizer has no pad token, so a batch of texts cannot be padded (as sentence-transformers pads it); set \"pad_token\" in tokenizer_config.json (Qwen3-Embedding uses \"<|endoftext|>\")".into(),
    })
}
