//! Exact top-k by MaxScore term at a time. The query's lists are read from the largest bound
//! down (the rarest terms first) into the exhaustive path's dense accumulator. While a read
//! list raises θ, a lower bound of the final k-th best score (the k-th best partial score of
//! its documents, less `slack`), the bounds of the unread lists shrink; once they add up to
//! less than θ no untouched document can enter, and the next lists only complete the touched
//! ones (a bit test per posting instead of a new entry). When few touched documents can still
//! beat θ next to the postings of the next list, they are taken out as candidates and the
//! remaining lists are probed at them only, through their blocks (a block whose bound cannot
//! lift the candidate over θ is not decoded), dropping the candidates that fall below θ.
//!
//! Why: on MS MARCO-shaped queries (several frequent terms, whose bounds are close to their
//! typical contribution; bench/bm25_scale.py) the document-at-a-time loop of
//! [`crate::maxscore`] pays a merge step per document over every essential list and its θ
//! rises only as the documents go by; here the rare lists fix θ first and the frequent lists
//! are either added at the exhaustive path's cost per posting or probed at the few candidates.
//!
//! Exactness: partial sums are f32 sums in reading order, so they differ from the exhaustive
//! path's query-order sums by rounding only; `slack` ((2n + 4) ulps of the sum of the bounds)
//! covers both roundings. θ is the k-th best partial score of k distinct live documents less
//! `slack`, and a document is dropped only when its partial score plus the unread bounds plus
//! `slack` is below θ, strictly, so a document tying the final k-th score (which may enter by
//! its lower ordinal) is kept. The survivors are scored again exactly: their contributions
//! are looked up in the postings read (kept decoded) and summed in query order, bit-identical
//! to the exhaustive path, and the top k of them is the answer.
//!
//! Chunks: an index is searched a chunk of documents at a time (all of the above within the
//! chunk, the lists read block by block over the chunk's range), every chunk in the same
//! accumulator slots, so that they stay in cache. θ carries over from chunk to
//! chunk, raised by the exact scores of the survivors found so far (the k-th best of k
//! distinct documents' final scores is a lower bound of the final k-th best).

use crate::index::{QueryTerm, SearchCtx};
use crate::maxscore::{Cursor, Found};
use crate::topk::{hit_of, rank_key, top_k_keys, KeyCut};
use crate::Hit;

/// Candidates are taken out of the accumulator, and the remaining lists probed at them, when
/// the next list holds more than this many postings per candidate (a probe, a block walked to,
/// decoded and searched, costs about this many postings read). prune_timing, k=10, one
/// thread: 1M documents 3,630-3,780 queries/s at 24, 3,460-3,560 at 8, 3,510-3,680 at 32,
/// 3,240-3,600 at 64; 8.8M 664-682 at 24, 624-635 at 8.
const PROBE_MIN_POSTINGS_PER_CANDIDATE: usize = 24;

/// Candidates are counted on one touched document in this many.
const SAMPLE: usize = 4;

/// Per-thread buffers of a search.
#[derive(Default)]
pub(crate) struct Scratch {
    /// The postings read (whole lists, or the probed candidates found in a list), list after
    /// list: `docs[ranges[i].0..ranges[i].1]` in increasing order, with their contributions.
    docs: Vec<u32>,
    scores: Vec<f32>,
    ranges: Vec<(usize, usize)>,
    /// Candidates in increasing ordinal, with their partial scores.
    cands: Vec<u32>,
    vals: Vec<f32>,
    /// Partial scores above the running cut (for θ).
    best: Vec<f32>,
    exact: Vec<f32>,
    keys: Vec<u64>,
    /// The documents touched in the chunk's accumulator (unordered), less the chunk's first.
    touched: Vec<u32>,
    /// Candidates as (ordinal << 32 | partial score bits), for sorting.
    keys2: Vec<u64>,
    /// Probes of a list: (candidate, block that would hold it), then the candidates found.
    probes: Vec<(u32, u32)>,
    found: Vec<(u32, Found)>,
}

/// The k-th largest of `values` (at least `k` of them); `values` is scratch.
fn kth_largest(values: &mut [f32], k: usize) -> f32 {
    let (_, v, _) = values.select_nth_unstable_by(k - 1, |a, b| b.total_cmp(a));
    *v
}

/// Keeps the values above a cut, cutting down to the best `k` whenever `cap` are held: the
/// k-th best of a stream of values at a compare per value.
struct Best<'a> {
    held: &'a mut Vec<f32>,
    cut: f32,
    k: usize,
    cap: usize,
}

impl<'a> Best<'a> {
    fn new(held: &'a mut Vec<f32>, k: usize, cut: f32) -> Self {
        held.clear();
        Best {
            held,
            cut,
            k,
            cap: (4 * k).max(256),
        }
    }

    #[inline]
    fn offer(&mut self, v: f32) {
        if v > self.cut {
            self.held.push(v);
            if self.held.len() >= self.cap {
                self.cut = kth_largest(self.held, self.k);
                self.held.retain(|&x| x >= self.cut);
                self.held.truncate(self.cap - 1);
            }
        }
    }

    /// The k-th best value offered, if at least `k` were above the initial cut.
    fn kth(self) -> Option<f32> {
        (self.held.len() >= self.k).then(|| kth_largest(self.held, self.k))
    }
}

/// The best `k` documents for `query` (weights > 0, contributions >= 0), as the exhaustive
/// path returns them. `acc` (one f32 per document of a chunk, see [`span`]) is all -0.0 on
/// entry and is left so: a touched document's slot holds a sum of contributions, whose sign
/// bit is clear (-0.0 + x is x for x >= +0.0), so the slot itself tells whether it was touched.
pub(crate) fn top_k(
    ctx: &SearchCtx,
    query: &[QueryTerm],
    k: usize,
    acc: &mut [f32],
    s: &mut Scratch,
) -> Vec<Hit> {
    let mut cursors = Cursor::open_all(ctx, query);
    if cursors.is_empty() || k == 0 {
        return Vec::new();
    }
    // Largest bound first; ties by query position (any fixed order would do).
    cursors.sort_by(|a, b| b.max.total_cmp(&a.max).then(a.slot.cmp(&b.slot)));
    let n = cursors.len();
    // rest[j]: the bounds of lists j.. added up.
    let mut rest = vec![0f64; n + 1];
    for j in (0..n).rev() {
        rest[j] = rest[j + 1] + cursors[j].max;
    }
    let mut q = Query {
        nq: query.len(),
        k,
        slack: (2.0 * query.len() as f64 + 4.0) * f64::from(f32::EPSILON) * rest[0],
        rest,
        theta: f64::NEG_INFINITY,
        from: vec![0; n],
        selected: KeyCut::new(k),
    };
    s.keys.clear();
    let num_docs = ctx.index.num_docs();
    let span = span(num_docs);
    let mut lo = 0;
    while lo < num_docs {
        let hi = (lo + span).min(num_docs);
        chunk(ctx, &mut cursors, &mut q, lo, hi, acc, s);
        lo = hi;
    }
    top_k_keys(&mut s.keys, k)
}

/// Documents per chunk. Every chunk is searched in the same accumulator slots (4 bytes a
/// document, 512 KiB), which stay in a core's L2 cache from one chunk to the next, where the
/// random additions of a list and the reading back of its candidates cost a few cycles each;
/// a whole-index accumulator is past L2 from 256k documents and past L3 at millions, where
/// every first touch of a document waits on memory. `prune_timing` on
/// bench/bm25_scale.py's corpus, k=10, one thread: at 8.8M documents 370-450 queries/s in
/// chunk-sized slots, 210-250 with chunks indexing the whole accumulator, 100-110 in one
/// pass; at 1M 2,070-2,480 against 1,560-1,580 in one pass. A multiple of 64: the exhaustive
/// search's chunks never share a word of its marks.
pub(crate) const CHUNK: usize = 1 << 17;

/// Documents per chunk in an index of `num_docs`: the accumulator slots a search needs.
pub(crate) fn span(num_docs: usize) -> usize {
    let forced = CHUNK_FOR_TESTS.load(std::sync::atomic::Ordering::Relaxed);
    if forced > 0 { forced } else { CHUNK }.min(num_docs)
}

static CHUNK_FOR_TESTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Makes every term-at-a-time search of this process run in chunks of `docs` documents (a
/// multiple of 64; 0 restores the default), so that tests reach the chunked path on small
/// indexes.
#[doc(hidden)]
pub fn set_chunk_for_tests(docs: usize) {
    assert!(
        docs.is_multiple_of(64),
        "chunks are whole words of 64 documents, as the exhaustive search's"
    );
    CHUNK_FOR_TESTS.store(docs, std::sync::atomic::Ordering::Relaxed);
}

/// The state of one search that chunks carry over.
struct Query {
    nq: usize,
    k: usize,
    slack: f64,
    rest: Vec<f64>,
    /// A lower bound of the final k-th best score, less `slack`.
    theta: f64,
    /// Per list: the block a chunk's reading starts from (see [`Cursor::decode_range`]).
    from: Vec<usize>,
    /// The survivors' exact keys (in `Scratch::keys`), cut down as they pile up.
    selected: KeyCut,
}

/// The documents `lo..hi`: their candidates found, completed and scored exactly, their keys
/// added to `s.keys`, and θ raised from the k-th best exact score found so far.
fn chunk(
    ctx: &SearchCtx,
    cursors: &mut [Cursor],
    q: &mut Query,
    lo_doc: usize,
    hi_doc: usize,
    acc: &mut [f32],
    s: &mut Scratch,
) {
    let index = ctx.index;
    let (n, k, slack) = (cursors.len(), q.k, q.slack);
    let rest = &q.rest;
    let mut theta = q.theta;
    if rest[0] + slack < theta {
        return; // no document can enter
    }
    s.docs.clear();
    s.scores.clear();
    s.ranges.clear();
    // Expected postings of a list in this chunk, for the cost test below.
    let share = (hi_doc - lo_doc) as f64 / index.num_docs() as f64;

    // The chunk's own accumulator: the first `hi - lo` slots, reused by every chunk, so that
    // they stay in cache from one chunk to the next.
    let acc = &mut acc[..hi_doc - lo_doc];
    let base = lo_doc as u32;
    // Phase 1: lists 0..j into the accumulator; `closed` once no untouched document can enter.
    s.touched.clear();
    let mut closed = false;
    let mut j = 0;
    while j < n {
        if !closed && rest[j] + slack < theta {
            closed = true;
        }
        if closed {
            if s.touched.is_empty() {
                return; // nothing touched: no document of the chunk can enter
            }
            // About how many touched documents could still enter (counted on one in SAMPLE):
            // probing list j at them may cost less than reading it.
            let need = below(theta - rest[j] - slack, slack);
            let open = s
                .touched
                .iter()
                .step_by(SAMPLE)
                .filter(|&&l| acc[l as usize] >= need)
                .count();
            let expected = cursors[j].df() as f64 * share;
            if expected > (PROBE_MIN_POSTINGS_PER_CANDIDATE * SAMPLE * open) as f64 {
                break;
            }
        }
        let start = s.docs.len();
        cursors[j].decode_range(
            index,
            &mut q.from[j],
            lo_doc as u32,
            (hi_doc - 1) as u32,
            &mut s.docs,
            &mut s.scores,
        );
        s.ranges.push((start, s.docs.len()));
        let (docs, scores) = (&s.docs[start..], &s.scores[start..]);
        if docs.is_empty() {
            j += 1;
            continue;
        }
        let cut = if theta.is_finite() {
            (theta + slack) as f32
        } else {
            f32::NEG_INFINITY
        };
        let mut best = Best::new(&mut s.best, k, cut);
        if closed {
            for (&d, &v) in docs.iter().zip(scores) {
                let a = &mut acc[(d - base) as usize];
                if a.is_sign_positive() {
                    *a += v;
                    best.offer(*a);
                }
            }
        } else {
            // A document first met here whose contribution plus the unread bounds cannot
            // reach θ can never enter: it is left untouched (should a later list touch it,
            // its exact score is below the final k-th best either way).
            let admit = below(theta - rest[j + 1] - slack, slack);
            // One loop per case: without deletions the test per posting is compiled out.
            let admit_fn = if ctx.has_deletions() {
                admit_list::<true>
            } else {
                admit_list::<false>
            };
            admit_fn(
                ctx,
                base,
                docs,
                scores,
                admit,
                acc,
                &mut s.touched,
                &mut best,
            );
        }
        if let Some(v) = best.kth() {
            theta = theta.max(f64::from(v) - slack);
        }
        j += 1;
    }

    // The candidates: touched documents that may still beat θ, in increasing ordinal; the
    // accumulator slots are set back to -0.0.
    s.cands.clear();
    s.vals.clear();
    let need = below(theta - rest[j] - slack, slack);
    s.keys2.clear();
    for &l in &s.touched {
        let a = std::mem::replace(&mut acc[l as usize], -0.0);
        if a >= need {
            s.keys2
                .push(u64::from(base + l) << 32 | u64::from(a.to_bits()));
        }
    }
    s.keys2.sort_unstable();
    for &key in &s.keys2 {
        s.cands.push((key >> 32) as u32);
        s.vals.push(f32::from_bits(key as u32));
    }
    if s.cands.len() >= k {
        theta = theta.max(kth_value(s, k) - slack);
    }
    drop_below(s, rest[j] + slack, theta);

    // Phase 2: lists j.. probed at the candidates. In three passes, so that the memory is
    // asked for every probed block, then for every stored score found, before either is
    // read: the blocks and scores of a frequent list are far apart, each probe one miss.
    while j < n {
        let after = rest[j + 1];
        let c = &mut cursors[j];
        let start = s.docs.len();
        // The block that would hold each candidate; dropped when even its bound falls short.
        s.probes.clear();
        for (i, (d, a)) in s.cands.iter().zip(s.vals.iter_mut()).enumerate() {
            if f64::from(*a) + after + c.block_max_geq(index, *d) + slack < theta {
                // Cannot enter even with this list's best in its block: dropped below.
                *a = f32::NEG_INFINITY;
                continue;
            }
            if let Some(b) = c.current_block() {
                c.prefetch_block(index, b);
                s.probes.push((i as u32, b as u32));
            }
        }
        // The candidates found in their blocks.
        s.found.clear();
        for &(i, b) in &s.probes {
            if let Some(found) = c.find_in_block(index, b as usize, s.cands[i as usize]) {
                s.found.push((i, found));
            }
        }
        for &(i, found) in &s.found {
            let v = match found {
                Found::Stored(at) => c.stored_contribution(at),
                Found::Value(v) => v,
            };
            s.vals[i as usize] += v;
            s.docs.push(s.cands[i as usize]);
            s.scores.push(v);
        }
        s.ranges.push((start, s.docs.len()));
        j += 1;
        drop_below(s, after + slack, theta);
        if s.cands.len() >= k {
            theta = theta.max(kth_value(s, k) - slack);
        }
    }
    drop_below(s, slack, theta);

    // The survivors' exact scores: contributions looked up list by list, summed in query order.
    let (m, nq) = (s.cands.len(), q.nq);
    s.exact.clear();
    s.exact.resize(m * nq, 0.0);
    for (c, &(start, end)) in cursors.iter().zip(&s.ranges) {
        let docs = &s.docs[start..end];
        let mut p = 0;
        for (i, &d) in s.cands.iter().enumerate() {
            p += docs[p..].partition_point(|&x| x < d);
            if p == docs.len() {
                break;
            }
            if docs[p] == d {
                s.exact[i * nq + c.slot] = s.scores[start + p];
            }
        }
    }
    for (i, &d) in s.cands.iter().enumerate() {
        let mut score = 0f32;
        for &v in &s.exact[i * nq..(i + 1) * nq] {
            score += v;
        }
        q.selected.offer(&mut s.keys, rank_key(score, d));
    }
    // θ from the exact scores: the k-th best of k distinct documents is a lower bound of the
    // final k-th best.
    if s.keys.len() >= k {
        s.keys.select_nth_unstable(k - 1);
        theta = theta.max(f64::from(hit_of(s.keys[k - 1]).score) - slack);
    }
    q.theta = theta;
}

/// Adds a list's postings to the chunk's accumulator (`base` is the chunk's first document):
/// to the touched documents, and as new ones for the live documents whose contribution is at
/// least `admit` (appended to `touched`). `touched` is appended to without a branch (whether
/// a document is new is a coin toss per posting): every posting writes its ordinal past the
/// end, and the end moves only for a new document.
///
/// A slot says itself whether it was touched (its sign bit, see [`top_k`]): a bitmap beside
/// it costs a read, an or and a store per posting, and the read waits on the previous
/// posting's store to the same word (most postings of a frequent list share one).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn admit_list<const DELETIONS: bool>(
    ctx: &SearchCtx,
    base: u32,
    docs: &[u32],
    scores: &[f32],
    admit: f32,
    acc: &mut [f32],
    touched: &mut Vec<u32>,
    best: &mut Best,
) {
    let mut t = touched.len();
    touched.resize(t + docs.len(), 0);
    let out = &mut touched[..];
    for (&d, &v) in docs.iter().zip(scores) {
        let live = !DELETIONS || !ctx.is_deleted(d);
        let l = d - base;
        let slot = &mut acc[l as usize];
        let a = *slot;
        let was = a.is_sign_positive();
        let new = !was & live & (v >= admit);
        out[t] = l;
        t += usize::from(new);
        // -0.0 + v is v: a new document's sum needs no case of its own.
        let sum = a + v;
        *slot = if was | new { sum } else { a };
        if was | new {
            best.offer(sum);
        }
    }
    touched.truncate(t);
}

/// An f32 at or below `x` (at most `margin` below it, `margin` being far above an f32 rounding
/// of `x`): a cut that keeps every document an f64 test against `x` would keep.
#[inline]
fn below(x: f64, margin: f64) -> f32 {
    if x.is_finite() {
        (x - margin) as f32
    } else {
        f32::NEG_INFINITY
    }
}

/// The k-th best partial score of the candidates (at least `k` of them).
fn kth_value(s: &mut Scratch, k: usize) -> f64 {
    s.best.clear();
    s.best.extend_from_slice(&s.vals);
    f64::from(kth_largest(&mut s.best, k))
}

/// Drops the candidates whose partial score plus `extra` is below `theta`.
fn drop_below(s: &mut Scratch, extra: f64, theta: f64) {
    let mut w = 0;
    for r in 0..s.cands.len() {
        if f64::from(s.vals[r]) + extra >= theta {
            s.cands[w] = s.cands[r];
            s.vals[w] = s.vals[r];
            w += 1;
        }
    }
    s.cands.truncate(w);
    s.vals.truncate(w);
}
