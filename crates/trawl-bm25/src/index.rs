//! The searchable index: sorted vocabulary, block-coded postings with score bounds, exact top-k
//! (pruned by default, exhaustive on request).

use std::cell::RefCell;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use std::sync::atomic::{AtomicU8, Ordering};

use crate::analysis::{Analyzer, AnalyzerConfig, Scratch};
use crate::blocks::{self, BLOCK_LEN};
use crate::column::Column;
use crate::params::{Bm25Method, Bm25Params, CollectionStats, Scorer};
use crate::smallfloat::int_to_byte4;
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
    /// Cumulative document frequencies: term `t` has `postings_offsets[t+1] - postings_offsets[t]`
    /// postings.
    pub postings_offsets: Column<u64>,
    /// Blocks of term `t`: `term_blocks[t]..term_blocks[t+1]` (see [`crate::blocks`]).
    pub term_blocks: Column<u64>,
    /// Per term: the largest score contribution of any of its postings.
    pub term_max: Column<f32>,
    /// Per block: its last (largest) document ordinal.
    pub block_last: Column<u32>,
    /// Per block: the largest score contribution of its postings.
    pub block_max: Column<f32>,
    /// Bytes of block `b`: `postings[block_offsets[b]..block_offsets[b+1]]`.
    pub block_offsets: Column<u64>,
    /// The encoded blocks, concatenated.
    pub postings: Column<u8>,
    /// Per term: the score of a document *without* it (BM25L / BM25+ only, else 0).
    pub term_absent: Column<f32>,
    /// Analysed length of each document.
    pub doc_lengths: Column<u32>,
}

/// A BM25 index over documents numbered `0..num_docs()` in insertion order.
///
/// Build with [`crate::Bm25Builder`], persist with [`Bm25Index::save`], reopen (memory-mapped)
/// with [`Bm25Index::open`]. Searching is exact: results are the documents with the highest
/// scores, ordered by score, ties by lower ordinal. [`Bm25Index::search`] may skip documents
/// that cannot enter the top k (block-max MaxScore, see [`Strategy`]) and returns the same
/// hits, scores and order as [`Bm25Index::search_exhaustive`], which scores every document
/// containing a query term.
pub struct Bm25Index {
    pub(crate) analyzer: Analyzer,
    pub(crate) params: Bm25Params,
    pub(crate) data: IndexData,
    pub(crate) scorer: Scorer,
    /// Lucene only: each document's one-byte length norm (empty for the other methods).
    norms: Vec<u8>,
    /// The [`Strategy`] of [`Bm25Index::search`], as its `u8` tag.
    strategy: AtomicU8,
}

/// Per-thread search buffers: a dense score accumulator and a bitmap of the documents touched,
/// so collecting and resetting costs O(touched + span of touched words), not O(num_docs) work.
struct SearchScratch {
    acc: Vec<f32>,
    seen: Vec<u64>,
    keys: Vec<u64>,
    analysis: Scratch,
    terms: Vec<String>,
    block_docs: Box<BlockBuf>,
    block_tfs: Box<BlockBuf>,
    block_scores: Vec<f32>,
}

pub(crate) type BlockBuf = [u32; BLOCK_LEN];

impl Default for SearchScratch {
    fn default() -> Self {
        SearchScratch {
            acc: Vec::new(),
            seen: Vec::new(),
            keys: Vec::new(),
            analysis: Scratch::default(),
            terms: Vec::new(),
            block_docs: Box::new([0; BLOCK_LEN]),
            block_tfs: Box::new([0; BLOCK_LEN]),
            block_scores: Vec::with_capacity(BLOCK_LEN),
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<SearchScratch> = RefCell::new(SearchScratch::default());
}

/// How [`Bm25Index::search`] finds the top k. Every strategy returns the same hits, scores and
/// order; they differ in speed only.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[repr(u8)]
pub enum Strategy {
    /// Document-at-a-time block-max MaxScore when the query's postings are many per wanted hit
    /// (at least [`AUTO_POSTINGS_PER_HIT`] × k), otherwise exhaustive: where each measured
    /// faster (the default).
    #[default]
    Auto = 0,
    /// Document-at-a-time block-max MaxScore (PISA's `block_max_maxscore`).
    DocAtATime = 1,
    /// Block-max MaxScore over windows of documents (Lucene's `MaxScoreBulkScorer` scheme).
    Windowed = 2,
    /// Score every document containing a query term (term-at-a-time): the reference.
    Exhaustive = 3,
}

/// [`Strategy::Auto`] prunes when the query terms' postings number at least this many times k.
/// Below it, skipping saves too little to pay for going document by document (measured on
/// generated 200k/1M-document corpora and BEIR; see bench/bm25_scale.py).
pub const AUTO_POSTINGS_PER_HIT: u64 = 4000;

impl Strategy {
    fn from_tag(tag: u8) -> Strategy {
        match tag {
            1 => Strategy::DocAtATime,
            2 => Strategy::Windowed,
            3 => Strategy::Exhaustive,
            _ => Strategy::Auto,
        }
    }
}

impl Bm25Index {
    pub(crate) fn from_data(
        analyzer: Analyzer,
        params: Bm25Params,
        stats: CollectionStats,
        data: IndexData,
    ) -> Self {
        let scorer = Scorer::new(params, stats);
        let norms = if params.method == Bm25Method::Lucene {
            data.doc_lengths
                .as_slice()
                .iter()
                .map(|&l| int_to_byte4(l))
                .collect()
        } else {
            Vec::new()
        };
        Bm25Index {
            analyzer,
            params,
            data,
            scorer,
            norms,
            strategy: AtomicU8::new(Strategy::default() as u8),
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
        self.data
            .postings_offsets
            .as_slice()
            .last()
            .map_or(0, |&n| n as usize)
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
        self.term_id(term).map(|t| self.df(t)).unwrap_or(0)
    }

    pub(crate) fn df(&self, t: u32) -> u64 {
        let off = self.data.postings_offsets.as_slice();
        off[t as usize + 1] - off[t as usize]
    }

    /// Makes every later search of this index exhaustive (`true`) or pruned again (`false`):
    /// for checking and benchmarking the two paths on one opened index.
    pub fn set_exhaustive(&self, exhaustive: bool) {
        let s = if exhaustive {
            Strategy::Exhaustive
        } else {
            Strategy::default()
        };
        self.set_strategy(s);
    }

    /// Chooses how later searches of this index find the top k (all strategies return the same
    /// results; for measuring them against each other).
    pub fn set_strategy(&self, strategy: Strategy) {
        self.strategy.store(strategy as u8, Ordering::Relaxed);
    }

    fn mode(&self) -> Strategy {
        Strategy::from_tag(self.strategy.load(Ordering::Relaxed))
    }

    /// The best `k` documents for `query` (analysed like the documents). A query with no
    /// indexed term (empty, only stopwords, unknown words) returns no hits.
    ///
    /// A term repeated in the query counts that many times (as Pyserini's bag-of-words query,
    /// which boosts each distinct term by its count).
    pub fn search(&self, query: &str, k: usize) -> Vec<Hit> {
        SCRATCH.with(|s| self.search_with(query, k, self.mode(), &mut s.borrow_mut()))
    }

    /// [`Bm25Index::search`] scoring every document that contains a query term: the reference
    /// the pruned search is tested against (same hits, scores and order).
    pub fn search_exhaustive(&self, query: &str, k: usize) -> Vec<Hit> {
        SCRATCH.with(|s| self.search_with(query, k, Strategy::Exhaustive, &mut s.borrow_mut()))
    }

    /// [`Bm25Index::search`] for many queries on all rayon threads; results in query order.
    pub fn search_batch(&self, queries: &[&str], k: usize) -> Vec<Vec<Hit>> {
        queries.par_iter().map(|q| self.search(q, k)).collect()
    }

    /// Search with explicit analysed terms and weights (a term's weight multiplies its score).
    pub fn search_terms(&self, terms: &[(&str, f32)], k: usize) -> Vec<Hit> {
        self.search_terms_with(terms, k, self.mode())
    }

    /// [`Bm25Index::search_terms`], exhaustively.
    pub fn search_terms_exhaustive(&self, terms: &[(&str, f32)], k: usize) -> Vec<Hit> {
        self.search_terms_with(terms, k, Strategy::Exhaustive)
    }

    fn search_terms_with(&self, terms: &[(&str, f32)], k: usize, mode: Strategy) -> Vec<Hit> {
        SCRATCH.with(|s| {
            let weighted: Vec<(u32, f32)> = terms
                .iter()
                .filter_map(|&(t, w)| self.term_id(t).map(|id| (id, w)))
                .collect();
            self.score_terms(&weighted, k, mode, &mut s.borrow_mut())
        })
    }

    fn search_with(
        &self,
        query: &str,
        k: usize,
        mode: Strategy,
        s: &mut SearchScratch,
    ) -> Vec<Hit> {
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
        self.score_terms(&weighted, k, mode, s)
    }

    /// Whether pruning is sound for these terms: every contribution must be >= 0 (weights > 0
    /// and a method whose postings never score below 0; BM25L/BM25+ subtract the absent-term
    /// score, which float rounding could push a hair below 0).
    fn prunable(&self, weighted: &[(u32, f32)]) -> bool {
        matches!(
            self.params.method,
            Bm25Method::Lucene | Bm25Method::Robertson | Bm25Method::Atire
        ) && weighted.iter().all(|&(_, w)| w > 0.0 && w.is_finite())
    }

    fn score_terms(
        &self,
        weighted: &[(u32, f32)],
        k: usize,
        mode: Strategy,
        s: &mut SearchScratch,
    ) -> Vec<Hit> {
        if weighted.is_empty() || k == 0 {
            return Vec::new();
        }
        if mode == Strategy::Exhaustive || !self.prunable(weighted) {
            return self.exhaustive_top_k(weighted, k, s);
        }
        match mode {
            Strategy::DocAtATime => crate::maxscore::top_k(self, weighted, k),
            Strategy::Windowed => crate::window::top_k(self, weighted, k),
            _ => {
                let postings: u64 = weighted.iter().map(|&(t, _)| self.df(t)).sum();
                if postings >= AUTO_POSTINGS_PER_HIT.saturating_mul(k as u64) {
                    crate::maxscore::top_k(self, weighted, k)
                } else {
                    self.exhaustive_top_k(weighted, k, s)
                }
            }
        }
    }

    /// The scorer of term `t`'s postings.
    pub(crate) fn term_scorer(&self, t: u32) -> TermScorer<'_> {
        let df = self.df(t);
        let idf = self.scorer.idf(df);
        // The table costs 256 scores: worth it for a long list only.
        let tf1 = (!self.norms.is_empty() && df >= TF1_TABLE_MIN_DF).then(|| {
            let mut table = [0f32; 256];
            for (norm, v) in table.iter_mut().enumerate() {
                *v = self.scorer.lucene_score(idf, 1, norm as u8);
            }
            table
        });
        TermScorer {
            idf,
            tf1,
            scorer: &self.scorer,
            norms: &self.norms,
            lengths: self.data.doc_lengths.as_slice(),
        }
    }

    /// Blocks of term `t` as (first block, end block).
    #[inline]
    pub(crate) fn blocks_of(&self, t: u32) -> (usize, usize) {
        let tb = self.data.term_blocks.as_slice();
        (tb[t as usize] as usize, tb[t as usize + 1] as usize)
    }

    /// Term-at-a-time over every posting of every query term, into a dense accumulator.
    fn exhaustive_top_k(
        &self,
        weighted: &[(u32, f32)],
        k: usize,
        s: &mut SearchScratch,
    ) -> Vec<Hit> {
        let n = self.num_docs();
        if s.acc.len() < n {
            s.acc.resize(n, 0.0);
            s.seen.resize(n.div_ceil(64), 0);
        }
        let absent = self.data.term_absent.as_slice();
        let block_last = self.data.block_last.as_slice();
        let SearchScratch {
            acc,
            seen,
            keys,
            block_docs,
            block_tfs,
            block_scores,
            ..
        } = s;
        let acc = &mut acc[..n];
        let seen = &mut seen[..n.div_ceil(64)];
        // Words of `seen` that may hold a bit: postings are sorted, so first/last bound them.
        let (mut lo, mut hi) = (usize::MAX, 0usize);
        let mut constant = 0f32;
        for &(t, w) in weighted {
            constant += w * absent[t as usize];
            let df = self.df(t) as usize;
            let scorer = self.term_scorer(t);
            let (first_block, end_block) = self.blocks_of(t);
            if first_block == end_block {
                continue;
            }
            for b in first_block..end_block {
                let len = (df - (b - first_block) * BLOCK_LEN).min(BLOCK_LEN);
                let initial = (b > first_block).then(|| block_last[b - 1]);
                self.decode_into(b, len, initial, block_docs, block_tfs);
                let docs = &block_docs[..len];
                block_scores.clear();
                block_scores.extend(
                    docs.iter()
                        .zip(&block_tfs[..len])
                        .map(|(&d, &tf)| scorer.score(tf, d)),
                );
                if b == first_block {
                    lo = lo.min(docs[0] as usize >> 6);
                }
                // Marking is branch-free; the touched documents are read back from the bitmap.
                // A weight of 1 (the usual case) skips the multiply, which would not change a bit.
                if w == 1.0 {
                    for (&d, &sc) in docs.iter().zip(block_scores.iter()) {
                        let d = d as usize;
                        seen[d >> 6] |= 1u64 << (d & 63);
                        acc[d] += sc;
                    }
                } else {
                    for (&d, &sc) in docs.iter().zip(block_scores.iter()) {
                        let d = d as usize;
                        seen[d >> 6] |= 1u64 << (d & 63);
                        acc[d] += w * sc;
                    }
                }
            }
            hi = hi.max(block_last[end_block - 1] as usize >> 6);
        }
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

    /// Decodes block `b` of `len` postings whose deltas start after `initial`.
    #[inline]
    pub(crate) fn decode_into(
        &self,
        b: usize,
        len: usize,
        initial: Option<u32>,
        docs: &mut BlockBuf,
        tfs: &mut BlockBuf,
    ) {
        let off = self.data.block_offsets.as_slice();
        let bytes = &self.data.postings.as_slice()[off[b] as usize..off[b + 1] as usize];
        blocks::decode(bytes, len, initial, docs, tfs);
    }
}

/// Document frequency from which a term's tf = 1 scores are tabulated.
const TF1_TABLE_MIN_DF: u64 = 1024;

/// Scores one term's postings with the index's one scoring function (the stored block maxima
/// were computed with it too). For long lists, Lucene's tf = 1 scores are tabulated per length
/// norm: the same values, without a division per posting.
pub(crate) struct TermScorer<'a> {
    idf: f32,
    tf1: Option<[f32; 256]>,
    scorer: &'a Scorer,
    norms: &'a [u8],
    lengths: &'a [u32],
}

impl TermScorer<'_> {
    #[inline]
    pub(crate) fn score(&self, tf: u32, doc: u32) -> f32 {
        match &self.tf1 {
            Some(table) => {
                let norm = self.norms[doc as usize];
                if tf == 1 {
                    table[norm as usize]
                } else {
                    self.scorer.lucene_score(self.idf, tf, norm)
                }
            }
            None => self
                .scorer
                .posting_score(self.idf, tf, self.lengths[doc as usize]),
        }
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
