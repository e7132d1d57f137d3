//! A tiny random BERT sentence-transformers folder, written on demand, for tests (gradient
//! checks, save/reload, trainer runs) that must not depend on downloaded models.

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::BertConfig;
use crate::{Error, Result};

/// The words of the tiny vocabulary (ids 5.. in this order; 0-4 are the special tokens).
pub const WORDS: &[&str] = &[
    "the", "a", "cat", "dog", "sat", "on", "mat", "ran", "in", "park", "what", "is", "who",
    "where", "fish", "bird", "sky", "blue", "red", "green", "tree", "house", "car", "road", "sun",
    "moon", "star", "water", "fire", "earth", "wind", "rain", "snow", "cold", "hot", "big",
    "small", "fast", "slow", "happy", "sad", "book", "read", "write", "code",
];

const SPECIAL: &[&str] = &["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

/// The configuration of the tiny model: hidden 16, 2 layers, 2 heads.
pub fn tiny_config() -> serde_json::Value {
    serde_json::json!({
        "architectures": ["BertModel"],
        "attention_probs_dropout_prob": 0.1,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.1,
        "hidden_size": 16,
        "initializer_range": 0.02,
        "intermediate_size": 32,
        "layer_norm_eps": 1e-12,
        "max_position_embeddings": 64,
        "model_type": "bert",
        "num_attention_heads": 2,
        "num_hidden_layers": 2,
        "pad_token_id": 0,
        "position_embedding_type": "absolute",
        "type_vocab_size": 2,
        "vocab_size": SPECIAL.len() + WORDS.len()
    })
}

fn write(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

/// Writes a complete sentence-transformers folder with random weights (seeded) into `dir`.
pub fn write_tiny_model(dir: &Path, seed: u64) -> Result<()> {
    std::fs::create_dir_all(dir.join("1_Pooling")).map_err(|e| Error::io(dir, e))?;
    let cfg_json = tiny_config();
    write(
        &dir.join("config.json"),
        &serde_json::to_string_pretty(&cfg_json).expect("json"),
    )?;
    write(&dir.join("tokenizer.json"), &tokenizer_json().to_string())?;
    write(
        &dir.join("modules.json"),
        r#"[{"idx":0,"name":"0","path":"","type":"sentence_transformers.models.Transformer"},
{"idx":1,"name":"1","path":"1_Pooling","type":"sentence_transformers.models.Pooling"},
{"idx":2,"name":"2","path":"2_Normalize","type":"sentence_transformers.models.Normalize"}]"#,
    )?;
    write(
        &dir.join("1_Pooling/config.json"),
        r#"{"word_embedding_dimension":16,"pooling_mode_cls_token":false,"pooling_mode_mean_tokens":true,"pooling_mode_max_tokens":false,"pooling_mode_mean_sqrt_len_tokens":false}"#,
    )?;
    write(
        &dir.join("sentence_bert_config.json"),
        r#"{"max_seq_length":32,"do_lower_case":false}"#,
    )?;
    let cfg: BertConfig = trawl_embed::ModelConfig::read(dir)
        .map_err(Error::ModelLookup)?
        .bert;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let dev = Device::Cpu;
    let mut tensors: HashMap<String, Tensor> = HashMap::new();
    let mut names = crate::bert::tensor_names(&cfg);
    names.push("pooler.dense.weight".into());
    names.push("pooler.dense.bias".into());
    let h = cfg.hidden_size;
    for name in names {
        let shape: Vec<usize> = match name.as_str() {
            "embeddings.word_embeddings.weight" => vec![cfg.vocab_size, h],
            "embeddings.position_embeddings.weight" => vec![cfg.max_position_embeddings, h],
            "embeddings.token_type_embeddings.weight" => vec![cfg.type_vocab_size, h],
            n if n.ends_with("intermediate.dense.weight") => vec![cfg.intermediate_size, h],
            n if n.ends_with("intermediate.dense.bias") => vec![cfg.intermediate_size],
            n if n.ends_with("output.dense.weight") && !n.contains("attention") => {
                vec![h, cfg.intermediate_size]
            }
            n if n.ends_with(".weight") && !n.contains("LayerNorm") => vec![h, h],
            _ => vec![h],
        };
        let n: usize = shape.iter().product();
        let is_ln_weight = name.contains("LayerNorm.weight");
        let values: Vec<f32> = (0..n)
            .map(|_| {
                let u: f32 = rng.random_range(-0.5..0.5);
                if is_ln_weight {
                    1.0 + u * 0.4
                } else {
                    u
                }
            })
            .collect();
        tensors.insert(name, Tensor::from_vec(values, shape, &dev)?);
    }
    let pos = cfg.max_position_embeddings as i64;
    tensors.insert(
        "embeddings.position_ids".into(),
        Tensor::arange(0i64, pos, &dev)?.reshape((1, pos as usize))?,
    );
    candle_core::safetensors::save(&tensors, dir.join("model.safetensors"))?;
    Ok(())
}

fn tokenizer_json() -> serde_json::Value {
    let mut vocab = serde_json::Map::new();
    for (i, w) in SPECIAL.iter().chain(WORDS).enumerate() {
        vocab.insert((*w).to_string(), serde_json::json!(i));
    }
    let added: Vec<serde_json::Value> = SPECIAL
        .iter()
        .enumerate()
        .map(|(i, t)| {
            serde_json::json!({"id": i, "content": t, "single_word": false, "lstrip": false,
                "rstrip": false, "normalized": false, "special": true})
        })
        .collect();
    serde_json::json!({
        "version": "1.0",
        "truncation": null,
        "padding": null,
        "added_tokens": added,
        "normalizer": {"type": "Lowercase"},
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": {"type": "BertProcessing", "sep": ["[SEP]", 3], "cls": ["[CLS]", 2]},
        "decoder": null,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": "[UNK]"}
    })
}

/// The all-MiniLM-L6-v2 folder (`$TRAWL_TEST_MODEL`, `$TRAWL_MINILM`, or
/// `models/all-MiniLM-L6-v2` beside an ancestor of the current directory), or `None` with the
/// reason printed (tests then skip; `scripts/get-model.sh` installs it).
///
/// # Panics
/// When the model is missing and `TRAWL_REQUIRE_MODEL=1` (CI must not skip silently), the
/// convention trawl-embed's model tests use too.
pub fn locate_minilm() -> Option<std::path::PathBuf> {
    for var in ["TRAWL_TEST_MODEL", "TRAWL_MINILM"] {
        if let Some(p) = std::env::var_os(var) {
            return Some(p.into());
        }
    }
    let cwd = std::env::current_dir().ok()?;
    let found = cwd
        .ancestors()
        .map(|a| a.join("models").join("all-MiniLM-L6-v2"))
        .find(|p| p.join("model.safetensors").exists());
    if found.is_none() {
        let msg =
            "models/all-MiniLM-L6-v2 not found (run scripts/get-model.sh or set TRAWL_TEST_MODEL)";
        if std::env::var("TRAWL_REQUIRE_MODEL").as_deref() == Ok("1") {
            panic!("{msg}; TRAWL_REQUIRE_MODEL=1 forbids skipping");
        }
        eprintln!("skipped: {msg}");
    }
    found
}
