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
    /// "flat" (f32 or f16 rows: exact) or "sq8" (scalar-quantised rows: approximate).
    fn kind(&self) -> &'static str {
        match self.precision() {
            crate::Precision::Sq8 => "sq8",
            _ => "flat",
        }
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

/// Recall: the mean fraction of each exact top-k (`truth`) that the approximate lists (`got`)
/// contain (how every approximate index is measured against exact flat search).
pub fn recall(truth: &[Vec<Hit>], got: &[Vec<Hit>]) -> f64 {
    let mut s = 0.0;
    for (t, g) in truth.iter().zip(got) {
        s += t
            .iter()
            .filter(|h| g.iter().any(|x| x.doc == h.doc))
            .count() as f64
            / t.len().max(1) as f64;
    }
    s / truth.len().max(1) as f64
}

/// Exact re-scoring of another index's first R candidates (what FAISS's `IndexRefineFlat`
/// does): `index` is asked for `max(k, R)` candidates, their scores are recomputed from the full
/// vectors in `full` exactly as [`FlatIndex::search`] computes them, and the best `k` are kept.
/// With `refine` unset or 0 (or `index` exact) it answers as `index` does. The one refine
/// mechanism for every compressed index (sq8, HNSW over f16/sq8, IVF-PQ).
pub struct Refined<'a> {
    pub index: &'a dyn VectorIndex,
    pub full: &'a FlatIndex,
}

impl std::fmt::Debug for Refined<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Refined")
            .field("index", &self.index)
            .finish()
    }
}

impl VectorIndex for Refined<'_> {
    fn kind(&self) -> &'static str {
        self.index.kind()
    }
    fn dim(&self) -> usize {
        self.index.dim()
    }
    fn len(&self) -> usize {
        self.index.len()
    }
    fn metric(&self) -> Metric {
        self.index.metric()
    }

    fn search_batch_with(
        &self,
        queries: &[f32],
        n: usize,
        k: usize,
        params: &SearchParams,
    ) -> Result<Vec<Vec<Hit>>> {
        let r = params.refine.unwrap_or(0);
        if r == 0 || self.index.kind() == "flat" {
            return self.index.search_batch_with(queries, n, k, params);
        }
        if self.full.dim() != self.index.dim() || self.full.len() != self.index.len() {
            return Err(crate::Error::InvalidParams(format!(
                "refine: the full vectors hold {} vectors of dimension {} but the index {} of dimension {}",
                self.full.len(),
                self.full.dim(),
                self.index.len(),
                self.index.dim()
            )));
        }
        let inner = SearchParams {
            refine: None,
            ..*params
        };
        let cands = self.index.search_batch_with(queries, n, k.max(r), &inner)?;
        let dim = self.dim();
        cands
            .into_iter()
            .zip(queries.chunks_exact(dim))
            .map(|(hits, q)| -> Result<Vec<Hit>> {
                let docs: Vec<u32> = hits.iter().map(|h| h.doc).collect();
                let mut scores = Vec::new();
                self.full.scores_of(q, &docs, &mut scores)?;
                let mut top = crate::TopK::new(k);
                for (&d, &s) in docs.iter().zip(&scores) {
                    top.push(d, s);
                }
                Ok(top.into_sorted())
            })
            .collect()
    }
}
