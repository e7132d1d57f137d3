//! One query's retrieved documents put in the order of trec_eval 9 (inside pytrec_eval): score
//! descending with scores held as C floats, so doubles equal in single precision tie, and ties by
//! document id descending (byte order, as `strcmp`).
//!
//! The measures only need the grade at each rank, and most retrieved documents are not judged. So
//! with few judged documents retrieved, each one's rank is counted (a vectorised pass over the
//! sort keys) instead of sorting the whole ranking; ids are compared only on exact score ties.

use std::cmp::Ordering;

/// Above this many judged documents in one ranking, one sort beats counting each one's rank.
const COUNTED_HITS: usize = 32;

/// The sort key of a score: ascending key = descending score as a C float (-0.0 ties with 0.0).
pub fn descending_key(score: f64) -> u32 {
    let f = score as f32;
    let bits = if f == 0.0 { 0.0f32 } else { f }.to_bits();
    let ascending = if bits >> 31 == 1 {
        !bits
    } else {
        bits | 0x8000_0000
    };
    !ascending
}

/// A query's retrieved documents: a sort key per document and the ids, document `e`'s being
/// `ids[bounds[e]..bounds[e + 1]]`.
pub struct Retrieved<'a> {
    pub keys: &'a [u32],
    pub bounds: &'a [usize],
    pub ids: &'a [u8],
}

impl Retrieved<'_> {
    fn id(&self, e: usize) -> &[u8] {
        &self.ids[self.bounds[e]..self.bounds[e + 1]]
    }

    /// trec_eval 9's order of documents `a` and `b`.
    fn order(&self, a: usize, b: usize) -> Ordering {
        self.keys[a]
            .cmp(&self.keys[b])
            .then_with(|| self.id(b).cmp(self.id(a)))
    }

    /// The 0-based rank of document `e`: how many documents come before it.
    fn rank(&self, e: usize) -> usize {
        let k = self.keys[e];
        let (mut before, mut equal) = (0usize, 0usize);
        for &x in self.keys {
            before += usize::from(x < k);
            equal += usize::from(x == k);
        }
        if equal > 1 {
            let id = self.id(e);
            before += (0..self.keys.len())
                .filter(|&o| self.keys[o] == k && self.id(o) > id)
                .count();
        }
        before
    }
}

/// Buffers reused from one query to the next.
#[derive(Default)]
pub struct Scratch {
    hits: Vec<(u32, i32)>,
    ranked: Vec<Option<i32>>,
    by_doc: Vec<Option<i32>>,
    order: Vec<u64>,
}

/// The grade at each rank (None: not judged), as trawl-eval's `RankedRels::new` takes them.
/// `grade` looks a document id up in the query's qrels. With `judged_only` (trec_eval -J), only
/// documents judged with a grade >= 0 are ranked.
pub fn ranked_grades<'s>(
    docs: &Retrieved<'_>,
    grade: impl Fn(&[u8]) -> Option<i32>,
    judged_only: bool,
    scratch: &'s mut Scratch,
) -> &'s [Option<i32>] {
    let n = docs.keys.len();
    let Scratch {
        hits,
        ranked,
        by_doc,
        order,
    } = scratch;
    hits.clear();
    ranked.clear();
    for e in 0..n {
        if let Some(g) = grade(docs.id(e)) {
            if !judged_only || g >= 0 {
                hits.push((e as u32, g));
            }
        }
    }
    if judged_only {
        hits.sort_unstable_by(|a, b| docs.order(a.0 as usize, b.0 as usize));
        ranked.extend(hits.iter().map(|&(_, g)| Some(g)));
    } else if hits.len() <= COUNTED_HITS {
        ranked.resize(n, None);
        for &(e, g) in hits.iter() {
            ranked[docs.rank(e as usize)] = Some(g);
        }
    } else {
        by_doc.clear();
        by_doc.resize(n, None);
        for &(e, g) in hits.iter() {
            by_doc[e as usize] = Some(g);
        }
        sort_all(docs, order);
        ranked.extend(order.iter().map(|&k| by_doc[(k as u32) as usize]));
    }
    ranked
}

/// All documents in trec_eval 9's order, as `key << 32 | index`. Sorting packed integers is
/// several times faster than comparing (key, id) pairs; only runs of equal keys compare ids.
fn sort_all(docs: &Retrieved<'_>, order: &mut Vec<u64>) {
    order.clear();
    order.extend(
        docs.keys
            .iter()
            .enumerate()
            .map(|(e, &k)| (u64::from(k) << 32) | e as u64),
    );
    order.sort_unstable();
    let mut start = 0;
    while start < order.len() {
        let key = order[start] >> 32;
        let end = start
            + order[start..]
                .iter()
                .take_while(|k| *k >> 32 == key)
                .count();
        if end - start > 1 {
            order[start..end]
                .sort_unstable_by(|a, b| docs.order((*a as u32) as usize, (*b as u32) as usize));
        }
        start = end;
    }
}
