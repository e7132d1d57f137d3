//! Exact top-k by block-max MaxScore over windows of documents (the scheme of Lucene's
//! `MaxScoreBulkScorer`): the collection is cut into windows of [`WINDOW`] ordinals; in each,
//! every term's bound is the largest block maximum of its blocks there, terms whose bounds add
//! up to no more than the k-th best score θ are non-essential for the window, and a window
//! where all are is skipped without decoding. The essential terms are scored term-at-a-time
//! into a window-sized table, then each touched document, in ordinal order, is completed from
//! the non-essential terms (largest bound first) while it can still beat θ.
//!
//! Exactness is argued as in [`crate::maxscore`]: contributions are kept per query term and a
//! surviving document's score is their f32 sum in query order (bit-identical to the exhaustive
//! path); bounds are f64 sums widened by `slack`; documents enter in increasing ordinal, so a
//! tie with θ cannot enter and `bound <= θ` may be skipped.

use crate::index::{QueryTerm, SearchCtx};
use crate::maxscore::{complete_candidate, open_search, query_order_sum, END};
use crate::Hit;

/// Ordinals per window.
pub(crate) const WINDOW: u32 = 4096;

/// The best `k` documents for `weighted` terms (weights > 0, contributions >= 0).
pub(crate) fn top_k(ctx: &SearchCtx, query: &[QueryTerm], k: usize) -> Vec<Hit> {
    let index = ctx.index;
    let nq = query.len();
    let Some((mut cursors, total, mut top)) = open_search(ctx, query, k) else {
        return Vec::new();
    };
    let n = cursors.len();
    // Covers the rounding of the f32 partial and final sums (each at most (nq - 1)·2^-24 of
    // a sum <= total, contributions rounded by 2^-24 more) and of the f64 bound sums, twice.
    let slack = (2.0 * nq as f64 + 4.0) * f64::from(f32::EPSILON) * total;
    let last_doc = index
        .data
        .block_last
        .as_slice()
        .iter()
        .copied()
        .max()
        .unwrap_or(0);
    let w = WINDOW as usize;
    // contrib[d * nq + slot]: the window's document d's contribution from query term `slot`.
    let mut contrib = vec![0f32; w * nq];
    let mut partial = vec![0f32; w];
    let mut touched = vec![0u64; w / 64];
    let mut bounds = vec![0f64; n];
    let mut order: Vec<usize> = (0..n).collect();
    let mut lo = cursors.iter().map(|c| c.doc).min().unwrap_or(END);
    while lo != END && lo <= last_doc {
        let hi = lo.saturating_add(WINDOW);
        for (b, c) in bounds.iter_mut().zip(cursors.iter_mut()) {
            *b = c.window_bound(index, lo, hi);
        }
        order.sort_unstable_by(|&a, &b| bounds[a].total_cmp(&bounds[b]));
        // cursors[order[..essential_from]] are non-essential in this window.
        let mut essential_from = 0;
        let mut sum = 0f64;
        while essential_from < n && !top.beats(sum + bounds[order[essential_from]] + slack) {
            sum += bounds[order[essential_from]];
            essential_from += 1;
        }
        let non_essential_sum = sum;
        if essential_from == n {
            lo = hi;
            continue;
        }
        for &i in &order[essential_from..] {
            let c = &mut cursors[i];
            let slot = c.slot;
            c.for_each_in(index, lo, hi, |doc, v| {
                let d = (doc - lo) as usize;
                touched[d >> 6] |= 1 << (d & 63);
                partial[d] += v;
                contrib[d * nq + slot] = v;
            });
        }
        for (wi, word) in touched.iter_mut().enumerate() {
            let mut bits = std::mem::take(word);
            while bits != 0 {
                let d = (wi << 6) + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let doc = lo + d as u32;
                let row = &mut contrib[d * nq..(d + 1) * nq];
                let bound = f64::from(std::mem::take(&mut partial[d])) + non_essential_sum;
                let mut candidate = !ctx.is_deleted(doc) && top.beats(bound + slack);
                if candidate {
                    candidate = complete_candidate(
                        index,
                        &mut cursors,
                        order[..essential_from].iter().rev().copied(),
                        &bounds,
                        doc,
                        bound,
                        row,
                        &top,
                        slack,
                    );
                }
                if candidate {
                    top.push(query_order_sum(row), doc);
                }
                row.fill(0.0);
            }
        }
        lo = hi;
    }
    top.into_hits()
}
