//! `trawl kb import-faiss INDEX --ids MAP --docs CORPUS --out KB`: a KB from a FAISS index as it
//! is (no re-encoding); the work is trawl-kb's `import_faiss`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use trawl_kb::{import_faiss, FaissImportOptions};

#[derive(clap::Args)]
pub struct Args {
    /// The FAISS index file (faiss.write_index): IndexFlatIP/L2, IndexIVFFlat, IndexIVFPQ,
    /// IndexHNSWFlat or IndexScalarQuantizer.
    pub index: PathBuf,
    /// Doc ids in index order: a pickle or JSON list, a dict {position: id}, or one id a line.
    #[arg(long, value_name = "ID_MAPPING")]
    pub ids: PathBuf,
    /// The corpus (JSONL (.gz ok), TSV or a BEIR folder); must hold every mapped id.
    #[arg(long, value_name = "CORPUS")]
    pub docs: PathBuf,
    /// The model queries are encoded with (recorded in the KB; its dimension must match).
    #[arg(long)]
    pub model: Option<String>,
    /// Where to write the knowledge base.
    #[arg(long)]
    pub out: PathBuf,
    /// Name of the approximate index (`--index NAME` selects it).
    #[arg(long, default_value = "faiss")]
    pub name: String,
    /// Also build a BM25 index over the documents (for hybrid retrieval).
    #[arg(long)]
    pub bm25: bool,
    /// Replace an existing knowledge base at --out.
    #[arg(long)]
    pub force: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let t = Instant::now();
    let docs = if args.docs.is_dir() {
        args.docs.join("corpus.jsonl")
    } else {
        args.docs.clone()
    };
    let model_dim = args.model.as_deref().map(model_dim).transpose()?;
    let opts = FaissImportOptions {
        model: args.model.clone(),
        model_dim,
        name: args.name.clone(),
        bm25: args.bm25,
        overwrite: args.force,
    };
    let (kb, r) = import_faiss(&args.index, &args.ids, &docs, &args.out, &opts)
        .with_context(|| format!("importing the FAISS index {}", args.index.display()))?;
    eprintln!(
        "imported FAISS {} ({}, {} vectors of dimension {}, {:?}) into {} in {:.1}s",
        r.fourcc,
        r.kind,
        r.num_docs,
        r.dim,
        r.metric,
        args.out.display(),
        t.elapsed().as_secs_f64()
    );
    match &r.ann {
        Some(name) => eprintln!(
            "approximate index `{name}`; search it with `trawl search {} --index {name}` (exact: --index exact)",
            args.out.display()
        ),
        None => eprintln!("the stored vectors are the KB's exact index"),
    }
    if !r.exact_vectors {
        eprintln!("note: FAISS's IVF-PQ keeps no full vectors; `--index exact` ranks their PQ reconstructions");
    }
    if r.unmapped_docs > 0 {
        eprintln!(
            "note: {} corpus documents are not in the id mapping and were left out",
            r.unmapped_docs
        );
    }
    drop(kb);
    Ok(ExitCode::SUCCESS)
}

/// The output dimension of `model` (loaded once to check it against the index).
#[cfg(feature = "dense")]
fn model_dim(model: &str) -> anyhow::Result<usize> {
    let encoder =
        trawl_embed::SentenceEncoder::load(model, &trawl_embed::EncoderOptions::default())
            .with_context(|| format!("loading embedding model {model}"))?;
    Ok(encoder.dim())
}
#[cfg(not(feature = "dense"))]
fn model_dim(_model: &str) -> anyhow::Result<usize> {
    anyhow::bail!("--model needs trawl built with the `dense` feature")
}
