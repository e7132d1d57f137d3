//! Times index build and search (all test queries, k = 1000) over a BEIR folder; prints JSON.
//! A quick engine-level check; the repository's benchmark scripts compare with the peers.
//! `cargo run --release -p trawl-bm25 --example beir_timing -- DIR [REPEATS]`

use std::time::Instant;

use trawl_bm25::{AnalyzerConfig, Bm25Builder, Bm25Params};
use trawl_data::beir::BeirDataset;

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: beir_timing DIR [REPEATS]")?;
    let repeats: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let beir = BeirDataset::open(&dir)?;
    let texts: Vec<String> = beir
        .read_corpus()?
        .map(|d| d.map(|d| format!("{}\n{}", d.title, d.text)))
        .collect::<Result<_, _>>()?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let qrels = beir.read_qrels("test")?;
    let queries: Vec<String> = beir
        .read_queries()?
        .into_iter()
        .filter(|q| qrels.get(&q.id).is_some())
        .map(|q| q.text)
        .collect();
    let qrefs: Vec<&str> = queries.iter().map(String::as_str).collect();

    let mut build_s = Vec::new();
    let mut index = None;
    for _ in 0..repeats {
        let t = Instant::now();
        let mut b = Bm25Builder::new(AnalyzerConfig::default(), Bm25Params::default())?;
        b.add_documents(&refs);
        index = Some(b.build()?);
        build_s.push(t.elapsed().as_secs_f64());
    }
    let index = index.ok_or("REPEATS must be > 0")?;
    let mut batch_s = Vec::new();
    let mut single_s = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        std::hint::black_box(index.search_batch(&qrefs, 1000));
        batch_s.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        for q in &qrefs {
            std::hint::black_box(index.search(q, 1000));
        }
        single_s.push(t.elapsed().as_secs_f64());
    }
    let (b, bs, ss) = (median(build_s), median(batch_s), median(single_s));
    println!(
        "{{\"docs\": {}, \"queries\": {}, \"build_s\": {b:.4}, \"search_batch_s\": {bs:.5}, \"qps_batch\": {:.0}, \"qps_single_thread\": {:.0}}}",
        index.num_docs(),
        qrefs.len(),
        qrefs.len() as f64 / bs,
        qrefs.len() as f64 / ss
    );
    Ok(())
}
