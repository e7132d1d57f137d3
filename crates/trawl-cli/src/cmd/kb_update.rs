//! `trawl kb add KB DOCS`, `trawl kb delete KB --ids ...`, `trawl kb compact KB`: live updates,
//! each written as a new KB generation (see `trawl_kb`'s `update` module), and
//! `trawl kb info --generations`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use trawl_kb::{Bm25Options, IndexedFields, KnowledgeBase, Manifest, UpdateOptions, UpdateReport};

use super::kb::{
    doc_progress, parse_stemmer, parse_stopwords, read_docs, report_recovery, MethodArg,
};

#[derive(clap::Args)]
pub struct AddArgs {
    /// The knowledge base directory.
    pub kb: PathBuf,
    /// Documents: a BEIR dataset folder, a JSONL file (.gz ok) or a TSV. An id the KB holds
    /// replaces that document; an id repeated inside DOCS is an error naming both records.
    pub docs: PathBuf,
    /// Where the KB's embedding model now lives, when it moved (a KB with dense vectors
    /// encodes the new documents with the model its manifest records, run as recorded,
    /// e.g. int8). It must be that model: same folder name, same dimension.
    #[arg(long, value_name = "PATH")]
    pub model: Option<String>,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// BM25 settings the new documents are meant for: none given means the KB's own; any given
/// must equal the KB's (a KB has one analyzer and scoring for all its segments).
#[derive(clap::Args)]
pub struct SettingsArgs {
    #[arg(long)]
    pub k1: Option<f32>,
    #[arg(long)]
    pub b: Option<f32>,
    #[arg(long, value_enum)]
    pub method: Option<MethodArg>,
    #[arg(long)]
    pub delta: Option<f32>,
    #[arg(long)]
    pub stemmer: Option<String>,
    #[arg(long)]
    pub stopwords: Option<String>,
    #[arg(long)]
    pub text_only: bool,
}

impl SettingsArgs {
    /// The KB's settings with the given flags applied; `None` when no flag was given.
    fn given(&self, kb: &Manifest) -> anyhow::Result<Option<Bm25Options>> {
        let any = self.k1.is_some()
            || self.b.is_some()
            || self.method.is_some()
            || self.delta.is_some()
            || self.stemmer.is_some()
            || self.stopwords.is_some()
            || self.text_only;
        if !any {
            return Ok(None);
        }
        let mut o = kb
            .bm25
            .as_ref()
            .map(|b| Bm25Options {
                analyzer: b.analyzer.clone(),
                params: b.params,
                fields: b.fields,
            })
            .unwrap_or_default();
        if let Some(v) = self.k1 {
            o.params.k1 = v;
        }
        if let Some(v) = self.b {
            o.params.b = v;
        }
        if let Some(v) = self.delta {
            o.params.delta = v;
        }
        if let Some(m) = self.method {
            o.params.method = m.method();
        }
        if let Some(s) = &self.stemmer {
            o.analyzer.stemmer = parse_stemmer(s);
        }
        if let Some(s) = &self.stopwords {
            o.analyzer.stopwords = parse_stopwords(s)?;
        }
        if self.text_only {
            o.fields = IndexedFields::Text;
        }
        Ok(Some(o))
    }
}

#[derive(clap::Args)]
pub struct DeleteArgs {
    /// The knowledge base directory.
    pub kb: PathBuf,
    /// Ids to delete; a value naming an existing file is read as ids, one per line.
    #[arg(long, num_args = 1.., required = true, value_name = "FILE|ID")]
    pub ids: Vec<String>,
}

#[derive(clap::Args)]
pub struct CompactArgs {
    /// The knowledge base directory.
    pub kb: PathBuf,
}

fn summary(kb: &Path, r: &UpdateReport, secs: f64) -> String {
    format!(
        "{}: generation {}, content hash {}, {} live documents ({secs:.2} s)",
        kb.display(),
        r.generation,
        r.content_hash,
        r.num_live
    )
}

/// The last part of a model's name or folder (`all-MiniLM-L6-v2` for a path or a hub id).
#[cfg(feature = "dense")]
fn model_name(model: &str) -> &str {
    let trimmed = model.trim_end_matches(['/', '\\']);
    trimmed.rsplit(['/', '\\']).next().unwrap_or(trimmed)
}

/// The encoder for documents added to a KB with vectors: its recorded model (or `--model`, which
/// must be that model: same name, same dimension), run as recorded (`quantize`).
#[cfg(feature = "dense")]
fn kb_encoder(
    kb: &Path,
    d: &trawl_kb::manifest::DenseManifest,
    given: Option<&str>,
) -> anyhow::Result<(trawl_embed::SentenceEncoder, String)> {
    let quantize: super::Quantize = d
        .quantize
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(|e: String| anyhow::anyhow!("{}: the recorded quantisation: {e}", kb.display()))?
        .unwrap_or_default();
    let model = given.unwrap_or(&d.model).to_string();
    if given.is_some() && model_name(&model) != model_name(&d.model) {
        anyhow::bail!(
            "--model {model} is not the model {} was built with ({}): pass the folder of that model",
            kb.display(),
            d.model
        );
    }
    let encoder = match super::kb::load_encoder(&model, quantize) {
        Ok(e) => e,
        Err(e) if given.is_none() => anyhow::bail!(
            "{} holds {}-dimensional vectors of the model {}, which cannot be loaded: pass --model PATH where that model's folder now lives\n\n{e:#}",
            kb.display(),
            d.dim,
            d.model
        ),
        Err(e) => return Err(e),
    };
    if encoder.dim() != d.dim {
        anyhow::bail!(
            "model {model} makes {}-dimensional vectors but {} holds {}-dimensional ones (model {}): pass the model the KB was built with",
            encoder.dim(),
            kb.display(),
            d.dim,
            d.model
        );
    }
    Ok((encoder, model))
}

/// Adds `docs`, encoding them for a KB with vectors (which needs the `dense` feature).
fn add_to(
    args: &AddArgs,
    manifest: &Manifest,
    docs: Box<dyn Iterator<Item = trawl_data::Result<trawl_data::Document>>>,
    options: &UpdateOptions,
    progress: impl FnMut(u64),
) -> anyhow::Result<trawl_kb::Result<(KnowledgeBase, UpdateReport)>> {
    let Some(d) = &manifest.dense else {
        return Ok(KnowledgeBase::add_documents(
            &args.kb, docs, options, progress,
        ));
    };
    #[cfg(feature = "dense")]
    {
        let (encoder, model) = kb_encoder(&args.kb, d, args.model.as_deref())?;
        let mut encode = |texts: &[&str]| {
            super::kb::encode_documents(&encoder, texts, &model).map_err(|e| format!("{e:#}"))
        };
        Ok(KnowledgeBase::add_documents_encoded(
            &args.kb,
            docs,
            options,
            Some(&mut encode),
            progress,
        ))
    }
    #[cfg(not(feature = "dense"))]
    anyhow::bail!(
        "{} holds vectors of {}, and new documents need that model: this trawl was built without the `dense` feature; rebuild it with default features",
        args.kb.display(),
        d.model
    )
}

pub fn add(args: AddArgs) -> anyhow::Result<ExitCode> {
    let model_path = args.model.as_deref().map(Path::new);
    let inputs: Vec<&Path> = std::iter::once(args.docs.as_path())
        .chain(model_path)
        .collect();
    trawl_store::refuse_output_containing(&args.kb, &inputs)?;
    let manifest = Manifest::read(&args.kb)?;
    if args.model.is_some() && manifest.dense.is_none() {
        anyhow::bail!(
            "--model: {} holds no dense vectors (a BM25-only KB needs no model)",
            args.kb.display()
        );
    }
    let options = UpdateOptions {
        bm25: args.settings.given(&manifest)?,
        ..UpdateOptions::default()
    };
    let start = Instant::now();
    let docs = read_docs(&args.docs)?;
    let bar = doc_progress("adding");
    let result = add_to(&args, &manifest, docs, &options, |n| bar.set_position(n));
    bar.finish_and_clear();
    let result = result?;
    let (_, r) = result
        .with_context(|| format!("adding {} to {}", args.docs.display(), args.kb.display()))?;
    report_recovery(&r.recovered);
    println!(
        "added {} documents ({} new, {} replaced) to {}",
        r.added + r.replaced,
        r.added,
        r.replaced,
        summary(&args.kb, &r, start.elapsed().as_secs_f64())
    );
    Ok(ExitCode::SUCCESS)
}

/// The ids of `--ids`: files read one id per line, other values taken as ids.
fn read_ids(values: &[String]) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for v in values {
        let path = Path::new(v);
        if path.is_file() {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("--ids {v}: reading the file of ids"))?;
            ids.extend(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from),
            );
        } else {
            ids.push(v.clone());
        }
    }
    Ok(ids)
}

pub fn delete(args: DeleteArgs) -> anyhow::Result<ExitCode> {
    let ids = read_ids(&args.ids)?;
    let start = Instant::now();
    let (_, r) = KnowledgeBase::delete_documents(&args.kb, &ids)
        .with_context(|| format!("deleting from {}", args.kb.display()))?;
    report_recovery(&r.recovered);
    if !r.missing.is_empty() {
        let shown: Vec<&str> = r.missing.iter().take(10).map(String::as_str).collect();
        let more = r.missing.len().saturating_sub(shown.len());
        eprintln!(
            "note: {} ids not in {} (nothing to delete): {}{}",
            r.missing.len(),
            args.kb.display(),
            shown.join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            }
        );
    }
    let what = if r.changed {
        format!("deleted {} documents from", r.deleted)
    } else {
        "nothing deleted, unchanged:".to_string()
    };
    println!(
        "{what} {}",
        summary(&args.kb, &r, start.elapsed().as_secs_f64())
    );
    Ok(ExitCode::SUCCESS)
}

pub fn compact(args: CompactArgs) -> anyhow::Result<ExitCode> {
    let start = Instant::now();
    let bar = doc_progress("compacting");
    let result = KnowledgeBase::compact(&args.kb, 16_384, |n| bar.set_position(n));
    bar.finish_and_clear();
    let (_, r) = result.with_context(|| format!("compacting {}", args.kb.display()))?;
    report_recovery(&r.recovered);
    let what = if r.changed {
        "compacted"
    } else {
        "already compact, unchanged:"
    };
    println!(
        "{what} {}",
        summary(&args.kb, &r, start.elapsed().as_secs_f64())
    );
    Ok(ExitCode::SUCCESS)
}

/// One line per generation, oldest first: id, UTC time, change, live documents, content hash.
pub fn print_generations(kb: &KnowledgeBase) {
    println!("generation\tcreated_unix_s\tchange\tlive\tcontent_hash");
    for g in &kb.manifest().history {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            g.generation, g.created_unix_s, g.change, g.num_live, g.content_hash
        );
    }
}

/// `<run>.kb.json` beside a run file: the KB (folder, generation, content hash, live documents)
/// it was computed from. TREC run files have no room for comments, so the trail lives here.
pub fn write_run_provenance(run: &Path, kb: &KnowledgeBase) -> anyhow::Result<PathBuf> {
    let mut name = run.file_name().unwrap_or_default().to_os_string();
    name.push(".kb.json");
    let path = run.with_file_name(name);
    let m = kb.manifest();
    let v = serde_json::json!({
        "run": run.file_name().map(|n| n.to_string_lossy().into_owned()),
        "kb_dir": kb.dir().canonicalize().unwrap_or_else(|_| kb.dir().to_path_buf()),
        "kb_generation": m.generation,
        "kb_content_hash": m.content_hash,
        "kb_num_live": kb.num_live(),
    });
    let mut bytes = serde_json::to_vec_pretty(&v)?;
    bytes.push(b'\n');
    trawl_store::write_file_atomic(&path, &bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
