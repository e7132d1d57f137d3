//! Builds a BM25 index over a BEIR folder (title + "\n" + text) and prints the top hits of each
//! stdin line with full-precision scores: for comparing with Pyserini by hand.
//! `cargo run --release -p trawl-bm25 --example beir_search -- DIR [K]`

use std::io::BufRead;

use trawl_bm25::{AnalyzerConfig, Bm25Builder, Bm25Params};
use trawl_data::beir::BeirDataset;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args.next().ok_or("usage: beir_search DIR [K]")?;
    let k: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(5);
    let beir = BeirDataset::open(&dir)?;
    let (mut ids, mut texts) = (Vec::new(), Vec::new());
    for doc in beir.read_corpus()? {
        let doc = doc?;
        ids.push(doc.id);
        texts.push(format!("{}\n{}", doc.title, doc.text));
    }
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let mut builder = Bm25Builder::new(AnalyzerConfig::default(), Bm25Params::default())?;
    builder.add_documents(&refs);
    let index = builder.build()?;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        for h in index.search(&line, k) {
            println!("{}\t{}\t{:.9}", line, ids[h.doc as usize], h.score);
        }
    }
    Ok(())
}
