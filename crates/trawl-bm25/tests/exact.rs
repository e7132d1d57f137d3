//! Exactness: search equals a naive scorer written independently from the formulas, over every
//! document, for random corpora and queries; top-k is a prefix of the full ranking.

use std::collections::HashMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trawl_bm25::{Analyzer, AnalyzerConfig, Bm25Builder, Bm25Params};

const WORDS: [&str; 24] = [
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa",
    "lambda", "mu", "nu", "xi", "omicron", "pi", "rho", "sigma", "tau", "upsilon", "the", "of",
    "running", "runs",
];

fn text(rng: &mut ChaCha8Rng, max: usize) -> String {
    let n = rng.random_range(0..max);
    (0..n)
        .map(|_| {
            WORDS[rng
                .random_range(0..WORDS.len())
                .min(rng.random_range(0..WORDS.len()))]
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Lucene 9 BM25 over all documents, f64, straight from the definition.
fn naive(docs: &[Vec<String>], query: &[String]) -> Vec<(u32, f64)> {
    let (k1, b) = (0.9f64, 0.4f64);
    let n = docs.iter().filter(|d| !d.is_empty()).count() as f64;
    let avgdl = docs.iter().map(Vec::len).sum::<usize>() as f64 / n;
    let mut counts: HashMap<&str, f64> = HashMap::new();
    for t in query {
        *counts.entry(t).or_default() += 1.0;
    }
    let mut out = Vec::new();
    for (d, terms) in docs.iter().enumerate() {
        let dl = trawl_bm25::params::lucene_doc_length(terms.len() as u32) as f64;
        let mut score = 0.0;
        let mut matched = false;
        for (t, c) in &counts {
            let tf = terms.iter().filter(|x| x == t).count() as f64;
            if tf == 0.0 {
                continue;
            }
            matched = true;
            let df = docs.iter().filter(|d| d.iter().any(|x| x == t)).count() as f64;
            let idf = (1.0 + (n - df + 0.5) / (df + 0.5)).ln();
            score += c * idf * tf / (tf + k1 * (1.0 - b + b * dl / avgdl));
        }
        if matched {
            out.push((d as u32, score));
        }
    }
    out
}

#[test]
fn search_equals_the_naive_scorer_on_random_corpora() {
    let mut rng = ChaCha8Rng::seed_from_u64(11);
    let analyzer = Analyzer::new(&AnalyzerConfig::default()).unwrap();
    for round in 0..20 {
        let texts: Vec<String> = (0..rng.random_range(1..120))
            .map(|_| text(&mut rng, 40))
            .collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let mut b = Bm25Builder::new(AnalyzerConfig::default(), Bm25Params::default()).unwrap();
        b.add_documents(&refs);
        let index = b.build().unwrap();
        let analysed: Vec<Vec<String>> = texts.iter().map(|t| analyzer.analyze(t)).collect();
        for _ in 0..10 {
            let q = text(&mut rng, 6);
            let full = index.search(&q, usize::MAX);
            let want = naive(&analysed, &analyzer.analyze(&q));
            assert_eq!(full.len(), want.len(), "round {round} query {q:?}");
            let by_doc: HashMap<u32, f64> = want.into_iter().collect();
            for h in &full {
                let w = by_doc[&h.doc];
                assert!(
                    (h.score as f64 - w).abs() <= 1e-4 * w.abs().max(1.0),
                    "{q:?} doc {}: {} vs {w}",
                    h.doc,
                    h.score
                );
            }
            // Ordered by score, ties by ordinal; every k is a prefix of the full ranking.
            assert!(full
                .windows(2)
                .all(|p| p[0].score > p[1].score
                    || (p[0].score == p[1].score && p[0].doc < p[1].doc)));
            for k in [1, 2, 5, 17] {
                let top = index.search(&q, k);
                assert_eq!(top.as_slice(), &full[..k.min(full.len())], "k {k} {q:?}");
            }
        }
    }
}
