//! On-disk format: a directory of checksummed little-endian arrays plus a JSON metadata file.
//!
//! | file                  | content                                               |
//! |-----------------------|-------------------------------------------------------|
//! | `meta.json`           | format version, analyzer config, BM25 params, counts  |
//! | `terms.bin`           | sorted terms, UTF-8, concatenated                     |
//! | `term_offsets.bin`    | u64 × (terms + 1)                                     |
//! | `postings_offsets.bin`| u64 × (terms + 1): cumulative document frequencies    |
//! | `term_blocks.bin`     | u64 × (terms + 1): each term's first block            |
//! | `block_last.bin`      | u32 × blocks: last document ordinal of the block      |
//! | `block_max_tf.bin`    | u32 × blocks: largest term frequency in the block     |
//! | `block_min_len.bin`   | u32 × blocks: shortest document length in the block   |
//! | `block_offsets.bin`   | u64 × (blocks + 1): byte range of each block          |
//! | `postings.bin`        | the blocks (128 postings, bit-packed; see `blocks`)   |
//! | `doc_lengths.bin`     | u32 × documents                                       |
//! | `posting_scores.bin`  | f32 × postings: scores under the index's statistics   |
//!
//! Every file ends with a trawl-store footer (magic, version, length, CRC-32), verified on open.
//! `save` writes into a temporary sibling directory and renames it into place.

use std::path::Path;

use serde::{Deserialize, Serialize};
use trawl_store::{AtomicDir, ByteSource, Checked, CheckedWriter, RamBytes, Verify};

use crate::analysis::{Analyzer, AnalyzerConfig};
use crate::blocks::{self, BLOCK_LEN};
use crate::column::Column;
use crate::index::{Bm25Index, IndexData};
use crate::params::{Bm25Params, CollectionStats};
use crate::{Error, Result};

#[cfg(target_endian = "big")]
compile_error!("trawl-bm25's on-disk format is little-endian only");

/// Version of the on-disk format; bumped on any incompatible change. Version 3: block-coded
/// postings with each block's largest tf and shortest document (bounds valid under any
/// statistics) and each posting's score under the index's own statistics (version 1: plain
/// postings with scores; 2, never released: blocks with score bounds).
pub const FORMAT_VERSION: u32 = 3;

const META: (&str, &[u8; 8]) = ("meta.json", b"TB25META");
const TERMS: (&str, &[u8; 8]) = ("terms.bin", b"TB25TERM");
const TERM_OFFSETS: (&str, &[u8; 8]) = ("term_offsets.bin", b"TB25TOFF");
const POSTINGS_OFFSETS: (&str, &[u8; 8]) = ("postings_offsets.bin", b"TB25POFF");
const TERM_BLOCKS: (&str, &[u8; 8]) = ("term_blocks.bin", b"TB25TBLK");
const BLOCK_LAST: (&str, &[u8; 8]) = ("block_last.bin", b"TB25BLST");
const BLOCK_MAX_TF: (&str, &[u8; 8]) = ("block_max_tf.bin", b"TB25BMTF");
const BLOCK_MIN_LEN: (&str, &[u8; 8]) = ("block_min_len.bin", b"TB25BMLN");
const BLOCK_OFFSETS: (&str, &[u8; 8]) = ("block_offsets.bin", b"TB25BOFF");
const POSTINGS: (&str, &[u8; 8]) = ("postings.bin", b"TB25POST");
const DOC_LENGTHS: (&str, &[u8; 8]) = ("doc_lengths.bin", b"TB25DLEN");
const POSTING_SCORES: (&str, &[u8; 8]) = ("posting_scores.bin", b"TB25PSCO");

#[derive(Serialize, Deserialize)]
struct Meta {
    format: String,
    version: u32,
    analyzer: AnalyzerConfig,
    params: Bm25Params,
    num_docs: u32,
    num_terms: u64,
    num_postings: u64,
    docs_with_terms: u64,
    total_terms: u64,
    avgdl: f32,
}

/// What `meta.json` records besides the format.
pub(crate) struct IndexCounts {
    pub analyzer: AnalyzerConfig,
    pub params: Bm25Params,
    pub num_docs: u32,
    pub num_terms: u64,
    pub num_postings: u64,
    pub docs_with_terms: u64,
    pub total_terms: u64,
    pub avgdl: f32,
}

/// Streams the files of an index into an existing directory, each through a checked writer
/// (footer and fsync on [`IndexWriter::finish`], which writes `meta.json` last): what
/// [`Bm25Index::save_files`] and the bounded-memory [`crate::Bm25Writer`] write with.
pub(crate) struct IndexWriter {
    dir: std::path::PathBuf,
    pub terms: CheckedWriter,
    pub term_offsets: CheckedWriter,
    pub postings_offsets: CheckedWriter,
    pub term_blocks: CheckedWriter,
    pub block_last: CheckedWriter,
    pub block_max_tf: CheckedWriter,
    pub block_min_len: CheckedWriter,
    pub block_offsets: CheckedWriter,
    pub postings: CheckedWriter,
    pub doc_lengths: CheckedWriter,
    pub posting_scores: CheckedWriter,
}

impl IndexWriter {
    pub(crate) fn create(dir: &Path) -> Result<Self> {
        let w = |(name, magic): (&str, &[u8; 8])| {
            CheckedWriter::create(&dir.join(name), magic, FORMAT_VERSION)
        };
        Ok(IndexWriter {
            dir: dir.to_path_buf(),
            terms: w(TERMS)?,
            term_offsets: w(TERM_OFFSETS)?,
            postings_offsets: w(POSTINGS_OFFSETS)?,
            term_blocks: w(TERM_BLOCKS)?,
            block_last: w(BLOCK_LAST)?,
            block_max_tf: w(BLOCK_MAX_TF)?,
            block_min_len: w(BLOCK_MIN_LEN)?,
            block_offsets: w(BLOCK_OFFSETS)?,
            postings: w(POSTINGS)?,
            doc_lengths: w(DOC_LENGTHS)?,
            posting_scores: w(POSTING_SCORES)?,
        })
    }

    /// Finishes every file, then writes `meta.json` (last: a directory without it is never
    /// mistaken for an index).
    pub(crate) fn finish(self, counts: &IndexCounts) -> Result<()> {
        for w in [
            self.terms,
            self.term_offsets,
            self.postings_offsets,
            self.term_blocks,
            self.block_last,
            self.block_max_tf,
            self.block_min_len,
            self.block_offsets,
            self.postings,
            self.doc_lengths,
            self.posting_scores,
        ] {
            w.finish()?;
        }
        let meta = Meta {
            format: "trawl-bm25".into(),
            version: FORMAT_VERSION,
            analyzer: counts.analyzer.clone(),
            params: counts.params,
            num_docs: counts.num_docs,
            num_terms: counts.num_terms,
            num_postings: counts.num_postings,
            docs_with_terms: counts.docs_with_terms,
            total_terms: counts.total_terms,
            avgdl: counts.avgdl,
        };
        let json = serde_json::to_vec_pretty(&meta).expect("meta serialises");
        trawl_store::write_checked(&self.dir.join(META.0), META.1, FORMAT_VERSION, &json)?;
        Ok(())
    }
}

impl Bm25Index {
    /// Writes the index to `dir` atomically (a previous index there is replaced only once the
    /// new one is complete and synced).
    pub fn save(&self, dir: &Path) -> Result<()> {
        let atomic = AtomicDir::create(dir)?;
        self.save_files(atomic.path())?;
        atomic.commit()?;
        Ok(())
    }

    /// Writes the index files into an existing directory `dir` (no rename): for callers that
    /// build a larger directory atomically themselves, e.g. a knowledge base.
    pub fn save_files(&self, dir: &Path) -> Result<()> {
        let d = &self.data;
        let mut w = IndexWriter::create(dir)?;
        w.terms.write_all(d.term_bytes.as_bytes())?;
        w.term_offsets.write_all(d.term_offsets.as_bytes())?;
        w.postings_offsets
            .write_all(d.postings_offsets.as_bytes())?;
        w.term_blocks.write_all(d.term_blocks.as_bytes())?;
        w.block_last.write_all(d.block_last.as_bytes())?;
        w.block_max_tf.write_all(d.block_max_tf.as_bytes())?;
        w.block_min_len.write_all(d.block_min_len.as_bytes())?;
        w.block_offsets.write_all(d.block_offsets.as_bytes())?;
        w.postings.write_all(d.postings.as_bytes())?;
        w.doc_lengths.write_all(d.doc_lengths.as_bytes())?;
        w.posting_scores.write_all(d.posting_scores.as_bytes())?;
        w.finish(&IndexCounts {
            analyzer: self.config().clone(),
            params: self.params,
            num_docs: d.num_docs,
            num_terms: self.num_terms() as u64,
            num_postings: self.num_postings() as u64,
            docs_with_terms: d.docs_with_terms,
            total_terms: d.total_terms,
            avgdl: d.avgdl,
        })
    }

    /// Opens an index saved by [`Bm25Index::save`]: files are memory-mapped and verified
    /// (checksums and structure), so a truncated or damaged index is an error, never a panic
    /// or a wrong answer.
    pub fn open(dir: &Path) -> Result<Bm25Index> {
        Bm25Index::open_with(dir, Verify::Full)
    }

    /// [`Bm25Index::open`] choosing how much to verify: [`Verify::FooterOnly`] skips reading
    /// every byte for the CRC (constant-time open of a large index; truncation, foreign files
    /// and structural damage are still refused, flipped bits inside the data are not).
    pub fn open_with(dir: &Path, verify: Verify) -> Result<Bm25Index> {
        if !dir.is_dir() {
            return Err(Error::Io {
                path: dir.to_path_buf(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no BM25 index directory here (build one first)",
                ),
            });
        }
        let meta_path = dir.join(META.0);
        let meta_src = Checked::new(
            RamBytes::read(&meta_path)?,
            &meta_path,
            META.1,
            FORMAT_VERSION,
            verify,
        )
        .map_err(|e| match e {
            trawl_store::Error::UnsupportedVersion {
                path,
                found,
                expected,
            } => Error::FormatVersion {
                path,
                found,
                expected,
            },
            other => Error::Store(other),
        })?;
        let meta: Meta =
            serde_json::from_slice(meta_src.as_slice()).map_err(|e| Error::Corrupt {
                path: meta_path.clone(),
                reason: format!("metadata is not valid JSON for this version: {e}"),
            })?;
        let analyzer = Analyzer::new(&meta.analyzer)?;
        let data = IndexData {
            num_docs: meta.num_docs,
            docs_with_terms: meta.docs_with_terms,
            total_terms: meta.total_terms,
            avgdl: meta.avgdl,
            term_bytes: Column::open(dir, TERMS.0, TERMS.1, FORMAT_VERSION, verify)?,
            term_offsets: Column::open(
                dir,
                TERM_OFFSETS.0,
                TERM_OFFSETS.1,
                FORMAT_VERSION,
                verify,
            )?,
            postings_offsets: Column::open(
                dir,
                POSTINGS_OFFSETS.0,
                POSTINGS_OFFSETS.1,
                FORMAT_VERSION,
                verify,
            )?,
            term_blocks: Column::open(dir, TERM_BLOCKS.0, TERM_BLOCKS.1, FORMAT_VERSION, verify)?,
            block_last: Column::open(dir, BLOCK_LAST.0, BLOCK_LAST.1, FORMAT_VERSION, verify)?,
            block_max_tf: Column::open(
                dir,
                BLOCK_MAX_TF.0,
                BLOCK_MAX_TF.1,
                FORMAT_VERSION,
                verify,
            )?,
            block_min_len: Column::open(
                dir,
                BLOCK_MIN_LEN.0,
                BLOCK_MIN_LEN.1,
                FORMAT_VERSION,
                verify,
            )?,
            block_offsets: Column::open(
                dir,
                BLOCK_OFFSETS.0,
                BLOCK_OFFSETS.1,
                FORMAT_VERSION,
                verify,
            )?,
            postings: Column::open(dir, POSTINGS.0, POSTINGS.1, FORMAT_VERSION, verify)?,
            doc_lengths: Column::open(dir, DOC_LENGTHS.0, DOC_LENGTHS.1, FORMAT_VERSION, verify)?,
            posting_scores: Column::open(
                dir,
                POSTING_SCORES.0,
                POSTING_SCORES.1,
                FORMAT_VERSION,
                verify,
            )?,
        };
        validate(dir, &meta, &data, verify)?;
        let stats = CollectionStats {
            num_docs: u64::from(meta.num_docs),
            docs_with_terms: meta.docs_with_terms,
            total_terms: meta.total_terms,
        };
        Ok(Bm25Index::from_data(analyzer, meta.params, stats, data))
    }
}

/// Blocks per run of terms that [`validate`] checks as one task.
const VALIDATE_RUN_BLOCKS: u64 = 1 << 14;

/// Terms `0..term_blocks.len() - 1` cut into runs `(from, to)` of at least `run_blocks`
/// blocks each (the last one less), in order.
fn term_runs(term_blocks: &[u64], run_blocks: u64) -> Vec<(usize, usize)> {
    let nt = term_blocks.len().saturating_sub(1);
    let mut runs = Vec::new();
    let mut from = 0;
    for t in 0..nt {
        if term_blocks[t + 1] - term_blocks[from] >= run_blocks {
            runs.push((from, t + 1));
            from = t + 1;
        }
    }
    if from < nt {
        runs.push((from, nt));
    }
    runs
}

/// Structural checks, so that search can never index out of bounds on a consistent-looking
/// but wrong file set (e.g. files mixed from two indexes).
fn validate(dir: &Path, meta: &Meta, d: &IndexData, verify: Verify) -> Result<()> {
    let bad = |file: &str, reason: String| Error::Corrupt {
        path: dir.join(file),
        reason,
    };
    let nt = meta.num_terms as usize;
    let np = meta.num_postings as usize;
    let nd = meta.num_docs as usize;
    let check_offsets = |file: &str, offs: &[u64], end: usize| -> Result<()> {
        if offs.len() != nt + 1 {
            return Err(bad(
                file,
                format!("{} offsets, expected {}", offs.len(), nt + 1),
            ));
        }
        if offs[0] != 0 || offs[nt] as usize != end || offs.windows(2).any(|w| w[0] > w[1]) {
            return Err(bad(
                file,
                format!("offsets are not a non-decreasing run from 0 to {end}"),
            ));
        }
        Ok(())
    };
    check_offsets(
        TERM_OFFSETS.0,
        d.term_offsets.as_slice(),
        d.term_bytes.len(),
    )?;
    let tb = d.term_bytes.as_slice();
    let to = d.term_offsets.as_slice();
    if to
        .windows(3)
        .any(|w| tb[w[0] as usize..w[1] as usize] >= tb[w[1] as usize..w[2] as usize])
    {
        return Err(bad(TERMS.0, "terms are not strictly sorted".into()));
    }
    check_offsets(POSTINGS_OFFSETS.0, d.postings_offsets.as_slice(), np)?;
    if d.posting_scores.len() != np {
        return Err(bad(
            POSTING_SCORES.0,
            format!("{} scores, expected {np} postings", d.posting_scores.len()),
        ));
    }
    // Each term has exactly the blocks its document frequency needs.
    let po = d.postings_offsets.as_slice();
    let tb = d.term_blocks.as_slice();
    let nb = d.block_last.len();
    if tb.len() != nt + 1 || tb.first().copied() != Some(0) || tb[nt] as usize != nb {
        return Err(bad(
            TERM_BLOCKS.0,
            format!(
                "{} entries, expected {} ending at {nb} blocks",
                tb.len(),
                nt + 1
            ),
        ));
    }
    for t in 0..nt {
        if tb[t + 1].checked_sub(tb[t]) != Some(blocks::num_blocks(po[t + 1] - po[t])) {
            return Err(bad(
                TERM_BLOCKS.0,
                format!("term {t} has the wrong number of blocks for its document frequency"),
            ));
        }
    }
    for (file, len) in [
        (BLOCK_MAX_TF.0, d.block_max_tf.len()),
        (BLOCK_MIN_LEN.0, d.block_min_len.len()),
    ] {
        if len != nb {
            return Err(bad(file, format!("{len} values, expected {nb} blocks")));
        }
    }
    let bo = d.block_offsets.as_slice();
    if bo.len() != nb + 1
        || bo[0] != 0
        || bo[nb] as usize != d.postings.len()
        || bo.windows(2).any(|w| w[0] > w[1])
    {
        return Err(bad(
            BLOCK_OFFSETS.0,
            format!(
                "offsets are not {} non-decreasing values from 0 to {} bytes",
                nb + 1,
                d.postings.len()
            ),
        ));
    }
    if d.doc_lengths.len() != nd {
        return Err(bad(
            DOC_LENGTHS.0,
            format!("{} lengths, expected {nd}", d.doc_lengths.len()),
        ));
    }
    let last = d.block_last.as_slice();
    let (max_tf, min_len) = (d.block_max_tf.as_slice(), d.block_min_len.as_slice());
    let lengths = d.doc_lengths.as_slice();
    let bytes = d.postings.as_slice();
    // The terms in runs of about the same number of blocks, checked on all threads (a full
    // open decodes every block: most of a warm 2.3 s open on one core at 8.8M documents); a
    // damaged block is reported (which one, if several, depends on the threads' timing).
    use rayon::prelude::*;
    let runs = term_runs(tb, VALIDATE_RUN_BLOCKS);
    runs.par_iter().try_for_each(|&(from, to)| {
        let (mut docs, mut tfs) = ([0u32; BLOCK_LEN], [0u32; BLOCK_LEN]);
        for t in from..to {
            let df = (po[t + 1] - po[t]) as usize;
            let first = tb[t] as usize;
            for b in first..tb[t + 1] as usize {
                let len = (df - (b - first) * BLOCK_LEN).min(BLOCK_LEN);
                let block = &bytes[bo[b] as usize..bo[b + 1] as usize];
                blocks::check(block, len)
                    .map_err(|reason| bad(POSTINGS.0, format!("block {b}: {reason}")))?;
                if last[b] as usize >= nd || (b > first && last[b] <= last[b - 1]) {
                    return Err(bad(
                        BLOCK_LAST.0,
                        format!(
                            "block {b}: last ordinal {} out of order or >= {nd}",
                            last[b]
                        ),
                    ));
                }
                // Decoding every block (a full open only) proves that the ordinals the search
                // will index with are in range and that the skip data matches the postings.
                if verify == Verify::Full {
                    let initial = (b > first).then(|| last[b - 1]);
                    blocks::decode(block, len, initial, &mut docs, &mut tfs);
                    let ok = docs[..len].windows(2).all(|w| w[0] < w[1])
                        && docs[len - 1] == last[b]
                        && initial.is_none_or(|i| docs[0] > i)
                        && tfs[..len].iter().all(|&tf| tf > 0);
                    if !ok {
                        return Err(bad(
                            POSTINGS.0,
                            format!("block {b} does not decode to its recorded documents"),
                        ));
                    }
                    // A bound below a real score would make the pruned search drop hits.
                    let tf_ok = tfs[..len].iter().max() == Some(&max_tf[b]);
                    let len_ok =
                        docs[..len].iter().map(|&x| lengths[x as usize]).min() == Some(min_len[b]);
                    if !(tf_ok && len_ok) {
                        return Err(bad(
                            BLOCK_MAX_TF.0,
                            format!("block {b}: recorded largest tf or shortest length is wrong"),
                        ));
                    }
                }
            }
        }
        Ok(())
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::term_runs;

    /// The runs [`super::validate`] checks in parallel cover every term once, in order, each
    /// of at least the run size in blocks but the last (terms of no blocks included), and
    /// none for an empty vocabulary. Dropping the last run or starting a run one term late
    /// fails it.
    #[test]
    fn term_runs_cover_every_term_once_in_order() {
        for (blocks_per_term, run) in [
            (vec![], 4),
            (vec![1], 4),
            (vec![3, 0, 5, 1, 1, 1, 0, 9, 2], 4),
            (vec![0, 0, 0], 1),
            (vec![2; 100], 7),
        ] {
            let mut tb = vec![0u64];
            for b in &blocks_per_term {
                tb.push(tb.last().unwrap() + b);
            }
            let runs = term_runs(&tb, run);
            let mut next = 0;
            for (i, &(from, to)) in runs.iter().enumerate() {
                assert_eq!(from, next, "{blocks_per_term:?}: runs are contiguous");
                assert!(from < to, "{blocks_per_term:?}: no empty run");
                if i + 1 < runs.len() {
                    assert!(
                        tb[to] - tb[from] >= run,
                        "{blocks_per_term:?}: run {i} too short"
                    );
                }
                next = to;
            }
            assert_eq!(
                next,
                blocks_per_term.len(),
                "{blocks_per_term:?}: every term"
            );
        }
    }
}
