//! trawl's side of bench/ann.sh: builds HNSW, IVF-Flat and IVF-PQ over `DOCS.npy`, sweeps their
//! search knobs over `QUERIES.npy` and prints one JSON object per line (recall@10 against exact
//! flat search, queries/second for the whole batch by wall-clock and by on-CPU time, build time,
//! memory, size on disk).
//!
//! cargo run --release -p trawl-vector --example ann_bench -- DOCS.npy QUERIES.npy THREADS [nlist] [pq_m] [hnsw_m]

use std::time::Instant;

use trawl_vector::{
    npy, FlatIndex, HnswIndex, HnswParams, IvfCodec, IvfIndex, IvfParams, Metric, Precision,
    SearchParams, VectorIndex,
};

use trawl_vector::recall;

fn dir_size(p: &std::path::Path) -> u64 {
    std::fs::read_dir(p)
        .map(|d| {
            d.flatten()
                .map(|e| e.metadata().map(|m| m.len()).unwrap_or(0))
                .sum()
        })
        .unwrap_or(0)
}

/// On-CPU seconds of this process so far (every thread's schedstat; nanosecond resolution),
/// the same measure as Python's `time.process_time()` on the peers' side.
fn cpu_seconds() -> f64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return f64::NAN;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum::<u64>() as f64
        / 1e9
}

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let (docs, n, dim) = npy::read_npy_f32(&a[1]).expect("docs .npy");
    let (queries, nq, _) = npy::read_npy_f32(&a[2]).expect("queries .npy");
    let threads: usize = a[3].parse().expect("threads");
    let nlist: usize = a
        .get(4)
        .map_or(((n as f64).sqrt() as usize).max(1), |s| s.parse().unwrap());
    let pq_m: usize = a.get(5).map_or(dim / 8, |s| s.parse().unwrap());
    let hnsw_m: usize = a.get(6).map_or(16, |s| s.parse().unwrap());
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap();
    let tmp = std::env::temp_dir().join(format!("trawl-ann-bench-{}", std::process::id()));
    pool.install(|| {
        let mut flat = FlatIndex::new(dim, Metric::InnerProduct, Precision::F32).unwrap();
        flat.add(&docs).unwrap();
        let truth = flat.search_batch(&queries, nq, 10).unwrap();
        let sweep = |name: &str, ix: &dyn VectorIndex, build_s: f64, mem: usize, disk: u64, knobs: &[(&str, SearchParams)]| {
            for (label, p) in knobs {
                // Best of 3 runs of the whole batch (the machine is shared), by wall-clock and
                // by on-CPU time.
                let (mut best, mut best_cpu) = (f64::INFINITY, f64::INFINITY);
                let mut got = Vec::new();
                for _ in 0..3 {
                    let c = cpu_seconds();
                    let t = Instant::now();
                    got = ix.search_batch_with(&queries, nq, 10, p).unwrap();
                    best = best.min(t.elapsed().as_secs_f64());
                    best_cpu = best_cpu.min(cpu_seconds() - c);
                }
                println!(
                    "{{\"engine\":\"trawl\",\"index\":\"{name}\",\"threads\":{threads},\"knob\":\"{label}\",\"recall\":{:.4},\"qps\":{:.1},\"cpu_qps\":{:.1},\"build_s\":{build_s:.3},\"memory_bytes\":{mem},\"disk_bytes\":{disk}}}",
                    recall(&truth, &got),
                    nq as f64 / best,
                    nq as f64 / best_cpu
                );
            }
        };
        let t = Instant::now();
        let h = HnswIndex::build_parallel(&docs, dim, Metric::InnerProduct, HnswParams { m: hnsw_m, ef_construction: 200, ef_search: 64, seed: 0 }).unwrap();
        let bs = t.elapsed().as_secs_f64();
        h.save(tmp.join("hnsw")).unwrap();
        let efs: Vec<(String, SearchParams)> = [10, 16, 24, 32, 48, 64, 96, 128, 256]
            .iter()
            .map(|&e| (format!("ef={e}"), SearchParams { ef: Some(e), ..Default::default() }))
            .collect();
        let efs: Vec<(&str, SearchParams)> = efs.iter().map(|(l, p)| (l.as_str(), *p)).collect();
        sweep("hnsw", &h, bs, h.memory_bytes(), dir_size(&tmp.join("hnsw")), &efs);
        let probes: Vec<(String, SearchParams)> = [1, 2, 4, 8, 16, 32, 64]
            .iter()
            .filter(|&&p| p <= nlist)
            .map(|&p| (format!("nprobe={p}"), SearchParams { nprobe: Some(p), ..Default::default() }))
            .collect();
        let probes: Vec<(&str, SearchParams)> = probes.iter().map(|(l, p)| (l.as_str(), *p)).collect();
        for (name, codec) in [("ivf", IvfCodec::Flat), ("ivfpq", IvfCodec::Pq { m: pq_m })] {
            let t = Instant::now();
            let ix = IvfIndex::build(&docs, dim, Metric::InnerProduct, IvfParams { nlist, codec, nprobe: 8, train_size: None, seed: 0, keep_vectors: false }).unwrap();
            let bs = t.elapsed().as_secs_f64();
            ix.save(tmp.join(name)).unwrap();
            sweep(name, &ix, bs, ix.memory_bytes(), dir_size(&tmp.join(name)), &probes);
        }
    });
    let _ = std::fs::remove_dir_all(&tmp);
    eprintln!(
        "trawl ann_bench: {n} x {dim}, {nq} queries, {threads} threads, nlist {nlist}, pq m {pq_m}"
    );
}
