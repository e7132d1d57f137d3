//! all-MiniLM-L6-v2 embeddings equal sentence-transformers' (cosine >= 0.9999) on the fixed sample
//! in tests/data/minilm_reference.json (written by scripts/make_reference_embeddings.py).
//!
//! Needs the model: scripts/get-model.sh installs ./models/all-MiniLM-L6-v2, or set
//! TRAWL_TEST_MODEL to a folder. Skips (printing why) without it, fails under TRAWL_REQUIRE_MODEL=1.

mod common;

use std::path::PathBuf;

use trawl_embed::{Backend, EncoderOptions, SentenceEncoder};

struct Item {
    kind: String,
    text: String,
    embedding: Vec<f32>,
}

fn reference() -> Vec<Item> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/minilm_reference.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| Item {
            kind: i["kind"].as_str().unwrap().to_string(),
            text: i["text"].as_str().unwrap().to_string(),
            embedding: i["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect(),
        })
        .collect()
}

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn check(backend: Backend) {
    let Some(dir) = common::model_dir() else {
        return;
    };
    let opts = EncoderOptions {
        backend,
        batch_size: 8,
        ..Default::default()
    };
    let enc = SentenceEncoder::load(dir.to_str().unwrap(), &opts).unwrap();
    assert_eq!(
        (enc.dim(), enc.max_seq_len(), enc.normalizes()),
        (384, 256, true)
    );
    let items = reference();
    let texts = |kind: &str| {
        items
            .iter()
            .filter(|i| i.kind == kind)
            .map(|i| i.text.as_str())
            .collect::<Vec<_>>()
    };
    let passages = enc.encode_documents(&texts("passage")).unwrap();
    let queries = enc.encode_queries(&texts("query")).unwrap();
    let edges = enc.encode(&texts("edge")).unwrap();
    let ours: Vec<&[f32]> = passages
        .rows()
        .chain(queries.rows())
        .chain(edges.rows())
        .collect();
    assert_eq!(ours.len(), items.len());
    let mut worst = 1.0f32;
    for (item, got) in items.iter().zip(ours) {
        let c = cosine(got, &item.embedding);
        assert!(
            c >= 0.9999,
            "{backend:?}: cosine {c} < 0.9999 for {} {:?}",
            item.kind,
            &item.text[..item.text.len().min(60)]
        );
        worst = worst.min(c);
    }
    eprintln!(
        "{backend:?}: min cosine vs sentence-transformers over {} texts: {worst:.7}",
        items.len()
    );
}

#[test]
fn fused_cpu_embeddings_equal_sentence_transformers() {
    check(Backend::Fused);
}

#[test]
fn candle_embeddings_equal_sentence_transformers() {
    check(Backend::Candle);
}
