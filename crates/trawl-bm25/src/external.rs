//! Building an index larger than memory: [`Bm25Writer`] analyses documents on all rayon threads
//! (as [`crate::Bm25Builder`] does), accumulates postings until a memory budget fills, then
//! flushes them as a sorted run to disk (a trawl-store checked file); [`Bm25Writer::finish`]
//! merges the runs and the documents still in memory k ways, term by term in bytewise order,
//! into the final block-coded index, written file by file through checked writers.
//!
//! The result is the index [`crate::Bm25Builder::build`] would have built and
//! [`Bm25Index::save_files`] saved over the same documents, byte for byte, whatever the budget
//! and the number of threads: runs hold consecutive documents with global ordinals, so a term's
//! postings are its runs' postings concatenated in run order, and every step after that
//! (scores, blocks, bounds) is the in-memory builder's own code.
//!
//! A run is a sequence of `[term length: varint][term][df: varint][df postings in blocks]`,
//! terms in bytewise order, the blocks those of the index (`blocks::encode`, chained across a
//! term's blocks), their document ordinals global.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::path::{Path, PathBuf};

use trawl_store::{ByteSource, Checked, CheckedWriter, MmapBytes, Verify};

use crate::analysis::{Analyzer, AnalyzerConfig};
use crate::blocks::{self, BLOCK_LEN};
use crate::builder::{collection_stats, pack_postings, score_postings, Accumulator, Inverted};
use crate::params::{Bm25Params, Scorer};
use crate::persist::{IndexCounts, IndexWriter};
use crate::{Error, Result};

const RUN_MAGIC: &[u8; 8] = b"TB25RUN1";
const RUN_VERSION: u32 = 1;

/// Postings laid out per batch of terms during the merge: bounds the merge's memory (about
/// 20 bytes a posting) whatever the corpus.
pub const MERGE_BATCH_POSTINGS: usize = 4 << 20;

/// The smallest budget [`Bm25Writer`] accepts (1 MiB): below it every chunk of documents
/// would be a run.
pub const MIN_MEMORY_BUDGET: u64 = 1 << 20;

/// The default memory budget of a build (2 GiB).
pub const DEFAULT_MEMORY_BUDGET: u64 = 2 << 30;

/// Builds an index straight to disk within a memory budget (see the module documentation).
pub struct Bm25Writer {
    analyzer: Analyzer,
    params: Bm25Params,
    budget: u64,
    spill_dir: PathBuf,
    acc: Accumulator,
    /// Lengths of the documents already flushed into runs.
    lengths: Vec<u32>,
    runs: Vec<PathBuf>,
}

/// What [`Bm25Writer::finish`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrittenIndex {
    pub num_docs: u64,
    pub num_terms: u64,
    pub num_postings: u64,
    /// Runs flushed to disk before the merge (0: the build fit in the budget).
    pub runs: usize,
}

impl Bm25Writer {
    /// A writer holding at most about `memory_budget` bytes of postings and vocabulary (at
    /// least [`MIN_MEMORY_BUDGET`]), spilling runs into `spill_dir` (created when the first
    /// run is written, removed by [`Bm25Writer::finish`]; put it inside the directory being
    /// built, so that an interrupted build leaves nothing elsewhere).
    pub fn new(
        config: AnalyzerConfig,
        params: Bm25Params,
        memory_budget: u64,
        spill_dir: &Path,
    ) -> Result<Self> {
        params.validate()?;
        if memory_budget < MIN_MEMORY_BUDGET {
            return Err(Error::InvalidParams(format!(
                "a memory budget of {memory_budget} bytes is below the minimum of {MIN_MEMORY_BUDGET} (1 MiB)"
            )));
        }
        Ok(Bm25Writer {
            analyzer: Analyzer::new(&config)?,
            params,
            budget: memory_budget,
            spill_dir: spill_dir.to_path_buf(),
            acc: Accumulator::new(),
            lengths: Vec::new(),
            runs: Vec::new(),
        })
    }

    /// Documents added so far.
    pub fn num_docs(&self) -> usize {
        self.lengths.len() + self.acc.num_docs()
    }

    /// Runs flushed to disk so far.
    pub fn runs(&self) -> usize {
        self.runs.len()
    }

    /// Analyses `docs` on all rayon threads and appends them, in order, flushing a run
    /// whenever the accumulated postings reach the budget.
    pub fn add_documents(&mut self, docs: &[&str]) -> Result<()> {
        if self.num_docs() + docs.len() > u32::MAX as usize {
            return Err(Error::TooManyDocuments {
                max: u32::MAX as u64,
            });
        }
        let mut acc = std::mem::take(&mut self.acc);
        let (budget, dir) = (self.budget, &self.spill_dir);
        let (lengths, runs) = (&mut self.lengths, &mut self.runs);
        let result = acc.add_documents(&self.analyzer, docs, |acc| {
            if acc.peak_bytes() < budget {
                return Ok(());
            }
            let full = std::mem::replace(acc, Accumulator::new());
            let base = lengths.len() as u32;
            let (inv, run_lengths) = full.invert();
            if runs.is_empty() {
                std::fs::create_dir_all(dir).map_err(|e| Error::Io {
                    path: dir.clone(),
                    source: e,
                })?;
            }
            let path = dir.join(format!("run-{:05}.bin", runs.len()));
            let mut w = CheckedWriter::create(&path, RUN_MAGIC, RUN_VERSION)?;
            encode_run(&inv, base, |bytes| w.write_all(bytes).map_err(Error::from))?;
            w.finish()?;
            runs.push(path);
            lengths.extend(run_lengths);
            Ok(())
        });
        self.acc = acc;
        result
    }

    /// Merges the runs and the documents in memory into the index files in `dir` (an
    /// existing directory; files as [`Bm25Index::save_files`] writes them, `meta.json` last)
    /// and removes the runs.
    ///
    /// [`Bm25Index::save_files`]: crate::Bm25Index::save_files
    pub fn finish(self, dir: &Path) -> Result<WrittenIndex> {
        let Bm25Writer {
            analyzer,
            params,
            spill_dir,
            acc,
            mut lengths,
            runs,
            ..
        } = self;
        let base = lengths.len() as u32;
        let (tail, tail_lengths) = acc.invert();
        lengths.extend(tail_lengths);
        let stats = collection_stats(&lengths)?;
        let scorer = Scorer::new(params, stats);
        let mut out = Output::new(IndexWriter::create(dir)?);
        if runs.is_empty() {
            // Everything fit: the documents in memory are the whole index, one batch.
            out.write_batch(&tail, &scorer, &lengths)?;
        } else {
            // The tail is one more run, kept in memory.
            let mut tail_run = Vec::new();
            encode_run(&tail, base, |bytes| {
                tail_run.extend_from_slice(bytes);
                Ok(())
            })?;
            drop(tail);
            let mapped = runs
                .iter()
                .map(|p| Checked::open(p, RUN_MAGIC, RUN_VERSION, Verify::Full))
                .collect::<std::result::Result<Vec<Checked<MmapBytes>>, _>>()?;
            let tail_path = spill_dir.join("(in memory)");
            let mut readers: Vec<RunReader> = mapped
                .iter()
                .zip(&runs)
                .map(|(m, p)| RunReader::new(m.as_slice(), p))
                .collect();
            readers.push(RunReader::new(&tail_run, &tail_path));
            merge(&mut readers, &mut out, &scorer, &lengths)?;
        }
        let written = WrittenIndex {
            num_docs: stats.num_docs,
            num_terms: out.num_terms,
            num_postings: out.num_postings,
            runs: runs.len(),
        };
        out.finish(
            IndexCounts {
                analyzer: analyzer.config().clone(),
                params,
                num_docs: stats.num_docs as u32,
                num_terms: written.num_terms,
                num_postings: written.num_postings,
                docs_with_terms: stats.docs_with_terms,
                total_terms: stats.total_terms,
                avgdl: scorer.avgdl(),
            },
            &lengths,
        )?;
        if !runs.is_empty() {
            std::fs::remove_dir_all(&spill_dir).map_err(|e| Error::Io {
                path: spill_dir.clone(),
                source: e,
            })?;
        }
        Ok(written)
    }
}

/// Writes `inv`'s terms and postings (ordinals offset by `base`) in the run format, in pieces
/// of about a megabyte, to `sink`.
fn encode_run(inv: &Inverted, base: u32, mut sink: impl FnMut(&[u8]) -> Result<()>) -> Result<()> {
    let mut buf = Vec::with_capacity(1 << 20);
    let mut docs = [0u32; BLOCK_LEN];
    let (to, po) = (&inv.term_offsets, &inv.postings_offsets);
    for t in 0..to.len() - 1 {
        let term = &inv.term_bytes[to[t] as usize..to[t + 1] as usize];
        put_varint(&mut buf, term.len() as u64);
        buf.extend_from_slice(term);
        let (s, e) = (po[t] as usize, po[t + 1] as usize);
        put_varint(&mut buf, (e - s) as u64);
        let mut initial = None;
        for (bd, bt) in inv.docs[s..e]
            .chunks(BLOCK_LEN)
            .zip(inv.tfs[s..e].chunks(BLOCK_LEN))
        {
            for (o, &d) in docs.iter_mut().zip(bd) {
                *o = d + base;
            }
            let n = bd.len();
            blocks::encode(initial, &docs[..n], bt, &mut buf);
            initial = Some(docs[n - 1]);
        }
        if buf.len() >= 1 << 20 {
            sink(&buf)?;
            buf.clear();
        }
    }
    sink(&buf)
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push(v as u8 | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a run back, term by term.
struct RunReader<'a> {
    bytes: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> RunReader<'a> {
    fn new(bytes: &'a [u8], path: &'a Path) -> Self {
        RunReader {
            bytes,
            pos: 0,
            path,
        }
    }

    fn corrupt(&self, what: &str) -> Error {
        Error::Corrupt {
            path: self.path.to_path_buf(),
            reason: format!("build run: {what} at byte {}", self.pos),
        }
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(self.corrupt("a number cut short"));
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(self.corrupt("a number longer than 64 bits"))
    }

    /// The next term and its document frequency, or `None` at the end of the run.
    fn next_term(&mut self) -> Result<Option<(&'a [u8], u64)>> {
        if self.pos == self.bytes.len() {
            return Ok(None);
        }
        let len = self.varint()? as usize;
        let Some(term) = self.bytes.get(self.pos..self.pos.saturating_add(len)) else {
            return Err(self.corrupt("a term cut short"));
        };
        self.pos += len;
        let df = self.varint()?;
        if df == 0 {
            return Err(self.corrupt("a term without postings"));
        }
        Ok(Some((term, df)))
    }

    /// Appends the `df` postings of the term [`RunReader::next_term`] just returned, which
    /// must all come after `after` (the term's last document in earlier runs).
    fn read_postings(
        &mut self,
        df: u64,
        mut after: Option<u32>,
        docs: &mut Vec<u32>,
        tfs: &mut Vec<u32>,
    ) -> Result<()> {
        let (mut d, mut t) = ([0u32; BLOCK_LEN], [0u32; BLOCK_LEN]);
        let mut left = df;
        let mut initial = None;
        while left > 0 {
            let n = left.min(BLOCK_LEN as u64) as usize;
            let rest = &self.bytes[self.pos..];
            let len = blocks::encoded_len(rest, n).map_err(|e| self.corrupt(&e))?;
            blocks::decode(&rest[..len], n, initial, &mut d, &mut t);
            // Ordinals must increase across runs and blocks: the merge relies on it.
            if after.is_some_and(|p| d[0] <= p) || d[..n].windows(2).any(|w| w[0] >= w[1]) {
                return Err(self.corrupt("document ordinals out of order"));
            }
            after = Some(d[n - 1]);
            docs.extend_from_slice(&d[..n]);
            tfs.extend_from_slice(&t[..n]);
            initial = Some(d[n - 1]);
            self.pos += len;
            left -= n as u64;
        }
        Ok(())
    }
}

/// Merges `readers` (runs of consecutive documents, in document order) term by term into `out`.
fn merge(
    readers: &mut [RunReader<'_>],
    out: &mut Output,
    scorer: &Scorer,
    lengths: &[u32],
) -> Result<()> {
    let mut heap = BinaryHeap::with_capacity(readers.len());
    for (i, r) in readers.iter_mut().enumerate() {
        if let Some((term, df)) = r.next_term()? {
            heap.push(Reverse((term, i, df)));
        }
    }
    let mut batch = Inverted {
        term_bytes: Vec::new(),
        term_offsets: vec![0],
        postings_offsets: vec![0],
        docs: Vec::new(),
        tfs: Vec::new(),
    };
    while let Some(Reverse((term, i, df))) = heap.pop() {
        // Equal terms pop in run order, so the postings concatenate in document order.
        let mut next = Some((i, df));
        let start = batch.docs.len();
        while let Some((i, df)) = next {
            let after = batch.docs[start..].last().copied();
            readers[i].read_postings(df, after, &mut batch.docs, &mut batch.tfs)?;
            if let Some((t, df)) = readers[i].next_term()? {
                if t <= term {
                    return Err(readers[i].corrupt("terms out of order"));
                }
                heap.push(Reverse((t, i, df)));
            }
            next = match heap.peek() {
                Some(&Reverse((t, j, df))) if t == term => {
                    heap.pop();
                    Some((j, df))
                }
                _ => None,
            };
        }
        batch.term_bytes.extend_from_slice(term);
        batch.term_offsets.push(batch.term_bytes.len() as u64);
        batch.postings_offsets.push(batch.docs.len() as u64);
        if batch.docs.len() >= MERGE_BATCH_POSTINGS {
            out.write_batch(&batch, scorer, lengths)?;
            batch.term_bytes.clear();
            batch.term_offsets.truncate(1);
            batch.postings_offsets.truncate(1);
            batch.docs.clear();
            batch.tfs.clear();
        }
    }
    out.write_batch(&batch, scorer, lengths)
}

/// The index files being written, batch of terms after batch of terms.
struct Output {
    w: IndexWriter,
    num_terms: u64,
    num_postings: u64,
    term_byte_base: u64,
    block_base: u64,
    byte_base: u64,
}

impl Output {
    fn new(w: IndexWriter) -> Self {
        Output {
            w,
            num_terms: 0,
            num_postings: 0,
            term_byte_base: 0,
            block_base: 0,
            byte_base: 0,
        }
    }

    /// Scores, packs and appends a batch of terms (following every term written before it).
    fn write_batch(&mut self, b: &Inverted, scorer: &Scorer, lengths: &[u32]) -> Result<()> {
        let nt = b.term_offsets.len() - 1;
        if nt == 0 {
            return Ok(());
        }
        let scores = score_postings(scorer, &b.postings_offsets, &b.docs, &b.tfs, lengths);
        let packed = pack_postings(&b.postings_offsets, &b.docs, &b.tfs, lengths);
        let w = &mut self.w;
        let rebased = |v: &[u64], base: u64| -> Vec<u64> { v.iter().map(|&x| x + base).collect() };
        w.terms.write_all(&b.term_bytes)?;
        w.term_offsets.write_all(bytemuck::cast_slice(&rebased(
            &b.term_offsets[..nt],
            self.term_byte_base,
        )))?;
        w.postings_offsets.write_all(bytemuck::cast_slice(&rebased(
            &b.postings_offsets[..nt],
            self.num_postings,
        )))?;
        w.term_blocks.write_all(bytemuck::cast_slice(&rebased(
            &packed.term_blocks,
            self.block_base,
        )))?;
        w.block_last
            .write_all(bytemuck::cast_slice(&packed.block_last))?;
        w.block_max_tf
            .write_all(bytemuck::cast_slice(&packed.block_max_tf))?;
        w.block_min_len
            .write_all(bytemuck::cast_slice(&packed.block_min_len))?;
        w.block_offsets.write_all(bytemuck::cast_slice(&rebased(
            &packed.block_offsets,
            self.byte_base,
        )))?;
        w.postings.write_all(&packed.bytes)?;
        w.posting_scores.write_all(bytemuck::cast_slice(&scores))?;
        self.num_terms += nt as u64;
        self.num_postings += b.docs.len() as u64;
        self.term_byte_base += b.term_bytes.len() as u64;
        self.block_base += packed.block_last.len() as u64;
        self.byte_base += packed.bytes.len() as u64;
        Ok(())
    }

    /// Closes the offset arrays, writes the document lengths and `meta.json`.
    fn finish(mut self, counts: IndexCounts, lengths: &[u32]) -> Result<()> {
        let w = &mut self.w;
        w.term_offsets
            .write_all(&self.term_byte_base.to_le_bytes())?;
        w.postings_offsets
            .write_all(&self.num_postings.to_le_bytes())?;
        w.term_blocks.write_all(&self.block_base.to_le_bytes())?;
        w.block_offsets.write_all(&self.byte_base.to_le_bytes())?;
        w.doc_lengths.write_all(bytemuck::cast_slice(lengths))?;
        self.w.finish(&counts)
    }
}
