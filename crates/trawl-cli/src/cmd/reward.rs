//! `trawl reward`: scores a whole file of rollouts offline, the way `POST /reward` scores a
//! request (trawl-retrieve's `compute_rewards` with the same `RewardSpec`), reading and
//! writing JSONL or parquet (trawl-parquet). Rows stream through in batches: read, scored and
//! written a batch at a time, so memory does not grow with the file.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{bail, Context};
use serde_json::Value;
use trawl_kb::KnowledgeBase;
use trawl_parquet::{is_parquet, Column, ColumnData, ParquetTable};
use trawl_retrieve::{ItemReward, RewardItem, RewardMetric, RewardSpec, UnknownUidPolicy};

use super::serve::{load_labels, RetrieverArgs};

/// Items scored per batch: bounds memory (rows are read, scored and written a batch at a time);
/// each batch is one retrieval call over all cores.
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

/// Each row's (uid, rewrites) cells with where the row is (`file: row N`, `file:N`), streamed.
fn read_rows(args: &Args) -> anyhow::Result<Box<dyn Iterator<Item = anyhow::Result<Row>> + '_>> {
    let name = args.data.display().to_string();
    if is_parquet(&args.data) {
        let table = ParquetTable::open(&args.data)?;
        let cells = table.iter_columns(&[&args.uid_column, &args.column])?;
        return Ok(Box::new(cells.enumerate().map(move |(i, r)| {
            let mut r = r?;
            Ok(Row {
                at: format!("{name}: row {}", i + 1),
                uid: std::mem::take(&mut r[0]),
                rewrites: std::mem::take(&mut r[1]),
            })
        })));
    }
    let file = std::fs::File::open(&args.data)
        .with_context(|| format!("cannot read {}", args.data.display()))?;
    let lines = std::io::BufReader::new(file).lines().enumerate();
    Ok(Box::new(lines.filter_map(move |(i, line)| {
        let at = format!("{name}:{}", i + 1);
        let line = match line.with_context(|| at.clone()) {
            Ok(l) if l.trim().is_empty() => return None,
            Ok(l) => l,
            Err(e) => return Some(Err(e)),
        };
        let row: Value = match serde_json::from_str(&line) {
            Ok(v) => v,
            Err(e) => {
                return Some(Err(anyhow::anyhow!(
                    "{at}: expected one JSON object per line ({e})"
                )))
            }
        };
        let cell = |name: &str| -> anyhow::Result<Value> {
            lookup(&row, name).cloned().with_context(|| {
                let keys: Vec<String> = row
                    .as_object()
                    .map(|m| m.keys().map(|k| format!("`{k}`")).collect())
                    .unwrap_or_default();
                format!(
                    "{at}: no field `{name}`; the fields are {}",
                    keys.join(", ")
                )
            })
        };
        Some((|| {
            Ok(Row {
                uid: cell(&args.uid_column)?,
                rewrites: cell(&args.column)?,
                at: at.clone(),
            })
        })())
    })))
}

/// One input row: where it is, its uid cell and its rewrites cell.
struct Row {
    at: String,
    uid: Value,
    rewrites: Value,
}

/// Rows per row group of a parquet output: bounds what is held before it is written.
const OUT_GROUP_ROWS: usize = 1 << 16;

/// The output, written batch by batch as rewards come (JSONL lines or parquet row groups);
/// nothing is at the path until [`RewardOut::finish`].
enum RewardOut {
    Jsonl(trawl_store::AtomicFile),
    Parquet(Box<trawl_parquet::TableWriter>),
}

fn reward_columns(rewards: &[ItemReward]) -> Vec<Column> {
    vec![
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
    ]
}

impl RewardOut {
    fn create(path: &Path) -> anyhow::Result<Self> {
        Ok(if is_parquet(path) {
            RewardOut::Parquet(Box::new(
                trawl_parquet::TableWriter::create(path, &reward_columns(&[]))?
                    .with_row_group_rows(OUT_GROUP_ROWS),
            ))
        } else {
            RewardOut::Jsonl(trawl_store::AtomicFile::create(path)?)
        })
    }

    fn write(&mut self, rewards: &[ItemReward]) -> anyhow::Result<()> {
        match self {
            RewardOut::Parquet(w) => w.append(&reward_columns(rewards))?,
            RewardOut::Jsonl(out) => {
                for r in rewards {
                    let line =
                        serde_json::json!({"uid": r.uid, "reward": r.reward, "error": r.error});
                    serde_json::to_writer(&mut *out, &line)?;
                    out.write_all(b"\n")?;
                }
            }
        }
        Ok(())
    }

    fn finish(self) -> anyhow::Result<()> {
        match self {
            RewardOut::Parquet(w) => w.finish()?,
            RewardOut::Jsonl(out) => out.commit()?,
        }
        Ok(())
    }
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
    let mut out = RewardOut::create(&args.out)?;
    let items = read_rows(&args)?.map(|row| {
        let row = row?;
        item_of(&row.uid, &row.rewrites, &args).map_err(|m| anyhow::anyhow!("{}: {m}", row.at))
    });
    let (mut failed, mut scored, mut sum) = (0usize, 0usize, 0.0f64);
    let rows =
        trawl_retrieve::score_stream(&*retriever, items, Some(&labels), &spec, BATCH, |rewards| {
            for r in rewards {
                match r.reward {
                    Some(x) => (scored, sum) = (scored + 1, sum + x),
                    None => failed += 1,
                }
            }
            out.write(rewards)?;
            Ok(())
        })? as usize;
    out.finish()?;
    let mean = sum / scored.max(1) as f64;
    let secs = started.elapsed().as_secs_f64();
    let per_s = rows as f64 / secs.max(1e-9);
    if args.json {
        let v = serde_json::json!({
            "rows": rows, "metric": spec.metric.to_string(), "depth": spec.depth(),
            "mean_reward": mean, "errors": failed, "out": args.out, "seconds": secs,
            "rows_per_s": per_s,
        });
        println!("{v}");
    } else {
        println!(
            "{} rows scored ({} at depth {}): mean reward {mean:.4}, {failed} without a reward -> {} \
             ({per_s:.0} rows/s read, scored and written; {secs:.1} s in all)",
            rows,
            spec.metric,
            spec.depth(),
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
