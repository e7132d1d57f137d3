//! `trawl serve KB`: the HTTP retrieval and reward service (see trawl-serve for the API).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use trawl_kb::KnowledgeBase;
use trawl_retrieve::{
    open_all, Fusion, HybridConfig, KbRetrieverOptions, KbRetrievers, Labels, Normalization,
    UnknownUidPolicy,
};
use trawl_serve::{AppState, ServeConfig};

/// Retriever settings shared by `trawl serve` and `trawl check`.
#[derive(clap::Args, Debug, Clone)]
pub struct RetrieverArgs {
    /// Embedding model for dense retrieval (folder or cached hub id; default: the KB's model).
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Hybrid fusion: rrf (reciprocal rank fusion), minmax or zscore (weighted sum of
    /// normalised scores).
    #[arg(long, default_value = "rrf", value_parser = ["rrf", "minmax", "zscore"])]
    pub fusion: String,
    /// Hybrid weights, BM25 then dense, e.g. `1,1`.
    #[arg(long, value_name = "W1,W2", value_delimiter = ',')]
    pub weights: Vec<f32>,
    /// RRF constant k.
    #[arg(long, default_value_t = trawl_retrieve::DEFAULT_RRF_K)]
    pub rrf_k: f32,
    /// Candidates taken from each retriever before hybrid fusion (at least k).
    #[arg(long, default_value_t = trawl_retrieve::DEFAULT_CANDIDATE_DEPTH)]
    pub depth: usize,
}

impl RetrieverArgs {
    pub fn options(&self) -> KbRetrieverOptions {
        let fusion = match self.fusion.as_str() {
            "minmax" => Fusion::WeightedSum(Normalization::MinMax),
            "zscore" => Fusion::WeightedSum(Normalization::ZScore),
            _ => Fusion::Rrf { k: self.rrf_k },
        };
        KbRetrieverOptions {
            model: self.model.clone(),
            hybrid: HybridConfig {
                fusion,
                weights: self.weights.clone(),
                candidate_depth: self.depth,
            },
            ..Default::default()
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Knowledge base directory (`trawl kb build`).
    pub kb: PathBuf,
    /// Reward labels: TREC qrels, BEIR qrels TSV, or JSON {uid: [doc ids]} / {uid: {doc: grade}}.
    #[arg(long, value_name = "QRELS")]
    pub labels: Option<PathBuf>,
    /// Address to listen on (port 0: any free port; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: String,
    #[command(flatten)]
    pub retriever: RetrieverArgs,
    /// Retriever used when a request names none (default: bm25 when present).
    #[arg(long, value_name = "NAME")]
    pub default_retriever: Option<String>,
    /// Entries in the LRU cache of query rankings (0: off).
    #[arg(long, default_value_t = 100_000)]
    pub cache_size: usize,
    /// Most items per /retrieve_batch or /reward request.
    #[arg(long, default_value_t = 4096)]
    pub max_batch: usize,
    /// Most rewrites per item.
    #[arg(long, default_value_t = 64)]
    pub max_rewrites: usize,
    /// Largest k accepted.
    #[arg(long, default_value_t = 1000)]
    pub max_k: usize,
    /// Largest request body in MiB.
    #[arg(long, default_value_t = 8)]
    pub max_body_mib: usize,
    /// Seconds before a request is answered 408.
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
    /// Requests retrieving at once; others queue (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    pub max_concurrent: Option<usize>,
    /// Reward given to items whose uid has no labels (default: a per-item error).
    #[arg(long, value_name = "REWARD")]
    pub unknown_uid_reward: Option<f64>,
}

/// Opens the KB and its retrievers, printing notes about unavailable ones to stderr.
pub fn open_kb(
    kb: &Path,
    args: &RetrieverArgs,
) -> anyhow::Result<(Arc<KnowledgeBase>, KbRetrievers)> {
    let kb = Arc::new(
        KnowledgeBase::open(kb)
            .with_context(|| format!("cannot open the knowledge base {}", kb.display()))?,
    );
    let retrievers = open_all(kb.clone(), &args.options())?;
    Ok((kb, retrievers))
}

pub fn load_labels(path: &Path) -> anyhow::Result<Labels> {
    Labels::load(path).with_context(|| format!("cannot load the labels {}", path.display()))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.timeout > 0.0 && args.timeout.is_finite()) {
        anyhow::bail!(
            "--timeout must be a positive number of seconds, got {}",
            args.timeout
        );
    }
    let (kb, opened) = open_kb(&args.kb, &args.retriever)?;
    for note in &opened.notes {
        eprintln!("note: {note}");
    }
    let labels = args.labels.as_deref().map(load_labels).transpose()?;
    let names: Vec<String> = opened
        .retrievers
        .iter()
        .map(|r| r.name().to_string())
        .collect();
    eprintln!(
        "trawl serve: {} ({} documents), retrievers: {}, labels: {}",
        args.kb.display(),
        kb.num_docs(),
        names.join(", "),
        labels
            .as_ref()
            .map_or("none".to_string(), |l| format!("{} uids", l.num_queries()))
    );
    let config = ServeConfig {
        addr: args.addr.clone(),
        cache_size: args.cache_size,
        max_batch: args.max_batch,
        max_rewrites: args.max_rewrites,
        max_k: args.max_k,
        max_body_bytes: args.max_body_mib.saturating_mul(1024 * 1024),
        request_timeout: Duration::from_secs_f64(args.timeout),
        default_retriever: args.default_retriever.clone(),
        unknown_uid: args
            .unknown_uid_reward
            .map_or(UnknownUidPolicy::Error, UnknownUidPolicy::Default),
        max_concurrent_retrievals: args
            .max_concurrent
            .unwrap_or(ServeConfig::default().max_concurrent_retrievals),
        ..ServeConfig::default()
    };
    let state = AppState::new(opened.retrievers, labels, config)?;
    trawl_serve::run(state, |addr| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    })?;
    eprintln!("trawl serve: shut down");
    Ok(ExitCode::SUCCESS)
}
