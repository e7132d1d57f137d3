//! Live updates of a knowledge base, each written as a new generation (`trawl kb add`,
//! `kb delete`, `kb compact`).
//!
//! - **add** (upsert): the new documents become a segment, `segments/<n>/`, with its own
//!   document store, id map and BM25 index; an id already in the KB replaces the old version,
//!   which gets a tombstone. Ids repeated inside one batch are an error naming both records.
//! - **delete**: tombstones in `deleted.bin`; ids the KB does not hold are reported, not an
//!   error.
//! - **compact**: rebuilds one base from the live documents in ordinal order: no segments, no
//!   tombstones, ordinals renumbered.
//!
//! Searches over segments use the live documents' statistics (`trawl_bm25::Segments`), so after
//! any sequence of updates a KB returns what a KB built from scratch over its live documents in
//! ordinal order returns, and carries the same content hash
//! ([`Manifest::compute_content_hash`]).
//!
//! Every update runs under the KB's write lock (`trawl_store::AtomicDir`): the unchanged files
//! are hard-linked into a new directory, the new ones written there, the manifest last, and the
//! directory swapped in whole. A reader keeps the generation it opened (its files are never
//! modified, only unlinked); a killed writer leaves the last complete generation.
//!
//! Dense vectors follow the same segment rule. `add` on a KB with vectors encodes the new
//! documents with the KB's model (an [`EncodeDocuments`] the caller loads: `trawl kb add`
//! loads the model the manifest records, run as it records) into the segment's own
//! `segments/<n>/dense/`; exact search scans the base and every segment's vectors and skips
//! deleted documents; approximate indexes keep covering the base vectors (their hits of deleted
//! documents are dropped, with enough over-fetch to still return k) and are merged with an
//! exact scan of the segments' vectors in one top-k (see [`KnowledgeBase::search_index`]).
//! `compact` gathers the live vectors in ordinal order into one base (copied as stored, not
//! re-encoded) and rebuilds every approximate index from its recorded parameters and seed, so
//! a compacted KB holds the files a fresh `kb build --dense M --index ...` over its live
//! documents writes.

use std::path::Path;

use trawl_data::Document;
use trawl_store::{AtomicDir, Recovery, Verify};

use crate::build::{write_corpus, Bm25Options, BM25_DIR};
use crate::corpus_hash::CorpusHasher;
use crate::dense::{self, DenseEmbeddings};
use crate::doc_store::DocStore;
use crate::manifest::{Manifest, SegmentManifest, MANIFEST_FILE, TRAWL_VERSION};
use crate::{Error, KnowledgeBase, Result};

/// Encodes documents for a KB with dense vectors: gets the texts the model sees
/// ([`crate::DocumentRef::embedding_text`]) and returns one vector per text, row-major, of
/// the KB's dimension; `Err` says why it could not.
pub type EncodeDocuments<'a> = dyn FnMut(&[&str]) -> std::result::Result<Vec<f32>, String> + 'a;

/// How to add documents.
#[derive(Debug, Clone)]
pub struct UpdateOptions {
    /// The BM25 settings the new documents are meant for (e.g. given on the command line): a
    /// KB built with other settings is refused, both named. `None`: the KB's own.
    pub bm25: Option<Bm25Options>,
    /// Documents handed to the BM25 builder at a time.
    pub batch_size: usize,
    /// Bytes of postings the BM25 build of the new segment holds in memory before it spills a
    /// run to disk (see [`crate::KbBuildOptions::memory_budget`]).
    pub memory_budget: u64,
}

impl Default for UpdateOptions {
    fn default() -> Self {
        UpdateOptions {
            bm25: None,
            batch_size: 16_384,
            memory_budget: trawl_bm25::DEFAULT_MEMORY_BUDGET,
        }
    }
}

/// What an update did.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdateReport {
    /// Documents added with a new id.
    pub added: u64,
    /// Documents whose id was in the KB: the old version got a tombstone.
    pub replaced: u64,
    /// Documents deleted.
    pub deleted: u64,
    /// Ids asked to be deleted that the KB does not hold (or no longer does).
    pub missing: Vec<String>,
    /// False when nothing changed (no new generation was written).
    pub changed: bool,
    /// The generation the KB is at now.
    pub generation: String,
    pub content_hash: String,
    pub num_live: u64,
    /// What recovery did before the update (interrupted writers' leftovers).
    pub recovered: Vec<Recovery>,
}

/// Locks `dir` (a KB), recovers, and opens it under the lock.
fn begin(dir: &Path) -> Result<(AtomicDir, KnowledgeBase)> {
    Manifest::read(dir)?; // not a KB: say so before taking any lock
    let staging = AtomicDir::create(dir)?;
    let kb = KnowledgeBase::open(dir)?;
    Ok((staging, kb))
}

/// Updates of the KB's documents refuse what segments cannot hold yet.
fn check_updatable(kb: &KnowledgeBase, what: &str) -> Result<()> {
    let m = kb.manifest();
    let refuse = |message: String| Error::Update {
        path: kb.dir().to_path_buf(),
        message,
    };
    if what == "add" && m.chunks.is_some() {
        return Err(refuse(
            "its documents are chunks (built with --chunk), and `kb add` does not chunk; rebuild it with `trawl kb build DOCS --out KB --chunk ... --force`".into(),
        ));
    }
    Ok(())
}

fn settings_of(o: &Bm25Options) -> String {
    #[derive(serde::Serialize)]
    struct Settings<'a> {
        fields: crate::IndexedFields,
        analyzer: &'a trawl_bm25::AnalyzerConfig,
        params: &'a trawl_bm25::Bm25Params,
    }
    // Serialised directly (not through a `Value`), so f32 keeps its short form (0.9).
    let v = Settings {
        fields: o.fields,
        analyzer: &o.analyzer,
        params: &o.params,
    };
    let mut s = serde_json::to_string(&v).unwrap_or_default();
    if s.len() > 300 {
        let mut end = 300;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

/// Refuses BM25 settings other than the KB's.
fn check_settings(kb: &KnowledgeBase, given: Option<&Bm25Options>) -> Result<Option<Bm25Options>> {
    let have = kb.manifest().bm25.as_ref().map(|b| Bm25Options {
        analyzer: b.analyzer.clone(),
        params: b.params,
        fields: b.fields,
    });
    match (given, &have) {
        (None, _) => Ok(have),
        (Some(g), Some(h)) if g == h => Ok(have),
        (Some(g), h) => Err(Error::SettingsMismatch {
            path: kb.dir().to_path_buf(),
            kb: h
                .as_ref()
                .map_or_else(|| "no BM25 index".to_string(), settings_of),
            given: settings_of(g),
        }),
    }
}

/// Hard-links every file of `kb` into `staging` except the manifest and the tombstones.
fn link_unchanged(kb: &KnowledgeBase, staging: &Path) -> Result<()> {
    for f in &kb.manifest().files {
        if f == MANIFEST_FILE || f == crate::deleted::DELETED_FILE || f.ends_with('/') {
            continue;
        }
        let from = trawl_store::confined_join(kb.dir(), f)?;
        trawl_store::link_or_copy(&from, &staging.join(f))?;
    }
    Ok(())
}

/// Feeds the live documents of `kb` (ordinals below `upto`, skipping `deleted`) to `hasher`;
/// returns how many have empty title and text.
fn hash_live(
    store: &DocStore,
    upto: usize,
    deleted: &crate::deleted::Deleted,
    hasher: &mut CorpusHasher,
) -> Result<u64> {
    let mut empty = 0;
    for o in 0..upto as u32 {
        if deleted.contains(o) {
            continue;
        }
        let d = store.get(o)?;
        empty += u64::from(d.title.trim().is_empty() && d.text.trim().is_empty());
        hasher.add(d.id, d.title, d.text, d.metadata_json.as_bytes());
    }
    Ok(empty)
}

/// Writes the manifest of the new generation, swaps it in and reports.
fn finish(
    staging: AtomicDir,
    mut manifest: Manifest,
    change: String,
    mut report: UpdateReport,
) -> Result<(KnowledgeBase, UpdateReport)> {
    let dir = staging.dest().to_path_buf();
    report.recovered.extend(staging.recovered().iter().cloned());
    manifest.trawl_version = TRAWL_VERSION.into();
    manifest.advance(change);
    manifest.write_into(staging.path())?;
    staging.commit()?;
    let kb = KnowledgeBase::open(&dir)?;
    report.changed = true;
    report.generation = kb.generation().to_string();
    report.content_hash = kb.manifest().content_hash.clone();
    report.num_live = kb.num_live() as u64;
    Ok((kb, report))
}

fn unchanged(
    kb: KnowledgeBase,
    mut report: UpdateReport,
    staging: AtomicDir,
) -> (KnowledgeBase, UpdateReport) {
    report.recovered.extend(staging.recovered().iter().cloned());
    report.generation = kb.generation().to_string();
    report.content_hash = kb.manifest().content_hash.clone();
    report.num_live = kb.num_live() as u64;
    (kb, report)
}

fn empty_report() -> UpdateReport {
    UpdateReport {
        added: 0,
        replaced: 0,
        deleted: 0,
        missing: Vec::new(),
        changed: false,
        generation: String::new(),
        content_hash: String::new(),
        num_live: 0,
        recovered: Vec::new(),
    }
}

impl KnowledgeBase {
    /// Adds `docs` to the KB at `dir` as a new segment (upsert: an id the KB holds replaces
    /// its old version), as a new generation; see the [`crate::update`] module docs. An empty
    /// input, ids repeated inside `docs`, or BM25 settings other than the KB's are errors and
    /// leave the KB as it was. A KB with dense vectors needs
    /// [`KnowledgeBase::add_documents_encoded`].
    pub fn add_documents(
        dir: impl AsRef<Path>,
        docs: impl IntoIterator<Item = trawl_data::Result<Document>>,
        options: &UpdateOptions,
        progress: impl FnMut(u64),
    ) -> Result<(KnowledgeBase, UpdateReport)> {
        Self::add_documents_encoded(dir, docs, options, None, progress)
    }

    /// [`KnowledgeBase::add_documents`] for a KB that may hold dense vectors: `encode` turns
    /// the new documents into vectors with the KB's model (the one its manifest records, run
    /// as it records: [`KnowledgeBase::dense_model`], [`KnowledgeBase::dense_quantize`]);
    /// they are stored in the segment beside its documents. A KB with vectors and no `encode`,
    /// an encoder that fails, or vectors of another dimension are errors that leave the KB as
    /// it was.
    pub fn add_documents_encoded(
        dir: impl AsRef<Path>,
        docs: impl IntoIterator<Item = trawl_data::Result<Document>>,
        options: &UpdateOptions,
        encode: Option<&mut EncodeDocuments<'_>>,
        mut progress: impl FnMut(u64),
    ) -> Result<(KnowledgeBase, UpdateReport)> {
        let (staging, kb) = begin(dir.as_ref())?;
        check_updatable(&kb, "add")?;
        let refuse = |message: String| Error::Update {
            path: kb.dir().to_path_buf(),
            message,
        };
        let dense_section = kb.manifest().dense.clone();
        if let (Some(m), None) = (&dense_section, &encode) {
            return Err(refuse(format!(
                "it holds {}-dimensional dense vectors of {}, and new documents need vectors from that model (`trawl kb add KB DOCS`, with `--model PATH` if its folder moved)",
                m.dim, m.model
            )));
        }
        let bm25 = check_settings(&kb, options.bm25.as_ref())?;
        let mut manifest = kb.manifest().clone();
        let seg_rel = format!("segments/{:06}", manifest.segments.len() + 1);
        let seg_dir = staging.path().join(&seg_rel);
        std::fs::create_dir_all(&seg_dir).map_err(|e| Error::io(&seg_dir, e))?;
        let files = write_corpus(
            &seg_dir,
            docs,
            bm25.as_ref(),
            options.batch_size,
            options.memory_budget,
            &mut CorpusHasher::new(),
            &mut progress,
        )?;
        link_unchanged(&kb, staging.path())?;

        let old_n = kb.num_docs();
        let new_n = old_n + files.num_docs;
        if new_n > u32::MAX as usize {
            return Err(Error::TooManyDocuments {
                max: u64::from(u32::MAX),
            });
        }
        let seg = DocStore::open_parts(&[(seg_dir.clone(), files.num_docs)], Verify::FooterOnly)?;
        if let (Some(m), Some(encode)) = (&dense_section, encode) {
            let texts = (0..files.num_docs as u32)
                .map(|o| seg.get(o).map(|d| d.embedding_text()))
                .collect::<Result<Vec<String>>>()?;
            let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
            let values = encode(&refs)
                .map_err(|e| refuse(format!("encoding the new documents with {}: {e}", m.model)))?;
            let n = files.num_docs;
            if values.len() != n * m.dim {
                let made = if values.len().is_multiple_of(n) {
                    format!("{}-dimensional vectors", values.len() / n)
                } else {
                    format!("{} values for {n} documents", values.len())
                };
                return Err(refuse(format!(
                    "the encoder made {made} but the KB's vectors are {}-dimensional (model {}); encode with the KB's model",
                    m.dim, m.model
                )));
            }
            let embeddings = DenseEmbeddings {
                values,
                dim: m.dim,
                model: m.model.clone(),
                dtype: m.dtype,
                metric: m.metric,
                quantize: m.quantize.clone(),
            };
            dense::write(&seg_dir.join(dense::DENSE_DIR), &embeddings, n)?;
        }
        let mut deleted = kb.deleted().clone();
        deleted.grow(new_n);
        let mut report = empty_report();
        for i in 0..files.num_docs as u32 {
            match kb.ordinal_of(seg.id(i)?) {
                Some(o) => {
                    deleted.insert(o);
                    report.replaced += 1;
                }
                None => report.added += 1,
            }
        }
        let mut hasher = CorpusHasher::new();
        let mut empty = hash_live(kb.store(), old_n, &deleted, &mut hasher)?;
        empty += hash_live(
            &seg,
            files.num_docs,
            &crate::deleted::Deleted::none(0),
            &mut hasher,
        )?;
        if deleted.count() > 0 {
            deleted.write(staging.path())?;
        }
        drop(seg);

        manifest.segments.push(SegmentManifest {
            dir: seg_rel,
            num_docs: files.num_docs as u64,
        });
        manifest.num_docs = new_n as u64;
        manifest.num_deleted = deleted.count();
        manifest.num_empty_docs = empty;
        manifest.corpus_hash = hasher.finish_hex();
        manifest.doc_store_bytes += files.doc_store_bytes;
        let change = format!(
            "add {} ({} new, {} replaced)",
            files.num_docs, report.added, report.replaced
        );
        drop(kb);
        finish(staging, manifest, change, report)
    }

    /// Deletes the documents with these ids from the KB at `dir` (tombstones), as a new
    /// generation; ids it does not hold are listed in [`UpdateReport::missing`]. Nothing to
    /// delete: no new generation.
    pub fn delete_documents(
        dir: impl AsRef<Path>,
        ids: &[String],
    ) -> Result<(KnowledgeBase, UpdateReport)> {
        let (staging, kb) = begin(dir.as_ref())?;
        check_updatable(&kb, "delete")?;
        let mut deleted = kb.deleted().clone();
        let mut report = empty_report();
        for id in ids {
            match kb.ordinal_of(id) {
                Some(o) => report.deleted += u64::from(deleted.insert(o)),
                None => report.missing.push(id.clone()),
            }
        }
        if report.deleted == 0 {
            return Ok(unchanged(kb, report, staging));
        }
        link_unchanged(&kb, staging.path())?;
        deleted.write(staging.path())?;
        let mut hasher = CorpusHasher::new();
        let empty = hash_live(kb.store(), kb.num_docs(), &deleted, &mut hasher)?;
        let mut manifest = kb.manifest().clone();
        manifest.num_deleted = deleted.count();
        manifest.num_empty_docs = empty;
        manifest.corpus_hash = hasher.finish_hex();
        let change = format!("delete {}", report.deleted);
        drop(kb);
        finish(staging, manifest, change, report)
    }

    /// Rebuilds the KB at `dir` from its live documents in ordinal order (no segments, no
    /// tombstones; ordinals renumbered), as a new generation. Dense vectors are gathered as
    /// stored (not re-encoded) and every approximate index is rebuilt from its recorded
    /// parameters and seed. A KB without segments or deletions is left as it is.
    pub fn compact(
        dir: impl AsRef<Path>,
        batch_size: usize,
        mut progress: impl FnMut(u64),
    ) -> Result<(KnowledgeBase, UpdateReport)> {
        let (staging, kb) = begin(dir.as_ref())?;
        let report = empty_report();
        if !kb.is_segmented() {
            return Ok(unchanged(kb, report, staging));
        }
        check_updatable(&kb, "compact")?;
        let bm25 = check_settings(&kb, None)?;
        let live = (0..kb.num_docs() as u32)
            .filter(|&o| !kb.is_deleted(o))
            .map(|o| {
                kb.document(o)
                    .map(|d| d.to_document())
                    .map_err(|e| trawl_data::Error::Io {
                        path: kb.dir().to_path_buf(),
                        source: std::io::Error::other(e.to_string()),
                    })
            });
        let mut hasher = CorpusHasher::new();
        let files = write_corpus(
            staging.path(),
            live,
            bm25.as_ref(),
            batch_size,
            trawl_bm25::DEFAULT_MEMORY_BUDGET,
            &mut hasher,
            &mut progress,
        )?;
        let mut manifest = kb.manifest().clone();
        debug_assert!(files.bm25.as_ref().is_none_or(|b| b.dir == BM25_DIR));
        manifest.segments.clear();
        manifest.num_deleted = 0;
        manifest.num_docs = files.num_docs as u64;
        manifest.num_empty_docs = files.num_empty;
        manifest.corpus_hash = hasher.finish_hex();
        manifest.doc_store_bytes = files.doc_store_bytes;
        if let (Some(b), Some(new)) = (manifest.bm25.as_mut(), files.bm25) {
            b.num_terms = new.num_terms;
        }
        let mut change = format!("compact ({} live)", files.num_docs);
        if let (Some(m), Some(base)) = (&manifest.dense, kb.dense.as_ref()) {
            let live = |first: usize, n: usize| -> Vec<u32> {
                (0..n as u32)
                    .filter(|&o| !kb.is_deleted(first as u32 + o))
                    .collect()
            };
            let mut flat = dense::empty_like(m)?;
            flat.add_rows_of(base, &live(0, base.len()))?;
            for seg in &kb.dense_segments {
                flat.add_rows_of(&seg.flat, &live(seg.first as usize, seg.flat.len()))?;
            }
            if flat.len() != files.num_docs {
                return Err(Error::corrupt(
                    kb.dir(),
                    format!(
                        "{} live vectors for {} live documents",
                        flat.len(),
                        files.num_docs
                    ),
                ));
            }
            flat.save(staging.path().join(&m.dir))?;
            let imported = crate::ann::rebuild_all(staging.path(), &mut manifest, &flat)?;
            if !manifest.ann.is_empty() {
                let names: Vec<&str> = manifest.ann.iter().map(|a| a.name.as_str()).collect();
                change.push_str(&format!(", rebuilt {}", names.join(", ")));
            }
            if !imported.is_empty() {
                change.push_str(&format!(
                    " (imported {} rebuilt by trawl from its recorded parameters)",
                    imported.join(", ")
                ));
            }
        }
        drop(kb);
        finish(staging, manifest, change, report)
    }
}
