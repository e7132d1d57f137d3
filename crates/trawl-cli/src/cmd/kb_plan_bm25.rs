//! `trawl kb plan --index bm25 --docs 8.8M --avg-doc-len 56`: the disk, build and serving
//! memory of a BM25-only KB (`trawl_kb::plan::plan_bm25`), and its build time and queries/s
//! at k 10 from calibration builds of generated documents on this machine.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use trawl_data::Document;
use trawl_kb::plan::bm25::INDEXED_BYTES_PER_TOKEN;
use trawl_kb::plan::zipf::{ZipfCorpus, ZIPF_EXPONENT, ZIPF_VOCAB};
use trawl_kb::plan::{plan_bm25, Bm25BuildSettings, Bm25Corpus, Bm25Plan};
use trawl_kb::{KbBuildOptions, KnowledgeBase};

use super::kb_plan::{human, human_s, print_table, Args};

/// Queries timed per calibration size (repeated until the clock has enough to measure).
const QUERIES: usize = 500;

#[derive(serde::Serialize)]
struct Calibration {
    /// Documents of the two calibration builds.
    docs: [usize; 2],
    build_s: [f64; 2],
    queries_per_s: [f64; 2],
    threads: usize,
}

/// A directory removed when dropped.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Builds a KB of `n` generated documents in `dir` with `budget` and times the build and
/// k=10 searches of generated queries on all threads.
fn calibrate_once(
    dir: &std::path::Path,
    n: usize,
    avg_len: f64,
    budget: u64,
) -> anyhow::Result<(f64, f64)> {
    let mut corpus = ZipfCorpus::new(avg_len, 13);
    let docs: Vec<Document> = (0..n)
        .map(|i| Document {
            id: i.to_string(),
            text: corpus.document(),
            ..Default::default()
        })
        .collect();
    let queries: Vec<String> = (0..QUERIES).map(|_| corpus.query()).collect();
    let refs: Vec<&str> = queries.iter().map(String::as_str).collect();
    let options = KbBuildOptions {
        memory_budget: budget,
        ..KbBuildOptions::default()
    };
    let t = Instant::now();
    let kb = KnowledgeBase::build(docs.into_iter().map(Ok), dir, &options, |_| {})
        .context("building the calibration KB")?;
    let build_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut searched = 0usize;
    while searched == 0 || t.elapsed().as_secs_f64() < 0.3 {
        kb.search_bm25_batch_refs(&refs, 10)?;
        searched += refs.len();
    }
    Ok((build_s, searched as f64 / t.elapsed().as_secs_f64()))
}

/// Calibration builds of `n / 4` and `n` documents (three times each, keeping the
/// fastest), timed with their searches.
fn calibrate(n: usize, avg_len: f64, budget: u64) -> anyhow::Result<Calibration> {
    let root = std::env::temp_dir().join(format!(
        "trawl-plan-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0)
    ));
    let guard = TempDir(root);
    let sizes = [(n / 4).max(1), n];
    let mut build_s = [0.0f64; 2];
    let mut queries_per_s = [0.0f64; 2];
    // The best of three runs of each: a busy machine slows a short build or batch of queries
    // by a large fraction (a 100k build twice as long as the one before it, here).
    for (i, &docs) in sizes.iter().enumerate() {
        for run in 0..3 {
            let dir = guard.0.join(format!("kb{i}-{run}"));
            let (b, q) = calibrate_once(&dir, docs, avg_len, budget)?;
            (build_s[i], queries_per_s[i]) = match run {
                0 => (b, q),
                _ => (build_s[i].min(b), queries_per_s[i].max(q)),
            };
            std::fs::remove_dir_all(&dir).with_context(|| format!("removing {}", dir.display()))?;
        }
    }
    Ok(Calibration {
        docs: sizes,
        build_s,
        queries_per_s,
        threads: rayon::current_num_threads(),
    })
}

/// Build time at `x` documents: on the line through the two calibration points (a fixed part,
/// then a cost per document), or proportional to `x` from the larger one when the line would
/// not grow (timing noise at small sizes).
fn extrapolate_linear(xs: [usize; 2], ys: [f64; 2], x: f64) -> f64 {
    let (x0, x1) = (xs[0] as f64, xs[1] as f64);
    let slope = (ys[1] - ys[0]) / (x1 - x0);
    if x1 > x0 && slope > 0.0 {
        ys[1] + slope * (x - x1)
    } else {
        ys[1] * x / x1
    }
}

/// How a query's time grows with the documents: as this power of their number (lists grow with
/// them, pruning skips more of the longer ones). Measured on generated documents of 56 tokens:
/// k 10 queries/s fell 10-15x from 20k documents (the calibration, best of three) to 1M (`trawl
/// beir` on a real build), 0.59-0.69; two calibration points too close together to fit it
/// reliably on a busy machine.
const QUERY_GROWTH: f64 = 0.65;

pub fn run(args: &Args, baseline: u64) -> anyhow::Result<ExitCode> {
    if args.dim.is_some() {
        bail!("--dim: a BM25 plan has no vectors (drop --dim, or plan a vector index with --index flat|sq8|hnsw|ivf|ivfpq)");
    }
    if args.storage != super::kb_index::StorageArg::F32 {
        bail!("--storage applies to an hnsw index, not to --index bm25");
    }
    let Some(len) = args.avg_doc_len else {
        bail!("--index bm25 needs --avg-doc-len TOKENS: the average document length in analysed tokens (after stopwords; a built KB records it as `avgdl` in bm25/meta.json), e.g. 56");
    };
    if !(len.is_finite() && (1.0..=1e6).contains(&len)) {
        bail!("--avg-doc-len {len}: expected a number of tokens between 1 and 1000000");
    }
    let bytes = args.avg_doc_bytes.unwrap_or(INDEXED_BYTES_PER_TOKEN * len);
    if !(bytes.is_finite() && (1.0..=1e9).contains(&bytes)) {
        bail!("--avg-doc-bytes {bytes}: expected a number of bytes per document between 1 and 1000000000");
    }
    let n = args.docs;
    let corpus = Bm25Corpus {
        docs: n,
        avg_doc_len: len,
        avg_doc_bytes: bytes,
    };
    let settings = Bm25BuildSettings {
        memory_budget: args.memory_budget,
        batch_size: KbBuildOptions::default().batch_size,
        threads: rayon::current_num_threads(),
    };
    let plan: Bm25Plan = plan_bm25(&corpus, &settings);
    let n_cal = args.calibrate.unwrap_or(20_000).min(n as usize);
    let cal = match n_cal {
        0 => None,
        1..=3 => bail!(
            "--calibrate {n_cal}: a BM25 calibration needs at least 4 documents (or 0 for none)"
        ),
        _ => Some(calibrate(n_cal, len, args.memory_budget)?),
    };
    let predicted = cal.as_ref().map(|c| {
        let build_s = extrapolate_linear(c.docs, c.build_s, n as f64);
        let qps = c.queries_per_s[1] * (c.docs[1] as f64 / n as f64).powf(QUERY_GROWTH);
        (build_s, qps)
    });
    let total = plan.index_disk + plan.store_disk;
    if args.json {
        let out = serde_json::json!({
            "docs": n,
            "index": {"type": "bm25"},
            "corpus": corpus,
            "build": settings,
            "postings": plan.postings,
            "terms": plan.terms,
            "runs": plan.runs,
            "docs_per_run": plan.docs_per_run,
            "disk_bytes": {"index": plan.index_disk, "store": plan.store_disk, "total": total},
            "baseline_bytes": baseline,
            "build_peak_bytes": baseline + plan.build_peak,
            "build_peak_phase": plan.build_peak_phase,
            "build_anon_peak_bytes": baseline + plan.build_anon_peak,
            "serve_bytes": baseline + plan.serve,
            "calibration": cal,
            "build_s": predicted.map(|p| p.0),
            "queries_per_s": predicted.map(|p| p.1),
            "search": {"k": 10},
        });
        println!("{out}");
        return Ok(ExitCode::SUCCESS);
    }
    let count = |x: u64| match x {
        0..=9_999 => x.to_string(),
        10_000..=999_999 => format!("{:.1}k", x as f64 / 1e3),
        _ => format!("{:.1}M", x as f64 / 1e6),
    };
    let mut rows: Vec<(String, String)> = vec![
        (
            "postings / terms".into(),
            format!("{} / {}", count(plan.postings), count(plan.terms)),
        ),
        ("index on disk (bm25/)".into(), human(plan.index_disk)),
        (
            "documents on disk (store, ids)".into(),
            human(plan.store_disk),
        ),
        ("total disk".into(), human(total)),
        (
            format!("peak memory to build ({})", plan.build_peak_phase),
            human(baseline + plan.build_peak),
        ),
        (
            "  of it anonymous (must fit in RAM)".into(),
            human(baseline + plan.build_anon_peak),
        ),
        (
            "runs spilled to disk".into(),
            match plan.runs {
                0 => "none".into(),
                r => format!("{r} of {} docs", count(plan.docs_per_run)),
            },
        ),
        ("memory to serve".into(), human(baseline + plan.serve)),
    ];
    match (&cal, predicted) {
        (Some(c), Some((build_s, qps))) => {
            rows.push(("build time".into(), human_s(build_s)));
            rows.push((
                format!("queries/s (k 10, {} threads)", c.threads),
                format!("{qps:.0}"),
            ));
            rows.push((
                "calibration".into(),
                format!(
                    "{} and {} docs: build {} and {}, {:.0} and {:.0} queries/s",
                    c.docs[0],
                    c.docs[1],
                    human_s(c.build_s[0]),
                    human_s(c.build_s[1]),
                    c.queries_per_s[0],
                    c.queries_per_s[1]
                ),
            ));
        }
        _ => rows.push((
            "build time, queries/s".into(),
            "not calibrated (--calibrate 0)".into(),
        )),
    }
    print_table(
        &format!(
            "plan: {n} documents, BM25 ({len} tokens and {bytes:.0} bytes a document), memory budget {}",
            human(args.memory_budget)
        ),
        &rows,
        &format!(
            "memory includes this process's baseline of {}; words modelled as Zipfian (exponent {ZIPF_EXPONENT} over {ZIPF_VOCAB} words, MS MARCO-shaped as bench/bm25_scale.py); times from generated documents: build linear through both calibration points, query time as documents^{QUERY_GROWTH}",
            human(baseline)
        ),
    );
    Ok(ExitCode::SUCCESS)
}
