//! `trawl eval`: evaluate a run with BEIR-style metric names, as a table or JSON.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use serde_json::{json, Map, Value};
use trawl_data::trec_format::{parse_run, read_qrels, read_text, Dialect, QrelsTable};
use trawl_eval::metric::parse_list;
use trawl_eval::{evaluate_table, EvalOptions, Evaluation, Metric};

/// The metrics `trawl eval` and `trawl compare` report when none are given.
pub const DEFAULT_METRICS: &str = "ndcg@10,recall@100,mrr@10,map@100";

#[derive(clap::Args)]
pub struct Args {
    /// Relevance judgements: TREC qrels (`qid 0 docid rel`) or BEIR TSV (`query-id corpus-id score`).
    #[arg(long)]
    qrels: PathBuf,
    /// Run in TREC format (`qid Q0 docid rank score tag`); `.gz` is read transparently.
    #[arg(long)]
    run: PathBuf,
    /// Comma-separated metrics: ndcg@K, recall@K, mrr@K, map@K (or map), p@K, hit@K.
    #[arg(long, default_value = DEFAULT_METRICS)]
    metrics: String,
    /// Also report every query's values.
    #[arg(long)]
    per_query: bool,
    /// Print one JSON object instead of a table.
    #[arg(long)]
    json: bool,
    /// Drop retrieved documents whose id equals the query id (BEIR does this for ArguAna, Quora).
    #[arg(long)]
    ignore_identical_ids: bool,
    /// Minimum grade that counts as relevant (graded qrels); nDCG gains stay the grades.
    #[arg(long, default_value_t = 1)]
    relevance_threshold: i32,
}

/// Reads the qrels of `eval` and `compare`: the one reader's permissive dialect (as `check`,
/// `beir` and the reward labels read them).
pub fn read_permissive_qrels(path: &Path) -> anyhow::Result<QrelsTable> {
    Ok(read_qrels(path, Dialect::Permissive)?)
}

/// Reads a run and evaluates it (the shared path of `eval` and `compare`).
pub fn evaluate_files(
    qrels: &QrelsTable,
    run_path: &Path,
    metrics: &[Metric],
    opts: &EvalOptions,
) -> anyhow::Result<Evaluation> {
    let text = read_text(run_path)?;
    let run = parse_run(&text, run_path, Dialect::Permissive)?;
    evaluate_table(qrels, run, metrics, opts)
        .with_context(|| format!("evaluating {}", run_path.display()))
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
    let eval = evaluate_files(&qrels, &args.run, &metrics, &opts)?;
    if args.json {
        emit(&format!("{}\n", to_json(&eval, args.per_query)))?;
    } else {
        emit(&table(&eval, args.per_query))?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
pub fn emit(text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

fn metric_map(metrics: &[Metric], values: &[f64]) -> Value {
    let map: Map<String, Value> = metrics
        .iter()
        .zip(values)
        .map(|(m, v)| (m.to_string(), json!(v)))
        .collect();
    Value::Object(map)
}

/// `{"metrics": {...}, "num_queries": n, "per_query": {...}?}`.
pub fn to_json(eval: &Evaluation, per_query: bool) -> Value {
    let mut obj = Map::new();
    obj.insert("metrics".into(), metric_map(&eval.metrics, &eval.mean));
    obj.insert("num_queries".into(), json!(eval.per_query.len()));
    if per_query {
        let pq: Map<String, Value> = eval
            .per_query
            .iter()
            .map(|(q, v)| (q.clone(), metric_map(&eval.metrics, v)))
            .collect();
        obj.insert("per_query".into(), Value::Object(pq));
    }
    Value::Object(obj)
}

/// An aligned text table: metric and value (and per-query columns when asked).
pub fn table(eval: &Evaluation, per_query: bool) -> String {
    let names: Vec<String> = eval.metrics.iter().map(|m| m.to_string()).collect();
    let mut out = String::new();
    if per_query {
        let qw = eval
            .per_query
            .keys()
            .map(|q| q.len())
            .max()
            .unwrap_or(0)
            .max(5);
        let widths: Vec<usize> = names.iter().map(|n| n.len().max(6)).collect();
        out.push_str(&format!("{:<qw$}", "query"));
        for (n, w) in names.iter().zip(&widths) {
            out.push_str(&format!("  {n:>w$}"));
        }
        out.push('\n');
        let rows = eval.per_query.iter().map(|(q, v)| (q.as_str(), v));
        for (q, v) in rows.chain(std::iter::once(("mean", &eval.mean))) {
            out.push_str(&format!("{q:<qw$}"));
            for (x, w) in v.iter().zip(&widths) {
                out.push_str(&format!("  {x:>w$.4}"));
            }
            out.push('\n');
        }
    } else {
        let w = names.iter().map(|n| n.len()).max().unwrap_or(0).max(6);
        out.push_str(&format!("{:<w$}  {:>6}\n", "metric", "value"));
        for (n, v) in names.iter().zip(&eval.mean) {
            out.push_str(&format!("{n:<w$}  {v:>6.4}\n"));
        }
    }
    out.push_str(&format!("queries: {}\n", eval.per_query.len()));
    out
}
