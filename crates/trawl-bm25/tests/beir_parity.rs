//! Acceptance: BM25 (Lucene, k1 = 0.9, b = 0.4, English analysis, title + text) on BEIR scifact
//! and nfcorpus matches Pyserini's published BM25-flat figures.

use std::time::Instant;

use trawl_bm25::{AnalyzerConfig, Bm25Builder, Bm25Params};
use trawl_data::beir::BeirDataset;
use trawl_data::Run;
use trawl_eval::{evaluate, EvalOptions, Metric};

/// Builds the index, runs every test query (top 100) and returns (nDCG@10, Recall@100).
fn bm25_beir(dataset: &str) -> Option<(f64, f64)> {
    let dir = trawl_data::shared_data::locate(&format!("beir/{dataset}"))?;
    let beir = BeirDataset::open(&dir).unwrap();
    let t = Instant::now();
    let mut ids = Vec::new();
    let mut texts = Vec::new();
    for doc in beir.read_corpus().unwrap() {
        let doc = doc.unwrap();
        ids.push(doc.id);
        // Pyserini's BEIR flat index: contents = title + "\n" + text.
        texts.push(format!("{}\n{}", doc.title, doc.text));
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut builder = Bm25Builder::new(AnalyzerConfig::default(), Bm25Params::default()).unwrap();
    builder.add_documents(&refs);
    let index = builder.build().unwrap();
    let built = t.elapsed();

    let qrels = beir.read_qrels("test").unwrap();
    let queries: Vec<_> = beir
        .read_queries()
        .unwrap()
        .into_iter()
        .filter(|q| qrels.get(&q.id).is_some())
        .collect();
    let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let t = Instant::now();
    let results = index.search_batch(&texts, 100);
    let searched = t.elapsed();
    let mut run = Run::new();
    for (q, hits) in queries.iter().zip(results) {
        for h in hits {
            run.push(q.id.clone(), ids[h.doc as usize].clone(), h.score as f64);
        }
    }
    if let Some(out) = std::env::var_os("TRAWL_PARITY_RUN_DIR") {
        // For comparing with a Pyserini run by hand.
        let path = std::path::Path::new(&out).join(format!("{dataset}.trawl.run"));
        let file = std::fs::File::create(&path).unwrap();
        trawl_data::run::write_trec_run(&run, std::io::BufWriter::new(file), "trawl").unwrap();
    }
    let metrics: Vec<Metric> = vec!["ndcg@10".parse().unwrap(), "recall@100".parse().unwrap()];
    let eval = evaluate(&qrels, &run, &metrics, &EvalOptions::default()).unwrap();
    // Like `trec_eval -c` (Pyserini's BEIR figures): a test query with no hit counts as 0.
    let mean =
        |i: usize| eval.per_query.values().map(|v| v[i]).sum::<f64>() / qrels.num_queries() as f64;
    let (ndcg, recall) = (mean(0), mean(1));
    eprintln!(
        "{dataset}: {} docs, {} terms, {} queries; build {built:.2?}, search {searched:.2?}; nDCG@10 {:.4} Recall@100 {:.4}",
        index.num_docs(),
        index.num_terms(),
        queries.len(),
        ndcg,
        recall
    );
    Some((ndcg, recall))
}

fn check(dataset: &str, ndcg_ref: f64, recall_ref: f64) {
    let Some((ndcg, recall)) = bm25_beir(dataset) else {
        return;
    };
    assert!(
        (ndcg - ndcg_ref).abs() <= 0.005,
        "{dataset}: nDCG@10 {ndcg:.4} is not within 0.005 of Pyserini's {ndcg_ref}"
    );
    assert!(
        (recall - recall_ref).abs() <= 0.01,
        "{dataset}: Recall@100 {recall:.4} is not within 0.01 of Pyserini's {recall_ref}"
    );
}

#[test]
fn scifact_matches_pyserini_bm25_flat() {
    check("scifact", 0.6789, 0.9253);
}

#[test]
fn nfcorpus_matches_pyserini_bm25_flat() {
    check("nfcorpus", 0.3218, 0.2457);
}
