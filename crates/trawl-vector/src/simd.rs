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
