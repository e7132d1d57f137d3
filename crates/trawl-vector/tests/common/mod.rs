#![allow(dead_code)] // each test file uses part of this

use std::path::PathBuf;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trawl_vector::{normalize_rows, FlatIndex, Hit, Metric, Precision};

/// `n` unit vectors drawn around `clusters` random centres (like real embeddings: clustered,
/// normalised), reproducible from `seed`.
pub fn clustered(n: usize, dim: usize, clusters: usize, seed: u64) -> Vec<f32> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let centres: Vec<f32> = (0..clusters * dim)
        .map(|_| rng.random_range(-1.0f32..1.0))
        .collect();
    let mut out = Vec::with_capacity(n * dim);
    for _ in 0..n {
        let c = rng.random_range(0..clusters);
        for d in 0..dim {
            out.push(centres[c * dim + d] + 0.35 * rng.random_range(-1.0f32..1.0));
        }
    }
    normalize_rows(&mut out, dim);
    out
}

/// Exact top-k from the flat index (the reference every approximate index is measured against).
pub fn exact(docs: &[f32], dim: usize, queries: &[f32], k: usize) -> Vec<Vec<Hit>> {
    let mut flat = FlatIndex::new(dim, Metric::InnerProduct, Precision::F32).unwrap();
    flat.add(docs).unwrap();
    flat.search_batch(queries, queries.len() / dim, k).unwrap()
}

/// Mean fraction of the exact top-k ids that the approximate lists contain.
pub fn recall(exact: &[Vec<Hit>], approx: &[Vec<Hit>]) -> f64 {
    trawl_vector::recall(exact, approx)
}

/// Real MiniLM embeddings of BEIR scifact, cached as .npy by `bench/ann_vectors.sh`
/// (`trawl encode`): (docs, queries, dim). None (test skipped) when absent, unless
/// TRAWL_REQUIRE_SHARED=1 makes that a failure.
pub fn scifact_vectors() -> Option<(Vec<f32>, Vec<f32>, usize)> {
    let dir = std::env::var_os("TRAWL_ANN_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../target/ann-vectors"
            ))
        });
    let docs = dir.join("scifact-docs.npy");
    let queries = dir.join("scifact-queries.npy");
    if !docs.exists() || !queries.exists() {
        if std::env::var("TRAWL_REQUIRE_SHARED").as_deref() == Ok("1") {
            panic!(
                "{} has no scifact-docs.npy / scifact-queries.npy: run bench/ann_vectors.sh",
                dir.display()
            );
        }
        eprintln!(
            "skipped: no scifact vectors in {} (bench/ann_vectors.sh makes them)",
            dir.display()
        );
        return None;
    }
    let (d, _, dim) = trawl_vector::npy::read_npy_f32(&docs).unwrap();
    let (q, _, qdim) = trawl_vector::npy::read_npy_f32(&queries).unwrap();
    assert_eq!(dim, qdim);
    Some((d, q, dim))
}
