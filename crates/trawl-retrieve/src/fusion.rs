//! Rank fusion: reciprocal rank fusion, weighted sums of normalised scores, max score, and the
//! intersection of several rankings. Documents are identified by their id: over a chunked KB
//! collapsed with MaxP, one parent can come with different best chunks (ordinals) from
//! different rankings and must still count once.

use std::collections::HashMap;
use std::sync::Arc;

use crate::retriever::{sort_ranking, RetrievedDoc};

/// The RRF constant of Cormack et al. (2009), used unless configured otherwise.
pub const DEFAULT_RRF_K: f32 = 60.0;

/// How scores of different rankings are made comparable before a weighted sum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Normalization {
    /// `(s - min) / (max - min)` over the ranking's candidates (all 1.0 when max == min).
    MinMax,
    /// `(s - mean) / std` over the ranking's candidates (all 0.0 when std == 0).
    ZScore,
}

/// A way to merge several rankings into one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fusion {
    /// Reciprocal rank fusion: `sum_i w_i / (k + rank_i)`, ranks from 1.
    Rrf { k: f32 },
    /// `sum_i w_i * norm_i(score)`; a document missing from ranking `i` gets the lowest
    /// normalised score of that ranking (its cut-off), so absence never beats presence.
    WeightedSum(Normalization),
    /// The highest raw score any ranking gave the document (for rankings on one scale).
    MaxScore,
}

struct Acc {
    /// The ordinal the document first came with (its best chunk's, under MaxP).
    ordinal: u32,
    score: f64,
    seen: u32,
}

/// Fuses `lists` (one ranking each, best first) with `weights` (one per list; empty means all
/// 1.0) and returns the best `top` documents. With `require_all`, only documents present in
/// every list survive (intersection).
pub fn fuse(
    lists: &[&[RetrievedDoc]],
    weights: &[f32],
    fusion: Fusion,
    top: usize,
    require_all: bool,
) -> Vec<RetrievedDoc> {
    let weight = |i: usize| weights.get(i).copied().unwrap_or(1.0) as f64;
    let mut acc: HashMap<Arc<str>, Acc> = HashMap::new();
    let mut add = |doc: &RetrievedDoc, contribution: f64, max: bool| {
        let e = acc.entry(doc.id.clone()).or_insert_with(|| Acc {
            ordinal: doc.ordinal,
            score: if max { f64::NEG_INFINITY } else { 0.0 },
            seen: 0,
        });
        e.score = if max {
            e.score.max(contribution)
        } else {
            e.score + contribution
        };
        e.seen += 1;
    };
    match fusion {
        Fusion::Rrf { k } => {
            for (i, list) in lists.iter().enumerate() {
                for (rank, doc) in list.iter().enumerate() {
                    add(doc, weight(i) / (k as f64 + rank as f64 + 1.0), false);
                }
            }
        }
        Fusion::MaxScore => {
            for list in lists {
                for doc in list.iter() {
                    add(doc, doc.score as f64, true);
                }
            }
        }
        Fusion::WeightedSum(norm) => {
            let normalised: Vec<(Vec<f64>, f64)> =
                lists.iter().map(|l| normalise(l, norm)).collect();
            for (i, list) in lists.iter().enumerate() {
                for (doc, s) in list.iter().zip(&normalised[i].0) {
                    add(doc, weight(i) * s, false);
                }
            }
            // A document absent from list i still receives that list's floor.
            let floors: Vec<f64> = normalised.iter().map(|(_, floor)| *floor).collect();
            let members: Vec<std::collections::HashSet<&str>> = lists
                .iter()
                .map(|l| l.iter().map(|d| &*d.id).collect())
                .collect();
            for (id, e) in acc.iter_mut() {
                for (i, m) in members.iter().enumerate() {
                    if !m.contains(&**id) {
                        e.score += weight(i) * floors[i];
                    }
                }
            }
        }
    }
    let need = lists.len() as u32;
    let mut out: Vec<RetrievedDoc> = acc
        .into_iter()
        .filter(|(_, e)| !require_all || e.seen >= need)
        .map(|(id, e)| RetrievedDoc {
            id,
            score: e.score as f32,
            ordinal: e.ordinal,
        })
        .collect();
    sort_ranking(&mut out);
    out.truncate(top);
    out
}

/// Normalised scores of one ranking and the floor given to documents missing from it.
fn normalise(list: &[RetrievedDoc], norm: Normalization) -> (Vec<f64>, f64) {
    if list.is_empty() {
        return (Vec::new(), 0.0);
    }
    let scores: Vec<f64> = list.iter().map(|d| d.score as f64).collect();
    let n = scores.len() as f64;
    let out = match norm {
        Normalization::MinMax => {
            let min = scores.iter().copied().fold(f64::INFINITY, f64::min);
            let max = scores.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let range = max - min;
            scores
                .iter()
                .map(|s| if range > 0.0 { (s - min) / range } else { 1.0 })
                .collect::<Vec<_>>()
        }
        Normalization::ZScore => {
            let mean = scores.iter().sum::<f64>() / n;
            let var = scores.iter().map(|s| (s - mean).powi(2)).sum::<f64>() / n;
            let std = var.sqrt();
            scores
                .iter()
                .map(|s| if std > 0.0 { (s - mean) / std } else { 0.0 })
                .collect()
        }
    };
    let floor = out.iter().copied().fold(f64::INFINITY, f64::min);
    (out, floor)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[(u32, f32)]) -> Vec<RetrievedDoc> {
        items
            .iter()
            .map(|&(ordinal, score)| RetrievedDoc {
                id: Arc::from(format!("d{ordinal}")),
                score,
                ordinal,
            })
            .collect()
    }

    #[test]
    fn rrf_sums_reciprocal_ranks_with_k_60() {
        let a = list(&[(1, 9.0), (2, 8.0)]);
        let b = list(&[(2, 0.9), (3, 0.8)]);
        let out = fuse(&[&a, &b], &[], Fusion::Rrf { k: 60.0 }, 10, false);
        let ids: Vec<&str> = out.iter().map(|d| &*d.id).collect();
        assert_eq!(ids, ["d2", "d1", "d3"]);
        let expected = 1.0 / 62.0 + 1.0 / 61.0;
        assert!((out[0].score as f64 - expected).abs() < 1e-6);
        // d1 and d3 tie on 1/61 vs 1/62: d1 is rank 1 in a, d3 rank 2 in b.
        assert!((out[1].score as f64 - 1.0 / 61.0).abs() < 1e-6);
    }

    #[test]
    fn rrf_weights_scale_each_list() {
        let a = list(&[(1, 1.0)]);
        let b = list(&[(2, 1.0)]);
        let out = fuse(&[&a, &b], &[1.0, 3.0], Fusion::Rrf { k: 60.0 }, 10, false);
        assert_eq!(&*out[0].id, "d2");
    }

    #[test]
    fn minmax_sum_gives_absent_documents_the_floor() {
        let a = list(&[(1, 10.0), (2, 5.0), (3, 0.0)]);
        let b = list(&[(2, 1.0), (4, 0.0)]);
        let out = fuse(
            &[&a, &b],
            &[],
            Fusion::WeightedSum(Normalization::MinMax),
            10,
            false,
        );
        let got: HashMap<&str, f32> = out.iter().map(|d| (&*d.id, d.score)).collect();
        assert_eq!(got["d1"], 1.0); // 1.0 + floor 0
        assert_eq!(got["d2"], 1.5); // 0.5 + 1.0
        assert_eq!(got["d3"], 0.0);
        assert_eq!(got["d4"], 0.0);
        assert_eq!(&*out[0].id, "d2");
    }

    #[test]
    fn zscore_sum_is_scale_free() {
        let a = list(&[(1, 100.0), (2, 50.0), (3, 0.0)]);
        let scaled = list(&[(1, 1.0), (2, 0.5), (3, 0.0)]);
        let x = fuse(
            &[&a],
            &[],
            Fusion::WeightedSum(Normalization::ZScore),
            10,
            false,
        );
        let y = fuse(
            &[&scaled],
            &[],
            Fusion::WeightedSum(Normalization::ZScore),
            10,
            false,
        );
        for (p, q) in x.iter().zip(&y) {
            assert_eq!(p.ordinal, q.ordinal);
            assert!((p.score - q.score).abs() < 1e-5);
        }
        assert!((x[0].score - 1.224_745).abs() < 1e-4);
    }

    #[test]
    fn max_score_and_intersection_keep_only_common_documents() {
        let a = list(&[(1, 3.0), (2, 2.0)]);
        let b = list(&[(2, 5.0), (3, 4.0)]);
        let out = fuse(&[&a, &b], &[], Fusion::MaxScore, 10, true);
        assert_eq!(out.len(), 1);
        assert_eq!((&*out[0].id, out[0].score), ("d2", 5.0));
        let union = fuse(&[&a, &b], &[], Fusion::MaxScore, 2, false);
        let ids: Vec<&str> = union.iter().map(|d| &*d.id).collect();
        assert_eq!(ids, ["d2", "d3"]);
    }

    #[test]
    fn one_id_with_different_ordinals_counts_once() {
        // MaxP: parent `p` came with chunk ordinal 7 from one rewrite and 9 from the other.
        let doc = |id: &str, ordinal, score| RetrievedDoc {
            id: Arc::from(id),
            score,
            ordinal,
        };
        let a = vec![doc("p", 7, 2.0), doc("q", 3, 1.0)];
        let b = vec![doc("p", 9, 5.0)];
        let union = fuse(&[&a, &b], &[], Fusion::Rrf { k: 60.0 }, 10, false);
        let ids: Vec<&str> = union.iter().map(|d| &*d.id).collect();
        assert_eq!(ids, ["p", "q"]);
        assert!((union[0].score as f64 - 2.0 / 61.0).abs() < 1e-6);
        let both = fuse(&[&a, &b], &[], Fusion::MaxScore, 10, true);
        assert_eq!((both.len(), &*both[0].id, both[0].score), (1, "p", 5.0));
    }

    #[test]
    fn top_truncates_and_ties_break_by_ordinal() {
        let a = list(&[(5, 1.0), (3, 1.0), (4, 1.0)]);
        let out = fuse(&[&a], &[], Fusion::MaxScore, 2, false);
        let ords: Vec<u32> = out.iter().map(|d| d.ordinal).collect();
        assert_eq!(ords, [3, 4]);
    }
}
