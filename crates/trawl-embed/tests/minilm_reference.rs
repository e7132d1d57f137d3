//! all-MiniLM-L6-v2 embeddings equal sentence-transformers' (cosine >= 0.9999) on the fixed sample
//! in tests/data/minilm_reference.json (written by scripts/make_reference_embeddings.py).
//!
//! Needs the model: scripts/get-model.sh installs ./models/all-MiniLM-L6-v2, or set
//! TRAWL_TEST_MODEL to a folder. Skips (printing why) without it, fails under TRAWL_REQUIRE_MODEL=1.

mod common;

use trawl_embed::Backend;

fn check(backend: Backend) {
    let Some(dir) = common::model_dir() else {
        return;
    };
    common::check_reference(&dir, "minilm_reference.json", backend, (384, 256, true));
}

#[test]
fn fused_cpu_embeddings_equal_sentence_transformers() {
    check(Backend::Fused);
}

#[test]
fn candle_embeddings_equal_sentence_transformers() {
    check(Backend::Candle);
}

/// `--quantize int8` (per-channel int8 weights, per-token int8 activations in every Linear
/// layer) keeps the real model's embeddings at mean cosine >= 0.99 to its f32 embeddings on the
/// reference texts (passages, queries, edge cases), and each above 0.97.
#[test]
fn int8_embeddings_keep_mean_cosine_0_99_to_f32() {
    use trawl_embed::{EncoderOptions, Quantize, SentenceEncoder};
    let Some(dir) = common::model_dir() else {
        return;
    };
    let load = |quantize| {
        let opts = EncoderOptions {
            quantize,
            batch_size: 8,
            ..Default::default()
        };
        SentenceEncoder::load(dir.to_str().unwrap(), &opts).unwrap()
    };
    let (f32_enc, int8_enc) = (load(Quantize::None), load(Quantize::Int8));
    assert_eq!(
        (f32_enc.quantize(), int8_enc.quantize()),
        (Quantize::None, Quantize::Int8)
    );
    let items = common::reference("minilm_reference.json");
    let texts: Vec<&str> = items.iter().map(|i| i.text.as_str()).collect();
    let (a, b) = (
        f32_enc.encode_documents(&texts).unwrap(),
        int8_enc.encode_documents(&texts).unwrap(),
    );
    let cos: Vec<f32> = a
        .rows()
        .zip(b.rows())
        .map(|(x, y)| common::cosine(x, y))
        .collect();
    let mean = cos.iter().sum::<f32>() / cos.len() as f32;
    let min = cos.iter().cloned().fold(1.0f32, f32::min);
    eprintln!(
        "int8 vs f32 over {} reference texts: mean cosine {mean:.5}, min {min:.5}",
        cos.len()
    );
    assert!(mean >= 0.99, "mean cosine {mean} < 0.99");
    assert!(min >= 0.97, "min cosine {min} < 0.97");
    // Quantised for real: the vectors are not the f32 ones.
    assert!(
        mean < 0.99999,
        "int8 vectors equal f32's (mean cosine {mean})"
    );
}

/// int8 needs the fused CPU forward; asking candle for it is a clear error.
#[test]
fn int8_on_the_candle_backend_is_refused() {
    use trawl_embed::{EncoderOptions, Quantize, SentenceEncoder};
    let Some(dir) = common::model_dir() else {
        return;
    };
    let opts = EncoderOptions {
        quantize: Quantize::Int8,
        backend: Backend::Candle,
        ..Default::default()
    };
    let err = SentenceEncoder::load(dir.to_str().unwrap(), &opts)
        .err()
        .expect("int8 on candle must fail")
        .to_string();
    assert!(err.contains("fused CPU backend"), "{err}");
}
