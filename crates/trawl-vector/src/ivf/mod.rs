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
use crate::simd::{dot, l2sq};
use crate::{normalize_rows, Error, Hit, Metric, Result, TopK};

pub use persist::IVF_FILES;

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
    },
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
        let mut rows = vectors.to_vec();
        if metric == Metric::Cosine {
            normalize_rows(&mut rows, dim);
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
        let train = if train_n < n {
            let mut rng = SplitMix64::new(params.seed ^ 0x5EED);
            let mut perm: Vec<usize> = (0..n).collect();
            for i in 0..train_n {
                let j = i + rng.below(n - i);
                perm.swap(i, j);
            }
            let mut t = Vec::with_capacity(train_n * dim);
            for &i in &perm[..train_n] {
                t.extend_from_slice(&rows[i * dim..(i + 1) * dim]);
            }
            t
        } else {
            rows.clone()
        };
        let km = KMeansParams {
            seed: params.seed,
            ..Default::default()
        };
        let centroids = kmeans(&train, dim, nlist, &km)?;

        let mut assign = vec![0u32; n];
        assign_nearest(&rows, dim, &centroids, &mut assign);
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
        for (i, &a) in assign.iter().enumerate() {
            ids[next[a as usize] as usize] = i as u32;
            next[a as usize] += 1;
        }
        let (lists, full) = match params.codec {
            IvfCodec::Flat => {
                let mut data = Vec::with_capacity(n * dim);
                for &i in &ids {
                    data.extend_from_slice(&rows[i as usize * dim..(i as usize + 1) * dim]);
                }
                (Lists::Flat(Array::Owned(data)), None)
            }
            IvfCodec::Pq { m } => {
                let residuals = |src: &[f32], assign: &[u32]| -> Vec<f32> {
                    let mut r = src.to_vec();
                    for (row, &a) in r.chunks_exact_mut(dim).zip(assign) {
                        let c = &centroids[a as usize * dim..(a as usize + 1) * dim];
                        row.iter_mut().zip(c).for_each(|(x, c)| *x -= c);
                    }
                    r
                };
                let mut train_assign = vec![0u32; train.len() / dim];
                assign_nearest(&train, dim, &centroids, &mut train_assign);
                let codebooks = pq::train(&residuals(&train, &train_assign), dim, m, &km)?;
                let all_codes = pq::encode(&residuals(&rows, &assign), dim, m, &codebooks);
                let mut codes = Vec::with_capacity(n * m);
                for &i in &ids {
                    codes.extend_from_slice(&all_codes[i as usize * m..(i as usize + 1) * m]);
                }
                let full = params.keep_vectors.then(|| Array::Owned(rows.clone()));
                (
                    Lists::Pq {
                        m,
                        codes: Array::Owned(codes),
                        codebooks: Array::Owned(codebooks),
                    },
                    full,
                )
            }
        };
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

    /// The `nprobe` lists nearest to `q` (L2 to the centroids), nearest first.
    #[inline(always)]
    fn probe(&self, q: &[f32], nprobe: usize, cnorms: &[f32]) -> Vec<usize> {
        let dim = self.dim;
        let mut d: Vec<(f32, usize)> = self
            .centroids
            .as_slice()
            .chunks_exact(dim)
            .zip(cnorms)
            .enumerate()
            .map(|(l, (c, &nrm))| {
                let d = if self.probe_ip {
                    -dot(q, c)
                } else {
                    nrm - 2.0 * dot(q, c)
                };
                (d, l)
            })
            .collect();
        let nprobe = nprobe.min(d.len());
        if nprobe < d.len() {
            d.select_nth_unstable_by(nprobe, |a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            d.truncate(nprobe);
        }
        d.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        d.into_iter().map(|x| x.1).collect()
    }

    fn search_one(
        &self,
        q: &[f32],
        k: usize,
        nprobe: usize,
        refine: usize,
        cnorms: &[f32],
    ) -> Vec<Hit> {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::has_avx2_fma() {
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2(
                ix: &IvfIndex,
                q: &[f32],
                k: usize,
                np: usize,
                r: usize,
                cn: &[f32],
            ) -> Vec<Hit> {
                ix.search_one_generic(q, k, np, r, cn)
            }
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe { avx2(self, q, k, nprobe, refine, cnorms) };
        }
        self.search_one_generic(q, k, nprobe, refine, cnorms)
    }

    #[inline(always)]
    fn search_one_generic(
        &self,
        q: &[f32],
        k: usize,
        nprobe: usize,
        refine: usize,
        cnorms: &[f32],
    ) -> Vec<Hit> {
        let dim = self.dim;
        let offsets = self.offsets.as_slice();
        let ids = self.ids.as_slice();
        let lists = self.probe(q, nprobe, cnorms);
        let want = if self.full.is_some() {
            k.max(refine)
        } else {
            k
        };
        let l2 = self.metric == Metric::L2;
        let score = |q: &[f32], x: &[f32]| if l2 { -l2sq(q, x) } else { dot(q, x) };
        let mut top = TopK::new(want);
        match &self.lists {
            Lists::Flat(data) => {
                let data = data.as_slice();
                for l in lists {
                    for e in offsets[l] as usize..offsets[l + 1] as usize {
                        top.push(ids[e], score(q, &data[e * dim..(e + 1) * dim]));
                    }
                }
            }
            Lists::Pq {
                m,
                codes,
                codebooks,
            } => {
                let m = *m;
                let codes = codes.as_slice();
                let centroids = self.centroids.as_slice();
                let mut table = Vec::new();
                if !l2 {
                    pq::ip_table(q, m, codebooks.as_slice(), &mut table);
                }
                let mut scores = Vec::new();
                let mut residual = vec![0f32; dim];
                for l in lists {
                    let (a, b) = (offsets[l] as usize, offsets[l + 1] as usize);
                    let c = &centroids[l * dim..(l + 1) * dim];
                    let base = if l2 {
                        // |q - c - r|^2: one table per list, of the query's residual.
                        for ((r, x), y) in residual.iter_mut().zip(q).zip(c) {
                            *r = x - y;
                        }
                        pq::neg_l2_table(&residual, m, codebooks.as_slice(), &mut table);
                        0.0
                    } else {
                        dot(q, c)
                    };
                    scores.resize(b - a, 0.0);
                    pq::scan(&codes[a * m..b * m], m, &table, base, &mut scores);
                    for (e, &s) in (a..b).zip(&scores) {
                        top.push(ids[e], s);
                    }
                }
            }
        }
        let mut hits = top.into_sorted();
        if let (Some(full), true) = (&self.full, refine > 0) {
            let full = full.as_slice();
            for h in hits.iter_mut() {
                let d = h.doc as usize;
                h.score = score(q, &full[d * dim..(d + 1) * dim]);
            }
            hits.sort_by(Hit::rank_cmp);
        }
        hits.truncate(k);
        hits
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
        let cnorms = norms(self.centroids.as_slice(), self.dim);
        let dim = self.dim;
        let metric = self.metric;
        let one = |q: &[f32]| {
            let mut q = q.to_vec();
            if metric == Metric::Cosine {
                normalize_rows(&mut q, dim);
            }
            self.search_one(&q, k, nprobe, refine, &cnorms)
        };
        if n == 1 {
            return Ok(vec![one(queries)]);
        }
        Ok(queries.par_chunks(dim).map(one).collect())
    }
}
