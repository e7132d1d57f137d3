//! Exact top-k selection: score descending, ties by lower document ordinal.

use std::cmp::Ordering;

use crate::Hit;

#[inline]
fn rank_order(a: &Hit, b: &Hit) -> Ordering {
    b.score.total_cmp(&a.score).then(a.doc.cmp(&b.doc))
}

/// Keeps the best `k` of `hits` (in any order on input), sorted best first.
pub(crate) fn top_k(mut hits: Vec<Hit>, k: usize) -> Vec<Hit> {
    if k == 0 {
        return Vec::new();
    }
    if hits.len() > k {
        hits.select_nth_unstable_by(k - 1, rank_order);
        hits.truncate(k);
    }
    hits.sort_unstable_by(rank_order);
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(doc: u32, score: f32) -> Hit {
        Hit { doc, score }
    }

    #[test]
    fn orders_by_score_then_lower_doc() {
        let hits = vec![h(5, 1.0), h(2, 3.0), h(9, 3.0), h(1, 1.0), h(7, 2.0)];
        let got = top_k(hits.clone(), 3);
        assert_eq!(got, vec![h(2, 3.0), h(9, 3.0), h(7, 2.0)]);
        let all = top_k(hits, 10);
        assert_eq!(
            all.iter().map(|h| h.doc).collect::<Vec<_>>(),
            vec![2, 9, 7, 1, 5]
        );
    }

    #[test]
    fn ties_at_the_cut_keep_the_lower_ordinal() {
        let hits = (0..100).rev().map(|d| h(d, 1.0)).collect();
        let got = top_k(hits, 5);
        assert_eq!(
            got.iter().map(|h| h.doc).collect::<Vec<_>>(),
            vec![0, 1, 2, 3, 4]
        );
        assert!(top_k(vec![h(1, 1.0)], 0).is_empty());
    }
}
