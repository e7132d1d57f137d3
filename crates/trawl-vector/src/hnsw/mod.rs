//! HNSW (hierarchical navigable small world graphs, Malkov & Yashunin 2016), built the way
//! hnswlib builds it: each node gets a seeded random level, is linked on every layer up to it
//! with the neighbour-selection heuristic, and neighbours whose lists overflow are pruned with the
//! same heuristic.
//!
//! Determinism: [`HnswIndex::build`] (the default) inserts sequentially in ordinal order, levels
//! come from a seeded SplitMix64, and every heap orders by (distance, ordinal), so the same
//! vectors, parameters and seed give the same graph, hence the same files, bit for bit (on one
//! CPU type: AVX-512, AVX2 and portable kernels round differently). [`HnswIndex::build_parallel`]
//! inserts on all rayon threads with a lock per node, as hnswlib and FAISS do: faster, but the
//! graph depends on thread timing.
//!
//! Storage: layer 0 is one flat `u32` array, `2M + 1` slots per node (count, then ids), like
//! hnswlib's level-0 block; upper layers are `M + 1` slots per (node, level), addressed by a
//! prefix sum of the nodes' levels. Vectors are f32 rows (normalised for cosine); after the build
//! they may be stored as f16 or sq8 ([`HnswIndex::with_storage`]): the graph is the one built
//! from the f32 vectors, searches score the compressed rows.

mod graph;
mod persist;

use rayon::prelude::*;

use crate::array::Array;
use crate::index::{checked_k, SearchParams, VectorIndex};
use crate::sq::ScalarQuantizer;
use crate::{normalize_rows, Error, Hit, Metric, Precision, Result};

pub use persist::HNSW_FILES;

/// Build and search parameters of an HNSW index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HnswParams {
    /// Links per node on upper layers (layer 0 keeps 2M).
    pub m: usize,
    /// Candidate list size while inserting.
    pub ef_construction: usize,
    /// Default candidate list size at search (a search's `ef` overrides it).
    pub ef_search: usize,
    /// Seed of the level draws.
    pub seed: u64,
}

impl Default for HnswParams {
    fn default() -> Self {
        HnswParams {
            m: 16,
            ef_construction: 200,
            ef_search: 64,
            seed: 0,
        }
    }
}

impl HnswParams {
    fn check(&self) -> Result<()> {
        if !(2..=255).contains(&self.m) {
            return Err(Error::InvalidParams(format!(
                "HNSW M must be between 2 and 255, got {}",
                self.m
            )));
        }
        if self.ef_construction == 0 || self.ef_search == 0 {
            return Err(Error::InvalidParams(
                "HNSW ef_construction and ef_search must be at least 1".into(),
            ));
        }
        Ok(())
    }
}

/// The stored vectors of an HNSW index.
pub(crate) enum Vectors {
    F32(Array<f32>),
    F16(Array<half::f16>),
    Sq8(ScalarQuantizer, Array<u8>),
}

impl Vectors {
    fn precision(&self) -> Precision {
        match self {
            Vectors::F32(_) => Precision::F32,
            Vectors::F16(_) => Precision::F16,
            Vectors::Sq8(..) => Precision::Sq8,
        }
    }
    /// Rows `start..end` of width `dim` as f32 (decoded for f16 and sq8).
    pub(crate) fn rows_f32(&self, start: usize, end: usize, dim: usize) -> Vec<f32> {
        let (a, b) = (start * dim, end * dim);
        match self {
            Vectors::F32(v) => v.as_slice()[a..b].to_vec(),
            Vectors::F16(v) => v.as_slice()[a..b].iter().map(|x| x.to_f32()).collect(),
            Vectors::Sq8(sq, c) => {
                let mut out = vec![0f32; b - a];
                sq.decode(&c.as_slice()[a..b], &mut out);
                out
            }
        }
    }

    fn bytes(&self) -> usize {
        match self {
            Vectors::F32(a) => a.bytes().len(),
            Vectors::F16(a) => a.bytes().len(),
            Vectors::Sq8(sq, a) => a.bytes().len() + 8 * sq.dim(),
        }
    }
}

/// An HNSW graph over f32, f16 or sq8 vectors, searched by inner product (or cosine).
pub struct HnswIndex {
    pub(crate) dim: usize,
    pub(crate) metric: Metric,
    pub(crate) params: HnswParams,
    pub(crate) len: usize,
    pub(crate) entry: u32,
    pub(crate) max_level: u32,
    pub(crate) vectors: Vectors,
    /// `len * (2M + 1)`: count then neighbour ids, per node.
    pub(crate) layer0: Array<u32>,
    /// `len + 1` prefix sums of node levels: node i's upper blocks are `offsets[i]..offsets[i+1]`.
    pub(crate) upper_offsets: Array<u32>,
    /// `(M + 1)` slots per (node, level >= 1).
    pub(crate) upper: Array<u32>,
}

impl std::fmt::Debug for HnswIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HnswIndex")
            .field("dim", &self.dim)
            .field("len", &self.len)
            .field("params", &self.params)
            .field("max_level", &self.max_level)
            .finish()
    }
}

impl HnswIndex {
    /// Builds the graph over `vectors` (`n * dim` row-major values) on one thread, in ordinal
    /// order: the same input and seed give the same graph, bit for bit.
    pub fn build(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        params: HnswParams,
    ) -> Result<HnswIndex> {
        Self::build_with(vectors, dim, metric, params, false)
    }

    /// Builds on all threads of the current rayon pool, inserting in parallel with a lock per
    /// node as hnswlib does: about twice as fast on 2 cores, but which links a node gets depends
    /// on thread timing, so two builds may differ (recall is the same on average). On a
    /// one-thread pool this is [`HnswIndex::build`].
    pub fn build_parallel(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        params: HnswParams,
    ) -> Result<HnswIndex> {
        Self::build_with(vectors, dim, metric, params, true)
    }

    fn build_with(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        params: HnswParams,
        parallel: bool,
    ) -> Result<HnswIndex> {
        params.check()?;
        if dim == 0 {
            return Err(Error::ZeroDimension);
        }
        if !vectors.len().is_multiple_of(dim) {
            return Err(Error::RaggedBatch {
                len: vectors.len(),
                dim,
            });
        }
        let n = vectors.len() / dim;
        if n as u64 >= u32::MAX as u64 {
            return Err(Error::TooManyVectors {
                max: u32::MAX as u64 - 1,
            });
        }
        let mut rows = Array::huge_copy(vectors);
        if metric == Metric::Cosine {
            normalize_rows(rows.as_mut_slice(), dim);
        }
        let g = graph::build(
            rows.as_slice(),
            dim,
            metric == Metric::L2,
            &params,
            parallel,
        );
        Ok(HnswIndex {
            dim,
            metric,
            params,
            len: n,
            entry: g.entry,
            max_level: g.max_level,
            vectors: Vectors::F32(rows),
            layer0: Array::huge_copy(&g.layer0),
            upper_offsets: Array::Owned(g.upper_offsets),
            upper: Array::Owned(g.upper),
        })
    }

    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// How the vectors are stored.
    pub fn storage(&self) -> Precision {
        self.vectors.precision()
    }

    /// The same graph with its vectors stored as `storage`: f16 halves them, sq8 (trained on
    /// the index's own vectors, as FAISS's `IndexHNSWSQ` trains) quarters them. Only an f32
    /// index converts (the graph was built from full vectors); asking for its own storage
    /// returns it unchanged.
    pub fn with_storage(mut self, storage: Precision) -> Result<HnswIndex> {
        if storage == self.storage() {
            return Ok(self);
        }
        let Vectors::F32(rows) = &self.vectors else {
            return Err(Error::InvalidParams(format!(
                "an HNSW index stored as {} cannot be converted to {}: build it again from f32 vectors",
                self.storage().name(),
                storage.name()
            )));
        };
        let rows = rows.as_slice();
        self.vectors = match storage {
            Precision::F32 => unreachable!("equal storage returned above"),
            Precision::F16 => {
                let h: Vec<half::f16> = rows.iter().map(|&x| half::f16::from_f32(x)).collect();
                Vectors::F16(Array::huge_copy(&h))
            }
            Precision::Sq8 => {
                let sq = ScalarQuantizer::train(rows, self.dim)?;
                let mut codes = Vec::with_capacity(rows.len());
                sq.encode_into(rows, &mut codes);
                Vectors::Sq8(sq, Array::huge_copy(&codes))
            }
        };
        Ok(self)
    }

    /// Bytes of vectors and links (what a search touches).
    pub fn memory_bytes(&self) -> usize {
        self.vectors.bytes()
            + self.layer0.bytes().len()
            + self.upper_offsets.bytes().len()
            + self.upper.bytes().len()
    }

    pub(crate) fn view(&self) -> graph::GraphRef<'_> {
        graph::GraphRef {
            dim: self.dim,
            l2: self.metric == Metric::L2,
            m: self.params.m,
            vectors: match &self.vectors {
                Vectors::F32(a) => graph::Stored::F32(a.as_slice()),
                Vectors::F16(a) => graph::Stored::F16(a.as_slice()),
                Vectors::Sq8(sq, a) => graph::Stored::Sq8(sq, a.as_slice()),
            },
            layer0: self.layer0.as_slice(),
            upper_offsets: self.upper_offsets.as_slice(),
            upper: self.upper.as_slice(),
            entry: self.entry,
            max_level: self.max_level,
        }
    }
}

impl VectorIndex for HnswIndex {
    fn kind(&self) -> &'static str {
        "hnsw"
    }
    fn dim(&self) -> usize {
        self.dim
    }
    fn len(&self) -> usize {
        self.len
    }
    fn metric(&self) -> Metric {
        self.metric
    }

    fn search_batch_with(
        &self,
        queries: &[f32],
        n: usize,
        k: usize,
        params: &SearchParams,
    ) -> Result<Vec<Vec<Hit>>> {
        let Some(k) = checked_k(queries, n, k, self.dim, self.len)? else {
            return Ok(vec![Vec::new(); n]);
        };
        let ef = params.ef.unwrap_or(self.params.ef_search).max(k);
        let g = self.view();
        let metric = self.metric;
        let dim = self.dim;
        let one = |q: &[f32]| -> Vec<Hit> {
            // Only cosine queries are copied (to normalise them).
            let normalised;
            let q = if metric == Metric::Cosine {
                let mut c = q.to_vec();
                normalize_rows(&mut c, dim);
                normalised = c;
                &normalised[..]
            } else {
                q
            };
            graph::SCRATCH.with(|s| g.search(q, k, ef, &mut s.borrow_mut()))
        };
        if n == 1 {
            return Ok(vec![one(queries)]);
        }
        Ok(queries.par_chunks(dim).map(one).collect())
    }
}
