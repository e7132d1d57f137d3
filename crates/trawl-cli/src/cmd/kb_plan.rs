//! `trawl kb plan --docs 8.8M --dim 1024 --index ivfpq:4096,32`: predicted disk, build and
//! serving memory (from the formats' sizes, `trawl_kb::plan`), and build time and queries/s
//! extrapolated from a short calibration build on this machine. `--index bm25 --avg-doc-len
//! 56` plans a BM25-only KB (`kb build`) instead.

use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use trawl_kb::plan::{plan_sizes, PlannedIndex, PlannedSizes};
use trawl_kb::VectorStorage;
use trawl_vector::{
    FlatIndex, HnswIndex, HnswParams, IvfCodec, IvfIndex, IvfParams, Metric, Precision,
    SearchParams, VectorIndex,
};

#[derive(clap::Args)]
pub struct Args {
    /// Number of documents (vectors): 8800000, 8.8M, 100k, 1e6.
    #[arg(long, value_parser = parse_count)]
    pub docs: u64,
    /// Vector dimension (every index but bm25).
    #[arg(long)]
    pub dim: Option<usize>,
    /// flat, sq8, hnsw[:M], ivf[:NLIST], ivfpq:NLIST,M (default nlist: sqrt(docs)), or bm25 (a
    /// BM25-only KB as `kb build` writes it; needs --avg-doc-len).
    #[arg(long, default_value = "flat")]
    pub index: String,
    /// HNSW: how the graph stores its vectors (as `kb index --storage`): f32, f16 or sq8.
    #[arg(long, value_enum, default_value = "f32")]
    pub storage: super::kb_index::StorageArg,
    /// BM25: average document length in analysed tokens (after stopwords; `avgdl` in a KB's bm25/meta.json).
    #[arg(long, value_name = "TOKENS")]
    pub avg_doc_len: Option<f64>,
    /// BM25: average stored bytes of title and text per document (default: 6 per token of
    /// --avg-doc-len; better: the corpus's text bytes / documents).
    #[arg(long, value_name = "BYTES")]
    pub avg_doc_bytes: Option<f64>,
    /// BM25: `kb build --memory-budget` (postings held before a run is spilled to disk).
    #[arg(long, value_name = "SIZE", default_value = "2G", value_parser = super::kb::parse_memory_size)]
    pub memory_budget: u64,
    /// HNSW build candidate list (as `kb index --ef-construction`).
    #[arg(long, default_value_t = 200)]
    pub ef_construction: usize,
    /// Search knob the queries/s figure is for: HNSW candidate list.
    #[arg(long, default_value_t = 64)]
    pub ef: usize,
    /// Search knob the queries/s figure is for: IVF lists probed.
    #[arg(long, default_value_t = 8)]
    pub nprobe: usize,
    /// IVF-PQ: the index keeps the full vectors for `--refine`.
    #[arg(long)]
    pub refine_vectors: bool,
    /// Vectors (default 5,000) or BM25 documents (default 20,000) in the calibration build (0:
    /// sizes and memory only, no timing).
    #[arg(long)]
    pub calibrate: Option<usize>,
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// "8.8M", "100k", "1e6", "8800000" -> a count.
fn parse_count(s: &str) -> Result<u64, String> {
    let t = s.trim().replace('_', "");
    let (num, mult) = match t.chars().last() {
        Some('k' | 'K') => (&t[..t.len() - 1], 1e3),
        Some('m' | 'M') => (&t[..t.len() - 1], 1e6),
        Some('b' | 'B' | 'g' | 'G') => (&t[..t.len() - 1], 1e9),
        _ => (t.as_str(), 1.0),
    };
    match num.parse::<f64>() {
        Ok(v) if v.is_finite() && v * mult >= 1.0 && v * mult < u32::MAX as f64 => {
            Ok((v * mult).round() as u64)
        }
        _ => Err(format!(
            "`{s}` is not a document count between 1 and {} (e.g. 8800000, 8.8M, 100k, 1e6)",
            u32::MAX - 1
        )),
    }
}

/// Parses `--index` (and `--storage`) for `n` documents of dimension `dim`.
fn parse_index(
    s: &str,
    n: u64,
    dim: usize,
    refine: bool,
    storage: VectorStorage,
) -> anyhow::Result<PlannedIndex> {
    let (kind, rest) = s.split_once(':').unwrap_or((s, ""));
    let nums: Vec<usize> = if rest.is_empty() {
        Vec::new()
    } else {
        rest.split(',')
            .map(|x| x.trim().parse::<usize>())
            .collect::<Result<_, _>>()
            .with_context(|| format!("--index {s}: the numbers after `:` must be integers"))?
    };
    let default_nlist = ((n as f64).sqrt() as usize).clamp(1, 65_536);
    let index = match (kind, nums.as_slice()) {
        ("flat" | "exact", []) => PlannedIndex::Flat,
        ("sq8", []) => PlannedIndex::Sq8,
        ("hnsw", []) => PlannedIndex::Hnsw {
            m: 16,
            storage: VectorStorage::F32,
        },
        ("hnsw", [m]) if *m >= 2 => PlannedIndex::Hnsw {
            m: *m,
            storage: VectorStorage::F32,
        },
        ("ivf", []) => PlannedIndex::Ivf {
            nlist: default_nlist,
        },
        ("ivf", [nlist]) => PlannedIndex::Ivf { nlist: *nlist },
        ("ivfpq", [nlist, m]) => PlannedIndex::IvfPq {
            nlist: *nlist,
            m: *m,
            refine_vectors: refine,
        },
        ("ivfpq", [m]) => PlannedIndex::IvfPq {
            nlist: default_nlist,
            m: *m,
            refine_vectors: refine,
        },
        _ => bail!(
            "--index {s}: expected flat, sq8, hnsw[:M] (M >= 2), ivf[:NLIST] or ivfpq:NLIST,M (e.g. ivfpq:4096,32)"
        ),
    };
    match index {
        PlannedIndex::Ivf { nlist } | PlannedIndex::IvfPq { nlist, .. }
            if nlist == 0 || nlist as u64 > n =>
        {
            bail!("--index {s}: nlist {nlist} must be between 1 and the number of documents ({n})")
        }
        PlannedIndex::IvfPq { m, .. } if m == 0 || !dim.is_multiple_of(m) => {
            bail!("--index {s}: m {m} must divide the dimension {dim}")
        }
        PlannedIndex::Hnsw { m, .. } => Ok(PlannedIndex::Hnsw { m, storage }),
        _ if storage != VectorStorage::F32 => {
            bail!("--storage {}: only an hnsw index stores its vectors otherwise than f32 (kb index --type hnsw --storage)", storage.precision().name())
        }
        _ => Ok(index),
    }
}

/// Peak resident memory of this process so far (Linux `VmHWM`), in bytes.
pub fn peak_rss() -> Option<u64> {
    proc_status_kib("VmHWM:").map(|k| k * 1024)
}

pub(super) fn current_rss() -> Option<u64> {
    proc_status_kib("VmRSS:").map(|k| k * 1024)
}

fn proc_status_kib(key: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(key))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()
}

/// Seeded clustered unit vectors (real embeddings cluster; uniform noise makes HNSW and IVF
/// behave unlike them).
fn synthetic(n: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut state = seed;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    };
    let clusters = 64.min(n.max(1));
    let centres: Vec<f32> = (0..clusters * dim).map(|_| next()).collect();
    let mut out = Vec::with_capacity(n * dim);
    for i in 0..n {
        let c = &centres[(i % clusters) * dim..(i % clusters + 1) * dim];
        let row: Vec<f32> = c.iter().map(|x| x + 0.6 * next()).collect();
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
        out.extend(row.iter().map(|x| x / norm));
    }
    out
}

#[derive(serde::Serialize)]
struct Calibration {
    vectors: usize,
    build_s: f64,
    queries_per_s: f64,
    threads: usize,
}

/// Builds `index` (scaled to `n_cal` vectors) and times the build and a batch of searches.
fn calibrate(
    index: PlannedIndex,
    n_cal: usize,
    dim: usize,
    args: &Args,
) -> anyhow::Result<(Calibration, PlannedIndex)> {
    let rows = synthetic(n_cal, dim, 7);
    let nq = 200.min(n_cal);
    let queries = synthetic(nq, dim, 8);
    let search = SearchParams {
        ef: Some(args.ef),
        nprobe: Some(args.nprobe),
        refine: None,
    };
    let scaled = match index {
        PlannedIndex::Ivf { nlist } => PlannedIndex::Ivf {
            nlist: nlist.min(n_cal / 39).max(1),
        },
        PlannedIndex::IvfPq {
            nlist,
            m,
            refine_vectors,
        } => PlannedIndex::IvfPq {
            nlist: nlist.min(n_cal / 39).max(1),
            m,
            refine_vectors,
        },
        other => other,
    };
    let t = Instant::now();
    let built: Box<dyn VectorIndex> = match scaled {
        PlannedIndex::Flat => {
            let mut f = FlatIndex::new(dim, Metric::InnerProduct, Precision::F32)?;
            f.add(&rows)?;
            Box::new(f)
        }
        PlannedIndex::Sq8 => Box::new(FlatIndex::build(
            &rows,
            dim,
            Metric::InnerProduct,
            Precision::Sq8,
        )?),
        PlannedIndex::Hnsw { m, storage } => Box::new(
            HnswIndex::build(
                &rows,
                dim,
                Metric::InnerProduct,
                HnswParams {
                    m,
                    ef_construction: args.ef_construction,
                    ef_search: args.ef,
                    seed: 0,
                },
            )?
            .with_storage(storage.precision())?,
        ),
        PlannedIndex::Ivf { nlist } | PlannedIndex::IvfPq { nlist, .. } => {
            let codec = match scaled {
                PlannedIndex::IvfPq { m, .. } => IvfCodec::Pq { m },
                _ => IvfCodec::Flat,
            };
            Box::new(IvfIndex::build(
                &rows,
                dim,
                Metric::InnerProduct,
                IvfParams {
                    nlist,
                    codec,
                    nprobe: args.nprobe,
                    train_size: None,
                    seed: 0,
                    keep_vectors: false,
                },
            )?)
        }
    };
    let build_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    built.search_batch_with(&queries, nq, 10, &search)?;
    let queries_per_s = nq as f64 / t.elapsed().as_secs_f64().max(1e-9);
    Ok((
        Calibration {
            vectors: n_cal,
            build_s,
            queries_per_s,
            threads: rayon::current_num_threads(),
        },
        scaled,
    ))
}

/// Work of a build and of one query, in units that scale like their run time (multiply-adds
/// of the dominant loops), for extrapolating the calibration.
fn work(index: PlannedIndex, n: f64, dim: f64, nprobe: f64) -> (f64, f64) {
    let kmeans = |points: f64, k: f64| 20.0 * points.min(256.0 * k) * k * dim;
    match index {
        PlannedIndex::Flat | PlannedIndex::Sq8 => (n * dim, n * dim),
        PlannedIndex::Hnsw { .. } => (n * n.ln(), n.ln()),
        PlannedIndex::Ivf { nlist } => {
            let k = nlist as f64;
            (
                kmeans(n, k) + n * k * dim,
                k * dim + nprobe.min(k) * (n / k) * dim,
            )
        }
        PlannedIndex::IvfPq { nlist, m, .. } => {
            let k = nlist as f64;
            let pq_train = 20.0 * n.min(256.0 * 256.0) * 256.0 * dim;
            (
                kmeans(n, k) + n * k * dim + pq_train + n * 256.0 * dim,
                k * dim + nprobe.min(k) * (256.0 * dim + (n / k) * m as f64),
            )
        }
    }
}

pub(super) fn human(n: u64) -> String {
    super::kb::human_bytes(n)
}

pub(super) fn human_s(s: f64) -> String {
    if s < 120.0 {
        format!("{s:.1} s")
    } else if s < 7200.0 {
        format!("{:.1} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let baseline = current_rss().unwrap_or(0);
    if args.index.trim() == "bm25" {
        return super::kb_plan_bm25::run(&args, baseline);
    }
    for (given, flag) in [
        (args.avg_doc_len.is_some(), "--avg-doc-len"),
        (args.avg_doc_bytes.is_some(), "--avg-doc-bytes"),
    ] {
        if given {
            bail!("{flag} describes a BM25 corpus: use it with --index bm25");
        }
    }
    let dim = match args.dim {
        None => bail!(
            "--dim is required to plan a vector index (--index {}); --index bm25 plans a BM25 KB instead",
            args.index
        ),
        Some(0) => bail!("--dim must be at least 1"),
        Some(d) => d,
    };
    let n = args.docs;
    let index = parse_index(
        &args.index,
        n,
        dim,
        args.refine_vectors,
        args.storage.into(),
    )?;
    let sizes: PlannedSizes = plan_sizes(n, dim as u64, index);
    let n_cal = args.calibrate.unwrap_or(5_000).min(n as usize);
    let calibrated = if n_cal == 0 {
        None
    } else {
        if matches!(index, PlannedIndex::IvfPq { .. }) && n_cal < 256 {
            bail!("--calibrate {n_cal}: an IVF-PQ calibration needs at least 256 vectors (or 0 for none)");
        }
        Some(calibrate(index, n_cal, dim, &args)?)
    };
    let nprobe = args.nprobe as f64;
    let predicted = calibrated.as_ref().map(|(cal, scaled)| {
        let (b_cal, q_cal) = work(*scaled, cal.vectors as f64, dim as f64, nprobe);
        let (b, q) = work(index, n as f64, dim as f64, nprobe);
        let build_s = match index {
            PlannedIndex::Flat => 0.0,
            _ => cal.build_s * b / b_cal,
        };
        (build_s, cal.queries_per_s * q_cal / q)
    });
    let total_disk = sizes.vectors_disk + sizes.index_disk;
    if args.json {
        let out = serde_json::json!({
            "docs": n,
            "dim": dim,
            "index": index,
            "disk_bytes": {"vectors": sizes.vectors_disk, "index": sizes.index_disk, "total": total_disk},
            "baseline_bytes": baseline,
            "build_peak_bytes": baseline + sizes.build_peak,
            "serve_bytes": baseline + sizes.serve,
            "calibration": calibrated.as_ref().map(|c| &c.0),
            "build_s": predicted.map(|p| p.0),
            "queries_per_s": predicted.map(|p| p.1),
            "search": {"k": 10, "ef": args.ef, "nprobe": args.nprobe},
        });
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    let what = match index {
        PlannedIndex::Flat => "flat (exact)".to_string(),
        PlannedIndex::Sq8 => "sq8 (flat scan of 8-bit codes)".to_string(),
        PlannedIndex::Hnsw { m, storage } => format!(
            "hnsw (M {m}, ef_construction {}, {} vectors)",
            args.ef_construction,
            storage.precision().name()
        ),
        PlannedIndex::Ivf { nlist } => format!("ivf (nlist {nlist})"),
        PlannedIndex::IvfPq {
            nlist,
            m,
            refine_vectors,
        } => format!(
            "ivfpq (nlist {nlist}, m {m}{})",
            if refine_vectors {
                ", full vectors kept"
            } else {
                ""
            }
        ),
    };
    let mut rows: Vec<(String, String)> = vec![
        ("vectors on disk (dense/)".into(), human(sizes.vectors_disk)),
        ("index on disk (ann/)".into(), human(sizes.index_disk)),
        ("total disk".into(), human(total_disk)),
        (
            "peak memory to build".into(),
            human(baseline + sizes.build_peak),
        ),
        ("memory to serve".into(), human(baseline + sizes.serve)),
    ];
    match (&calibrated, predicted) {
        (Some((cal, _)), Some((build_s, qps))) => {
            if !matches!(index, PlannedIndex::Flat) {
                rows.push(("build time".into(), human_s(build_s)));
            }
            let knob = match index {
                PlannedIndex::Hnsw { .. } => format!(", ef {}", args.ef),
                PlannedIndex::Ivf { .. } | PlannedIndex::IvfPq { .. } => {
                    format!(", nprobe {}", args.nprobe)
                }
                PlannedIndex::Flat | PlannedIndex::Sq8 => String::new(),
            };
            rows.push((
                format!("queries/s (k 10{knob}, {} threads)", cal.threads),
                format!("{qps:.0}"),
            ));
            rows.push((
                "calibration".into(),
                format!(
                    "{} vectors: build {}, {:.0} queries/s",
                    cal.vectors,
                    human_s(cal.build_s),
                    cal.queries_per_s
                ),
            ));
        }
        _ => rows.push((
            "build time, queries/s".into(),
            "not calibrated (--calibrate 0)".into(),
        )),
    }
    print_table(
        &format!("plan: {n} documents x {dim} dims, {what}"),
        &rows,
        &format!("memory includes this process's baseline of {}; times scale from the calibration by the work of the dominant loops", human(baseline)),
    );
    Ok(ExitCode::SUCCESS)
}

/// Prints a plan: a title, rows of (what, value) aligned (values to the right, but a
/// `calibration` row's text as it is), and a closing note in parentheses.
pub(super) fn print_table(title: &str, rows: &[(String, String)], note: &str) {
    println!("{title}");
    let w = rows.iter().map(|r| r.0.chars().count()).max().unwrap_or(0);
    let wv = rows
        .iter()
        .filter(|r| r.0 != "calibration")
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0);
    for (k, v) in rows {
        if k == "calibration" {
            println!("  {k:<w$}  {v}");
        } else {
            println!("  {k:<w$}  {v:>wv$}");
        }
    }
    println!("  ({note})");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_index_specs_parse_with_clear_errors() {
        assert_eq!(parse_count("8.8M").unwrap(), 8_800_000);
        assert_eq!(parse_count("100k").unwrap(), 100_000);
        assert_eq!(parse_count("1e6").unwrap(), 1_000_000);
        assert!(parse_count("lots").unwrap_err().contains("8.8M"));
        assert_eq!(
            parse_index("ivfpq:4096,32", 8_800_000, 1024, false, VectorStorage::F32).unwrap(),
            PlannedIndex::IvfPq {
                nlist: 4096,
                m: 32,
                refine_vectors: false
            }
        );
        assert_eq!(
            parse_index("hnsw", 10, 8, false, VectorStorage::F32).unwrap(),
            PlannedIndex::Hnsw {
                m: 16,
                storage: VectorStorage::F32
            }
        );
        assert_eq!(
            parse_index("sq8", 10, 8, false, VectorStorage::F32).unwrap(),
            PlannedIndex::Sq8
        );
        assert!(parse_index("sq8:4", 10, 8, false, VectorStorage::F32).is_err());
        let e = parse_index("ivfpq:16,5", 1000, 64, false, VectorStorage::F32).unwrap_err();
        assert!(e.to_string().contains("divide the dimension 64"), "{e}");
        let e = parse_index("ivf:5000", 1000, 64, false, VectorStorage::F32).unwrap_err();
        assert!(e.to_string().contains("nlist 5000"), "{e}");
        assert!(parse_index("lsh", 1000, 64, false, VectorStorage::F32).is_err());
        assert_eq!(
            parse_index("hnsw:8", 10, 8, false, VectorStorage::F16).unwrap(),
            PlannedIndex::Hnsw {
                m: 8,
                storage: VectorStorage::F16
            }
        );
        let e = parse_index("ivf:4", 1000, 64, false, VectorStorage::Sq8).unwrap_err();
        assert!(e.to_string().contains("--storage sq8"), "{e}");
    }
}
