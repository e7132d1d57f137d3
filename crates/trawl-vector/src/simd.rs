//! Run-time choice of the AVX2+FMA build of a hot loop (the portable build elsewhere).

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
