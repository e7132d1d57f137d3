//! `trawl beir DATA_DIR --retriever bm25`: build (or reuse) a KB for a BEIR dataset, retrieve for
//! every query of a split, write a TREC run and print BEIR's metrics with timings.
//!
//! KB cache: `DATA_DIR/.trawl/bm25-<settings hash>`; when DATA_DIR is read-only (its permission
//! bits, or creating `.trawl` fails) `$XDG_CACHE_HOME/trawl/kb` (default `~/.cache/trawl/kb`)
//! `/<dataset name>-<path hash>/bm25-<settings hash>` instead; `--kb-dir` overrides both. A
//! cached KB is reused only when its manifest's BM25 settings and corpus hash match the
//! dataset's; otherwise it is rebuilt in place. `--retriever dense|hybrid --model M` caches a KB
//! holding BM25 and M's document vectors (`bm25-dense-<hash>`); search time then includes
//! encoding the queries.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use trawl_data::beir::BeirDataset;
use trawl_data::Run;
use trawl_kb::{Bm25Options, CorpusHasher, KbBuildOptions, KbHit, KnowledgeBase};

use super::kb::{build_with_progress, recorded_model, Bm25Args};
use super::Quantize;

/// Which retriever to run (dense and hybrid slot in here).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetrieverKind {
    Bm25,
    Dense,
    Hybrid,
}

impl RetrieverKind {
    fn name(self) -> &'static str {
        match self {
            RetrieverKind::Bm25 => "bm25",
            RetrieverKind::Dense => "dense",
            RetrieverKind::Hybrid => "hybrid",
        }
    }
}

#[derive(clap::Args)]
pub struct Args {
    /// A BEIR dataset folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv).
    pub data_dir: PathBuf,
    /// Retriever.
    #[arg(long, value_enum, default_value_t = RetrieverKind::Bm25)]
    pub retriever: RetrieverKind,
    /// Qrels split to evaluate (qrels/<split>.tsv); only its queries are run.
    #[arg(long, default_value = "test")]
    pub split: String,
    /// Documents retrieved per query.
    #[arg(short = 'k', long = "top-k", default_value_t = 1000)]
    pub k: usize,
    /// Write the run in TREC format here.
    #[arg(long, value_name = "RUN")]
    pub run_out: Option<PathBuf>,
    /// Knowledge base directory to build or reuse (default: a cache dir, see `trawl beir --help`).
    #[arg(long, value_name = "DIR")]
    pub kb_dir: Option<PathBuf>,
    /// Embedding model (folder or hub id) for --retriever dense|hybrid; the KB caches its vectors.
    #[arg(long, value_name = "MODEL")]
    pub model: Option<String>,
    /// Rebuild the knowledge base even when a matching one is cached.
    #[arg(long)]
    pub rebuild: bool,
    /// Print JSON: {"dataset","retriever","split","metrics":{..},"timings":{..}}.
    #[arg(long)]
    pub json: bool,
    /// BM25: score every document containing a query term instead of skipping those that
    /// cannot enter the top k (same results; the reference, and for timing the difference).
    #[arg(long)]
    pub exhaustive: bool,
    #[command(flatten)]
    pub bm25: Bm25Args,
    /// The vector index dense and hybrid retrieval search (`trawl kb index` adds one to the
    /// cached KB; `--kb-dir` names it).
    #[command(flatten)]
    pub ann: super::index_args::IndexArgs,
    /// Index chunks of the documents (see `trawl chunk --help`); every ranking is collapsed to
    /// documents with MaxP before it is evaluated against the document-level qrels.
    #[arg(long)]
    pub chunk: bool,
    #[command(flatten)]
    pub chunking: super::chunk::ChunkArgs,
    #[command(flatten)]
    pub rerank: super::rerank::RerankFlags,
    /// How --model (documents and queries) and --rerank's model run.
    #[command(flatten)]
    pub quantize: super::QuantizeArg,
}

#[derive(serde::Serialize)]
struct Timings {
    /// Seconds spent building the KB in this run (0 when a cached one was reused).
    index_s: f64,
    /// Seconds to find, verify and open (or build) the KB.
    open_s: f64,
    search_s: f64,
    queries_per_s: f64,
}

#[derive(serde::Serialize)]
struct JsonReport<'a> {
    dataset: &'a str,
    retriever: &'a str,
    split: &'a str,
    num_queries: usize,
    num_docs: usize,
    k: usize,
    kb_dir: String,
    kb_reused: bool,
    /// The KB's generation and content hash: which exact documents and settings gave these
    /// numbers (`trawl kb info --generations`).
    kb_generation: String,
    kb_content_hash: String,
    /// In METRICS order, serialised as a JSON object.
    #[serde(serialize_with = "ordered_map")]
    metrics: Vec<(&'static str, f64)>,
    timings: Timings,
}

fn ordered_map<S: serde::Serializer>(
    pairs: &[(&'static str, f64)],
    s: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(pairs.len()))?;
    for (k, v) in pairs {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

const METRICS: [&str; 4] = ["ndcg@10", "recall@100", "mrr@10", "map@100"];

/// A short stable hash (hex) of the settings, naming the cache directory.
fn settings_hash(
    options: &Bm25Options,
    model: Option<(String, Quantize)>,
    chunking: Option<&super::chunk::ChunkArgs>,
) -> String {
    let mut h = CorpusHasher::new();
    let name = model.as_ref().map(|(m, _)| m.as_str());
    let mut text = format!(
        "{}|{:?}|{name:?}",
        trawl_kb::manifest::FORMAT_VERSION,
        options
    );
    // f32 KBs keep the cache folders they had.
    if let Some((_, q @ Quantize::Int8)) = model {
        text.push_str(&format!("|{q}"));
    }
    if let Some(c) = chunking {
        text.push_str(&format!(
            "|chunks {:?} {:?} {}",
            c.settings(),
            c.tokenizer,
            c.skip_empty
        ));
    }
    h.add(&text, "", "", b"");
    h.finish_hex()[..12].to_string()
}

fn is_writable_dir(dir: &Path) -> bool {
    match std::fs::metadata(dir) {
        Ok(m) => !m.permissions().readonly(),
        Err(_) => false,
    }
}

/// The default KB directory for this dataset and settings (see the module docs).
pub fn default_kb_dir(data_dir: &Path, kind: &str, settings: &str) -> anyhow::Result<PathBuf> {
    let leaf = format!("{kind}-{settings}");
    if is_writable_dir(data_dir) {
        let cache = data_dir.join(".trawl");
        if std::fs::create_dir_all(&cache).is_ok() && is_writable_dir(&cache) {
            return Ok(cache.join(leaf));
        }
    }
    let base = match std::env::var_os("XDG_CACHE_HOME") {
        Some(x) if !x.is_empty() => PathBuf::from(x),
        _ => PathBuf::from(
            std::env::var_os("HOME").context("neither XDG_CACHE_HOME nor HOME is set")?,
        )
        .join(".cache"),
    };
    let canon = data_dir
        .canonicalize()
        .unwrap_or_else(|_| data_dir.to_path_buf());
    let mut h = CorpusHasher::new();
    h.add(&canon.to_string_lossy(), "", "", b"");
    let name = canon
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "dataset".into());
    Ok(base
        .join("trawl")
        .join("kb")
        .join(format!("{name}-{}", &h.finish_hex()[..8]))
        .join(leaf))
}

/// Opens the KB at `dir` when it matches `options` and the corpus; otherwise (re)builds it.
/// Returns the KB, the seconds spent building (0 when reused) and whether it was reused.
fn build_or_reuse(
    dataset: &BeirDataset,
    data_dir: &Path,
    dir: &Path,
    options: &Bm25Options,
    model: Option<(&str, Quantize)>,
    chunking: Option<&super::chunk::ChunkArgs>,
    rebuild: bool,
) -> anyhow::Result<(KnowledgeBase, f64, bool)> {
    if !rebuild {
        if let Ok(kb) = KnowledgeBase::open(dir) {
            let m = kb.manifest();
            let same_bm25 = m.bm25.as_ref().is_some_and(|b| {
                b.analyzer == options.analyzer
                    && b.params == options.params
                    && b.fields == options.fields
            });
            let same_dense = match (model, &m.dense) {
                (None, _) => true,
                (Some((want, q)), Some(d)) => {
                    let want_q = (q != Quantize::None).then(|| q.to_string());
                    recorded_model(want) == d.model && want_q == d.quantize
                }
                (Some(_), None) => false,
            };
            // A chunked KB records its chunk settings and the hash of the parent documents.
            let (same_chunks, source_hash) = match (chunking, &m.chunks) {
                (None, None) => (true, &m.corpus_hash),
                (Some(c), Some(have)) => {
                    let want = c.manifest(&Default::default());
                    let same = (
                        &want.by,
                        &want.measure,
                        want.size,
                        want.overlap,
                        &want.tokenizer,
                    ) == (
                        &have.by,
                        &have.measure,
                        have.size,
                        have.overlap,
                        &have.tokenizer,
                    );
                    (same, &have.parents_hash)
                }
                _ => (false, &m.corpus_hash),
            };
            let same_settings = same_bm25 && same_dense && same_chunks;
            if same_settings {
                let mut h = CorpusHasher::new();
                for doc in dataset.read_corpus()? {
                    let doc = doc?;
                    if chunking.is_some_and(|c| c.skip_empty) && doc.text.trim().is_empty() {
                        continue;
                    }
                    h.add_document(&doc);
                }
                if &h.finish_hex() == source_hash {
                    return Ok((kb, 0.0, true));
                }
            }
        }
    }
    let build = KbBuildOptions {
        bm25: Some(options.clone()),
        overwrite: true,
        ..KbBuildOptions::default()
    };
    let (kb, secs) = build_with_progress(data_dir, dir, &build, model, chunking)?;
    Ok((kb, secs, false))
}

/// A dataset's KB as `trawl beir` caches it, opened (or built) and timed.
pub struct CachedKb {
    pub kb: KnowledgeBase,
    pub dir: PathBuf,
    /// Seconds spent building (0 when reused).
    pub index_s: f64,
    /// Seconds to find, verify and open (or build).
    pub open_s: f64,
    pub reused: bool,
}

/// Opens the cached KB of `data_dir` for these settings (BM25, plus `model`'s vectors when
/// given) or builds it: `kb_dir` overrides the cache location (see the module docs).
pub fn open_cached_kb(
    dataset: &BeirDataset,
    data_dir: &Path,
    kb_dir: Option<&Path>,
    options: &Bm25Options,
    model: Option<(&str, Quantize)>,
    chunking: Option<&super::chunk::ChunkArgs>,
    rebuild: bool,
) -> anyhow::Result<CachedKb> {
    let dir = match kb_dir {
        Some(d) => d.to_path_buf(),
        None => {
            let kind = match (model.is_some(), chunking.is_some()) {
                (true, false) => "bm25-dense",
                (false, false) => "bm25",
                (true, true) => "bm25-dense-chunks",
                (false, true) => "bm25-chunks",
            };
            default_kb_dir(
                data_dir,
                kind,
                &settings_hash(
                    options,
                    model.map(|(m, q)| (recorded_model(m), q)),
                    chunking,
                ),
            )?
        }
    };
    let open_start = Instant::now();
    let (kb, index_s, reused) =
        build_or_reuse(dataset, data_dir, &dir, options, model, chunking, rebuild)?;
    Ok(CachedKb {
        kb,
        dir,
        index_s,
        open_s: open_start.elapsed().as_secs_f64(),
        reused,
    })
}

/// Dense and hybrid retrieval through trawl-retrieve, which encodes the whole batch at once.
fn retrieve(
    kb: &Arc<KnowledgeBase>,
    kind: RetrieverKind,
    opts: &trawl_retrieve::KbRetrieverOptions,
    reranker: Option<&super::rerank::LoadedReranker>,
    queries: &[&str],
    k: usize,
) -> anyhow::Result<Vec<Vec<KbHit>>> {
    let retriever = trawl_retrieve::open_named(kb.clone(), kind.name(), opts)?;
    // Qrels judge documents: a chunked KB's rankings are collapsed to documents (MaxP).
    let mut retriever = trawl_retrieve::collapse_if_chunked(kb, retriever);
    if let Some(r) = reranker {
        retriever = r.wrap(retriever)?;
    }
    let lists = retriever.retrieve_batch(queries, k)?;
    Ok(lists
        .into_iter()
        .map(|hits| {
            hits.into_iter()
                .map(|d| KbHit {
                    ordinal: d.ordinal,
                    id: d.id.to_string(),
                    score: d.score,
                })
                .collect()
        })
        .collect())
}

/// Writes the run atomically: a run that fails part-way (an id that cannot be written, a full
/// disk) leaves an existing file at `path` untouched.
pub fn write_run(path: &Path, run: &Run, tag: &str) -> anyhow::Result<()> {
    let mut out = trawl_store::AtomicFile::create(path)
        .with_context(|| format!("creating {}", path.display()))?;
    trawl_data::write_trec_run(run, &mut out, tag)
        .with_context(|| format!("writing {}", path.display()))?;
    out.commit()?;
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let model = match (args.retriever, &args.model) {
        (RetrieverKind::Bm25, _) => None,
        (_, Some(m)) => Some(m.as_str()),
        (_, None) => anyhow::bail!(
            "--retriever {} needs --model MODEL (a sentence-transformers folder or hub id, e.g. models/all-MiniLM-L6-v2)",
            args.retriever.name()
        ),
    };
    let dataset = BeirDataset::open(&args.data_dir)?;
    let qrels = dataset.read_qrels(&args.split)?;
    let queries = dataset.read_queries()?;
    let mut queries: Vec<_> = queries
        .into_iter()
        .filter(|q| qrels.get(&q.id).is_some())
        .collect();
    queries.sort_by(|a, b| a.id.cmp(&b.id));
    if queries.is_empty() {
        anyhow::bail!(
            "{}: no query of the {} split has a text in queries.jsonl",
            args.data_dir.display(),
            args.split
        );
    }

    let options = args.bm25.to_options()?;
    if !args.chunk && args.chunking.any_given() {
        anyhow::bail!(
            "chunking options (--max-words, --max-tokens, --overlap, --by, ...) need --chunk"
        );
    }
    let chunking = args.chunk.then_some(&args.chunking);
    let CachedKb {
        kb,
        dir: kb_dir,
        index_s,
        open_s,
        reused,
    } = open_cached_kb(
        &dataset,
        &args.data_dir,
        args.kb_dir.as_deref(),
        &options,
        model.map(|m| (m, args.quantize.get())),
        chunking,
        args.rebuild,
    )?;
    let kb = Arc::new(kb);
    if let Some(index) = kb.bm25() {
        index.set_exhaustive(args.exhaustive);
    }

    let texts: Vec<&str> = queries.iter().map(|q| q.text.as_str()).collect();
    let mut run = Run::new();
    let search_s;
    if args.retriever == RetrieverKind::Bm25 && args.ann.index.is_some() {
        anyhow::bail!("--index selects a vector index: use it with --retriever dense or hybrid");
    }
    let reranker = args.rerank.load(args.quantize.get())?;
    if args.retriever == RetrieverKind::Bm25 && kb.manifest().chunks.is_none() && reranker.is_none()
    {
        // Timed: ranked (id, score) lists, ids borrowed from the KB. Building the owned Run
        // for evaluation afterwards is not search work.
        // Warm-up, untimed: starts the thread pool and per-thread scratch, as the peers in
        // bench/bm25.py get theirs (numba's JIT, the JVM's first queries).
        kb.search_bm25_batch_refs(&texts[..texts.len().min(8)], args.k)?;
        let search_start = Instant::now();
        let results = kb.search_bm25_batch_refs(&texts, args.k)?;
        search_s = search_start.elapsed().as_secs_f64();
        for (q, hits) in queries.iter().zip(results) {
            run.insert(
                q.id.clone(),
                hits.into_iter()
                    .map(|h| trawl_data::ScoredDoc {
                        doc_id: h.id.to_owned(),
                        score: f64::from(h.score),
                    })
                    .collect(),
            );
        }
    } else {
        let search_start = Instant::now();
        let opts = trawl_retrieve::KbRetrieverOptions {
            model: model.map(str::to_string),
            index: args.ann.index.clone(),
            search: args.ann.params(),
            quantize: args.quantize.quantize,
            ..Default::default()
        };
        let results = retrieve(
            &kb,
            args.retriever,
            &opts,
            reranker.as_ref(),
            &texts,
            args.k,
        )?;
        search_s = search_start.elapsed().as_secs_f64();
        for (q, hits) in queries.iter().zip(results) {
            run.insert(
                q.id.clone(),
                hits.into_iter()
                    .map(|h| trawl_data::ScoredDoc {
                        doc_id: h.id,
                        score: f64::from(h.score),
                    })
                    .collect(),
            );
        }
    }
    let system = match &reranker {
        Some(_) => format!("{}+rerank", args.retriever.name()),
        None => args.retriever.name().to_string(),
    };
    if let Some(path) = &args.run_out {
        write_run(path, &run, &format!("trawl-{system}"))?;
        super::kb_update::write_run_provenance(path, &kb)?;
    }

    let metrics: Vec<trawl_eval::Metric> = METRICS
        .iter()
        .map(|m| m.parse())
        .collect::<Result<_, _>>()?;
    let eval = trawl_eval::evaluate(&qrels, &run, &metrics, &trawl_eval::EvalOptions::default())?;
    let qps = queries.len() as f64 / search_s.max(1e-9);
    let dataset_name = args
        .data_dir
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| args.data_dir.display().to_string());

    if args.json {
        let out = JsonReport {
            dataset: &dataset_name,
            retriever: &system,
            split: &args.split,
            num_queries: queries.len(),
            num_docs: kb.num_live(),
            k: args.k,
            kb_dir: kb_dir.display().to_string(),
            kb_reused: reused,
            kb_generation: kb.generation().to_string(),
            kb_content_hash: kb.manifest().content_hash.clone(),
            metrics: METRICS
                .iter()
                .copied()
                .zip(eval.mean.iter().copied())
                .collect(),
            timings: Timings {
                index_s,
                open_s,
                search_s,
                queries_per_s: qps,
            },
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{dataset_name} ({} split): {} queries, {} documents, retriever {}",
        args.split,
        queries.len(),
        kb.num_live(),
        system
    );
    for (metric, value) in metrics.iter().zip(&eval.mean) {
        println!("  {:<12} {value:.4}", metric.to_string());
    }
    let index = if reused {
        format!("reused {} (opened in {open_s:.2} s)", kb_dir.display())
    } else {
        format!("{index_s:.2} s -> {}", kb_dir.display())
    };
    println!("  index        {index}");
    println!(
        "  search       {search_s:.3} s ({qps:.0} queries/s, k={})",
        args.k
    );
    if let Some(path) = &args.run_out {
        println!("  run          {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}
