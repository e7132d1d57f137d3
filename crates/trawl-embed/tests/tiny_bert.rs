//! Loading, pooling, normalisation, truncation, padding invariance and bad input, on a tiny random
//! BERT that the test writes itself (config.json, model.safetensors, tokenizer.json, ...).

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::tensor::{Dtype, TensorView};
use serde_json::json;
use trawl_embed::{Backend, Device, EncoderOptions, Error, Pooling, SentenceEncoder};

const WORDS: &[&str] = &[
    "the", "cat", "sat", "on", "mat", "dog", "ran", "far", "away", "a", "big", "red", "ball",
    "and", "then", "it", "rained", "##s", "##ing", "blue", "sky", "over", "hill", "quick", "brown",
    "fox",
];
const H: usize = 16;
const INTER: usize = 32;
const LAYERS: usize = 2;
const MAX_POS: usize = 64;

fn vocab_size() -> usize {
    4 + WORDS.len()
}

fn tokenizer_json() -> serde_json::Value {
    let mut vocab = serde_json::Map::new();
    for (i, t) in ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
        .iter()
        .chain(WORDS)
        .enumerate()
    {
        vocab.insert(t.to_string(), json!(i));
    }
    let special = |id: usize, c: &str| json!({"id": id, "content": c, "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true});
    json!({
        "version": "1.0", "truncation": null, "padding": null,
        "added_tokens": [special(0, "[PAD]"), special(1, "[UNK]"), special(2, "[CLS]"), special(3, "[SEP]")],
        "normalizer": {"type": "BertNormalizer", "clean_text": true, "handle_chinese_chars": true, "strip_accents": null, "lowercase": true},
        "pre_tokenizer": {"type": "BertPreTokenizer"},
        "post_processor": {"type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": "[CLS]", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "[SEP]", "type_id": 0}},
                     {"Sequence": {"id": "B", "type_id": 1}}, {"SpecialToken": {"id": "[SEP]", "type_id": 1}}],
            "special_tokens": {"[CLS]": {"id": "[CLS]", "ids": [2], "tokens": ["[CLS]"]}, "[SEP]": {"id": "[SEP]", "ids": [3], "tokens": ["[SEP]"]}}},
        "decoder": null,
        "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##", "max_input_chars_per_word": 100, "vocab": vocab}
    })
}

/// (name, shape) of every weight a BERT checkpoint holds, for hidden size `h`.
fn weight_shapes(h: usize) -> Vec<(String, Vec<usize>)> {
    let mut w = vec![
        (
            "embeddings.word_embeddings.weight".to_string(),
            vec![vocab_size(), h],
        ),
        (
            "embeddings.position_embeddings.weight".into(),
            vec![MAX_POS, h],
        ),
        ("embeddings.token_type_embeddings.weight".into(), vec![2, h]),
        ("embeddings.LayerNorm.weight".into(), vec![h]),
        ("embeddings.LayerNorm.bias".into(), vec![h]),
    ];
    for l in 0..LAYERS {
        let p = format!("encoder.layer.{l}.");
        for (n, s) in [
            ("attention.self.query.weight", vec![h, h]),
            ("attention.self.query.bias", vec![h]),
            ("attention.self.key.weight", vec![h, h]),
            ("attention.self.key.bias", vec![h]),
            ("attention.self.value.weight", vec![h, h]),
            ("attention.self.value.bias", vec![h]),
            ("attention.output.dense.weight", vec![h, h]),
            ("attention.output.dense.bias", vec![h]),
            ("attention.output.LayerNorm.weight", vec![h]),
            ("attention.output.LayerNorm.bias", vec![h]),
            ("intermediate.dense.weight", vec![INTER, h]),
            ("intermediate.dense.bias", vec![INTER]),
            ("output.dense.weight", vec![h, INTER]),
            ("output.dense.bias", vec![h]),
            ("output.LayerNorm.weight", vec![h]),
            ("output.LayerNorm.bias", vec![h]),
        ] {
            w.push((format!("{p}{n}"), s));
        }
    }
    w
}

fn write_weights(path: &Path, h: usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(42);
    let data: Vec<(String, Vec<usize>, Vec<u8>)> = weight_shapes(h)
        .into_iter()
        .map(|(name, shape)| {
            let n: usize = shape.iter().product();
            let vals: Vec<f32> = (0..n)
                .map(|_| {
                    if name.ends_with("LayerNorm.weight") {
                        1.0 + rng.random_range(-0.1..0.1)
                    } else {
                        rng.random_range(-0.5..0.5)
                    }
                })
                .collect();
            (
                name,
                shape,
                vals.iter().flat_map(|v| v.to_le_bytes()).collect(),
            )
        })
        .collect();
    let views: Vec<(String, TensorView)> = data
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    std::fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

/// Writes a complete sentence-transformers folder `dir` with the given pooling / Normalize.
fn write_model(dir: &Path, pooling: &str, normalize: bool) {
    std::fs::create_dir_all(dir.join("1_Pooling")).unwrap();
    let config = json!({"model_type": "bert", "vocab_size": vocab_size(), "hidden_size": H, "num_hidden_layers": LAYERS,
        "num_attention_heads": 4, "intermediate_size": INTER, "max_position_embeddings": MAX_POS, "type_vocab_size": 2,
        "layer_norm_eps": 1e-12, "hidden_act": "gelu"});
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    std::fs::write(dir.join("tokenizer.json"), tokenizer_json().to_string()).unwrap();
    std::fs::write(
        dir.join("sentence_bert_config.json"),
        json!({"max_seq_length": 12, "do_lower_case": false}).to_string(),
    )
    .unwrap();
    let mut modules = vec![
        json!({"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"}),
        json!({"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}),
    ];
    if normalize {
        modules.push(json!({"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}));
    }
    std::fs::write(
        dir.join("modules.json"),
        serde_json::Value::from(modules).to_string(),
    )
    .unwrap();
    let flag = |m: &str| pooling == m;
    std::fs::write(
        dir.join("1_Pooling/config.json"),
        json!({"word_embedding_dimension": H, "pooling_mode_cls_token": flag("cls"), "pooling_mode_mean_tokens": flag("mean"),
               "pooling_mode_max_tokens": flag("max"), "pooling_mode_mean_sqrt_len_tokens": false})
        .to_string(),
    )
    .unwrap();
    write_weights(&dir.join("model.safetensors"), H);
}

fn load(dir: &Path, backend: Backend, batch_size: usize) -> SentenceEncoder {
    SentenceEncoder::load(
        dir.to_str().unwrap(),
        &EncoderOptions {
            backend,
            batch_size,
            ..Default::default()
        },
    )
    .unwrap()
}

fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
    a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

const TEXTS: &[&str] = &[
    "the cat sat",
    "a big red ball and then it rained over the blue hill far away",
    "dog",
    "the quick brown fox ran far away over the hill and the dog sat on the mat",
    "",
    "Ünïcödé 東京 🧬 \u{200b} עברית cats",
];

#[test]
fn loads_and_reports_model_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("tiny");
    write_model(&dir, "mean", true);
    let enc = load(&dir, Backend::Auto, 32);
    assert_eq!(
        (
            enc.dim(),
            enc.max_seq_len(),
            enc.pooling(),
            enc.normalizes()
        ),
        (H, 12, Pooling::Mean, true)
    );
    assert_eq!(enc.model_name(), "tiny");
    let e = enc.encode_documents(TEXTS).unwrap();
    assert_eq!(
        (e.n, e.dim, e.data.len()),
        (TEXTS.len(), H, TEXTS.len() * H)
    );
    for row in e.rows() {
        let norm: f32 = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!(
            (norm - 1.0).abs() < 1e-5,
            "Normalize module: unit vectors, got norm {norm}"
        );
        assert!(row.iter().all(|x| x.is_finite()));
    }
}

#[test]
fn fused_and_candle_paths_agree_for_every_pooling_mode() {
    let tmp = tempfile::tempdir().unwrap();
    for pooling in ["mean", "cls", "max"] {
        let dir = tmp.path().join(pooling);
        write_model(&dir, pooling, false);
        let fused = load(&dir, Backend::Fused, 4).encode(TEXTS).unwrap();
        let candle = load(&dir, Backend::Candle, 4).encode(TEXTS).unwrap();
        for (a, b) in fused.rows().zip(candle.rows()) {
            assert!(close(a, b, 1e-4), "{pooling}: fused {a:?} vs candle {b:?}");
        }
        let norm: f32 = fused.row(0).iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!(
            (norm - 1.0).abs() > 1e-3,
            "no Normalize module: vectors are not rescaled"
        );
    }
    // The modes really differ: max pooling dominates mean pooling element-wise.
    let mean = load(&tmp.path().join("mean"), Backend::Fused, 4)
        .encode(TEXTS)
        .unwrap();
    let max = load(&tmp.path().join("max"), Backend::Fused, 4)
        .encode(TEXTS)
        .unwrap();
    let cls = load(&tmp.path().join("cls"), Backend::Fused, 4)
        .encode(TEXTS)
        .unwrap();
    assert!(max
        .data
        .iter()
        .zip(&mean.data)
        .all(|(m, a)| m >= &(a - 1e-6)));
    assert!(!close(&cls.data, &mean.data, 1e-3));
}

#[test]
fn a_text_gets_the_same_vector_alone_or_batched_with_longer_texts() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    write_model(&dir, "mean", true);
    for backend in [Backend::Fused, Backend::Candle] {
        let enc = load(&dir, backend, 64);
        let alone = enc.encode(&["the cat sat"]).unwrap();
        let batched = enc.encode(TEXTS).unwrap();
        assert!(
            close(alone.row(0), batched.row(0), 1e-5),
            "{backend:?}: padding changed the vector"
        );
        // Many small batches (run in parallel) give the same as one big batch.
        let many: Vec<&str> = TEXTS.iter().cycle().take(60).copied().collect();
        let small = load(&dir, backend, 1).encode(&many).unwrap();
        let big = enc.encode(&many).unwrap();
        assert!(
            close(&small.data, &big.data, 1e-5),
            "{backend:?}: batch size changed vectors"
        );
    }
}

#[test]
fn long_texts_are_truncated_to_max_seq_len_tokens() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    write_model(&dir, "mean", true);
    let enc = load(&dir, Backend::Fused, 8);
    // max_seq_length 12 = [CLS] + 10 words + [SEP].
    let long = "the cat sat on the mat and then it rained over the blue hill far away";
    let first10 = long.split(' ').take(10).collect::<Vec<_>>().join(" ");
    let first9 = long.split(' ').take(9).collect::<Vec<_>>().join(" ");
    let e = enc.encode(&[long, &first10, &first9]).unwrap();
    assert!(
        close(e.row(0), e.row(1), 1e-6),
        "truncated text equals its first 10 tokens"
    );
    assert!(!close(e.row(0), e.row(2), 1e-4));
    let opts = EncoderOptions {
        max_seq_len: Some(5),
        ..Default::default()
    };
    let short = SentenceEncoder::load(dir.to_str().unwrap(), &opts).unwrap();
    assert_eq!(short.max_seq_len(), 5);
    let e = short.encode(&[long, "the cat sat"]).unwrap();
    assert!(close(e.row(0), e.row(1), 1e-6));
}

#[test]
fn model_family_prefixes_apply_to_queries_and_documents() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("e5-small-v2");
    write_model(&dir, "mean", true);
    let enc = load(&dir, Backend::Fused, 8);
    assert_eq!(
        (enc.query_prefix(), enc.document_prefix()),
        ("query: ", "passage: ")
    );
    let q = enc.encode_queries(&["the cat"]).unwrap();
    let d = enc.encode_documents(&["the cat"]).unwrap();
    let raw = enc
        .encode(&["query: the cat", "passage: the cat", "the cat"])
        .unwrap();
    assert!(close(q.row(0), raw.row(0), 1e-6) && close(d.row(0), raw.row(1), 1e-6));
    assert!(!close(q.row(0), raw.row(2), 1e-4));
    let opts = EncoderOptions {
        query_prefix: Some(String::new()),
        ..Default::default()
    };
    let plain = SentenceEncoder::load(dir.to_str().unwrap(), &opts).unwrap();
    assert!(close(
        plain.encode_queries(&["the cat"]).unwrap().row(0),
        raw.row(2),
        1e-6
    ));
}

#[test]
fn progress_reports_every_text() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    write_model(&dir, "mean", true);
    let enc = load(&dir, Backend::Fused, 2);
    let last = std::sync::Mutex::new((0, 0));
    let texts: Vec<&str> = TEXTS.iter().cycle().take(11).copied().collect();
    enc.encode_documents_with_progress(&texts, &|done, total| {
        let mut l = last.lock().unwrap();
        *l = (l.0.max(done), total);
    })
    .unwrap();
    assert_eq!(*last.lock().unwrap(), (11, 11));
}

#[test]
fn bad_model_folders_get_errors_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let base = tmp.path().join("m");
    write_model(&base, "mean", true);
    let opts = EncoderOptions::default();
    let copy = |name: &str| {
        let d = tmp.path().join(name);
        std::fs::create_dir_all(d.join("1_Pooling")).unwrap();
        for f in [
            "config.json",
            "tokenizer.json",
            "modules.json",
            "sentence_bert_config.json",
            "model.safetensors",
            "1_Pooling/config.json",
        ] {
            std::fs::copy(base.join(f), d.join(f)).unwrap();
        }
        d
    };
    let err = |d: &Path| {
        SentenceEncoder::load(d.to_str().unwrap(), &opts)
            .err()
            .expect("must fail")
            .to_string()
    };

    let d = copy("no_tok");
    std::fs::remove_file(d.join("tokenizer.json")).unwrap();
    assert!(err(&d).contains("tokenizer.json"), "{}", err(&d));

    let d = copy("no_cfg");
    std::fs::remove_file(d.join("config.json")).unwrap();
    assert!(err(&d).contains("config.json"));

    let d = copy("hidden");
    let cfg = std::fs::read_to_string(d.join("config.json"))
        .unwrap()
        .replace("\"hidden_size\":16", "\"hidden_size\":32");
    std::fs::write(d.join("config.json"), cfg).unwrap();
    let e = err(&d);
    assert!(
        e.contains("hidden_size 32")
            && e.contains("hidden size 16")
            && e.contains("model.safetensors"),
        "{e}"
    );

    let d = copy("roberta");
    let cfg = std::fs::read_to_string(d.join("config.json"))
        .unwrap()
        .replace("\"bert\"", "\"t5\"");
    std::fs::write(d.join("config.json"), cfg).unwrap();
    let e = err(&d);
    assert!(
        e.contains("unsupported architecture `t5`") && e.contains("config.json"),
        "{e}"
    );

    let d = copy("truncated");
    let bytes = std::fs::read(d.join("model.safetensors")).unwrap();
    std::fs::write(d.join("model.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    let e = SentenceEncoder::load(d.to_str().unwrap(), &opts)
        .err()
        .unwrap();
    assert!(
        matches!(e, Error::BadWeights { .. }) && e.to_string().contains("model.safetensors"),
        "{e}"
    );

    let d = copy("no_weights");
    std::fs::remove_file(d.join("model.safetensors")).unwrap();
    assert!(err(&d).contains("model.safetensors or pytorch_model.bin"));

    let e = SentenceEncoder::load("no-such-org/no-such-model", &opts)
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("not found") && e.contains("scripts/get-model.sh"),
        "{e}"
    );

    let bad = EncoderOptions {
        batch_size: 0,
        ..Default::default()
    };
    assert!(matches!(
        SentenceEncoder::load(base.to_str().unwrap(), &bad),
        Err(Error::InvalidOption(_))
    ));
}

#[cfg(not(feature = "cuda"))]
#[test]
fn asking_for_a_gpu_without_the_cuda_feature_is_a_named_error() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("m");
    write_model(&dir, "mean", true);
    let opts = EncoderOptions {
        device: Device::Cuda(0),
        ..Default::default()
    };
    let e = SentenceEncoder::load(dir.to_str().unwrap(), &opts)
        .err()
        .unwrap();
    assert!(matches!(e, Error::CudaNotCompiled));
    assert!(e.to_string().contains("built without CUDA"));
}
