//! `trawl prep msmarco|wiki`: corpus preparation (trawl-prep) with progress and a summary.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Subcommand;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use trawl_prep::{msmarco, wiki};

#[derive(Subcommand)]
pub enum Command {
    /// MS MARCO passage files (collection.tsv, queries.*.tsv, qrels.*.tsv, triples) -> a BEIR
    /// folder (corpus.jsonl, queries.jsonl, qrels/{train,dev}.tsv) plus triplets JSONL.
    Msmarco(MsmarcoArgs),
    /// A Wikipedia dump (.xml or .xml.bz2, or `title<TAB>text` lines) -> 100-word passages
    /// JSONL with titles, markup removed (the DPR recipe).
    Wiki(WikiArgs),
}

#[derive(clap::Args)]
pub struct MsmarcoArgs {
    /// Folder holding the official MS MARCO passage files (also as .gz).
    pub dir: PathBuf,
    /// Output BEIR folder (written to a temporary folder and renamed into place).
    #[arg(long)]
    pub out: PathBuf,
    /// Read at most this many training triples (the first ones in file order).
    #[arg(long)]
    pub max_train_samples: Option<u64>,
    /// Fraction of training queries whose triples go to triplets.train.jsonl; the rest go to
    /// triplets.val.jsonl (split by query, seeded).
    #[arg(long, default_value_t = 1.0)]
    pub split_ratio: f64,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// A triples file to use instead of qidpidtriples.train.full.2.tsv / triples.train.small.tsv.
    #[arg(long)]
    pub triples: Option<PathBuf>,
    /// Replace an existing --out folder.
    #[arg(long)]
    pub force: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(clap::Args)]
pub struct WikiArgs {
    /// pages-articles XML dump (.xml or .xml.bz2) or plain text (`title<TAB>text` per line).
    pub dump: PathBuf,
    /// Output passages JSONL (`{"id", "title", "text"}`).
    #[arg(long)]
    pub out: PathBuf,
    /// Stop after this many passages.
    #[arg(long)]
    pub num_passages: Option<u64>,
    /// Leave out passages with fewer words.
    #[arg(long, default_value_t = 1)]
    pub min_words: usize,
    /// Words per passage (DPR: 100).
    #[arg(long, default_value_t = 100)]
    pub words: usize,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Msmarco(args) => run_msmarco(args),
        Command::Wiki(args) => run_wiki(args),
    }
}

fn spinner(hidden: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        None,
        if hidden {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}: {human_pos} records ({per_sec}, {elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar
}

fn run_msmarco(args: MsmarcoArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    trawl_store::refuse_output_containing(&args.out, &[args.dir.as_path()])?;
    if args.out.exists() && !args.force {
        bail!(
            "{}: already exists; pass --force to replace it",
            args.out.display()
        );
    }
    let options = msmarco::Options {
        max_train_samples: args.max_train_samples,
        split_ratio: args.split_ratio,
        seed: args.seed,
        triples: args.triples.clone(),
    };
    let sources = msmarco::Sources::locate(&args.dir, options.triples.as_deref())?;
    let dir = trawl_store::AtomicDir::create(&args.out)?;
    let bar = spinner(args.json);
    let stage = std::cell::RefCell::new(String::new());
    let progress = |name: &str, n: u64| {
        if *stage.borrow() != name {
            *stage.borrow_mut() = name.to_string();
            bar.set_message(name.to_string());
            bar.reset();
        }
        bar.set_position(n);
    };
    let summary = msmarco::prepare(&sources, dir.path(), &options, &progress)?;
    bar.finish_and_clear();
    dir.commit()
        .with_context(|| format!("writing {}", args.out.display()))?;
    let secs = started.elapsed().as_secs_f64();
    if args.json {
        let mut v = serde_json::to_value(&summary)?;
        v["out"] = serde_json::json!(args.out);
        v["seconds"] = serde_json::json!(secs);
        println!("{v}");
    } else {
        let queries: Vec<String> = summary
            .queries
            .iter()
            .map(|(f, n)| format!("{n} from {f}"))
            .collect();
        let qrels: Vec<String> = summary
            .qrels
            .iter()
            .map(|(s, n)| format!("{n} {s}"))
            .collect();
        println!(
            "{} passages, queries: {}, judgements: {}",
            summary.passages,
            queries.join(", "),
            qrels.join(", ")
        );
        if let Some(format) = summary.triples_format {
            println!(
                "{} triples read ({format:?}) -> {} train, {} validation{}",
                summary.triples_read,
                summary.triplets_train,
                summary.triplets_val,
                if summary.triples_empty > 0 {
                    format!(", {} left out (an empty text)", summary.triples_empty)
                } else {
                    String::new()
                }
            );
        } else {
            println!("no training triples found (qidpidtriples.train.full.2.tsv or triples.train.small.tsv)");
        }
        println!("-> {} in {secs:.1} s", args.out.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn run_wiki(args: WikiArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    trawl_store::refuse_output_containing(&args.out, &[args.dump.as_path()])?;
    if args.out == args.dump {
        bail!("--out {} is the dump itself", args.out.display());
    }
    let total = std::fs::metadata(&args.dump)
        .with_context(|| format!("reading {}", args.dump.display()))?
        .len();
    let options = wiki::Options {
        words_per_passage: args.words,
        num_passages: args.num_passages,
        min_words: args.min_words,
    };
    let bar = ProgressBar::with_draw_target(
        Some(total),
        if args.json {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut out = trawl_store::AtomicFile::create(&args.out)?;
    let summary = wiki::prepare(&args.dump, &mut out, &options, |s| {
        if s.articles % 256 == 0 {
            bar.set_position(s.bytes_read);
            bar.set_message(format!("{} articles, {} passages", s.articles, s.passages));
        }
    })?;
    out.commit()?;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let mb_per_s = summary.bytes_read as f64 / 1e6 / secs.max(1e-9);
    if args.json {
        let mut v = serde_json::to_value(&summary)?;
        v["out"] = serde_json::json!(args.out);
        v["seconds"] = serde_json::json!(secs);
        v["mb_per_s"] = serde_json::json!(mb_per_s);
        println!("{v}");
    } else {
        println!(
            "{} pages: {} articles, {} redirects and {} other-namespace pages skipped",
            summary.pages.pages,
            summary.articles,
            summary.pages.redirects,
            summary.pages.other_namespaces
        );
        println!(
            "{} passages ({} shorter than {} words left out) -> {} in {secs:.1} s ({mb_per_s:.1} MB/s)",
            summary.passages,
            summary.short_passages,
            args.min_words,
            args.out.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}
