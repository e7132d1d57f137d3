//! trawl's side of bench/sq.sh: sq8 flat, and HNSW over f32, f16 and sq8 vectors, over
//! `DOCS.npy`, searched with `QUERIES.npy`; one JSON object per line (recall@10 against exact
//! flat search, queries/second of the whole batch, best of 5, build time, bytes a search holds).
//!
//! cargo run --release -p trawl-vector --example sq_bench -- DOCS.npy QUERIES.npy THREADS [hnsw_m]

use std::time::Instant;

use trawl_vector::{
    npy, FlatIndex, HnswIndex, HnswParams, Metric, Precision, Refined, SearchParams, VectorIndex,
};

use trawl_vector::recall;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (docs, _, dim) = npy::read_npy_f32(&a[1]).expect("docs .npy");
    let (queries, nq, _) = npy::read_npy_f32(&a[2]).expect("queries .npy");
    let threads: usize = a[3].parse().expect("threads");
    let hnsw_m: usize = a.get(4).map_or(16, |s| s.parse().unwrap());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let flat = FlatIndex::build(&docs, dim, Metric::InnerProduct, Precision::F32).unwrap();
        let truth = flat.search_batch(&queries, nq, 10).unwrap();
        let run = |name: &str, ix: &dyn VectorIndex, build_s: f64, mem: usize, knob: &str, p: SearchParams| {
            let mut best = f64::INFINITY;
            let mut got = Vec::new();
            for _ in 0..5 {
                let t = Instant::now();
                got = ix.search_batch_with(&queries, nq, 10, &p).unwrap();
                best = best.min(t.elapsed().as_secs_f64());
            }
            println!(
                "{{\"engine\":\"trawl\",\"index\":\"{name}\",\"threads\":{threads},\"knob\":\"{knob}\",\"recall\":{:.4},\"qps\":{:.1},\"build_s\":{build_s:.3},\"memory_bytes\":{mem}}}",
                recall(&truth, &got),
                nq as f64 / best
            );
        };
        run("flat", &flat, 0.0, flat.memory_bytes(), "-", SearchParams::default());
        let t = Instant::now();
        let sq = FlatIndex::build(&docs, dim, Metric::InnerProduct, Precision::Sq8).unwrap();
        let bs = t.elapsed().as_secs_f64();
        run("sq8", &sq, bs, sq.memory_bytes(), "-", SearchParams::default());
        let refined = Refined { index: &sq, full: &flat };
        for r in [20, 50, 100] {
            let p = SearchParams { refine: Some(r), ..Default::default() };
            run("sq8+refine", &refined, bs, sq.memory_bytes() + flat.memory_bytes(), &format!("refine={r}"), p);
        }
        let t = Instant::now();
        let p = HnswParams { m: hnsw_m, ef_construction: 200, ef_search: 64, seed: 0 };
        let built = HnswIndex::build_parallel(&docs, dim, Metric::InnerProduct, p).unwrap();
        let bs = t.elapsed().as_secs_f64();
        for storage in [Precision::F32, Precision::F16, Precision::Sq8] {
            let t = Instant::now();
            let h = HnswIndex::build_parallel(&docs, dim, Metric::InnerProduct, p)
                .unwrap()
                .with_storage(storage)
                .unwrap();
            let bs = if storage == Precision::F32 { bs } else { t.elapsed().as_secs_f64() };
            for ef in [16, 32, 64, 128, 256] {
                let sp = SearchParams { ef: Some(ef), ..Default::default() };
                run(&format!("hnsw-{}", storage.name()), &h, bs, h.memory_bytes(), &format!("ef={ef}"), sp);
            }
        }
        drop(built);
    });
}
