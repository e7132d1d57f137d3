//! The exhaustive search of a large index (stored scores, postings kept in blocks), a chunk of
//! documents at a time: every list's postings in the chunk are added into the same chunk-sized
//! accumulator slots, whose documents are then offered to the top k and the slots cleared.
//!
//! Why: past the L3 cache the whole-index accumulator (4 bytes a document) makes each
//! posting's addition wait on memory; the chunk's slots (512 KiB) stay in L2 from one chunk to
//! the next. The sums are the one-pass search's, bit for bit: a document's contributions are
//! added in query order either way.

use crate::blocks::BLOCK_LEN;
use crate::index::{BlockBuf, QueryTerm, SearchCtx, NO_TERM};
use crate::taat::CHUNK;
use crate::topk::{rank_key, top_k_keys, KeyCut};
use crate::Hit;

/// Indexes of more than one chunk are searched in chunks. `prune_timing`, bench/
/// bm25_scale.py's corpus, k=1000, one thread: at 8.8M documents 120-123 queries/s against
/// 72-80 in one pass; at 1M 1,563-1,601 against 1,232-1,332 (a one-pass accumulator of 4 MB
/// is read back and cleared from L3, a chunk's from L2).
pub(crate) const MIN_DOCS: usize = CHUNK + 1;

thread_local! {
    static CHUNK_FOR_TESTS: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Makes the exhaustive searches of this thread run in chunks of `docs` documents whatever the
/// index's size (a multiple of 64; 0 restores the default), so that tests can compare the
/// chunked search with the one-pass one on small indexes.
#[doc(hidden)]
pub fn set_chunk_for_tests_on_this_thread(docs: usize) {
    assert!(
        docs.is_multiple_of(64),
        "chunks are whole words of the bitmap"
    );
    CHUNK_FOR_TESTS.with(|c| c.set(docs));
}

/// The chunk size a test forced on this thread, if any.
pub(crate) fn forced_chunk() -> Option<usize> {
    Some(CHUNK_FOR_TESTS.with(|c| c.get())).filter(|&c| c > 0)
}

/// Documents per chunk in an index of `num_docs`: the accumulator slots a search needs.
pub(crate) fn span(num_docs: usize) -> usize {
    forced_chunk().unwrap_or(CHUNK).min(num_docs)
}

/// The touched documents of a search: `seen`'s bits and `acc`'s slots start at document
/// `64 × first_word`; each document's score is its slot plus `constant`; `deleted` (bit per
/// document of the index) leaves some out.
pub(crate) struct Touched<'a> {
    pub deleted: Option<&'a [u64]>,
    pub seen: &'a mut [u64],
    pub acc: &'a mut [f32],
    pub first_word: usize,
    pub constant: f32,
}

/// Offers the touched documents to `selected` (the deleted ones left out) and clears them.
///
/// A word's 64 slots are compared with the score of the k-th best key so far, eight at a time
/// with AVX2 where the CPU has it, else four (SSE2), and only the touched documents at or
/// above it are offered: once the cut has risen (after a few thousand documents) few are.
/// Going bit by bit instead, a mispredicted loop exit per word and a key per touched document,
/// took 44% of the exhaustive search at 1M documents, k=1000 (perf); prune_timing, one thread,
/// alternating: SSE2 1,307-1,319 vs 1,100-1,106 queries/s, AVX2 1,751-1,791 vs SSE2
/// 1,635-1,668.
pub(crate) fn offer_touched(t: Touched, selected: &mut KeyCut, keys: &mut Vec<u64>) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2.
        unsafe { offer_touched_avx2(t, selected, keys) };
        return;
    }
    offer_touched_with::<false>(t, selected, keys);
}

/// [`offer_touched`] compiled for AVX2: eight compares at a time, 32-byte stores.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn offer_touched_avx2(t: Touched, selected: &mut KeyCut, keys: &mut Vec<u64>) {
    offer_touched_with::<true>(t, selected, keys);
}

#[inline(always)]
fn offer_touched_with<const AVX2: bool>(t: Touched, selected: &mut KeyCut, keys: &mut Vec<u64>) {
    let Touched {
        deleted,
        seen,
        acc,
        first_word,
        constant,
    } = t;
    let base = (first_word << 6) as u32;
    for (wi, word) in seen.iter_mut().enumerate() {
        let mut bits = std::mem::take(word);
        if bits == 0 {
            continue;
        }
        if let Some(del) = deleted {
            bits &= !del[first_word + wi];
        }
        let start = wi << 6;
        let end = (start + 64).min(acc.len());
        let floor = selected.floor();
        let mut offer = |mut bits: u64, slots: &[f32]| {
            while bits != 0 {
                let bit = bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let key = rank_key(slots[bit] + constant, base + (start + bit) as u32);
                selected.offer(keys, key);
            }
        };
        match <&mut [f32; 64]>::try_from(&mut acc[start..end]) {
            Ok(slots) => {
                let passing = bits & at_or_above::<AVX2>(slots, constant, floor);
                if passing != 0 {
                    offer(passing, slots);
                }
                // All of the word's slots (vector stores): cheaper than going over its bits.
                *slots = [0.0; 64];
            }
            Err(_) => {
                // The index's last, partial word.
                offer(bits, &acc[start..end]);
                acc[start..end].fill(0.0);
            }
        }
    }
}

/// Bit `i` set: `slots[i] + constant >= floor`; with `AVX2`, only inside a function compiled
/// for it.
#[inline(always)]
fn at_or_above<const AVX2: bool>(slots: &[f32; 64], constant: f32, floor: f32) -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        let mut mask = 0u64;
        if AVX2 {
            // SAFETY: AVX2 is present (see above); each load reads the 8 f32s of `eight`.
            unsafe {
                let (c, f) = (_mm256_set1_ps(constant), _mm256_set1_ps(floor));
                for (g, eight) in slots.chunks_exact(8).enumerate() {
                    let v = _mm256_add_ps(_mm256_loadu_ps(eight.as_ptr()), c);
                    let m = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(v, f));
                    mask |= (m as u64) << (8 * g);
                }
            }
            return mask;
        }
        // SSE2, part of every x86_64: four compares and a move of their sign bits at a time.
        // SAFETY: SSE2 is always present on x86_64; each load reads the 4 f32s of `four`.
        unsafe {
            let (c, f) = (_mm_set1_ps(constant), _mm_set1_ps(floor));
            for (g, four) in slots.chunks_exact(4).enumerate() {
                let v = _mm_add_ps(_mm_loadu_ps(four.as_ptr()), c);
                let m = _mm_movemask_ps(_mm_cmpge_ps(v, f));
                mask |= (m as u64) << (4 * g);
            }
        }
        mask
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut mask = 0u64;
        for (i, &a) in slots.iter().enumerate() {
            mask |= u64::from(a + constant >= floor) << i;
        }
        mask
    }
}

/// One query term's blocks, and the block the next chunk's reading starts from.
struct List {
    blocks: (usize, usize),
    df: usize,
    weight: f32,
    /// The list's first posting in the stored scores.
    at: usize,
    from: usize,
}

/// The best `k` documents for `query`, as the one-pass exhaustive search returns them.
/// `acc` and `seen` cover at least `CHUNK` documents (or all of them) and are all zero on
/// entry and left so.
#[allow(clippy::too_many_arguments)]
pub(crate) fn top_k(
    ctx: &SearchCtx,
    query: &[QueryTerm],
    k: usize,
    stored: &[f32],
    acc: &mut [f32],
    seen: &mut [u64],
    keys: &mut Vec<u64>,
    block_docs: &mut BlockBuf,
) -> Vec<Hit> {
    let index = ctx.index;
    let n = index.num_docs();
    let po = index.data.postings_offsets.as_slice();
    let mut constant = 0f32;
    let mut lists = Vec::with_capacity(query.len());
    for q in query {
        constant += q.weight * ctx.scorer.absent_score(q.idf);
        if q.term == NO_TERM {
            continue;
        }
        let (first, end) = index.blocks_of(q.term);
        if first < end {
            lists.push(List {
                blocks: (first, end),
                df: index.df(q.term) as usize,
                weight: q.weight,
                at: po[q.term as usize] as usize,
                from: first,
            });
        }
    }
    keys.clear();
    let mut selected = KeyCut::new(k);
    let chunk = span(n);
    // Term frequencies are not read (the scores are stored): the walk's second buffer.
    let mut block_tfs = [0u32; BLOCK_LEN];
    let mut lo = 0;
    while lo < n {
        let hi = (lo + chunk).min(n);
        let (base, top) = (lo as u32, hi as u32);
        let acc = &mut acc[..hi - lo];
        let seen = &mut seen[..(hi - lo).div_ceil(64)];
        for l in &mut lists {
            let (w, stored) = (l.weight, &stored[l.at..]);
            index.for_each_block_in(
                l.blocks,
                l.df,
                &mut l.from,
                base,
                top - 1,
                false,
                (&mut *block_docs, &mut block_tfs),
                |at, docs, _| {
                    for (&d, &sc) in docs.iter().zip(&stored[at..]) {
                        let i = (d - base) as usize;
                        seen[i >> 6] |= 1u64 << (i & 63);
                        acc[i] += w * sc;
                    }
                },
            );
        }
        let touched = Touched {
            deleted: ctx.deleted,
            seen,
            acc,
            first_word: lo >> 6,
            constant,
        };
        offer_touched(touched, &mut selected, keys);
        lo = hi;
    }
    top_k_keys(keys, k)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The readback compares whole words with the cut's score: every touched, live document
    /// that belongs in the top k is still offered, past the cut's capacity (1,024 keys), with
    /// a constant added, with and without deletions, and with a partial last word (ties
    /// among the scores, in steps of 1/1024). A floor raised by 0.1% fails it. (`>` for `>=`
    /// does not: documents come in increasing order, so one tying the cut's score never beats
    /// the cut's key.)
    #[test]
    fn the_vectorised_readback_keeps_what_a_full_sort_keeps() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for round in 0..40 {
            let n: usize = 64 * rng.random_range(40..200) + rng.random_range(0..64);
            let words = n.div_ceil(64);
            let (mut acc, mut seen) = (vec![0f32; n], vec![0u64; words]);
            let deleted: Vec<u64> = (0..words)
                .map(|_| rng.random::<u64>() & rng.random::<u64>())
                .collect();
            let with_deletions = round % 3 != 0;
            let constant = if round % 2 == 0 { 0.0 } else { 0.25 };
            let mut want = Vec::new();
            for d in 0..n {
                if rng.random_range(0..4) == 0 {
                    acc[d] = f32::from(rng.random_range(1u16..4000)) / 1024.0;
                    seen[d >> 6] |= 1 << (d & 63);
                    if !with_deletions || deleted[d >> 6] >> (d & 63) & 1 == 0 {
                        want.push(rank_key(acc[d] + constant, d as u32));
                    }
                }
            }
            let k = [1, 3, 10, 100][round % 4];
            let want = top_k_keys(&mut want, k);
            let del = with_deletions.then_some(&deleted[..]);
            // The dispatching function (AVX2 where the CPU has it) and the SSE2 one.
            for sse2_only in [false, true] {
                let (mut acc, mut seen) = (acc.clone(), seen.clone());
                let (mut keys, mut selected) = (Vec::new(), KeyCut::new(k));
                let t = Touched {
                    deleted: del,
                    seen: &mut seen,
                    acc: &mut acc,
                    first_word: 0,
                    constant,
                };
                if sse2_only {
                    offer_touched_with::<false>(t, &mut selected, &mut keys);
                } else {
                    offer_touched(t, &mut selected, &mut keys);
                }
                assert_eq!(top_k_keys(&mut keys, k), want, "round {round}, k={k}");
                assert!(acc.iter().all(|&a| a == 0.0) && seen.iter().all(|&w| w == 0));
            }
        }
    }
}
