//! An opened knowledge base: manifest, memory-mapped document store and indexes.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use trawl_bm25::{Bm25Index, Segments};
use trawl_data::Document;
use trawl_store::{AtomicDir, Recovery, Verify};
use trawl_vector::FlatIndex;

use crate::build::{self, KbBuildOptions, StagedKb};
use crate::deleted::Deleted;
use crate::dense::{self, DenseEmbeddings};
use crate::doc_store::{DocStore, DocumentRef};
use crate::id_map::IdMap;
use crate::manifest::{Manifest, MANIFEST_FILE};
use crate::{Error, Result};

/// One retrieved document: its ordinal in the KB, its id and its score.
#[derive(Debug, Clone, PartialEq)]
pub struct KbHit {
    pub ordinal: u32,
    pub id: String,
    pub score: f32,
}

/// A hit whose id borrows from the KB's memory-mapped store: no allocation per hit.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KbHitRef<'a> {
    pub ordinal: u32,
    pub id: &'a str,
    pub score: f32,
}

impl From<KbHitRef<'_>> for KbHit {
    fn from(h: KbHitRef<'_>) -> Self {
        KbHit {
            ordinal: h.ordinal,
            id: h.id.to_owned(),
            score: h.score,
        }
    }
}

/// How [`KnowledgeBase::open_with`] checks the files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenOptions {
    /// `Verify::Full` (default) reads every byte of the document store once and checks its
    /// CRC-32; `Verify::FooterOnly` checks only sizes and footers (constant time; catches
    /// truncation and foreign files, not flipped bits). Index files are checked by their engines.
    pub verify: Verify,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions {
            verify: Verify::Full,
        }
    }
}

/// The BM25 side of a KB: one index, or the base and added segments searched as one.
// One per opened KB, never copied around: the size difference does not matter.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Bm25Engine {
    One(Bm25Index),
    Segments(Segments),
}

impl std::fmt::Debug for Bm25Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Bm25Engine::One(i) => f.debug_tuple("One").field(i).finish(),
            Bm25Engine::Segments(s) => write!(f, "Segments({} live)", s.num_live()),
        }
    }
}

impl Bm25Engine {
    fn search(&self, query: &str, k: usize) -> Vec<trawl_bm25::Hit> {
        match self {
            Bm25Engine::One(index) => index.search(query, k),
            // The strategy set on the base index (`--exhaustive`) holds for every segment.
            Bm25Engine::Segments(s) => {
                let strategy = s.index(0).map(|i| i.strategy()).unwrap_or_default();
                s.search_with(query, k, strategy)
            }
        }
    }
}

/// The dense vectors of one added segment.
#[derive(Debug)]
pub(crate) struct DenseSegment {
    pub(crate) flat: FlatIndex,
    /// The KB ordinal of its first row.
    pub(crate) first: u32,
}

/// A knowledge base directory, opened (see the crate docs for the layout).
#[derive(Debug)]
pub struct KnowledgeBase {
    dir: PathBuf,
    manifest: Manifest,
    store: DocStore,
    /// One id map per store part (base, then segments).
    ids: Vec<IdMap>,
    deleted: Deleted,
    bm25: Option<Bm25Engine>,
    /// The dense vectors of the base documents (what approximate indexes cover).
    pub(crate) dense: Option<FlatIndex>,
    /// The vectors of each added segment (`segments/<n>/dense/`), searched exactly until
    /// `kb compact` folds them into the base.
    pub(crate) dense_segments: Vec<DenseSegment>,
    /// Deleted ordinals among the base documents (what an approximate index over-fetches by).
    pub(crate) dense_base_deleted: usize,
    recovered: Vec<Recovery>,
    /// The approximate indexes, in manifest order.
    pub(crate) ann: Vec<Box<dyn trawl_vector::VectorIndex>>,
}

impl KnowledgeBase {
    /// Builds a KB at `out_dir` from streamed documents, atomically; see [`KbBuildOptions`].
    ///
    /// Documents keep input order: the n-th document read gets ordinal n-1. A document with an
    /// empty id, a repeated id, or an empty corpus is an error; a document whose title and text
    /// are empty is kept (counted in [`Manifest::num_empty_docs`]) and never matches a query.
    /// `progress` receives the number of documents read so far.
    pub fn build(
        docs: impl IntoIterator<Item = trawl_data::Result<Document>>,
        out_dir: impl AsRef<Path>,
        options: &KbBuildOptions,
        progress: impl FnMut(u64),
    ) -> Result<KnowledgeBase> {
        let staged = build::build_staged(docs, out_dir.as_ref(), options, progress)?;
        let recovered = staged.recovered().to_vec();
        let mut kb = staged.commit()?;
        kb.recovered.splice(0..0, recovered);
        Ok(kb)
    }

    /// [`KnowledgeBase::build`] without the final swap: the KB is built in a temporary
    /// directory under `out_dir`'s write lock, more indexes can be added (e.g. vectors computed
    /// from its documents), and [`StagedKb::commit`] makes it appear whole. A process killed
    /// before the commit leaves `out_dir` as it was.
    pub fn build_staged(
        docs: impl IntoIterator<Item = trawl_data::Result<Document>>,
        out_dir: impl AsRef<Path>,
        options: &KbBuildOptions,
        progress: impl FnMut(u64),
    ) -> Result<StagedKb> {
        build::build_staged(docs, out_dir.as_ref(), options, progress)
    }

    /// Opens the KB at `dir`, verifying every checksum (see [`OpenOptions`]).
    pub fn open(dir: impl AsRef<Path>) -> Result<KnowledgeBase> {
        Self::open_with(dir, &OpenOptions::default())
    }

    /// Opens the KB at `dir`: recovers what an interrupted writer left beside it (when no
    /// writer holds its lock; see [`KnowledgeBase::recovered`]), checks the manifest (foreign
    /// directories, other format versions, damaged or hostile manifests are refused) and that
    /// every file it lists is present, then maps the document store and the indexes it lists.
    pub fn open_with(dir: impl AsRef<Path>, options: &OpenOptions) -> Result<KnowledgeBase> {
        let dir = dir.as_ref();
        let recovered = trawl_store::recover_unlocked(dir)?;
        let manifest = Manifest::read(dir)?;
        for f in &manifest.files {
            let p = dir.join(f.trim_end_matches('/'));
            if std::fs::symlink_metadata(&p).is_err() {
                return Err(Error::corrupt(
                    p,
                    "listed in the manifest but missing (an interrupted or tampered build)",
                ));
            }
        }
        let n = usize::try_from(manifest.num_docs).map_err(|_| Error::BadManifest {
            path: dir.join(MANIFEST_FILE),
            message: "num_docs does not fit this machine".into(),
        })?;
        // Store parts: the base documents, then each segment's.
        let mut parts: Vec<(PathBuf, usize)> = vec![(dir.to_path_buf(), n)];
        for seg in &manifest.segments {
            let seg_n = usize::try_from(seg.num_docs).unwrap_or(usize::MAX);
            if seg_n > parts[0].1 {
                return Err(Error::BadManifest {
                    path: dir.join(MANIFEST_FILE),
                    message: "segments hold more documents than num_docs".into(),
                });
            }
            parts[0].1 -= seg_n;
            parts.push((trawl_store::confined_join(dir, &seg.dir)?, seg_n));
        }
        let store = DocStore::open_parts(&parts, options.verify)?;
        let mut ids = Vec::with_capacity(parts.len());
        let mut base = 0usize;
        for (part, part_n) in &parts {
            ids.push(IdMap::open(part, *part_n, base as u32, options.verify)?);
            base += part_n;
        }
        let deleted = Deleted::read(dir, n, manifest.num_deleted, options.verify)?;
        let bm25 = match manifest.bm25_dir(dir) {
            Some(path) => {
                let path = path?;
                let index = Bm25Index::open(&path)?;
                check_count(&path, "bm25", index.num_docs(), parts[0].1)?;
                if parts.len() == 1 && deleted.count() == 0 {
                    Some(Bm25Engine::One(index))
                } else {
                    let mut engines = vec![(index, deleted.slice(0, parts[0].1))];
                    let mut base = parts[0].1;
                    for (part, part_n) in &parts[1..] {
                        let path = part.join(crate::build::BM25_DIR);
                        let index = Bm25Index::open(&path)?;
                        check_count(&path, "bm25", index.num_docs(), *part_n)?;
                        engines.push((index, deleted.slice(base, *part_n)));
                        base += part_n;
                    }
                    Some(Bm25Engine::Segments(Segments::new(engines)?))
                }
            }
            None => None,
        };
        let mut dense_segments = Vec::new();
        let dense = match (&manifest.dense, manifest.dense_dir(dir)) {
            (Some(m), Some(path)) => {
                let index = dense::open(&path?, m, parts[0].1)?;
                // Each segment's vectors, beside its documents.
                let mut first = parts[0].1;
                for (part, part_n) in &parts[1..] {
                    let flat = dense::open(&part.join(dense::DENSE_DIR), m, *part_n)?;
                    dense_segments.push(DenseSegment {
                        flat,
                        first: first as u32,
                    });
                    first += part_n;
                }
                Some(index)
            }
            _ => None,
        };
        let dense_base_deleted = deleted.count_in(0, parts[0].1);
        let ann = crate::ann::open_all(dir, &manifest, dense.as_ref(), parts[0].1)?;
        Ok(KnowledgeBase {
            dir: dir.to_path_buf(),
            manifest,
            store,
            ids,
            deleted,
            bm25,
            dense,
            dense_segments,
            dense_base_deleted,
            recovered,
            ann,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The KB's generation: a new id for every build or replacement, never reused. Files of a
    /// generation are never modified in place (a change builds a new directory and swaps it in),
    /// so a reader holding this KB keeps valid maps; comparing [`Manifest::read`]'s
    /// `generation` on disk with this one tells whether the KB was replaced since it was opened.
    pub fn generation(&self) -> &str {
        &self.manifest.generation
    }

    /// What recovery did when this KB was opened or built (leftovers of interrupted writers
    /// removed, an interrupted replace undone), for the caller to report.
    pub fn recovered(&self) -> &[Recovery] {
        &self.recovered
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Ordinals in use: every document stored, deleted or replaced ones included (until
    /// `compact`); what the indexes address. See [`KnowledgeBase::num_live`].
    pub fn num_docs(&self) -> usize {
        self.store.num_docs()
    }

    /// Documents that searches return and ids resolve to (not deleted, not replaced).
    pub fn num_live(&self) -> usize {
        self.store.num_docs() - self.deleted.count() as usize
    }

    /// True when the document at `ordinal` was deleted or replaced by a later version.
    pub fn is_deleted(&self, ordinal: u32) -> bool {
        self.deleted.contains(ordinal)
    }

    /// Whether the KB holds added segments or deletions (`trawl kb compact` merges them).
    pub fn is_segmented(&self) -> bool {
        !self.manifest.segments.is_empty() || self.deleted.count() > 0
    }

    pub(crate) fn store(&self) -> &DocStore {
        &self.store
    }

    pub(crate) fn deleted(&self) -> &Deleted {
        &self.deleted
    }

    /// The document at `ordinal` (borrowed from the mapped store).
    pub fn document(&self, ordinal: u32) -> Result<DocumentRef<'_>> {
        self.store.get(ordinal)
    }

    /// The id of the document at `ordinal`.
    pub fn id(&self, ordinal: u32) -> Result<&str> {
        self.store.id(ordinal)
    }

    /// The ordinal of the live document with this id (binary search over the mapped id maps,
    /// newest segment first; deleted and replaced versions are skipped).
    pub fn ordinal_of(&self, id: &str) -> Option<u32> {
        self.ids
            .iter()
            .rev()
            .filter_map(|m| m.lookup(&self.store, id))
            .find(|&o| !self.deleted.contains(o))
    }

    /// The BM25 index of the base documents (its settings, per-index search options such as
    /// `set_exhaustive`, which hold for every segment). Search through the KB's methods: they
    /// cover added segments and skip deleted documents.
    pub fn bm25(&self) -> Option<&Bm25Index> {
        match self.bm25.as_ref()? {
            Bm25Engine::One(index) => Some(index),
            Bm25Engine::Segments(s) => s.index(0),
        }
    }

    /// The dense vectors of the base documents (ordinals `0..len()`): what approximate indexes
    /// are built from. Vectors of added segments are not in it (until `kb compact`): search
    /// through the KB's methods, which cover them and skip deleted documents.
    pub fn vectors(&self) -> Option<&FlatIndex> {
        self.dense.as_ref()
    }

    /// The embedding model of the dense index, if there is one.
    pub fn dense_model(&self) -> Option<&str> {
        self.manifest.dense.as_ref().map(|d| d.model.as_str())
    }

    /// How the dense model ran when it encoded the documents (`int8`); None for f32.
    pub fn dense_quantize(&self) -> Option<&str> {
        self.manifest
            .dense
            .as_ref()
            .and_then(|d| d.quantize.as_deref())
    }

    fn require_bm25(&self) -> Result<&Bm25Engine> {
        self.bm25.as_ref().ok_or(Error::MissingIndex {
            kind: "BM25",
            hint: "`trawl kb build DOCS --out KB --bm25 --force`",
        })
    }

    /// Attaches ordinals' ids to engine hits.
    pub fn to_kb_hits(&self, hits: impl IntoIterator<Item = (u32, f32)>) -> Result<Vec<KbHit>> {
        hits.into_iter()
            .map(|(ordinal, score)| {
                Ok(KbHit {
                    ordinal,
                    id: self.store.id(ordinal)?.to_owned(),
                    score,
                })
            })
            .collect()
    }

    /// The top `k` documents for `query` by BM25 (an empty or all-stopword query: no hits).
    pub fn search_bm25(&self, query: &str, k: usize) -> Result<Vec<KbHit>> {
        let hits = self.require_bm25()?.search(query, k);
        self.to_kb_hits(hits.into_iter().map(|h| (h.doc, h.score)))
    }

    /// [`KnowledgeBase::search_bm25`] for many queries on all rayon threads (ids attached in
    /// parallel too), results in query order.
    pub fn search_bm25_batch(&self, queries: &[&str], k: usize) -> Result<Vec<Vec<KbHit>>> {
        let index = self.require_bm25()?;
        queries
            .par_iter()
            .map(|q| self.to_kb_hits(index.search(q, k).into_iter().map(|h| (h.doc, h.score))))
            .collect()
    }

    /// [`KnowledgeBase::search_bm25_batch`] with borrowed ids: the fast path for whole runs
    /// (a million hits cost a million small allocations otherwise).
    pub fn search_bm25_batch_refs(
        &self,
        queries: &[&str],
        k: usize,
    ) -> Result<Vec<Vec<KbHitRef<'_>>>> {
        let index = self.require_bm25()?;
        queries
            .par_iter()
            .map(|q| {
                let hits = index.search(q, k);
                let ordinals: Vec<u32> = hits.iter().map(|h| h.doc).collect();
                let ids = self.store.ids(&ordinals)?;
                Ok(hits
                    .into_iter()
                    .zip(ids)
                    .map(|(h, id)| KbHitRef {
                        ordinal: h.doc,
                        id,
                        score: h.score,
                    })
                    .collect())
            })
            .collect()
    }

    /// The top `k` documents for an embedded query (encoded with [`Self::dense_model`]).
    pub fn search_dense(&self, query: &[f32], k: usize) -> Result<Vec<KbHit>> {
        let hits = self.search_index(None, query, 1, k, &Default::default())?;
        let hits = hits.into_iter().next().unwrap_or_default();
        self.to_kb_hits(hits.into_iter().map(|h| (h.doc, h.score)))
    }

    /// [`KnowledgeBase::search_dense`] for `n` row-major query vectors.
    pub fn search_dense_batch(
        &self,
        queries: &[f32],
        n: usize,
        k: usize,
    ) -> Result<Vec<Vec<KbHit>>> {
        let all = self.search_index(None, queries, n, k, &Default::default())?;
        all.into_iter()
            .map(|hits| self.to_kb_hits(hits.into_iter().map(|h| (h.doc, h.score))))
            .collect()
    }

    /// Adds (or replaces) the dense index from precomputed embeddings, one row per document in
    /// ordinal order, as a new generation (see [`KnowledgeBase::new_generation`]). Approximate
    /// indexes were built from the old vectors, so they are dropped.
    pub fn add_dense(&mut self, embeddings: &DenseEmbeddings) -> Result<()> {
        if self.is_segmented() {
            return Err(Error::Update {
                path: self.dir.clone(),
                message: "it holds added segments or deletions; merge them first with `trawl kb compact KB`".into(),
            });
        }
        let num_docs = self.num_docs();
        let replaced = [
            format!("{}/", dense::DENSE_DIR),
            format!("{}/", crate::ann::ANN_DIR),
        ];
        self.new_generation(&replaced, "add dense vectors", |staging, manifest| {
            let section = dense::write(&staging.join(dense::DENSE_DIR), embeddings, num_docs)?;
            manifest.dense = Some(section);
            manifest.ann.clear();
            Ok(())
        })
    }

    /// Changes the KB as a new generation: under the KB's write lock, a new directory shares the
    /// files that stay (hard links; every listed file not under one of `replaced`'s prefixes),
    /// `change` writes the new ones and edits the manifest, and the whole directory is swapped in
    /// and reopened. Files are never modified in place, so a reader that has the old generation
    /// mapped keeps reading it.
    pub(crate) fn new_generation(
        &mut self,
        replaced: &[String],
        what: &str,
        change: impl FnOnce(&Path, &mut Manifest) -> Result<()>,
    ) -> Result<()> {
        let staging = AtomicDir::create(&self.dir)?;
        for f in &self.manifest.files {
            if f == MANIFEST_FILE || f.ends_with('/') || replaced.iter().any(|p| f.starts_with(p)) {
                continue;
            }
            let from = trawl_store::confined_join(&self.dir, f)?;
            trawl_store::link_or_copy(&from, &staging.path().join(f))?;
        }
        let mut manifest = self.manifest.clone();
        change(staging.path(), &mut manifest)?;
        manifest.advance(what.to_string());
        manifest.write_into(staging.path())?;
        staging.commit()?;
        *self = KnowledgeBase::open(&self.dir)?;
        Ok(())
    }
}

fn check_count(dir: &Path, kind: &str, found: usize, expected: usize) -> Result<()> {
    if found != expected {
        return Err(Error::corrupt(
            dir,
            format!("the {kind} index holds {found} documents but the store holds {expected}"),
        ));
    }
    Ok(())
}
