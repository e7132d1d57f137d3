//! Qwen3 as an embedder equals sentence-transformers + transformers on a tiny random Qwen3
//! (tests/fixtures/tiny-qwen3, written with its reference.json by scripts/make_tiny_models.py):
//! grouped-query attention (4 query heads on 2 key/value heads), q/k RMSNorm, RoPE, causal
//! attention, last-token pooling, Normalize, bf16 weights, and the query prompt of
//! config_sentence_transformers.json on queries only. The reference was computed in batches of
//! 4 padded on the left (as the tokenizer says) and again on the right, with texts truncated at
//! 32 tokens; here the packed path (no padding) and the padded candle path (each padding side)
//! run with other batch sizes, so each text meets other neighbours.

mod common;

use std::path::{Path, PathBuf};

use trawl_embed::{Backend, EncoderOptions, Error, ModelConfig, SentenceEncoder};

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tiny-qwen3")
}

fn reference() -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(fixture().join("reference.json")).unwrap())
        .unwrap()
}

use common::{copy_dir, vectors as rows};

fn texts(r: &serde_json::Value) -> Vec<String> {
    r["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect()
}

fn max_diff(got: &trawl_embed::Embeddings, want: &[Vec<f32>]) -> f32 {
    assert_eq!(got.n, want.len());
    let mut worst = 0f32;
    for (i, w) in want.iter().enumerate() {
        for (a, b) in got.row(i).iter().zip(w) {
            worst = worst.max((a - b).abs());
        }
    }
    worst
}

fn load(dir: &Path, backend: Backend, batch_size: usize) -> SentenceEncoder {
    let opts = EncoderOptions {
        backend,
        batch_size,
        ..Default::default()
    };
    SentenceEncoder::load(dir.to_str().unwrap(), &opts).unwrap()
}

/// A copy of the fixture with `edit` applied to its file `name` (JSON).
fn edited_copy(tmp: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let dir = tmp.join("tiny-qwen3");
    copy_dir(&fixture(), &dir);
    let path = dir.join(name);
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    dir
}

const RUNS: [(Backend, usize); 4] = [
    (Backend::Fused, 3),
    (Backend::Fused, 32),
    (Backend::Candle, 1),
    (Backend::Candle, 5),
];

#[test]
fn documents_and_queries_equal_sentence_transformers() {
    let r = reference();
    let texts = texts(&r);
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (docs, queries) = (rows(&r["embeddings"]), rows(&r["query_embeddings"]));
    // The fixture really has the cases: truncated texts, an empty one, mixed lengths.
    let counts: Vec<u64> = r["token_counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_u64().unwrap())
        .collect();
    assert!(counts.contains(&32) && counts.contains(&1) && counts.iter().any(|&c| c < 10));
    for (backend, batch_size) in RUNS {
        let enc = load(&fixture(), backend, batch_size);
        assert_eq!((enc.dim(), enc.max_seq_len()), (32, 32));
        assert!(enc.normalizes());
        assert_eq!(enc.pooling(), trawl_embed::Pooling::LastToken);
        assert_eq!(enc.query_prefix(), r["query_prompt"].as_str().unwrap());
        assert_eq!(enc.document_prefix(), "");
        let d = max_diff(&enc.encode_documents(&texts).unwrap(), &docs);
        let q = max_diff(&enc.encode_queries(&texts).unwrap(), &queries);
        eprintln!("{backend:?} batch {batch_size}: documents {d:e}, queries {q:e}");
        assert!(
            d <= 1e-5,
            "{backend:?} batch {batch_size}: documents max |diff| {d:e}"
        );
        assert!(
            q <= 1e-5,
            "{backend:?} batch {batch_size}: queries max |diff| {q:e}"
        );
    }
}

#[test]
fn right_padding_gives_sentence_transformers_right_padded_vectors() {
    let r = reference();
    let texts = texts(&r);
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let want = rows(&r["embeddings_right_padding"]);
    let tmp = tempfile::tempdir().unwrap();
    let dir = edited_copy(tmp.path(), "tokenizer_config.json", |v| {
        v["padding_side"] = "right".into();
    });
    for batch_size in [4, 10] {
        let got = load(&dir, Backend::Candle, batch_size)
            .encode_documents(&texts)
            .unwrap();
        let d = max_diff(&got, &want);
        assert!(
            d <= 1e-5,
            "right padding, batch {batch_size}: max |diff| {d:e}"
        );
    }
}

#[test]
fn older_config_keys_rope_theta_and_norm_eps_are_read_alike() {
    // transformers 4 wrote `rope_theta` at the top level; some configs name the epsilon `norm_eps`.
    let r = reference();
    let texts = texts(&r);
    let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
    let tmp = tempfile::tempdir().unwrap();
    let dir = edited_copy(tmp.path(), "config.json", |v| {
        let theta = v["rope_parameters"]["rope_theta"].clone();
        let eps = v["rms_norm_eps"].clone();
        let o = v.as_object_mut().unwrap();
        o.remove("rope_parameters");
        o.remove("rms_norm_eps");
        o.remove("layer_types");
        o.insert("rope_theta".into(), theta);
        o.insert("rope_scaling".into(), serde_json::Value::Null);
        o.insert("norm_eps".into(), eps);
    });
    let a = ModelConfig::read(&fixture()).unwrap().bert;
    let b = ModelConfig::read(&dir).unwrap().bert;
    assert_eq!(a, b);
    assert_eq!(a.decoder.as_ref().unwrap().rope_theta, 10_000.0);
    let got = load(&dir, Backend::Fused, 4)
        .encode_documents(&texts)
        .unwrap();
    assert!(max_diff(&got, &rows(&r["embeddings"])) <= 1e-5);
}

#[test]
fn the_last_token_is_what_a_text_is_embedded_by() {
    // The vector is the last token's state: a text and the same text with more words differ,
    // and a text's vector does not depend on the batch it is encoded in.
    let enc = load(&fixture(), Backend::Fused, 8);
    let e = enc
        .encode(&["the cat sat", "the cat sat on the mat"])
        .unwrap();
    assert!(e.row(0) != e.row(1));
    let again = enc.encode(&["the cat sat"]).unwrap();
    let d = e
        .row(0)
        .iter()
        .zip(again.row(0))
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(d <= 1e-6, "alone vs batched: {d:e}");
}

#[test]
fn a_tokenizer_without_a_pad_token_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = edited_copy(tmp.path(), "tokenizer_config.json", |v| {
        v.as_object_mut().unwrap().remove("pad_token");
    });
    let err = SentenceEncoder::load(dir.to_str().unwrap(), &EncoderOptions::default())
        .err()
        .expect("no pad token must be refused");
    let msg = err.to_string();
    assert!(matches!(err, Error::BadConfig { .. }), "{msg}");
    assert!(
        msg.contains("tokenizer_config.json") && msg.contains("pad token"),
        "{msg}"
    );
}

#[test]
fn unsupported_qwen3_settings_are_named() {
    type Edit = fn(&mut serde_json::Value);
    let cases: [(&str, Edit); 4] = [
        ("yarn", |v| {
            v["rope_parameters"]["rope_type"] = "yarn".into();
        }),
        ("sliding", |v| {
            v["use_sliding_window"] = true.into();
        }),
        ("gelu", |v| {
            v["hidden_act"] = "gelu".into();
        }),
        ("num_key_value_heads 3", |v| {
            v["num_key_value_heads"] = 3.into();
        }),
    ];
    for (want, edit) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let dir = edited_copy(tmp.path(), "config.json", edit);
        let err = SentenceEncoder::load(dir.to_str().unwrap(), &EncoderOptions::default())
            .err()
            .unwrap_or_else(|| panic!("{want}: must be refused"));
        let msg = err.to_string();
        assert!(
            msg.contains(want) && msg.contains("config.json"),
            "{want}: {msg}"
        );
    }
}

#[test]
fn default_prompt_name_applies_where_no_named_prompt_does() {
    // sentence-transformers: encode() without a prompt uses the default prompt; encode_query
    // uses `query` when the folder has one, encode_document the first of document/passage/corpus.
    let tmp = tempfile::tempdir().unwrap();
    let dir = edited_copy(tmp.path(), "config_sentence_transformers.json", |v| {
        v["prompts"] = serde_json::json!({"query": "q: ", "classify": "c: ", "passage": "p: "});
        v["default_prompt_name"] = "classify".into();
    });
    let cfg = ModelConfig::read(&dir).unwrap();
    assert_eq!(
        (
            cfg.query_prefix.as_str(),
            cfg.document_prefix.as_str(),
            cfg.default_prompt.as_str()
        ),
        ("q: ", "p: ", "c: ")
    );
    let enc = load(&dir, Backend::Fused, 4);
    assert_eq!(
        enc.encode(&["water"]).unwrap(),
        load(&fixture(), Backend::Fused, 4)
            .encode(&["c: water"])
            .unwrap()
    );
    let tmp2 = tempfile::tempdir().unwrap();
    let bad = edited_copy(tmp2.path(), "config_sentence_transformers.json", |v| {
        v["default_prompt_name"] = "missing".into();
    });
    let msg = ModelConfig::read(&bad).err().unwrap().to_string();
    assert!(msg.contains("default_prompt_name `missing`"), "{msg}");
}
