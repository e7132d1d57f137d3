//! `trawl bench --datasets A,B --system bm25 --system dense:MODEL --out results/`: every system
//! on every BEIR dataset, through the KBs `trawl beir` caches; one run file per (dataset,
//! system), `results.json` and the paper table (Markdown, LaTeX, CSV). The numbers come from
//! reading the written run files back with `trawl eval`'s reader and evaluator, with every query
//! of the split counted (0 for a query without hits, as `trawl beir` counts it); significance,
//! Holm and the table are trawl-report's (the tests are `trawl compare`'s).
//!
//! Latency: queries are answered one at a time (after a few untimed warm-up queries), so each
//! query's time is its latency alone; `search_s` is their sum.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use trawl_data::beir::BeirDataset;
use trawl_data::trec_format::{parse_run, read_text, Dialect};
use trawl_data::Run;
use trawl_eval::metric::parse_list;
use trawl_eval::significance::{PairedTest, DEFAULT_PERMUTATIONS};
use trawl_eval::{recall_curve_table, EvalOptions};
use trawl_report::results::{FORMAT, FORMAT_VERSION, RESULTS_FILE};
use trawl_report::*;

use super::beir::{open_cached_kb, write_run};
use super::eval::{evaluate_files, read_permissive_qrels, DEFAULT_METRICS};
use super::kb::Bm25Args;

/// Recall@k curves run to this depth (or -k when smaller).
const CURVE_DEPTH: usize = 1000;
/// Untimed queries before timing starts (thread pools, caches, lazily built state).
const WARM_UP: usize = 4;

#[derive(clap::Args)]
pub struct Args {
    /// BEIR dataset folders, comma-separated (or the option repeated).
    #[arg(long, required = true, value_delimiter = ',', num_args = 1..)]
    datasets: Vec<PathBuf>,
    /// A system: `bm25`, `dense:MODEL` or `hybrid:MODEL` (repeat for several).
    #[arg(long = "system", required = true)]
    systems: Vec<String>,
    /// The results folder (replaced whole when it holds an earlier results.json).
    #[arg(long)]
    out: PathBuf,
    /// The system the others are tested against (default: the first --system).
    #[arg(long)]
    baseline: Option<String>,
    /// Paired test for the markers: `t` or `randomization` (as `trawl compare` computes them).
    #[arg(long, default_value = "t")]
    test: String,
    /// Significance level after Holm-Bonferroni correction across datasets.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Random sign assignments of the randomisation test.
    #[arg(long, default_value_t = DEFAULT_PERMUTATIONS)]
    permutations: usize,
    /// Seed of the randomisation test.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Comma-separated metrics; the first is the paper table's.
    #[arg(long, default_value = DEFAULT_METRICS)]
    metrics: String,
    /// Qrels split to evaluate.
    #[arg(long, default_value = "test")]
    split: String,
    /// Documents retrieved per query.
    #[arg(short = 'k', long = "top-k", default_value_t = 1000)]
    k: usize,
    #[command(flatten)]
    bm25: Bm25Args,
}

/// A parsed `--system`.
struct System {
    label: String,
    retriever: &'static str,
    model: Option<String>,
}

fn parse_system(spec: &str) -> anyhow::Result<System> {
    let (kind, model) = match spec.split_once(':') {
        Some((k, m)) => (k, Some(m)),
        None => (spec, None),
    };
    let retriever = match kind {
        "bm25" => "bm25",
        "dense" => "dense",
        "hybrid" => "hybrid",
        _ => anyhow::bail!("--system {spec}: expected bm25, dense:MODEL or hybrid:MODEL"),
    };
    let model = match (retriever, model) {
        ("bm25", Some(_)) => anyhow::bail!("--system {spec}: bm25 takes no model"),
        ("bm25", None) => None,
        (_, None | Some("")) => anyhow::bail!(
            "--system {spec}: {retriever} needs a model, e.g. {retriever}:models/all-MiniLM-L6-v2"
        ),
        (_, Some(m)) => Some(m.to_string()),
    };
    let label = match &model {
        None => retriever.to_string(),
        Some(m) => {
            let name = Path::new(m.trim_end_matches('/'))
                .file_name()
                .map_or(m.clone(), |n| n.to_string_lossy().into_owned());
            format!("{retriever}:{name}")
        }
    };
    Ok(System {
        label,
        retriever,
        model,
    })
}

/// A label as a file name: letters, digits, `-`, `_`, `.` kept, everything else `_`.
fn slug(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn dataset_name(dir: &Path) -> String {
    dir.canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| dir.display().to_string())
}

/// Refuses an `--out` that exists, is not empty and is not an earlier results folder.
fn check_out(out: &Path) -> anyhow::Result<()> {
    if out.exists() {
        let empty = std::fs::read_dir(out)
            .with_context(|| format!("--out {}", out.display()))?
            .next()
            .is_none();
        if !empty && !out.join(RESULTS_FILE).is_file() {
            anyhow::bail!(
                "--out {} exists and is not a `trawl bench` results folder (no {RESULTS_FILE}); choose a new or empty folder",
                out.display()
            );
        }
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let systems: Vec<System> = args
        .systems
        .iter()
        .map(|s| parse_system(s))
        .collect::<anyhow::Result<_>>()?;
    for (i, s) in systems.iter().enumerate() {
        if systems[..i].iter().any(|o| o.label == s.label) {
            anyhow::bail!("--system {} is given twice", s.label);
        }
    }
    let baseline = match &args.baseline {
        None => systems[0].label.clone(),
        Some(b) => systems
            .iter()
            .find(|s| &s.label == b || args.systems.iter().any(|spec| spec == b))
            .map(|s| {
                if &s.label == b {
                    s.label.clone()
                } else {
                    parse_system(b).map_or(s.label.clone(), |p| p.label)
                }
            })
            .with_context(|| {
                format!(
                    "--baseline {b} is not one of the systems ({})",
                    systems
                        .iter()
                        .map(|s| s.label.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            })?,
    };
    let test: PairedTest = args.test.parse()?;
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        anyhow::bail!("--alpha must be between 0 and 1, got {}", args.alpha);
    }
    let metrics = parse_list(&args.metrics)?;
    if metrics.is_empty() {
        anyhow::bail!("--metrics is empty; give e.g. ndcg@10,recall@100");
    }
    check_out(&args.out)?;
    let options = args.bm25.to_options()?;
    let out_dir = trawl_store::AtomicDir::create(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let started = Instant::now();

    let mut datasets = Vec::new();
    for data_dir in &args.datasets {
        let name = dataset_name(data_dir);
        let dataset = BeirDataset::open(data_dir)?;
        let qrels_path = data_dir.join("qrels").join(format!("{}.tsv", args.split));
        let qrels = read_permissive_qrels(&qrels_path)?;
        let mut queries: Vec<_> = dataset
            .read_queries()?
            .into_iter()
            .filter(|q| qrels.get(&q.id).is_some())
            .collect();
        queries.sort_by(|a, b| a.id.cmp(&b.id));
        if queries.is_empty() {
            anyhow::bail!(
                "{}: no query of the {} split has a text in queries.jsonl",
                data_dir.display(),
                args.split
            );
        }
        let mut results = Vec::new();
        let mut num_docs = 0;
        for system in &systems {
            eprintln!("{name}: {} ...", system.label);
            let cached = open_cached_kb(
                &dataset,
                data_dir,
                None,
                &options,
                system.model.as_deref().map(|m| (m, super::Quantize::None)),
                None,
                false,
            )?;
            num_docs = cached.kb.num_live();
            let kb = Arc::new(cached.kb);
            let opts = trawl_retrieve::KbRetrieverOptions {
                model: system.model.clone(),
                ..Default::default()
            };
            let retriever = trawl_retrieve::open_named(kb.clone(), system.retriever, &opts)?;
            for q in queries.iter().take(WARM_UP) {
                retriever.retrieve_batch(&[q.text.as_str()], args.k)?;
            }
            let mut run = Run::new();
            let mut latencies = Vec::with_capacity(queries.len());
            for q in &queries {
                let start = Instant::now();
                let hits = retriever.retrieve_batch(&[q.text.as_str()], args.k)?;
                latencies.push(start.elapsed().as_secs_f64() * 1e3);
                let hits = hits.into_iter().next().unwrap_or_default();
                if !hits.is_empty() {
                    run.insert(
                        q.id.clone(),
                        hits.into_iter()
                            .map(|h| trawl_data::ScoredDoc {
                                doc_id: h.id.to_string(),
                                score: f64::from(h.score),
                            })
                            .collect(),
                    );
                }
            }
            let run_rel = format!("runs/{}/{}.trec", slug(&name), slug(&system.label));
            let run_path = out_dir.path().join(&run_rel);
            std::fs::create_dir_all(run_path.parent().expect("runs/<dataset>"))
                .with_context(|| format!("creating {}", run_path.display()))?;
            write_run(&run_path, &run, &format!("trawl-{}", slug(&system.label)))?;
            // The numbers of record: the run file as written, read back as `trawl eval` reads it.
            let eval = evaluate_files(&qrels, &run_path, &metrics, &EvalOptions::default())?;
            let text = read_text(&run_path)?;
            let curve = recall_curve_table(
                &qrels,
                parse_run(&text, &run_path, Dialect::Permissive)?,
                CURVE_DEPTH.min(args.k),
                &EvalOptions::default(),
            )?;
            // Every query of the split counts; one without hits scores 0 (as `trawl beir` and
            // Pyserini's BEIR figures). `trawl eval` leaves such queries out (they are not in
            // the run file): its means times answered/total are these.
            let without_hits: Vec<String> = queries
                .iter()
                .filter(|q| !eval.per_query.contains_key(&q.id))
                .map(|q| q.id.clone())
                .collect();
            let answered = eval.per_query.len() as f64;
            let mut per_query = eval.per_query;
            for q in &without_hits {
                per_query.insert(q.clone(), vec![0.0; metrics.len()]);
            }
            let mean = if without_hits.is_empty() {
                eval.mean
            } else {
                trawl_eval::evaluate::mean_in_id_order(metrics.len(), &per_query)
            };
            let scale = answered / per_query.len() as f64;
            let curve: Vec<f64> = curve.into_iter().map(|r| r * scale).collect();
            let search_s = latencies.iter().sum::<f64>() / 1e3;
            let manifest = kb.manifest();
            results.push(SystemResults {
                system: system.label.clone(),
                retriever: system.retriever.to_string(),
                model: system.model.clone(),
                run_file: run_rel,
                kb: KbInfo {
                    dir: cached.dir.display().to_string(),
                    corpus_hash: manifest.corpus_hash.clone(),
                    generation: manifest.generation.clone(),
                    reused: cached.reused,
                },
                mean: metrics
                    .iter()
                    .map(|m| m.to_string())
                    .zip(mean.iter().copied())
                    .collect(),
                per_query,
                queries_without_hits: without_hits,
                recall_curve: curve,
                timings: Timings {
                    index_s: cached.index_s,
                    open_s: cached.open_s,
                    search_s,
                    queries_per_s: queries.len() as f64 / search_s.max(1e-9),
                    latency_ms: Latency::of(&latencies),
                    per_query_latency_ms: latencies,
                },
                significance: Default::default(),
            });
        }
        datasets.push(DatasetResults {
            name,
            path: data_dir.display().to_string(),
            num_queries: queries.len(),
            num_docs,
            systems: results,
        });
    }

    let mut results = Results {
        format: FORMAT.to_string(),
        format_version: FORMAT_VERSION,
        trawl_version: env!("CARGO_PKG_VERSION").to_string(),
        created_unix_s: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
        machine: Machine::current(),
        split: args.split.clone(),
        k: args.k,
        metrics: metrics.iter().map(|m| m.to_string()).collect(),
        significance: SignificanceSettings {
            baseline,
            test: test.name().to_string(),
            alpha: args.alpha,
            permutations: args.permutations,
            seed: args.seed,
            correction: "holm-bonferroni".to_string(),
        },
        datasets,
    };
    significance::apply(&mut results)?;
    let table = table::paper_table(&results, 0);
    out_dir.write_file(
        RESULTS_FILE,
        serde_json::to_string_pretty(&results)?.as_bytes(),
    )?;
    out_dir.write_file("table.md", table.markdown().as_bytes())?;
    out_dir.write_file("table.tex", table.latex().as_bytes())?;
    out_dir.write_file("table.csv", table.csv().as_bytes())?;
    out_dir.commit()?;
    print!("{}", table.markdown());
    println!(
        "wrote {} (results.json, table.md/.tex/.csv, runs/) in {:.1} s",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
