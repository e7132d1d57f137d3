//! One query's retrieved documents put in the order of trec_eval 9 (inside pytrec_eval): score
//! descending with scores held as C floats, so doubles equal in single precision tie, and ties by
//! document id descending (byte order, as `strcmp`).
//!
//! The measures only need the grade at each rank, and most retrieved documents are not judged. So
//! only the judged documents (hits) are placed: a hit's rank is the number of documents with a
//! smaller sort key plus those with its key and a greater id. The reader of the run keeps the id
//! of a document only where that can matter: hits, and the other documents tied with one.

/// Above this many hits in one ranking, sorting the keys once beats counting for each hit.
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

/// A retrieved document with a judgement for the query.
#[derive(Clone, Copy)]
pub struct Hit {
    pub key: u32,
    pub grade: i32,
    /// Its index in the qrels (which hold its id).
    pub doc: u32,
}

/// A retrieved, unjudged document whose key equals a hit's; its id is `ids[start..end]`.
#[derive(Clone, Copy)]
pub struct Tie {
    pub key: u32,
    pub start: usize,
    pub end: usize,
}

/// A query's retrieved documents: every one's sort key, the hits, and the ties with their ids.
pub struct Retrieved<'a> {
    pub keys: &'a [u32],
    pub hits: &'a [Hit],
    pub ties: &'a [Tie],
    pub tie_ids: &'a [u8],
}

/// Buffers reused from one query to the next.
#[derive(Default)]
pub struct Scratch {
    hits: Vec<Hit>,
    ties: Vec<Tie>,
    sorted_keys: Vec<u32>,
    ranked: Vec<Option<i32>>,
}

/// The grade at each rank (None: not judged), as trawl-eval's `RankedRels::new` takes them.
/// `hit_id` gives a hit's document id. With `judged_only` (trec_eval -J), only documents judged
/// with a grade >= 0 are ranked.
pub fn ranked_grades<'s, 'i>(
    docs: &Retrieved<'i>,
    hit_id: impl Fn(&Hit) -> &'i [u8],
    judged_only: bool,
    scratch: &'s mut Scratch,
) -> &'s [Option<i32>] {
    let Scratch {
        hits,
        ties,
        sorted_keys,
        ranked,
    } = scratch;
    // Hits in trec_eval's order: a hit's place among the hits with its key is its tie count.
    hits.clear();
    hits.extend(docs.hits.iter().filter(|h| !judged_only || h.grade >= 0));
    hits.sort_unstable_by(|a, b| a.key.cmp(&b.key).then_with(|| hit_id(b).cmp(hit_id(a))));
    ranked.clear();
    if judged_only {
        ranked.extend(hits.iter().map(|h| Some(h.grade)));
        return ranked;
    }
    let tie_id = |t: &Tie| &docs.tie_ids[t.start..t.end];
    ties.clear();
    ties.extend_from_slice(docs.ties);
    ties.sort_unstable_by(|a, b| a.key.cmp(&b.key).then_with(|| tie_id(b).cmp(tie_id(a))));
    let counted = hits.len() <= COUNTED_HITS;
    if !counted {
        sorted_keys.clear();
        sorted_keys.extend_from_slice(docs.keys);
        sorted_keys.sort_unstable();
    }
    ranked.resize(docs.keys.len(), None);
    let mut group = 0;
    for (i, h) in hits.iter().enumerate() {
        if hits[group].key != h.key {
            group = i;
        }
        let smaller = if counted {
            docs.keys.iter().map(|&x| usize::from(x < h.key)).sum()
        } else {
            sorted_keys.partition_point(|&x| x < h.key)
        };
        // Unjudged documents with the hit's key and a greater id come first too.
        let id = hit_id(h);
        let tied = &ties[ties.partition_point(|t| t.key < h.key)..];
        let tied_before = tied.partition_point(|t| t.key == h.key && tie_id(t) > id);
        ranked[smaller + (i - group) + tied_before] = Some(h.grade);
    }
    ranked
}
