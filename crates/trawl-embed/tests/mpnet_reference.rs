//! all-mpnet-base-v2 (MPNet: relative position buckets, positions past the padding index)
//! embeddings equal sentence-transformers' (cosine >= 0.9999) on the fixed sample in
//! tests/data/mpnet_reference.json (scripts/make_reference_embeddings.py).
//!
//! Opt-in: needs `scripts/get-model.sh mpnet` (a 400 MB download) or TRAWL_TEST_MPNET; skips
//! without it, fails under TRAWL_REQUIRE_MPNET=1.

mod common;

use trawl_embed::Backend;

fn check(backend: Backend) {
    let Some(dir) = common::mpnet_dir() else {
        return;
    };
    common::check_reference(&dir, "mpnet_reference.json", backend, (768, 384, true));
}

#[test]
fn mpnet_fused_cpu_embeddings_equal_sentence_transformers() {
    check(Backend::Fused);
}

#[test]
fn mpnet_candle_embeddings_equal_sentence_transformers() {
    check(Backend::Candle);
}
