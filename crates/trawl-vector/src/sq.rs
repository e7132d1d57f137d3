//! Scalar quantisation as FAISS's `ScalarQuantizer::QT_8bit` does it: each dimension has its own
//! range `[vmin, vmin + vdiff]`, trained as the minimum and maximum of that dimension over the
//! training vectors; a value is clamped into its range and stored as one byte,
//! `floor(255 * (x - vmin) / vdiff)`, and decoded as `vmin + (code + 0.5) / 255 * vdiff`.
//!
//! Scores are computed against the decoded vectors without decoding them: with
//! `a = vmin + 0.5 vdiff / 255` and `b = vdiff / 255` a decoded value is `a + b c`, so an inner
//! product is `q.a + (q*b).c` (one multiply-add per byte after a per-query table) and a squared
//! L2 distance is `sum((q - a) - b c)^2`. The same holds for f16 rows, converted in registers.

use half::f16;

use crate::{Error, Result};

/// Per-dimension ranges of an 8-bit scalar quantiser.
#[derive(Clone, PartialEq)]
pub struct ScalarQuantizer {
    vmin: Vec<f32>,
    vdiff: Vec<f32>,
    /// `vmin + 0.5 * vdiff / 255`: the decoded value of code 0.
    a: Vec<f32>,
    /// `vdiff / 255`: the step between codes.
    b: Vec<f32>,
}

impl std::fmt::Debug for ScalarQuantizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScalarQuantizer")
            .field("dim", &self.dim())
            .finish()
    }
}

impl ScalarQuantizer {
    /// Trains the ranges on `vectors` (`n * dim` row-major values, `n >= 1`): per dimension,
    /// the minimum and maximum (FAISS's `RS_minmax`).
    pub fn train(vectors: &[f32], dim: usize) -> Result<ScalarQuantizer> {
        if dim == 0 {
            return Err(Error::ZeroDimension);
        }
        if !vectors.len().is_multiple_of(dim) {
            return Err(Error::RaggedBatch {
                len: vectors.len(),
                dim,
            });
        }
        if vectors.is_empty() {
            return Err(Error::InvalidParams(
                "scalar quantisation needs at least one training vector".into(),
            ));
        }
        let mut lo = vec![f32::INFINITY; dim];
        let mut hi = vec![f32::NEG_INFINITY; dim];
        for row in vectors.chunks_exact(dim) {
            for ((l, h), &x) in lo.iter_mut().zip(hi.iter_mut()).zip(row) {
                if !x.is_finite() {
                    return Err(Error::InvalidParams(format!(
                        "scalar quantisation: a training vector holds {x}"
                    )));
                }
                *l = l.min(x);
                *h = h.max(x);
            }
        }
        let vdiff = lo.iter().zip(&hi).map(|(l, h)| h - l).collect();
        Ok(Self::from_ranges(lo, vdiff))
    }

    /// A quantiser from stored ranges (`vmin`, `vdiff`, both of the dimension's length).
    pub(crate) fn from_ranges(vmin: Vec<f32>, vdiff: Vec<f32>) -> ScalarQuantizer {
        let b: Vec<f32> = vdiff.iter().map(|d| d / 255.0).collect();
        let a = vmin.iter().zip(&b).map(|(m, s)| m + 0.5 * s).collect();
        ScalarQuantizer { vmin, vdiff, a, b }
    }

    /// Reads the ranges written by [`ScalarQuantizer::to_bytes`] (`2 * dim` f32 values).
    pub(crate) fn from_values(values: &[f32], dim: usize) -> Option<ScalarQuantizer> {
        if values.len() != 2 * dim || values.iter().any(|v| !v.is_finite()) {
            return None;
        }
        if values[dim..].iter().any(|&d| d < 0.0) {
            return None;
        }
        Some(Self::from_ranges(
            values[..dim].to_vec(),
            values[dim..].to_vec(),
        ))
    }

    /// `vmin` then `vdiff`, `2 * dim` values (what a saved index stores).
    pub(crate) fn to_values(&self) -> Vec<f32> {
        let mut v = self.vmin.clone();
        v.extend_from_slice(&self.vdiff);
        v
    }

    pub fn dim(&self) -> usize {
        self.vmin.len()
    }

    /// Appends the codes of `rows` (`n * dim` values) to `out`.
    pub fn encode_into(&self, rows: &[f32], out: &mut Vec<u8>) {
        let dim = self.dim();
        out.reserve(rows.len());
        for row in rows.chunks_exact(dim) {
            for ((&x, &m), &d) in row.iter().zip(&self.vmin).zip(&self.vdiff) {
                let t = if d > 0.0 {
                    ((x - m) / d).clamp(0.0, 1.0)
                } else {
                    0.0
                };
                // FAISS's Codec8bit: (int)(255 * x), so 1.0 maps to 255.
                out.push((255.0 * t) as u8);
            }
        }
    }

    /// Decodes `codes` (whole rows) into `out` (same length).
    pub fn decode(&self, codes: &[u8], out: &mut [f32]) {
        let dim = self.dim();
        for (row, o) in codes.chunks_exact(dim).zip(out.chunks_exact_mut(dim)) {
            for (((o, &c), &a), &b) in o.iter_mut().zip(row).zip(&self.a).zip(&self.b) {
                *o = a + b * c as f32;
            }
        }
    }

    /// The per-query form of `q` that scores code rows (see [`SqQuery`]).
    pub(crate) fn query(&self, q: &[f32], l2: bool) -> SqQuery {
        if l2 {
            SqQuery {
                t: q.iter().zip(&self.a).map(|(x, a)| x - a).collect(),
                bias: 0.0,
                l2: true,
            }
        } else {
            SqQuery {
                t: q.iter().zip(&self.b).map(|(x, b)| x * b).collect(),
                bias: crate::simd::dot(q, &self.a),
                l2: false,
            }
        }
    }

    /// `vdiff / 255` per dimension (the L2 kernel's step).
    pub(crate) fn step(&self) -> &[f32] {
        &self.b
    }
}

/// A query prepared for code rows: inner product `bias + t.c` with `t = q * b`; squared L2
/// `sum((t - b c)^2)` with `t = q - a`.
pub(crate) struct SqQuery {
    pub t: Vec<f32>,
    pub bias: f32,
    pub l2: bool,
}

impl SqQuery {
    /// The distance (smaller is nearer) of one code row: squared L2 or negated inner product.
    #[inline(always)]
    pub fn dist(&self, step: &[f32], codes: &[u8], fast: bool) -> f32 {
        if self.l2 {
            l2_u8(&self.t, step, codes, fast)
        } else {
            -(self.bias + dot_u8(&self.t, codes, fast))
        }
    }
}

/// Whether the AVX2/FMA/F16C kernels below may run on this CPU.
pub(crate) fn has_fast_kernels() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        crate::simd::has_avx2_fma() && std::arch::is_x86_feature_detected!("f16c")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `t . c` over bytes `c`. `fast` must only be true where [`has_fast_kernels`] said so.
#[inline(always)]
pub(crate) fn dot_u8(t: &[f32], c: &[u8], fast: bool) -> f32 {
    assert_eq!(t.len(), c.len());
    #[cfg(target_arch = "x86_64")]
    if fast {
        // SAFETY: `fast` is only set after the CPU check; lengths are equal (asserted).
        return unsafe { x86::dot_u8(t, c) };
    }
    let _ = fast;
    let mut acc = [0f32; 8];
    let (ct, cc) = (t.chunks_exact(8), c.chunks_exact(8));
    let rest: f32 = ct
        .remainder()
        .iter()
        .zip(cc.remainder())
        .map(|(x, &y)| x * y as f32)
        .sum();
    for (x, y) in ct.zip(cc) {
        for i in 0..8 {
            acc[i] += x[i] * y[i] as f32;
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// `sum((t - s c)^2)` over bytes `c`.
#[inline(always)]
pub(crate) fn l2_u8(t: &[f32], s: &[f32], c: &[u8], fast: bool) -> f32 {
    assert!(t.len() == c.len() && s.len() == c.len());
    #[cfg(target_arch = "x86_64")]
    if fast {
        // SAFETY: as in `dot_u8`.
        return unsafe { x86::l2_u8(t, s, c) };
    }
    let _ = fast;
    t.iter()
        .zip(s)
        .zip(c)
        .map(|((x, s), &c)| {
            let d = x - s * c as f32;
            d * d
        })
        .sum()
}

/// The distance (smaller is nearer) of an f16 row: squared L2 or negated inner product.
#[inline(always)]
pub(crate) fn dist_f16(q: &[f32], r: &[f16], l2: bool, fast: bool) -> f32 {
    assert_eq!(q.len(), r.len());
    #[cfg(target_arch = "x86_64")]
    if fast {
        // SAFETY: as in `dot_u8`.
        return unsafe { x86::dist_f16(q, r, l2) };
    }
    let _ = fast;
    let (mut ip, mut l) = (0f32, 0f32);
    for (&x, y) in q.iter().zip(r) {
        let y = y.to_f32();
        ip += x * y;
        l += (x - y) * (x - y);
    }
    if l2 {
        l
    } else {
        -ip
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use half::f16;

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn hsum(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    /// Eight bytes at `p` as eight f32 lanes.
    #[target_feature(enable = "avx2")]
    #[inline]
    unsafe fn bytes8(p: *const u8) -> __m256 {
        _mm256_cvtepi32_ps(_mm256_cvtepu8_epi32(_mm_loadl_epi64(p as *const __m128i)))
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn dot_u8(t: &[f32], c: &[u8]) -> f32 {
        let n = t.len();
        let (mut a0, mut a1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        while i + 16 <= n {
            a0 = _mm256_fmadd_ps(
                _mm256_loadu_ps(t.as_ptr().add(i)),
                bytes8(c.as_ptr().add(i)),
                a0,
            );
            a1 = _mm256_fmadd_ps(
                _mm256_loadu_ps(t.as_ptr().add(i + 8)),
                bytes8(c.as_ptr().add(i + 8)),
                a1,
            );
            i += 16;
        }
        if i + 8 <= n {
            a0 = _mm256_fmadd_ps(
                _mm256_loadu_ps(t.as_ptr().add(i)),
                bytes8(c.as_ptr().add(i)),
                a0,
            );
            i += 8;
        }
        let mut s = hsum(_mm256_add_ps(a0, a1));
        for j in i..n {
            s += *t.get_unchecked(j) * *c.get_unchecked(j) as f32;
        }
        s
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn l2_u8(t: &[f32], st: &[f32], c: &[u8]) -> f32 {
        let n = t.len();
        let mut acc = _mm256_setzero_ps();
        let mut i = 0;
        while i + 8 <= n {
            let d = _mm256_fnmadd_ps(
                _mm256_loadu_ps(st.as_ptr().add(i)),
                bytes8(c.as_ptr().add(i)),
                _mm256_loadu_ps(t.as_ptr().add(i)),
            );
            acc = _mm256_fmadd_ps(d, d, acc);
            i += 8;
        }
        let mut s = hsum(acc);
        for j in i..n {
            let d = *t.get_unchecked(j) - *st.get_unchecked(j) * *c.get_unchecked(j) as f32;
            s += d * d;
        }
        s
    }

    #[target_feature(enable = "avx2,fma,f16c")]
    pub unsafe fn dist_f16(q: &[f32], r: &[f16], l2: bool) -> f32 {
        let n = q.len();
        let (mut a0, mut a1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
        let mut i = 0;
        let rp = r.as_ptr() as *const u16;
        while i + 8 <= n {
            let qv = _mm256_loadu_ps(q.as_ptr().add(i));
            let rv = _mm256_cvtph_ps(_mm_loadu_si128(rp.add(i) as *const __m128i));
            if l2 {
                let d = _mm256_sub_ps(qv, rv);
                a0 = _mm256_fmadd_ps(d, d, a0);
            } else {
                a1 = _mm256_fmadd_ps(qv, rv, a1);
            }
            i += 8;
        }
        let mut s = if l2 { hsum(a0) } else { hsum(a1) };
        for j in i..n {
            let (x, y) = (*q.get_unchecked(j), r.get_unchecked(j).to_f32());
            s += if l2 { (x - y) * (x - y) } else { x * y };
        }
        if l2 {
            s
        } else {
            -s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_faiss_qt_8bit_and_scores_equal_the_decoded_vectors() {
        let dim = 37;
        let rows: Vec<f32> = (0..50 * dim).map(|i| ((i as f32) * 0.731).sin()).collect();
        let sq = ScalarQuantizer::train(&rows, dim).unwrap();
        let mut codes = Vec::new();
        sq.encode_into(&rows, &mut codes);
        // The minimum of a dimension is code 0, its maximum 255.
        for d in 0..dim {
            let col: Vec<f32> = rows.iter().skip(d).step_by(dim).copied().collect();
            let lo = col.iter().cloned().fold(f32::INFINITY, f32::min);
            let hi = col.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
            let i = col.iter().position(|&x| x == lo).unwrap();
            let j = col.iter().position(|&x| x == hi).unwrap();
            assert_eq!(codes[i * dim + d], 0);
            assert_eq!(codes[j * dim + d], 255);
        }
        let mut dec = vec![0f32; rows.len()];
        sq.decode(&codes, &mut dec);
        for (d, (x, y)) in dec.iter().zip(&rows).enumerate() {
            let step = sq.vdiff[d % dim] / 255.0;
            assert!((x - y).abs() <= 0.5 * step + 1e-6, "{x} vs {y}");
        }
        let q: Vec<f32> = (0..dim).map(|i| (i as f32 * 0.3).cos()).collect();
        for fast in [false, has_fast_kernels()] {
            for l2 in [false, true] {
                let prepared = sq.query(&q, l2);
                for r in 0..50 {
                    let row = &dec[r * dim..(r + 1) * dim];
                    let want = crate::simd::distance(l2, &q, row);
                    let got = prepared.dist(sq.step(), &codes[r * dim..(r + 1) * dim], fast);
                    assert!(
                        (got - want).abs() < 1e-4,
                        "l2 {l2} fast {fast}: {got} vs {want}"
                    );
                }
            }
            let h: Vec<f16> = q.iter().map(|&x| f16::from_f32(x * 0.5)).collect();
            let hf: Vec<f32> = h.iter().map(|x| x.to_f32()).collect();
            for l2 in [false, true] {
                let want = crate::simd::distance(l2, &q, &hf);
                assert!((dist_f16(&q, &h, l2, fast) - want).abs() < 1e-4);
            }
        }
    }

    #[test]
    fn out_of_range_values_clamp_and_constant_dimensions_decode_to_their_value() {
        let sq = ScalarQuantizer::train(&[0.0, 2.0, 1.0, 2.0], 2).unwrap();
        let mut codes = Vec::new();
        sq.encode_into(&[-5.0, 2.0, 9.0, 2.0], &mut codes);
        assert_eq!(codes, vec![0, 0, 255, 0]);
        let mut out = [0f32; 4];
        sq.decode(&codes, &mut out);
        assert_eq!(out[1], 2.0);
        assert!(ScalarQuantizer::train(&[], 3).is_err());
        assert!(ScalarQuantizer::train(&[1.0, f32::NAN], 2).is_err());
        assert!(ScalarQuantizer::train(&[1.0, 2.0, 3.0], 2).is_err());
    }
}
