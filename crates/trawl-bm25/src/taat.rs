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

use crate::index::{QueryTerm, SearchCtx};
use crate::maxscore::Cursor;
use crate::topk::{rank_key, top_k_keys};
use crate::Hit;

/// Candidates are taken out of the accumulator, and the remaining lists probed at them, when
/// the next list holds more than this many postings per candidate (a probe costs about this
/// many additions).
const PROBE_MIN_POSTINGS_PER_CANDIDATE: usize = 8;

/// Candidates are counted on one word of the touched bitmap in this many.
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
/// path returns them. `acc` (one f32 per document) and `seen` (one bit per document) are
/// all zero on entry and are left so.
pub(crate) fn top_k(
    ctx: &SearchCtx,
    query: &[QueryTerm],
    k: usize,
    acc: &mut [f32],
    seen: &mut [u64],
    s: &mut Scratch,
) -> Vec<Hit> {
    let index = ctx.index;
    let nq = query.len();
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
    let slack = (2.0 * nq as f64 + 4.0) * f64::from(f32::EPSILON) * rest[0];
    let mut theta = f64::NEG_INFINITY;
    s.docs.clear();
    s.scores.clear();
    s.ranges.clear();

    // Phase 1: lists 0..j into the accumulator; `closed` once no untouched document can enter.
    let (mut lo, mut hi) = (usize::MAX, 0usize);
    let mut closed = false;
    let mut j = 0;
    while j < n {
        if !closed && rest[j] + slack < theta {
            closed = true;
        }
        if closed {
            // About how many touched documents could still enter (counted on a word of
            // `seen` in SAMPLE): probing list j at them may cost less than reading it.
            let need = below(theta - rest[j] - slack, slack);
            let mut open = 0usize;
            for (wi, &word) in seen[lo..=hi].iter().enumerate().step_by(SAMPLE) {
                let mut bits = word;
                while bits != 0 {
                    let d = ((lo + wi) << 6) + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    open += usize::from(acc[d] >= need);
                }
            }
            if cursors[j].df() > PROBE_MIN_POSTINGS_PER_CANDIDATE * SAMPLE * open {
                break;
            }
        }
        let c = &cursors[j];
        let start = s.docs.len();
        c.decode_all(index, &mut s.docs, &mut s.scores);
        let (docs, scores) = (&s.docs[start..], &s.scores[start..]);
        s.ranges.push((start, s.docs.len()));
        let cut = if theta.is_finite() {
            (theta + slack) as f32
        } else {
            f32::NEG_INFINITY
        };
        let mut best = Best::new(&mut s.best, k, cut);
        if closed {
            for (&d, &v) in docs.iter().zip(scores) {
                let d = d as usize;
                if seen[d >> 6] >> (d & 63) & 1 == 1 {
                    acc[d] += v;
                    best.offer(acc[d]);
                }
            }
        } else {
            lo = lo.min(docs[0] as usize >> 6);
            hi = hi.max(docs[docs.len() - 1] as usize >> 6);
            for (&d, &v) in docs.iter().zip(scores) {
                if ctx.is_deleted(d) {
                    continue;
                }
                let d = d as usize;
                seen[d >> 6] |= 1u64 << (d & 63);
                acc[d] += v;
                best.offer(acc[d]);
            }
        }
        if let Some(v) = best.kth() {
            theta = theta.max(f64::from(v) - slack);
        }
        j += 1;
    }

    // The candidates: touched documents that may still beat θ; the accumulator is cleared.
    s.cands.clear();
    s.vals.clear();
    if lo <= hi {
        let need = below(theta - rest[j] - slack, slack);
        for (wi, word) in seen[lo..=hi].iter_mut().enumerate() {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                let d = ((lo + wi) << 6) + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let a = std::mem::take(&mut acc[d]);
                if a >= need {
                    s.cands.push(d as u32);
                    s.vals.push(a);
                }
            }
        }
    }
    if s.cands.len() >= k {
        theta = theta.max(kth_value(s, k) - slack);
    }
    drop_below(s, rest[j] + slack, theta);

    // Phase 2: lists j.. probed at the candidates.
    while j < n {
        let after = rest[j + 1];
        let c = &mut cursors[j];
        let start = s.docs.len();
        for (d, a) in s.cands.iter().zip(s.vals.iter_mut()) {
            if f64::from(*a) + after + c.block_max_geq(index, *d) + slack < theta {
                // Cannot enter even with this list's best in its block: dropped below.
                *a = f32::NEG_INFINITY;
                continue;
            }
            c.next_geq(index, *d);
            if c.doc == *d {
                let v = c.score();
                *a += v;
                s.docs.push(*d);
                s.scores.push(v);
            }
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
    let m = s.cands.len();
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
    s.keys.clear();
    for (i, &d) in s.cands.iter().enumerate() {
        let mut score = 0f32;
        for &v in &s.exact[i * nq..(i + 1) * nq] {
            score += v;
        }
        s.keys.push(rank_key(score, d));
    }
    top_k_keys(&mut s.keys, k)
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
