//! Building an index: analyse documents in parallel (rayon), gather per-document term counts,
//! then lay out postings term by term with precomputed scores. The in-memory [`Bm25Builder`]
//! and the bounded-memory [`crate::Bm25Writer`] share every step here.

use rayon::prelude::*;

use crate::analysis::{Analyzer, AnalyzerConfig, Scratch};
use crate::hash::FxMap;
use crate::index::{Bm25Index, IndexData};
use crate::params::{Bm25Params, CollectionStats, Scorer};
use crate::{blocks, column::Column, Error, Result};

/// Documents analysed per rayon task: large enough that per-chunk vocabularies and the merge
/// stay cheap, small enough to balance the threads.
fn chunk_size(docs: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    (docs / (threads * 4)).clamp(64, 16_384)
}

/// One chunk's analysis, with chunk-local term ids.
#[derive(Default)]
struct ChunkTerms {
    local_terms: Vec<String>,
    /// (local term id, tf) for each document, concatenated.
    entries: Vec<(u32, u32)>,
    /// End of each document's entries.
    doc_ends: Vec<usize>,
    lengths: Vec<u32>,
}

fn analyze_chunk(analyzer: &Analyzer, docs: &[&str], scratch: &mut Scratch) -> ChunkTerms {
    let mut out = ChunkTerms::default();
    let mut local: FxMap<String, u32> = FxMap::default();
    let mut ids: Vec<u32> = Vec::new();
    for text in docs {
        ids.clear();
        analyzer.analyze_with(text, scratch, |term| {
            let id = match local.get(term) {
                Some(&id) => id,
                None => {
                    let id = out.local_terms.len() as u32;
                    out.local_terms.push(term.to_owned());
                    local.insert(term.to_owned(), id);
                    id
                }
            };
            ids.push(id);
        });
        out.lengths.push(ids.len() as u32);
        ids.sort_unstable();
        let mut i = 0;
        while i < ids.len() {
            let mut j = i + 1;
            while j < ids.len() && ids[j] == ids[i] {
                j += 1;
            }
            out.entries.push((ids[i], (j - i) as u32));
            i = j;
        }
        out.doc_ends.push(out.entries.len());
    }
    out
}

/// Postings of a run of documents as analysed: a vocabulary in first-seen order and each
/// document's (term id, tf) entries. What [`Bm25Builder`] holds, and what the bounded-memory
/// [`crate::Bm25Writer`] holds between two flushes.
pub(crate) struct Accumulator {
    vocab: FxMap<Box<str>, u32>,
    terms: Vec<Box<str>>,
    /// Bytes of the terms in `terms`.
    term_bytes: u64,
    /// (term id, tf) per document, concatenated; `doc_starts[d]..doc_starts[d+1]`.
    entries: Vec<(u32, u32)>,
    doc_starts: Vec<u64>,
    pub(crate) lengths: Vec<u32>,
}

/// An [`Accumulator`]'s postings term by term: terms sorted (bytewise), each term's documents
/// (ordinals relative to the run's first document, increasing) and term frequencies.
pub(crate) struct Inverted {
    pub term_bytes: Vec<u8>,
    pub term_offsets: Vec<u64>,
    /// Cumulative document frequencies: term `t`'s postings are `offsets[t]..offsets[t+1]`.
    pub postings_offsets: Vec<u64>,
    pub docs: Vec<u32>,
    pub tfs: Vec<u32>,
}

impl Default for Accumulator {
    fn default() -> Self {
        Accumulator {
            vocab: FxMap::default(),
            terms: Vec::new(),
            term_bytes: 0,
            entries: Vec::new(),
            doc_starts: vec![0],
            lengths: Vec::new(),
        }
    }
}

impl Accumulator {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    pub(crate) fn num_docs(&self) -> usize {
        self.lengths.len()
    }

    /// Bytes this accumulator will need at its peak, while [`Accumulator::invert`] holds both
    /// the entries (as allocated: a growing vector may hold up to twice its length) and the
    /// postings (8 bytes each), with the vocabulary (each term twice, map and list, with
    /// allocator and table overhead) and the per-document arrays.
    pub(crate) fn peak_bytes(&self) -> u64 {
        self.entries.capacity() as u64 * 8
            + self.entries.len() as u64 * 8
            + (self.doc_starts.capacity() as u64 + self.lengths.capacity() as u64) * 8
            + self.terms.len() as u64 * 96
            + 2 * self.term_bytes
    }

    /// Analyses `docs` on all rayon threads and appends them, in order, one chunk at a time;
    /// `after_chunk` runs after each chunk is appended (a bounded builder flushes there).
    pub(crate) fn add_documents<E>(
        &mut self,
        analyzer: &Analyzer,
        docs: &[&str],
        mut after_chunk: impl FnMut(&mut Self) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E> {
        let chunks: Vec<ChunkTerms> = docs
            .par_chunks(chunk_size(docs.len()))
            .map_init(Scratch::default, |scratch, c| {
                analyze_chunk(analyzer, c, scratch)
            })
            .collect();
        for chunk in chunks {
            self.merge(chunk);
            after_chunk(self)?;
        }
        Ok(())
    }

    fn merge(&mut self, chunk: ChunkTerms) {
        let global: Vec<u32> = chunk
            .local_terms
            .into_iter()
            .map(|t| {
                if let Some(&id) = self.vocab.get(t.as_str()) {
                    return id;
                }
                let id = self.terms.len() as u32;
                self.term_bytes += t.len() as u64;
                let t: Box<str> = t.into_boxed_str();
                self.terms.push(t.clone());
                self.vocab.insert(t, id);
                id
            })
            .collect();
        self.entries.extend(
            chunk
                .entries
                .iter()
                .map(|&(t, tf)| (global[t as usize], tf)),
        );
        let base = *self.doc_starts.last().expect("starts with 0");
        let mut prev = 0usize;
        for end in chunk.doc_ends {
            debug_assert!(end >= prev);
            prev = end;
            self.doc_starts.push(base + end as u64);
        }
        self.lengths.extend(chunk.lengths);
    }

    /// Inverts the postings (term order, then document order); returns them with the
    /// document lengths.
    pub(crate) fn invert(self) -> (Inverted, Vec<u32>) {
        let Accumulator {
            vocab,
            terms,
            entries,
            doc_starts,
            lengths,
            ..
        } = self;
        drop(vocab);
        let num_docs = lengths.len();
        // Sorted vocabulary: search looks terms up by binary search, even straight from mmap.
        let mut order: Vec<u32> = (0..terms.len() as u32).collect();
        order.par_sort_unstable_by(|&a, &b| terms[a as usize].cmp(&terms[b as usize]));
        let mut rank = vec![0u32; terms.len()];
        for (r, &old) in order.iter().enumerate() {
            rank[old as usize] = r as u32;
        }
        let mut term_bytes = Vec::with_capacity(terms.iter().map(|t| t.len()).sum());
        let mut term_offsets = Vec::with_capacity(terms.len() + 1);
        term_offsets.push(0u64);
        for &old in &order {
            term_bytes.extend_from_slice(terms[old as usize].as_bytes());
            term_offsets.push(term_bytes.len() as u64);
        }
        drop(terms);
        drop(order);

        // Document frequencies -> posting offsets.
        let mut df = vec![0u64; rank.len()];
        for &(t, _) in &entries {
            df[rank[t as usize] as usize] += 1;
        }
        let mut postings_offsets = Vec::with_capacity(df.len() + 1);
        postings_offsets.push(0u64);
        let mut acc = 0u64;
        for &d in &df {
            acc += d;
            postings_offsets.push(acc);
        }
        drop(df);

        // Fill postings in document order, so each list is sorted by ordinal.
        let total = acc as usize;
        let mut docs = vec![0u32; total];
        let mut tfs = vec![0u32; total];
        let mut cursor: Vec<u64> = postings_offsets[..rank.len()].to_vec();
        for d in 0..num_docs {
            let (s, e) = (doc_starts[d] as usize, doc_starts[d + 1] as usize);
            for &(t, tf) in &entries[s..e] {
                let r = rank[t as usize] as usize;
                let p = cursor[r] as usize;
                cursor[r] += 1;
                docs[p] = d as u32;
                tfs[p] = tf;
            }
        }
        (
            Inverted {
                term_bytes,
                term_offsets,
                postings_offsets,
                docs,
                tfs,
            },
            lengths,
        )
    }
}

/// The collection statistics of documents with these lengths (fails past u32::MAX documents).
pub(crate) fn collection_stats(lengths: &[u32]) -> Result<CollectionStats> {
    if lengths.len() > u32::MAX as usize {
        return Err(Error::TooManyDocuments {
            max: u32::MAX as u64,
        });
    }
    Ok(CollectionStats {
        num_docs: lengths.len() as u64,
        docs_with_terms: lengths.iter().filter(|&&l| l > 0).count() as u64,
        total_terms: lengths.iter().map(|&l| l as u64).sum(),
    })
}

/// Every posting's score (`offsets` delimit terms in `docs`/`tfs`), term by term in parallel.
pub(crate) fn score_postings(
    scorer: &Scorer,
    offsets: &[u64],
    docs: &[u32],
    tfs: &[u32],
    lengths: &[u32],
) -> Vec<f32> {
    let total = *offsets.last().expect("offsets start with 0") as usize;
    let mut scores = vec![0f32; total];
    let mut rest = scores.as_mut_slice();
    let mut chunks = Vec::with_capacity(offsets.len() - 1);
    for w in offsets.windows(2) {
        let (head, tail) = rest.split_at_mut((w[1] - w[0]) as usize);
        chunks.push(head);
        rest = tail;
    }
    chunks.into_par_iter().enumerate().for_each(|(t, out)| {
        let s = offsets[t] as usize;
        let idf = scorer.idf(offsets[t + 1] - offsets[t]);
        for (i, o) in out.iter_mut().enumerate() {
            *o = scorer.posting_score(idf, tfs[s + i], lengths[docs[s + i] as usize]);
        }
    });
    scores
}

/// Accumulates documents, then [`Bm25Builder::build`]s a [`Bm25Index`] in memory. For a
/// corpus larger than memory, [`crate::Bm25Writer`] builds the same index (the same bytes)
/// within a memory budget, straight to disk.
///
/// Document ordinals are assigned in insertion order, starting at 0.
pub struct Bm25Builder {
    analyzer: Analyzer,
    params: Bm25Params,
    acc: Accumulator,
}

impl Bm25Builder {
    /// A builder; fails on an invalid analyzer config or parameters.
    pub fn new(config: AnalyzerConfig, params: Bm25Params) -> Result<Self> {
        params.validate()?;
        Ok(Bm25Builder {
            analyzer: Analyzer::new(&config)?,
            params,
            acc: Accumulator::new(),
        })
    }

    /// Documents added so far.
    pub fn num_docs(&self) -> usize {
        self.acc.num_docs()
    }

    /// Adds one document (prefer [`Bm25Builder::add_documents`] for parallelism).
    pub fn add(&mut self, text: &str) -> &mut Self {
        self.add_documents(&[text])
    }

    /// Analyses `docs` on all rayon threads and appends them, in order.
    pub fn add_documents(&mut self, docs: &[&str]) -> &mut Self {
        let done: std::result::Result<(), std::convert::Infallible> =
            self.acc.add_documents(&self.analyzer, docs, |_| Ok(()));
        let Ok(()) = done;
        self
    }

    /// Lays out the postings and computes every posting's score.
    pub fn build(self) -> Result<Bm25Index> {
        let Bm25Builder {
            analyzer,
            params,
            acc,
        } = self;
        let stats = collection_stats(&acc.lengths)?;
        let scorer = Scorer::new(params, stats);
        let (inv, lengths) = acc.invert();
        let Inverted {
            term_bytes,
            term_offsets,
            postings_offsets,
            docs,
            tfs,
        } = inv;
        // Scores under this build's statistics.
        let posting_scores = score_postings(&scorer, &postings_offsets, &docs, &tfs, &lengths);
        let mut packed = pack_postings(&postings_offsets, &docs, &tfs, &lengths);
        drop(docs);
        drop(tfs);
        packed.term_blocks.push(packed.block_last.len() as u64);
        packed.block_offsets.push(packed.bytes.len() as u64);

        Ok(Bm25Index::from_data(
            analyzer,
            params,
            stats,
            IndexData {
                num_docs: stats.num_docs as u32,
                docs_with_terms: stats.docs_with_terms,
                total_terms: stats.total_terms,
                avgdl: scorer.avgdl(),
                term_bytes: Column::Owned(term_bytes),
                term_offsets: Column::Owned(term_offsets),
                postings_offsets: Column::Owned(postings_offsets),
                term_blocks: Column::Owned(packed.term_blocks),
                block_last: Column::Owned(packed.block_last),
                block_max_tf: Column::Owned(packed.block_max_tf),
                block_min_len: Column::Owned(packed.block_min_len),
                block_offsets: Column::Owned(packed.block_offsets),
                postings: Column::Owned(packed.bytes),
                doc_lengths: Column::Owned(lengths),
                posting_scores: Column::Owned(posting_scores),
            },
        ))
    }
}

/// Block-coded postings of a run of terms, with the score bounds beside them; `term_blocks`
/// and `block_offsets` hold each term's first block and each block's first byte, without the
/// closing entry (the caller appends it, or the next run's, rebased).
pub(crate) struct Packed {
    pub term_blocks: Vec<u64>,
    pub block_last: Vec<u32>,
    pub block_max_tf: Vec<u32>,
    pub block_min_len: Vec<u32>,
    pub block_offsets: Vec<u64>,
    pub bytes: Vec<u8>,
}

impl Packed {
    fn new() -> Packed {
        Packed {
            term_blocks: Vec::new(),
            block_last: Vec::new(),
            block_max_tf: Vec::new(),
            block_min_len: Vec::new(),
            block_offsets: Vec::new(),
            bytes: Vec::new(),
        }
    }
}

/// Terms packed per rayon task (then concatenated in term order).
const TERMS_PER_TASK: usize = 4096;

/// Encodes every term's postings (`offsets` delimit terms in `docs`/`tfs`) into blocks and
/// records each block's last document, largest tf and shortest document (`lengths`).
pub(crate) fn pack_postings(offsets: &[u64], docs: &[u32], tfs: &[u32], lengths: &[u32]) -> Packed {
    let num_terms = offsets.len() - 1;
    let parts: Vec<Packed> = (0..num_terms.div_ceil(TERMS_PER_TASK))
        .into_par_iter()
        .map(|task| {
            let terms = task * TERMS_PER_TASK..((task + 1) * TERMS_PER_TASK).min(num_terms);
            let mut p = Packed::new();
            for t in terms {
                let (s, e) = (offsets[t] as usize, offsets[t + 1] as usize);
                p.term_blocks.push(p.block_last.len() as u64);
                let mut initial = None;
                for (bd, bt) in docs[s..e]
                    .chunks(blocks::BLOCK_LEN)
                    .zip(tfs[s..e].chunks(blocks::BLOCK_LEN))
                {
                    p.block_offsets.push(p.bytes.len() as u64);
                    blocks::encode(initial, bd, bt, &mut p.bytes);
                    let last = *bd.last().expect("chunks are not empty");
                    p.block_last.push(last);
                    p.block_max_tf.push(bt.iter().copied().max().unwrap_or(0));
                    let min_len = bd.iter().map(|&d| lengths[d as usize]).min();
                    p.block_min_len.push(min_len.unwrap_or(0));
                    initial = Some(last);
                }
            }
            p
        })
        .collect();
    let mut out = Packed::new();
    out.bytes.reserve(parts.iter().map(|p| p.bytes.len()).sum());
    for p in parts {
        let (block_base, byte_base) = (out.block_last.len() as u64, out.bytes.len() as u64);
        out.term_blocks
            .extend(p.term_blocks.iter().map(|&b| b + block_base));
        out.block_last.extend(p.block_last);
        out.block_max_tf.extend(p.block_max_tf);
        out.block_min_len.extend(p.block_min_len);
        out.block_offsets
            .extend(p.block_offsets.iter().map(|&o| o + byte_base));
        out.bytes.extend(p.bytes);
    }
    out
}
