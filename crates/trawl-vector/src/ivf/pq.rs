//! Product quantisation: the dimension is cut into `m` sub-vectors of `dim / m` values, each
//! replaced by the index (one byte) of its nearest of 256 trained sub-centroids. Search uses
//! asymmetric distance tables: per query, `m x 256` inner products of the query's sub-vectors
//! with every sub-centroid, so a code scores as the sum of `m` table lookups.

use rayon::prelude::*;

use crate::kmeans::{assign_nearest, kmeans, KMeansParams};
use crate::{Error, Result};

/// Sub-centroids per sub-quantiser (8-bit codes).
pub const KSUB: usize = 256;

/// Table entries a table build keeps in registers at a time (four AVX-512 vectors).
const TABLE_BLOCK: usize = 64;

/// Checks that `m` sub-quantisers can split `dim`.
pub(crate) fn check_m(dim: usize, m: usize) -> Result<()> {
    if m == 0 || !dim.is_multiple_of(m) {
        return Err(Error::InvalidParams(format!(
            "PQ m = {m} does not divide the dimension {dim}: choose m among the divisors of {dim}"
        )));
    }
    Ok(())
}

/// Trains `m` codebooks (`m * 256 * dsub` values) on `data` (rows of `dim`), one k-means per
/// sub-space, the sub-spaces in parallel (each with its own seed, so the result is the same
/// for any thread count).
pub(crate) fn train(data: &[f32], dim: usize, m: usize, p: &KMeansParams) -> Result<Vec<f32>> {
    check_m(dim, m)?;
    let dsub = dim / m;
    let books: Vec<Result<Vec<f32>>> = (0..m)
        .into_par_iter()
        .map(|j| {
            let sub: Vec<f32> = data
                .chunks_exact(dim)
                .flat_map(|r| r[j * dsub..(j + 1) * dsub].iter().copied())
                .collect();
            let params = KMeansParams {
                seed: p.seed.wrapping_add(1 + j as u64),
                ..*p
            };
            kmeans(&sub, dsub, KSUB, &params)
        })
        .collect();
    let mut out = Vec::with_capacity(m * KSUB * dsub);
    for b in books {
        out.extend(b?);
    }
    Ok(out)
}

/// Codes (`m` bytes per row) of `rows` against `codebooks`.
pub(crate) fn encode(rows: &[f32], dim: usize, m: usize, codebooks: &[f32]) -> Vec<u8> {
    let n = rows.len() / dim;
    let dsub = dim / m;
    let mut codes = vec![0u8; n * m];
    let mut assign = vec![0u32; n];
    for j in 0..m {
        let sub: Vec<f32> = rows
            .chunks_exact(dim)
            .flat_map(|r| r[j * dsub..(j + 1) * dsub].iter().copied())
            .collect();
        assign_nearest(
            &sub,
            dsub,
            &codebooks[j * KSUB * dsub..(j + 1) * KSUB * dsub],
            &mut assign,
        );
        for (i, &a) in assign.iter().enumerate() {
            codes[i * m + j] = a as u8;
        }
    }
    codes
}

/// The codebooks laid out for building a query's tables: sub-quantiser `j`'s sub-centroids
/// transposed (`dsub` rows of 256: value `t` of every sub-centroid side by side), so a table is
/// `dsub` multiply-adds of 256 lanes; and every sub-centroid's squared norm (for L2 tables).
pub(crate) struct Books {
    m: usize,
    dsub: usize,
    transposed: Vec<f32>,
    norms: Vec<f32>,
}

impl Books {
    pub(crate) fn new(codebooks: &[f32], dim: usize, m: usize) -> Books {
        let dsub = dim / m;
        let mut transposed = vec![0f32; m * dsub * KSUB];
        let mut norms = vec![0f32; m * KSUB];
        for j in 0..m {
            for c in 0..KSUB {
                let sub = &codebooks[(j * KSUB + c) * dsub..][..dsub];
                for (t, &x) in sub.iter().enumerate() {
                    transposed[(j * dsub + t) * KSUB + c] = x;
                }
                norms[j * KSUB + c] = sub.iter().map(|x| x * x).sum();
            }
        }
        Books {
            m,
            dsub,
            transposed,
            norms,
        }
    }

    /// The query's table: `table[j * 256 + c]` = inner product of the query's sub-vector `j`
    /// with sub-centroid `c` of codebook `j`.
    #[inline(always)]
    pub(crate) fn ip_table(&self, q: &[f32], table: &mut Vec<f32>) {
        let (m, dsub) = (self.m, self.dsub);
        table.resize(m * KSUB, 0.0);
        for (j, (out, book)) in table
            .chunks_exact_mut(KSUB)
            .zip(self.transposed.chunks_exact(dsub * KSUB))
            .enumerate()
        {
            let qs = &q[j * dsub..(j + 1) * dsub];
            // 64 entries at a time, summed in registers over the sub-vector (the same
            // multiply-then-add per term, in the same order, as one pass per term).
            for (cb, out) in out.chunks_exact_mut(TABLE_BLOCK).enumerate() {
                let out: &mut [f32; TABLE_BLOCK] = out.try_into().expect("block");
                let mut acc = [0f32; TABLE_BLOCK];
                for (t, row) in book.chunks_exact(KSUB).enumerate() {
                    let row: &[f32; TABLE_BLOCK] = row[cb * TABLE_BLOCK..(cb + 1) * TABLE_BLOCK]
                        .try_into()
                        .expect("block");
                    let qv = qs[t];
                    if t == 0 {
                        for c in 0..TABLE_BLOCK {
                            acc[c] = qv * row[c];
                        }
                    } else {
                        for c in 0..TABLE_BLOCK {
                            acc[c] += qv * row[c];
                        }
                    }
                }
                *out = acc;
            }
        }
    }

    /// The table for L2 of a query residual `r`: `table[j * 256 + c]` = `2 r_j.c - |c|^2`, so
    /// `-|r|^2` plus the code's lookups is minus the squared distance of `r` to the decoded code.
    #[inline(always)]
    pub(crate) fn neg_l2_table(&self, r: &[f32], table: &mut Vec<f32>) {
        self.ip_table(r, table);
        for (t, n) in table.iter_mut().zip(&self.norms) {
            *t = 2.0 * *t - n;
        }
    }
}

/// Scores `codes` (`m` bytes each) as `base + sum of table lookups` into `out`: four codes at
/// a time, four independent sums (the lookups of one code form a dependency chain;
/// interleaving four hides their latency). Scalar lookups beat AVX-512 gathers here (about 15%
/// on scifact MiniLM, m = 48, on an AMD EPYC), and every code is summed in the same order
/// wherever it sits in a list.
#[inline(always)]
pub(crate) fn scan(codes: &[u8], m: usize, table: &[f32], base: f32, out: &mut [f32]) {
    let table = &table[..m * KSUB];
    let n = out.len();
    let codes = &codes[..n * m];
    let mut i = 0;
    while i + 4 <= n {
        let c0 = &codes[i * m..(i + 1) * m];
        let c1 = &codes[(i + 1) * m..(i + 2) * m];
        let c2 = &codes[(i + 2) * m..(i + 3) * m];
        let c3 = &codes[(i + 3) * m..(i + 4) * m];
        let (mut s0, mut s1, mut s2, mut s3) = (base, base, base, base);
        for j in 0..m {
            let t = &table[j * KSUB..(j + 1) * KSUB];
            s0 += t[c0[j] as usize];
            s1 += t[c1[j] as usize];
            s2 += t[c2[j] as usize];
            s3 += t[c3[j] as usize];
        }
        out[i] = s0;
        out[i + 1] = s1;
        out[i + 2] = s2;
        out[i + 3] = s3;
        i += 4;
    }
    while i < n {
        let c = &codes[i * m..(i + 1) * m];
        let mut s = base;
        for j in 0..m {
            s += table[j * KSUB + c[j] as usize];
        }
        out[i] = s;
        i += 1;
    }
}
