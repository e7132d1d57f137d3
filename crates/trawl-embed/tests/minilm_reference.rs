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
