//! `trawl search KB "query"`: the top documents of a knowledge base, as a table or JSON.
//! `trawl search KB --vectors Q.npy`: search by precomputed query vectors (one per row).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use trawl_kb::{KbHit, KnowledgeBase};

/// Which retriever answers the query (dense and hybrid need a dense index in the KB).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetrieverArg {
    Bm25,
    Dense,
    Hybrid,
}

#[derive(clap::Args)]
pub struct Args {
    /// The knowledge base directory (from `trawl kb build`).
    pub kb: PathBuf,
    /// The query text (or --vectors).
    #[arg(required_unless_present = "vectors")]
    pub query: Option<String>,
    /// Search by query vectors from a .npy file ([n, dim], float32/float16), one query per row;
    /// JSON output is {"results": [{"hits": [{"id", "score"}, ...]}, ...]} in row order.
    #[arg(long, conflicts_with = "query")]
    pub vectors: Option<PathBuf>,
    #[command(flatten)]
    pub ann: super::index_args::IndexArgs,
    /// How many documents to return.
    #[arg(short = 'k', long = "top-k", default_value_t = 10)]
    pub k: usize,
    /// Print JSON: {"query", "hits": [{"rank", "id", "score", "title", "snippet"}]}.
    #[arg(long)]
    pub json: bool,
    /// Retriever (dense and hybrid need a KB built with --dense).
    #[arg(long, value_enum, default_value_t = RetrieverArg::Bm25)]
    pub retriever: RetrieverArg,
    /// Embedding model for dense/hybrid queries (default: the one recorded in the KB).
    #[arg(long)]
    pub model: Option<String>,
    /// BM25: score every matching document instead of skipping those that cannot enter the
    /// top k (same results; the reference path).
    #[arg(long)]
    pub exhaustive: bool,
    /// On a chunked KB (`kb build --chunk`): rank documents, each by its best chunk (`max`,
    /// MaxP); the id is the document's, title and snippet the best chunk's.
    #[arg(long, value_enum)]
    pub collapse: Option<CollapseArg>,
    #[command(flatten)]
    pub rerank: super::rerank::RerankFlags,
    /// How the query encoder (default: as the KB's documents were encoded) and --rerank's
    /// model run.
    #[command(flatten)]
    pub quantize: super::QuantizeArg,
}

/// How chunk hits become document hits.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum CollapseArg {
    /// MaxP: a document scores its best chunk's score.
    Max,
}

#[derive(serde::Serialize)]
struct JsonHit<'a> {
    rank: usize,
    id: &'a str,
    score: f32,
    title: &'a str,
    snippet: &'a str,
}

#[derive(serde::Serialize)]
struct JsonOut<'a> {
    query: &'a str,
    hits: Vec<JsonHit<'a>>,
}

const SNIPPET_CHARS: usize = 80;
const TITLE_CHARS: usize = 40;

/// The first `max` characters of `text` with whitespace collapsed, "…" when cut.
pub fn snippet(text: &str, max: usize) -> String {
    let mut out = String::new();
    let mut count = 0;
    for word in text.split_whitespace() {
        let sep = usize::from(!out.is_empty());
        let len = word.chars().count();
        if count + sep + len > max {
            if count < max {
                if sep == 1 {
                    out.push(' ');
                    count += 1;
                }
                out.extend(word.chars().take(max.saturating_sub(count)));
            }
            out.push('…');
            return out;
        }
        if sep == 1 {
            out.push(' ');
        }
        out.push_str(word);
        count += sep + len;
    }
    out
}

impl RetrieverArg {
    pub fn name(self) -> &'static str {
        match self {
            RetrieverArg::Bm25 => "bm25",
            RetrieverArg::Dense => "dense",
            RetrieverArg::Hybrid => "hybrid",
        }
    }
}

/// Runs the query through the chosen retriever (dense and hybrid encode it with the KB's model).
fn search(kb: &Arc<KnowledgeBase>, args: &Args, query: &str) -> anyhow::Result<Vec<KbHit>> {
    if args.collapse.is_some() && kb.manifest().chunks.is_none() {
        anyhow::bail!(
            "--collapse: {} is not chunked (build it with `trawl kb build --chunk`)",
            args.kb.display()
        );
    }
    if args.retriever == RetrieverArg::Bm25 && args.ann.index.is_some() {
        anyhow::bail!("--index selects a vector index: use it with --retriever dense or hybrid");
    }
    let reranker = args.rerank.load(args.quantize.get())?;
    if args.retriever == RetrieverArg::Bm25 && args.collapse.is_none() && reranker.is_none() {
        return Ok(kb.search_bm25(query, args.k)?);
    }
    let opts = trawl_retrieve::KbRetrieverOptions {
        model: args.model.clone(),
        index: args.ann.index.clone(),
        search: search_params(args),
        quantize: args.quantize.quantize,
        ..Default::default()
    };
    let mut retriever = trawl_retrieve::open_named(kb.clone(), args.retriever.name(), &opts)?;
    if args.collapse == Some(CollapseArg::Max) {
        retriever = trawl_retrieve::collapse_if_chunked(kb, retriever);
    }
    if let Some(r) = &reranker {
        retriever = r.wrap(retriever)?;
    }
    let mut lists = retriever.retrieve_batch(&[query], args.k)?;
    Ok(lists
        .pop()
        .unwrap_or_default()
        .into_iter()
        .map(|d| KbHit {
            ordinal: d.ordinal,
            id: d.id.to_string(),
            score: d.score,
        })
        .collect())
}

fn search_params(args: &Args) -> trawl_kb::SearchParams {
    args.ann.params()
}

#[derive(serde::Serialize)]
struct VectorHit<'a> {
    id: &'a str,
    score: f32,
}

#[derive(serde::Serialize)]
struct VectorResult<'a> {
    hits: Vec<VectorHit<'a>>,
}

/// `--vectors Q.npy`: every row is a query, searched through the chosen vector index.
fn run_vectors(
    kb: &KnowledgeBase,
    args: &Args,
    path: &std::path::Path,
) -> anyhow::Result<ExitCode> {
    let (values, n, dim) = trawl_vector::npy::read_npy_f32(path)
        .with_context(|| format!("reading query vectors {}", path.display()))?;
    let index = kb.vector_index(args.ann.index.as_deref())?;
    if dim != index.dim() {
        anyhow::bail!(
            "{}: query vectors have dimension {dim} but the KB's vectors have dimension {}; encode the queries with the KB's model ({})",
            path.display(),
            index.dim(),
            kb.dense_model().unwrap_or("unknown")
        );
    }
    let start = std::time::Instant::now();
    let results = kb.search_vectors(
        args.ann.index.as_deref(),
        &values,
        n,
        args.k,
        &search_params(args),
    )?;
    let search_seconds = start.elapsed().as_secs_f64();
    if args.json {
        let out: Vec<VectorResult> = results
            .iter()
            .map(|hits| VectorResult {
                hits: hits
                    .iter()
                    .map(|h| VectorHit {
                        id: &h.id,
                        score: h.score,
                    })
                    .collect(),
            })
            .collect();
        // The search alone (not opening the KB): what a batch of queries costs a warm server.
        println!(
            "{}",
            serde_json::json!({ "results": out, "search_seconds": search_seconds })
        );
    } else {
        for (row, hits) in results.iter().enumerate() {
            for (rank, h) in hits.iter().enumerate() {
                println!("{row}\t{}\t{}\t{:.6}", rank + 1, h.id, h.score);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let kb = KnowledgeBase::open(&args.kb)
        .with_context(|| format!("opening knowledge base {}", args.kb.display()))?;
    if let Some(index) = kb.bm25() {
        index.set_exhaustive(args.exhaustive);
    }
    if let Some(path) = &args.vectors {
        if args.rerank.rerank.is_some() {
            anyhow::bail!("--rerank reads query texts: it cannot rerank a --vectors search");
        }
        return run_vectors(&kb, &args, path);
    }
    let query = args.query.clone().unwrap_or_default();
    let kb = Arc::new(kb);
    let hits = search(&kb, &args, &query)?;
    let mut rows = Vec::with_capacity(hits.len());
    for (i, hit) in hits.iter().enumerate() {
        let doc = kb.document(hit.ordinal)?;
        rows.push((i + 1, hit, doc.title, snippet(doc.text, SNIPPET_CHARS)));
    }
    if args.json {
        let hits = rows
            .iter()
            .map(|(rank, hit, title, snip)| JsonHit {
                rank: *rank,
                id: &hit.id,
                score: hit.score,
                title,
                snippet: snip,
            })
            .collect();
        let out = JsonOut {
            query: &query,
            hits,
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no documents match {query:?}");
        return Ok(ExitCode::SUCCESS);
    }
    let titles: Vec<String> = rows.iter().map(|r| snippet(r.2, TITLE_CHARS)).collect();
    let scores: Vec<String> = rows.iter().map(|r| format!("{:.4}", r.1.score)).collect();
    let w_rank = rows.len().to_string().len().max(4);
    let w_score = scores.iter().map(|s| s.len()).max().unwrap_or(5).max(5);
    let w_id = rows
        .iter()
        .map(|r| r.1.id.chars().count())
        .max()
        .unwrap_or(2)
        .max(2);
    let w_title = titles
        .iter()
        .map(|t| t.chars().count())
        .max()
        .unwrap_or(5)
        .max(5);
    println!(
        "{:>w_rank$}  {:>w_score$}  {:<w_id$}  {:<w_title$}  snippet",
        "rank", "score", "id", "title"
    );
    for ((rank, hit, _, snip), (title, score)) in rows.iter().zip(titles.iter().zip(&scores)) {
        println!(
            "{rank:>w_rank$}  {score:>w_score$}  {:<w_id$}  {:<w_title$}  {snip}",
            hit.id, title
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::snippet;

    #[test]
    fn snippet_collapses_whitespace_and_cuts_with_ellipsis() {
        assert_eq!(snippet("a  b\n c", 80), "a b c");
        assert_eq!(snippet("hello world again", 8), "hello wo…");
        assert_eq!(snippet("", 8), "");
        assert_eq!(snippet("ééééé", 3), "ééé…");
    }
}
