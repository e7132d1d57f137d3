//! Times exact top-k search of a query matrix against a corpus matrix (both `.npy`), for
//! bench/dense.py. Usage: flat_search CORPUS.npy QUERIES.npy K REPEATS [--f16] [--tile N] [--out HITS.tsv]
//! Prints one JSON line: median / min seconds per batch of all queries.

use std::time::Instant;

use trawl_vector::{npy, FlatIndex, Metric, Precision};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 5 {
        return Err("usage: flat_search CORPUS.npy QUERIES.npy K REPEATS [--f16] [--tile N] [--out HITS.tsv]".into());
    }
    let (corpus, n, dim) = npy::read_npy_f32(&args[1])?;
    let (queries, nq, qdim) = npy::read_npy_f32(&args[2])?;
    let k: usize = args[3].parse()?;
    let repeats: usize = args[4].parse()?;
    let opt = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let precision = if args.iter().any(|a| a == "--f16") {
        Precision::F16
    } else {
        Precision::F32
    };
    let tile: usize = opt("--tile").map(|t| t.parse()).transpose()?.unwrap_or(1);
    if qdim != dim {
        return Err(format!("queries are {qdim}-d, corpus {dim}-d").into());
    }
    let mut index = FlatIndex::new(dim, Metric::InnerProduct, precision)?;
    for _ in 0..tile {
        index.add(&corpus)?;
    }
    let mut times = Vec::new();
    let mut hits = Vec::new();
    for _ in 0..repeats {
        let t = Instant::now();
        hits = index.search_batch(&queries, nq, k)?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    if let Some(out) = opt("--out") {
        let mut s = String::new();
        for (qi, row) in hits.iter().enumerate() {
            for h in row {
                s.push_str(&format!("{qi}\t{}\t{}\n", h.doc, h.score));
            }
        }
        std::fs::write(out, s)?;
    }
    println!(
        "{{\"docs\": {}, \"queries\": {nq}, \"dim\": {dim}, \"k\": {k}, \"median_s\": {}, \"min_s\": {}, \"threads\": {}}}",
        index.len(),
        times[times.len() / 2],
        times[0],
        rayon::current_num_threads()
    );
    let _ = n;
    Ok(())
}
