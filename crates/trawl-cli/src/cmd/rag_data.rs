//! `trawl rag-data --kb KB --conversations IN.jsonl --out OUT.jsonl`: conversations with
//! retrieval messages (single or multi-hop); `--example DIR` writes a small ready-made set.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use trawl_kb::{KbBuildOptions, KnowledgeBase};
use trawl_rag::{HopOptions, NextQuery, RagData, RagOptions, Turns};

use super::search::RetrieverArg;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum TurnsArg {
    All,
    Last,
}

#[derive(clap::Args)]
pub struct Args {
    /// The knowledge base to retrieve from.
    #[arg(long, required_unless_present = "example")]
    pub kb: Option<PathBuf>,
    /// Conversations, JSONL (.gz ok): {"messages": [{"role", "content"}, ...]} a line.
    #[arg(long, required_unless_present = "example")]
    pub conversations: Option<PathBuf>,
    /// Where to write the conversations with retrieval messages (JSONL).
    #[arg(long, required_unless_present = "example")]
    pub out: Option<PathBuf>,
    /// Write a small seeded example into DIR (docs.jsonl, conversations.jsonl, kb/, rag.jsonl,
    /// rag_multihop.jsonl) and run rag-data on it.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["kb", "conversations", "out"])]
    pub example: Option<PathBuf>,
    /// Seed of --example.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Documents of --example.
    #[arg(long, default_value_t = 60)]
    pub num_docs: usize,
    /// Conversations of --example.
    #[arg(long, default_value_t = 20)]
    pub num_conversations: usize,
    /// Retriever (dense and hybrid need a KB with vectors).
    #[arg(long, value_enum, default_value_t = RetrieverArg::Bm25)]
    pub retriever: RetrieverArg,
    /// Embedding model for dense/hybrid queries (default: the KB's); with --example, the KB
    /// gets vectors from it.
    #[arg(long)]
    pub model: Option<String>,
    /// How --model runs (default: queries as the KB's documents were encoded).
    #[command(flatten)]
    pub quantize: super::QuantizeArg,
    /// Documents per retrieval message.
    #[arg(short = 'k', long, default_value_t = 5)]
    pub top_k: usize,
    /// Words of each document's text kept in its `content`.
    #[arg(long, default_value_t = 300)]
    pub max_doc_words: usize,
    /// A retrieval message before every user turn, or only before the last.
    #[arg(long, value_enum, default_value_t = TurnsArg::All)]
    pub turns: TurnsArg,
    /// Multi-hop: up to this many retrievals per turn, each next query from the previous
    /// hop's documents.
    #[arg(long)]
    pub max_hops: Option<usize>,
    /// Multi-hop: new documents per hop.
    #[arg(long, default_value_t = 3)]
    pub top_k_per_hop: usize,
    /// Multi-hop: expansion terms added to the question (pseudo-relevance feedback).
    #[arg(long, default_value_t = trawl_rag::hops::DEFAULT_EXPANSION_TERMS)]
    pub expansion_terms: usize,
    /// Multi-hop: a shell command that writes the next query instead (reads
    /// {"question","hop","queries","documents"} as JSON on stdin; empty output stops).
    #[arg(long, value_name = "CMD")]
    pub next_query_cmd: Option<String>,
    /// Multi-hop: write one JSON line per hop (query, why, documents) and per stop here.
    #[arg(long, value_name = "FILE")]
    pub hop_log: Option<PathBuf>,
    /// Conversations retrieved for together.
    #[arg(long, default_value_t = 256)]
    pub batch: usize,
}

fn options(args: &Args) -> anyhow::Result<RagOptions> {
    if args.max_hops.is_none() && (args.next_query_cmd.is_some() || args.hop_log.is_some()) {
        anyhow::bail!("--next-query-cmd and --hop-log are for multi-hop: add --max-hops N");
    }
    Ok(RagOptions {
        top_k: args.top_k,
        max_doc_words: args.max_doc_words,
        turns: match args.turns {
            TurnsArg::All => Turns::All,
            TurnsArg::Last => Turns::Last,
        },
        hops: args.max_hops.map(|max_hops| HopOptions {
            max_hops,
            top_k_per_hop: args.top_k_per_hop,
            next: match &args.next_query_cmd {
                Some(cmd) => NextQuery::Command(cmd.clone()),
                None => NextQuery::Feedback {
                    terms: args.expansion_terms,
                },
            },
        }),
    })
}

/// Runs rag-data from `conversations` into `out`; returns the conversations written and seconds.
fn generate(
    kb: &Path,
    conversations: &Path,
    out: &Path,
    hop_log: Option<&Path>,
    args: &Args,
    options: RagOptions,
) -> anyhow::Result<(u64, f64)> {
    trawl_store::refuse_output_containing(out, &[kb, conversations])?;
    let kb = Arc::new(
        KnowledgeBase::open(kb)
            .with_context(|| format!("opening knowledge base {}", kb.display()))?,
    );
    super::kb::report_recovery(kb.recovered());
    let opts = trawl_retrieve::KbRetrieverOptions {
        model: args.model.clone(),
        quantize: args.quantize.quantize,
        ..Default::default()
    };
    let retriever = trawl_retrieve::open_named(kb, args.retriever.name(), &opts)?;
    let rag = RagData::new(&*retriever, options)?;
    let records = read_conversations(conversations)?;
    let mut file = trawl_store::AtomicFile::create(out)
        .with_context(|| format!("creating {}", out.display()))?;
    let mut log = match hop_log {
        Some(p) => Some((
            trawl_store::AtomicFile::create(p)
                .with_context(|| format!("creating {}", p.display()))?,
            p,
        )),
        None => None,
    };
    let line = |w: &mut dyn Write, v: &serde_json::Value, path: &Path| -> trawl_rag::Result<()> {
        let io = |source| trawl_rag::Error::Io {
            path: path.to_path_buf(),
            source,
        };
        serde_json::to_writer(&mut *w, v).map_err(|e| io(e.into()))?;
        w.write_all(b"\n").map_err(io)
    };
    let start = Instant::now();
    let n = rag.run(
        records,
        args.batch,
        |c| line(&mut file, c, out),
        |l| match &mut log {
            Some((f, p)) => line(f, l, p),
            None => Ok(()),
        },
    )?;
    let secs = start.elapsed().as_secs_f64();
    file.commit()?;
    if let Some((f, _)) = log {
        f.commit()?;
    }
    Ok((n, secs))
}

fn write_jsonl<T: serde::Serialize>(path: &Path, items: &[T]) -> anyhow::Result<()> {
    let mut f = trawl_store::AtomicFile::create(path)?;
    for item in items {
        serde_json::to_writer(&mut f, item)?;
        f.write_all(b"\n")?;
    }
    f.commit()?;
    Ok(())
}

/// `--example DIR`: documents, conversations, a KB, and rag-data's output, single and multi-hop.
fn example(dir: &Path, args: &Args) -> anyhow::Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let docs = trawl_rag::example::documents(args.seed, args.num_docs.max(1));
    let conversations = trawl_rag::example::conversations(args.seed, args.num_conversations.max(1));
    let docs_path = dir.join("docs.jsonl");
    let conv_path = dir.join("conversations.jsonl");
    let flat: Vec<serde_json::Value> = docs
        .iter()
        .map(|d| serde_json::json!({"_id": d.id, "title": d.title, "text": d.text}))
        .collect();
    write_jsonl(&docs_path, &flat)?;
    write_jsonl(&conv_path, &conversations)?;
    let kb = dir.join("kb");
    let build = KbBuildOptions {
        overwrite: true,
        ..KbBuildOptions::default()
    };
    let model = args.model.as_deref().map(|m| (m, args.quantize.get()));
    super::kb::build_with_progress(&docs_path, &kb, &build, model, None)?;
    let single = dir.join("rag.jsonl");
    let (n, _) = generate(&kb, &conv_path, &single, None, args, options(args)?)?;
    let mut multi_opts = options(args)?;
    multi_opts.hops.get_or_insert(HopOptions {
        max_hops: 3,
        top_k_per_hop: args.top_k_per_hop,
        next: NextQuery::Feedback {
            terms: args.expansion_terms,
        },
    });
    let multi = dir.join("rag_multihop.jsonl");
    let log = dir.join("hop_log.jsonl");
    generate(&kb, &conv_path, &multi, Some(&log), args, multi_opts)?;
    println!(
        "example in {}: {} documents, {n} conversations, kb/, rag.jsonl, rag_multihop.jsonl, hop_log.jsonl",
        dir.display(),
        docs.len()
    );
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.example {
        return example(dir, &args);
    }
    let (Some(kb), Some(conv), Some(out)) = (&args.kb, &args.conversations, &args.out) else {
        anyhow::bail!("--kb, --conversations and --out are required (or --example DIR)");
    };
    let (n, secs) = generate(
        kb,
        conv,
        out,
        args.hop_log.as_deref(),
        &args,
        options(&args)?,
    )?;
    println!(
        "wrote {n} conversations to {} in {secs:.2} s ({:.0} conversations/s, retriever {})",
        out.display(),
        n as f64 / secs.max(1e-9),
        args.retriever.name()
    );
    Ok(ExitCode::SUCCESS)
}

/// Conversations from JSONL, or from parquet (one row per conversation, its `messages` column a
/// list of {role, content} structs, as RL and SFT trainers keep them): the same records either way.
fn read_conversations(
    path: &Path,
) -> anyhow::Result<Box<dyn Iterator<Item = trawl_rag::Result<trawl_rag::Record>>>> {
    if trawl_parquet::is_parquet(path) {
        // Streamed: rows are decoded as the batches ask for them, never the whole file.
        let table = trawl_parquet::ParquetTable::open(path)?;
        table.find_column(
            &["messages"],
            "the conversations: a list of {role, content}",
        )?;
        let rows = table.iter_rows()?;
        let name = path.display().to_string();
        return Ok(Box::new(rows.enumerate().map(move |(i, row)| {
            let at = format!("{name}: row {}", i + 1);
            match row {
                Ok(row) => Ok(trawl_rag::Record {
                    at,
                    value: serde_json::Value::Object(row),
                }),
                Err(e) => Err(trawl_rag::Error::Conversation {
                    at,
                    message: e.to_string(),
                }),
            }
        })));
    }
    Ok(Box::new(trawl_rag::read_jsonl(path)?))
}
