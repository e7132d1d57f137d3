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
    Retriever, UnknownUidPolicy,
};
use trawl_serve::generation::kb_generation;
use trawl_serve::{AppState, KbSource, ServeConfig};

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
    /// The vector index dense retrieval searches (`--index NAME --ef --nprobe --refine`).
    #[command(flatten)]
    pub ann: super::index_args::IndexArgs,
    /// How the query encoder (default: as the KB's documents were encoded) and a reranker run.
    #[command(flatten)]
    pub quantize: super::QuantizeArg,
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
            index: self.ann.index.clone(),
            search: self.ann.params(),
            quantize: self.quantize.quantize,
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
    /// MiB of the LRU cache of query rankings, estimated per entry (0: off).
    #[arg(long, default_value_t = 256)]
    pub cache_mib: usize,
    /// Most items per /retrieve_batch or /reward request.
    #[arg(long, default_value_t = 4096)]
    pub max_batch: usize,
    /// Most rewrites per item.
    #[arg(long, default_value_t = 64)]
    pub max_rewrites: usize,
    /// Largest k accepted.
    #[arg(long, default_value_t = 1000)]
    pub max_k: usize,
    /// Most hits one request may retrieve (sum over items of rewrites x k); larger requests
    /// are answered 413 before any work starts.
    #[arg(long, default_value_t = 1_000_000)]
    pub max_hits: usize,
    /// Largest JSON answer in MiB (estimated before work starts, enforced while writing).
    #[arg(long, default_value_t = 64)]
    pub max_answer_mib: usize,
    /// Largest request body in MiB.
    #[arg(long, default_value_t = 8)]
    pub max_body_mib: usize,
    /// Seconds before a request is answered 408 (its retrieval is cancelled).
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
    /// Seconds a connection has to send a complete request head, after opening or after its
    /// previous answer (idle keep-alive connections are closed after this too).
    #[arg(long, default_value_t = 10.0)]
    pub header_timeout: f64,
    /// Most open connections; more are answered 503.
    #[arg(long, default_value_t = 1024)]
    pub max_connections: usize,
    /// Seconds in-flight requests get to finish after SIGTERM/Ctrl-C before they are cancelled.
    #[arg(long, default_value_t = 10.0)]
    pub shutdown_grace: f64,
    /// Bearer token required on every endpoint but /health (also read from
    /// TRAWL_SERVE_TOKEN, which keeps it out of the process list). Required for a
    /// non-loopback --addr unless --insecure-public.
    #[arg(long, value_name = "TOKEN")]
    pub token: Option<String>,
    /// Serve a non-loopback address without a token.
    #[arg(long)]
    pub insecure_public: bool,
    /// Host header names accepted besides localhost and the bound IP (repeatable; `*`: any).
    #[arg(long, value_name = "NAME")]
    pub allow_host: Vec<String>,
    /// Requests retrieving at once; others queue (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    pub max_concurrent: Option<usize>,
    /// Reward given to items whose uid has no labels (default: a per-item error).
    #[arg(long, value_name = "REWARD")]
    pub unknown_uid_reward: Option<f64>,
    /// Also serve every retriever reranked by this cross-encoder, as `<name>+rerank` (the
    /// default retriever then reranks; a request's `"rerank": false` skips it).
    #[command(flatten)]
    pub rerank: super::rerank::RerankFlags,
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
    if trawl_parquet::is_parquet(path) {
        let qrels = trawl_parquet::read_qrels(path)
            .with_context(|| format!("cannot load the labels {}", path.display()))?;
        return Ok(Labels::from_qrels(qrels));
    }
    Labels::load(path).with_context(|| format!("cannot load the labels {}", path.display()))
}

/// Queries from a file: parquet (trawl-parquet: `_id`/`id`/`qid`, `text`/`query` columns) or
/// what trawl-data reads (BEIR JSONL, TSV, `.gz`).
pub fn load_queries(path: &Path) -> anyhow::Result<Vec<trawl_data::Query>> {
    if trawl_parquet::is_parquet(path) {
        return Ok(trawl_parquet::read_queries(path)?);
    }
    Ok(trawl_data::query::read_queries(path)?)
}

/// The KB folder being served: its generation on disk, and its retrievers opened anew.
struct KbFolder {
    dir: PathBuf,
    retriever: RetrieverArgs,
    reranker: Option<super::rerank::LoadedReranker>,
}

/// The retrievers, then each one reranked when a cross-encoder is given.
fn with_reranked(
    retrievers: Vec<Arc<dyn Retriever>>,
    reranker: Option<&super::rerank::LoadedReranker>,
) -> anyhow::Result<Vec<Arc<dyn Retriever>>> {
    let Some(rr) = reranker else {
        return Ok(retrievers);
    };
    let reranked = retrievers
        .iter()
        .map(|r| rr.wrap(r.clone()))
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(retrievers.into_iter().chain(reranked).collect())
}

impl KbSource for KbFolder {
    fn generation(&self) -> Result<String, String> {
        kb_generation(&self.dir)
    }

    fn open(&self) -> Result<Vec<Arc<dyn Retriever>>, String> {
        let (_, opened) = open_kb(&self.dir, &self.retriever).map_err(|e| format!("{e:#}"))?;
        with_reranked(opened.retrievers, self.reranker.as_ref()).map_err(|e| format!("{e:#}"))
    }
}

fn seconds(flag: &str, s: f64) -> anyhow::Result<Duration> {
    if !(s > 0.0 && s.is_finite()) {
        anyhow::bail!("{flag} must be a positive number of seconds, got {s}");
    }
    Ok(Duration::from_secs_f64(s))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let request_timeout = seconds("--timeout", args.timeout)?;
    let header_timeout = seconds("--header-timeout", args.header_timeout)?;
    let shutdown_grace = seconds("--shutdown-grace", args.shutdown_grace)?;
    let token = match args.token.clone() {
        Some(t) => Some(t),
        None => std::env::var("TRAWL_SERVE_TOKEN").ok(),
    }
    .filter(|t| !t.is_empty());
    // Read before opening: a replacement in between then shows as stale in /health.
    let generation = kb_generation(&args.kb).map_err(|e| anyhow::anyhow!("{e}"))?;
    let (kb, opened) = open_kb(&args.kb, &args.retriever)?;
    for note in &opened.notes {
        eprintln!("note: {note}");
    }
    let labels = args.labels.as_deref().map(load_labels).transpose()?;
    let reranker = args.rerank.load(args.retriever.quantize.get())?;
    let retrievers = with_reranked(opened.retrievers, reranker.as_ref())?;
    let default_retriever = match (&args.default_retriever, &reranker) {
        (None, Some(_)) => Some(format!("{}+rerank", retrievers[0].name())),
        (given, _) => given.clone(),
    };
    let names: Vec<String> = retrievers.iter().map(|r| r.name().to_string()).collect();
    eprintln!(
        "trawl serve: {} ({} documents), retrievers: {}, labels: {}",
        args.kb.display(),
        kb.num_live(),
        names.join(", "),
        labels
            .as_ref()
            .map_or("none".to_string(), |l| format!("{} uids", l.num_queries()))
    );
    let config = ServeConfig {
        addr: args.addr.clone(),
        cache_bytes: args.cache_mib.saturating_mul(1024 * 1024),
        max_batch: args.max_batch,
        max_rewrites: args.max_rewrites,
        max_k: args.max_k,
        max_hits: args.max_hits,
        max_answer_bytes: args.max_answer_mib.saturating_mul(1024 * 1024),
        max_body_bytes: args.max_body_mib.saturating_mul(1024 * 1024),
        request_timeout,
        header_timeout,
        max_connections: args.max_connections,
        shutdown_grace,
        token,
        insecure_public: args.insecure_public,
        allowed_hosts: args.allow_host.clone(),
        default_retriever,
        unknown_uid: args
            .unknown_uid_reward
            .map_or(UnknownUidPolicy::Error, UnknownUidPolicy::Default),
        max_concurrent_retrievals: args
            .max_concurrent
            .unwrap_or(ServeConfig::default().max_concurrent_retrievals),
    };
    let source = KbFolder {
        dir: args.kb.clone(),
        retriever: args.retriever.clone(),
        reranker,
    };
    let state =
        AppState::new(retrievers, labels, config)?.with_source(Box::new(source), generation);
    trawl_serve::run(state, |addr| {
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{addr}");
        let _ = out.flush();
    })?;
    eprintln!("trawl serve: shut down");
    Ok(ExitCode::SUCCESS)
}
