//! Exact top-k by block-max MaxScore (Turtle & Flood's MaxScore with per-block bounds, as in
//! PISA's `block_max_maxscore_query`), document-at-a-time over the block-coded postings.
//!
//! Query terms are ordered by their upper bound (weight × the term's largest contribution).
//! Once the k-th best score θ exceeds the sum of the smallest bounds, those terms are
//! "non-essential": a document that contains none of the others cannot enter the top k, so
//! candidates come only from the essential terms, and the non-essential ones are probed (with
//! their per-block bounds first) only while the candidate can still beat θ.
//!
//! Exactness: a candidate's score is summed in f32 in query-term order, exactly as the
//! exhaustive path adds it up, so scores are bit-identical. Bounds are summed in f64 and widened
//! by `slack` (more than the rounding of an f32 sum of `n` non-negative terms can add), so a
//! bound is never below the f32 score it bounds. Documents are visited in increasing ordinal,
//! so a document whose score only ties θ ranks below the k-th hit (ties go to the lower
//! ordinal) and cannot enter: skipping when `bound <= θ` is exact.

use std::collections::BinaryHeap;

use crate::blocks::BLOCK_LEN;
use crate::index::{BlockBuf, Bm25Index, QueryTerm, SearchCtx, TermScorer};
use crate::topk::{hit_of, rank_key, top_k_keys};
use crate::Hit;
use trawl_store::prefetch;

/// Bounds are widened by this factor: a bound is the f32 score of (largest tf, shortest
/// document), and for the non-Lucene formulas f32 rounding is not provably monotone, so the
/// real maximum may exceed it by an ulp or two.
pub(crate) const WIDEN: f64 = 1.0 + 8.0 * f32::EPSILON as f64;

thread_local! {
    /// Work counters of this thread's pruned searches: (postings decoded, documents scored).
    static COUNTERS: std::cell::Cell<(u64, u64)> = const { std::cell::Cell::new((0, 0)) };
}

/// This thread's pruned-search work since the last call: (postings decoded, documents whose
/// score was summed), for measuring how far a strategy is from scoring only what it must.
#[doc(hidden)]
pub fn take_counters() -> (u64, u64) {
    COUNTERS.with(|c| c.replace((0, 0)))
}

#[inline]
fn count(decoded: u64, scored: u64) {
    COUNTERS.with(|c| {
        let (a, b) = c.get();
        c.set((a + decoded, b + scored));
    });
}

/// Past the last document of a list.
pub(crate) const END: u32 = u32::MAX;

/// A position in one query term's postings.
pub(crate) struct Cursor<'a> {
    scorer: TermScorer<'a>,
    /// The term's stored posting scores, when the search uses the index's own statistics:
    /// read instead of computed (the same bits), and the term frequencies are not decoded.
    stored: Option<&'a [f32]>,
    /// The term's place in the query (the order scores are summed in).
    pub(crate) slot: usize,
    pub(crate) weight: f32,
    /// weight × the bound of the term's contributions (in f64, widened by [`WIDEN`]).
    pub(crate) max: f64,
    /// Per block, its largest tf and shortest document: the bound of its contributions
    /// (unweighted) under the statistics of this search, computed when asked for
    /// ([`Cursor::block_bound`]): a search looks at a few of a frequent list's blocks.
    block_max_tf: &'a [u32],
    block_min_len: &'a [u32],
    first_block: usize,
    end_block: usize,
    df: usize,
    /// Block whose bound is current; `>= decoded`, ahead of it after shallow moves.
    block: usize,
    /// Block held in `docs`/`tfs`.
    decoded: usize,
    len: usize,
    pos: usize,
    /// Current document, or [`END`].
    pub(crate) doc: u32,
    docs: Box<BlockBuf>,
    tfs: Box<BlockBuf>,
}

impl<'a> Cursor<'a> {
    /// One cursor per query term present in the index, in query order (`slot` = position).
    pub(crate) fn open_all(ctx: &'a SearchCtx<'a>, query: &[QueryTerm]) -> Vec<Cursor<'a>> {
        query
            .iter()
            .enumerate()
            .filter_map(|(slot, q)| Cursor::new(ctx, slot, q))
            .collect()
    }

    pub(crate) fn new(ctx: &'a SearchCtx<'a>, slot: usize, q: &QueryTerm) -> Option<Cursor<'a>> {
        let index = ctx.index;
        if q.term == crate::index::NO_TERM {
            return None;
        }
        let (first_block, end_block) = index.blocks_of(q.term);
        if first_block == end_block {
            return None;
        }
        let df = index.df(q.term) as usize;
        let scorer = ctx.term_scorer(q.idf);
        let block_max_tf = &index.data.block_max_tf.as_slice()[first_block..end_block];
        let block_min_len = &index.data.block_min_len.as_slice()[first_block..end_block];
        let term_max = index.term_bound(q.term, &scorer, ctx.stored.is_some());
        let weight = q.weight;
        let po = index.data.postings_offsets.as_slice();
        let stored = ctx
            .stored
            .map(|st| &st[po[q.term as usize] as usize..po[q.term as usize + 1] as usize]);
        let mut c = Cursor {
            scorer,
            stored,
            slot,
            weight,
            max: f64::from(weight) * f64::from(term_max) * WIDEN,
            block_max_tf,
            block_min_len,
            first_block,
            end_block,
            df,
            block: first_block,
            decoded: first_block,
            len: 0,
            pos: 0,
            doc: END,
            docs: Box::new([0; BLOCK_LEN]),
            tfs: Box::new([0; BLOCK_LEN]),
        };
        c.load(index, first_block);
        Some(c)
    }

    fn load(&mut self, index: &Bm25Index, b: usize) {
        let len = (self.df - (b - self.first_block) * BLOCK_LEN).min(BLOCK_LEN);
        let initial = (b > self.first_block).then(|| index.data.block_last.as_slice()[b - 1]);
        if self.stored.is_some() {
            crate::blocks::decode_docs(index.block_bytes(b), len, initial, &mut self.docs);
        } else {
            index.decode_into(b, len, initial, &mut self.docs, &mut self.tfs);
        }
        count(len as u64, 0);
        self.block = b;
        self.decoded = b;
        self.len = len;
        self.pos = 0;
        self.doc = self.docs[0];
    }

    #[inline]
    pub(crate) fn next(&mut self, index: &Bm25Index) {
        self.pos += 1;
        if self.pos < self.len {
            self.doc = self.docs[self.pos];
        } else if self.decoded + 1 < self.end_block {
            self.load(index, self.decoded + 1);
        } else {
            self.doc = END;
        }
    }

    /// Moves to the first document >= `target`.
    pub(crate) fn next_geq(&mut self, index: &Bm25Index, target: u32) {
        if self.doc >= target {
            return;
        }
        let last = index.data.block_last.as_slice();
        let mut b = self.block;
        while b < self.end_block && last[b] < target {
            b += 1;
        }
        if b == self.end_block {
            self.block = b;
            self.doc = END;
            return;
        }
        if b != self.decoded {
            self.load(index, b);
        }
        // The block's last document is >= target, so the scan stops inside it.
        let mut p = self.pos;
        while self.docs[p] < target {
            p += 1;
        }
        self.pos = p;
        self.doc = self.docs[p];
    }

    /// Bound of weight × contribution of any document >= `target` in the block that would hold
    /// `target`, moving only the block pointer (no decoding); 0 past the end.
    #[inline]
    pub(crate) fn block_max_geq(&mut self, index: &Bm25Index, target: u32) -> f64 {
        let last = index.data.block_last.as_slice();
        let mut b = self.block;
        while b < self.end_block && last[b] < target {
            b += 1;
        }
        self.block = b;
        if b == self.end_block {
            0.0
        } else {
            f64::from(self.weight) * f64::from(self.block_bound(b)) * WIDEN
        }
    }

    /// Bound of block `b`'s contributions (unweighted).
    #[inline]
    fn block_bound(&self, b: usize) -> f32 {
        let i = b - self.first_block;
        self.scorer
            .bound(self.block_max_tf[i], self.block_min_len[i])
    }

    /// The block the block pointer is on (after [`Cursor::block_max_geq`]), if inside the list.
    #[inline]
    pub(crate) fn current_block(&self) -> Option<usize> {
        (self.block < self.end_block).then_some(self.block)
    }

    /// Asks the memory for block `b`'s bytes ahead of [`Cursor::find_in_block`] (a hint).
    #[inline]
    pub(crate) fn prefetch_block(&self, index: &Bm25Index, b: usize) {
        // Header and the first ~190 bytes: a frequent list's block (deltas of up to 11 bits).
        let bytes = index.block_bytes(b);
        for line in 0..3 {
            prefetch(bytes, line * 64);
        }
    }

    /// Looks `target` up in block `b` (the block that would hold it, see
    /// [`Cursor::block_max_geq`]; at or after the block held, and at or after the last target
    /// looked up when it is the same block), decoding it unless held. Found: its contribution
    /// if computed from the term frequency, or where its stored score is (see
    /// [`Cursor::stored_contribution`]), which is asked of the memory meanwhile.
    #[inline]
    pub(crate) fn find_in_block(
        &mut self,
        index: &Bm25Index,
        b: usize,
        target: u32,
    ) -> Option<Found> {
        if b != self.decoded {
            self.load(index, b);
        }
        // The block's last document is >= target, so the search stops inside it.
        let p = self.pos + self.docs[self.pos..self.len].partition_point(|&d| d < target);
        self.pos = p;
        self.doc = self.docs[p];
        if self.doc != target {
            return None;
        }
        Some(match self.stored {
            Some(st) => {
                let at = (b - self.first_block) * BLOCK_LEN + p;
                prefetch(st, at * 4);
                Found::Stored(at)
            }
            None => Found::Value(self.score_at(p)),
        })
    }

    /// The contribution whose stored score is at `at` (from [`Cursor::find_in_block`]).
    #[inline]
    pub(crate) fn stored_contribution(&self, at: usize) -> f32 {
        let st = self.stored.expect("a place in the stored scores");
        self.weighted(st[at])
    }

    /// The last document of the block the block pointer is on (after [`Cursor::block_max_geq`]),
    /// or [`END`] past the list.
    #[inline]
    pub(crate) fn block_end(&self, index: &Bm25Index) -> u32 {
        if self.block < self.end_block {
            index.data.block_last.as_slice()[self.block]
        } else {
            END
        }
    }

    /// The `k`-th largest contribution (weight × score) of this term over live documents, when
    /// it has at least `k` of them: every document's full score is at least its contribution
    /// (an f32 sum of non-negative terms never rounds below one of them), so the final k-th
    /// best score is at least this. Reads the list without moving the cursor.
    pub(crate) fn kth_best(
        &self,
        ctx: &SearchCtx,
        k: usize,
        scratch: &mut Vec<f32>,
    ) -> Option<f32> {
        let index = ctx.index;
        if k == 0 || self.df < k {
            return None;
        }
        scratch.clear();
        let (mut docs, mut tfs) = ([0u32; BLOCK_LEN], [0u32; BLOCK_LEN]);
        let last = index.data.block_last.as_slice();
        for b in self.first_block..self.end_block {
            let len = (self.df - (b - self.first_block) * BLOCK_LEN).min(BLOCK_LEN);
            let initial = (b > self.first_block).then(|| last[b - 1]);
            index.decode_into(b, len, initial, &mut docs, &mut tfs);
            for (&d, &tf) in docs[..len].iter().zip(&tfs[..len]) {
                if !ctx.is_deleted(d) {
                    scratch.push(self.weighted(self.scorer.score(tf, d)));
                }
            }
        }
        if scratch.len() < k {
            return None;
        }
        let (_, kth, _) = scratch.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
        Some(*kth)
    }

    /// Number of postings in the list.
    #[inline]
    pub(crate) fn df(&self) -> usize {
        self.df
    }

    /// Appends the postings of documents `lo..=hi` to `docs` and their contributions (weight ×
    /// score, as [`Cursor::score`]) to `scores`, decoding only the blocks that may hold them.
    /// `from` is a block at or before the first of them (0 for the list's start): it is moved
    /// to the last block read, where a following range starts at the earliest, so that a walk
    /// over increasing ranges visits each block about once. The cursor does not move.
    pub(crate) fn decode_range(
        &self,
        index: &Bm25Index,
        from: &mut usize,
        lo: u32,
        hi: u32,
        docs: &mut Vec<u32>,
        scores: &mut Vec<f32>,
    ) {
        let (mut d, mut t) = ([0u32; BLOCK_LEN], [0u32; BLOCK_LEN]);
        let stored = self.stored;
        index.for_each_block_in(
            (self.first_block, self.end_block),
            self.df,
            from,
            lo,
            hi,
            stored.is_none(),
            (&mut d, &mut t),
            |at, block, tfs| {
                docs.extend_from_slice(block);
                match stored {
                    Some(st) => {
                        scores.extend(st[at..at + block.len()].iter().map(|&v| self.weighted(v)))
                    }
                    None => scores.extend(
                        block
                            .iter()
                            .zip(tfs)
                            .map(|(&doc, &tf)| self.weighted(self.scorer.score(tf, doc))),
                    ),
                }
            },
        );
    }

    /// Bound of weight × contribution over documents in `lo..hi` (the blocks that may hold
    /// them), moving only the block pointer; 0 when the term has none there.
    pub(crate) fn window_bound(&mut self, index: &Bm25Index, lo: u32, hi: u32) -> f64 {
        let last = index.data.block_last.as_slice();
        let mut b = self.block;
        while b < self.end_block && last[b] < lo {
            b += 1;
        }
        self.block = b;
        let mut max = 0f32;
        while b < self.end_block && (b == self.first_block || last[b - 1] + 1 < hi) {
            max = max.max(self.block_bound(b));
            if last[b] >= hi {
                break;
            }
            b += 1;
        }
        f64::from(self.weight) * f64::from(max) * WIDEN
    }

    /// Calls `f(doc, contribution)` for each posting in `lo..hi`, leaving the cursor at the
    /// first document >= `hi`.
    #[inline]
    pub(crate) fn for_each_in(
        &mut self,
        index: &Bm25Index,
        lo: u32,
        hi: u32,
        mut f: impl FnMut(u32, f32),
    ) {
        self.next_geq(index, lo);
        while self.doc < hi {
            let end = self.pos + self.docs[self.pos..self.len].partition_point(|&d| d < hi);
            for p in self.pos..end {
                f(self.docs[p], self.score_at(p));
            }
            if end < self.len {
                self.pos = end;
                self.doc = self.docs[end];
            } else if self.decoded + 1 < self.end_block {
                self.load(index, self.decoded + 1);
            } else {
                self.pos = self.len;
                self.doc = END;
            }
        }
    }

    /// The current posting's contribution, as the exhaustive path computes it.
    #[inline]
    pub(crate) fn score(&self) -> f32 {
        self.score_at(self.pos)
    }

    /// The contribution of the posting at `p` of the decoded block.
    #[inline]
    fn score_at(&self, p: usize) -> f32 {
        let sc = match self.stored {
            Some(st) => st[(self.decoded - self.first_block) * BLOCK_LEN + p],
            None => self.scorer.score(self.tfs[p], self.docs[p]),
        };
        self.weighted(sc)
    }

    /// A posting's contribution: its score times the term's weight (a weight of 1, the usual
    /// case, skips the multiply, which would not change a bit).
    #[inline]
    fn weighted(&self, score: f32) -> f32 {
        if self.weight == 1.0 {
            score
        } else {
            self.weight * score
        }
    }
}

/// A posting found by [`Cursor::find_in_block`].
#[derive(Clone, Copy)]
pub(crate) enum Found {
    /// Its stored score's place in the term's list.
    Stored(usize),
    /// Its contribution, computed.
    Value(f32),
}

/// The k best (score, ordinal) keys seen so far, worst on top.
pub(crate) struct TopK {
    k: usize,
    heap: BinaryHeap<u64>,
    /// Score of the worst kept hit once `k` are kept.
    theta: f64,
    /// A lower bound of the final k-th best score (see [`seed_threshold`]): a document whose
    /// score is below it cannot enter, whatever has been kept so far.
    floor: f64,
}

impl TopK {
    pub(crate) fn new(k: usize) -> TopK {
        TopK {
            k,
            heap: BinaryHeap::with_capacity(k.min(1 << 16)),
            theta: f64::NEG_INFINITY,
            floor: f64::NEG_INFINITY,
        }
    }

    /// The kept hits, best first.
    pub(crate) fn into_hits(self) -> Vec<Hit> {
        top_k_keys(&mut self.heap.into_vec(), self.k)
    }

    /// Whether a document (with an ordinal above every kept one) whose score is at most
    /// `bound` could enter.
    #[inline]
    pub(crate) fn beats(&self, bound: f64) -> bool {
        (self.heap.len() < self.k || bound > self.theta) && bound >= self.floor
    }

    /// Offers a hit; true when the threshold changed.
    pub(crate) fn push(&mut self, score: f32, doc: u32) -> bool {
        count(0, 1);
        let key = rank_key(score, doc);
        if self.heap.len() < self.k {
            self.heap.push(key);
        } else if key < *self.heap.peek().expect("k > 0") {
            *self.heap.peek_mut().expect("k > 0") = key;
        } else {
            return false;
        }
        if self.heap.len() == self.k {
            let worst = *self.heap.peek().expect("k > 0");
            self.theta = f64::from(hit_of(worst).score);
            return true;
        }
        false
    }
}

/// Lists of at most this many postings may be read whole to seed the threshold.
pub(crate) const SEED_MAX_POSTINGS: usize = 4096;

/// Threshold seeding: before any document is scored, the k-th best single-term contribution of
/// the query's strongest short list (at least `k` live documents, at most
/// [`SEED_MAX_POSTINGS`]) is a lower bound of the final k-th best score, so documents whose
/// bound is below it are skipped from the start (ties with it are kept: a document scoring
/// exactly the bound may still enter by its lower ordinal).
pub(crate) fn seed_threshold(ctx: &SearchCtx, cursors: &[Cursor], k: usize, top: &mut TopK) {
    let best = cursors
        .iter()
        .filter(|c| c.df >= k && c.df <= SEED_MAX_POSTINGS)
        .max_by(|a, b| a.max.total_cmp(&b.max));
    if let Some(c) = best {
        let mut scratch = Vec::with_capacity(c.df);
        if let Some(v) = c.kth_best(ctx, k, &mut scratch) {
            top.floor = f64::from(v);
        }
    }
}

/// Opens a pruned search: the query's cursors (None when no query term is in the index), the
/// sum of their term bounds, and the top-k collector with its threshold seeded.
pub(crate) fn open_search<'a>(
    ctx: &'a SearchCtx<'a>,
    query: &[QueryTerm],
    k: usize,
) -> Option<(Vec<Cursor<'a>>, f64, TopK)> {
    let cursors = Cursor::open_all(ctx, query);
    if cursors.is_empty() {
        return None;
    }
    let total = cursors.iter().map(|c| c.max).sum();
    let mut top = TopK::new(k);
    seed_threshold(ctx, &cursors, k, &mut top);
    Some((cursors, total, top))
}

/// Completes a candidate `doc` from the non-essential lists `lists` (largest bound first):
/// each list either adds its exact score (into `contrib` at its query slot) or gives up its bound
/// in `bounds`, starting from `bound` (the exact essential part plus every remaining bound).
/// False as soon as the candidate cannot enter the top k.
#[allow(clippy::too_many_arguments)]
#[inline]
pub(crate) fn complete_candidate(
    index: &Bm25Index,
    cursors: &mut [Cursor],
    lists: impl Iterator<Item = usize>,
    bounds: &[f64],
    doc: u32,
    mut bound: f64,
    contrib: &mut [f32],
    top: &TopK,
    slack: f64,
) -> bool {
    for i in lists {
        let c = &mut cursors[i];
        c.next_geq(index, doc);
        if c.doc == doc {
            let v = c.score();
            contrib[c.slot] = v;
            bound += f64::from(v) - bounds[i];
        } else {
            bound -= bounds[i];
        }
        if !top.beats(bound + slack) {
            return false;
        }
    }
    true
}

/// The exhaustive path's sum: 0, then each present term in query order (so scores are
/// bit-identical to it).
#[inline]
pub(crate) fn query_order_sum(contrib: &[f32]) -> f32 {
    let mut score = 0f32;
    for &v in contrib {
        score += v;
    }
    score
}

/// The best `k` documents for `query` (weights > 0), deleted documents left out; every contribution must be
/// non-negative (see `Bm25Index::prunable`). Same hits, scores and order as the exhaustive path.
pub(crate) fn top_k(ctx: &SearchCtx, query: &[QueryTerm], k: usize) -> Vec<Hit> {
    let index = ctx.index;
    let nq = query.len();
    let Some((mut cursors, total, mut top)) = open_search(ctx, query, k) else {
        return Vec::new();
    };
    cursors.sort_by(|a, b| a.max.total_cmp(&b.max).then(a.slot.cmp(&b.slot)));
    let n = cursors.len();
    // upper[i]: bound of a document found only in cursors[..=i].
    let mut upper = Vec::with_capacity(n);
    let mut acc = 0f64;
    for c in &cursors {
        acc += c.max;
        upper.push(acc);
    }
    // An f32 sum of nq non-negative values exceeds their exact sum by at most (nq - 1)·2^-24
    // of it, each weighted contribution by 2^-24 more; f64 sums err far less. Doubled.
    let slack = (nq as f64 + 2.0) * f64::from(f32::EPSILON) * total.max(acc);

    let mut contrib = vec![0f32; nq];
    let mut block_bounds = vec![0f64; n];
    let mut essential = 0usize; // cursors[..essential] are non-essential
    while essential < n && !top.beats(upper[essential] + slack) {
        essential += 1;
    }
    let mut cur = cursors.iter().map(|c| c.doc).min().unwrap_or(END);
    while essential < n && cur != END {
        let mut partial = 0f64;
        let mut next = END;
        for c in &mut cursors[essential..] {
            if c.doc == cur {
                let v = c.score();
                contrib[c.slot] = v;
                partial += f64::from(v);
                c.next(index);
            }
            next = next.min(c.doc);
        }
        let mut candidate = !ctx.is_deleted(cur);
        if candidate && essential > 0 {
            let mut bound = partial + upper[essential - 1];
            candidate = top.beats(bound + slack);
            if candidate {
                // Tighten with the block bounds, largest term first.
                for i in (0..essential).rev() {
                    let bm = cursors[i].block_max_geq(index, cur);
                    block_bounds[i] = bm;
                    bound -= cursors[i].max - bm;
                    if !top.beats(bound + slack) {
                        candidate = false;
                        break;
                    }
                }
            }
            if candidate {
                candidate = complete_candidate(
                    index,
                    &mut cursors,
                    (0..essential).rev(),
                    &block_bounds,
                    cur,
                    bound,
                    &mut contrib,
                    &top,
                    slack,
                );
            }
        }
        if candidate && top.push(query_order_sum(&contrib), cur) {
            while essential < n && !top.beats(upper[essential] + slack) {
                essential += 1;
            }
        }
        contrib.fill(0.0);
        cur = next;
    }
    top.into_hits()
}
