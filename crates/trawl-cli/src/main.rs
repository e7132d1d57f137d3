//! `trawl`: a thin command-line layer over the trawl library crates. Only this crate prints.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;

/// Retrieval for RAG: build knowledge bases, retrieve (BM25, dense, hybrid), evaluate, train, serve.
#[derive(Parser)]
#[command(name = "trawl", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Drop-in for trec_eval 10.0: `trawl trec-eval [-q] [-c] [-m MEASURE] QRELS RUN`.
    TrecEval(cmd::trec_eval::Args),
    /// Evaluate a run against qrels with BEIR-style metric names (nDCG@10, Recall@100, ...).
    Eval(cmd::eval::Args),
    /// Compare runs: per-metric means, deltas, paired t-test and randomisation test.
    Compare(cmd::compare::Args),
    /// Build and inspect knowledge bases.
    #[command(subcommand)]
    Kb(cmd::kb::Command),
    /// Cut documents into passages (by sentence, word or token, with overlap) as JSONL.
    Chunk(cmd::chunk::Args),
    /// Conversations with retrieval messages (single or multi-hop) for RAG fine-tuning.
    RagData(cmd::rag_data::Args),
    /// Search a knowledge base.
    Search(cmd::search::Args),
    /// Rerank an existing run file with a cross-encoder.
    Rerank(cmd::rerank::Args),
    /// Run a retriever over a whole BEIR dataset and evaluate it.
    Beir(cmd::beir::Args),
    /// Several systems on several BEIR datasets: run files, results.json, paper table.
    Bench(cmd::bench::Args),
    /// One self-contained HTML report (tables, charts) from bench results, train logs, ANN JSON.
    Report(cmd::report::Args),
    /// Encode texts with a sentence-embedding model into a .npy file.
    Encode(cmd::encode::Args),
    /// Embedding-space statistics (isotropy, effective rank, alignment, uniformity).
    #[command(subcommand)]
    Embeddings(cmd::embeddings::Command),
    /// Serve search, batched retrieval and RL rewards over HTTP.
    Serve(cmd::serve::Args),
    /// Preflight: prove that a KB, a model and labels work before a training run.
    Check(cmd::check::Args),
    /// Fine-tune a dense retriever (contrastive, in-batch + hard negatives).
    Train(cmd::train::Args),
    /// Mine hard negatives for training pairs from BM25 or a dense model.
    MineNegatives(cmd::mine_negatives::Args),
    /// Prepare corpora: MS MARCO passage files into a BEIR folder, Wikipedia dumps into passages.
    #[command(subcommand)]
    Prep(cmd::prep::Command),
    /// Score a file of rollouts offline (JSONL or parquet), as `POST /reward` would.
    Reward(cmd::reward::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::TrecEval(args) => cmd::trec_eval::run(args),
        Command::Eval(args) => cmd::eval::run(args),
        Command::Compare(args) => cmd::compare::run(args),
        Command::Kb(command) => cmd::kb::run(command),
        Command::Chunk(args) => cmd::chunk::run(args),
        Command::RagData(args) => cmd::rag_data::run(args),
        Command::Search(args) => cmd::search::run(args),
        Command::Rerank(args) => cmd::rerank::run(args),
        Command::Beir(args) => cmd::beir::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Report(args) => cmd::report::run(args),
        Command::Encode(args) => cmd::encode::run(args),
        Command::Embeddings(command) => cmd::embeddings::run(command),
        Command::Serve(args) => cmd::serve::run(args),
        Command::Check(args) => cmd::check::run(args),
        Command::Train(args) => cmd::train::run(args),
        Command::MineNegatives(args) => cmd::mine_negatives::run(args),
        Command::Prep(command) => cmd::prep::run(command),
        Command::Reward(args) => cmd::reward::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(1)
        }
    }
}
