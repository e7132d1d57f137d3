//! The end-to-end bar: all-MiniLM-L6-v2 + exact search on BEIR scifact (test split)
//! gives nDCG@10 within 0.003 of 0.6451 and Recall@100 within 0.005 of 0.925
//! (sentence-transformers + FAISS flat on the same data); with `--quantize int8`, nDCG@10 stays
//! within 0.005 of f32's 0.6451.
//!
//! Encodes the whole corpus (5,183 passages: a few minutes on 2 cores). Needs the model
//! (scripts/get-model.sh; TRAWL_REQUIRE_MODEL=1 makes its absence a failure) and
//! ../shared/data/beir/scifact (TRAWL_REQUIRE_SHARED=1 likewise).

mod common;

use trawl_data::beir::BeirDataset;
use trawl_data::run::Run;
use trawl_embed::{EncoderOptions, Quantize, SentenceEncoder};
use trawl_eval::{evaluate, EvalOptions, Metric};
use trawl_vector::{FlatIndex, Metric as VecMetric, Precision};

/// nDCG@10 and Recall@100 of the model with `quantize` on scifact's test queries; None: skip.
fn scifact(quantize: Quantize) -> Option<(f64, f64)> {
    let model = common::model_dir()?;
    let dir = trawl_data::shared_data::locate("beir/scifact")?;
    let data = BeirDataset::open(&dir).unwrap();
    let opts = EncoderOptions {
        quantize,
        ..Default::default()
    };
    let encoder = SentenceEncoder::load(model.to_str().unwrap(), &opts).unwrap();
    let mut ids = Vec::new();
    let mut texts = Vec::new();
    for d in data.read_corpus().unwrap() {
        let d = d.unwrap();
        texts.push(format!("{} {}", d.title, d.text).trim().to_string());
        ids.push(d.id);
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let docs = encoder.encode_documents(&refs).unwrap();
    let qrels = data.read_qrels("test").unwrap();
    let queries: Vec<_> = data
        .read_queries()
        .unwrap()
        .into_iter()
        .filter(|q| qrels.get(&q.id).is_some())
        .collect();
    let qtexts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let qv = encoder.encode_queries(&qtexts).unwrap();

    let mut index = FlatIndex::new(docs.dim, VecMetric::InnerProduct, Precision::F32).unwrap();
    index.add(&docs.data).unwrap();
    let hits = index.search_batch(&qv.data, qv.n, 100).unwrap();
    let mut run = Run::new();
    for (q, row) in queries.iter().zip(&hits) {
        for h in row {
            run.push(q.id.clone(), ids[h.doc as usize].clone(), h.score as f64);
        }
    }
    let metrics: Vec<Metric> = vec!["ndcg@10".parse().unwrap(), "recall@100".parse().unwrap()];
    let ev = evaluate(&qrels, &run, &metrics, &EvalOptions::default()).unwrap();
    let (ndcg, recall) = (ev.mean[0], ev.mean[1]);
    eprintln!(
        "scifact dense ({quantize}): nDCG@10 {ndcg:.4}, Recall@100 {recall:.4} over {} queries",
        queries.len()
    );
    assert_eq!(queries.len(), 300);
    Some((ndcg, recall))
}

#[test]
fn scifact_ndcg_at_10_matches_sentence_transformers_plus_faiss() {
    let Some((ndcg, recall)) = scifact(Quantize::None) else {
        return;
    };
    assert!(
        (ndcg - 0.6451).abs() <= 0.003,
        "nDCG@10 {ndcg} not within 0.003 of 0.6451"
    );
    assert!(
        (recall - 0.925).abs() <= 0.005,
        "Recall@100 {recall} not within 0.005 of 0.925"
    );
}

/// The int8 bar: scifact nDCG@10 within 0.005 of f32's (0.6451, the test above).
#[test]
fn int8_scifact_ndcg_at_10_within_0_005_of_f32() {
    let Some((ndcg, _)) = scifact(Quantize::Int8) else {
        return;
    };
    assert!(
        (ndcg - 0.6451).abs() <= 0.005,
        "int8 nDCG@10 {ndcg} not within 0.005 of f32's 0.6451"
    );
}
