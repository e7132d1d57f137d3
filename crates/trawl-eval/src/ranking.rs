//! Turning one query's retrieved documents into trec_eval's ranked relevance list.
//!
//! Documents are ordered by score descending, ties broken by document id descending (byte order,
//! as trec_eval's `strcmp`); the rank column of a run is never used. Each ranked document gets its
//! grade from the qrels, [`NONPOOL`] when it was never judged, or [`UNJUDGED`] when the qrels list
//! it with a negative grade (in the pool but not judged).

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use crate::error::{Error, Result};

/// Grade of a retrieved document that is not in the qrels.
pub const NONPOOL: i32 = -1;
/// Grade of a retrieved document listed in the qrels with a negative grade.
pub const UNJUDGED: i32 = -2;

/// Everything trec_eval's measures need about one query (its `RES_RELS`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RankedRels {
    /// Grade of the document at each rank (index 0 = rank 1).
    pub rels: Vec<i32>,
    pub num_ret: i64,
    /// Judged documents with grade >= the relevance level.
    pub num_rel: i64,
    pub num_rel_ret: i64,
    pub num_nonpool: i64,
    pub num_unjudged_in_pool: i64,
    /// Number of judged documents at each grade 0, 1, 2, ... up to the highest grade present.
    pub rel_levels: Vec<i64>,
}

/// Sorts `docs` into trec_eval's order (score descending, ties by id descending) and keeps the
/// first `max_docs`.
pub fn sort_ranking(docs: &mut Vec<(&str, f64)>, max_docs: usize) {
    // Ids are compared only on score ties, so this is mostly a float sort.
    docs.sort_unstable_by(|a, b| {
        score_key(b.1)
            .total_cmp(&score_key(a.1))
            .then_with(|| b.0.cmp(a.0))
    });
    docs.truncate(max_docs);
}

/// Looks up the qrels grade of every ranked document (`None`: not judged), refusing a document
/// that occurs twice (trec_eval refuses such runs). One hash lookup per document does both.
pub fn grade_ranking<'x>(
    query: &str,
    ranking: &[(&'x str, f64)],
    judged: impl ExactSizeIterator<Item = (&'x str, i32)>,
) -> Result<Vec<Option<i32>>> {
    struct Slot {
        grade: Option<i32>,
        seen: bool,
    }
    let mut table: HashMap<&str, Slot, BuildHasherDefault<IdHasher>> =
        HashMap::with_capacity_and_hasher(ranking.len() + judged.len(), Default::default());
    for (doc, grade) in judged {
        table.insert(
            doc,
            Slot {
                grade: Some(grade),
                seen: false,
            },
        );
    }
    let mut grades = Vec::with_capacity(ranking.len());
    for (doc, _) in ranking {
        match table.entry(doc) {
            Entry::Occupied(mut e) => {
                let slot = e.get_mut();
                if slot.seen {
                    return Err(Error::DuplicateDoc {
                        query: query.to_string(),
                        doc: doc.to_string(),
                        origin: None,
                    });
                }
                slot.seen = true;
                grades.push(slot.grade);
            }
            Entry::Vacant(e) => {
                e.insert(Slot {
                    grade: None,
                    seen: true,
                });
                grades.push(None);
            }
        }
    }
    Ok(grades)
}

/// A small fast hasher for document ids (FxHash's mixing): ids are short and not adversarial
/// here (a slow path would only cost time, never correctness).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let w = u64::from_le_bytes(c.try_into().unwrap_or([0; 8]));
            self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
        }
        let mut tail = [0u8; 8];
        let rest = chunks.remainder();
        tail[..rest.len()].copy_from_slice(rest);
        self.0 =
            (self.0.rotate_left(5) ^ u64::from_le_bytes(tail) ^ rest.len() as u64).wrapping_mul(K);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Scores compare as in C: -0.0 equals 0.0; NaN (refused by the parsers) sorts last.
fn score_key(x: f64) -> f64 {
    if x.is_nan() {
        f64::NEG_INFINITY
    } else if x == 0.0 {
        0.0
    } else {
        x
    }
}

impl RankedRels {
    /// Builds the ranked relevance list.
    ///
    /// `grades` gives, for each ranked document in order, its qrels grade (`None`: not judged);
    /// `all_grades` lists every grade in the query's qrels; `level` is the relevance level (`-l`).
    pub fn new(
        grades: impl Iterator<Item = Option<i32>>,
        all_grades: impl Iterator<Item = i32>,
        level: i32,
    ) -> Self {
        let mut rel_levels: Vec<i64> = Vec::new();
        for g in all_grades {
            if g >= 0 {
                let g = g as usize;
                if g >= rel_levels.len() {
                    rel_levels.resize(g + 1, 0);
                }
                rel_levels[g] += 1;
            }
        }
        while rel_levels.last() == Some(&0) {
            rel_levels.pop();
        }
        let num_rel = rel_levels
            .iter()
            .enumerate()
            .filter(|(i, _)| *i as i64 >= level as i64)
            .map(|(_, n)| n)
            .sum();
        let mut rr = RankedRels {
            num_rel,
            rel_levels,
            ..Default::default()
        };
        for g in grades {
            let rel = match g {
                None => {
                    rr.num_nonpool += 1;
                    NONPOOL
                }
                Some(g) if g < 0 => {
                    rr.num_unjudged_in_pool += 1;
                    UNJUDGED
                }
                Some(g) => {
                    if g >= level {
                        rr.num_rel_ret += 1;
                    }
                    g
                }
            };
            rr.rels.push(rel);
        }
        rr.num_ret = rr.rels.len() as i64;
        rr
    }

    /// Number of grade levels present (trec_eval's `num_rel_levels`).
    pub fn num_rel_levels(&self) -> usize {
        self.rel_levels.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_break_by_docid_descending_and_rank_is_ignored() {
        let mut docs = vec![("a", 1.0), ("c", 1.0), ("b", 2.0), ("d", 0.5)];
        sort_ranking(&mut docs, usize::MAX);
        let ids: Vec<_> = docs.iter().map(|d| d.0).collect();
        assert_eq!(ids, ["b", "c", "a", "d"]);
    }

    #[test]
    fn duplicates_are_refused_and_max_docs_truncates() {
        let docs = vec![("a", 1.0), ("b", 0.5), ("a", 2.0)];
        let e = grade_ranking("q1", &docs, [("b", 1)].into_iter()).unwrap_err();
        assert!(e.to_string().contains("'a' appears more than once"), "{e}");
        let grades = grade_ranking("q1", &docs[..2], [("b", 1), ("z", 0)].into_iter()).unwrap();
        assert_eq!(grades, [None, Some(1)]);
        let mut docs = vec![("a", 1.0), ("b", 2.0), ("c", 3.0)];
        sort_ranking(&mut docs, 2);
        assert_eq!(docs, [("c", 3.0), ("b", 2.0)]);
    }

    #[test]
    fn counts_follow_trec_eval() {
        let rr = RankedRels::new(
            [Some(2), None, Some(0), Some(-1), Some(1)].into_iter(),
            [2, 0, -1, 1, 1, 0].into_iter(),
            1,
        );
        assert_eq!(rr.rels, [2, NONPOOL, 0, UNJUDGED, 1]);
        assert_eq!(rr.num_rel, 3);
        assert_eq!(rr.num_rel_ret, 2);
        assert_eq!(rr.num_nonpool, 1);
        assert_eq!(rr.num_unjudged_in_pool, 1);
        assert_eq!(rr.rel_levels, [2, 2, 1]);
    }
}
