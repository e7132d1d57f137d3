//! Writing a trained model as a sentence-transformers folder.
//!
//! `model.safetensors` starts from the source model's full tensor map (it holds `pooler.*` and the
//! int64 `position_ids`, which training does not touch), with the trained tensors swapped in under
//! their original names, dtypes and shapes. Folders are built in a temporary sibling under the
//! destination's write lock and swapped into place (`trawl_store::AtomicDir`), so a failed or
//! killed save never replaces the last good one and never leaves the destination missing.
//!
//! The marker file lists every file of the folder: a later save replaces the folder only when it
//! holds nothing else (files trawl did not write are never deleted, even with `force`).

use std::collections::HashMap;
use std::path::Path;

use candle_core::{Device, Tensor};
use trawl_store::{AtomicDir, DirLock};

use crate::model::SentenceModel;
use crate::{Error, Result};

/// Marker written into every folder this crate saves; an existing output folder with a marker
/// of the same architecture may be replaced, anything else needs `force`.
pub const MARKER: &str = "trawl_train.json";

/// Files copied unchanged from the source model when present.
const COPIED: &[&str] = &[
    "config.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "config_sentence_transformers.json",
];

/// What identifies "the same model" for overwrite checks.
fn architecture(model: &SentenceModel) -> serde_json::Value {
    let c = model.config();
    serde_json::json!({
        "model_type": c.model_type,
        "hidden_size": c.hidden_size,
        "num_hidden_layers": c.num_hidden_layers,
        "vocab_size": c.vocab_size,
        "output_dim": model.dim(),
    })
}

/// What a marker of an older trawl (without `files`) may own: the files this module writes.
const KNOWN_FILES: &[&str] = &[
    "model.safetensors",
    "sentence_bert_config.json",
    "modules.json",
    "1_Pooling/config.json",
    "2_Dense/config.json",
    "2_Dense/model.safetensors",
    "optimizer.safetensors",
    "trainer_state.json",
    MARKER,
];

/// The files a trawl-train folder owns, from its marker: `None` when `dest` has no readable
/// marker (it was not written by trawl-train).
fn owned_files(dest: &Path) -> Option<(serde_json::Value, Vec<String>)> {
    let bytes =
        trawl_store::read_regular_capped(&dest.join(MARKER), trawl_store::SMALL_FILE_LIMIT).ok()?;
    let marker: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let files = match marker.get("files").and_then(|f| f.as_array()) {
        Some(list) => list
            .iter()
            .filter_map(|f| f.as_str().map(str::to_string))
            .collect(),
        None => KNOWN_FILES
            .iter()
            .chain(COPIED)
            .map(|f| f.to_string())
            .collect(),
    };
    Some((marker, files))
}

/// Fails when `dest` exists, is not empty and may not be replaced: a folder not written by
/// trawl-train, or one holding files trawl did not write, is always refused; one holding a model
/// of another architecture needs `force`.
pub fn check_output_dir(dest: &Path, model: &SentenceModel, force: bool) -> Result<()> {
    if !dest.exists() {
        return Ok(());
    }
    if !dest.is_dir() {
        return Err(Error::OutputExists {
            path: dest.to_path_buf(),
            message: "exists and is not a directory".into(),
        });
    }
    let mut entries = std::fs::read_dir(dest).map_err(|e| Error::io(dest, e))?;
    if entries.next().is_none() {
        return Ok(());
    }
    let Some((marker, owned)) = owned_files(dest) else {
        return Err(Error::OutputExists {
            path: dest.to_path_buf(),
            message: format!(
                "holds files that trawl did not write (no {MARKER}); refusing to replace it, even with --force: choose another --out or empty it yourself"
            ),
        });
    };
    let foreign = trawl_store::foreign_entries(dest, &owned)?;
    if !foreign.is_empty() {
        return Err(trawl_store::Error::ForeignFiles {
            path: dest.to_path_buf(),
            files: foreign,
        }
        .into());
    }
    if force || marker.get("architecture") == Some(&architecture(model)) {
        return Ok(());
    }
    Err(Error::OutputExists {
        path: dest.to_path_buf(),
        message:
            "already holds a different model; choose another --out or pass --force to replace it"
                .into(),
    })
}

/// Saves `model` as a sentence-transformers folder at `dest` (atomically, under its write lock;
/// see module docs). `extra` files (name, bytes) are written beside the model (trainer state,
/// metrics).
pub fn save_model(
    model: &SentenceModel,
    dest: &Path,
    force: bool,
    extra: &[(&str, Vec<u8>)],
) -> Result<()> {
    save_model_with_lock(model, DirLock::acquire(dest)?, force, extra)
}

/// [`save_model`] under a lock the caller took earlier (e.g. for a whole training run, so a
/// second run with the same output fails at once, not hours later).
pub fn save_model_with_lock(
    model: &SentenceModel,
    lock: DirLock,
    force: bool,
    extra: &[(&str, Vec<u8>)],
) -> Result<()> {
    let dest = lock.dest().to_path_buf();
    // Recovery first: a save killed between renames may have left `dest` missing.
    lock.recover()?;
    check_output_dir(&dest, model, force)?;
    let dir = AtomicDir::with_lock(lock)?;
    write_model_files(model, dir.path())?;
    for (name, bytes) in extra {
        dir.write_file(name, bytes)?;
    }
    write_marker(model, dir.path())?;
    dir.commit()?;
    Ok(())
}

/// The marker, written last: what the folder is and every file it holds.
fn write_marker(model: &SentenceModel, dir: &Path) -> Result<()> {
    let mut files: Vec<String> = trawl_store::list_files(dir)?
        .into_iter()
        .filter(|f| f != MARKER)
        .collect();
    files.push(MARKER.into());
    files.sort();
    write_json(
        &dir.join(MARKER),
        &serde_json::json!({
            "format": "trawl-train/1",
            "base_model": model.source_dir.display().to_string(),
            "architecture": architecture(model),
            "files": files,
        }),
    )
}

fn write_json(path: &Path, v: &serde_json::Value) -> Result<()> {
    let text = serde_json::to_string_pretty(v).expect("JSON values serialise");
    std::fs::write(path, text).map_err(|e| Error::io(path, e))
}

fn save_safetensors(tensors: &HashMap<String, Tensor>, path: &Path) -> Result<()> {
    let metadata = Some(HashMap::from([("format".to_string(), "pt".to_string())]));
    let mut items: Vec<(&String, &Tensor)> = tensors.iter().collect();
    items.sort_by(|a, b| a.0.cmp(b.0));
    safetensors::tensor::serialize_to_file(items, metadata, path)
        .map_err(|e| Error::model(path, format!("cannot write safetensors: {e}")))
}

/// config_sentence_transformers.json: the source's (copied), with the prefixes the model trained
/// with added as `prompts` when the source had none (e.g. e5's, known from the model's name), so
/// the saved folder encodes as it was trained.
fn write_prompts(model: &SentenceModel, dir: &Path) -> Result<()> {
    let path = dir.join("config_sentence_transformers.json");
    let mut st: serde_json::Value = if path.exists() {
        crate::modules::read_json(&path)?
    } else {
        serde_json::json!({})
    };
    let (q, d) = (model.query_prefix(), model.document_prefix());
    let has_prompts = st
        .get("prompts")
        .and_then(|p| p.as_object())
        .is_some_and(|p| !p.is_empty());
    if has_prompts || (q.is_empty() && d.is_empty()) || !st.is_object() {
        return Ok(());
    }
    st["prompts"] = serde_json::json!({"query": q, "document": d});
    write_json(&path, &st)
}

/// Writes every file of the folder into `dir` (which must exist).
pub fn write_model_files(model: &SentenceModel, dir: &Path) -> Result<()> {
    let src = &model.source_dir;
    let src_weights = src.join("model.safetensors");
    let mut tensors = candle_core::safetensors::load(&src_weights, &Device::Cpu)
        .map_err(|e| Error::model(&src_weights, e.to_string()))?;
    for (name, var) in model.base_vars() {
        let key = format!("{}{name}", model.tensor_prefix);
        let orig = tensors
            .get(&key)
            .ok_or_else(|| Error::model(&src_weights, format!("tensor `{key}` disappeared")))?;
        let trained = var
            .as_tensor()
            .to_device(&Device::Cpu)?
            .to_dtype(orig.dtype())?;
        if trained.dims() != orig.dims() {
            return Err(Error::model(
                &src_weights,
                format!("tensor `{key}` changed shape"),
            ));
        }
        tensors.insert(key, trained);
    }
    save_safetensors(&tensors, &dir.join("model.safetensors"))?;
    for name in COPIED {
        let from = src.join(name);
        if from.exists() {
            std::fs::copy(&from, dir.join(name)).map_err(|e| Error::io(&from, e))?;
        }
    }
    let f = &model.folder;
    write_json(
        &dir.join("sentence_bert_config.json"),
        // The source's inference length, not the (often shorter) training truncation, and its
        // lowercasing (the tokenizer trained with it).
        &serde_json::json!({
            "max_seq_length": f.max_seq_length,
            "do_lower_case": f.do_lower_case
        }),
    )?;
    write_prompts(model, dir)?;
    let pooling_dir = dir.join("1_Pooling");
    std::fs::create_dir_all(&pooling_dir).map_err(|e| Error::io(&pooling_dir, e))?;
    let mean = model.pooling == crate::modules::Pooling::Mean;
    write_json(
        &pooling_dir.join("config.json"),
        &serde_json::json!({
            "word_embedding_dimension": model.config().hidden_size,
            "pooling_mode_cls_token": !mean,
            "pooling_mode_mean_tokens": mean,
            "pooling_mode_max_tokens": false,
            "pooling_mode_mean_sqrt_len_tokens": false,
            "pooling_mode_weightedmean_tokens": false,
            "pooling_mode_lasttoken": false,
            "include_prompt": true
        }),
    )?;
    let mut modules = vec![
        serde_json::json!({"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}),
        serde_json::json!({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}),
    ];
    if let Some(head) = &model.head {
        let dense_dir = dir.join("2_Dense");
        std::fs::create_dir_all(&dense_dir).map_err(|e| Error::io(&dense_dir, e))?;
        write_json(
            &dense_dir.join("config.json"),
            &serde_json::to_value(&head.config).expect("Dense config serialises"),
        )?;
        let mut t = HashMap::new();
        for (name, var) in model.head_vars() {
            let v = var
                .as_tensor()
                .to_device(&Device::Cpu)?
                .to_dtype(candle_core::DType::F32)?;
            t.insert(name, v);
        }
        save_safetensors(&t, &dense_dir.join("model.safetensors"))?;
        modules.push(serde_json::json!({"idx": 2, "name": "2", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}));
    }
    if f.normalize {
        let idx = modules.len();
        modules.push(serde_json::json!({"idx": idx, "name": idx.to_string(), "path": format!("{idx}_Normalize"), "type": "sentence_transformers.models.Normalize"}));
    }
    write_json(
        &dir.join("modules.json"),
        &serde_json::Value::Array(modules),
    )?;
    write_marker(model, dir)
}
