//! The searchable index: sorted vocabulary, postings with precomputed scores, exact top-k.

use std::cell::RefCell;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::analysis::{Analyzer, AnalyzerConfig, Scratch};
use crate::column::Column;
use crate::params::Bm25Params;
use crate::topk::{rank_key, top_k_keys};

/// One search result: a document ordinal (insertion order, from 0) and its BM25 score.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hit {
    pub doc: u32,
    pub score: f32,
}

/// Arrays of an index; owned after a build, memory-mapped after an open.
pub(crate) struct IndexData {
    pub num_docs: u32,
    pub docs_with_terms: u64,
    pub total_terms: u64,
    pub avgdl: f32,
    /// Terms, sorted bytewise, concatenated; term `t` is `term_bytes[term_offsets[t]..term_offsets[t+1]]`.
    pub term_bytes: Column<u8>,
    pub term_offsets: Column<u64>,
    /// Postings of term `t`: `postings_offsets[t]..postings_offsets[t+1]`.
    pub postings_offsets: Column<u64>,
    /// Document ordinals, ascending within a term.
    pub postings_docs: Column<u32>,
    /// Each posting's score contribution (idf and length normalisation included).
    pub postings_scores: Column<f32>,
    /// Per term: the score of a document *without* it (BM25L / BM25+ only, else 0).
    pub term_absent: Column<f32>,
    /// Analysed length of each document.
    pub doc_lengths: Column<u32>,
}

/// A BM25 index over documents numbered `0..num_docs()` in insertion order.
///
/// Build with [`crate::Bm25Builder`], persist with [`Bm25Index::save`], reopen (memory-mapped)
/// with [`Bm25Index::open`]. Searching is exact: every document containing a query term is
/// scored; results are ordered by score, ties by lower ordinal.
pub struct Bm25Index {
    pub(crate) analyzer: Analyzer,
    pub(crate) params: Bm25Params,
    pub(crate) data: IndexData,
}

/// Per-thread search buffers: a dense score accumulator and a bitmap of the documents touched,
/// so collecting and resetting costs O(touched + span of touched words), not O(num_docs) work.
#[derive(Default)]
struct SearchScratch {
    acc: Vec<f32>,
    seen: Vec<u64>,
    keys: Vec<u64>,
    analysis: Scratch,
    terms: Vec<String>,
}

thread_local! {
    static SCRATCH: RefCell<SearchScratch> = RefCell::new(SearchScratch::default());
}

impl Bm25Index {
    pub(crate) fn from_data(analyzer: Analyzer, params: Bm25Params, data: IndexData) -> Self {
        Bm25Index {
            analyzer,
            params,
            data,
        }
    }

    /// Number of documents (ordinals are `0..num_docs()`).
    pub fn num_docs(&self) -> usize {
        self.data.num_docs as usize
    }

    /// Number of distinct terms.
    pub fn num_terms(&self) -> usize {
        self.data.term_offsets.len().saturating_sub(1)
    }

    /// Number of (term, document) postings.
    pub fn num_postings(&self) -> usize {
        self.data.postings_docs.len()
    }

    /// Mean analysed document length used by the scores.
    pub fn avgdl(&self) -> f32 {
        self.data.avgdl
    }

    /// The analyzer configuration (documents and queries are analysed with it).
    pub fn config(&self) -> &AnalyzerConfig {
        self.analyzer.config()
    }

    /// The BM25 parameters the scores were computed with.
    pub fn params(&self) -> &Bm25Params {
        &self.params
    }

    /// The analyzer, e.g. to show how a query is analysed.
    pub fn analyzer(&self) -> &Analyzer {
        &self.analyzer
    }

    /// Analysed length of document `doc` (None when out of range).
    pub fn doc_length(&self, doc: u32) -> Option<u32> {
        self.data.doc_lengths.as_slice().get(doc as usize).copied()
    }

    /// Term id of `term` (an analysed term) by binary search over the sorted vocabulary.
    pub fn term_id(&self, term: &str) -> Option<u32> {
        let offsets = self.data.term_offsets.as_slice();
        let bytes = self.data.term_bytes.as_slice();
        let key = term.as_bytes();
        let (mut lo, mut hi) = (0usize, offsets.len().saturating_sub(1));
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            let t = &bytes[offsets[mid] as usize..offsets[mid + 1] as usize];
            match t.cmp(key) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid as u32),
            }
        }
        None
    }

    /// Number of documents containing the analysed `term`.
    pub fn doc_freq(&self, term: &str) -> u64 {
        let off = self.data.postings_offsets.as_slice();
        self.term_id(term)
            .map(|t| off[t as usize + 1] - off[t as usize])
            .unwrap_or(0)
    }

    /// The best `k` documents for `query` (analysed like the documents). A query with no
    /// indexed term (empty, only stopwords, unknown words) returns no hits.
    ///
    /// A term repeated in the query counts that many times (as Pyserini's bag-of-words query,
    /// which boosts each distinct term by its count).
    pub fn search(&self, query: &str, k: usize) -> Vec<Hit> {
        SCRATCH.with(|s| self.search_with(query, k, &mut s.borrow_mut()))
    }

    /// [`Bm25Index::search`] for many queries on all rayon threads; results in query order.
    pub fn search_batch(&self, queries: &[&str], k: usize) -> Vec<Vec<Hit>> {
        queries.par_iter().map(|q| self.search(q, k)).collect()
    }

    /// Search with explicit analysed terms and weights (a term's weight multiplies its score).
    pub fn search_terms(&self, terms: &[(&str, f32)], k: usize) -> Vec<Hit> {
        SCRATCH.with(|s| {
            let weighted: Vec<(u32, f32)> = terms
                .iter()
                .filter_map(|&(t, w)| self.term_id(t).map(|id| (id, w)))
                .collect();
            self.score_terms(&weighted, k, &mut s.borrow_mut())
        })
    }

    fn search_with(&self, query: &str, k: usize, s: &mut SearchScratch) -> Vec<Hit> {
        let SearchScratch {
            analysis, terms, ..
        } = s;
        terms.clear();
        self.analyzer
            .analyze_with(query, analysis, |t| terms.push(t.to_owned()));
        terms.sort_unstable();
        let mut weighted: Vec<(u32, f32)> = Vec::with_capacity(terms.len());
        let mut i = 0;
        while i < terms.len() {
            let mut j = i + 1;
            while j < terms.len() && terms[j] == terms[i] {
                j += 1;
            }
            if let Some(id) = self.term_id(&terms[i]) {
                weighted.push((id, (j - i) as f32));
            }
            i = j;
        }
        self.score_terms(&weighted, k, s)
    }

    fn score_terms(&self, weighted: &[(u32, f32)], k: usize, s: &mut SearchScratch) -> Vec<Hit> {
        if weighted.is_empty() || k == 0 {
            return Vec::new();
        }
        let n = self.num_docs();
        if s.acc.len() < n {
            s.acc.resize(n, 0.0);
            s.seen.resize(n.div_ceil(64), 0);
        }
        let offsets = self.data.postings_offsets.as_slice();
        let docs = self.data.postings_docs.as_slice();
        let scores = self.data.postings_scores.as_slice();
        let absent = self.data.term_absent.as_slice();
        let acc = &mut s.acc[..n];
        let seen = &mut s.seen[..n.div_ceil(64)];
        // Words of `seen` that may hold a bit: postings are sorted, so first/last bound them.
        let (mut lo, mut hi) = (usize::MAX, 0usize);
        let mut constant = 0f32;
        for &(t, w) in weighted {
            let t = t as usize;
            constant += w * absent[t];
            let (start, end) = (offsets[t] as usize, offsets[t + 1] as usize);
            let (term_docs, term_scores) = (&docs[start..end], &scores[start..end]);
            let (Some(&first), Some(&last)) = (term_docs.first(), term_docs.last()) else {
                continue;
            };
            lo = lo.min(first as usize >> 6);
            hi = hi.max(last as usize >> 6);
            // Marking is branch-free; the touched documents are read back from the bitmap.
            // A weight of 1 (the usual case) skips the multiply, which would not change a bit.
            if w == 1.0 {
                for (&d, &sc) in term_docs.iter().zip(term_scores) {
                    let d = d as usize;
                    seen[d >> 6] |= 1u64 << (d & 63);
                    acc[d] += sc;
                }
            } else {
                for (&d, &sc) in term_docs.iter().zip(term_scores) {
                    let d = d as usize;
                    seen[d >> 6] |= 1u64 << (d & 63);
                    acc[d] += w * sc;
                }
            }
        }
        let keys = &mut s.keys;
        keys.clear();
        if lo <= hi {
            for (wi, word) in seen[lo..=hi].iter_mut().enumerate() {
                let mut bits = std::mem::take(word);
                let base = (lo + wi) << 6;
                while bits != 0 {
                    let d = base + bits.trailing_zeros() as usize;
                    bits &= bits - 1;
                    keys.push(rank_key(acc[d] + constant, d as u32));
                    acc[d] = 0.0;
                }
            }
        }
        top_k_keys(keys, k)
    }
}

impl std::fmt::Debug for Bm25Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bm25Index")
            .field("num_docs", &self.num_docs())
            .field("num_terms", &self.num_terms())
            .field("num_postings", &self.num_postings())
            .field("config", self.config())
            .field("params", &self.params)
            .finish()
    }
}
