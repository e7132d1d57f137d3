//! `trawl mine-negatives DATA --retriever bm25|dense [--model M] --num 5 [--range 10-100]
//! [--margin 0.05] --out train.jsonl`: hard negatives for training, positives excluded, likely
//! false negatives (too close to the positive) dropped.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use trawl_train::data::{eval_set_from_examples, read_beir_split, read_examples};
use trawl_train::mining::{
    bm25_candidates, dense_candidates, mine, parse_range, write_jsonl, MiningConfig, ScoreKind,
};
use trawl_train::model::{resolve_model_dir, LoadOptions, SentenceModel};

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetrieverKind {
    Bm25,
    Dense,
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// A BEIR folder (queries, corpus, --split qrels) or JSONL pairs (the corpus is then every
    /// positive and negative in the file).
    pub data: PathBuf,
    /// Qrels split of a BEIR folder.
    #[arg(long, default_value = "train")]
    pub split: String,
    /// Where candidates come from.
    #[arg(long, value_enum, default_value_t = RetrieverKind::Bm25)]
    pub retriever: RetrieverKind,
    /// Model for --retriever dense.
    #[arg(long, default_value = "all-MiniLM-L6-v2")]
    pub model: String,
    /// Negatives per query.
    #[arg(long, default_value_t = 5)]
    pub num: usize,
    /// Candidate ranks to draw from, FROM-TO (1-based, inclusive).
    #[arg(long, default_value = "1-100")]
    pub range: String,
    /// Drop candidates scoring within this margin of the positive (cosine: absolute; BM25:
    /// relative to the positive's score).
    #[arg(long)]
    pub margin: Option<f64>,
    /// top, random or semi-hard.
    #[arg(long, default_value = "top")]
    pub strategy: String,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Texts per forward pass (dense).
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Output JSONL (written atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// Print a JSON summary on stdout.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let range = parse_range(&args.range)?;
    let cfg = MiningConfig {
        num: args.num,
        range,
        margin: args.margin,
        strategy: args.strategy.parse()?,
        seed: args.seed,
        ..Default::default()
    };
    let set = if args.data.is_dir() {
        read_beir_split(&args.data, &args.split)?
    } else {
        let ex = read_examples(&args.data, &args.split)?;
        eval_set_from_examples(&ex, &[])
    };
    let k = range.1 + 16;
    let spinner = indicatif::ProgressBar::new_spinner();
    if args.json {
        spinner.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    spinner.enable_steady_tick(std::time::Duration::from_millis(200));
    spinner.set_message(format!(
        "retrieving candidates for {} queries over {} documents",
        set.queries.len(),
        set.corpus.len()
    ));
    let (cands, kind) = match args.retriever {
        RetrieverKind::Bm25 => (bm25_candidates(&set, k)?, ScoreKind::Bm25),
        RetrieverKind::Dense => {
            let dir = resolve_model_dir(&args.model)?;
            let model = SentenceModel::load(&dir, &LoadOptions::default())
                .with_context(|| format!("loading {}", dir.display()))?;
            (
                dense_candidates(&model, &set, k, args.batch_size)?,
                ScoreKind::Cosine,
            )
        }
    };
    spinner.finish_and_clear();
    let mined = mine(&set, &cands, kind, &cfg)?;
    write_jsonl(&args.out, &mined)?;
    let with_negs = mined.iter().filter(|m| !m.negatives.is_empty()).count();
    let total_negs: usize = mined.iter().map(|m| m.negatives.len()).sum();
    if args.json {
        let out = serde_json::json!({"out": args.out, "lines": mined.len(), "lines_with_negatives": with_negs, "negatives": total_negs});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        println!(
            "{} lines ({} with negatives, {:.2} negatives per line) -> {}",
            mined.len(),
            with_negs,
            total_negs as f64 / mined.len().max(1) as f64,
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
