//! `trawl reward`: scores a whole file of rollouts offline, the way `POST /reward` scores a
//! request (trawl-retrieve's `compute_rewards` with the same `RewardSpec`), reading and
//! writing JSONL or parquet (trawl-parquet).

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use serde_json::Value;
use trawl_kb::KnowledgeBase;
use trawl_parquet::{is_parquet, Column, ColumnData, ParquetTable};
use trawl_retrieve::{
    compute_rewards, ItemReward, RewardItem, RewardMetric, RewardSpec, UnknownUidPolicy,
};

use super::serve::{load_labels, RetrieverArgs};

/// Items scored per batch: bounds memory; each batch is one retrieval call over all cores.
const BATCH: usize = 4096;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Knowledge base directory (`trawl kb build`).
    #[arg(long)]
    pub kb: PathBuf,
    /// Labels: TREC qrels, BEIR qrels TSV, JSON {uid: [doc ids]}, or parquet
    /// (`query-id`, `corpus-id`, `score`).
    #[arg(long, value_name = "QRELS")]
    pub labels: PathBuf,
    /// Rollouts: .parquet or JSONL, one row per item.
    #[arg(long)]
    pub data: PathBuf,
    /// The column holding the rewrites: a string (one rewrite) or a list of strings. Dotted
    /// names reach into structs (`extra_info.rewrites`).
    #[arg(long, default_value = "rewrites")]
    pub column: String,
    /// The column holding each row's uid (looked up in the labels).
    #[arg(long, default_value = "uid")]
    pub uid_column: String,
    /// Reward metric family: ndcg, recall, hit, mrr or precision.
    #[arg(long, default_value = "ndcg")]
    pub method: String,
    /// Cut-off of the metric (ndcg@K) and documents retrieved per rewrite.
    #[arg(short, long, default_value_t = 10)]
    pub k: usize,
    /// How the rewrites of one row combine: single (mean of per-rewrite rewards), union or
    /// intersection (the fused ranking's reward).
    #[arg(long, default_value = "single")]
    pub mode: String,
    /// Fusion of rewrites in union/intersection mode: rrf or max_score.
    #[arg(long, default_value = "rrf")]
    pub fuse: String,
    /// bm25, dense or hybrid.
    #[arg(long, default_value = "bm25")]
    pub retriever: String,
    #[command(flatten)]
    pub retriever_args: RetrieverArgs,
    /// Reward for rows whose uid has no labels (default: null with an error).
    #[arg(long, value_name = "REWARD")]
    pub unknown_uid_reward: Option<f64>,
    /// Output: .parquet or JSONL with `uid`, `reward`, `error`, in input order.
    #[arg(long)]
    pub out: PathBuf,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// A JSON cell as a uid: a string or an integer.
fn uid_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// A dotted path into a JSON object.
fn lookup<'a>(row: &'a Value, path: &str) -> Option<&'a Value> {
    row.get(path)
        .or_else(|| path.split('.').try_fold(row, |v, key| v.get(key)))
}

/// One row -> a reward item, or what is wrong with it.
fn item_of(uid: &Value, rewrites: &Value, args: &Args) -> Result<RewardItem, String> {
    let uid = uid_of(uid).ok_or_else(|| {
        format!(
            "`{}` is {uid}; expected a string or an integer uid",
            args.uid_column
        )
    })?;
    let queries = match rewrites {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| format!("`{}` holds a non-string rewrite", args.column))?,
        other => {
            return Err(format!(
                "`{}` is {other}; expected a string or a non-empty list of strings",
                args.column
            ))
        }
    };
    Ok(RewardItem {
        uid,
        queries,
        relevant: None,
    })
}

/// Reads every row's (uid, rewrites) cells.
fn read_rows(args: &Args) -> anyhow::Result<Vec<[Value; 2]>> {
    if is_parquet(&args.data) {
        let table = ParquetTable::open(&args.data)?;
        let cells = table.read_columns(&[&args.uid_column, &args.column])?;
        return Ok(cells
            .into_iter()
            .map(|mut r| [std::mem::take(&mut r[0]), std::mem::take(&mut r[1])])
            .collect());
    }
    let file = std::fs::File::open(&args.data)
        .with_context(|| format!("cannot read {}", args.data.display()))?;
    let mut rows = Vec::new();
    for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.with_context(|| format!("{}:{}", args.data.display(), i + 1))?;
        if line.trim().is_empty() {
            continue;
        }
        let row: Value = serde_json::from_str(&line).with_context(|| {
            format!(
                "{}:{}: expected one JSON object per line",
                args.data.display(),
                i + 1
            )
        })?;
        let cell = |name: &str| -> anyhow::Result<Value> {
            lookup(&row, name).cloned().with_context(|| {
                let keys: Vec<String> = row
                    .as_object()
                    .map(|m| m.keys().map(|k| format!("`{k}`")).collect())
                    .unwrap_or_default();
                format!(
                    "{}:{}: no field `{name}`; the fields are {}",
                    args.data.display(),
                    i + 1,
                    keys.join(", ")
                )
            })
        };
        rows.push([cell(&args.uid_column)?, cell(&args.column)?]);
    }
    Ok(rows)
}

fn write_rewards(path: &Path, rewards: &[ItemReward]) -> anyhow::Result<()> {
    if is_parquet(path) {
        let columns = vec![
            Column {
                name: "uid".into(),
                data: ColumnData::Utf8(rewards.iter().map(|r| Some(r.uid.clone())).collect()),
            },
            Column {
                name: "reward".into(),
                data: ColumnData::F64(rewards.iter().map(|r| r.reward).collect()),
            },
            Column {
                name: "error".into(),
                data: ColumnData::Utf8(rewards.iter().map(|r| r.error.clone()).collect()),
            },
        ];
        trawl_parquet::write_table(path, &columns)?;
        return Ok(());
    }
    let mut out = trawl_store::AtomicFile::create(path)?;
    for r in rewards {
        let line = serde_json::json!({"uid": r.uid, "reward": r.reward, "error": r.error});
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.commit()?;
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    trawl_store::refuse_output_containing(&args.out, &[&args.data, &args.labels, &args.kb])?;
    if args.out == args.data || args.out == args.labels {
        bail!("--out {} would overwrite an input", args.out.display());
    }
    let metric: RewardMetric = format!("{}@{}", args.method, args.k).parse()?;
    let spec = RewardSpec {
        k: args.k,
        mode: args.mode.parse()?,
        fusion: args.fuse.parse()?,
        metric,
        unknown_uid: args
            .unknown_uid_reward
            .map_or(UnknownUidPolicy::Error, UnknownUidPolicy::Default),
    };
    let labels = load_labels(&args.labels)?;
    let kb = Arc::new(
        KnowledgeBase::open(&args.kb)
            .with_context(|| format!("cannot open the knowledge base {}", args.kb.display()))?,
    );
    // Labels name documents: on a chunked KB, documents ranked by their best chunk (MaxP).
    let retriever = trawl_retrieve::collapse_chunks(trawl_retrieve::open_named(
        kb,
        &args.retriever,
        &args.retriever_args.options(),
    )?);
    let read_started = Instant::now();
    let rows = read_rows(&args)?;
    let read_secs = read_started.elapsed().as_secs_f64();
    let items = rows
        .iter()
        .enumerate()
        .map(|(i, [uid, rewrites])| {
            item_of(uid, rewrites, &args)
                .map_err(|m| anyhow::anyhow!("{}: row {}: {m}", args.data.display(), i + 1))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    drop(rows);
    let score_started = Instant::now();
    let mut rewards = Vec::with_capacity(items.len());
    for batch in items.chunks(BATCH) {
        rewards.extend(compute_rewards(&*retriever, batch, Some(&labels), &spec)?);
    }
    let score_secs = score_started.elapsed().as_secs_f64();
    let write_started = Instant::now();
    write_rewards(&args.out, &rewards)?;
    let write_secs = write_started.elapsed().as_secs_f64();
    let failed = rewards.iter().filter(|r| r.reward.is_none()).count();
    let scored: Vec<f64> = rewards.iter().filter_map(|r| r.reward).collect();
    let mean = scored.iter().sum::<f64>() / scored.len().max(1) as f64;
    let secs = started.elapsed().as_secs_f64();
    let per_s = items.len() as f64 / score_secs.max(1e-9);
    if args.json {
        let v = serde_json::json!({
            "rows": items.len(), "metric": spec.metric.to_string(), "depth": spec.depth(),
            "mean_reward": mean, "errors": failed, "out": args.out, "seconds": secs,
            "read_seconds": read_secs, "score_seconds": score_secs, "write_seconds": write_secs,
            "rows_per_s": per_s,
        });
        println!("{v}");
    } else {
        println!(
            "{} rows scored ({} at depth {}): mean reward {mean:.4}, {failed} without a reward -> {} \
             ({per_s:.0} rows/s scoring, {secs:.1} s in all)",
            items.len(),
            spec.metric,
            spec.depth(),
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
