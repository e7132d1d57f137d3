//! Training and inference read a folder through the same code (trawl-embed's reader): a model
//! trained with a projection head encodes with `SentenceEncoder` (what `trawl encode` runs), and
//! `do_lower_case` and the query/document prefixes are applied alike, and kept by a saved folder.

use std::path::Path;

use trawl_embed::{EncoderOptions, SentenceEncoder};
use trawl_train::data::TrainExample;
use trawl_train::testkit::write_tiny_model;
use trawl_train::trainer::{train, TrainConfig};
use trawl_train::{checkpoint, LoadOptions, SentenceModel};

const TEXTS: &[&str] = &["The CAT sat on the MAT", "what is the Sky", "BIRD", ""];

fn assert_close(a: &[f32], b: &[f32], what: &str) {
    assert_eq!(a.len(), b.len(), "{what}: lengths");
    let worst = a
        .iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(worst <= 1e-5, "{what}: max |diff| {worst}");
}

fn encoder(dir: &Path) -> SentenceEncoder {
    SentenceEncoder::load(dir.to_str().unwrap(), &EncoderOptions::default()).unwrap()
}

/// The tiny model with a tokenizer that does not lowercase by itself, `do_lower_case: true` and
/// query/document prompts.
fn lowercasing_model_with_prompts(dir: &Path) {
    write_tiny_model(dir, 3).unwrap();
    let tok_path = dir.join("tokenizer.json");
    let mut tok: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&tok_path).unwrap()).unwrap();
    tok["normalizer"] = serde_json::Value::Null;
    std::fs::write(&tok_path, tok.to_string()).unwrap();
    std::fs::write(
        dir.join("sentence_bert_config.json"),
        r#"{"max_seq_length": 32, "do_lower_case": true}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("config_sentence_transformers.json"),
        r#"{"prompts": {"query": "who is ", "document": "a book "}}"#,
    )
    .unwrap();
}

fn examples() -> Vec<TrainExample> {
    let words = &trawl_train::testkit::WORDS[2..];
    (0..words.len())
        .map(|i| TrainExample {
            query: format!("what is {}", words[i]),
            positive: format!("the {} and {}", words[i], words[(i * 7 + 3) % words.len()]),
            negatives: vec![],
        })
        .collect()
}

#[test]
fn a_model_trained_with_a_projection_head_encodes_with_the_inference_encoder() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("base");
    write_tiny_model(&base, 7).unwrap();
    let opts = LoadOptions {
        projection_dim: Some(8),
        ..Default::default()
    };
    let model = SentenceModel::load(&base, &opts).unwrap();
    let cfg = TrainConfig {
        batch_size: 4,
        max_steps: Some(2),
        lr: 1e-3,
        ..Default::default()
    };
    train(
        &model,
        &examples(),
        None,
        &cfg,
        &tmp.path().join("run"),
        false,
        &mut |_| {},
    )
    .unwrap();
    let out = tmp.path().join("projected");
    checkpoint::save_model(&model, &out, false, &[]).unwrap();
    let enc = encoder(&out);
    assert_eq!(enc.dim(), 8);
    let got = enc.encode_documents(TEXTS).unwrap();
    assert_close(
        &got.data,
        &model.embed_documents(TEXTS, 4).unwrap(),
        "trained folder with 2_Dense: inference vs training forward",
    );
}

#[test]
fn lowercasing_and_prefixes_are_the_same_in_training_and_inference() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lower");
    lowercasing_model_with_prompts(&dir);
    let model = SentenceModel::load(&dir, &LoadOptions::default()).unwrap();
    assert!(model.do_lower_case());
    assert_eq!(
        (model.query_prefix(), model.document_prefix()),
        ("who is ", "a book ")
    );
    // The tokenizer itself keeps case: only do_lower_case makes "The CAT" the same as "the cat".
    assert_eq!(
        model.embed(&["The CAT"], 2).unwrap(),
        model.embed(&["the cat"], 2).unwrap()
    );
    let enc = encoder(&dir);
    assert_close(
        &enc.encode_queries(TEXTS).unwrap().data,
        &model.embed_queries(TEXTS, 3).unwrap(),
        "queries",
    );
    assert_close(
        &enc.encode_documents(TEXTS).unwrap().data,
        &model.embed_documents(TEXTS, 3).unwrap(),
        "documents",
    );
    // The prefix is really applied: a query differs from the bare text.
    assert_ne!(
        model.embed_queries(&["the cat"], 1).unwrap(),
        model.embed(&["the cat"], 1).unwrap()
    );
    assert_eq!(
        model.embed_queries(&["the cat"], 1).unwrap(),
        model.embed(&["who is the cat"], 1).unwrap()
    );
}

#[test]
fn a_saved_checkpoint_keeps_the_folders_do_lower_case_and_prompts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("lower");
    lowercasing_model_with_prompts(&dir);
    let model = SentenceModel::load(&dir, &LoadOptions::default()).unwrap();
    let out = tmp.path().join("saved");
    checkpoint::save_model(&model, &out, false, &[]).unwrap();
    let sbert: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("sentence_bert_config.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(sbert["do_lower_case"], true);
    let reloaded = SentenceModel::load(&out, &LoadOptions::default()).unwrap();
    assert!(reloaded.do_lower_case());
    assert_eq!(reloaded.query_prefix(), "who is ");
    assert_close(
        &encoder(&out).encode_queries(TEXTS).unwrap().data,
        &model.embed_queries(TEXTS, 4).unwrap(),
        "reloaded folder",
    );
}

#[test]
fn prefixes_known_from_the_model_name_are_saved_as_prompts() {
    let tmp = tempfile::tempdir().unwrap();
    // An e5 folder name: inference and training use "query: " / "passage: ".
    let dir = tmp.path().join("multilingual-e5-tiny");
    write_tiny_model(&dir, 5).unwrap();
    let model = SentenceModel::load(&dir, &LoadOptions::default()).unwrap();
    assert_eq!(
        (model.query_prefix(), model.document_prefix()),
        ("query: ", "passage: ")
    );
    let out = tmp.path().join("mine");
    checkpoint::save_model(&model, &out, false, &[]).unwrap();
    let enc = encoder(&out);
    assert_eq!(
        (enc.query_prefix(), enc.document_prefix()),
        ("query: ", "passage: ")
    );
}
