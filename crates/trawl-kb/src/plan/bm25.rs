//! Capacity planning of a BM25-only KB (`kb build`): the files it writes (`bm25/`, the
//! document store, the id map) and the resident memory of building and serving it, for a
//! corpus described by its number of documents, their average analysed length and their
//! average stored bytes, its words assumed to follow the Zipf model of [`super::zipf`].
//!
//! Building (`crate::build::write_corpus` with a [`trawl_bm25::Bm25Writer`]) goes through
//! three peaks, and the plan is the largest:
//! 1. postings in memory: the writer's accumulator grows until its own estimate of the bytes
//!    its inversion will need reaches `--memory-budget` (then it inverts, writes a run to disk
//!    and starts again), or until the input ends;
//! 2. the merge (only after runs were written): the runs, memory-mapped and read once, the
//!    last run in memory, and a batch of up to 4M postings being scored and packed;
//! 3. the reopen: `kb build` opens the finished KB with full verification, which reads every
//!    file through its mapping, so the whole KB is resident (file pages the kernel can drop
//!    again, but counted in RSS until it does). From a few million documents on this is the
//!    peak whatever the budget: the budget bounds the anonymous memory only.
//!
//! Throughout, the process also holds its working set of small allocations, which the
//! allocator keeps once touched: the batches of documents in flight (the reader, the channel
//! and the analysis each hold one), the chunks' local vocabularies of the batch being
//! analysed, and the accumulator's vocabulary (its terms, twice, and the hash table).

use serde::Serialize;

use super::zipf::{zipf_stats, ZipfStats};

const FOOTER: u64 = trawl_store::FOOTER_LEN as u64;
/// `bm25/meta.json` (analyser, parameters and counts as JSON, plus the footer): about this.
const BM25_META: u64 = 450;
/// `manifest.json` of a BM25-only KB: about this.
const MANIFEST: u64 = 1_400;
/// Bytes of indexed text per analysed token at most (a word and a space, with the stopwords
/// the analysis drops): what bounds the text the analysis batches hold.
pub const INDEXED_BYTES_PER_TOKEN: f64 = 6.0;
/// Postings a merge batch holds before it is written.
const MERGE_BATCH: f64 = trawl_bm25::MERGE_BATCH_POSTINGS as f64;

/// The corpus a BM25 plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bm25Corpus {
    pub docs: u64,
    /// Analysed tokens per document (after stopwords), BM25's document length.
    pub avg_doc_len: f64,
    /// Stored bytes of title and text per document (the document store holds them as given).
    pub avg_doc_bytes: f64,
}

/// How `kb build` runs: its memory budget, batch size and analysis threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Bm25BuildSettings {
    pub memory_budget: u64,
    pub batch_size: usize,
    pub threads: usize,
}

/// Predicted counts and bytes of a BM25-only KB.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bm25Plan {
    pub postings: u64,
    pub terms: u64,
    /// Runs the build writes to disk before the merge (0: everything fits the budget).
    pub runs: u64,
    /// Documents per run when it spills.
    pub docs_per_run: u64,
    /// `bm25/`: postings, scores, lexicon, block metadata, document lengths.
    pub index_disk: u64,
    /// The stored documents, their ids, the id map and the manifest.
    pub store_disk: u64,
    /// Peak resident memory of `kb build`, besides the process's baseline.
    pub build_peak: u64,
    /// Which of the three peaks it is: "postings in memory", "merge" or "reopen".
    pub build_peak_phase: &'static str,
    /// The anonymous part of the build's peak (what must fit in RAM; the rest is file pages).
    pub build_anon_peak: u64,
    /// Resident memory of searching it once every page has been touched (opening verifies,
    /// and so reads, every file), besides the baseline.
    pub serve: u64,
}

/// Average decimal digits of the ids `0..n` (numeric ids, like MS MARCO's).
fn avg_id_digits(n: u64) -> f64 {
    let mut total = 0u64;
    let (mut lo, mut digits) = (0u64, 1u64);
    while lo < n {
        let hi = (lo.max(1) * 10).min(n);
        total += (hi - lo) * digits;
        lo = hi;
        digits += 1;
    }
    total as f64 / n.max(1) as f64
}

/// Bytes of the `bm25/` files for these counts (every array one checksummed file).
fn index_bytes(n: f64, s: &ZipfStats) -> f64 {
    let f = FOOTER as f64;
    (s.term_bytes + f)
        + 3.0 * (8.0 * (s.terms + 1.0) + f)
        + 3.0 * (4.0 * s.blocks + f)
        + (8.0 * (s.blocks + 1.0) + f)
        + (s.postings_bytes + f)
        + (4.0 * n + f)
        + (4.0 * s.postings + f)
        + BM25_META as f64
}

/// `(growth start) * 2^k >= len`: the capacity of a vector grown by appending chunks of
/// `first` elements, doubling (`Vec`'s amortised growth).
fn doubled(len: f64, first: f64) -> f64 {
    if len <= first || first <= 0.0 {
        return len.max(first);
    }
    first * (len / first).log2().ceil().exp2()
}

/// The hash table of a vocabulary of `v` terms (hashbrown: a power of two of buckets at most
/// 7/8 full, a 16-byte key and a u32 id per bucket plus a control byte).
fn table_bytes(v: f64) -> f64 {
    if v < 1.0 {
        return 0.0;
    }
    (v * 8.0 / 7.0).log2().ceil().exp2() * 25.0
}

/// The plan of `corpus` built with `settings`.
pub fn plan_bm25(corpus: &Bm25Corpus, settings: &Bm25BuildSettings) -> Bm25Plan {
    let n = corpus.docs as f64;
    let len = corpus.avg_doc_len;
    let all = zipf_stats(n, len, true);
    let per_doc = all.postings / n.max(1.0);
    let index_disk = index_bytes(n, &all);
    let f = FOOTER as f64;
    let id = avg_id_digits(corpus.docs);
    let store_disk = (n * corpus.avg_doc_bytes + f)
        + ((3.0 * n + 1.0) * 8.0 + f)
        + (n * id + f)
        + ((n + 1.0) * 8.0 + f)
        + (4.0 * n + f)
        + MANIFEST as f64;
    let kb_disk = index_disk + store_disk;

    // The accumulator, as `Accumulator::peak_bytes` estimates it (the writer spills when the
    // estimate reaches the budget) and as it is resident while inverting.
    let threads = settings.threads.max(1) as f64;
    let batch = (settings.batch_size.max(1) as f64).min(n.max(1.0));
    let chunk = (batch / (threads * 4.0)).floor().clamp(64.0, 16_384.0);
    let estimate = |docs: f64, s: &ZipfStats| {
        let entries = s.postings;
        doubled(entries, chunk * per_doc) * 8.0
            + entries * 8.0
            + (doubled(docs + 1.0, 4.0) + doubled(docs, chunk)) * 8.0
            + s.terms * 96.0
            + 2.0 * s.term_bytes
    };
    let budget = settings.memory_budget as f64;
    let (run_docs, runs) = if estimate(n, &all) < budget {
        (n, 0.0)
    } else {
        // The fewest chunks of documents whose estimate reaches the budget.
        let (mut lo, mut hi) = (1.0f64, (n / chunk).ceil());
        while hi - lo > 0.5 {
            let mid = ((lo + hi) / 2.0).floor();
            let d = mid * chunk;
            if estimate(d, &zipf_stats(d, len, false)) >= budget {
                hi = mid;
            } else {
                lo = mid + 1.0;
            }
        }
        let d = (hi * chunk).min(n);
        (d, (n / d).floor())
    };
    let run = if runs > 0.0 {
        zipf_stats(run_docs, len, true)
    } else {
        all
    };

    // The working set of small allocations (see the module documentation). The batches hold
    // the text the index sees: the stored bytes, but at most [`INDEXED_BYTES_PER_TOKEN`] a
    // token (a stored field that is not indexed, e.g. a title under `--text-only`, stays out).
    let indexed_bytes = corpus
        .avg_doc_bytes
        .min(INDEXED_BYTES_PER_TOKEN * corpus.avg_doc_len);
    let in_flight = (n / batch).ceil().min(3.0);
    let chunk_vocab = zipf_stats(chunk, len, false).terms;
    // A chunk's local vocabulary: each term's `String` in its list (24 bytes and a 32-byte
    // allocation), kept until the batch is merged, and while it is analysed a second copy as
    // the key of its hash map (another 56 bytes and a bucket).
    let working = in_flight * batch * (indexed_bytes + 48.0)
        + batch * per_doc * 8.0
        + (batch / chunk).ceil() * chunk_vocab * 56.0
        + threads * chunk_vocab * 90.0
        + run.terms * 64.0
        + table_bytes(run.terms);

    // 1. Inverting the accumulator: its (term, tf) entries, the postings (document and tf),
    // the per-document arrays and the vocabulary's sorted copies.
    let invert = 16.0 * run.postings + 12.0 * run_docs + 32.0 * run.terms + run.term_bytes;
    let postings_phase = working + invert;
    // 2. The merge: the runs (block-coded like the index, plus each run's lexicon), mapped and
    // read; the last run in memory; a batch of postings as documents, tfs, scores and packed
    // bytes; the document lengths.
    let (merge, merge_files) = if runs > 0.0 {
        let coded = all.postings_bytes + runs * (run.term_bytes + 2.0 * run.terms);
        let m = all.postings.min(MERGE_BATCH);
        let per_posting = all.postings_bytes / all.postings.max(1.0);
        // Documents, tfs and scores: 12 bytes a posting. The first two grow by doubling as
        // the batch fills; below glibc's largest mmap threshold (32 MiB) a doubling copies, and
        // the heap keeps some of the smaller copies: 16 bytes a posting in all, measured
        // (100k documents, 8 MiB budget: the peak varies by +-4% from run to run with them).
        let anon = working + 16.0 * m + m * per_posting + 28.0 * m / 128.0 + 4.0 * n;
        (anon + coded, coded)
    } else {
        (0.0, 0.0)
    };
    // 3. The reopen: every file of the KB read through its mapping.
    let reopen = working + kb_disk;
    let (build_peak, phase) = [
        (postings_phase, "postings in memory"),
        (merge, "merge"),
        (reopen, "reopen"),
    ]
    .into_iter()
    .fold((0.0, ""), |a, b| if b.0 > a.0 { b } else { a });
    let build_anon_peak = postings_phase.max(merge - merge_files).max(working);
    Bm25Plan {
        postings: all.postings.round() as u64,
        terms: all.terms.round() as u64,
        runs: runs as u64,
        docs_per_run: if runs > 0.0 { run_docs as u64 } else { 0 },
        index_disk: index_disk.round() as u64,
        store_disk: store_disk.round() as u64,
        build_peak: build_peak.round() as u64,
        build_peak_phase: phase,
        build_anon_peak: build_anon_peak.round() as u64,
        serve: kb_disk.round() as u64,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_growth_helpers() {
        assert_eq!(avg_id_digits(10), 1.0);
        assert_eq!(avg_id_digits(100), 1.9);
        assert_eq!(doubled(100.0, 30.0), 120.0);
        assert_eq!(doubled(20.0, 30.0), 30.0);
        assert_eq!(table_bytes(7.0), 8.0 * 25.0);
    }

    #[test]
    fn a_smaller_budget_spills_more_runs_and_never_raises_the_postings_phase() {
        let corpus = Bm25Corpus {
            docs: 1_000_000,
            avg_doc_len: 56.0,
            avg_doc_bytes: 300.0,
        };
        let plan = |budget: u64| {
            plan_bm25(
                &corpus,
                &Bm25BuildSettings {
                    memory_budget: budget,
                    batch_size: 16_384,
                    threads: 2,
                },
            )
        };
        let (big, small) = (plan(8 << 30), plan(64 << 20));
        assert_eq!(big.runs, 0);
        assert!(small.runs > 5, "{small:?}");
        assert_eq!(big.index_disk, small.index_disk);
        assert!(small.build_anon_peak < big.build_anon_peak);
        // A million documents of 56 tokens: the reopen of a KB of ~550 MB dominates.
        assert_eq!(small.build_peak_phase, "reopen");
    }
}
