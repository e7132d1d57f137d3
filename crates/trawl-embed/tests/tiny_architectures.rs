//! Every supported encoder family equals transformers + sentence-transformers on a tiny random
//! model (tests/fixtures/tiny-*, written with their reference.json by scripts/make_tiny_models.py):
//! MPNet (relative position buckets), RoBERTa and XLM-RoBERTa (positions past the padding index,
//! bf16 weights), DistilBERT (its own weight names, f16 weights); mean, CLS and max pooling.
//! The reference was computed in padded batches of 4 with truncation at 24 tokens; here the
//! fused (packed) and candle (padded) paths run with other batch sizes, so each text meets other
//! neighbours: the result must not depend on them.

mod common;

use std::path::{Path, PathBuf};

use trawl_embed::{Backend, EncoderOptions, Error, SentenceEncoder};

const MODELS: &[&str] = &[
    "tiny-mpnet",
    "tiny-roberta",
    "tiny-xlm-roberta",
    "tiny-distilbert",
];

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn reference(dir: &Path) -> (Vec<String>, Vec<Vec<f32>>) {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let texts = v["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    (texts, common::vectors(&v["embeddings"]))
}

#[test]
fn tiny_models_equal_sentence_transformers() {
    for name in MODELS {
        let dir = fixture(name);
        let (texts, want) = reference(&dir);
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        for (backend, batch_size) in [
            (Backend::Fused, 3),
            (Backend::Fused, 32),
            (Backend::Candle, 1),
            (Backend::Candle, 5),
        ] {
            let opts = EncoderOptions {
                backend,
                batch_size,
                ..Default::default()
            };
            let enc = SentenceEncoder::load(dir.to_str().unwrap(), &opts).unwrap();
            assert_eq!((enc.dim(), enc.max_seq_len()), (32, 24), "{name}");
            let got = enc.encode(&texts).unwrap();
            let mut worst = 0f32;
            for (i, w) in want.iter().enumerate() {
                for (a, b) in got.row(i).iter().zip(w) {
                    worst = worst.max((a - b).abs());
                }
            }
            assert!(
                worst <= 1e-5,
                "{name} {backend:?} batch {batch_size}: max |diff| {worst:e} to sentence-transformers"
            );
            eprintln!("{name} {backend:?} batch {batch_size}: max |diff| {worst:e}");
        }
    }
}

#[test]
fn truncation_is_exercised_by_the_fixtures() {
    // The long text is cut at 24 tokens, so the truncated inputs really are compared above.
    let dir = fixture("tiny-roberta");
    let enc = SentenceEncoder::load(dir.to_str().unwrap(), &EncoderOptions::default()).unwrap();
    let (texts, _) = reference(&dir);
    let long = texts.iter().max_by_key(|t| t.len()).unwrap();
    let extended = format!("{long} and more words that only matter without truncation");
    assert_eq!(
        enc.encode(&[long.as_str()]).unwrap(),
        enc.encode(&[extended.as_str()]).unwrap()
    );
}

#[test]
fn an_unknown_architecture_is_refused_with_the_supported_list() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("gpt");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["tokenizer.json", "model.safetensors", "modules.json"] {
        std::fs::copy(fixture("tiny-roberta").join(f), dir.join(f)).unwrap();
    }
    std::fs::write(
        dir.join("config.json"),
        r#"{"model_type": "gpt2", "vocab_size": 300}"#,
    )
    .unwrap();
    let err = SentenceEncoder::load(dir.to_str().unwrap(), &EncoderOptions::default())
        .err()
        .expect("gpt2 must be refused");
    assert!(
        matches!(err, Error::UnsupportedArchitecture { .. }),
        "{err}"
    );
    let msg = err.to_string();
    for t in [
        "gpt2",
        "bert",
        "roberta",
        "xlm-roberta",
        "distilbert",
        "mpnet",
        "qwen3",
    ] {
        assert!(msg.contains(t), "{msg}");
    }
}

#[test]
fn weights_in_an_integer_dtype_are_refused_naming_the_tensor_and_the_supported_dtypes() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("int-weights");
    common::copy_dir(&fixture("tiny-roberta"), &dir);
    let path = dir.join("model.safetensors");
    let mut tensors = candle_core::safetensors::load(&path, &candle_core::Device::Cpu).unwrap();
    let name = "embeddings.word_embeddings.weight";
    let key = tensors.keys().find(|k| k.ends_with(name)).unwrap().clone();
    let t = tensors[&key].to_dtype(candle_core::DType::I64).unwrap();
    tensors.insert(key.clone(), t);
    candle_core::safetensors::save(&tensors, &path).unwrap();
    let err = SentenceEncoder::load(dir.to_str().unwrap(), &EncoderOptions::default())
        .err()
        .expect("i64 weights must be refused");
    let msg = err.to_string();
    assert!(matches!(err, Error::BadWeights { .. }), "{msg}");
    for want in [key.as_str(), "I64", "f32, f16, bf16", "model.safetensors"] {
        assert!(msg.contains(want), "{want}: {msg}");
    }
}
