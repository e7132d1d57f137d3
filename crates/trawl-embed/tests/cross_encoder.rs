//! Cross-encoders equal sentence-transformers' CrossEncoder.predict on tiny random models
//! (tests/fixtures/tiny-*-cross-encoder, written with reference.json by
//! scripts/make_tiny_models.py): BERT (token types 0/1 for the two texts, Sigmoid by default),
//! XLM-RoBERTa (no token types, Identity saved in the folder) and DistilBERT (pre_classifier,
//! ReLU, classifier; no token types). The reference ran in padded
//! batches of 4 with `longest_first` truncation at 24 tokens; here the packed forward runs with
//! other batch sizes, so the pairs meet other neighbours.

use std::path::{Path, PathBuf};

use trawl_embed::{Activation, CrossEncoder, CrossEncoderOptions, Error};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

struct Reference {
    pairs: Vec<(String, String)>,
    scores: Vec<f32>,
    logits: Vec<f32>,
}

fn reference(dir: &Path) -> Reference {
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("reference.json")).unwrap())
            .unwrap();
    let floats = |k: &str| -> Vec<f32> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    };
    Reference {
        pairs: v["pairs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p[0].as_str().unwrap().to_string(),
                    p[1].as_str().unwrap().to_string(),
                )
            })
            .collect(),
        scores: floats("scores"),
        logits: floats("logits"),
    }
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn tiny_cross_encoders_equal_sentence_transformers() {
    for (name, activation) in [
        ("tiny-bert-cross-encoder", Activation::Sigmoid),
        ("tiny-xlm-roberta-cross-encoder", Activation::Identity),
        // pre_classifier + ReLU + classifier on the first token, no token types.
        ("tiny-distilbert-cross-encoder", Activation::Sigmoid),
    ] {
        let dir = fixture(name);
        let want = reference(&dir);
        let pairs: Vec<(&str, &str)> = want
            .pairs
            .iter()
            .map(|(q, p)| (q.as_str(), p.as_str()))
            .collect();
        for batch_size in [1, 3, 32] {
            let opts = CrossEncoderOptions {
                batch_size,
                ..Default::default()
            };
            let ce = CrossEncoder::load(dir.to_str().unwrap(), &opts).unwrap();
            assert_eq!(
                (ce.activation(), ce.max_length()),
                (activation, 24),
                "{name}"
            );
            let scores = ce.predict(&pairs).unwrap();
            let logits = ce.logits(&pairs).unwrap();
            let (ds, dl) = (
                max_diff(&scores, &want.scores),
                max_diff(&logits, &want.logits),
            );
            assert!(
                ds <= 1e-5 && dl <= 1e-5,
                "{name} batch {batch_size}: max |diff| scores {ds:e}, logits {dl:e}"
            );
        }
    }
}

#[test]
fn scores_do_not_depend_on_the_other_pairs_of_a_call() {
    let dir = fixture("tiny-bert-cross-encoder");
    let want = reference(&dir);
    let ce = CrossEncoder::load(dir.to_str().unwrap(), &CrossEncoderOptions::default()).unwrap();
    for (i, (q, p)) in want.pairs.iter().enumerate() {
        let one = ce.predict(&[(q.as_str(), p.as_str())]).unwrap();
        assert!((one[0] - want.scores[i]).abs() <= 1e-5, "pair {i}");
    }
    assert!(ce.predict(&[]).unwrap().is_empty());
}

fn copy_fixture(name: &str, to: &Path) {
    for e in std::fs::read_dir(fixture(name)).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

#[test]
fn a_classifier_with_two_labels_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    copy_fixture("tiny-bert-cross-encoder", tmp.path());
    let st = tmp.path().join("model.safetensors");
    let mut tensors = candle_core::safetensors::load(&st, &candle_core::Device::Cpu).unwrap();
    let two =
        candle_core::Tensor::zeros((2, 32), candle_core::DType::F32, &candle_core::Device::Cpu);
    tensors.insert("classifier.weight".into(), two.unwrap());
    candle_core::safetensors::save(&tensors, &st).unwrap();
    let err = CrossEncoder::load(tmp.path().to_str().unwrap(), &Default::default())
        .err()
        .expect("two labels must be refused");
    assert!(matches!(err, Error::LabelCount { labels: 2, .. }), "{err}");
    assert!(err.to_string().contains("one label"), "{err}");
}

#[test]
fn an_architecture_without_a_classification_head_is_refused_listing_the_supported_ones() {
    let tmp = tempfile::tempdir().unwrap();
    copy_fixture("tiny-bert-cross-encoder", tmp.path());
    let cfg = tmp.path().join("config.json");
    let text = std::fs::read_to_string(&cfg)
        .unwrap()
        .replace("BertForSequenceClassification", "BertForMaskedLM");
    std::fs::write(&cfg, text).unwrap();
    let err = CrossEncoder::load(tmp.path().to_str().unwrap(), &Default::default())
        .err()
        .expect("a masked-LM head must be refused");
    let msg = err.to_string();
    for supported in trawl_embed::SUPPORTED_CROSS_ENCODERS.split(", ") {
        assert!(msg.contains(supported), "{msg}");
    }
    assert!(
        msg.contains("BertForMaskedLM") && msg.contains("config.json"),
        "{msg}"
    );
}
