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
//! prefix sum of the nodes' levels. Vectors are f32 rows (normalised for cosine).

mod graph;
mod persist;

use rayon::prelude::*;

use crate::array::Array;
use crate::index::{checked_k, SearchParams, VectorIndex};
use crate::{normalize_rows, Error, Hit, Metric, Result};

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

/// An HNSW graph over f32 vectors, searched by inner product (or cosine).
pub struct HnswIndex {
    pub(crate) dim: usize,
    pub(crate) metric: Metric,
    pub(crate) params: HnswParams,
    pub(crate) len: usize,
    pub(crate) entry: u32,
    pub(crate) max_level: u32,
    pub(crate) vectors: Array<f32>,
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
            vectors: rows,
            layer0: Array::huge_copy(&g.layer0),
            upper_offsets: Array::Owned(g.upper_offsets),
            upper: Array::Owned(g.upper),
        })
    }

    pub fn params(&self) -> HnswParams {
        self.params
    }

    /// Bytes of vectors and links (what a search touches).
    pub fn memory_bytes(&self) -> usize {
        self.vectors.bytes().len()
            + self.layer0.bytes().len()
            + self.upper_offsets.bytes().len()
            + self.upper.bytes().len()
    }

    pub(crate) fn view(&self) -> graph::GraphRef<'_> {
        graph::GraphRef {
            dim: self.dim,
            l2: self.metric == Metric::L2,
            m: self.params.m,
            vectors: self.vectors.as_slice(),
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
            let mut q = q.to_vec();
            if metric == Metric::Cosine {
                normalize_rows(&mut q, dim);
            }
            graph::SCRATCH.with(|s| g.search(&q, k, ef, &mut s.borrow_mut()))
        };
        if n == 1 {
            return Ok(vec![one(queries)]);
        }
        Ok(queries.par_chunks(dim).map(one).collect())
    }
}
