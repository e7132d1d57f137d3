//! Building an index: analyse documents in parallel (rayon), gather per-document term counts,
//! then lay out postings term by term with precomputed scores.

use rayon::prelude::*;

use crate::analysis::{Analyzer, AnalyzerConfig, Scratch};
use crate::hash::FxMap;
use crate::index::{Bm25Index, IndexData};
use crate::params::{Bm25Params, CollectionStats, Scorer};
use crate::{column::Column, Error, Result};

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

/// Accumulates documents, then [`Bm25Builder::build`]s a [`Bm25Index`].
///
/// Document ordinals are assigned in insertion order, starting at 0.
pub struct Bm25Builder {
    analyzer: Analyzer,
    params: Bm25Params,
    vocab: FxMap<Box<str>, u32>,
    terms: Vec<Box<str>>,
    /// (global term id, tf) per document, concatenated; `doc_starts[d]..doc_starts[d+1]`.
    entries: Vec<(u32, u32)>,
    doc_starts: Vec<u64>,
    lengths: Vec<u32>,
}

impl Bm25Builder {
    /// A builder; fails on an invalid analyzer config or parameters.
    pub fn new(config: AnalyzerConfig, params: Bm25Params) -> Result<Self> {
        params.validate()?;
        Ok(Bm25Builder {
            analyzer: Analyzer::new(&config)?,
            params,
            vocab: FxMap::default(),
            terms: Vec::new(),
            entries: Vec::new(),
            doc_starts: vec![0],
            lengths: Vec::new(),
        })
    }

    /// Documents added so far.
    pub fn num_docs(&self) -> usize {
        self.lengths.len()
    }

    /// Adds one document (prefer [`Bm25Builder::add_documents`] for parallelism).
    pub fn add(&mut self, text: &str) -> &mut Self {
        self.add_documents(&[text])
    }

    /// Analyses `docs` on all rayon threads and appends them, in order.
    pub fn add_documents(&mut self, docs: &[&str]) -> &mut Self {
        let chunks: Vec<ChunkTerms> = docs
            .par_chunks(chunk_size(docs.len()))
            .map_init(Scratch::default, |scratch, c| {
                analyze_chunk(&self.analyzer, c, scratch)
            })
            .collect();
        for chunk in chunks {
            self.merge(chunk);
        }
        self
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

    /// Lays out the postings and computes every posting's score.
    pub fn build(self) -> Result<Bm25Index> {
        let Bm25Builder {
            analyzer,
            params,
            vocab,
            terms,
            entries,
            doc_starts,
            lengths,
        } = self;
        drop(vocab);
        let num_docs = lengths.len();
        if num_docs > u32::MAX as usize {
            return Err(Error::TooManyDocuments {
                max: u32::MAX as u64,
            });
        }
        let stats = CollectionStats {
            num_docs: num_docs as u64,
            docs_with_terms: lengths.iter().filter(|&&l| l > 0).count() as u64,
            total_terms: lengths.iter().map(|&l| l as u64).sum(),
        };
        let scorer = Scorer::new(params, stats);

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
        let idf: Vec<f32> = df.iter().map(|&d| scorer.idf(d)).collect();
        let absent: Vec<f32> = idf.iter().map(|&i| scorer.absent_score(i)).collect();

        // Fill postings in document order, so each list is sorted by ordinal.
        let total = acc as usize;
        let mut docs = vec![0u32; total];
        let mut scores = vec![0f32; total];
        let mut cursor: Vec<u64> = postings_offsets[..df.len()].to_vec();
        for d in 0..num_docs {
            let dl = lengths[d];
            let (s, e) = (doc_starts[d] as usize, doc_starts[d + 1] as usize);
            for &(t, tf) in &entries[s..e] {
                let r = rank[t as usize] as usize;
                let p = cursor[r] as usize;
                cursor[r] += 1;
                docs[p] = d as u32;
                scores[p] = scorer.posting_score(idf[r], tf, dl);
            }
        }
        drop(entries);

        Ok(Bm25Index::from_data(
            analyzer,
            params,
            IndexData {
                num_docs: num_docs as u32,
                docs_with_terms: stats.docs_with_terms,
                total_terms: stats.total_terms,
                avgdl: scorer.avgdl(),
                term_bytes: Column::Owned(term_bytes),
                term_offsets: Column::Owned(term_offsets),
                postings_offsets: Column::Owned(postings_offsets),
                postings_docs: Column::Owned(docs),
                postings_scores: Column::Owned(scores),
                term_absent: Column::Owned(absent),
                doc_lengths: Column::Owned(lengths),
            },
        ))
    }
}
