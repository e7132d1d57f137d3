//! Approximate nearest-neighbour indexes inside a KB: built from the KB's stored dense vectors
//! (no re-encoding), each written into a new KB generation at `ann/<name>/` (checksummed, memory-mapped on
//! open) and listed in the manifest's `ann` section with its parameters and the fingerprint of
//! the vectors it was built from. Replacing the dense vectors drops them.

use std::path::Path;

use serde::{Deserialize, Serialize};
use trawl_vector::{
    FlatIndex, HnswIndex, HnswParams, IvfCodec, IvfIndex, IvfParams, Refined, SearchParams, TopK,
    VectorIndex,
};

use crate::kb::{KbHit, KnowledgeBase};
use crate::{Error, Result};

/// Sub-directory holding the approximate indexes.
pub const ANN_DIR: &str = "ann";

/// How an index stores its vectors: full f32, f16, or 8-bit per-dimension scalar quantisation
/// (FAISS's `QT_8bit`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VectorStorage {
    #[default]
    F32,
    F16,
    Sq8,
}

impl VectorStorage {
    fn is_f32(&self) -> bool {
        *self == VectorStorage::F32
    }

    /// The storage as trawl-vector names it.
    pub fn precision(self) -> trawl_vector::Precision {
        match self {
            VectorStorage::F32 => trawl_vector::Precision::F32,
            VectorStorage::F16 => trawl_vector::Precision::F16,
            VectorStorage::Sq8 => trawl_vector::Precision::Sq8,
        }
    }
}

/// How an approximate index was built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum AnnParams {
    Hnsw {
        m: usize,
        ef_construction: usize,
        ef_search: usize,
        seed: u64,
        /// How the graph's vectors are stored (the graph is built from the full vectors).
        #[serde(default, skip_serializing_if = "VectorStorage::is_f32")]
        storage: VectorStorage,
    },
    /// A flat scan of 8-bit scalar-quantised vectors (FAISS's `IndexScalarQuantizer`,
    /// `QT_8bit`): a quarter of the f32 vectors' memory; `refine` restores exact scores.
    Sq8,
    Ivf {
        nlist: usize,
        nprobe: usize,
        train_size: Option<usize>,
        seed: u64,
    },
    IvfPq {
        nlist: usize,
        m: usize,
        nprobe: usize,
        train_size: Option<usize>,
        seed: u64,
        /// Full vectors kept for exact re-scoring (`refine`).
        refine_vectors: bool,
    },
}

impl AnnParams {
    /// "hnsw", "sq8", "ivf" or "ivfpq".
    pub fn kind(&self) -> &'static str {
        match self {
            AnnParams::Hnsw { .. } => "hnsw",
            AnnParams::Sq8 => "sq8",
            AnnParams::Ivf { .. } => "ivf",
            AnnParams::IvfPq { .. } => "ivfpq",
        }
    }
}

/// One approximate index in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AnnManifest {
    /// What `--index NAME` selects.
    pub name: String,
    /// Sub-directory, `ann/<name>`.
    pub dir: String,
    pub dim: usize,
    pub num_vectors: u64,
    /// CRC-32 and length of the dense vectors' bytes it was built from (`crc32hex-bytes`).
    pub vectors_hash: String,
    pub params: AnnParams,
    /// Where an index built elsewhere came from (e.g. `faiss IwPQ msmarco.faiss`); absent for
    /// indexes trawl built.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

fn vectors_hash(flat: &FlatIndex) -> String {
    let b = flat.rows_bytes();
    format!("{:08x}-{}", trawl_store::checksum(b), b.len())
}

fn ann_err(message: String) -> Error {
    Error::Ann { message }
}

/// Opens every index the manifest lists, checking each against the dense vectors of the
/// `base_docs` base documents (added segments' vectors are not in them until `kb compact`).
pub(crate) fn open_all(
    dir: &Path,
    manifest: &crate::Manifest,
    dense: Option<&FlatIndex>,
    base_docs: usize,
) -> Result<Vec<Box<dyn VectorIndex>>> {
    let mut out: Vec<Box<dyn VectorIndex>> = Vec::new();
    for a in &manifest.ann {
        let path = trawl_store::confined_join(dir, &a.dir)?;
        let index: Box<dyn VectorIndex> = match a.params {
            AnnParams::Hnsw { .. } => Box::new(HnswIndex::open(&path)?),
            AnnParams::Sq8 => Box::new(FlatIndex::open(&path)?),
            AnnParams::Ivf { .. } | AnnParams::IvfPq { .. } => Box::new(IvfIndex::open(&path)?),
        };
        if index.kind() != a.params.kind()
            || index.len() != base_docs
            || index.dim() != a.dim
            || dense.is_some_and(|d| d.dim() != a.dim)
        {
            return Err(Error::corrupt(
                path,
                format!(
                    "the {} index holds {} vectors of dimension {} but the manifest lists a {} index of {} documents, dimension {}",
                    index.kind(),
                    index.len(),
                    index.dim(),
                    a.params.kind(),
                    base_docs,
                    a.dim
                ),
            ));
        }
        out.push(index);
    }
    Ok(out)
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && name != "exact";
    if ok {
        Ok(())
    } else {
        Err(ann_err(format!(
            "index name `{name}`: use 1-64 letters, digits, '-' or '_' (and not `exact`, which names the flat index)"
        )))
    }
}

/// The manifest entry of an index named `name` over `flat`'s vectors.
fn entry(
    name: &str,
    params: AnnParams,
    source: Option<String>,
    flat: &FlatIndex,
) -> Result<AnnManifest> {
    check_name(name)?;
    Ok(AnnManifest {
        name: name.to_string(),
        dir: format!("{ANN_DIR}/{name}"),
        dim: flat.dim(),
        num_vectors: flat.len() as u64,
        vectors_hash: vectors_hash(flat),
        params,
        source,
    })
}

fn needs_dense(kb: &KnowledgeBase) -> Result<&FlatIndex> {
    kb.vectors().ok_or(Error::MissingIndex {
        kind: "dense",
        hint: "`trawl kb build DOCS --out KB --dense MODEL --force` before adding an approximate index",
    })
}

/// Writes an index through `save` into `dir/ann/<name>` and lists it in `manifest` (replacing
/// one of the same name): the one place both a new KB generation and a staged build add one.
fn write_entry(
    dir: &Path,
    manifest: &mut crate::Manifest,
    entry: AnnManifest,
    save: impl FnOnce(&Path) -> Result<()>,
) -> Result<()> {
    let dest = dir.join(&entry.dir);
    if dest.exists() {
        std::fs::remove_dir_all(&dest).map_err(|e| Error::io(&dest, e))?;
    }
    std::fs::create_dir_all(dir.join(ANN_DIR)).map_err(|e| Error::io(dir.join(ANN_DIR), e))?;
    save(&dest)?;
    match manifest.ann.iter().position(|a| a.name == entry.name) {
        Some(i) => manifest.ann[i] = entry,
        None => manifest.ann.push(entry),
    }
    Ok(())
}

/// Writes an index built elsewhere into the directory it is given.
pub(crate) type SaveIndex<'a> = dyn FnMut(&Path) -> Result<()> + 'a;

/// Adds an index to a KB that is being built in `dir` (not yet visible; see
/// [`crate::StagedKb::add_ann`]): writes it and rewrites the manifest there.
pub(crate) fn add_to_staged(
    kb: &KnowledgeBase,
    dir: &Path,
    name: &str,
    params: AnnParams,
    source: Option<String>,
    save: Option<&mut SaveIndex<'_>>,
) -> Result<crate::Manifest> {
    let flat = needs_dense(kb)?;
    let e = entry(name, params, source, flat)?;
    let mut manifest = kb.manifest().clone();
    match save {
        Some(save) => write_entry(dir, &mut manifest, e, save)?,
        None => {
            let rows = flat.f32_rows();
            let (dim, metric) = (flat.dim(), flat.metric());
            write_entry(dir, &mut manifest, e, |dest| {
                build_into(&rows, dim, metric, params, dest)
            })?
        }
    }
    manifest.write_into(dir)?;
    Ok(manifest)
}

/// Rebuilds every index `manifest` lists over `flat` (the vectors of a compacted KB, written
/// in `dir`) from its recorded parameters and seed, into `dir`, updating each entry: what
/// `kb build --dense M --index ...` over the same vectors writes. An index imported from
/// elsewhere (`source`) is rebuilt by trawl from the parameters it was recorded with, and
/// loses its `source`. Returns the names of those.
pub(crate) fn rebuild_all(
    dir: &Path,
    manifest: &mut crate::Manifest,
    flat: &FlatIndex,
) -> Result<Vec<String>> {
    let rows = flat.f32_rows();
    let (dim, metric) = (flat.dim(), flat.metric());
    let mut imported = Vec::new();
    for a in std::mem::take(&mut manifest.ann) {
        if a.source.is_some() {
            imported.push(a.name.clone());
        }
        let e = entry(&a.name, a.params, None, flat)?;
        write_entry(dir, manifest, e, |dest| {
            build_into(&rows, dim, metric, a.params, dest)
        })
        .map_err(|e| {
            ann_err(format!(
                "rebuilding the {} index `{}` from its recorded parameters over the {} live vectors: {e}",
                a.params.kind(),
                a.name,
                flat.len()
            ))
        })?;
    }
    Ok(imported)
}

impl KnowledgeBase {
    /// Builds an approximate index named `name` from the KB's dense vectors and adds it (an
    /// index of the same name is replaced). The index directory, then the manifest, are
    /// replaced atomically.
    pub fn add_ann(&mut self, name: &str, params: AnnParams) -> Result<()> {
        needs_dense(self)?;
        // The build reads the mapped vectors in place (no f32 copy of the whole collection),
        // so the flat index leaves `self` while the new generation is written; a successful
        // write reopens `self`, a failed one gets it back.
        let flat = self.dense.take().expect("checked by needs_dense");
        let built = self.add_ann_from(&flat, name, params);
        if self.dense.is_none() {
            self.dense = Some(flat);
        }
        built
    }

    fn add_ann_from(&mut self, flat: &FlatIndex, name: &str, params: AnnParams) -> Result<()> {
        let e = entry(name, params, None, flat)?;
        let rows = flat.f32_rows();
        let (dim, metric) = (flat.dim(), flat.metric());
        let replaced = [format!("{}/", e.dir)];
        self.new_generation(&replaced, &format!("index {name}"), |staging, manifest| {
            write_entry(staging, manifest, e, |dest| {
                build_into(&rows, dim, metric, params, dest)
            })
        })
    }

    /// Adds (or replaces) an approximate index built elsewhere over the KB's documents (e.g.
    /// imported from FAISS): `save` writes it into the directory it is given; `params` must
    /// describe it (the manifest selects the reader by its kind) and `source` says where it
    /// came from. Atomic like [`KnowledgeBase::add_ann`].
    pub fn add_ann_with(
        &mut self,
        name: &str,
        params: AnnParams,
        source: Option<String>,
        save: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<()> {
        let e = entry(name, params, source, needs_dense(self)?)?;
        let replaced = [format!("{}/", e.dir)];
        self.new_generation(&replaced, &format!("index {name}"), |staging, manifest| {
            write_entry(staging, manifest, e, save)
        })
    }

    /// The index a search uses: `None` or `Some("exact")` is the exact flat index, otherwise
    /// the approximate index of that name.
    pub fn vector_index(&self, name: Option<&str>) -> Result<&dyn VectorIndex> {
        match name {
            None | Some("exact") => {
                self.vectors()
                    .map(|v| v as &dyn VectorIndex)
                    .ok_or(Error::MissingIndex {
                        kind: "dense",
                        hint: "`trawl kb build DOCS --out KB --dense MODEL --force`",
                    })
            }
            Some(n) => match self.manifest().ann.iter().position(|a| a.name == n) {
                Some(i) => Ok(self.ann[i].as_ref()),
                None => {
                    let names: Vec<&str> = self
                        .manifest()
                        .ann
                        .iter()
                        .map(|a| a.name.as_str())
                        .collect();
                    Err(ann_err(format!(
                        "{} has no vector index named `{n}` (it has: exact{}{}); add one with `trawl kb index KB --type hnsw --name {n}`",
                        self.dir().display(),
                        if names.is_empty() { "" } else { ", " },
                        names.join(", ")
                    )))
                }
            },
        }
    }

    /// Top `k` ordinals for each of `n` query vectors (row-major) through the named index
    /// (`None`: exact) with its knobs. `refine R` re-scores the index's first R candidates
    /// exactly from the KB's dense vectors ([`trawl_vector::Refined`]), for every index type.
    ///
    /// After live updates (see [`crate::update`]) exact search scans the base vectors and
    /// every added segment's, skipping deleted documents. An approximate index covers the base
    /// documents: it is asked for a few more than `k` (about twice the deleted share), and a query
    /// left with fewer than `k` live hits from a full list is asked again for `k` plus as many as
    /// the base has deleted documents (so `k` live ones come back whenever the index finds them);
    /// deleted documents are dropped, and the added
    /// segments' vectors are scanned exactly. Everything meets in one top-k (higher score first,
    /// then lower ordinal), so exact search returns what a KB rebuilt from the live documents
    /// returns.
    pub fn search_index(
        &self,
        index: Option<&str>,
        queries: &[f32],
        n: usize,
        k: usize,
        params: &SearchParams,
    ) -> Result<Vec<Vec<trawl_vector::Hit>>> {
        let ix = self.vector_index(index)?;
        let refine = params.refine.is_some_and(|r| r > 0);
        // The index's top `fetch`, its candidates re-scored exactly when `refine` asks.
        let search = |queries: &[f32], n: usize, fetch: usize| match self.vectors() {
            Some(full) if refine => {
                Refined { index: ix, full }.search_batch_with(queries, n, fetch, params)
            }
            _ => ix.search_batch_with(queries, n, fetch, params),
        };
        if !self.is_segmented() {
            return Ok(search(queries, n, k)?);
        }
        let live = |doc: u32| !self.is_deleted(doc);
        let base = match (index, self.vectors()) {
            (None | Some("exact"), Some(full)) => {
                full.search_batch_where(queries, n, k, Some(&live))?
            }
            _ => {
                // First about twice the deleted share of k more (raising HNSW's ef or the
                // number of IVF candidates costs time), then, for a query left with fewer than
                // k live hits from a full list, k plus every deleted base document.
                let most = k.saturating_add(self.dense_base_deleted);
                let share = k.saturating_mul(2 * self.dense_base_deleted) / ix.len().max(1);
                let guess = k.saturating_add(share + 8).min(most);
                let mut hits = search(queries, n, guess)?;
                let short: Vec<usize> = (0..n)
                    .filter(|&q| {
                        hits[q].len() == guess
                            && guess < most
                            && hits[q].iter().filter(|h| live(h.doc)).count() < k
                    })
                    .collect();
                if !short.is_empty() {
                    let dim = ix.dim();
                    let again: Vec<f32> = short
                        .iter()
                        .flat_map(|&q| queries[q * dim..(q + 1) * dim].iter().copied())
                        .collect();
                    for (q, h) in short.iter().zip(search(&again, short.len(), most)?) {
                        hits[*q] = h;
                    }
                }
                hits
            }
        };
        let mut tops: Vec<TopK> = (0..n).map(|_| TopK::new(k)).collect();
        for (top, hits) in tops.iter_mut().zip(base) {
            for h in hits.into_iter().filter(|h| live(h.doc)) {
                top.push(h.doc, h.score);
            }
        }
        for seg in &self.dense_segments {
            let first = seg.first;
            let seg_live = |doc: u32| live(first + doc);
            let hits = seg
                .flat
                .search_batch_where(queries, n, k, Some(&seg_live))?;
            for (top, hits) in tops.iter_mut().zip(hits) {
                for h in hits {
                    top.push(first + h.doc, h.score);
                }
            }
        }
        Ok(tops.into_iter().map(TopK::into_sorted).collect())
    }

    /// Top `k` documents for each of `n` query vectors (row-major) through the named index
    /// (`None`: exact), with its search knobs.
    pub fn search_vectors(
        &self,
        index: Option<&str>,
        queries: &[f32],
        n: usize,
        k: usize,
        params: &SearchParams,
    ) -> Result<Vec<Vec<KbHit>>> {
        let all = self.search_index(index, queries, n, k, params)?;
        all.into_iter()
            .map(|hits| self.to_kb_hits(hits.into_iter().map(|h| (h.doc, h.score))))
            .collect()
    }
}

/// Saves through `save` into `dest` (the engines write via their own `AtomicDir`); the parent
/// `ann/` directory is created first.
/// Builds the index `params` describes over `rows` and saves it at `dest`.
fn build_into(
    rows: &[f32],
    dim: usize,
    metric: trawl_vector::Metric,
    params: AnnParams,
    dest: &Path,
) -> Result<()> {
    match params {
        AnnParams::Hnsw {
            m,
            ef_construction,
            ef_search,
            seed,
            storage,
        } => {
            let p = HnswParams {
                m,
                ef_construction,
                ef_search,
                seed,
            };
            HnswIndex::build(rows, dim, metric, p)?
                .with_storage(storage.precision())?
                .save(dest)?;
        }
        AnnParams::Sq8 => {
            FlatIndex::build(rows, dim, metric, trawl_vector::Precision::Sq8)?.save(dest)?;
        }
        AnnParams::Ivf {
            nlist,
            nprobe,
            train_size,
            seed,
        } => {
            let p = IvfParams {
                nlist,
                codec: IvfCodec::Flat,
                nprobe,
                train_size,
                seed,
                keep_vectors: false,
            };
            IvfIndex::build(rows, dim, metric, p)?.save(dest)?;
        }
        AnnParams::IvfPq {
            nlist,
            m,
            nprobe,
            train_size,
            seed,
            refine_vectors,
        } => {
            let p = IvfParams {
                nlist,
                codec: IvfCodec::Pq { m },
                nprobe,
                train_size,
                seed,
                keep_vectors: refine_vectors,
            };
            IvfIndex::build(rows, dim, metric, p)?.save(dest)?;
        }
    }
    Ok(())
}
