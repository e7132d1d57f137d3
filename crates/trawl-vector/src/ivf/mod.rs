//! Inverted-file indexes: a coarse k-means quantiser cuts the space into `nlist` cells; each
//! vector is stored in the list of its nearest centroid; a search scores the centroids and scans
//! only the `nprobe` nearest lists.
//!
//! - IVF-Flat keeps the full f32 vectors in the lists (exact scores within the probed lists).
//! - IVF-PQ keeps `m` bytes per vector: the product-quantised residual against the list's
//!   centroid. For inner product `q.(c + r) = q.c + q.r`, so one `m x 256` table per query
//!   serves every list, and each list adds its own `q.c`. With `refine`, the first R candidates
//!   are re-scored exactly from stored full vectors (FAISS's IndexRefineFlat).
//!
//! Coarse assignment and probing use L2 distance to the centroids (FAISS's `IndexFlatL2`
//! quantiser; an imported FAISS index with an `IndexFlatIP` quantiser probes by inner product);
//! vectors are scored by inner product (cosine: normalised first) or, for `Metric::L2`, by the
//! negated squared distance (IVF-PQ then builds one table per list, from the query's residual).

mod persist;
pub(crate) mod pq;

use rayon::prelude::*;

use crate::array::Array;
use crate::index::{checked_k, SearchParams, VectorIndex};
use crate::kmeans::{assign_nearest, kmeans, norms, KMeansParams};
use crate::rng::SplitMix64;
use crate::simd::{dot, l2sq, with_space, Space, WithSpace};
use crate::{normalize_rows, Error, Hit, Metric, Result, TopK};

pub use persist::IVF_FILES;

/// Rows a build normalises, assigns and encodes at a time (a multiple of k-means' block of
/// 256, so chunking never changes a result).
const BUILD_CHUNK: usize = 256 * 64;

/// Rows `start..start + count` of `vectors`: borrowed, or normalised into `buf` for cosine.
fn rows_of<'a>(
    vectors: &'a [f32],
    dim: usize,
    cosine: bool,
    start: usize,
    count: usize,
    buf: &'a mut Vec<f32>,
) -> &'a [f32] {
    let src = &vectors[start * dim..(start + count) * dim];
    if !cosine {
        return src;
    }
    buf.clear();
    buf.extend_from_slice(src);
    normalize_rows(buf, dim);
    buf
}

/// The rows training reads: the first draws of a seeded permutation, `train_n` of them but no
/// more than k-means samples (`max_points_per_centroid` for each of `min_train` centroids:
/// nlist, or 256 for PQ codebooks); all rows, in order, when that is every row.
fn training_sample(
    vectors: &[f32],
    dim: usize,
    train_n: usize,
    min_train: usize,
    km: &KMeansParams,
    seed: u64,
) -> Vec<f32> {
    let n = vectors.len() / dim;
    let take = train_n.min(min_train.saturating_mul(km.max_points_per_centroid.max(1)));
    if take >= n {
        return vectors.to_vec();
    }
    let mut rng = SplitMix64::new(seed ^ 0x5EED);
    let mut perm: Vec<u32> = (0..n as u32).collect();
    for i in 0..take {
        let j = i + rng.below(n - i);
        perm.swap(i, j);
    }
    let mut t = Vec::with_capacity(take * dim);
    for &i in &perm[..take] {
        let i = i as usize;
        t.extend_from_slice(&vectors[i * dim..(i + 1) * dim]);
    }
    t
}

/// What the inverted lists hold per vector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IvfCodec {
    /// Full f32 vectors.
    Flat,
    /// `m` one-byte codes of the residual (m must divide the dimension).
    Pq { m: usize },
}

/// Build parameters of an IVF index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IvfParams {
    pub nlist: usize,
    pub codec: IvfCodec,
    /// Lists scanned per query unless a search says otherwise.
    pub nprobe: usize,
    /// Vectors used for training (a seeded sample); default: all, capped by k-means at 256
    /// per centroid.
    pub train_size: Option<usize>,
    pub seed: u64,
    /// IVF-PQ: also store the full vectors, so searches can re-score (`refine`) exactly.
    pub keep_vectors: bool,
}

impl Default for IvfParams {
    fn default() -> Self {
        IvfParams {
            nlist: 256,
            codec: IvfCodec::Flat,
            nprobe: 8,
            train_size: None,
            seed: 1234,
            keep_vectors: false,
        }
    }
}

/// The stored lists: vectors or codes, list after list.
pub(crate) enum Lists {
    Flat(Array<f32>),
    Pq {
        m: usize,
        codes: Array<u8>,
        codebooks: Array<f32>,
        /// The codebooks laid out for building tables (derived, never saved).
        books: pq::Books,
    },
}

impl Lists {
    /// IVF-PQ lists of `codes` with `codebooks` for vectors of `dim` values.
    pub(crate) fn pq(m: usize, codes: Array<u8>, codebooks: Array<f32>, dim: usize) -> Lists {
        let books = pq::Books::new(codebooks.as_slice(), dim, m);
        Lists::Pq {
            m,
            codes,
            codebooks,
            books,
        }
    }
}

/// An IVF-Flat or IVF-PQ index.
pub struct IvfIndex {
    pub(crate) dim: usize,
    pub(crate) metric: Metric,
    pub(crate) params: IvfParams,
    pub(crate) len: usize,
    pub(crate) centroids: Array<f32>,
    /// `nlist + 1` offsets into `ids` / the lists.
    pub(crate) offsets: Array<u64>,
    /// Document ordinal of every stored entry, list after list.
    pub(crate) ids: Array<u32>,
    pub(crate) lists: Lists,
    /// Full vectors by ordinal (IVF-PQ with `keep_vectors`), for exact re-scoring.
    pub(crate) full: Option<Array<f32>>,
    /// Probe the lists whose centroids have the largest inner product with the query (FAISS
    /// IVF indexes over an `IndexFlatIP` quantiser) instead of the nearest by L2.
    pub(crate) probe_ip: bool,
    /// Squared norms of the centroids, computed on first use.
    pub(crate) cnorms: std::sync::OnceLock<Vec<f32>>,
}

impl std::fmt::Debug for IvfIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IvfIndex")
            .field("dim", &self.dim)
            .field("len", &self.len)
            .field("params", &self.params)
            .finish()
    }
}

impl IvfIndex {
    /// Trains the coarse quantiser (and PQ codebooks) on a seeded sample and adds `vectors`.
    pub fn build(
        vectors: &[f32],
        dim: usize,
        metric: Metric,
        mut params: IvfParams,
    ) -> Result<IvfIndex> {
        // IVF-Flat lists are the full vectors already.
        params.keep_vectors &= matches!(params.codec, IvfCodec::Pq { .. });
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
        let nlist = params.nlist;
        if nlist == 0 {
            return Err(Error::InvalidParams("nlist must be at least 1".into()));
        }
        if nlist > n {
            return Err(Error::InvalidParams(format!(
                "nlist {nlist} is larger than the number of vectors {n}: use at most {n} lists (about sqrt(n) is usual)"
            )));
        }
        if let IvfCodec::Pq { m } = params.codec {
            pq::check_m(dim, m)?;
        }
        let train_n = params.train_size.unwrap_or(n).min(n);
        let min_train = match params.codec {
            IvfCodec::Flat => nlist,
            IvfCodec::Pq { .. } => nlist.max(pq::KSUB),
        };
        if train_n < min_train {
            return Err(Error::InvalidParams(format!(
                "too few training vectors: {train_n}, this index needs at least {min_train} (nlist {nlist}{})",
                if matches!(params.codec, IvfCodec::Pq { .. }) { ", and 256 per PQ sub-quantiser" } else { "" }
            )));
        }
        let km = KMeansParams {
            seed: params.seed,
            ..Default::default()
        };
        let cosine = metric == Metric::Cosine;
        // Training reads at most 256 points per centroid (coarse and PQ alike): only that many
        // rows are copied, a seeded sample of the first `train_n` draws.
        let mut train = training_sample(vectors, dim, train_n, min_train, &km, params.seed);
        if cosine {
            normalize_rows(&mut train, dim);
        }
        // IVF-Flat over inner product or cosine: unit-length centroids, as FAISS's IVF trains
        // them (`cp.spherical`); on scifact MiniLM this lifts recall@10 by 0.01-0.02 at every
        // nprobe. IVF-PQ keeps mean centroids: its residuals are smaller, and spherical ones
        // cost it 0.02-0.03 recall at nprobe >= 8 (measured the same way).
        let coarse = KMeansParams {
            spherical: metric != Metric::L2 && params.codec == IvfCodec::Flat,
            ..km
        };
        let centroids = kmeans(&train, dim, nlist, &coarse)?;

        // Assignment, chunk by chunk (a multiple of k-means' block, so every point is scored
        // exactly as in one pass over all rows).
        let mut buf = Vec::new();
        let mut assign = vec![0u32; n];
        for (c, out) in assign.chunks_mut(BUILD_CHUNK).enumerate() {
            let rows = rows_of(vectors, dim, cosine, c * BUILD_CHUNK, out.len(), &mut buf);
            assign_nearest(rows, dim, &centroids, out);
        }
        // Lists in ordinal order within each list (a counting sort keeps it deterministic).
        let mut counts = vec![0u64; nlist + 1];
        for &a in &assign {
            counts[a as usize + 1] += 1;
        }
        for l in 0..nlist {
            counts[l + 1] += counts[l];
        }
        let offsets = counts;
        let mut next: Vec<u64> = offsets[..nlist].to_vec();
        let mut ids = vec![0u32; n];
        // `entry[i]`: where ordinal i sits in list order.
        let mut entry = vec![0u32; n];
        for (i, &a) in assign.iter().enumerate() {
            let e = next[a as usize] as usize;
            ids[e] = i as u32;
            entry[i] = e as u32;
            next[a as usize] += 1;
        }
        drop(next);
        let mut full = params.keep_vectors.then(|| Vec::with_capacity(n * dim));
        let lists = match params.codec {
            IvfCodec::Flat => {
                drop((assign, train));
                let mut data = vec![0f32; n * dim];
                for (c, es) in entry.chunks(BUILD_CHUNK).enumerate() {
                    let rows = rows_of(vectors, dim, cosine, c * BUILD_CHUNK, es.len(), &mut buf);
                    for (row, &e) in rows.chunks_exact(dim).zip(es) {
                        data[e as usize * dim..(e as usize + 1) * dim].copy_from_slice(row);
                    }
                }
                Lists::Flat(Array::Owned(data))
            }
            IvfCodec::Pq { m } => {
                let subtract = |rows: &mut [f32], assign: &[u32]| {
                    for (row, &a) in rows.chunks_exact_mut(dim).zip(assign) {
                        let c = &centroids[a as usize * dim..(a as usize + 1) * dim];
                        row.iter_mut().zip(c).for_each(|(x, c)| *x -= c);
                    }
                };
                // The training rows become their residuals (the coarse quantiser is done).
                let mut train_assign = vec![0u32; train.len() / dim];
                assign_nearest(&train, dim, &centroids, &mut train_assign);
                subtract(&mut train, &train_assign);
                let codebooks = pq::train(&train, dim, m, &km)?;
                drop(train);
                let mut codes = vec![0u8; n * m];
                let mut resid = Vec::new();
                for (c, es) in entry.chunks(BUILD_CHUNK).enumerate() {
                    let start = c * BUILD_CHUNK;
                    let rows = rows_of(vectors, dim, cosine, start, es.len(), &mut buf);
                    if let Some(full) = full.as_mut() {
                        full.extend_from_slice(rows);
                    }
                    resid.clear();
                    resid.extend_from_slice(rows);
                    subtract(&mut resid, &assign[start..start + es.len()]);
                    let chunk_codes = pq::encode(&resid, dim, m, &codebooks);
                    for (code, &e) in chunk_codes.chunks_exact(m).zip(es) {
                        codes[e as usize * m..(e as usize + 1) * m].copy_from_slice(code);
                    }
                }
                Lists::pq(m, Array::Owned(codes), Array::Owned(codebooks), dim)
            }
        };
        let full = full.map(Array::Owned);
        Ok(IvfIndex {
            dim,
            metric,
            params,
            len: n,
            centroids: Array::Owned(centroids),
            offsets: Array::Owned(offsets),
            ids: Array::Owned(ids),
            lists,
            full,
            probe_ip: false,
            cnorms: Default::default(),
        })
    }

    pub fn params(&self) -> IvfParams {
        self.params
    }

    /// Bytes of centroids, lists, ids and (if kept) full vectors.
    pub fn memory_bytes(&self) -> usize {
        let lists = match &self.lists {
            Lists::Flat(v) => v.bytes().len(),
            Lists::Pq {
                codes, codebooks, ..
            } => codes.bytes().len() + codebooks.bytes().len(),
        };
        self.centroids.bytes().len()
            + self.offsets.bytes().len()
            + self.ids.bytes().len()
            + lists
            + self.full.as_ref().map_or(0, |f| f.bytes().len())
    }

    /// Every vector by ordinal: the stored vector (IVF-Flat, or IVF-PQ's kept full vectors) or
    /// the list's centroid plus the decoded residual (IVF-PQ).
    pub fn reconstruct_all(&self) -> Vec<f32> {
        if let Some(f) = &self.full {
            return f.as_slice().to_vec();
        }
        let dim = self.dim;
        let mut out = vec![0f32; self.len * dim];
        let offsets = self.offsets.as_slice();
        for l in 0..self.params.nlist {
            for e in offsets[l] as usize..offsets[l + 1] as usize {
                let i = self.ids.as_slice()[e] as usize;
                self.decode_entry(l, e, &mut out[i * dim..(i + 1) * dim]);
            }
        }
        out
    }

    /// The vector of one ordinal, as [`IvfIndex::reconstruct_all`] gives it (a scan of the ids:
    /// for spot checks, not bulk use).
    pub fn reconstruct(&self, ordinal: u32) -> Option<Vec<f32>> {
        let dim = self.dim;
        if let Some(f) = &self.full {
            let i = ordinal as usize;
            return f
                .as_slice()
                .get(i * dim..(i + 1) * dim)
                .map(<[f32]>::to_vec);
        }
        let e = self.ids.as_slice().iter().position(|&x| x == ordinal)?;
        let offsets = self.offsets.as_slice();
        let l = offsets.partition_point(|&o| o <= e as u64) - 1;
        let mut out = vec![0f32; dim];
        self.decode_entry(l, e, &mut out);
        Some(out)
    }

    /// Entry `e` of list `l` as a full vector into `row`.
    fn decode_entry(&self, l: usize, e: usize, row: &mut [f32]) {
        let dim = self.dim;
        match &self.lists {
            Lists::Flat(v) => row.copy_from_slice(&v.as_slice()[e * dim..(e + 1) * dim]),
            Lists::Pq {
                m,
                codes,
                codebooks,
                ..
            } => {
                let c = &self.centroids.as_slice()[l * dim..(l + 1) * dim];
                let (m, dsub) = (*m, dim / *m);
                let code = &codes.as_slice()[e * m..(e + 1) * m];
                let cb = codebooks.as_slice();
                for (j, &k) in code.iter().enumerate() {
                    let sub = &cb[(j * pq::KSUB + k as usize) * dsub..][..dsub];
                    for t in 0..dsub {
                        row[j * dsub + t] = c[j * dsub + t] + sub[t];
                    }
                }
            }
        }
    }

    /// Squared norms of the centroids (for probing by L2), computed on first use.
    fn centroid_norms(&self) -> &[f32] {
        self.cnorms
            .get_or_init(|| norms(self.centroids.as_slice(), self.dim))
    }

    /// Fills `out` with the `nprobe` lists nearest to `q` (L2 to the centroids, or the largest
    /// inner product for an IP quantiser), nearest first, ties by list number.
    #[inline(always)]
    fn probe<S: Space>(&self, s: S, q: &[f32], nprobe: usize, out: &mut Vec<(f32, u32)>) {
        let dim = self.dim;
        let cnorms = self.centroid_norms();
        let l2 = self.metric == Metric::L2;
        // `s.dist` is -q.c (inner-product space) or |q - c|^2 (L2 space).
        let key = |raw: f32, l: usize, c: &[f32]| match (l2, self.probe_ip) {
            (false, false) => cnorms[l] + 2.0 * raw,
            (false, true) | (true, false) => raw,
            (true, true) => -dot(q, c),
        };
        out.clear();
        let cents = self.centroids.as_slice();
        let mut blocks = cents.chunks_exact(4 * dim);
        for (b, four) in blocks.by_ref().enumerate() {
            let rows: [&[f32]; 4] = std::array::from_fn(|i| &four[i * dim..(i + 1) * dim]);
            let raw = s.dist4(q, rows);
            for i in 0..4 {
                let l = b * 4 + i;
                out.push((key(raw[i], l, rows[i]), l as u32));
            }
        }
        let done = out.len();
        for (i, c) in blocks.remainder().chunks_exact(dim).enumerate() {
            out.push((key(s.dist(q, c), done + i, c), (done + i) as u32));
        }
        let order = |a: &(f32, u32), b: &(f32, u32)| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1));
        let nprobe = nprobe.min(out.len());
        if nprobe < out.len() {
            out.select_nth_unstable_by(nprobe, order);
            out.truncate(nprobe);
        }
        out.sort_unstable_by(order);
    }

    /// One query (normalised already for cosine), with this thread's buffers.
    #[inline(always)]
    fn search_one<S: Space>(
        &self,
        s: S,
        q: &[f32],
        k: usize,
        nprobe: usize,
        refine: usize,
        sc: &mut Scratch,
    ) -> Vec<Hit> {
        let dim = self.dim;
        let offsets = self.offsets.as_slice();
        let ids = self.ids.as_slice();
        self.probe(s, q, nprobe, &mut sc.probe);
        let want = self.wanted(k, refine);
        let l2 = self.metric == Metric::L2;
        // Larger is better: the inner product, or the negated squared distance.
        let score = |x: &[f32]| -s.dist(q, x);
        let mut top = TopK::new(want);
        match &self.lists {
            Lists::Flat(data) => {
                let data = data.as_slice();
                for &(_, l) in &sc.probe {
                    let (a, b) = (
                        offsets[l as usize] as usize,
                        offsets[l as usize + 1] as usize,
                    );
                    scan_rows(s, q, &data[a * dim..b * dim], &ids[a..b], &mut top);
                }
            }
            Lists::Pq {
                m, codes, books, ..
            } => {
                let m = *m;
                let codes = codes.as_slice();
                let centroids = self.centroids.as_slice();
                if !l2 {
                    books.ip_table(q, &mut sc.table);
                }
                for &(_, l) in &sc.probe {
                    let l = l as usize;
                    let (a, b) = (offsets[l] as usize, offsets[l + 1] as usize);
                    let c = &centroids[l * dim..(l + 1) * dim];
                    // q.(c + r) = q.c + q.r; for L2, |q - c - r|^2 from the query's residual.
                    let base = if l2 {
                        sc.residual.clear();
                        sc.residual.extend(q.iter().zip(c).map(|(x, y)| x - y));
                        books.neg_l2_table(&sc.residual, &mut sc.table);
                        -l2sq(q, c)
                    } else {
                        score(c)
                    };
                    sc.scores.resize(b - a, 0.0);
                    pq::scan(&codes[a * m..b * m], m, &sc.table, base, &mut sc.scores);
                    for (&id, &v) in ids[a..b].iter().zip(&sc.scores) {
                        top.push(id, v);
                    }
                }
            }
        }
        self.finish(s, q, top, k, refine)
    }

    /// The candidates to keep per query: `k`, or `refine` when full vectors re-score them.
    fn wanted(&self, k: usize, refine: usize) -> usize {
        if self.full.is_some() {
            k.max(refine)
        } else {
            k
        }
    }

    /// A query's hits from its candidates: re-scored from the full vectors with `refine`,
    /// best `k` first.
    #[inline(always)]
    fn finish<S: Space>(&self, s: S, q: &[f32], top: TopK, k: usize, refine: usize) -> Vec<Hit> {
        let dim = self.dim;
        let mut hits = top.into_sorted();
        if let (Some(full), true) = (&self.full, refine > 0) {
            let full = full.as_slice();
            for h in hits.iter_mut() {
                let d = h.doc as usize;
                h.score = -s.dist(q, &full[d * dim..(d + 1) * dim]);
            }
            hits.sort_by(Hit::rank_cmp);
        }
        hits.truncate(k);
        hits
    }

    /// IVF-Flat, many queries (normalised already for cosine) on one thread, list by list: each
    /// probed list is read once for all the queries that probe it, a block of its rows at a
    /// time scored against each of them while the block is in cache, instead of once per
    /// query. A reward batch (1,024 queries, nprobe 16) over 1M vectors otherwise streams each
    /// list from memory about 16 times. Every (query, row) score is computed by the same
    /// kernel call as [`IvfIndex::search_one`]'s (the same groups of four rows), and the top-k
    /// does not depend on the order it is offered hits in, so the hits are identical.
    fn search_list_major<S: Space>(
        &self,
        s: S,
        queries: &[f32],
        k: usize,
        nprobe: usize,
        refine: usize,
    ) -> Vec<Vec<Hit>> {
        let Lists::Flat(data) = &self.lists else {
            unreachable!("list-major search is for IVF-Flat")
        };
        let (dim, data) = (self.dim, data.as_slice());
        let (offsets, ids) = (self.offsets.as_slice(), self.ids.as_slice());
        let n = queries.len() / dim;
        let mut probe = Vec::new();
        let mut pairs: Vec<(u32, u32)> = Vec::with_capacity(n * nprobe);
        for (i, q) in queries.chunks_exact(dim).enumerate() {
            self.probe(s, q, nprobe, &mut probe);
            pairs.extend(probe.iter().map(|&(_, l)| (l, i as u32)));
        }
        pairs.sort_unstable();
        let want = self.wanted(k, refine);
        let mut tops: Vec<TopK> = (0..n).map(|_| TopK::new(want)).collect();
        for group in pairs.chunk_by(|x, y| x.0 == y.0) {
            let l = group[0].0 as usize;
            let (a, b) = (offsets[l] as usize, offsets[l + 1] as usize);
            // Blocks of whole fours (the groups of `scan_rows`), the remainder last.
            let fours_end = a + (b - a) / 4 * 4;
            let mut start = a;
            while start < b {
                let end = if start < fours_end {
                    (start + LIST_MAJOR_BLOCK_ROWS).min(fours_end)
                } else {
                    b
                };
                for &(_, i) in group {
                    let i = i as usize;
                    let q = &queries[i * dim..(i + 1) * dim];
                    scan_rows(
                        s,
                        q,
                        &data[start * dim..end * dim],
                        &ids[start..end],
                        &mut tops[i],
                    );
                }
                start = end;
            }
        }
        queries
            .chunks_exact(dim)
            .zip(tops)
            .map(|(q, top)| self.finish(s, q, top, k, refine))
            .collect()
    }
}

/// Rows per block of a list-major scan: 64 rows of 384 f32 are 96 KiB, in L2 while every
/// query probing the list is scored against them. A multiple of 4.
const LIST_MAJOR_BLOCK_ROWS: usize = 64;

/// A batch takes the list-major path when each thread gets at least this many queries (fewer
/// share too few lists for the reuse to pay for the grouping).
const LIST_MAJOR_MIN_QUERIES: usize = 16;

/// Scores `rows` (one per id, in groups of four from the first) against `q` into `top`.
#[inline(always)]
fn scan_rows<S: Space>(s: S, q: &[f32], rows: &[f32], ids: &[u32], top: &mut TopK) {
    let dim = q.len();
    let mut e = 0;
    let mut fours = rows.chunks_exact(4 * dim);
    for four in fours.by_ref() {
        let r: [&[f32]; 4] = std::array::from_fn(|i| &four[i * dim..(i + 1) * dim]);
        let d = s.dist4(q, r);
        for (i, d) in d.iter().enumerate() {
            top.push(ids[e + i], -d);
        }
        e += 4;
    }
    for row in fours.remainder().chunks_exact(dim) {
        top.push(ids[e], -s.dist(q, row));
        e += 1;
    }
}

/// One thread's buffers, reused from query to query.
#[derive(Default)]
struct Scratch {
    q: Vec<f32>,
    probe: Vec<(f32, u32)>,
    table: Vec<f32>,
    scores: Vec<f32>,
    residual: Vec<f32>,
}

/// One query, run with the widest distance kernels of this CPU.
struct Query<'a> {
    ix: &'a IvfIndex,
    k: usize,
    nprobe: usize,
    refine: usize,
    sc: &'a mut Scratch,
}

impl WithSpace for Query<'_> {
    type Out = Vec<Hit>;
    #[inline(always)]
    fn run<S: Space>(self, s: S) -> Vec<Hit> {
        let q = std::mem::take(&mut self.sc.q);
        let hits = self
            .ix
            .search_one(s, &q, self.k, self.nprobe, self.refine, self.sc);
        self.sc.q = q;
        hits
    }
}

/// A group of queries searched list by list on one thread ([`IvfIndex::search_list_major`]).
struct ListMajor<'a> {
    ix: &'a IvfIndex,
    queries: &'a [f32],
    k: usize,
    nprobe: usize,
    refine: usize,
}

impl WithSpace for ListMajor<'_> {
    type Out = Vec<Vec<Hit>>;
    #[inline(always)]
    fn run<S: Space>(self, s: S) -> Vec<Vec<Hit>> {
        self.ix
            .search_list_major(s, self.queries, self.k, self.nprobe, self.refine)
    }
}

impl VectorIndex for IvfIndex {
    fn kind(&self) -> &'static str {
        match self.lists {
            Lists::Flat(_) => "ivf",
            Lists::Pq { .. } => "ivfpq",
        }
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
        if params.refine.is_some_and(|r| r > 0)
            && self.full.is_none()
            && matches!(self.lists, Lists::Pq { .. })
        {
            return Err(Error::InvalidParams(
                "refine needs the full vectors: rebuild the IVF-PQ index with keep_vectors (--refine-vectors)".into(),
            ));
        }
        let nprobe = params.nprobe.unwrap_or(self.params.nprobe).max(1);
        let refine = params.refine.unwrap_or(0);
        let dim = self.dim;
        let (cosine, l2) = (self.metric == Metric::Cosine, self.metric == Metric::L2);
        let one = |sc: &mut Scratch, q: &[f32]| {
            sc.q.clear();
            sc.q.extend_from_slice(q);
            if cosine {
                normalize_rows(&mut sc.q, dim);
            }
            let job = Query {
                ix: self,
                k,
                nprobe,
                refine,
                sc,
            };
            with_space(l2, job)
        };
        if n == 1 {
            return Ok(vec![one(&mut Scratch::default(), queries)]);
        }
        let threads = rayon::current_num_threads().max(1);
        if matches!(self.lists, Lists::Flat(_)) && n >= threads * LIST_MAJOR_MIN_QUERIES {
            let mut qs = queries.to_vec();
            if cosine {
                normalize_rows(&mut qs, dim);
            }
            let per_thread = n.div_ceil(threads);
            let groups: Vec<Vec<Vec<Hit>>> = qs
                .par_chunks(per_thread * dim)
                .map(|group| {
                    let job = ListMajor {
                        ix: self,
                        queries: group,
                        k,
                        nprobe,
                        refine,
                    };
                    with_space(l2, job)
                })
                .collect();
            return Ok(groups.into_iter().flatten().collect());
        }
        Ok(queries
            .par_chunks(dim)
            .map_init(Scratch::default, one)
            .collect())
    }
}
