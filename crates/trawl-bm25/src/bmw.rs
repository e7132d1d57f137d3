//! Exact top-k by block-max WAND (Ding & Suel, SIGIR 2011; the loop of PISA's
//! `block_max_wand_query`), document-at-a-time over the block-coded postings.
//!
//! Cursors are kept sorted by their current document. The pivot is the first cursor at which
//! the sum of the term bounds of the cursors before it (itself included) could beat the k-th
//! best score θ: no document below the pivot's can enter. Then the block bounds of those
//! cursors at the pivot document (block pointers moved without decoding) are added up; when
//! that cannot beat θ either, every document up to the end of the nearest of those blocks is
//! skipped at once (one cursor jumps, its skipped blocks are never decoded), otherwise the
//! lagging cursors move to the pivot and the document is scored, giving up as soon as its
//! remaining block bounds cannot lift it over θ.
//!
//! Exactness is argued as in [`crate::maxscore`]: a document's score is the f32 sum of its
//! contributions in query order (bit-identical to the exhaustive path), bounds are f64 sums
//! widened by `slack`, and documents are visited in increasing ordinal, so a document that only
//! ties θ cannot enter and `bound <= θ` may be skipped.

use crate::index::{QueryTerm, SearchCtx};
use crate::maxscore::{open_search, query_order_sum, Cursor, END};
use crate::Hit;

/// Moves `order[p]` right until the cursors are sorted by document again (only it moved).
#[inline]
fn bubble_down(order: &mut [usize], cursors: &[Cursor], mut p: usize) {
    while p + 1 < order.len() && cursors[order[p]].doc > cursors[order[p + 1]].doc {
        order.swap(p, p + 1);
        p += 1;
    }
}

/// The best `k` documents for `query` (weights > 0, contributions >= 0).
pub(crate) fn top_k(ctx: &SearchCtx, query: &[QueryTerm], k: usize) -> Vec<Hit> {
    let index = ctx.index;
    let nq = query.len();
    let Some((mut cursors, total, mut top)) = open_search(ctx, query, k) else {
        return Vec::new();
    };
    let n = cursors.len();
    // As in maxscore: the rounding of an f32 sum of nq non-negative contributions, doubled.
    let slack = (nq as f64 + 2.0) * f64::from(f32::EPSILON) * total;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| cursors[i].doc);
    let mut contrib = vec![0f32; nq];
    let mut block_max = vec![0f64; n];
    loop {
        // The pivot: the first cursor where the term bounds so far could beat θ.
        let mut upper = 0f64;
        let mut pivot = n;
        for (p, &i) in order.iter().enumerate() {
            let c = &cursors[i];
            if c.doc == END {
                break;
            }
            upper += c.max;
            if top.beats(upper + slack) {
                pivot = p;
                break;
            }
        }
        if pivot == n {
            break;
        }
        let pivot_doc = cursors[order[pivot]].doc;
        while pivot + 1 < n && cursors[order[pivot + 1]].doc == pivot_doc {
            pivot += 1;
        }
        let mut block_upper = 0f64;
        for p in 0..=pivot {
            let b = cursors[order[p]].block_max_geq(index, pivot_doc);
            block_max[p] = b;
            block_upper += b;
        }
        if top.beats(block_upper + slack) {
            if cursors[order[0]].doc == pivot_doc {
                // Every cursor up to the pivot is on the pivot document: score it.
                let mut candidate = !ctx.is_deleted(pivot_doc);
                if candidate {
                    let mut bound = block_upper;
                    for p in 0..=pivot {
                        let c = &cursors[order[p]];
                        let v = c.score();
                        contrib[c.slot] = v;
                        bound += f64::from(v) - block_max[p];
                        if !top.beats(bound + slack) {
                            candidate = false;
                            break;
                        }
                    }
                }
                if candidate {
                    top.push(query_order_sum(&contrib), pivot_doc);
                }
                contrib.fill(0.0);
                for p in 0..=pivot {
                    cursors[order[p]].next(index);
                }
                // Insertion sort: only the first pivot + 1 moved.
                for p in (0..=pivot).rev() {
                    bubble_down(&mut order, &cursors, p);
                }
            } else {
                // Bring the last cursor before the pivot document up to it.
                let mut p = pivot;
                while cursors[order[p]].doc == pivot_doc {
                    p -= 1;
                }
                cursors[order[p]].next_geq(index, pivot_doc);
                bubble_down(&mut order, &cursors, p);
            }
        } else {
            // No document from the pivot document to the end of the nearest block (or the next
            // cursor's document) can enter: jump the strongest of these cursors past it.
            let mut next = if pivot + 1 < n {
                cursors[order[pivot + 1]].doc
            } else {
                END
            };
            let mut jump = pivot;
            for p in 0..=pivot {
                let c = &cursors[order[p]];
                next = next.min(c.block_end(index).saturating_add(1));
                if c.max > cursors[order[jump]].max {
                    jump = p;
                }
            }
            if next <= pivot_doc {
                next = pivot_doc + 1;
            }
            cursors[order[jump]].next_geq(index, next);
            bubble_down(&mut order, &cursors, jump);
        }
    }
    top.into_hits()
}
