//! The searchable index: sorted vocabulary, block-coded postings with score bounds, exact top-k
//! (pruned by default, exhaustive on request).
//!
//! Two ways to score, bit-identical: a search with the index's own statistics (a plain index,
//! the common case) reads each posting's stored score on the exhaustive path, as format 1 did;
//! a search with other statistics (several segments with deletions, [`crate::Segments`], scored
//! with the live documents' N, average length and df) computes each score from the posting's tf
//! and its document's length (Lucene: `weight - weight / (1 + tf · cache[norm])`, Lucene's own
//! per-query formula). Why both: computing alone measured 0.65-0.85x of format 1 on BEIR
//! (examples/k_timing, interleaved A/B medians on the shared 2-core machine); with the stored
//! scores 0.80-0.90x (what remains is decoding the blocks), at 4 bytes per posting.

use std::cell::RefCell;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use std::sync::atomic::{AtomicU8, Ordering};

use crate::analysis::{Analyzer, AnalyzerConfig, Scratch};
use crate::blocks::{self, BLOCK_LEN};
use crate::column::Column;
use crate::params::{Bm25Method, Bm25Params, CollectionStats, Scorer};
use crate::smallfloat::int_to_byte4;
use crate::topk::{top_k_keys, KeyCut};

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
    /// Per block: its last (largest) document ordinal.
    pub block_last: Column<u32>,
    /// Per block: its largest term frequency and the shortest length of its documents. The
    /// score is non-decreasing in tf and non-increasing in length, so the score of this pair
    /// bounds the block's scores under any collection statistics: bounds follow N, avgdl and
    /// df at query time (live updates) instead of being frozen at build time.
    pub block_max_tf: Column<u32>,
    pub block_min_len: Column<u32>,
    /// Bytes of block `b`: `postings[block_offsets[b]..block_offsets[b+1]]`.
    pub block_offsets: Column<u64>,
    /// The encoded blocks, concatenated.
    pub postings: Column<u8>,
    /// Analysed length of each document.
    pub doc_lengths: Column<u32>,
    /// Per posting (in `postings_offsets` order): its score under the index's own statistics,
    /// the exhaustive path's fast case (a search with other statistics, e.g. over segments
    /// with deletions, computes scores from tf and length instead; the values are identical
    /// when the statistics are).
    pub posting_scores: Column<f32>,
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
    pub(crate) norms: Vec<u8>,
    /// Every posting's document ordinal, decoded once (in `postings_offsets` order), for indexes
    /// of at most [`FLAT_DOCS_MAX_POSTINGS`] postings (empty otherwise): with the stored scores,
    /// the exhaustive path then reads plain arrays, as format 1 did.
    flat_docs: Vec<u32>,
    /// The [`Strategy`] of [`Bm25Index::search`], as its `u8` tag.
    strategy: AtomicU8,
    /// Per term, under the index's own statistics: `idf bits << 32 | bound bits` of its
    /// largest block bound, or [`NO_BOUND`] until a search first needs it (see
    /// [`Bm25Index::own_term_bound`]).
    own_term_bounds: Vec<std::sync::atomic::AtomicU64>,
}

/// An entry of `own_term_bounds` not computed yet.
const NO_BOUND: u64 = u64::MAX;

/// Indexes up to this many postings keep their ordinals decoded in memory (4 bytes each, 32 MiB
/// at most). Decoding every block on each search cost BEIR-sized indexes 10-30% of their search
/// time against format 1's plain arrays (bench/bm25_ab.py, branch vs main, k=10 and 1000).
pub const FLAT_DOCS_MAX_POSTINGS: usize = 8 << 20;

/// Per-thread search buffers: the one-pass exhaustive search's dense score accumulator and bitmap
/// of the documents touched (collecting and resetting costs O(touched + span of touched words),
/// not O(num_docs)), and the chunked searches' accumulator whose slots mark themselves.
struct SearchScratch {
    acc: Vec<f32>,
    /// The chunked searches' accumulator (term at a time, exhaustive): -0.0 in every slot
    /// between searches.
    marked: Vec<f32>,
    /// The chunked exhaustive search's marks: a nonzero byte per touched word of 64 slots.
    marks: Vec<u8>,
    /// The chunked exhaustive search's touched documents, where it lists them.
    listed: Vec<u32>,
    seen: Vec<u64>,
    keys: Vec<u64>,
    analysis: Scratch,
    terms: Vec<String>,
    block_docs: Box<BlockBuf>,
    block_tfs: Box<BlockBuf>,
    block_scores: Box<[f32; BLOCK_LEN]>,
    taat: crate::taat::Scratch,
}

impl SearchScratch {
    /// Makes the accumulator whose slots say whether they were touched, and the exhaustive
    /// search's marks, cover `n` documents (new slots -0.0, new marks zero).
    fn grow_marked(&mut self, n: usize) {
        if self.marked.len() < n {
            self.marked.resize(n, -0.0);
            self.marks.resize(n.div_ceil(64), 0);
        }
    }

    /// Makes the accumulator and the bitmap cover `n` documents (new entries zero).
    fn grow_dense(&mut self, n: usize) {
        if self.acc.len() < n {
            self.acc.resize(n, 0.0);
            self.seen.resize(n.div_ceil(64), 0);
        }
    }
}

pub(crate) type BlockBuf = [u32; BLOCK_LEN];

impl Default for SearchScratch {
    fn default() -> Self {
        SearchScratch {
            acc: Vec::new(),
            marked: Vec::new(),
            marks: Vec::new(),
            listed: Vec::new(),
            seen: Vec::new(),
            keys: Vec::new(),
            analysis: Scratch::default(),
            terms: Vec::new(),
            block_docs: Box::new([0; BLOCK_LEN]),
            block_tfs: Box::new([0; BLOCK_LEN]),
            block_scores: Box::new([0.0; BLOCK_LEN]),
            taat: crate::taat::Scratch::default(),
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
    /// Term-at-a-time MaxScore ([`Strategy::TermAtATime`]) in a large index ([`AUTO_MIN_DOCS`])
    /// for small k ([`AUTO_DOCS_PER_K`]), otherwise exhaustive: where each measured faster (the
    /// default).
    #[default]
    Auto = 0,
    /// Document-at-a-time block-max MaxScore (PISA's `block_max_maxscore`).
    DocAtATime = 1,
    /// Block-max MaxScore over windows of documents (Lucene's `MaxScoreBulkScorer` scheme).
    Windowed = 2,
    /// Score every document containing a query term (term-at-a-time): the reference.
    Exhaustive = 3,
    /// Document-at-a-time block-max WAND (PISA's `block_max_wand`).
    BlockMaxWand = 4,
    /// MaxScore term at a time: the rarest lists first into the dense accumulator, then the
    /// frequent ones only at the documents that can still enter (added, or probed through
    /// their blocks when those documents are few).
    TermAtATime = 5,
}

/// [`Strategy::Auto`] prunes (term-at-a-time MaxScore) only for k up to the number of documents
/// over this. Measured per query on bench/bm25_scale.py's corpora (2,000 queries of 2-10 words
/// drawn with the corpus's frequencies; examples/prune_timing PRUNE_TIMING_COMPARE=k, best of
/// 2 per query, one thread), against the exhaustive search in chunks: at 1M documents
/// term-at-a-time MaxScore made 1.24x the exhaustive queries/s at k=30, 1.08x at k=50 and 0.90x
/// at k=100; at 8.8M 1.71x at k=50, 1.43x at k=100 and 1.09x at k=300 (θ falls with k, until
/// it leaves no list out; the survivors are also scored twice). The cut falls between those:
/// k <= 40 at 1M, k <= 352 at 8.8M. The document-at-a-time strategies lost at k=10 too: their
/// θ rises only as the documents go by and they pay a merge step per document over every
/// essential list (DAAT MaxScore 0.9-1.1x the exhaustive time, windowed 1.1x, block-max WAND
/// 3-6x, whose block bounds here are close to the term bounds).
pub const AUTO_DOCS_PER_K: usize = 25_000;

/// See [`AUTO_DOCS_PER_K`]: in smaller indexes the exhaustive pass is cheap enough.
pub const AUTO_MIN_DOCS: usize = 250_000;

impl Strategy {
    fn from_tag(tag: u8) -> Strategy {
        match tag {
            1 => Strategy::DocAtATime,
            2 => Strategy::Windowed,
            3 => Strategy::Exhaustive,
            4 => Strategy::BlockMaxWand,
            5 => Strategy::TermAtATime,
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
        let mut index = Bm25Index {
            analyzer,
            params,
            data,
            scorer,
            norms,
            flat_docs: Vec::new(),
            strategy: AtomicU8::new(Strategy::default() as u8),
            own_term_bounds: Vec::new(),
        };
        index.own_term_bounds = (0..index.num_terms())
            .map(|_| std::sync::atomic::AtomicU64::new(NO_BOUND))
            .collect();
        if index.num_postings() <= FLAT_DOCS_MAX_POSTINGS {
            index.flat_docs = index.decode_all_docs();
        }
        index
    }

    /// Every posting's document ordinal, term by term.
    fn decode_all_docs(&self) -> Vec<u32> {
        let mut out = Vec::with_capacity(self.num_postings());
        let (mut docs, mut tfs) = (Box::new([0; BLOCK_LEN]), Box::new([0; BLOCK_LEN]));
        let block_last = self.data.block_last.as_slice();
        for t in 0..self.num_terms() as u32 {
            let df = self.df(t) as usize;
            let (first_block, end_block) = self.blocks_of(t);
            for b in first_block..end_block {
                let len = (df - (b - first_block) * BLOCK_LEN).min(BLOCK_LEN);
                let initial = (b > first_block).then(|| block_last[b - 1]);
                self.decode_into(b, len, initial, &mut docs, &mut tfs);
                out.extend_from_slice(&docs[..len]);
            }
        }
        out
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

    /// The strategy later searches use (see [`Bm25Index::set_strategy`]).
    pub fn strategy(&self) -> Strategy {
        self.mode()
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
        let weighted: Vec<(u32, f32)> = terms
            .iter()
            .filter_map(|&(t, w)| self.term_id(t).map(|id| (id, w)))
            .collect();
        let query = self.own_query(&weighted);
        SCRATCH.with(|s| self.top_k(&self.scorer, &query, k, mode, None, &mut s.borrow_mut()))
    }

    /// The distinct analysed terms of `query`, sorted, with their counts (the query's terms
    /// as every search path weighs them).
    pub(crate) fn query_terms(&self, query: &str) -> Vec<(String, f32)> {
        let mut terms: Vec<String> = Vec::new();
        SCRATCH.with(|s| {
            let s = &mut *s.borrow_mut();
            self.analyzer
                .analyze_with(query, &mut s.analysis, |t| terms.push(t.to_owned()));
        });
        terms.sort_unstable();
        let mut out: Vec<(String, f32)> = Vec::with_capacity(terms.len());
        for t in terms {
            match out.last_mut() {
                Some((last, n)) if *last == t => *n += 1.0,
                _ => out.push((t, 1.0)),
            }
        }
        out
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
        let query = self.own_query(&weighted);
        self.top_k(&self.scorer, &query, k, mode, None, s)
    }

    /// Query terms scored with this index's own statistics.
    fn own_query(&self, weighted: &[(u32, f32)]) -> Vec<QueryTerm> {
        weighted
            .iter()
            .map(|&(term, weight)| QueryTerm {
                term,
                weight,
                idf: self.scorer.idf(self.df(term)),
            })
            .collect()
    }

    /// Whether pruning is sound for these terms: every contribution must be >= 0 (weights > 0
    /// and a method whose postings never score below 0; BM25L/BM25+ subtract the absent-term
    /// score, which float rounding could push a hair below 0).
    fn prunable(scorer: &Scorer, query: &[QueryTerm]) -> bool {
        matches!(
            scorer.method(),
            Bm25Method::Lucene | Bm25Method::Robertson | Bm25Method::Atire
        ) && query.iter().all(|q| q.weight > 0.0 && q.weight.is_finite())
    }

    /// The best `k` documents of this index for `query` scored with `scorer` (this index's
    /// statistics, or those of a set of segments), leaving out the documents whose bit is set
    /// in `deleted`.
    pub(crate) fn top_k_with(
        &self,
        scorer: &Scorer,
        query: &[QueryTerm],
        k: usize,
        mode: Strategy,
        deleted: Option<&[u64]>,
    ) -> Vec<Hit> {
        SCRATCH.with(|s| self.top_k(scorer, query, k, mode, deleted, &mut s.borrow_mut()))
    }

    fn top_k(
        &self,
        scorer: &Scorer,
        query: &[QueryTerm],
        k: usize,
        mode: Strategy,
        deleted: Option<&[u64]>,
        s: &mut SearchScratch,
    ) -> Vec<Hit> {
        if query.is_empty() || k == 0 {
            return Vec::new();
        }
        let ctx = SearchCtx {
            index: self,
            scorer,
            deleted,
            stored: std::ptr::eq(scorer, &self.scorer).then(|| self.data.posting_scores.as_slice()),
        };
        if mode == Strategy::Exhaustive || !Self::prunable(scorer, query) {
            return self.exhaustive_top_k(&ctx, query, k, s);
        }
        match mode {
            Strategy::DocAtATime => crate::maxscore::top_k(&ctx, query, k),
            Strategy::Windowed => crate::window::top_k(&ctx, query, k),
            Strategy::BlockMaxWand => crate::bmw::top_k(&ctx, query, k),
            Strategy::TermAtATime => self.taat_top_k(&ctx, query, k, s),
            _ => {
                let n = self.num_docs();
                if n >= AUTO_MIN_DOCS && k <= n / AUTO_DOCS_PER_K {
                    self.taat_top_k(&ctx, query, k, s)
                } else {
                    self.exhaustive_top_k(&ctx, query, k, s)
                }
            }
        }
    }

    /// [`Strategy::TermAtATime`] with this thread's buffers.
    fn taat_top_k(
        &self,
        ctx: &SearchCtx,
        q: &[QueryTerm],
        k: usize,
        s: &mut SearchScratch,
    ) -> Vec<Hit> {
        let n = crate::taat::span(self.num_docs());
        s.grow_marked(n);
        crate::taat::top_k(ctx, q, k, &mut s.marked[..n], &mut s.taat)
    }

    /// The largest of term `t`'s block bounds (see [`TermScorer::bound`]) for `scorer`: computed
    /// over every block once per term and search statistics. Under the index's own statistics
    /// (`own`) it is kept for the next searches: a frequent term has thousands of blocks,
    /// whose bounds cost more than the rest of opening its cursor.
    pub(crate) fn term_bound(&self, t: u32, scorer: &TermScorer, own: bool) -> f32 {
        use std::sync::atomic::Ordering::Relaxed;
        let key = u64::from(scorer.idf.to_bits()) << 32;
        let memo = own.then(|| &self.own_term_bounds[t as usize]);
        if let Some(m) = memo {
            let v = m.load(Relaxed);
            if v != NO_BOUND && v & !0xffff_ffff == key {
                return f32::from_bits(v as u32);
            }
        }
        let (first, end) = self.blocks_of(t);
        let max_tf = &self.data.block_max_tf.as_slice()[first..end];
        let min_len = &self.data.block_min_len.as_slice()[first..end];
        let bound = max_tf
            .iter()
            .zip(min_len)
            .map(|(&tf, &len)| scorer.bound(tf, len))
            .fold(0f32, f32::max);
        if let Some(m) = memo {
            let v = key | u64::from(bound.to_bits());
            if v != NO_BOUND {
                m.store(v, Relaxed);
            }
        }
        bound
    }

    /// Blocks of term `t` as (first block, end block).
    #[inline]
    pub(crate) fn blocks_of(&self, t: u32) -> (usize, usize) {
        let tb = self.data.term_blocks.as_slice();
        (tb[t as usize] as usize, tb[t as usize + 1] as usize)
    }

    /// Calls `f(at, docs, tfs)` for each block of a term's list (blocks `first..end` holding
    /// `df` postings) that may hold documents in `lo..=hi`, with that block's postings in the
    /// range: `at`, the first one's place in the list (where its stored score is), their
    /// ordinals and, when `with_tfs`, their term frequencies (else `tfs` is empty). `from` is a
    /// block at or before the first of them (`first` for the list's start): it is moved to the
    /// last block read, where a following range starts at the earliest, so that a walk over
    /// increasing ranges decodes each block about once.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(crate) fn for_each_block_in(
        &self,
        (first, end): (usize, usize),
        df: usize,
        from: &mut usize,
        lo: u32,
        hi: u32,
        with_tfs: bool,
        (docs, tfs): (&mut BlockBuf, &mut BlockBuf),
        mut f: impl FnMut(usize, &[u32], &[u32]),
    ) {
        let last = self.data.block_last.as_slice();
        let mut b = (*from).max(first);
        while b < end && last[b] < lo {
            b += 1;
        }
        while b < end {
            let len = (df - (b - first) * BLOCK_LEN).min(BLOCK_LEN);
            let initial = (b > first).then(|| last[b - 1]);
            if initial.is_some_and(|prev| prev >= hi) {
                break; // the block starts past the range
            }
            if with_tfs {
                self.decode_into(b, len, initial, docs, tfs);
            } else {
                blocks::decode_docs(self.block_bytes(b), len, initial, docs);
            }
            let block = &docs[..len];
            let p0 = if block[0] >= lo {
                0
            } else {
                block.partition_point(|&x| x < lo)
            };
            let p1 = if block[len - 1] <= hi {
                len
            } else {
                block.partition_point(|&x| x <= hi)
            };
            let block_tfs: &[u32] = if with_tfs { &tfs[p0..p1] } else { &[] };
            f((b - first) * BLOCK_LEN + p0, &block[p0..p1], block_tfs);
            if last[b] >= hi {
                break; // a following range starts in this block at the earliest
            }
            b += 1;
        }
        *from = b;
    }

    /// Term-at-a-time over every posting of every query term, into a dense accumulator.
    fn exhaustive_top_k(
        &self,
        ctx: &SearchCtx,
        query: &[QueryTerm],
        k: usize,
        s: &mut SearchScratch,
    ) -> Vec<Hit> {
        let n = self.num_docs();
        if let (Some(stored), true) = (
            ctx.stored,
            crate::exhaustive::forced_chunk().is_some()
                || (self.flat_docs.is_empty() && n >= crate::exhaustive::MIN_DOCS),
        ) {
            s.grow_marked(crate::exhaustive::span(n));
            let SearchScratch {
                marked,
                marks,
                listed,
                keys,
                block_docs,
                ..
            } = s;
            return crate::exhaustive::top_k(
                ctx, query, k, stored, marked, marks, listed, keys, block_docs,
            );
        }
        s.grow_dense(n);
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
        let norms = &self.norms[..];
        let po = self.data.postings_offsets.as_slice();
        let lucene_cache = (!norms.is_empty()).then(|| ctx.scorer.lucene_cache());
        // Words of `seen` that may hold a bit: postings are sorted, so first/last bound them.
        let (mut lo, mut hi) = (usize::MAX, 0usize);
        let mut constant = 0f32;
        for q in query {
            let w = q.weight;
            constant += w * ctx.scorer.absent_score(q.idf);
            if q.term == NO_TERM {
                continue;
            }
            let df = self.df(q.term) as usize;
            let scorer = ctx.term_scorer(q.idf);
            let (first_block, end_block) = self.blocks_of(q.term);
            if first_block == end_block {
                continue;
            }
            if let (Some(stored), false) = (ctx.stored, self.flat_docs.is_empty()) {
                let (start, end) = (
                    po[q.term as usize] as usize,
                    po[q.term as usize + 1] as usize,
                );
                let (docs, scores) = (&self.flat_docs[start..end], &stored[start..end]);
                lo = lo.min(docs[0] as usize >> 6);
                hi = hi.max(docs[docs.len() - 1] as usize >> 6);
                // Marking is branch-free; the touched documents are read back from the bitmap.
                // A weight of 1 (the usual case) skips the multiply, which would not change a bit.
                if w == 1.0 {
                    for (&d, &sc) in docs.iter().zip(scores) {
                        let d = d as usize;
                        seen[d >> 6] |= 1u64 << (d & 63);
                        acc[d] += sc;
                    }
                } else {
                    for (&d, &sc) in docs.iter().zip(scores) {
                        let d = d as usize;
                        seen[d >> 6] |= 1u64 << (d & 63);
                        acc[d] += w * sc;
                    }
                }
                continue;
            }
            for b in first_block..end_block {
                let len = (df - (b - first_block) * BLOCK_LEN).min(BLOCK_LEN);
                let initial = (b > first_block).then(|| block_last[b - 1]);
                if let Some(stored) = ctx.stored {
                    // Ordinals only (the scores are stored), decoded straight into the
                    // accumulator. A weight of 1 (the usual case) skips the multiply, which
                    // would not change a bit.
                    let start = po[q.term as usize] as usize + (b - first_block) * BLOCK_LEN;
                    let scores = &stored[start..start + len];
                    let bytes = self.block_bytes(b);
                    let mut first = 0;
                    if w == 1.0 {
                        blocks::for_each_doc(bytes, len, initial, block_docs, |i, d| {
                            if i == 0 {
                                first = d;
                            }
                            let d = d as usize;
                            seen[d >> 6] |= 1u64 << (d & 63);
                            acc[d] += scores[i];
                        });
                    } else {
                        blocks::for_each_doc(bytes, len, initial, block_docs, |i, d| {
                            if i == 0 {
                                first = d;
                            }
                            let d = d as usize;
                            seen[d >> 6] |= 1u64 << (d & 63);
                            acc[d] += w * scores[i];
                        });
                    }
                    if b == first_block {
                        lo = lo.min(first as usize >> 6);
                    }
                    continue;
                }
                self.decode_into(b, len, initial, block_docs, block_tfs);
                let docs = &block_docs[..len];
                if b == first_block {
                    lo = lo.min(docs[0] as usize >> 6);
                }
                // Marking is branch-free; the touched documents are read back from the bitmap.
                if let (Some(cache), true) = (lucene_cache, w == 1.0) {
                    // Lucene, fused: score and accumulate in one pass (measured faster on BEIR
                    // than scoring the block into a buffer first).
                    let idf = q.idf;
                    for (&d, &tf) in docs.iter().zip(block_tfs[..len].iter()) {
                        let d = d as usize;
                        let ni = cache[norms[d] as usize];
                        seen[d >> 6] |= 1u64 << (d & 63);
                        acc[d] += idf - idf / (1.0 + tf as f32 * ni);
                    }
                    continue;
                }
                let scores = &mut block_scores[..len];
                scorer.score_block(docs, &block_tfs[..len], scores);
                if w == 1.0 {
                    for (&d, &sc) in docs.iter().zip(scores.iter()) {
                        let d = d as usize;
                        seen[d >> 6] |= 1u64 << (d & 63);
                        acc[d] += sc;
                    }
                } else {
                    for (&d, &sc) in docs.iter().zip(scores.iter()) {
                        let d = d as usize;
                        seen[d >> 6] |= 1u64 << (d & 63);
                        acc[d] += w * sc;
                    }
                }
            }
            hi = hi.max(block_last[end_block - 1] as usize >> 6);
        }
        keys.clear();
        let mut selected = KeyCut::new(k);
        if lo <= hi {
            let touched = crate::exhaustive::Touched {
                deleted: ctx.deleted,
                marks: crate::exhaustive::Marks::Bits(&mut seen[lo..=hi]),
                acc: &mut acc[lo << 6..],
                first_word: lo,
                constant,
            };
            crate::exhaustive::offer_touched(touched, &mut selected, keys);
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
        blocks::decode(self.block_bytes(b), len, initial, docs, tfs);
    }

    /// The bytes of block `b` and of the rest of the postings: short blocks then decode with
    /// plain 8-byte reads (the block's own length was checked when the index was opened).
    #[inline]
    pub(crate) fn block_bytes(&self, b: usize) -> &[u8] {
        let off = self.data.block_offsets.as_slice();
        &self.data.postings.as_slice()[off[b] as usize..]
    }
}

/// The term id of a query term that the searched segment does not hold (it still counts in
/// the statistics and, for BM25L/BM25+, in the absent-term score).
pub(crate) const NO_TERM: u32 = u32::MAX;

/// One query term: its id in the searched index, its weight (count in the query) and its idf
/// under the statistics the search scores with.
#[derive(Clone, Copy, Debug)]
pub(crate) struct QueryTerm {
    pub term: u32,
    pub weight: f32,
    pub idf: f32,
}

/// What one search over one index needs: the index, the scoring statistics, the deletions.
pub(crate) struct SearchCtx<'a> {
    pub index: &'a Bm25Index,
    pub scorer: &'a Scorer,
    /// Bit `d` set: document `d` is deleted and never returned.
    pub deleted: Option<&'a [u64]>,
    /// The stored posting scores, when `scorer` is the index's own.
    pub stored: Option<&'a [f32]>,
}

impl SearchCtx<'_> {
    /// The scorer of one query term's postings.
    pub(crate) fn term_scorer(&self, idf: f32) -> TermScorer<'_> {
        TermScorer {
            idf,
            scorer: self.scorer,
            norms: &self.index.norms,
            lengths: self.index.data.doc_lengths.as_slice(),
        }
    }

    /// Whether any document of the search is deleted (else [`SearchCtx::is_deleted`] is false).
    #[inline]
    pub(crate) fn has_deletions(&self) -> bool {
        self.deleted.is_some()
    }

    #[inline]
    pub(crate) fn is_deleted(&self, doc: u32) -> bool {
        self.deleted
            .is_some_and(|del| del[doc as usize >> 6] >> (doc & 63) & 1 == 1)
    }
}

/// Scores one term's postings from (tf, document length) with the statistics of the search:
/// the one scoring function of the exhaustive and the pruned paths (bit-identical scores).
pub(crate) struct TermScorer<'a> {
    idf: f32,
    scorer: &'a Scorer,
    /// Lucene only: each document's one-byte length norm.
    norms: &'a [u8],
    lengths: &'a [u32],
}

impl TermScorer<'_> {
    /// Score of a posting with frequency `tf` in document `doc`.
    #[inline]
    pub(crate) fn score(&self, tf: u32, doc: u32) -> f32 {
        if self.norms.is_empty() {
            self.scorer
                .posting_score(self.idf, tf, self.lengths[doc as usize])
        } else {
            self.scorer
                .lucene_score(self.idf, tf, self.norms[doc as usize])
        }
    }

    /// Scores of a block's postings into `out` (the same values as [`TermScorer::score`]).
    /// For Lucene the norm-inverse gather and the arithmetic are separate loops so that the
    /// second one vectorises (one division instruction for 4 postings).
    #[inline]
    pub(crate) fn score_block(&self, docs: &[u32], tfs: &[u32], out: &mut [f32]) {
        if self.norms.is_empty() {
            for ((o, &d), &tf) in out.iter_mut().zip(docs).zip(tfs) {
                *o = self.score(tf, d);
            }
            return;
        }
        let cache = self.scorer.lucene_cache();
        for (o, &d) in out.iter_mut().zip(docs) {
            *o = cache[self.norms[d as usize] as usize];
        }
        let idf = self.idf;
        for (o, &tf) in out.iter_mut().zip(tfs) {
            // Lucene 9 BM25Scorer.score, as Scorer::lucene_score.
            *o = idf - idf / (1.0 + tf as f32 * *o);
        }
    }

    /// An upper bound of the score of any posting with tf <= `max_tf` in a document of length
    /// >= `min_len` (the score is monotone in both, and float rounding is monotone too).
    #[inline]
    pub(crate) fn bound(&self, max_tf: u32, min_len: u32) -> f32 {
        if self.norms.is_empty() {
            self.scorer.posting_score(self.idf, max_tf, min_len)
        } else {
            self.scorer
                .lucene_score(self.idf, max_tf, int_to_byte4(min_len))
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
