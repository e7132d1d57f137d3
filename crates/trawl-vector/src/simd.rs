//! Run-time choice of the widest build of a hot loop: AVX-512, AVX2+FMA, or portable.
//!
//! Graph searches score many rows against one query; [`Space`] is that distance, specialised
//! per instruction set so a whole search is compiled (and dispatched once) per CPU level.
//! Scores differ between levels only in the last bits (summation order); on one machine every
//! run takes the same path, so results stay deterministic.

pub(crate) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

pub(crate) fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx512f") && has_avx2_fma()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Dot product (trawl-kernels' 16-accumulator loop, inlined into the caller's target features).
#[inline(always)]
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    trawl_kernels::math::dot(a, b)
}

/// Squared Euclidean distance, eight independent accumulators (vectorises).
#[inline(always)]
pub(crate) fn l2sq(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0f32; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let rest: f32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| (x - y) * (x - y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..8 {
            let d = x[i] - y[i];
            acc[i] += d * d;
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// The distance HNSW and IVF rank by (smaller is nearer): squared L2, or the negated inner
/// product.
#[inline(always)]
pub(crate) fn distance(l2: bool, a: &[f32], b: &[f32]) -> f32 {
    if l2 {
        l2sq(a, b)
    } else {
        -dot(a, b)
    }
}

/// A distance (smaller is nearer) between a query and stored f32 rows of the query's length.
pub(crate) trait Space: Copy + Send + Sync {
    fn dist(self, q: &[f32], r: &[f32]) -> f32;
    /// Four rows at once: their loads are independent, so their cache misses overlap.
    fn dist4(self, q: &[f32], r: [&[f32]; 4]) -> [f32; 4];
}

/// Portable build: negated inner product or squared L2.
#[derive(Clone, Copy)]
pub(crate) struct Portable {
    pub l2: bool,
}

impl Space for Portable {
    #[inline(always)]
    fn dist(self, q: &[f32], r: &[f32]) -> f32 {
        distance(self.l2, q, r)
    }
    #[inline(always)]
    fn dist4(self, q: &[f32], r: [&[f32]; 4]) -> [f32; 4] {
        r.map(|r| distance(self.l2, q, r))
    }
}

/// Something to run with the best [`Space`] this CPU has (one compiled copy per level).
pub(crate) trait WithSpace {
    type Out;
    fn run<S: Space>(self, s: S) -> Self::Out;
}

/// Runs `f` with the widest distance kernels the CPU supports.
#[inline]
pub(crate) fn with_space<F: WithSpace>(l2: bool, f: F) -> F::Out {
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: the CPU has AVX-512F, AVX2 and FMA (checked just above).
            return unsafe {
                if l2 {
                    x86::run512(f, x86::L2x512)
                } else {
                    x86::run512(f, x86::Ipx512)
                }
            };
        }
        if has_avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            return unsafe {
                if l2 {
                    x86::run256(f, x86::L2x256)
                } else {
                    x86::run256(f, x86::Ipx256)
                }
            };
        }
    }
    f.run(Portable { l2 })
}

/// Asks for the first `lines` cache lines of `row` (a hint: never faults).
#[inline(always)]
pub(crate) fn prefetch<T>(row: &[T], lines: usize) {
    for l in 0..lines {
        trawl_store::prefetch(row, l * 64);
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    use super::{Space, WithSpace};

    #[target_feature(enable = "avx512f,avx2,fma")]
    pub unsafe fn run512<F: WithSpace, S: Space>(f: F, s: S) -> F::Out {
        f.run(s)
    }

    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn run256<F: WithSpace, S: Space>(f: F, s: S) -> F::Out {
        f.run(s)
    }

    #[derive(Clone, Copy)]
    pub struct Ipx512;
    #[derive(Clone, Copy)]
    pub struct L2x512;
    #[derive(Clone, Copy)]
    pub struct Ipx256;
    #[derive(Clone, Copy)]
    pub struct L2x256;

    /// Lanes `i..n` (fewer than 16) as a load mask.
    #[inline(always)]
    fn tail_mask(i: usize, n: usize) -> __mmask16 {
        ((1u32 << (n - i)) - 1) as __mmask16
    }

    /// `R` rows against `q`, 16 lanes a step; `L2` picks squared L2 over the dot product.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn rows512<const R: usize, const L2: bool>(q: &[f32], r: [&[f32]; R]) -> [f32; R] {
        let n = q.len();
        for row in &r {
            debug_assert_eq!(row.len(), n);
        }
        let mut acc = [_mm512_setzero_ps(); R];
        let mut i = 0;
        macro_rules! step {
            ($qv:expr, $p:ident => $load:expr) => {
                let qv = $qv;
                for j in 0..R {
                    let $p = r[j].as_ptr().add(i);
                    let rv = $load;
                    acc[j] = if L2 {
                        let d = _mm512_sub_ps(qv, rv);
                        _mm512_fmadd_ps(d, d, acc[j])
                    } else {
                        _mm512_fmadd_ps(qv, rv, acc[j])
                    };
                }
            };
        }
        while i + 16 <= n {
            step!(_mm512_loadu_ps(q.as_ptr().add(i)), p => _mm512_loadu_ps(p));
            i += 16;
        }
        if i < n {
            let m = tail_mask(i, n);
            step!(_mm512_maskz_loadu_ps(m, q.as_ptr().add(i)), p => _mm512_maskz_loadu_ps(m, p));
        }
        let mut s = [0f32; R];
        for j in 0..R {
            let t = _mm512_reduce_add_ps(acc[j]);
            s[j] = if L2 { t } else { -t };
        }
        s
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn hsum256(v: __m256) -> f32 {
        let s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        let s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
        _mm_cvtss_f32(s)
    }

    /// `R` rows against `q`, 8 lanes a step, the tail in scalar code.
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn rows256<const R: usize, const L2: bool>(q: &[f32], r: [&[f32]; R]) -> [f32; R] {
        let n = q.len();
        for row in &r {
            debug_assert_eq!(row.len(), n);
        }
        let mut acc = [_mm256_setzero_ps(); R];
        let mut i = 0;
        while i + 8 <= n {
            let qv = _mm256_loadu_ps(q.as_ptr().add(i));
            for j in 0..R {
                let rv = _mm256_loadu_ps(r[j].as_ptr().add(i));
                acc[j] = if L2 {
                    let d = _mm256_sub_ps(qv, rv);
                    _mm256_fmadd_ps(d, d, acc[j])
                } else {
                    _mm256_fmadd_ps(qv, rv, acc[j])
                };
            }
            i += 8;
        }
        let mut s = [0f32; R];
        for j in 0..R {
            let mut t = hsum256(acc[j]);
            for k in i..n {
                let (a, b) = (*q.get_unchecked(k), *r[j].get_unchecked(k));
                t += if L2 { (a - b) * (a - b) } else { a * b };
            }
            s[j] = if L2 { t } else { -t };
        }
        s
    }

    macro_rules! space {
        ($t:ident, $f:ident, $l2:literal) => {
            impl Space for $t {
                #[inline(always)]
                fn dist(self, q: &[f32], r: &[f32]) -> f32 {
                    assert_eq!(q.len(), r.len());
                    // SAFETY: this type is only handed out after its CPU check (`with_space`);
                    // lengths are equal (asserted).
                    unsafe { $f::<1, $l2>(q, [r])[0] }
                }
                #[inline(always)]
                fn dist4(self, q: &[f32], r: [&[f32]; 4]) -> [f32; 4] {
                    assert!(r.iter().all(|r| r.len() == q.len()));
                    // SAFETY: as above.
                    unsafe { $f::<4, $l2>(q, r) }
                }
            }
        };
    }
    space!(Ipx512, rows512, false);
    space!(L2x512, rows512, true);
    space!(Ipx256, rows256, false);
    space!(L2x256, rows256, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Both<'a>(&'a [f32], [&'a [f32]; 4]);
    impl WithSpace for Both<'_> {
        type Out = (f32, [f32; 4]);
        fn run<S: Space>(self, s: S) -> Self::Out {
            (s.dist(self.0, self.1[2]), s.dist4(self.0, self.1))
        }
    }

    #[test]
    fn every_kernel_level_matches_the_plain_loops_at_odd_lengths() {
        for n in [1usize, 7, 8, 15, 16, 17, 33, 384, 385] {
            let q: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let rows: Vec<Vec<f32>> = (0..4)
                .map(|j| (0..n).map(|i| ((i + j) as f32 * 0.11).cos()).collect())
                .collect();
            let r = [&rows[0][..], &rows[1], &rows[2], &rows[3]];
            for l2 in [false, true] {
                let want: Vec<f32> = r
                    .iter()
                    .map(|r| {
                        let (ip, l): (f64, f64) =
                            q.iter().zip(*r).fold((0.0, 0.0), |(a, b), (x, y)| {
                                let (x, y) = (*x as f64, *y as f64);
                                (a + x * y, b + (x - y) * (x - y))
                            });
                        (if l2 { l } else { -ip }) as f32
                    })
                    .collect();
                let (one, four) = with_space(l2, Both(&q, r));
                let (p1, p4) = Both(&q, r).run(Portable { l2 });
                let close = |got: f32, want: f32| (got - want).abs() <= 1e-5 * (1.0 + want.abs());
                for j in 0..4 {
                    assert!(
                        close(four[j], want[j]),
                        "n {n} l2 {l2} row {j}: {}",
                        four[j]
                    );
                    assert!(close(p4[j], want[j]), "n {n} l2 {l2} row {j}: {}", p4[j]);
                }
                assert!(close(one, want[2]) && close(p1, want[2]));
            }
        }
    }
}
