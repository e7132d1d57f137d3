//! The exhaustive search of a large index (stored scores, postings kept in blocks), a chunk of
//! documents at a time: every list's postings in the chunk are added into the same chunk-sized
//! accumulator slots, whose documents are then offered to the top k and the slots cleared.
//!
//! Why: past the L3 cache the whole-index accumulator (4 bytes a document) makes each
//! posting's addition wait on memory; the chunk's slots (512 KiB) stay in L2 from one chunk to
//! the next. The sums are the one-pass search's, bit for bit: a document's contributions are
//! added in query order either way.

use crate::blocks::BLOCK_LEN;
use crate::index::{BlockBuf, Bm25Index, QueryTerm, SearchCtx, NO_TERM};
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
        "chunks are whole words of the marks"
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

/// Which slots of a search's accumulator were touched.
pub(crate) enum Marks<'a> {
    /// A bit per touched document; untouched slots hold 0.0, and touched ones are cleared
    /// back to it.
    Bits(&'a mut [u64]),
    /// A nonzero byte per word of 64 documents that may hold a touched one. A slot holds -0.0
    /// until touched; contributions are >= +0.0 and -0.0 + x is x, so a touched slot's sign
    /// bit is clear, and every slot is set back to -0.0. Per posting this is a store, where
    /// setting a bit is a read, an or and a store that waits on the previous posting's store
    /// to the same word (most do, in a frequent list): 2,160-2,280 vs 1,820-2,030 queries/s,
    /// 1M documents, k=1000, prune_timing, one thread.
    Words(&'a mut [u8]),
}

/// The touched documents of a search: `acc`'s slots start at document `64 × first_word`; each
/// document's score is its slot plus `constant`; `deleted` (bit per document of the index)
/// leaves some out.
pub(crate) struct Touched<'a> {
    pub deleted: Option<&'a [u64]>,
    pub marks: Marks<'a>,
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
    match t.marks {
        Marks::Bits(_) => offer_touched_with::<false, false>(t, selected, keys),
        Marks::Words(_) => offer_touched_with::<false, true>(t, selected, keys),
    }
}

/// [`offer_touched`] compiled for AVX2: eight compares at a time, 32-byte stores.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn offer_touched_avx2(t: Touched, selected: &mut KeyCut, keys: &mut Vec<u64>) {
    match t.marks {
        Marks::Bits(_) => offer_touched_with::<true, false>(t, selected, keys),
        Marks::Words(_) => offer_touched_with::<true, true>(t, selected, keys),
    }
}

/// `SIGNED`: `t.marks` is [`Marks::Words`] (one loop per kind of marks: matching them per word
/// cost the sign marks their gain).
#[inline(always)]
fn offer_touched_with<const AVX2: bool, const SIGNED: bool>(
    t: Touched,
    selected: &mut KeyCut,
    keys: &mut Vec<u64>,
) {
    let Touched {
        deleted,
        marks,
        acc,
        first_word,
        constant,
    } = t;
    let (seen, bytes): (&mut [u64], &mut [u8]) = match marks {
        Marks::Bits(seen) => (seen, &mut []),
        Marks::Words(bytes) => (&mut [], bytes),
    };
    let words = if SIGNED { bytes.len() } else { seen.len() };
    let untouched = if SIGNED { -0.0 } else { 0.0 };
    let base = (first_word << 6) as u32;
    // The word's touched documents as far as its marks say (all, with bytes; a touched
    // slot's sign bit is clear either way, an untouched one's too with bits), and which of
    // them are live.
    let mut marked = |wi: usize| {
        let bits = if SIGNED {
            u64::from(std::mem::take(&mut bytes[wi]) != 0).wrapping_neg()
        } else {
            std::mem::take(&mut seen[wi])
        };
        let live = match deleted {
            Some(del) if bits != 0 => !del[first_word + wi],
            _ => u64::MAX,
        };
        (bits, live)
    };
    let mut offer = |mut bits: u64, slots: &[f32], start: usize, selected: &mut KeyCut| {
        while bits != 0 {
            let bit = bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let key = rank_key(slots[bit] + constant, base + (start + bit) as u32);
            selected.offer(keys, key);
        }
    };
    let acc_len = acc.len().min(words << 6);
    let (full, tail) = acc[..acc_len].as_chunks_mut::<64>();
    for (wi, slots) in full.iter_mut().enumerate() {
        let (bits, live) = marked(wi);
        if bits == 0 {
            continue;
        }
        let (passing, signs) = at_or_above::<AVX2>(slots, constant, selected.floor());
        let passing = bits & live & passing & !signs;
        if passing != 0 {
            offer(passing, slots, wi << 6, selected);
        }
        // All of the word's slots (vector stores): cheaper than going over its bits.
        *slots = [untouched; 64];
    }
    if !tail.is_empty() {
        // The index's last, partial word.
        let wi = full.len();
        let (bits, live) = marked(wi);
        let mut bits = bits & live & ((1u64 << tail.len()) - 1);
        for (i, a) in tail.iter().enumerate() {
            bits &= !(u64::from(a.is_sign_negative()) << i);
        }
        offer(bits, tail, wi << 6, selected);
        tail.fill(untouched);
    }
}

/// Bit `i` of the first mask set: `slots[i] + constant >= floor`; of the second: `slots[i]`'s
/// sign bit. With `AVX2`, only inside a function compiled for it.
#[inline(always)]
fn at_or_above<const AVX2: bool>(slots: &[f32; 64], constant: f32, floor: f32) -> (u64, u64) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::*;
        let (mut mask, mut signs) = (0u64, 0u64);
        if AVX2 {
            // SAFETY: AVX2 is present (see above); each load reads the 8 f32s of `eight`.
            unsafe {
                let (c, f) = (_mm256_set1_ps(constant), _mm256_set1_ps(floor));
                for (g, eight) in slots.chunks_exact(8).enumerate() {
                    let a = _mm256_loadu_ps(eight.as_ptr());
                    let v = _mm256_add_ps(a, c);
                    let m = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_GE_OQ>(v, f));
                    mask |= (m as u64) << (8 * g);
                    signs |= (_mm256_movemask_ps(a) as u64) << (8 * g);
                }
            }
            return (mask, signs);
        }
        // SSE2, part of every x86_64: four compares and a move of their sign bits at a time.
        // SAFETY: SSE2 is always present on x86_64; each load reads the 4 f32s of `four`.
        unsafe {
            let (c, f) = (_mm_set1_ps(constant), _mm_set1_ps(floor));
            for (g, four) in slots.chunks_exact(4).enumerate() {
                let a = _mm_loadu_ps(four.as_ptr());
                let v = _mm_add_ps(a, c);
                let m = _mm_movemask_ps(_mm_cmpge_ps(v, f));
                mask |= (m as u64) << (4 * g);
                signs |= (_mm_movemask_ps(a) as u64) << (4 * g);
            }
        }
        (mask, signs)
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let (mut mask, mut signs) = (0u64, 0u64);
        for (i, &a) in slots.iter().enumerate() {
            mask |= u64::from(a + constant >= floor) << i;
            signs |= u64::from(a.is_sign_negative()) << i;
        }
        (mask, signs)
    }
}

/// A chunk whose lists hold fewer postings than one per this many documents is read back
/// from the list of its touched documents: reading back every word of the chunk's slots was
/// most of the search of a query with few postings. prune_timing, 1M documents, k=1000, one
/// thread, the tenth of the queries with fewest postings: 0.036 against 0.118 ms a query, the
/// next tenth 0.13 against 0.25, the others unchanged; at one per 8 documents the fourth
/// tenth is slower.
const SLOTS_PER_LISTED: usize = 16;

/// Offers the documents of `listed` (ordinals less `base`, in any order, repeated) as
/// [`offer_touched`] does, setting their slots back to -0.0.
fn offer_listed(
    deleted: Option<&[u64]>,
    acc: &mut [f32],
    listed: &[u32],
    base: u32,
    constant: f32,
    selected: &mut KeyCut,
    keys: &mut Vec<u64>,
) {
    for &i in listed {
        let slot = &mut acc[i as usize];
        // A document listed again was read back already (its slot is -0.0 again).
        if slot.is_sign_negative() {
            continue;
        }
        let a = std::mem::replace(slot, -0.0);
        let d = base + i;
        if deleted.is_some_and(|del| del[d as usize >> 6] >> (d & 63) & 1 == 1) {
            continue;
        }
        selected.offer(keys, rank_key(a + constant, d));
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

impl List {
    /// Calls `f(at, docs)` for the list's postings of documents `lo..=hi` (`at`: the first
    /// one's place in the list), block by block, from the block the previous range ended in.
    #[inline(always)]
    fn for_each_block_in(
        &mut self,
        index: &Bm25Index,
        lo: u32,
        hi: u32,
        blocks: (&mut BlockBuf, &mut BlockBuf),
        mut f: impl FnMut(usize, &[u32]),
    ) {
        let (range, df) = (self.blocks, self.df);
        index.for_each_block_in(
            range,
            df,
            &mut self.from,
            lo,
            hi,
            false,
            blocks,
            |at, d, _| f(at, d),
        );
    }
}

/// The best `k` documents for `query`, as the one-pass exhaustive search returns them.
/// `acc` and `marks` cover at least `CHUNK` documents (or all of them); `acc` is all -0.0
/// and `marks` all zero on entry, and they are left so (see [`Marks::Words`]).
#[allow(clippy::too_many_arguments)]
pub(crate) fn top_k(
    ctx: &SearchCtx,
    query: &[QueryTerm],
    k: usize,
    stored: &[f32],
    acc: &mut [f32],
    marks: &mut [u8],
    listed: &mut Vec<u32>,
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
    let postings: usize = lists.iter().map(|l| l.df).sum();
    // Term frequencies are not read (the scores are stored): the walk's second buffer.
    let mut block_tfs = [0u32; BLOCK_LEN];
    let mut lo = 0;
    while lo < n {
        let hi = (lo + chunk).min(n);
        let (base, top) = (lo as u32, hi as u32);
        let acc = &mut acc[..hi - lo];
        let marks = &mut marks[..(hi - lo).div_ceil(64)];
        // Expected postings in the chunk: few, and the touched documents are listed and read
        // back from the list rather than word by word from the whole chunk's slots.
        let by_list =
            postings as f64 * ((hi - lo) as f64 / n as f64) < ((hi - lo) / SLOTS_PER_LISTED) as f64;
        listed.clear();
        for l in &mut lists {
            let (w, stored) = (l.weight, &stored[l.at..]);
            let blocks = (&mut *block_docs, &mut block_tfs);
            // One walk per way of marking (a test per posting in one closure cost 7%).
            if by_list {
                l.for_each_block_in(index, base, top - 1, blocks, |at, docs| {
                    listed.extend(docs.iter().map(|&d| d - base));
                    for (&d, &sc) in docs.iter().zip(&stored[at..]) {
                        acc[(d - base) as usize] += w * sc;
                    }
                });
            } else {
                l.for_each_block_in(index, base, top - 1, blocks, |at, docs| {
                    for (&d, &sc) in docs.iter().zip(&stored[at..]) {
                        let i = (d - base) as usize;
                        marks[i >> 6] = 1;
                        acc[i] += w * sc;
                    }
                });
            }
        }
        if by_list {
            offer_listed(
                ctx.deleted,
                acc,
                listed,
                base,
                constant,
                &mut selected,
                keys,
            );
            lo = hi;
            continue;
        }
        let touched = Touched {
            deleted: ctx.deleted,
            marks: Marks::Words(marks),
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
    /// among the scores, in steps of 1/1024), with either kind of marks; with the sign marks,
    /// a touched document whose sum is +0.0 is offered and an untouched one (-0.0) is not,
    /// even where fewer than k are touched. A floor raised by 0.1% fails it. (`>` for `>=`
    /// does not: documents come in increasing order, so one tying the cut's score never beats
    /// the cut's key.)
    #[test]
    fn the_vectorised_readback_keeps_what_a_full_sort_keeps() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        for round in 0..60 {
            let n: usize = 64 * rng.random_range(40..200) + rng.random_range(0..64);
            let words = n.div_ceil(64);
            // One round in three touches few documents: fewer than k, so no floor.
            let one_in = if round % 3 == 2 { 300 } else { 4 };
            let (mut acc, mut seen) = (vec![0f32; n], vec![0u64; words]);
            let deleted: Vec<u64> = (0..words)
                .map(|_| rng.random::<u64>() & rng.random::<u64>())
                .collect();
            let with_deletions = round % 5 < 3;
            let constant = if round % 2 == 0 { 0.0 } else { 0.25 };
            let mut want = Vec::new();
            for d in 0..n {
                if rng.random_range(0..one_in) == 0 {
                    acc[d] = match rng.random_range(0..20) {
                        0 => 0.0,
                        _ => f32::from(rng.random_range(1u16..4000)) / 1024.0,
                    };
                    seen[d >> 6] |= 1 << (d & 63);
                    if !with_deletions || deleted[d >> 6] >> (d & 63) & 1 == 0 {
                        want.push(rank_key(acc[d] + constant, d as u32));
                    }
                }
            }
            let k = [1, 3, 10, 100][round % 4];
            let want = top_k_keys(&mut want, k);
            let del = with_deletions.then_some(&deleted[..]);
            // The sign marks: untouched slots -0.0, a word's byte set where it has a touched
            // document (and on some words without one).
            let signed: Vec<f32> = acc
                .iter()
                .enumerate()
                .map(|(d, &a)| {
                    if seen[d >> 6] >> (d & 63) & 1 == 1 {
                        a
                    } else {
                        -0.0
                    }
                })
                .collect();
            let marks: Vec<u8> = seen
                .iter()
                .map(|&w| u8::from(w != 0 || rng.random_range(0..10) == 0))
                .collect();
            // The dispatching function (AVX2 where the CPU has it) and the SSE2 one.
            for (sse2_only, bits) in [(false, true), (true, true), (false, false), (true, false)] {
                let (mut seen, mut marks) = (seen.clone(), marks.clone());
                let mut acc = if bits { acc.clone() } else { signed.clone() };
                let (mut keys, mut selected) = (Vec::new(), KeyCut::new(k));
                let t = Touched {
                    deleted: del,
                    marks: if bits {
                        Marks::Bits(&mut seen)
                    } else {
                        Marks::Words(&mut marks)
                    },
                    acc: &mut acc,
                    first_word: 0,
                    constant,
                };
                if sse2_only {
                    if bits {
                        offer_touched_with::<false, false>(t, &mut selected, &mut keys);
                    } else {
                        offer_touched_with::<false, true>(t, &mut selected, &mut keys);
                    }
                } else {
                    offer_touched(t, &mut selected, &mut keys);
                }
                let case = format!("round {round}, k={k}, bits {bits}, sse2 only {sse2_only}");
                assert_eq!(top_k_keys(&mut keys, k), want, "{case}");
                let cleared = if bits { 0.0f32 } else { -0.0 };
                assert!(
                    acc.iter().all(|a| a.to_bits() == cleared.to_bits()),
                    "{case}"
                );
                let marks_cleared = if bits {
                    seen.iter().all(|&w| w == 0)
                } else {
                    marks.iter().all(|&m| m == 0)
                };
                assert!(marks_cleared, "{case}");
            }
        }
    }
}
