//! Dense BEIR evaluation with trawl's own pieces: SentenceEncoder + FlatIndex + trawl-eval.
//! Usage: beir_dense MODEL BEIR_DIR [--split test] [--corpus-npy X.npy] [--k 100]
//! With --corpus-npy (written by `trawl encode MODEL BEIR_DIR --out X.npy`, ids in X.ids.txt)
//! the corpus is not re-encoded. Prints nDCG@10 and Recall@100 as JSON.

use std::time::Instant;

use trawl_data::beir::BeirDataset;
use trawl_data::run::Run;
use trawl_embed::{EncoderOptions, SentenceEncoder};
use trawl_eval::{evaluate, EvalOptions, Metric};
use trawl_vector::{npy, FlatIndex, Metric as VecMetric, Precision};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        return Err(
            "usage: beir_dense MODEL BEIR_DIR [--split test] [--corpus-npy X.npy] [--k 100]".into(),
        );
    }
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let split = opt("--split").unwrap_or_else(|| "test".into());
    let k: usize = opt("--k").map(|s| s.parse()).transpose()?.unwrap_or(100);
    let data = BeirDataset::open(&args[2])?;
    let encoder = SentenceEncoder::load(&args[1], &EncoderOptions::default())?;
    let started = Instant::now();

    let (doc_ids, vectors, dim) = if let Some(path) = opt("--corpus-npy") {
        let (v, _n, dim) = npy::read_npy_f32(&path)?;
        let ids_path = std::path::Path::new(&path).with_extension("ids.txt");
        let ids: Vec<String> = std::fs::read_to_string(ids_path)?
            .lines()
            .map(str::to_string)
            .collect();
        (ids, v, dim)
    } else {
        let mut ids = Vec::new();
        let mut texts = Vec::new();
        for d in data.read_corpus()? {
            let d = d?;
            texts.push(format!("{} {}", d.title, d.text).trim().to_string());
            ids.push(d.id);
        }
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let e = encoder.encode_documents(&refs)?;
        (ids, e.data, e.dim)
    };
    let encode_corpus_s = started.elapsed().as_secs_f64();
    let qrels = data.read_qrels(&split)?;
    let queries: Vec<_> = data
        .read_queries()?
        .into_iter()
        .filter(|q| qrels.get(&q.id).is_some())
        .collect();
    let qtexts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let t = Instant::now();
    let qv = encoder.encode_queries(&qtexts)?;
    let encode_queries_s = t.elapsed().as_secs_f64();

    let mut index = FlatIndex::new(dim, VecMetric::InnerProduct, Precision::F32)?;
    index.add(&vectors)?;
    let t = Instant::now();
    let hits = index.search_batch(&qv.data, qv.n, k)?;
    let search_s = t.elapsed().as_secs_f64();
    let mut run = Run::new();
    for (q, row) in queries.iter().zip(&hits) {
        for h in row {
            run.push(
                q.id.clone(),
                doc_ids[h.doc as usize].clone(),
                h.score as f64,
            );
        }
    }
    let metrics: Vec<Metric> = vec!["ndcg@10".parse()?, "recall@100".parse()?];
    let ev = evaluate(&qrels, &run, &metrics, &EvalOptions::default())?;
    println!(
        "{}",
        serde_json::json!({
            "model": encoder.model_name(), "dataset": args[2], "split": split, "queries": queries.len(),
            "docs": index.len(), "ndcg@10": ev.mean[0], "recall@100": ev.mean[1],
            "encode_corpus_s": encode_corpus_s, "encode_queries_s": encode_queries_s, "search_s": search_s,
        })
    );
    Ok(())
}
