//! Acceptance at a CI-friendly size: on a seeded corpus shaped like bench/bm25_scale.py's
//! (Zipf(1.1) words, ~56 per document) and 2,000 queries of 2-10 words drawn with the corpus's
//! frequencies (its 20 most frequent words left out, as stopwords), every pruned strategy
//! returns the exhaustive top-10 and top-1000: same ids, bit-identical scores, same order.
//! Many query terms here have lists of hundreds of blocks, so block skipping, essential-term
//! changes and the per-block bounds are all exercised.

mod common;

use common::Zipf;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use trawl_bm25::{AnalyzerConfig, Bm25Builder, Bm25Params, Hit, Strategy};

const DOCS: usize = 40_000;
const QUERIES: usize = 2_000;
const VOCAB: usize = 50_000;

fn bits(hits: &[Hit]) -> Vec<(u32, u32)> {
    hits.iter().map(|h| (h.doc, h.score.to_bits())).collect()
}

#[test]
fn pruned_equals_exhaustive_on_2000_zipfian_queries() {
    let zipf = Zipf::new(VOCAB, 1.1);
    let mut rng = ChaCha8Rng::seed_from_u64(13);
    let texts: Vec<String> = (0..DOCS)
        .map(|_| {
            let n = rng.random_range(28..84);
            (0..n)
                .map(|_| zipf.sample(&mut rng, 0.0))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let skip = zipf.top_share(20);
    let queries: Vec<String> = (0..QUERIES)
        .map(|_| {
            let n = rng.random_range(2..=10);
            (0..n)
                .map(|_| zipf.sample(&mut rng, skip))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut builder = Bm25Builder::new(AnalyzerConfig::default(), Bm25Params::default()).unwrap();
    builder.add_documents(&refs);
    let index = builder.build().unwrap();
    let mut differing = Vec::new();
    for k in [10, 1000] {
        let exhaustive: Vec<_> = queries
            .iter()
            .map(|q| bits(&index.search_exhaustive(q, k)))
            .collect();
        let full = exhaustive.iter().filter(|h| h.len() == k).count();
        assert!(full > QUERIES / 2, "only {full} queries fill k={k}");
        for strategy in [
            Strategy::DocAtATime,
            Strategy::Windowed,
            Strategy::BlockMaxWand,
            Strategy::TermAtATime,
            Strategy::Auto,
        ] {
            index.set_strategy(strategy);
            for (q, want) in queries.iter().zip(&exhaustive) {
                if &bits(&index.search(q, k)) != want {
                    differing.push((strategy, q.clone(), k));
                }
            }
        }
    }
    assert!(
        differing.is_empty(),
        "pruned != exhaustive for {} of {} (strategy, query, k): {:?}",
        differing.len(),
        10 * QUERIES,
        &differing[..differing.len().min(5)]
    );
}
