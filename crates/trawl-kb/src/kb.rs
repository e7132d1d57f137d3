//! An opened knowledge base: manifest, memory-mapped document store and indexes.

use std::path::{Path, PathBuf};

use rayon::prelude::*;
use trawl_bm25::Bm25Index;
use trawl_data::Document;
use trawl_store::{AtomicDir, Verify};
use trawl_vector::FlatIndex;

use crate::build::{self, KbBuildOptions};
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

/// A knowledge base directory, opened (see the crate docs for the layout).
#[derive(Debug)]
pub struct KnowledgeBase {
    dir: PathBuf,
    manifest: Manifest,
    store: DocStore,
    ids: IdMap,
    bm25: Option<Bm25Index>,
    dense: Option<FlatIndex>,
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
        build::build(docs, out_dir.as_ref(), options, progress)
    }

    /// Opens the KB at `dir`, verifying every checksum (see [`OpenOptions`]).
    pub fn open(dir: impl AsRef<Path>) -> Result<KnowledgeBase> {
        Self::open_with(dir, &OpenOptions::default())
    }

    /// Opens the KB at `dir`: checks the manifest (foreign directories and other format
    /// versions are refused), then maps the document store and the indexes it lists.
    pub fn open_with(dir: impl AsRef<Path>, options: &OpenOptions) -> Result<KnowledgeBase> {
        let dir = dir.as_ref();
        let manifest = Manifest::read(dir)?;
        let n = usize::try_from(manifest.num_docs).map_err(|_| Error::BadManifest {
            path: dir.join(MANIFEST_FILE),
            message: "num_docs does not fit this machine".into(),
        })?;
        let store = DocStore::open(dir, n, options.verify)?;
        let ids = IdMap::open(dir, n, options.verify)?;
        let bm25 = match &manifest.bm25 {
            Some(m) => {
                let index = Bm25Index::open(&dir.join(&m.dir))?;
                check_count(dir, "bm25", index.num_docs(), n)?;
                Some(index)
            }
            None => None,
        };
        let dense = match &manifest.dense {
            Some(m) => {
                let index = FlatIndex::open(dir.join(&m.dir))?;
                check_count(dir, "dense", index.len(), n)?;
                if index.dim() != m.dim {
                    return Err(Error::corrupt(
                        dir.join(&m.dir),
                        format!(
                            "vectors have dimension {} but the manifest says {}",
                            index.dim(),
                            m.dim
                        ),
                    ));
                }
                Some(index)
            }
            None => None,
        };
        let ann = crate::ann::open_all(dir, &manifest, dense.as_ref())?;
        Ok(KnowledgeBase {
            dir: dir.to_path_buf(),
            manifest,
            store,
            ids,
            bm25,
            dense,
            ann,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub(crate) fn set_manifest(&mut self, manifest: Manifest) {
        self.manifest = manifest;
    }

    pub fn num_docs(&self) -> usize {
        self.store.num_docs()
    }

    /// The document at `ordinal` (borrowed from the mapped store).
    pub fn document(&self, ordinal: u32) -> Result<DocumentRef<'_>> {
        self.store.get(ordinal)
    }

    /// The id of the document at `ordinal`.
    pub fn id(&self, ordinal: u32) -> Result<&str> {
        self.store.id(ordinal)
    }

    /// The ordinal of the document with this id (binary search over the mapped id map).
    pub fn ordinal_of(&self, id: &str) -> Option<u32> {
        self.ids.lookup(&self.store, id)
    }

    pub fn bm25(&self) -> Option<&Bm25Index> {
        self.bm25.as_ref()
    }

    pub fn vectors(&self) -> Option<&FlatIndex> {
        self.dense.as_ref()
    }

    /// The embedding model of the dense index, if there is one.
    pub fn dense_model(&self) -> Option<&str> {
        self.manifest.dense.as_ref().map(|d| d.model.as_str())
    }

    fn require_bm25(&self) -> Result<&Bm25Index> {
        self.bm25.as_ref().ok_or(Error::MissingIndex {
            kind: "BM25",
            hint: "`trawl kb build DOCS --out KB --bm25 --force`",
        })
    }

    fn require_dense(&self) -> Result<&FlatIndex> {
        self.dense.as_ref().ok_or(Error::MissingIndex {
            kind: "dense",
            hint: "`trawl kb build DOCS --out KB --dense MODEL --force`",
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
                index
                    .search(q, k)
                    .into_iter()
                    .map(|h| {
                        Ok(KbHitRef {
                            ordinal: h.doc,
                            id: self.store.id(h.doc)?,
                            score: h.score,
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// The top `k` documents for an embedded query (encoded with [`Self::dense_model`]).
    pub fn search_dense(&self, query: &[f32], k: usize) -> Result<Vec<KbHit>> {
        let hits = self.require_dense()?.search(query, k)?;
        self.to_kb_hits(hits.into_iter().map(|h| (h.doc, h.score)))
    }

    /// [`KnowledgeBase::search_dense`] for `n` row-major query vectors.
    pub fn search_dense_batch(
        &self,
        queries: &[f32],
        n: usize,
        k: usize,
    ) -> Result<Vec<Vec<KbHit>>> {
        let all = self.require_dense()?.search_batch(queries, n, k)?;
        all.into_iter()
            .map(|hits| self.to_kb_hits(hits.into_iter().map(|h| (h.doc, h.score))))
            .collect()
    }

    /// Adds (or replaces) the dense index from precomputed embeddings, one row per document in
    /// ordinal order. The index directory and then the manifest are replaced atomically.
    pub fn add_dense(&mut self, embeddings: &DenseEmbeddings) -> Result<()> {
        let dest = self.dir.join(dense::DENSE_DIR);
        let staging = AtomicDir::create(&dest)?;
        let section = dense::write(staging.path(), embeddings, self.num_docs())?;
        staging.commit()?;
        let mut manifest = self.manifest.clone();
        manifest.dense = Some(section);
        // Approximate indexes were built from the old vectors.
        manifest.ann.clear();
        self.ann.clear();
        trawl_store::write_file_atomic(&self.dir.join(MANIFEST_FILE), &manifest.to_json())?;
        self.dense = Some(FlatIndex::open(&dest)?);
        self.manifest = manifest;
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
