//! Product quantisation: the dimension is cut into `m` sub-vectors of `dim / m` values, each
//! replaced by the index (one byte) of its nearest of 256 trained sub-centroids. Search uses
//! asymmetric distance tables: per query, `m x 256` inner products of the query's sub-vectors
//! with every sub-centroid, so a code scores as the sum of `m` table lookups.

use rayon::prelude::*;

use crate::kmeans::{assign_nearest, kmeans, KMeansParams};
use crate::simd::has_avx2_fma;
use crate::{Error, Result};

/// Sub-centroids per sub-quantiser (8-bit codes).
pub const KSUB: usize = 256;

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

/// The query's table: `table[j * 256 + c]` = inner product of sub-vector j with sub-centroid c.
pub(crate) fn ip_table(q: &[f32], m: usize, codebooks: &[f32], table: &mut Vec<f32>) {
    fill_table(q, m, codebooks, table, |a, b| {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    });
}

/// The query residual's table for L2: `table[j * 256 + c]` = minus the squared distance of
/// sub-vector j to sub-centroid c (so the sum of lookups is the negated squared distance).
pub(crate) fn neg_l2_table(q: &[f32], m: usize, codebooks: &[f32], table: &mut Vec<f32>) {
    fill_table(q, m, codebooks, table, |a, b| {
        -a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f32>()
    });
}

/// `table[j * 256 + c] = f(sub-vector j of q, sub-centroid c of codebook j)`.
#[inline(always)]
fn fill_table(
    q: &[f32],
    m: usize,
    codebooks: &[f32],
    table: &mut Vec<f32>,
    f: impl Fn(&[f32], &[f32]) -> f32,
) {
    let dsub = q.len() / m;
    table.clear();
    table.resize(m * KSUB, 0.0);
    for j in 0..m {
        let qs = &q[j * dsub..(j + 1) * dsub];
        let book = &codebooks[j * KSUB * dsub..(j + 1) * KSUB * dsub];
        for (t, c) in table[j * KSUB..(j + 1) * KSUB]
            .iter_mut()
            .zip(book.chunks_exact(dsub))
        {
            *t = f(qs, c);
        }
    }
}

/// Scores `codes` (`m` bytes each) as `base + sum of table lookups` into `out`.
pub(crate) fn scan(codes: &[u8], m: usize, table: &[f32], base: f32, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    if has_avx2_fma() {
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2(codes: &[u8], m: usize, table: &[f32], base: f32, out: &mut [f32]) {
            scan_generic(codes, m, table, base, out)
        }
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { avx2(codes, m, table, base, out) };
    }
    scan_generic(codes, m, table, base, out)
}

/// Four codes at a time, four independent sums (the lookups of one code form a dependency
/// chain; interleaving four hides their latency).
#[inline(always)]
fn scan_generic(codes: &[u8], m: usize, table: &[f32], base: f32, out: &mut [f32]) {
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
