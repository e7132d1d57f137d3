//! Acceptance: on BEIR scifact and nfcorpus, for every query (all of queries.jsonl), the pruned
//! top-10 and top-1000 equal the exhaustive ones: same ids, bit-identical scores, same order.
//! Skipped when the shared data is absent (TRAWL_SHARED_DATA).

use trawl_bm25::{AnalyzerConfig, Bm25Builder, Bm25Params, Hit, Strategy};
use trawl_data::beir::BeirDataset;

fn bits(hits: &[Hit]) -> Vec<(u32, u32)> {
    hits.iter().map(|h| (h.doc, h.score.to_bits())).collect()
}

fn check(dataset: &str) {
    let Some(dir) = trawl_data::shared_data::locate(&format!("beir/{dataset}")) else {
        eprintln!("beir/{dataset} not found; skipped");
        return;
    };
    let beir = BeirDataset::open(&dir).unwrap();
    let texts: Vec<String> = beir
        .read_corpus()
        .unwrap()
        .map(|d| {
            let d = d.unwrap();
            format!("{}\n{}", d.title, d.text)
        })
        .collect();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut builder = Bm25Builder::new(AnalyzerConfig::default(), Bm25Params::default()).unwrap();
    builder.add_documents(&refs);
    let index = builder.build().unwrap();
    let queries = beir.read_queries().unwrap();
    assert!(queries.len() > 1000, "{dataset}: {} queries", queries.len());
    let mut differing = Vec::new();
    for strategy in [
        Strategy::DocAtATime,
        Strategy::Windowed,
        Strategy::BlockMaxWand,
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
        8 * queries.len(),
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
