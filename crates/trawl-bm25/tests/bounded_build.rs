//! The bounded-memory build ([`Bm25Writer`]): with a budget small enough to force many runs,
//! the merged index is the in-memory builder's, byte for byte in every file, whatever the
//! number of threads; so every query returns the same ids and scores. Checked on BEIR scifact
//! and nfcorpus (skipped when the shared data is absent) and on a seeded Zipfian corpus.

use std::path::Path;

mod common;

use common::Zipf;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use trawl_bm25::{
    AnalyzerConfig, Bm25Builder, Bm25Index, Bm25Params, Bm25Writer, Error, Hit, MIN_MEMORY_BUDGET,
};

/// Every file of the index in `dir`, by name.
fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    out.sort();
    out
}

/// Saves the in-memory build of `texts` into `dir`.
fn one_pass(texts: &[&str], dir: &Path) -> Bm25Index {
    let mut b = Bm25Builder::new(AnalyzerConfig::default(), Bm25Params::default()).unwrap();
    b.add_documents(texts);
    let index = b.build().unwrap();
    std::fs::create_dir(dir).unwrap();
    index.save_files(dir).unwrap();
    index
}

/// Writes `texts` with `budget` on `threads` threads, in batches of `batch` documents; returns
/// the number of runs it flushed.
fn bounded(texts: &[&str], dir: &Path, budget: u64, threads: usize, batch: usize) -> usize {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let spill = dir.with_extension("runs");
    pool.install(|| {
        let mut w = Bm25Writer::new(
            AnalyzerConfig::default(),
            Bm25Params::default(),
            budget,
            &spill,
        )
        .unwrap();
        for b in texts.chunks(batch) {
            w.add_documents(b).unwrap();
        }
        std::fs::create_dir(dir).unwrap();
        let written = w.finish(dir).unwrap();
        assert_eq!(written.num_docs, texts.len() as u64);
        assert!(!spill.exists(), "the runs are removed after the merge");
        written.runs
    })
}

fn bits(hits: &[Hit]) -> Vec<(u32, u32)> {
    hits.iter().map(|h| (h.doc, h.score.to_bits())).collect()
}

/// Builds `texts` once in memory and several ways within budgets, and checks the files are equal;
/// then that every query in `queries` returns the same hits from the reopened merged index.
fn check_equal(name: &str, texts: &[&str], queries: &[String], min_runs: usize) {
    let tmp = tempfile::tempdir().unwrap();
    let reference = one_pass(texts, &tmp.path().join("one-pass"));
    let want = files(&tmp.path().join("one-pass"));
    for (budget, threads, batch) in [
        (MIN_MEMORY_BUDGET, 2, 4096),
        (MIN_MEMORY_BUDGET, 1, 1000),
        (3 * MIN_MEMORY_BUDGET, 3, 16_384),
        (u64::MAX, 2, 16_384),
    ] {
        let dir = tmp.path().join(format!("b{budget}-t{threads}-n{batch}"));
        let runs = bounded(texts, &dir, budget, threads, batch);
        if budget == MIN_MEMORY_BUDGET {
            assert!(
                runs >= min_runs,
                "{name}: a 1 MiB budget flushed only {runs} runs"
            );
        }
        if budget == u64::MAX {
            assert_eq!(runs, 0, "{name}: everything fits, nothing spilled");
        }
        let got = files(&dir);
        assert_eq!(
            got.iter().map(|f| &f.0).collect::<Vec<_>>(),
            want.iter().map(|f| &f.0).collect::<Vec<_>>()
        );
        for ((file, a), (_, b)) in got.iter().zip(&want) {
            assert!(
                a == b,
                "{name}: {file} differs from the one-pass build (budget {budget}, {threads} threads, {runs} runs)"
            );
        }
    }
    let merged =
        Bm25Index::open(&tmp.path().join(format!("b{MIN_MEMORY_BUDGET}-t2-n4096"))).unwrap();
    for q in queries {
        for k in [10, 1000] {
            assert_eq!(
                bits(&merged.search(q, k)),
                bits(&reference.search(q, k)),
                "{name}: query {q:?} k={k}"
            );
        }
    }
}

fn beir(dataset: &str) {
    let Some((texts, queries)) = common::beir(dataset) else {
        return;
    };
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let queries: Vec<String> = queries.into_iter().map(|q| q.text).collect();
    check_equal(dataset, &refs, &queries, 4);
}

#[test]
fn scifact_merged_from_many_runs_equals_the_one_pass_build_byte_for_byte() {
    beir("scifact");
}

#[test]
fn nfcorpus_merged_from_many_runs_equals_the_one_pass_build_byte_for_byte() {
    beir("nfcorpus");
}

#[test]
fn zipfian_corpus_merged_from_many_runs_equals_the_one_pass_build_byte_for_byte() {
    let zipf = Zipf::new(30_000, 1.1);
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut sample = |lo: f64| zipf.sample(&mut rng, lo);
    let mut texts: Vec<String> = (0..30_000)
        .map(|_| {
            (0..28 + (sample(0.0).len() * 7) % 56)
                .map(|_| sample(0.0))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    texts[17] = String::new(); // documents without terms count in N, not in the average
    texts[20_000] = "the of and".into();
    let queries: Vec<String> = (0..300)
        .map(|i| {
            (0..2 + i % 9)
                .map(|_| sample(zipf.top_share(20)))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    check_equal("zipfian", &refs, &queries, 8);
}

#[test]
fn a_budget_below_one_mebibyte_is_refused_naming_the_minimum() {
    let tmp = tempfile::tempdir().unwrap();
    let err = Bm25Writer::new(
        AnalyzerConfig::default(),
        Bm25Params::default(),
        1000,
        tmp.path(),
    )
    .err()
    .expect("refused");
    assert!(matches!(err, Error::InvalidParams(_)), "{err}");
    assert!(err.to_string().contains("1 MiB"), "{err}");
}

#[test]
fn an_empty_build_writes_an_empty_index() {
    let tmp = tempfile::tempdir().unwrap();
    let reference = tmp.path().join("a");
    one_pass(&[], &reference);
    let runs = bounded(&[], &tmp.path().join("b"), MIN_MEMORY_BUDGET, 2, 10);
    assert_eq!(runs, 0);
    assert_eq!(files(&reference), files(&tmp.path().join("b")));
}
