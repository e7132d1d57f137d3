//! From chunk hits back to documents: chunk ids and MaxP.

use std::collections::HashSet;

/// The id of chunk `number` (from 0) of document `parent`: `<parent>#<number>`.
pub fn chunk_id(parent: &str, number: usize) -> String {
    format!("{parent}#{number}")
}

/// The parent id of a chunk id `<parent>#<n>` (the part before the last `#` when what follows
/// is a number); any other id is its own parent.
pub fn parent_id(chunk_id: &str) -> &str {
    match chunk_id.rsplit_once('#') {
        Some((parent, n)) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => parent,
        _ => chunk_id,
    }
}

/// MaxP: a ranked list of chunk hits (best first) becomes a ranked list of parents, each scored
/// by its best chunk and placed where that chunk was; at most `k` parents. Returns the index of
/// each parent's best hit in `hits`.
pub fn collapse_max<'a>(ids: impl IntoIterator<Item = &'a str>, k: usize) -> Vec<usize> {
    let mut seen = HashSet::new();
    let mut keep = Vec::new();
    for (i, id) in ids.into_iter().enumerate() {
        if keep.len() == k {
            break;
        }
        if seen.insert(parent_id(id)) {
            keep.push(i);
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parent_of_a_chunk_id_and_of_other_ids() {
        assert_eq!(parent_id("doc#3"), "doc");
        assert_eq!(parent_id("a#b#12"), "a#b");
        assert_eq!(parent_id("plain"), "plain");
        assert_eq!(parent_id("tag#x"), "tag#x");
        assert_eq!(parent_id("trailing#"), "trailing#");
    }

    #[test]
    fn maxp_keeps_each_parents_best_chunk_in_rank_order() {
        let hits = ["a#1", "b#0", "a#0", "c#2", "b#3"];
        assert_eq!(collapse_max(hits, 10), vec![0, 1, 3]);
        assert_eq!(collapse_max(hits, 2), vec![0, 1]);
    }
}
