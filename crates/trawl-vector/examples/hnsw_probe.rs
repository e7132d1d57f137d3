//! A quick HNSW-only loop for profiling: builds (or reopens) one HNSW index and sweeps `ef`,
//! printing recall@10 against exact search and the best-of-5 queries/second.
//!
//! cargo run --release -p trawl-vector --example hnsw_probe -- DOCS.npy QUERIES.npy INDEX_DIR THREADS [EF ...]

use std::time::Instant;

use trawl_vector::{
    npy, FlatIndex, HnswIndex, HnswParams, Metric, Precision, SearchParams, VectorIndex,
};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (docs, _n, dim) = npy::read_npy_f32(&a[1]).expect("docs .npy");
    let (queries, nq, _) = npy::read_npy_f32(&a[2]).expect("queries .npy");
    let dir = std::path::PathBuf::from(&a[3]);
    let threads: usize = a[4].parse().expect("threads");
    let efs: Vec<usize> = a[5..].iter().map(|s| s.parse().expect("ef")).collect();
    let reps: usize = std::env::var("REPS").ok().map_or(5, |s| s.parse().unwrap());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    pool.install(|| {
        let h = if dir.exists() {
            HnswIndex::open(&dir).unwrap()
        } else {
            let t = Instant::now();
            let h = HnswIndex::build_parallel(
                &docs,
                dim,
                Metric::InnerProduct,
                HnswParams {
                    m: 16,
                    ef_construction: 200,
                    ef_search: 64,
                    seed: 0,
                },
            )
            .unwrap();
            eprintln!("build {:.2}s", t.elapsed().as_secs_f64());
            h.save(&dir).unwrap();
            HnswIndex::open(&dir).unwrap()
        };
        let mut flat = FlatIndex::new(dim, Metric::InnerProduct, Precision::F32).unwrap();
        flat.add(&docs).unwrap();
        let truth = flat.search_batch(&queries, nq, 10).unwrap();
        for ef in efs {
            let p = SearchParams {
                ef: Some(ef),
                ..Default::default()
            };
            let mut best = f64::INFINITY;
            let mut got = Vec::new();
            for _ in 0..reps {
                let t = Instant::now();
                got = h.search_batch_with(&queries, nq, 10, &p).unwrap();
                best = best.min(t.elapsed().as_secs_f64());
            }
            let r: f64 = truth
                .iter()
                .zip(&got)
                .map(|(t, g)| {
                    t.iter()
                        .filter(|x| g.iter().any(|y| y.doc == x.doc))
                        .count() as f64
                        / 10.0
                })
                .sum::<f64>()
                / nq as f64;
            println!("trawl ef={ef} recall {r:.4} qps {:.0}", nq as f64 / best);
        }
    });
}
