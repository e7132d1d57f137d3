//! Building a knowledge base: stream documents into the store and the BM25 builder, then write
//! the indexes and the manifest into a temporary directory that is swapped into place, all under
//! the destination's write lock.

use std::path::Path;

use trawl_bm25::{AnalyzerConfig, Bm25Params, Bm25Writer};
use trawl_data::Document;
use trawl_store::{AtomicDir, DirLock, Recovery};

use crate::corpus_hash::{metadata_json, CorpusHasher};
use crate::dense::{self, DenseEmbeddings};
use crate::doc_store::{DocStore, DocStoreWriter};
use crate::manifest::{
    now_unix_s, Bm25Manifest, IndexedFields, Manifest, FORMAT_NAME, FORMAT_VERSION, TRAWL_VERSION,
};
use crate::{id_map, Error, KnowledgeBase, OpenOptions, Result};

/// Sub-directory of the BM25 index inside a KB.
pub(crate) const BM25_DIR: &str = "bm25";

/// How to build the BM25 index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Bm25Options {
    pub analyzer: AnalyzerConfig,
    pub params: Bm25Params,
    pub fields: IndexedFields,
}

/// What to build. `Default`: BM25 with Pyserini's BEIR settings (Lucene k1=0.9 b=0.4, English
/// stopwords, Porter stemming, title + text), no dense index, never overwrite.
#[derive(Debug, Clone)]
pub struct KbBuildOptions {
    /// `None`: no BM25 index.
    pub bm25: Option<Bm25Options>,
    /// Precomputed document embeddings, one row per document in input order.
    pub dense: Option<DenseEmbeddings>,
    /// Replace an existing KB at the destination (a non-KB directory is never replaced).
    pub overwrite: bool,
    /// Documents handed to the BM25 builder at a time (bounds memory while streaming).
    pub batch_size: usize,
    /// Bytes of postings the BM25 build holds in memory before it spills a run to disk
    /// (default [`trawl_bm25::DEFAULT_MEMORY_BUDGET`], 2 GiB; at least 1 MiB).
    pub memory_budget: u64,
}

impl Default for KbBuildOptions {
    fn default() -> Self {
        KbBuildOptions {
            bm25: Some(Bm25Options::default()),
            dense: None,
            overwrite: false,
            batch_size: 16_384,
            memory_budget: trawl_bm25::DEFAULT_MEMORY_BUDGET,
        }
    }
}

/// Refuses destinations that are not ours to replace: a file, a non-empty directory that is not
/// a KB of this format (a stub manifest, an older format without a list of its files), a KB
/// holding files trawl did not write, or an existing KB when `overwrite` is false.
pub fn check_destination(out_dir: &Path, overwrite: bool) -> Result<()> {
    let refuse = |reason: String| Error::RefuseOverwrite {
        path: out_dir.to_path_buf(),
        reason,
    };
    match std::fs::symlink_metadata(out_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(out_dir, e)),
        Ok(m) if !m.is_dir() => return Err(refuse("is not a directory".into())),
        Ok(_) => {}
    }
    let mut entries = std::fs::read_dir(out_dir).map_err(|e| Error::io(out_dir, e))?;
    if entries.next().is_none() {
        return Ok(()); // an empty directory holds nothing to lose
    }
    let manifest = match Manifest::read(out_dir) {
        Ok(m) => m,
        Err(Error::NotAKnowledgeBase { reason, .. }) => {
            return Err(refuse(format!("is not a trawl knowledge base ({reason})")))
        }
        // A KB of format 2 (before manifests listed their files) is replaced only when it holds
        // nothing but the files that format wrote.
        Err(Error::FormatVersion { found: 2, .. }) if overwrite => {
            let foreign: Vec<String> = trawl_store::list_files(out_dir)?
                .into_iter()
                .filter(|f| {
                    !V2_FILES.contains(&f.as_str())
                        && !f.starts_with("bm25/")
                        && !f.starts_with("dense/")
                })
                .collect();
            if foreign.is_empty() {
                return Ok(());
            }
            return Err(trawl_store::Error::ForeignFiles {
                path: out_dir.to_path_buf(),
                files: foreign,
            }
            .into());
        }
        Err(e @ (Error::FormatVersion { .. } | Error::BadManifest { .. } | Error::Store(_))) => {
            return Err(refuse(format!(
                "is not a knowledge base this trawl can safely replace: {e}"
            )))
        }
        Err(e) => return Err(e),
    };
    if !overwrite {
        return Err(Error::AlreadyExists {
            path: out_dir.to_path_buf(),
        });
    }
    let foreign = trawl_store::foreign_entries(out_dir, &manifest.files)?;
    if !foreign.is_empty() {
        return Err(trawl_store::Error::ForeignFiles {
            path: out_dir.to_path_buf(),
            files: foreign,
        }
        .into());
    }
    Ok(())
}

/// The files of a format-2 KB (besides its `bm25/` and `dense/` folders).
const V2_FILES: &[&str] = &[
    "manifest.json",
    "ids.dat",
    "ids.idx",
    "ids.ord",
    "docs.dat",
    "docs.idx",
];

/// Checks that a document id can be written to a TREC run file: no whitespace, no control
/// characters. `Err` says what it contains.
pub fn check_doc_id(id: &str) -> std::result::Result<(), String> {
    match id.chars().find(|c| c.is_whitespace() || c.is_control()) {
        None => Ok(()),
        Some('\t') => Err("a tab".into()),
        Some('\n') | Some('\r') => Err("a line break".into()),
        Some(' ') => Err("a space".into()),
        Some(c) if c.is_whitespace() => Err(format!("whitespace (U+{:04X})", c as u32)),
        Some(c) => Err(format!("a control character (U+{:04X})", c as u32)),
    }
}

/// A KB built in its temporary directory, under the destination's lock, not yet visible at the
/// destination: indexes can still be added ([`StagedKb::add_dense`]) before
/// [`StagedKb::commit`] swaps it into place. Dropped without commit, it leaves nothing behind
/// (a killed process leaves a hidden `.<name>.tmp-<pid>` that the next writer removes).
#[derive(Debug)]
pub struct StagedKb {
    // Field order: the KB (mapping the staged files) is dropped before the directory.
    kb: KnowledgeBase,
    dir: AtomicDir,
    recovered: Vec<Recovery>,
}

impl StagedKb {
    /// The KB as built so far (reads work; its `dir()` is the temporary directory).
    pub fn kb(&self) -> &KnowledgeBase {
        &self.kb
    }

    /// Where it will appear.
    pub fn dest(&self) -> &Path {
        self.dir.dest()
    }

    /// What recovery did before the build (interrupted writers' leftovers), to report.
    pub fn recovered(&self) -> &[Recovery] {
        &self.recovered
    }

    /// Adds (or replaces) the dense index, then rewrites the manifest to declare it.
    pub fn add_dense(&mut self, embeddings: &DenseEmbeddings) -> Result<()> {
        let tmp = self.dir.path();
        let dense_dir = tmp.join(dense::DENSE_DIR);
        if dense_dir.exists() {
            std::fs::remove_dir_all(&dense_dir).map_err(|e| Error::io(&dense_dir, e))?;
        }
        let section = dense::write(&dense_dir, embeddings, self.kb.num_docs())?;
        let mut manifest = self.kb.manifest().clone();
        manifest.dense = Some(section);
        manifest.write_into(tmp)?;
        self.kb = KnowledgeBase::open_with(tmp, &staged_open())?;
        Ok(())
    }

    /// Builds an approximate index from the staged dense vectors and adds it (see
    /// [`KnowledgeBase::add_ann`]); it appears with the KB, in the same generation.
    pub fn add_ann(&mut self, name: &str, params: crate::AnnParams) -> Result<()> {
        let tmp = self.dir.path();
        crate::ann::add_to_staged(&self.kb, tmp, name, params, None, None)?;
        self.kb = KnowledgeBase::open_with(tmp, &staged_open())?;
        Ok(())
    }

    /// Adds an approximate index built elsewhere (see [`KnowledgeBase::add_ann_with`]).
    pub fn add_ann_with(
        &mut self,
        name: &str,
        params: crate::AnnParams,
        source: Option<String>,
        mut save: impl FnMut(&Path) -> Result<()>,
    ) -> Result<()> {
        let tmp = self.dir.path();
        crate::ann::add_to_staged(&self.kb, tmp, name, params, source, Some(&mut save))?;
        self.kb = KnowledgeBase::open_with(tmp, &staged_open())?;
        Ok(())
    }

    /// Records that the documents are chunks of longer parents, rewriting the manifest.
    pub fn set_chunks(&mut self, chunks: crate::manifest::ChunkManifest) -> Result<()> {
        let tmp = self.dir.path();
        let mut manifest = self.kb.manifest().clone();
        manifest.chunks = Some(chunks);
        manifest.write_into(tmp)?;
        self.kb = KnowledgeBase::open_with(tmp, &staged_open())?;
        Ok(())
    }

    /// Swaps the finished KB into place (atomically; see `trawl_store::atomic`) and opens it.
    pub fn commit(self) -> Result<KnowledgeBase> {
        let StagedKb { kb, dir, .. } = self;
        let dest = dir.dest().to_path_buf();
        drop(kb);
        dir.commit()?;
        KnowledgeBase::open(dest)
    }
}

/// The staged KB was just written and fsynced by us: sizes and footers suffice.
fn staged_open() -> OpenOptions {
    OpenOptions {
        verify: trawl_store::Verify::FooterOnly,
    }
}

/// Builds a KB for `out_dir` from `docs` in a temporary directory, under `out_dir`'s lock;
/// `progress` is called with the number of documents read so far (every batch and at the end).
pub(crate) fn build_staged(
    docs: impl IntoIterator<Item = trawl_data::Result<Document>>,
    out_dir: &Path,
    options: &KbBuildOptions,
    mut progress: impl FnMut(u64),
) -> Result<StagedKb> {
    let lock = DirLock::acquire(out_dir)?;
    // Recover first: an interrupted replace may have left the destination missing.
    let mut recovered = lock.recover()?;
    check_destination(out_dir, options.overwrite)?;
    let staging = AtomicDir::with_lock(lock)?;
    recovered.extend(staging.recovered().iter().cloned());
    let tmp = staging.path();

    let mut hasher = CorpusHasher::new();
    let corpus = write_corpus(
        tmp,
        docs,
        options.bm25.as_ref(),
        options.batch_size,
        options.memory_budget,
        &mut hasher,
        &mut progress,
    )?;
    let num_docs = corpus.num_docs;

    let dense_manifest = match &options.dense {
        Some(e) => Some(dense::write(&tmp.join(dense::DENSE_DIR), e, num_docs)?),
        None => None,
    };

    let mut manifest = Manifest {
        format: FORMAT_NAME.into(),
        format_version: FORMAT_VERSION,
        trawl_version: TRAWL_VERSION.into(),
        created_unix_s: now_unix_s(),
        num_docs: num_docs as u64,
        num_empty_docs: corpus.num_empty,
        corpus_hash: hasher.finish_hex(),
        doc_store_bytes: corpus.doc_store_bytes,
        bm25: corpus.bm25,
        dense: dense_manifest,
        generation: String::new(),
        files: Vec::new(),
        checksum: String::new(),
        ann: Vec::new(),
        chunks: None,
        segments: Vec::new(),
        num_deleted: 0,
        content_hash: String::new(),
        history: Vec::new(),
    };
    manifest.advance(format!("build {num_docs}"));
    // Last: only now is every declared index on disk.
    manifest.write_into(tmp)?;
    let kb = KnowledgeBase::open_with(tmp, &staged_open())?;
    Ok(StagedKb {
        kb,
        dir: staging,
        recovered,
    })
}

/// What [`write_corpus`] wrote.
pub(crate) struct CorpusFiles {
    pub(crate) num_docs: usize,
    pub(crate) num_empty: u64,
    pub(crate) doc_store_bytes: u64,
    /// The BM25 index in `bm25/`, when asked for.
    pub(crate) bm25: Option<Bm25Manifest>,
}

/// Where a build spills its BM25 runs: inside the directory being built (removed before the
/// build ends; an interrupted build's staging directory goes with it).
const BM25_RUNS_DIR: &str = "bm25-runs";

/// Streams `docs` into a document store, its id map and (with `bm25`) a BM25 index in `dir`,
/// feeding `hasher` (which may already hold the documents before these). The part of a build,
/// an added segment and a compaction share. Empty ids, ids a run file cannot hold, repeated
/// ids and an empty input are errors naming the record.
///
/// Memory stays bounded: documents go to disk as they are read, and the BM25 index is built by
/// a [`Bm25Writer`] holding at most about `memory_budget` bytes of postings (runs spilled to
/// disk, then merged), analysing batches of `batch_size` documents on the rayon threads while
/// this thread reads the next batch.
pub(crate) fn write_corpus(
    dir: &Path,
    docs: impl IntoIterator<Item = trawl_data::Result<Document>>,
    bm25_options: Option<&Bm25Options>,
    batch_size: usize,
    memory_budget: u64,
    hasher: &mut CorpusHasher,
    progress: &mut impl FnMut(u64),
) -> Result<CorpusFiles> {
    let batch_size = batch_size.max(1);
    let writer = match bm25_options {
        Some(o) => Some(Bm25Writer::new(
            o.analyzer.clone(),
            o.params,
            memory_budget,
            &dir.join(BM25_RUNS_DIR),
        )?),
        None => None,
    };
    let fields = bm25_options.map(|o| o.fields);
    std::thread::scope(|scope| {
        // The analysis runs beside the reading: batches go to a thread that owns the writer.
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<String>>(1);
        let analysis = writer.map(|mut w| {
            scope.spawn(move || -> Result<Bm25Writer> {
                for batch in rx {
                    let refs: Vec<&str> = batch.iter().map(String::as_str).collect();
                    w.add_documents(&refs)?;
                }
                Ok(w)
            })
        });
        let read = read_corpus(dir, docs, fields, batch_size, tx, hasher, progress);
        // The reader has dropped its sender: the analysis thread ends once it has caught up.
        let writer = analysis.map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)));
        // An analysis error explains a reading stopped short, so it comes first.
        let writer = writer.transpose()?;
        let (num_docs, num_empty, doc_store_bytes) = read?;
        let bm25 = match writer {
            Some(w) => {
                let bm25_dir = dir.join(BM25_DIR);
                std::fs::create_dir(&bm25_dir).map_err(|e| Error::io(&bm25_dir, e))?;
                let written = w.finish(&bm25_dir)?;
                let o = bm25_options.expect("bm25 options present");
                Some(Bm25Manifest {
                    fields: o.fields,
                    analyzer: o.analyzer.clone(),
                    params: o.params,
                    num_terms: written.num_terms,
                    dir: BM25_DIR.into(),
                })
            }
            None => None,
        };
        progress(num_docs as u64);
        Ok(CorpusFiles {
            num_docs,
            num_empty,
            doc_store_bytes,
            bm25,
        })
    })
}

/// The reading half of [`write_corpus`]: checks and stores every document, sends the indexed
/// texts in batches to `tx` (when `fields` asks for BM25), writes the id map; returns the
/// number of documents, of empty ones, and the store's bytes.
fn read_corpus(
    dir: &Path,
    docs: impl IntoIterator<Item = trawl_data::Result<Document>>,
    fields: Option<IndexedFields>,
    batch_size: usize,
    tx: std::sync::mpsc::SyncSender<Vec<String>>,
    hasher: &mut CorpusHasher,
    progress: &mut impl FnMut(u64),
) -> Result<(usize, u64, u64)> {
    let mut store = DocStoreWriter::create(dir)?;
    let mut batch: Vec<String> = Vec::with_capacity(batch_size);
    let mut num_docs = 0u64;
    let mut num_empty = 0u64;
    // A send fails only when the analysis thread stopped on an error, which the caller reports.
    let mut analysis_stopped = false;
    for doc in docs {
        let doc = doc?;
        let record = num_docs + 1;
        if doc.id.is_empty() {
            return Err(Error::EmptyId { record });
        }
        if let Err(what) = check_doc_id(&doc.id) {
            return Err(Error::BadId {
                record,
                id: doc.id,
                what,
            });
        }
        if num_docs >= u64::from(u32::MAX) {
            return Err(Error::TooManyDocuments {
                max: u64::from(u32::MAX),
            });
        }
        if doc.title.trim().is_empty() && doc.text.trim().is_empty() {
            num_empty += 1;
        }
        let meta = metadata_json(&doc);
        hasher.add(&doc.id, &doc.title, &doc.text, &meta);
        store.push(&doc.id, &doc.title, &doc.text, &meta)?;
        if let Some(fields) = fields {
            batch.push(indexed_text(&doc, fields));
            if batch.len() == batch_size {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_size));
                if tx.send(full).is_err() {
                    analysis_stopped = true;
                    break;
                }
            }
        }
        num_docs += 1;
        if num_docs.is_multiple_of(batch_size as u64) {
            progress(num_docs);
        }
    }
    if !batch.is_empty() && !analysis_stopped && tx.send(batch).is_err() {
        analysis_stopped = true;
    }
    drop(tx);
    if analysis_stopped {
        return Ok((0, 0, 0)); // the analysis error is what gets reported
    }
    if num_docs == 0 {
        return Err(Error::EmptyCorpus);
    }
    let num_docs = num_docs as usize;
    let mut doc_store_bytes = store.finish()?;
    // The ids are sorted from the store just written (memory-mapped), not kept in memory.
    let written = DocStore::open_parts(
        &[(dir.to_path_buf(), num_docs)],
        trawl_store::Verify::FooterOnly,
    )?;
    let order = id_map::sorted_ordinals(num_docs, |o| written.id_bytes(o))?;
    drop(written);
    doc_store_bytes += id_map::write(dir, &order)?;
    Ok((num_docs, num_empty, doc_store_bytes))
}

/// The text the BM25 index sees for `doc`.
pub(crate) fn indexed_text(doc: &Document, fields: IndexedFields) -> String {
    match fields {
        IndexedFields::Text => doc.text.clone(),
        IndexedFields::TitleText if doc.title.is_empty() => doc.text.clone(),
        IndexedFields::TitleText => format!("{} {}", doc.title, doc.text),
    }
}
