//! `trawl kb build DOCS --out KB`: build a knowledge base; `trawl kb info KB`: show its manifest.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use indicatif::{ProgressBar, ProgressStyle};
use trawl_bm25::{AnalyzerConfig, Bm25Method, Bm25Params, Stemmer, Stopwords};
use trawl_data::Document;
use trawl_kb::{Bm25Options, IndexedFields, KbBuildOptions, KnowledgeBase, StagedKb};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Build a knowledge base from documents (a BEIR folder, a JSONL file (.gz ok) or a TSV).
    Build(BuildArgs),
    /// Print a knowledge base's manifest (settings, counts, indexes) as JSON.
    Info {
        /// The knowledge base directory.
        kb: PathBuf,
        /// List the generations (time, change, live documents, content hash) instead of the
        /// manifest.
        #[arg(long)]
        generations: bool,
    },
    /// Add documents (upsert: a new id is appended, an existing id replaces the old version)
    /// as a new segment, written as a new generation; a KB with dense vectors encodes them with
    /// its recorded model.
    Add(super::kb_update::AddArgs),
    /// Delete documents by id (tombstones; ids the KB does not hold are reported).
    Delete(super::kb_update::DeleteArgs),
    /// Merge segments and drop tombstones: one base rebuilt from the live documents (vectors
    /// gathered as stored, approximate indexes rebuilt from their recorded parameters).
    Compact(super::kb_update::CompactArgs),
    /// Add an approximate vector index (HNSW, sq8, IVF, IVF-PQ) built from the KB's stored vectors.
    Index(super::kb_index::Args),
    /// Build a KB from a FAISS index file, its id mapping and the corpus (no re-encoding).
    ImportFaiss(super::kb_import_faiss::Args),
    /// Predict disk, memory, build time and queries/s of an index before building it.
    Plan(super::kb_plan::Args),
}

#[derive(clap::Args)]
pub struct BuildArgs {
    /// Documents: a BEIR dataset folder (corpus.jsonl inside), a JSONL file (.gz ok) or a TSV.
    pub docs: PathBuf,
    /// Where to write the knowledge base (a new directory, or an existing KB with --force).
    #[arg(long)]
    pub out: PathBuf,
    /// Build a BM25 index (the default when no index flag is given).
    #[arg(long)]
    pub bm25: bool,
    /// Build a dense index with this sentence-embedding model (path or hub id).
    #[arg(long, value_name = "MODEL")]
    pub dense: Option<String>,
    /// How --dense's model runs (recorded in the KB; queries are encoded the same way).
    #[command(flatten)]
    pub quantize: super::QuantizeArg,
    /// Replace an existing knowledge base at --out (a directory that is not a KB, or a KB holding
    /// files trawl did not write, is never replaced).
    #[arg(long)]
    pub force: bool,
    #[command(flatten)]
    pub bm25_settings: Bm25Args,
    /// Cut the documents into chunks first (ids `<id>#<n>`; see `trawl chunk --help` for the
    /// options); searches can then collapse chunks to documents (`--collapse max`).
    #[arg(long)]
    pub chunk: bool,
    #[command(flatten)]
    pub chunking: super::chunk::ChunkArgs,
    /// Also build an approximate vector index over the new vectors (needs --dense), in the
    /// same KB generation; its knobs are `trawl kb index`'s (--m, --nlist, --seed, ...).
    #[arg(long = "index", value_enum, value_name = "TYPE", requires = "dense")]
    pub index: Option<super::kb_index::IndexType>,
    #[command(flatten)]
    pub ann: super::kb_index::AnnBuildArgs,
    /// Memory the BM25 build may hold for postings before it writes them to disk as a run
    /// (runs are merged at the end into the same index a one-pass build writes): e.g. 2G,
    /// 512M, 1.5G (powers of 1024) or a number of bytes; at least 1M.
    #[arg(long, value_name = "SIZE", default_value = "2G", value_parser = parse_memory_size)]
    pub memory_budget: u64,
}

/// `--memory-budget`: a number with an optional K, M, G or T (powers of 1024; `B`, `iB` allowed),
/// at least 1 MiB.
pub fn parse_memory_size(s: &str) -> Result<u64, String> {
    let bad = || {
        format!("`{s}` is not a size: expected a number with an optional K, M, G or T (powers of 1024), e.g. 2G, 512M, 1.5G or 1073741824")
    };
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix("ib"))
        .or_else(|| t.strip_suffix(['B', 'b']))
        .unwrap_or(t);
    let (num, unit) = match t.char_indices().last() {
        Some((i, c)) if c.is_ascii_alphabetic() => (&t[..i], c.to_ascii_uppercase()),
        _ => (t, ' '),
    };
    let shift = match unit {
        ' ' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        'T' => 40,
        _ => return Err(bad()),
    };
    let value: f64 = num.trim().parse().map_err(|_| bad())?;
    if !value.is_finite() || value < 0.0 {
        return Err(bad());
    }
    let bytes = value * (1u64 << shift) as f64;
    if bytes >= u64::MAX as f64 {
        return Err(format!("`{s}` is more bytes than this machine can address"));
    }
    let bytes = bytes as u64;
    if bytes < trawl_bm25::MIN_MEMORY_BUDGET {
        return Err(format!(
            "`{s}` is below the smallest memory budget, 1M (1048576 bytes)"
        ));
    }
    Ok(bytes)
}

/// BM25 analysis and scoring settings (shared by `kb build` and `beir`).
#[derive(clap::Args, Clone, Debug)]
pub struct Bm25Args {
    /// BM25 term-frequency saturation.
    #[arg(long, default_value_t = 0.9)]
    pub k1: f32,
    /// BM25 length normalisation.
    #[arg(long, default_value_t = 0.4)]
    pub b: f32,
    /// BM25 variant.
    #[arg(long, value_enum, default_value_t = MethodArg::Lucene)]
    pub method: MethodArg,
    /// Delta of BM25L / BM25+.
    #[arg(long, default_value_t = 0.5)]
    pub delta: f32,
    /// Stemmer: porter, none, or a Snowball language (english, french, german, ...).
    #[arg(long, default_value = "porter")]
    pub stemmer: String,
    /// Stopwords: english (Lucene's 33), none, or a file with one word per line.
    #[arg(long, default_value = "english")]
    pub stopwords: String,
    /// Index the text only (default: title + " " + text, like Pyserini's BEIR flat runs).
    #[arg(long)]
    pub text_only: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodArg {
    Lucene,
    Robertson,
    Atire,
    Bm25l,
    Bm25plus,
}

impl MethodArg {
    pub fn method(self) -> Bm25Method {
        match self {
            MethodArg::Lucene => Bm25Method::Lucene,
            MethodArg::Robertson => Bm25Method::Robertson,
            MethodArg::Atire => Bm25Method::Atire,
            MethodArg::Bm25l => Bm25Method::Bm25L,
            MethodArg::Bm25plus => Bm25Method::Bm25Plus,
        }
    }
}

/// `--stemmer`: porter, none, or a Snowball language.
pub fn parse_stemmer(name: &str) -> Stemmer {
    match name.to_ascii_lowercase().as_str() {
        "porter" => Stemmer::Porter,
        "none" => Stemmer::None,
        lang => Stemmer::Snowball(lang.to_string()),
    }
}

/// `--stopwords`: english, none, or a file of one word per line.
pub fn parse_stopwords(name: &str) -> anyhow::Result<Stopwords> {
    Ok(match name {
        "english" | "lucene" => Stopwords::LuceneEnglish,
        "none" => Stopwords::None,
        file => Stopwords::from_file(Path::new(file)).with_context(|| {
            format!("--stopwords {file}: not `english` or `none`, and not a readable file of one word per line")
        })?,
    })
}

impl Bm25Args {
    /// The library settings these flags describe.
    pub fn to_options(&self) -> anyhow::Result<Bm25Options> {
        let stemmer = parse_stemmer(&self.stemmer);
        let stopwords = parse_stopwords(&self.stopwords)?;
        let method = self.method.method();
        let analyzer = AnalyzerConfig {
            stemmer,
            stopwords,
            ..AnalyzerConfig::default()
        };
        // Fail on a bad setting (unknown Snowball language, ...) before reading any document.
        trawl_bm25::Analyzer::new(&analyzer)?;
        Ok(Bm25Options {
            analyzer,
            params: Bm25Params {
                method,
                k1: self.k1,
                b: self.b,
                delta: self.delta,
            },
            fields: if self.text_only {
                IndexedFields::Text
            } else {
                IndexedFields::TitleText
            },
        })
    }
}

/// Opens DOCS as a stream of documents: a BEIR folder, or a JSONL / TSV file. An id that would
/// break a TREC run file (whitespace, control characters) is an error naming file and line.
pub fn read_docs(
    docs: &Path,
) -> anyhow::Result<Box<dyn Iterator<Item = trawl_data::Result<Document>>>> {
    let reader = if docs.is_dir() {
        trawl_data::beir::BeirDataset::open(docs)?.read_corpus()?
    } else {
        trawl_data::document::read_documents(docs)?
    };
    let path = if docs.is_dir() {
        docs.join("corpus.jsonl")
    } else {
        docs.to_path_buf()
    };
    let mut reader = reader;
    Ok(Box::new(std::iter::from_fn(move || {
        let item = reader.next()?;
        Some(item.and_then(|doc| match trawl_kb::check_doc_id(&doc.id) {
            Ok(()) => Ok(doc),
            Err(what) => Err(trawl_data::Error::Parse {
                path: path.clone(),
                line: reader.line_number(),
                message: format!(
                    "document id {:?} contains {what}; ids are written to TREC run files, which split on whitespace: fix the corpus",
                    doc.id
                ),
            }),
        }))
    })))
}

/// A documents/s spinner on stderr (hidden when stderr is not a terminal).
pub fn doc_progress(what: &str) -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {human_pos} docs ({per_sec}) {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(what.to_string());
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// Total size of the files under `dir`.
pub fn size_on_disk(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => size_on_disk(&e.path()),
            Ok(_) => e.metadata().map(|m| m.len()).unwrap_or(0),
            Err(_) => 0,
        })
        .sum()
}

pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Builds a KB with a progress bar, with vectors from `model` when given (run as `quantize`
/// says), and swaps it into `out` only once every index is written (a kill or an error
/// part-way leaves `out` as it was). Returns it and the seconds taken.
pub fn build_with_progress(
    docs: &Path,
    out: &Path,
    options: &KbBuildOptions,
    model: Option<(&str, super::Quantize)>,
    chunking: Option<&super::chunk::ChunkArgs>,
) -> anyhow::Result<(KnowledgeBase, f64)> {
    build_with_index(docs, out, options, model, chunking, None)
}

/// [`build_with_progress`], adding an approximate vector index (`ann`) over the new vectors
/// before the KB is swapped into place.
pub fn build_with_index(
    docs: &Path,
    out: &Path,
    options: &KbBuildOptions,
    model: Option<(&str, super::Quantize)>,
    chunking: Option<&super::chunk::ChunkArgs>,
    ann: Option<(super::kb_index::IndexType, &super::kb_index::AnnBuildArgs)>,
) -> anyhow::Result<(KnowledgeBase, f64)> {
    let start = Instant::now();
    let parents = std::rc::Rc::new(std::cell::RefCell::new(super::chunk::ParentCount::default()));
    let stream: Box<dyn Iterator<Item = trawl_data::Result<Document>>> = match chunking {
        Some(c) => Box::new(super::chunk::chunked_docs(
            docs,
            c.chunker()?,
            c.skip_empty,
            parents.clone(),
        )?),
        None => read_docs(docs)?,
    };
    let bar = doc_progress("indexing");
    let result = KnowledgeBase::build_staged(stream, out, options, |n| bar.set_position(n));
    bar.finish_and_clear();
    let mut staged =
        result.with_context(|| format!("building a knowledge base from {}", docs.display()))?;
    report_recovery(staged.recovered());
    if let Some(c) = chunking {
        staged.set_chunks(c.manifest(&parents.borrow()))?;
    }
    if let Some((model, quantize)) = model {
        add_dense_index(&mut staged, model, quantize)?;
    }
    if let Some((kind, knobs)) = ann {
        let (name, params) = knobs.params(kind, staged.kb().num_docs())?;
        let t = Instant::now();
        staged
            .add_ann(&name, params)
            .with_context(|| format!("building the {} index `{name}`", params.kind()))?;
        eprintln!(
            "built {} index `{name}` in {:.1}s",
            params.kind(),
            t.elapsed().as_secs_f64()
        );
    }
    let kb = staged
        .commit()
        .with_context(|| format!("moving the new knowledge base into {}", out.display()))?;
    Ok((kb, start.elapsed().as_secs_f64()))
}

/// Tells the user what recovery did (leftovers of killed writers).
pub fn report_recovery(done: &[trawl_store::Recovery]) {
    for r in done {
        eprintln!("note: {r}");
    }
}

/// How a model is recorded in a KB: a model folder by absolute path (so the KB works from any
/// directory), anything else (a hub id) as given.
pub fn recorded_model(model: &str) -> String {
    match Path::new(model).canonicalize() {
        Ok(p) if p.is_dir() => p.display().to_string(),
        _ => model.to_string(),
    }
}

/// `trawl kb info`: the manifest, with `num_live` (the documents searches return) added;
/// the manifest's `num_docs` counts ordinals, deleted and replaced documents included until
/// `kb compact`.
fn info_json(kb: &KnowledgeBase) -> String {
    let manifest: serde_json::Value =
        serde_json::from_slice(&kb.manifest().to_json()).unwrap_or_default();
    let mut out = serde_json::Map::new();
    out.insert("num_live".into(), kb.num_live().into());
    if let serde_json::Value::Object(m) = manifest {
        out.extend(m);
    }
    serde_json::to_string_pretty(&serde_json::Value::Object(out)).expect("JSON serialises")
}

/// Loads `model` as `kb build --dense` runs it (`quantize` as given; the KB records it).
#[cfg(feature = "dense")]
pub fn load_encoder(
    model: &str,
    quantize: super::Quantize,
) -> anyhow::Result<trawl_embed::SentenceEncoder> {
    let opts = trawl_embed::EncoderOptions {
        quantize,
        ..Default::default()
    };
    trawl_embed::SentenceEncoder::load(model, &opts)
        .with_context(|| format!("loading embedding model {model}"))
}

/// Encodes documents' texts ([`trawl_kb::DocumentRef::embedding_text`]: the model adds its
/// document prefix) with a progress bar: the one encoding path of `kb build --dense` and
/// `kb add`. Row-major vectors of `encoder.dim()` values.
#[cfg(feature = "dense")]
pub fn encode_documents(
    encoder: &trawl_embed::SentenceEncoder,
    texts: &[&str],
    model: &str,
) -> anyhow::Result<Vec<f32>> {
    let bar = ProgressBar::new(texts.len() as u64);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} embedding {pos}/{len} docs ({per_sec}) {elapsed}, eta {eta}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let progress = |done: usize, _total: usize| bar.set_position(done as u64);
    let emb = encoder.encode_documents_with_progress(texts, &progress);
    bar.finish_and_clear();
    Ok(emb
        .with_context(|| format!("embedding documents with {model}"))?
        .data)
}

/// Encodes every document of the staged KB with `model` (run as `quantize` says, which the KB
/// records) and stores the vectors in it.
#[cfg(feature = "dense")]
pub fn add_dense_index(
    staged: &mut StagedKb,
    model: &str,
    quantize: super::Quantize,
) -> anyhow::Result<()> {
    let kb = staged.kb();
    let encoder = load_encoder(model, quantize)?;
    let texts = (0..kb.num_docs() as u32)
        .map(|o| kb.document(o).map(|d| d.embedding_text()))
        .collect::<trawl_kb::Result<Vec<String>>>()?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let values = encode_documents(&encoder, &refs, model)?;
    let mut embeddings =
        trawl_kb::DenseEmbeddings::new(values, encoder.dim(), recorded_model(model));
    if quantize != super::Quantize::None {
        embeddings.quantize = Some(quantize.to_string());
    }
    staged.add_dense(&embeddings)?;
    Ok(())
}

/// Without the `dense` feature: a named error.
#[cfg(not(feature = "dense"))]
pub fn add_dense_index(
    _staged: &mut StagedKb,
    _model: &str,
    _quantize: super::Quantize,
) -> anyhow::Result<()> {
    anyhow::bail!(
        "dense index not available: this trawl was built without the `dense` feature; rebuild it with default features"
    )
}

fn build(args: BuildArgs) -> anyhow::Result<ExitCode> {
    let bm25 = args.bm25 || args.dense.is_none();
    if !args.chunk && args.chunking.any_given() {
        anyhow::bail!(
            "chunking options (--max-words, --max-tokens, --overlap, --by, ...) need --chunk"
        );
    }
    if let Some(_model) = &args.dense {
        #[cfg(not(feature = "dense"))]
        anyhow::bail!(
            "dense index not available: this trawl was built without the `dense` feature; rebuild it with default features or drop --dense"
        );
    }
    let options = KbBuildOptions {
        bm25: if bm25 {
            Some(args.bm25_settings.to_options()?)
        } else {
            None
        },
        overwrite: args.force,
        memory_budget: args.memory_budget,
        ..KbBuildOptions::default()
    };
    // Never replace (or put files into) what is being read.
    let model_path = args.dense.as_deref().map(Path::new);
    let inputs: Vec<&Path> = std::iter::once(args.docs.as_path())
        .chain(model_path)
        .collect();
    trawl_store::refuse_output_containing(&args.out, &inputs)?;
    let chunking = args.chunk.then_some(&args.chunking);
    let (kb, secs) = build_with_index(
        &args.docs,
        &args.out,
        &options,
        args.dense.as_deref().map(|m| (m, args.quantize.get())),
        chunking,
        args.index.map(|kind| (kind, &args.ann)),
    )?;
    let m = kb.manifest();
    let terms = m.bm25.as_ref().map(|b| b.num_terms).unwrap_or(0);
    let empty = if m.num_empty_docs > 0 {
        format!(" ({} with empty text, kept)", m.num_empty_docs)
    } else {
        String::new()
    };
    let chunks = match &m.chunks {
        Some(c) => format!(" (chunks of {} documents)", c.num_parents),
        None => String::new(),
    };
    let dense = match &m.dense {
        Some(d) => match &d.quantize {
            Some(q) => format!(", {}-d vectors ({}, {q})", d.dim, d.model),
            None => format!(", {}-d vectors ({})", d.dim, d.model),
        },
        None => String::new(),
    };
    let dense = m.ann.iter().fold(dense, |s, a| {
        format!("{s}, {} index `{}`", a.params.kind(), a.name)
    });
    // The figure `kb plan --index bm25` predicts (and `plan_cli` checks it against).
    let peak = super::kb_plan::peak_rss()
        .map(|b| format!(", peak memory {b} bytes ({})", human_bytes(b)))
        .unwrap_or_default();
    println!(
        "built {}: {} docs{chunks}{empty}, {} terms{dense}, {} on disk, {:.2} s ({:.0} docs/s){peak}",
        args.out.display(),
        m.num_docs,
        terms,
        human_bytes(size_on_disk(&args.out)),
        secs,
        m.num_docs as f64 / secs.max(1e-9),
    );
    Ok(ExitCode::SUCCESS)
}

pub fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Build(args) => build(args),
        Command::Index(args) => super::kb_index::run(args),
        Command::Add(args) => super::kb_update::add(args),
        Command::Delete(args) => super::kb_update::delete(args),
        Command::Compact(args) => super::kb_update::compact(args),
        Command::ImportFaiss(args) => super::kb_import_faiss::run(args),
        Command::Plan(args) => super::kb_plan::run(args),
        Command::Info { kb, generations } => {
            let kb = KnowledgeBase::open(&kb)?;
            report_recovery(kb.recovered());
            if generations {
                super::kb_update::print_generations(&kb);
                return Ok(ExitCode::SUCCESS);
            }
            println!("{}", info_json(&kb));
            Ok(ExitCode::SUCCESS)
        }
    }
}
