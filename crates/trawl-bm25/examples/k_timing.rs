//! Single-thread search speed over a BEIR folder's test queries at several k (median of repeats).
//! `cargo run --release -p trawl-bm25 --example k_timing -- DIR [REPEATS]`
use std::time::Instant;
use trawl_bm25::{AnalyzerConfig, Bm25Builder, Bm25Params};
use trawl_data::beir::BeirDataset;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: k_timing DIR [REPEATS]")?;
    let repeats: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(7);
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
    let mut b = Bm25Builder::new(AnalyzerConfig::default(), Bm25Params::default())?;
    b.add_documents(&refs);
    let index = b.build()?;
    for k in [10usize, 100, 1000] {
        let mut t_s = Vec::new();
        for _ in 0..repeats {
            let t = Instant::now();
            for q in &queries {
                std::hint::black_box(index.search(q, k));
            }
            t_s.push(t.elapsed().as_secs_f64());
        }
        t_s.sort_by(|a, b| a.total_cmp(b));
        let m = t_s[t_s.len() / 2];
        println!(
            "{dir} k={k}: {:.0} q/s (1 thread, median of {repeats})",
            queries.len() as f64 / m
        );
    }
    Ok(())
}
