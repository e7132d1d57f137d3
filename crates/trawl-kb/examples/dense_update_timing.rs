//! What live updates cost a KB with dense vectors, in one process: `add` (1% new documents,
//! 0.1% replaced) beside the build, and dense search (exact and HNSW, 200 queries, k=10) on the
//! updated KB (one segment, 1% deleted) beside the same KB compacted. Random unit vectors
//! stand in for a model (the encoder looks them up); the exact answers before and after
//! compaction are checked to be the same documents.
//! `cargo run --release -p trawl-kb --example dense_update_timing -- [DOCS] [DIM]`

use std::time::Instant;

use trawl_data::Document;
use trawl_kb::{
    AnnParams, DenseEmbeddings, KbBuildOptions, KnowledgeBase, SearchParams, UpdateOptions,
};

/// A unit vector per seed (SplitMix64 values).
fn vector(seed: u64, dim: usize) -> Vec<f32> {
    let mut z = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut next = || {
        z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut x = z;
        x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((x ^ (x >> 31)) >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let v: Vec<f32> = (0..dim).map(|_| next()).collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.iter().map(|x| x / norm).collect()
}

/// The stand-in model: the vector of a text is the vector of its seed (`t<seed>`).
fn encode(texts: &[&str], dim: usize) -> Vec<f32> {
    texts
        .iter()
        .flat_map(|t| vector(t[1..].parse().unwrap_or(0), dim))
        .collect()
}

fn doc(id: usize, seed: usize) -> Document {
    Document {
        id: format!("d{id}"),
        text: format!("t{seed}"),
        ..Default::default()
    }
}

/// Median seconds of 5 runs of `f`.
fn median(mut f: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..5)
        .map(|_| {
            let s = Instant::now();
            f();
            s.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(50_000);
    let dim: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(384);
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("kb");
    let docs: Vec<Document> = (0..n).map(|i| doc(i, i)).collect();
    let texts: Vec<String> = docs.iter().map(|d| d.text.clone()).collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let options = KbBuildOptions {
        bm25: None,
        dense: Some(DenseEmbeddings::new(encode(&refs, dim), dim, "stand-in")),
        ..KbBuildOptions::default()
    };
    let hnsw = AnnParams::Hnsw {
        m: 16,
        ef_construction: 100,
        ef_search: 64,
        seed: 1,
        storage: Default::default(),
    };
    let t = Instant::now();
    let mut staged = KnowledgeBase::build_staged(docs.into_iter().map(Ok), &dir, &options, |_| {})?;
    staged.add_ann("hnsw", hnsw)?;
    staged.commit()?;
    let build_s = t.elapsed().as_secs_f64();

    let added = n / 100;
    let replaced = n / 1000;
    let batch: Vec<Document> = (0..added)
        .map(|i| doc(n + i, n + i))
        .chain((0..replaced).map(|i| doc(i * 97 % n, 10 * n + i)))
        .collect();
    let mut encoder = |texts: &[&str]| -> Result<Vec<f32>, String> { Ok(encode(texts, dim)) };
    let t = Instant::now();
    KnowledgeBase::add_documents_encoded(
        &dir,
        batch.into_iter().map(Ok),
        &UpdateOptions::default(),
        Some(&mut encoder),
        |_| {},
    )?;
    let add_s = t.elapsed().as_secs_f64();
    let gone: Vec<String> = (0..n / 100).map(|i| format!("d{}", i * 89 % n)).collect();
    KnowledgeBase::delete_documents(&dir, &gone)?;

    let nq = 200;
    let queries: Vec<f32> = (0..nq)
        .flat_map(|i| vector((1u64 << 40) | i as u64, dim))
        .collect();
    let p = SearchParams::default();
    let time = |kb: &KnowledgeBase| -> Result<(f64, f64, Vec<Vec<String>>), trawl_kb::Error> {
        let exact = kb.search_vectors(None, &queries, nq, 10, &p)?;
        let ids = exact
            .iter()
            .map(|h| h.iter().map(|h| h.id.clone()).collect())
            .collect();
        let e = median(|| {
            kb.search_vectors(None, &queries, nq, 10, &p).unwrap();
        });
        let h = median(|| {
            kb.search_vectors(Some("hnsw"), &queries, nq, 10, &p)
                .unwrap();
        });
        Ok((e, h, ids))
    };
    let kb = KnowledgeBase::open(&dir)?;
    let live = kb.num_live();
    let (e1, h1, ids1) = time(&kb)?;
    drop(kb);
    let t = Instant::now();
    let (kb, _) = KnowledgeBase::compact(&dir, 16_384, |_| {})?;
    let compact_s = t.elapsed().as_secs_f64();
    let (e2, h2, ids2) = time(&kb)?;
    assert_eq!(ids1, ids2, "exact answers before and after compaction");
    println!(
        "{n} docs x {dim}, +{added} new, {replaced} replaced, {} deleted: {live} live",
        gone.len()
    );
    println!("build (vectors given + hnsw) {build_s:.2} s, add {add_s:.2} s ({:.1}% of the build), compact {compact_s:.2} s", 100.0 * add_s / build_s);
    println!("{nq} queries k=10, median of 5: exact {:.1} ms updated / {:.1} ms compacted = {:.2}x; hnsw {:.1} / {:.1} ms = {:.2}x", e1 * 1e3, e2 * 1e3, e1 / e2, h1 * 1e3, h2 * 1e3, h1 / h2);
    Ok(())
}
