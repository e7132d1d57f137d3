//! A cache hint for mapped data read at random (postings blocks, document ids, graph nodes).

/// Asks the memory for the cache line holding byte `offset` of `data`, so that a later read
/// finds it cached: a hint that reads nothing and never faults; nothing past the end is asked
/// for. Issuing the hints of a batch of random reads before doing any of them lets their
/// misses overlap instead of following one another.
#[inline(always)]
pub fn prefetch<T>(data: &[T], offset: usize) {
    #[cfg(target_arch = "x86_64")]
    if offset < std::mem::size_of_val(data) {
        let p = (data.as_ptr() as *const i8).wrapping_add(offset);
        // SAFETY: a prefetch is a hint that reads nothing; the address is inside `data`.
        unsafe { std::arch::x86_64::_mm_prefetch(p, std::arch::x86_64::_MM_HINT_T0) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, offset);
}
