//! `trawl compare`: per-metric means of several runs on the same qrels, the difference to the
//! first run, and paired significance tests (two-sided t-test, randomisation test).
//!
//! Queries: every qrels query that at least one run answers; a run that misses such a query
//! scores 0 on it (as trec_eval -c would), so all runs are paired on the same queries.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{json, Value};
use trawl_eval::metric::parse_list;
use trawl_eval::significance::{
    paired_columns, paired_p_value, PairedTest, TestSettings, DEFAULT_PERMUTATIONS,
};
use trawl_eval::{EvalOptions, Evaluation};

use super::eval::{emit, evaluate_files, read_permissive_qrels, DEFAULT_METRICS};

#[derive(clap::Args)]
pub struct Args {
    /// Relevance judgements: TREC qrels or BEIR TSV.
    #[arg(long)]
    qrels: PathBuf,
    /// Two or more runs in TREC format; the first is the baseline.
    #[arg(required = true, num_args = 2..)]
    runs: Vec<PathBuf>,
    /// Comma-separated metrics: ndcg@K, recall@K, mrr@K, map@K (or map), p@K, hit@K.
    #[arg(long, default_value = DEFAULT_METRICS)]
    metrics: String,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Seed of the randomisation test (same seed, same p-values).
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Random sign assignments in the randomisation test.
    #[arg(long, default_value_t = DEFAULT_PERMUTATIONS)]
    permutations: usize,
    /// Significance level for the markers.
    #[arg(long, default_value_t = 0.05)]
    alpha: f64,
    /// Drop retrieved documents whose id equals the query id.
    #[arg(long)]
    ignore_identical_ids: bool,
    /// Minimum grade that counts as relevant.
    #[arg(long, default_value_t = 1)]
    relevance_threshold: i32,
}

struct Row {
    run: String,
    mean: f64,
    delta: Option<f64>,
    p_t: Option<f64>,
    p_rand: Option<f64>,
}

fn run_name(path: &std::path::Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let metrics = parse_list(&args.metrics)?;
    if metrics.is_empty() {
        anyhow::bail!("--metrics is empty; give e.g. ndcg@10,recall@100");
    }
    let opts = EvalOptions {
        relevance_threshold: args.relevance_threshold,
        ignore_identical_ids: args.ignore_identical_ids,
        max_docs: None,
    };
    let qrels = read_permissive_qrels(&args.qrels)?;
    let evals: Vec<Evaluation> = args
        .runs
        .iter()
        .map(|r| evaluate_files(&qrels, r, &metrics, &opts))
        .collect::<anyhow::Result<_>>()?;
    let per_query: Vec<_> = evals.iter().map(|e| &e.per_query).collect();
    let (queries, _) = paired_columns(&per_query, 0);
    for (path, e) in args.runs.iter().zip(&evals) {
        let missing = queries.len() - e.per_query.len();
        if missing > 0 {
            eprintln!(
                "note: {} has no results for {missing} of the {} compared queries; they score 0",
                path.display(),
                queries.len()
            );
        }
    }
    let settings = |test| TestSettings {
        test,
        permutations: args.permutations,
        seed: args.seed,
    };
    let mut table: Vec<(String, Vec<Row>)> = Vec::new();
    for (m, metric) in metrics.iter().enumerate() {
        let (_, columns) = paired_columns(&per_query, m);
        let base = &columns[0];
        let mut rows = Vec::new();
        for (i, (path, col)) in args.runs.iter().zip(&columns).enumerate() {
            let mean = col.iter().sum::<f64>() / col.len() as f64;
            let (delta, p_t, p_rand) = if i == 0 || col.len() < 2 {
                (None, None, None)
            } else {
                let base_mean = base.iter().sum::<f64>() / base.len() as f64;
                let t = paired_p_value(col, base, &settings(PairedTest::TTest))?;
                let r = paired_p_value(col, base, &settings(PairedTest::Randomisation))?;
                (Some(mean - base_mean), Some(t), Some(r))
            };
            rows.push(Row {
                run: run_name(path),
                mean,
                delta,
                p_t,
                p_rand,
            });
        }
        table.push((metric.to_string(), rows));
    }
    if args.json {
        let metrics_json: serde_json::Map<String, Value> = table
            .iter()
            .map(|(m, rows)| {
                let rows: Vec<Value> = rows
                    .iter()
                    .map(|r| json!({"run": r.run, "mean": r.mean, "delta": r.delta, "p_ttest": r.p_t, "p_randomisation": r.p_rand}))
                    .collect();
                (m.clone(), Value::Array(rows))
            })
            .collect();
        let out = json!({
            "runs": args.runs.iter().map(|p| p.display().to_string()).collect::<Vec<_>>(),
            "num_queries": queries.len(),
            "seed": args.seed,
            "permutations": args.permutations,
            "metrics": metrics_json,
        });
        emit(&format!("{out}\n"))?;
    } else {
        emit(&render(&table, args.alpha, queries.len(), &args))?;
    }
    Ok(ExitCode::SUCCESS)
}

fn render(table: &[(String, Vec<Row>)], alpha: f64, n: usize, args: &Args) -> String {
    let mw = table.iter().map(|(m, _)| m.len()).max().unwrap_or(0).max(6);
    let rw = table
        .iter()
        .flat_map(|(_, rows)| rows.iter().map(|r| r.run.len()))
        .max()
        .unwrap_or(0)
        .max(3);
    let p = |v: Option<f64>, mark: &str| match v {
        Some(p) if p < alpha => format!("{p:.4}{mark}"),
        Some(p) => format!("{p:.4} "),
        None => "-".to_string(),
    };
    let mut out = format!(
        "{:<mw$}  {:<rw$}  {:>7}  {:>8}  {:>8}  {:>8}\n",
        "metric", "run", "mean", "delta", "p(t)", "p(rand)"
    );
    for (metric, rows) in table {
        for (i, r) in rows.iter().enumerate() {
            let name = if i == 0 { metric.as_str() } else { "" };
            let delta = r.delta.map_or("-".to_string(), |d| format!("{d:+.4}"));
            out.push_str(&format!(
                "{name:<mw$}  {:<rw$}  {:>7.4}  {delta:>8}  {:>8}  {:>8}\n",
                r.run,
                r.mean,
                p(r.p_t, "*"),
                p(r.p_rand, "†")
            ));
        }
    }
    out.push_str(&format!(
        "queries: {n}; delta and p-values against {}; * paired t-test p < {alpha}, † randomisation test p < {alpha} ({} permutations, seed {})\n",
        table.first().and_then(|(_, r)| r.first()).map_or("", |r| r.run.as_str()),
        args.permutations,
        args.seed
    ));
    out
}
