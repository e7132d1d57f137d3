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

/// Indexes of at least this many documents are searched in chunks. `prune_timing`, bench/
/// bm25_scale.py's corpus, k=1000, one thread: at 8.8M documents 120-123 queries/s against
/// 72-80 in one pass; at 1M, whose accumulator (4 MB) stays in L3 and is read in increasing
/// order per list, which the prefetcher follows, chunks were 5% slower (900-1,000 vs
/// 940-1,070).
pub(crate) const MIN_DOCS: usize = 1 << 22;

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

/// Offers the touched documents to `selected` (each with its accumulated score plus
/// `constant`, the deleted ones left out) and clears them: `seen`'s bits and `acc`'s slots
/// start at document `64 × first_word`.
pub(crate) fn offer_touched(
    ctx: &SearchCtx,
    seen: &mut [u64],
    acc: &mut [f32],
    first_word: usize,
    constant: f32,
    selected: &mut KeyCut,
    keys: &mut Vec<u64>,
) {
    let base = (first_word << 6) as u32;
    for (wi, word) in seen.iter_mut().enumerate() {
        let mut bits = std::mem::take(word);
        if bits == 0 {
            continue;
        }
        let live = ctx.deleted.map_or(!0, |del| !del[first_word + wi]);
        while bits != 0 {
            let bit = bits.trailing_zeros() as usize;
            let i = (wi << 6) + bit;
            bits &= bits - 1;
            let key = rank_key(acc[i] + constant, base + i as u32);
            acc[i] = 0.0;
            if live >> bit & 1 == 1 {
                selected.offer(keys, key);
            }
        }
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
        offer_touched(ctx, seen, acc, lo >> 6, constant, &mut selected, keys);
        lo = hi;
    }
    top_k_keys(keys, k)
}
