//! Several indexes searched as one collection: a knowledge base's segments (the base index and
//! the documents added since), with deleted documents left out, scored with the statistics of
//! the live documents (N, average length, document frequencies). The results equal those of one
//! index built over the live documents in segment order: the same documents, bit-identical
//! scores, the same order (ties go to the earlier document). A hit's `doc` is its position in
//! the concatenation of all segments, deleted documents included (a knowledge base's ordinal).
//!
//! Why this is exact: each segment's search scores its postings from (tf, document length) with
//! one [`Scorer`] built from the live statistics and the idf of each term's live document
//! frequency, sums a document's contributions in the same (sorted) query-term order as a fresh
//! index would, and the global top k is contained in the union of the segments' top k.

use crate::index::{QueryTerm, NO_TERM};
use crate::params::{CollectionStats, Scorer};
use crate::topk::{rank_key, top_k_keys};
use crate::{blocks::BLOCK_LEN, Bm25Index, Error, Hit, Result, Strategy};

struct Segment {
    index: Bm25Index,
    /// Bit `d` set: local document `d` is deleted (empty: none is).
    deleted: Vec<u64>,
    /// Per term of the segment: how many of its documents are deleted (empty: none is).
    deleted_df: Vec<u32>,
    /// Position of the segment's first document in the concatenation of all segments.
    base: u32,
}

impl Segment {
    fn is_deleted(&self, doc: usize) -> bool {
        self.deleted
            .get(doc >> 6)
            .is_some_and(|w| w >> (doc & 63) & 1 == 1)
    }
}

/// Indexes with the same analysis and BM25 settings, searched as one collection of their live
/// documents.
pub struct Segments {
    segments: Vec<Segment>,
    scorer: Scorer,
    num_live: u32,
}

impl Segments {
    /// Segments in order, each with its deletion bitmap (bit `d` of word `d / 64` set: document
    /// `d` is deleted; an empty vector: no deletions).
    pub fn new(parts: Vec<(Bm25Index, Vec<u64>)>) -> Result<Segments> {
        let mut segments = Vec::with_capacity(parts.len());
        let mut total = 0u64;
        let mut stats = CollectionStats {
            num_docs: 0,
            docs_with_terms: 0,
            total_terms: 0,
        };
        for (i, (index, deleted)) in parts.into_iter().enumerate() {
            if let Some(first) = segments.first().map(|s: &Segment| &s.index) {
                let a = (first.config(), first.params());
                let b = (index.config(), index.params());
                if a != b {
                    return Err(Error::SegmentMismatch {
                        first: format!("{:?} {:?}", a.0, a.1),
                        other: format!("{:?} {:?}", b.0, b.1),
                    });
                }
            }
            let n = index.num_docs();
            if !deleted.is_empty() && deleted.len() != n.div_ceil(64) {
                return Err(Error::BadDeletions {
                    segment: i,
                    words: deleted.len(),
                    docs: n,
                });
            }
            if total.saturating_add(n as u64) > u64::from(u32::MAX) {
                return Err(Error::TooManyDocuments {
                    max: u64::from(u32::MAX),
                });
            }
            let mut seg = Segment {
                index,
                deleted,
                deleted_df: Vec::new(),
                base: total as u32,
            };
            total += n as u64;
            let lengths = seg.index.data.doc_lengths.as_slice();
            for (d, &len) in lengths.iter().enumerate() {
                if !seg.is_deleted(d) {
                    stats.num_docs += 1;
                    stats.docs_with_terms += u64::from(len > 0);
                    stats.total_terms += u64::from(len);
                }
            }
            if seg.deleted.iter().any(|&w| w != 0) {
                seg.deleted_df = deleted_df(&seg);
            } else {
                seg.deleted = Vec::new();
            }
            segments.push(seg);
        }
        let params = segments
            .first()
            .map(|s| *s.index.params())
            .unwrap_or_default();
        Ok(Segments {
            scorer: Scorer::new(params, stats),
            num_live: stats.num_docs as u32,
            segments,
        })
    }

    /// The index of segment `i` (for its settings and per-index search options).
    pub fn index(&self, i: usize) -> Option<&Bm25Index> {
        self.segments.get(i).map(|s| &s.index)
    }

    /// Live documents.
    pub fn num_live(&self) -> usize {
        self.num_live as usize
    }

    /// The best `k` live documents for `query` (see [`Bm25Index::search`]).
    pub fn search(&self, query: &str, k: usize) -> Vec<Hit> {
        self.search_with(query, k, Strategy::Auto)
    }

    /// [`Segments::search`] scoring every posting (the reference).
    pub fn search_exhaustive(&self, query: &str, k: usize) -> Vec<Hit> {
        self.search_with(query, k, Strategy::Exhaustive)
    }

    /// Search with an explicit [`Strategy`] (all give the same results).
    pub fn search_with(&self, query: &str, k: usize, strategy: Strategy) -> Vec<Hit> {
        let Some(first) = self.segments.first() else {
            return Vec::new();
        };
        if k == 0 {
            return Vec::new();
        }
        // Per query term: its id in each segment and its live document frequency.
        let mut terms: Vec<(f32, Vec<u32>, u64)> = Vec::new();
        for (term, weight) in first.index.query_terms(query) {
            let mut ids = Vec::with_capacity(self.segments.len());
            let mut df = 0u64;
            for seg in &self.segments {
                let id = seg.index.term_id(&term);
                if let Some(t) = id {
                    let dead = seg.deleted_df.get(t as usize).copied().unwrap_or(0);
                    df += seg.index.df(t) - u64::from(dead);
                }
                ids.push(id.unwrap_or(NO_TERM));
            }
            // A term only deleted documents hold is not in a fresh index's vocabulary.
            if df > 0 {
                terms.push((weight, ids, df));
            }
        }
        if terms.is_empty() {
            return Vec::new();
        }
        let mut keys = Vec::new();
        for (s, seg) in self.segments.iter().enumerate() {
            let query: Vec<QueryTerm> = terms
                .iter()
                .map(|(weight, ids, df)| QueryTerm {
                    term: ids[s],
                    weight: *weight,
                    idf: self.scorer.idf(*df),
                })
                .collect();
            // Hits are documents holding a query term: none here.
            if query.iter().all(|q| q.term == NO_TERM) {
                continue;
            }
            let deleted = (!seg.deleted.is_empty()).then_some(seg.deleted.as_slice());
            for h in seg
                .index
                .top_k_with(&self.scorer, &query, k, strategy, deleted)
            {
                keys.push(rank_key(h.score, seg.base + h.doc));
            }
        }
        top_k_keys(&mut keys, k)
    }
}

/// Per term of `seg`: how many deleted documents hold it (one pass over the postings).
fn deleted_df(seg: &Segment) -> Vec<u32> {
    let index = &seg.index;
    let block_last = index.data.block_last.as_slice();
    let (mut docs, mut tfs) = (Box::new([0u32; BLOCK_LEN]), Box::new([0u32; BLOCK_LEN]));
    (0..index.num_terms() as u32)
        .map(|t| {
            let (first, end) = index.blocks_of(t);
            let df = index.df(t) as usize;
            let mut dead = 0u32;
            for b in first..end {
                let len = (df - (b - first) * BLOCK_LEN).min(BLOCK_LEN);
                let initial = (b > first).then(|| block_last[b - 1]);
                index.decode_into(b, len, initial, &mut docs, &mut tfs);
                dead += docs[..len]
                    .iter()
                    .filter(|&&d| seg.is_deleted(d as usize))
                    .count() as u32;
            }
            dead
        })
        .collect()
}
