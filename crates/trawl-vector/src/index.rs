//! The one interface every vector index answers through: exact flat search is the reference
//! implementation; approximate indexes (HNSW, IVF, IVF-PQ) take their knobs from
//! [`SearchParams`] and ignore the ones that are not theirs.

use crate::{FlatIndex, Hit, Metric, Result};

/// Per-search knobs; `None` means the index's own default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SearchParams {
    /// HNSW: candidate list size at search (raised to k when smaller).
    pub ef: Option<usize>,
    /// IVF: inverted lists visited per query.
    pub nprobe: Option<usize>,
    /// Re-score the first R candidates exactly from stored full vectors (compressed indexes).
    pub refine: Option<usize>,
}

/// A searchable vector index over documents `0..len()` (ordinals are insertion order).
pub trait VectorIndex: Send + Sync + std::fmt::Debug {
    /// Short name of the index type: "flat", "hnsw", "ivf", "ivfpq".
    fn kind(&self) -> &'static str;
    fn dim(&self) -> usize;
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    fn metric(&self) -> Metric;

    /// Top `k` for each of the `n` row-major queries, best first (ties: lower ordinal).
    fn search_batch_with(
        &self,
        queries: &[f32],
        n: usize,
        k: usize,
        params: &SearchParams,
    ) -> Result<Vec<Vec<Hit>>>;

    /// Top `k` for one query.
    fn search_with(&self, query: &[f32], k: usize, params: &SearchParams) -> Result<Vec<Hit>> {
        Ok(self
            .search_batch_with(query, 1, k, params)?
            .pop()
            .unwrap_or_default())
    }
}

impl VectorIndex for FlatIndex {
    fn kind(&self) -> &'static str {
        "flat"
    }
    fn dim(&self) -> usize {
        FlatIndex::dim(self)
    }
    fn len(&self) -> usize {
        FlatIndex::len(self)
    }
    fn metric(&self) -> Metric {
        FlatIndex::metric(self)
    }
    fn search_batch_with(
        &self,
        queries: &[f32],
        n: usize,
        k: usize,
        _params: &SearchParams,
    ) -> Result<Vec<Vec<Hit>>> {
        self.search_batch(queries, n, k)
    }
}

/// The common start of every approximate search: checks that `queries` holds `n` rows of `dim`
/// values (errors name both numbers) and clamps `k` to the index's `len`. `None` means the
/// answer is `n` empty lists (no queries, or nothing to return).
pub(crate) fn checked_k(
    queries: &[f32],
    n: usize,
    k: usize,
    dim: usize,
    len: usize,
) -> Result<Option<usize>> {
    if queries.len() != n * dim {
        let received = queries.len().checked_div(n).unwrap_or(queries.len());
        return Err(crate::Error::WrongVectorDimension {
            expected: dim,
            received,
        });
    }
    let k = k.min(len);
    Ok((n > 0 && k > 0).then_some(k))
}
