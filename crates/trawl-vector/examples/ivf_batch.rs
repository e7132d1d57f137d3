//! IVF-Flat on a batch of queries: the list-major batch scan (what `search_batch_with` does for a
//! batch) against one query at a time on the same threads (the per-query scan), in alternating
//! rounds, checking that both return identical hits. For the reward-batch figure of
//! bench/ann_scale.sh (1,024 queries, nprobe 16, 1M vectors).
//!
//! cargo run --release -p trawl-vector --example ivf_batch -- DOCS.npy QUERIES.npy NLIST NPROBE [BATCH] [ROUNDS]

use std::time::Instant;

use rayon::prelude::*;
use trawl_vector::{npy, IvfIndex, IvfParams, Metric, SearchParams, VectorIndex};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 5 {
        eprintln!("usage: ivf_batch DOCS.npy QUERIES.npy NLIST NPROBE [BATCH] [ROUNDS]");
        std::process::exit(2);
    }
    let (docs, n, dim) = npy::read_npy_f32(&a[1]).expect("docs .npy");
    let (queries, nq, _) = npy::read_npy_f32(&a[2]).expect("queries .npy");
    let nlist: usize = a[3].parse().expect("nlist");
    let nprobe: usize = a[4].parse().expect("nprobe");
    let batch: usize = a.get(5).map_or(1024, |s| s.parse().expect("batch"));
    let rounds: usize = a.get(6).map_or(3, |s| s.parse().expect("rounds"));
    // The batch: the queries repeated up to `batch` rows (as bench/ann_scale.py's reward batch).
    let qs: Vec<f32> = (0..batch)
        .flat_map(|i| queries[(i % nq) * dim..(i % nq + 1) * dim].iter().copied())
        .collect();
    let t = Instant::now();
    let p = IvfParams {
        nlist,
        ..Default::default()
    };
    let index = IvfIndex::build(&docs, dim, Metric::InnerProduct, p).expect("build");
    eprintln!(
        "{n} x {dim}, nlist {nlist}: built in {:.1} s; {} threads",
        t.elapsed().as_secs_f64(),
        rayon::current_num_threads()
    );
    let params = SearchParams {
        nprobe: Some(nprobe),
        ..Default::default()
    };
    let (mut major, mut single) = (Vec::new(), Vec::new());
    for r in 0..rounds {
        let t = Instant::now();
        let a = index.search_batch_with(&qs, batch, 10, &params).unwrap();
        major.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let b: Vec<_> = qs
            .par_chunks(dim)
            .map(|q| {
                index
                    .search_batch_with(q, 1, 10, &params)
                    .unwrap()
                    .remove(0)
            })
            .collect();
        single.push(t.elapsed().as_secs_f64());
        assert_eq!(a, b, "round {r}: the list-major hits differ");
        eprintln!(
            "round {r}: list-major {:.3} s, one query at a time {:.3} s",
            major[r], single[r]
        );
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (m, s) = (median(&mut major), median(&mut single));
    println!(
        "IVF-Flat nprobe {nprobe}, {batch} queries, k 10: list-major {m:.3} s ({:.0} q/s), \
         one at a time {s:.3} s ({:.0} q/s): {:.2}x, hits identical",
        batch as f64 / m,
        batch as f64 / s,
        s / m
    );
}
