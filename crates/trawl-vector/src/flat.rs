//! `FlatIndex`: exact top-k by inner product or cosine over all stored vectors.
//!
//! Scores come from a matrix product (the `gemm` crate) of a block of queries against a block of
//! documents; rayon spreads (query block x document shard) tasks over the cores and each task keeps
//! a running top-k per query, merged at the end.

use rayon::prelude::*;

use crate::simd::dot;
use crate::sq::ScalarQuantizer;
use crate::storage::{Precision, Rows, RowsRef};
use crate::{Error, Hit, Result, TopK};

/// Similarity used to rank documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    /// Raw dot product (what sentence-transformers models with a Normalize layer are used with).
    InnerProduct,
    /// Cosine: vectors are L2-normalised when added and queries when searched.
    Cosine,
    /// Squared Euclidean distance (FAISS's `METRIC_L2`); a hit's score is the negated squared
    /// distance, so higher is still better.
    L2,
}

const QUERY_BLOCK: usize = 128;
const DOC_BLOCK: usize = 1024;

/// An exact (brute-force) vector index. Document ordinals are insertion order.
pub struct FlatIndex {
    pub(crate) dim: usize,
    pub(crate) metric: Metric,
    pub(crate) len: usize,
    pub(crate) rows: Rows,
}

impl std::fmt::Debug for FlatIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlatIndex")
            .field("dim", &self.dim)
            .field("metric", &self.metric)
            .field("precision", &self.precision())
            .field("len", &self.len)
            .finish()
    }
}

impl FlatIndex {
    /// An empty index for `dim`-dimensional vectors.
    pub fn new(dim: usize, metric: Metric, precision: Precision) -> Result<FlatIndex> {
        if dim == 0 {
            return Err(Error::ZeroDimension);
        }
        Ok(FlatIndex {
            dim,
            metric,
            len: 0,
            rows: Rows::empty(precision),
        })
    }

    pub fn dim(&self) -> usize {
        self.dim
    }
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    pub fn metric(&self) -> Metric {
        self.metric
    }
    pub fn precision(&self) -> Precision {
        self.rows.precision()
    }
    /// Bytes held by the stored vectors (mapped or in RAM), with an sq8 index's ranges.
    pub fn memory_bytes(&self) -> usize {
        let ranges = self.rows.quantizer().map_or(0, |q| 8 * q.dim());
        self.len * self.dim * self.precision().bytes_per_value() + ranges
    }

    /// An index of `precision` holding `rows` (an sq8 index is trained on all of them first).
    pub fn build(
        rows: &[f32],
        dim: usize,
        metric: Metric,
        precision: Precision,
    ) -> Result<FlatIndex> {
        let mut index = FlatIndex::new(dim, metric, precision)?;
        if precision == Precision::Sq8 {
            index.train(rows)?;
        }
        index.add(rows)?;
        Ok(index)
    }

    /// Trains an empty sq8 index's per-dimension ranges on `sample` (FAISS's `train`); other
    /// storage needs no training and ignores it.
    pub fn train(&mut self, sample: &[f32]) -> Result<()> {
        if self.precision() != Precision::Sq8 {
            return Ok(());
        }
        if self.len > 0 {
            return Err(Error::InvalidParams(
                "an sq8 index is trained before vectors are added".into(),
            ));
        }
        check_batch(sample, self.dim)?;
        let sq = if self.metric == Metric::Cosine {
            let mut v = sample.to_vec();
            normalize_rows(&mut v, self.dim);
            ScalarQuantizer::train(&v, self.dim)?
        } else {
            ScalarQuantizer::train(sample, self.dim)?
        };
        self.rows.set_quantizer(sq);
        Ok(())
    }

    /// Appends vectors given row-major in one flat slice (`rows.len()` a multiple of `dim`).
    pub fn add(&mut self, rows: &[f32]) -> Result<()> {
        let n = check_batch(rows, self.dim)?;
        if self.precision() == Precision::Sq8 && self.rows.quantizer().is_none() {
            return Err(Error::InvalidParams(
                "an sq8 index must be trained before vectors are added (FlatIndex::train or FlatIndex::build)".into(),
            ));
        }
        if (self.len + n) as u64 > u32::MAX as u64 {
            return Err(Error::TooManyVectors {
                max: u32::MAX as u64,
            });
        }
        if self.metric == Metric::Cosine {
            let mut v = rows.to_vec();
            normalize_rows(&mut v, self.dim);
            self.rows.extend(&v);
        } else {
            self.rows.extend(rows);
        }
        self.len += n;
        Ok(())
    }

    /// Appends the stored vectors of `docs` of `other` exactly as `other` holds them (no second
    /// normalisation for cosine, f16 values kept): how a knowledge base's compaction gathers
    /// its live rows into one index that equals one built from the original vectors. `other`
    /// must have this index's dimension, metric and storage (f32 or f16).
    pub fn add_rows_of(&mut self, other: &FlatIndex, docs: &[u32]) -> Result<()> {
        if other.dim != self.dim {
            return Err(Error::WrongVectorDimension {
                expected: self.dim,
                received: other.dim,
            });
        }
        if other.metric != self.metric
            || other.precision() != self.precision()
            || self.precision() == Precision::Sq8
        {
            return Err(Error::InvalidParams(format!(
                "copying rows needs the same metric and f32 or f16 storage on both sides ({:?} {} into {:?} {})",
                other.metric,
                other.precision().name(),
                self.metric,
                self.precision().name()
            )));
        }
        if let Some(&d) = docs.iter().find(|&&d| d as usize >= other.len) {
            return Err(Error::InvalidParams(format!(
                "document {d} is not in an index of {} vectors",
                other.len
            )));
        }
        if (self.len + docs.len()) as u64 > u32::MAX as u64 {
            return Err(Error::TooManyVectors {
                max: u32::MAX as u64,
            });
        }
        let view = other.rows.view();
        let mut values = Vec::with_capacity(docs.len() * self.dim);
        let mut tmp = Vec::new();
        for &d in docs {
            let d = d as usize;
            values.extend_from_slice(view.rows_f32(d, d + 1, self.dim, &mut tmp));
        }
        // f32 rows copy as they are; f16 rows widen and narrow back to the same bits.
        self.rows.extend(&values);
        self.len += docs.len();
        Ok(())
    }

    /// Every stored vector as f32, row-major (what an approximate index is built from):
    /// borrowed (memory-mapped or in memory) when they are stored as f32, else converted.
    pub fn f32_rows(&self) -> std::borrow::Cow<'_, [f32]> {
        match self.rows.view() {
            RowsRef::F32(v) => std::borrow::Cow::Borrowed(&v[..self.len * self.dim]),
            RowsRef::F16(_) | RowsRef::Sq8(..) => std::borrow::Cow::Owned(self.to_f32_rows()),
        }
    }

    /// Every stored vector as f32, row-major, copied.
    pub fn to_f32_rows(&self) -> Vec<f32> {
        let mut tmp = Vec::new();
        self.rows
            .view()
            .rows_f32(0, self.len, self.dim, &mut tmp)
            .to_vec()
    }

    /// Exact scores of `query` (one row, not yet normalised) against the stored vectors of
    /// `docs`, as [`FlatIndex::search`] computes them, into `out`.
    pub fn scores_of(&self, query: &[f32], docs: &[u32], out: &mut Vec<f32>) -> Result<()> {
        if query.len() != self.dim {
            return Err(Error::WrongVectorDimension {
                expected: self.dim,
                received: query.len(),
            });
        }
        if let Some(&d) = docs.iter().find(|&&d| d as usize >= self.len) {
            return Err(Error::InvalidParams(format!(
                "document {d} is not in an index of {} vectors",
                self.len
            )));
        }
        out.clear();
        if docs.is_empty() {
            return Ok(());
        }
        let mut q = query.to_vec();
        if self.metric == Metric::Cosine {
            normalize_rows(&mut q, self.dim);
        }
        let dim = self.dim;
        let view = self.rows.view();
        let mut rows = Vec::with_capacity(docs.len() * dim);
        let mut tmp = Vec::new();
        for &d in docs {
            let d = d as usize;
            rows.extend_from_slice(view.rows_f32(d, d + 1, dim, &mut tmp));
        }
        out.resize(docs.len(), 0.0);
        scores_block(&q, &rows, 1, docs.len(), dim, out);
        finish_scores(self.metric, &q, &rows, docs.len(), dim, out);
        Ok(())
    }

    /// The stored rows' bytes (to fingerprint the vectors an index was built from).
    pub fn rows_bytes(&self) -> &[u8] {
        self.rows.bytes()
    }

    /// The stored vector of `doc` (as f32; normalised if the metric is cosine).
    pub fn vector(&self, doc: u32) -> Option<Vec<f32>> {
        let i = doc as usize;
        if i >= self.len {
            return None;
        }
        let mut tmp = Vec::new();
        Some(
            self.rows
                .view()
                .rows_f32(i, i + 1, self.dim, &mut tmp)
                .to_vec(),
        )
    }

    /// Top `k` documents for one query, best first (ties: lower ordinal first).
    pub fn search(&self, query: &[f32], k: usize) -> Result<Vec<Hit>> {
        if query.len() != self.dim {
            return Err(Error::WrongVectorDimension {
                expected: self.dim,
                received: query.len(),
            });
        }
        Ok(self.search_batch(query, 1, k)?.pop().unwrap_or_default())
    }

    /// Top `k` for each of the `n` queries given row-major in `queries` (`n * dim` values).
    pub fn search_batch(&self, queries: &[f32], n: usize, k: usize) -> Result<Vec<Vec<Hit>>> {
        self.search_batch_where(queries, n, k, None)
    }

    /// [`FlatIndex::search_batch`] over the documents `keep` accepts only (e.g. not deleted):
    /// the others are scored but never enter the top k, so `k` kept documents come back whenever
    /// there are that many. `None` keeps all.
    pub fn search_batch_where(
        &self,
        queries: &[f32],
        n: usize,
        k: usize,
        keep: Option<&(dyn Fn(u32) -> bool + Sync)>,
    ) -> Result<Vec<Vec<Hit>>> {
        if queries.len() != n * self.dim {
            let received = queries.len().checked_div(n).unwrap_or(queries.len());
            return Err(Error::WrongVectorDimension {
                expected: self.dim,
                received,
            });
        }
        let nq = n;
        let k = k.min(self.len);
        if nq == 0 {
            return Ok(Vec::new());
        }
        if k == 0 {
            return Ok(vec![Vec::new(); nq]);
        }
        let normalised;
        let queries = if self.metric == Metric::Cosine {
            normalised = {
                let mut q = queries.to_vec();
                normalize_rows(&mut q, self.dim);
                q
            };
            &normalised[..]
        } else {
            queries
        };

        let q_blocks = nq.div_ceil(QUERY_BLOCK);
        let d_blocks = self.len.div_ceil(DOC_BLOCK);
        let threads = rayon::current_num_threads().max(1);
        // At least ~4 tasks per thread so uneven blocks still keep every core busy.
        let shards = if q_blocks >= 4 * threads {
            1
        } else {
            (4 * threads).div_ceil(q_blocks).min(d_blocks).max(1)
        };
        let blocks_per_shard = d_blocks.div_ceil(shards);
        let rows = self.rows.view();

        let tasks: Vec<(usize, usize)> = (0..q_blocks)
            .flat_map(|qb| (0..shards).map(move |s| (qb, s)))
            .collect();
        let partial: Vec<Vec<TopK>> = tasks
            .par_iter()
            .map(|&(qb, s)| {
                let q0 = qb * QUERY_BLOCK;
                let q1 = (q0 + QUERY_BLOCK).min(nq);
                let d0 = (s * blocks_per_shard * DOC_BLOCK).min(self.len);
                let d1 = ((s + 1) * blocks_per_shard * DOC_BLOCK).min(self.len);
                self.scan(
                    &queries[q0 * self.dim..q1 * self.dim],
                    rows,
                    d0,
                    d1,
                    k,
                    keep,
                )
            })
            .collect();

        let mut out = Vec::with_capacity(nq);
        let mut it = partial.into_iter();
        for _ in 0..q_blocks {
            let mut block = it.next().expect("one task per (query block, shard)");
            for _ in 1..shards {
                for (acc, other) in block.iter_mut().zip(it.next().expect("shard")) {
                    acc.merge(other);
                }
            }
            out.extend(block.into_iter().map(TopK::into_sorted));
        }
        Ok(out)
    }

    /// Scores `queries` against documents `d0..d1`, block by block, keeping the top k of each
    /// (of the documents `keep` accepts).
    fn scan(
        &self,
        queries: &[f32],
        rows: RowsRef<'_>,
        d0: usize,
        d1: usize,
        k: usize,
        keep: Option<&(dyn Fn(u32) -> bool + Sync)>,
    ) -> Vec<TopK> {
        let dim = self.dim;
        let nq = queries.len() / dim;
        let mut tops: Vec<TopK> = (0..nq).map(|_| TopK::new(k)).collect();
        let mut scores = vec![0f32; nq * DOC_BLOCK];
        let mut convert = Vec::new();
        let mut start = d0;
        while start < d1 {
            let end = (start + DOC_BLOCK).min(d1);
            let nd = end - start;
            let docs = rows.rows_f32(start, end, dim, &mut convert);
            scores_block(queries, docs, nq, nd, dim, &mut scores[..nq * nd]);
            finish_scores(self.metric, queries, docs, nd, dim, &mut scores[..nq * nd]);
            for (qi, top) in tops.iter_mut().enumerate() {
                let row = &scores[qi * nd..(qi + 1) * nd];
                match keep {
                    None => top.push_row(start as u32, row),
                    Some(keep) => {
                        for (i, &score) in row.iter().enumerate() {
                            let doc = (start + i) as u32;
                            // The filter is asked only about scores that could enter.
                            #[allow(clippy::neg_cmp_op_on_partial_ord)] // NaN may enter too
                            if !(score <= top.threshold()) && keep(doc) {
                                top.push(doc, score);
                            }
                        }
                    }
                }
            }
            start = end;
        }
        tops
    }
}

/// `out[i * nd + j] = dot(queries[i], docs[j])` via one single-threaded gemm call.
pub(crate) fn scores_block(
    queries: &[f32],
    docs: &[f32],
    nq: usize,
    nd: usize,
    dim: usize,
    out: &mut [f32],
) {
    assert!(queries.len() >= nq * dim && docs.len() >= nd * dim && out.len() >= nq * nd);
    // SAFETY: the asserts above bound every access: dst is nq x nd row-major, lhs nq x dim
    // row-major, rhs is docs read transposed (dim x nd, column stride dim).
    unsafe {
        gemm::gemm(
            nq,
            nd,
            dim,
            out.as_mut_ptr(),
            1,
            nd as isize,
            false,
            queries.as_ptr(),
            1,
            dim as isize,
            docs.as_ptr(),
            dim as isize,
            1,
            0.0,
            1.0,
            false,
            false,
            false,
            gemm::Parallelism::None,
        );
    }
}

/// Turns the dot products `scores_block` left in `scores` (`nq x nd`) into the metric's scores:
/// for L2, -|q - x|^2 = 2 q.x - |x|^2 - |q|^2 (what FAISS computes for batches too).
fn finish_scores(
    metric: Metric,
    queries: &[f32],
    docs: &[f32],
    nd: usize,
    dim: usize,
    scores: &mut [f32],
) {
    if metric != Metric::L2 {
        return;
    }
    let dn: Vec<f32> = docs[..nd * dim]
        .chunks_exact(dim)
        .map(|r| dot(r, r))
        .collect();
    for (qi, q) in queries.chunks_exact(dim).enumerate() {
        let qn = dot(q, q);
        for (s, &n) in scores[qi * nd..(qi + 1) * nd].iter_mut().zip(&dn) {
            *s = 2.0 * *s - n - qn;
        }
    }
}

fn check_batch(values: &[f32], dim: usize) -> Result<usize> {
    if !values.len().is_multiple_of(dim) {
        if values.len() < dim {
            return Err(Error::WrongVectorDimension {
                expected: dim,
                received: values.len(),
            });
        }
        return Err(Error::RaggedBatch {
            len: values.len(),
            dim,
        });
    }
    Ok(values.len() / dim)
}

/// L2-normalises each row in place; zero rows stay zero.
pub fn normalize_rows(values: &mut [f32], dim: usize) {
    for row in values.chunks_mut(dim) {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|x| *x /= norm);
        }
    }
}
