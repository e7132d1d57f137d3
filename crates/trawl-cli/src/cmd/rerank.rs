//! Cross-encoder reranking: the `--rerank MODEL --rerank-depth N` flags of `search`, `beir` and
//! `serve`, and `trawl rerank --run RUN --model M` over an existing run file.

#[cfg(feature = "dense")]
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[cfg(feature = "dense")]
use anyhow::Context;
use trawl_retrieve::Retriever;

/// The reranking flags shared by `search`, `beir` and `serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct RerankFlags {
    /// Rerank the first --rerank-depth hits with this cross-encoder (a folder or hub id of a
    /// BertForSequenceClassification / XLMRobertaForSequenceClassification model, one label).
    #[arg(long, value_name = "MODEL")]
    pub rerank: Option<String>,
    /// First-stage hits the cross-encoder rescores per query (hits past it keep their order).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub rerank_depth: usize,
}

/// A loaded cross-encoder with its depth, shared by every retriever it wraps.
#[derive(Clone)]
pub struct LoadedReranker {
    #[cfg(feature = "dense")]
    inner: trawl_retrieve::Reranker,
}

impl RerankFlags {
    /// The cross-encoder of `--rerank` (run as `quantize` says), loaded once; None without
    /// the flag.
    pub fn load(&self, quantize: super::Quantize) -> anyhow::Result<Option<LoadedReranker>> {
        match &self.rerank {
            None => Ok(None),
            Some(model) => load(model, self.rerank_depth, 32, quantize).map(Some),
        }
    }
}

impl LoadedReranker {
    /// `r` with its hits reranked (named `<name>+rerank`).
    pub fn wrap(&self, r: Arc<dyn Retriever>) -> anyhow::Result<Arc<dyn Retriever>> {
        #[cfg(feature = "dense")]
        {
            Ok(Arc::new(trawl_retrieve::RerankRetriever::new(
                r,
                self.inner.clone(),
            )?))
        }
        #[cfg(not(feature = "dense"))]
        {
            Ok(r)
        }
    }
}

#[cfg(feature = "dense")]
fn load(
    model: &str,
    depth: usize,
    batch_size: usize,
    quantize: super::Quantize,
) -> anyhow::Result<LoadedReranker> {
    let opts = trawl_embed::CrossEncoderOptions {
        batch_size,
        quantize,
        ..Default::default()
    };
    let ce = trawl_embed::CrossEncoder::load(model, &opts)
        .with_context(|| format!("cannot load the cross-encoder `{model}`"))?;
    Ok(LoadedReranker {
        inner: trawl_retrieve::Reranker::new(Arc::new(ce), depth)?,
    })
}

#[cfg(not(feature = "dense"))]
fn load(
    _model: &str,
    _depth: usize,
    _batch_size: usize,
    _quantize: super::Quantize,
) -> anyhow::Result<LoadedReranker> {
    anyhow::bail!("reranking needs model support: rebuild trawl with the `dense` feature")
}

/// `trawl rerank`: reranks an existing TREC run with a cross-encoder.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The TREC run to rerank (e.g. from `trawl beir --run-out`).
    #[arg(long, value_name = "RUN")]
    pub run: PathBuf,
    /// The cross-encoder (folder or hub id).
    #[arg(long, value_name = "MODEL")]
    pub model: String,
    /// A BEIR folder giving queries.jsonl and corpus.jsonl (or --queries and --corpus).
    #[arg(long, value_name = "DIR", required_unless_present_all = ["queries", "corpus"])]
    pub data: Option<PathBuf>,
    /// Queries (JSONL `_id`/`text`, or TSV); overrides --data's.
    #[arg(long, value_name = "FILE")]
    pub queries: Option<PathBuf>,
    /// Documents (JSONL `_id`/`title`/`text`); overrides --data's.
    #[arg(long, value_name = "FILE")]
    pub corpus: Option<PathBuf>,
    /// Hits per query the cross-encoder rescores (the run's first N by score).
    #[arg(long, value_name = "N", default_value_t = 100)]
    pub rerank_depth: usize,
    /// Hits per query written (reranked head, then the rest in the run's order).
    #[arg(short = 'k', long = "top-k", default_value_t = 1000)]
    pub k: usize,
    /// Pairs per forward pass.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// Where to write the reranked run (TREC format, written atomically).
    #[arg(long, value_name = "RUN")]
    pub out: PathBuf,
    /// Qrels to print nDCG@10 of the run before and after reranking (default with --data:
    /// qrels/test.tsv when it exists).
    #[arg(long, value_name = "QRELS")]
    pub qrels: Option<PathBuf>,
    #[command(flatten)]
    pub quantize: super::QuantizeArg,
}

#[cfg(not(feature = "dense"))]
pub fn run(_args: Args) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`trawl rerank` needs model support: rebuild trawl with the `dense` feature")
}

#[cfg(feature = "dense")]
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    use trawl_retrieve::{passage_text, RetrievedDoc};

    let first = trawl_data::read_run(&args.run)
        .with_context(|| format!("cannot read the run {}", args.run.display()))?;
    let from_data = |name: &str| args.data.as_ref().map(|d| d.join(name));
    let queries_path = args
        .queries
        .clone()
        .or_else(|| from_data("queries.jsonl"))
        .context("--queries FILE or --data DIR is needed")?;
    let corpus_path = args
        .corpus
        .clone()
        .or_else(|| from_data("corpus.jsonl"))
        .context("--corpus FILE or --data DIR is needed")?;
    let query_text: HashMap<String, String> = trawl_data::read_queries(&queries_path)?
        .into_iter()
        .map(|q| (q.id, q.text))
        .collect();
    let qids = first.sorted_query_ids();
    let mut needed: HashSet<String> = HashSet::new();
    let mut texts = Vec::with_capacity(qids.len());
    let mut lists = Vec::with_capacity(qids.len());
    for qid in &qids {
        let text = query_text.get(*qid).with_context(|| {
            format!(
                "{}: query `{qid}` of the run has no text in {}",
                args.run.display(),
                queries_path.display()
            )
        })?;
        let mut docs = first.get(qid).unwrap_or_default().to_vec();
        docs.sort_by(trawl_data::run::trec_order);
        for d in docs.iter().take(args.rerank_depth) {
            needed.insert(d.doc_id.clone());
        }
        texts.push(text.as_str());
        // The ordinal is the first-stage rank: it breaks score ties as the run ranked them.
        lists.push(
            docs.iter()
                .enumerate()
                .map(|(i, d)| RetrievedDoc {
                    id: Arc::from(d.doc_id.as_str()),
                    score: d.score as f32,
                    ordinal: i as u32,
                })
                .collect::<Vec<_>>(),
        );
    }
    let mut passages: HashMap<String, String> = HashMap::with_capacity(needed.len());
    for doc in trawl_data::read_documents(&corpus_path)? {
        let doc = doc?;
        if needed.contains(&doc.id) {
            passages.insert(doc.id.clone(), passage_text(&doc.title, &doc.text));
        }
    }
    let passage = |hit: &RetrievedDoc| -> trawl_retrieve::Result<String> {
        passages
            .get(&*hit.id)
            .cloned()
            .ok_or_else(|| trawl_retrieve::Error::InvalidArgument {
                field: "run",
                message: format!(
                    "document `{}` of {} is not in {}",
                    hit.id,
                    args.run.display(),
                    corpus_path.display()
                ),
            })
    };
    let reranker = load(
        &args.model,
        args.rerank_depth,
        args.batch_size,
        args.quantize.get(),
    )?
    .inner;
    let start = std::time::Instant::now();
    let reranked = reranker.rerank(&texts, lists, args.k, &passage)?;
    let secs = start.elapsed().as_secs_f64();
    let mut out = trawl_data::Run::new();
    for (qid, hits) in qids.iter().zip(reranked) {
        out.insert(
            qid.to_string(),
            hits.into_iter()
                .map(|h| trawl_data::ScoredDoc {
                    doc_id: h.id.to_string(),
                    score: f64::from(h.score),
                })
                .collect(),
        );
    }
    super::beir::write_run(&args.out, &out, "trawl-rerank")?;
    let pairs = needed_pairs(&first, args.rerank_depth);
    println!(
        "reranked {} queries ({pairs} pairs) with {} in {secs:.2} s ({:.0} pairs/s) -> {}",
        qids.len(),
        reranker.model().name(),
        pairs as f64 / secs.max(1e-9),
        args.out.display()
    );
    let qrels_path = args
        .qrels
        .clone()
        .or_else(|| from_data("qrels/test.tsv").filter(|p| p.exists()));
    if let Some(path) = qrels_path {
        let qrels = trawl_data::read_qrels(&path)?;
        let metric: trawl_eval::Metric = "ndcg@10".parse()?;
        let opts = trawl_eval::EvalOptions::default();
        let before = trawl_eval::evaluate(&qrels, &first, &[metric], &opts)?.mean[0];
        let after = trawl_eval::evaluate(&qrels, &out, &[metric], &opts)?.mean[0];
        println!(
            "  nDCG@10      {before:.4} -> {after:.4} ({}, {})",
            args.run.display(),
            path.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Pairs scored: min(depth, hits) per query.
#[cfg(feature = "dense")]
fn needed_pairs(run: &trawl_data::Run, depth: usize) -> usize {
    run.iter().map(|(_, docs)| docs.len().min(depth)).sum()
}
