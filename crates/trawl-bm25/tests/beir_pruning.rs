//! Acceptance: on BEIR scifact and nfcorpus, for every query (all of queries.jsonl), the pruned
//! top-10 and top-1000 equal the exhaustive ones: same ids, bit-identical scores, same order.
//! Skipped when the shared data is absent (TRAWL_SHARED_DATA).

mod common;

use trawl_bm25::{AnalyzerConfig, Bm25Builder, Bm25Params, Hit, Strategy};

fn bits(hits: &[Hit]) -> Vec<(u32, u32)> {
    hits.iter().map(|h| (h.doc, h.score.to_bits())).collect()
}

fn check(dataset: &str) {
    let Some((texts, queries)) = common::beir(dataset) else {
        return;
    };
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut builder = Bm25Builder::new(AnalyzerConfig::default(), Bm25Params::default()).unwrap();
    builder.add_documents(&refs);
    let index = builder.build().unwrap();
    assert!(queries.len() > 1000, "{dataset}: {} queries", queries.len());
    let mut differing = Vec::new();
    for strategy in [
        Strategy::DocAtATime,
        Strategy::Windowed,
        Strategy::BlockMaxWand,
        Strategy::TermAtATime,
        Strategy::Auto,
    ] {
        index.set_strategy(strategy);
        for q in &queries {
            for k in [10, 1000] {
                if bits(&index.search(&q.text, k)) != bits(&index.search_exhaustive(&q.text, k)) {
                    differing.push((strategy, q.id.clone(), k));
                }
            }
        }
    }
    assert!(
        differing.is_empty(),
        "{dataset}: pruned != exhaustive for {} of {} (strategy, query, k): {:?}",
        differing.len(),
        10 * queries.len(),
        &differing[..differing.len().min(10)]
    );
}

#[test]
fn scifact_pruned_equals_exhaustive_for_every_query() {
    check("scifact");
}

#[test]
fn nfcorpus_pruned_equals_exhaustive_for_every_query() {
    check("nfcorpus");
}
