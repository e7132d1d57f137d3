//! MS MARCO passage ranking: the official files into a BEIR folder and training triplets.
//!
//! Inputs, found in one folder by their official names (each also as `NAME.gz`):
//! - `collection.tsv`: `pid<TAB>passage` (8.8M lines), read by trawl-data's corpus reader;
//! - `queries.train.tsv`, `queries.dev.tsv` (else `queries.dev.small.tsv`): `qid<TAB>text`,
//!   read by trawl-data's query reader;
//! - `qrels.train.tsv`, `qrels.dev.tsv` (else `qrels.dev.small.tsv`): TREC `qid 0 pid 1`, read
//!   by trawl-data's one qrels reader ([`trawl_data::trec_format`]);
//! - training triples, when present: `qidpidtriples.train.full.2.tsv` (`qid<TAB>pos pid<TAB>neg
//!   pid`, preferred) or `triples.train.small.tsv` (`query<TAB>positive<TAB>negative` texts), or
//!   any file given with [`Options::triples`].
//!
//! Output folder: `corpus.jsonl` (`_id`, `title`, `text`), `queries.jsonl` (`_id`, `text`; every
//! query of every queries file), `qrels/train.tsv` and `qrels/dev.tsv` (BEIR, with the
//! `query-id corpus-id score` header, judgements in file order), and `triplets.train.jsonl`
//! (`{"query", "positive", "negatives": [..]}`, one line per triple, what `trawl train` reads),
//! plus `triplets.val.jsonl` when [`Options::split_ratio`] is below 1.
//!
//! Counts are kept: every passage, query, judgement and triple of the inputs is in the output
//! (up to [`Options::max_train_samples`] triples, the first ones in file order). Only the memory
//! that the triples need is held: with id triples, the texts of the passages and queries they
//! name (two passes over the triples file; the full 397M-line file names most of the collection,
//! so cap it with `max_train_samples`).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;
use trawl_data::document::{read_documents_as, DocumentFormat};
use trawl_data::input::{quote, LineReader};
use trawl_data::query::stream_queries;
use trawl_data::trec_format::{read_text, scan_qrels, Dialect};

use crate::error::{Error, Result};

/// How often (in records) the progress callback is called.
const PROGRESS_EVERY: u64 = 1 << 16;

/// Reports progress: the stage (e.g. `collection.tsv`) and the records done so far in it.
pub type Progress<'a> = &'a dyn Fn(&str, u64);

/// Options of [`prepare`].
#[derive(Clone, Debug)]
pub struct Options {
    /// Read at most this many training triples (the first ones in file order).
    pub max_train_samples: Option<u64>,
    /// The fraction of training queries whose triples go to `triplets.train.jsonl`; the others
    /// go to `triplets.val.jsonl`. Split by query (seeded hash of its id, or of its text for
    /// text triples), so no query is in both. `1.0` (the default) writes no validation file.
    pub split_ratio: f64,
    /// Seed of the split.
    pub seed: u64,
    /// A triples file to use instead of the ones found by name.
    pub triples: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_train_samples: None,
            split_ratio: 1.0,
            seed: 42,
            triples: None,
        }
    }
}

/// The two layouts of MS MARCO training triples.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TriplesFormat {
    /// `qid<TAB>positive pid<TAB>negative pid` (qidpidtriples).
    Ids,
    /// `query<TAB>positive passage<TAB>negative passage` (triples.train.small.tsv).
    Texts,
}

/// The input files found in an MS MARCO folder.
#[derive(Clone, Debug)]
pub struct Sources {
    pub collection: PathBuf,
    /// `(split, queries file)`, train first.
    pub queries: Vec<(String, PathBuf)>,
    /// `(split, qrels file)`, train first.
    pub qrels: Vec<(String, PathBuf)>,
    pub triples: Option<(PathBuf, TriplesFormat)>,
}

/// The first of `names` (or `name.gz`) present in `dir`.
fn find(dir: &Path, names: &[&str]) -> Option<PathBuf> {
    names.iter().find_map(|name| {
        [name.to_string(), format!("{name}.gz")]
            .into_iter()
            .map(|n| dir.join(n))
            .find(|p| p.is_file())
    })
}

impl Sources {
    /// Finds the official files in `dir` (see the module docs). `triples` overrides the search
    /// for a triples file; its layout is told from its name or, failing that, its first line.
    pub fn locate(dir: &Path, triples: Option<&Path>) -> Result<Self> {
        if !dir.is_dir() {
            return Err(Error::Input(format!(
                "{}: not a folder; expected the folder holding MS MARCO's collection.tsv, \
                 queries.*.tsv and qrels.*.tsv",
                dir.display()
            )));
        }
        let collection = find(dir, &["collection.tsv"]).ok_or_else(|| {
            Error::Input(format!(
                "{}: no collection.tsv (or collection.tsv.gz); expected MS MARCO's passage \
                 collection `pid<TAB>passage` (from collectionandqueries.tar.gz)",
                dir.display()
            ))
        })?;
        let mut queries = Vec::new();
        let mut qrels = Vec::new();
        for split in ["train", "dev"] {
            let full = format!("{split}.tsv");
            let small = format!("{split}.small.tsv");
            if let Some(q) = find(
                dir,
                &[&format!("queries.{full}"), &format!("queries.{small}")],
            ) {
                queries.push((split.to_string(), q));
            }
            if let Some(q) = find(dir, &[&format!("qrels.{full}"), &format!("qrels.{small}")]) {
                qrels.push((split.to_string(), q));
            }
        }
        if queries.is_empty() {
            return Err(Error::Input(format!(
                "{}: no queries.train.tsv or queries.dev.tsv; expected MS MARCO's queries \
                 `qid<TAB>text`",
                dir.display()
            )));
        }
        let triples = match triples {
            Some(p) => Some((p.to_path_buf(), triples_format(p)?)),
            None => find(dir, &["qidpidtriples.train.full.2.tsv"])
                .map(|p| (p, TriplesFormat::Ids))
                .or_else(|| {
                    find(dir, &["triples.train.small.tsv"]).map(|p| (p, TriplesFormat::Texts))
                }),
        };
        Ok(Sources {
            collection,
            queries,
            qrels,
            triples,
        })
    }
}

/// The layout of a triples file: from the official names, else from the first line (ids have
/// no spaces; a query text almost always has).
fn triples_format(path: &Path) -> Result<TriplesFormat> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    if name.starts_with("qidpidtriples") {
        return Ok(TriplesFormat::Ids);
    }
    if name.starts_with("triples.") {
        return Ok(TriplesFormat::Texts);
    }
    let mut lines = LineReader::open(path)?;
    while let Some(next) = lines.next_line() {
        let (_, line) = next?;
        if line.trim().is_empty() {
            continue;
        }
        let ids = line.split('\t').all(|c| !c.is_empty() && !c.contains(' '));
        return Ok(if ids {
            TriplesFormat::Ids
        } else {
            TriplesFormat::Texts
        });
    }
    Ok(TriplesFormat::Ids)
}

/// What [`prepare`] read and wrote.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub passages: u64,
    /// Queries per input file, in input order.
    pub queries: Vec<(String, u64)>,
    /// Judgements per split.
    pub qrels: Vec<(String, u64)>,
    pub triples_format: Option<TriplesFormat>,
    /// Triples read (at most `max_train_samples`).
    pub triples_read: u64,
    pub triplets_train: u64,
    pub triplets_val: u64,
    /// Text triples left out because one of their texts is empty (`trawl train` refuses them).
    pub triples_empty: u64,
}

#[derive(Serialize)]
struct CorpusLine<'a> {
    _id: &'a str,
    title: &'a str,
    text: &'a str,
}

#[derive(Serialize)]
struct QueryLine<'a> {
    _id: &'a str,
    text: &'a str,
}

#[derive(Serialize)]
struct TripletLine<'a> {
    query: &'a str,
    positive: &'a str,
    negatives: [&'a str; 1],
}

/// A buffered output file in the folder being built (the folder is fsynced as a whole when it
/// is committed).
struct Output {
    out: BufWriter<File>,
    path: PathBuf,
}

impl Output {
    fn create(path: PathBuf) -> Result<Self> {
        let file = File::create(&path).map_err(|e| Error::write(&path, e))?;
        Ok(Output {
            out: BufWriter::with_capacity(1 << 20, file),
            path,
        })
    }

    fn json_line(&mut self, value: &impl Serialize) -> Result<()> {
        serde_json::to_writer(&mut self.out, value)
            .map_err(|e| Error::write(&self.path, e.into()))?;
        self.out
            .write_all(b"\n")
            .map_err(|e| Error::write(&self.path, e))
    }

    fn line(&mut self, args: std::fmt::Arguments<'_>) -> Result<()> {
        writeln!(self.out, "{args}").map_err(|e| Error::write(&self.path, e))
    }

    fn finish(mut self) -> Result<()> {
        self.out.flush().map_err(|e| Error::write(&self.path, e))
    }
}

/// Writes the BEIR folder and triplets into `out_dir` (an empty folder, e.g. an
/// [`trawl_store::AtomicDir`]'s path). See the module docs.
pub fn prepare(
    sources: &Sources,
    out_dir: &Path,
    options: &Options,
    progress: Progress<'_>,
) -> Result<Summary> {
    if !(options.split_ratio > 0.0 && options.split_ratio <= 1.0) {
        return Err(Error::Input(format!(
            "--split-ratio {} is out of range; expected a fraction of the training queries in \
             (0, 1], e.g. 0.9 to hold out 10% for validation",
            options.split_ratio
        )));
    }
    let mut summary = Summary::default();
    // Id triples: learn which passages and queries they name before streaming those files.
    let mut wanted = match &sources.triples {
        Some((path, TriplesFormat::Ids)) => Some(Wanted::scan(path, options.max_train_samples)?),
        _ => None,
    };
    summary.passages = write_corpus(sources, out_dir, wanted.as_mut(), progress)?;
    let query_ids = write_queries(sources, out_dir, wanted.as_mut(), &mut summary, progress)?;
    std::fs::create_dir_all(out_dir.join("qrels")).map_err(|e| Error::write(out_dir, e))?;
    for (split, path) in &sources.qrels {
        let n = write_qrels(
            path,
            &out_dir.join("qrels").join(format!("{split}.tsv")),
            &query_ids,
        )?;
        summary.qrels.push((split.clone(), n));
    }
    if let Some((path, format)) = &sources.triples {
        summary.triples_format = Some(*format);
        write_triplets(
            path,
            *format,
            wanted.as_ref(),
            out_dir,
            options,
            &mut summary,
            progress,
        )?;
    }
    Ok(summary)
}

/// The passages and queries that id triples name, and their texts once found.
struct Wanted {
    passages: HashMap<String, Option<String>>,
    queries: HashMap<String, Option<String>>,
}

impl Wanted {
    fn scan(path: &Path, max: Option<u64>) -> Result<Self> {
        let mut wanted = Wanted {
            passages: HashMap::new(),
            queries: HashMap::new(),
        };
        for_each_triple(path, TriplesFormat::Ids, max, |_, [q, p, n]| {
            wanted.queries.entry(q.to_string()).or_default();
            wanted.passages.entry(p.to_string()).or_default();
            wanted.passages.entry(n.to_string()).or_default();
            Ok(())
        })?;
        Ok(wanted)
    }
}

fn write_corpus(
    sources: &Sources,
    out_dir: &Path,
    mut wanted: Option<&mut Wanted>,
    progress: Progress<'_>,
) -> Result<u64> {
    let stage = file_label(&sources.collection);
    let mut out = Output::create(out_dir.join("corpus.jsonl"))?;
    let mut n = 0u64;
    for doc in read_documents_as(&sources.collection, DocumentFormat::Tsv)? {
        let doc = doc?;
        out.json_line(&CorpusLine {
            _id: &doc.id,
            title: &doc.title,
            text: &doc.text,
        })?;
        if let Some(w) = wanted.as_deref_mut() {
            if let Some(slot) = w.passages.get_mut(&doc.id) {
                *slot = Some(doc.text);
            }
        }
        n += 1;
        if n.is_multiple_of(PROGRESS_EVERY) {
            progress(&stage, n);
        }
    }
    progress(&stage, n);
    out.finish()?;
    Ok(n)
}

/// Writes every query of every queries file; returns the ids. A query id in two files with the
/// same text is written once; with different texts it is an error.
fn write_queries(
    sources: &Sources,
    out_dir: &Path,
    mut wanted: Option<&mut Wanted>,
    summary: &mut Summary,
    progress: Progress<'_>,
) -> Result<HashMap<String, (usize, u64)>> {
    let mut out = Output::create(out_dir.join("queries.jsonl"))?;
    // id -> (which file, hash of its text)
    let mut seen: HashMap<String, (usize, u64)> = HashMap::new();
    for (file_no, (_, path)) in sources.queries.iter().enumerate() {
        let stage = file_label(path);
        let mut n = 0u64;
        let mut reader = stream_queries(path)?;
        while let Some(query) = reader.next() {
            let query = query?;
            n += 1;
            let text_hash = hash64(0, query.text.as_bytes());
            if let Some(&(earlier, h)) = seen.get(&query.id) {
                if h != text_hash {
                    return Err(Error::parse(
                        path,
                        reader.line_number(),
                        format!(
                            "query id {} is also in {} with a different text; expected one text \
                             per query id across the queries files",
                            quote(&query.id),
                            sources.queries[earlier].1.display()
                        ),
                    ));
                }
                continue;
            }
            seen.insert(query.id.clone(), (file_no, text_hash));
            out.json_line(&QueryLine {
                _id: &query.id,
                text: &query.text,
            })?;
            if let Some(w) = wanted.as_deref_mut() {
                if let Some(slot) = w.queries.get_mut(&query.id) {
                    *slot = Some(query.text);
                }
            }
            if n.is_multiple_of(PROGRESS_EVERY) {
                progress(&stage, n);
            }
        }
        progress(&stage, n);
        summary.queries.push((file_label(path), n));
    }
    out.finish()?;
    Ok(seen)
}

/// Streams a TREC qrels file (trawl-data's one qrels reader, memory-mapped) into BEIR TSV, in
/// file order. A repeated judgement or a query in no queries file is an error.
fn write_qrels(path: &Path, dest: &Path, query_ids: &HashMap<String, (usize, u64)>) -> Result<u64> {
    let text = read_text(path)?;
    let mut out = Output::create(dest.to_path_buf())?;
    out.line(format_args!("query-id\tcorpus-id\tscore"))?;
    let mut first_line: HashMap<(&str, &str), usize> = HashMap::new();
    let mut n = 0u64;
    let mut failure = None;
    let scanned = scan_qrels(&text, path, Dialect::Permissive, |j| {
        let step = if let Some(first) = first_line.insert((j.query_id, j.doc_id), j.line) {
            Err(Error::parse(
                path,
                j.line,
                format!(
                    "duplicate judgement of passage {} for query {} (first on line {first}); \
                     expected each (query, passage) pair once",
                    quote(j.doc_id),
                    quote(j.query_id)
                ),
            ))
        } else if !query_ids.contains_key(j.query_id) {
            Err(Error::parse(
                path,
                j.line,
                format!(
                    "query id {} is in no queries file; expected the qrels of the queries \
                     given (queries.train.tsv / queries.dev.tsv)",
                    quote(j.query_id)
                ),
            ))
        } else {
            n += 1;
            out.line(format_args!("{}\t{}\t{}", j.query_id, j.doc_id, j.grade))
        };
        // Stop the scan at the first problem; `failure` carries it out.
        step.map_err(|e| {
            failure = Some(e);
            trawl_data::Error::Write(std::io::Error::other("stopped"))
        })
    });
    if let Some(e) = failure {
        return Err(e);
    }
    scanned?;
    out.finish()?;
    Ok(n)
}

/// Calls `on(line, [a, b, c])` for the first `max` triples of a triples file.
fn for_each_triple(
    path: &Path,
    format: TriplesFormat,
    max: Option<u64>,
    mut on: impl FnMut(usize, [&str; 3]) -> Result<()>,
) -> Result<u64> {
    let mut lines = LineReader::open(path)?;
    let mut n = 0u64;
    while max.is_none_or(|m| n < m) {
        let Some(next) = lines.next_line() else { break };
        let (line_no, line) = next?;
        if line.trim().is_empty() {
            continue;
        }
        let mut cols = line.split('\t');
        let (Some(a), Some(b), Some(c), None) =
            (cols.next(), cols.next(), cols.next(), cols.next())
        else {
            let found = line.split('\t').count();
            let expected = match format {
                TriplesFormat::Ids => "`qid<TAB>positive pid<TAB>negative pid` (qidpidtriples)",
                TriplesFormat::Texts => "`query<TAB>positive passage<TAB>negative passage`",
            };
            return Err(Error::parse(
                path,
                line_no,
                format!("expected 3 tab-separated columns {expected}, found {found}"),
            ));
        };
        if format == TriplesFormat::Ids {
            if let Some(bad) = [a, b, c].iter().find(|id| id.trim().is_empty()) {
                return Err(Error::parse(
                    path,
                    line_no,
                    format!(
                        "empty id {}; expected `qid<TAB>positive pid<TAB>negative pid`",
                        quote(bad)
                    ),
                ));
            }
        }
        let cols = match format {
            TriplesFormat::Ids => [a.trim(), b.trim(), c.trim()],
            TriplesFormat::Texts => [a, b, c],
        };
        on(line_no, cols)?;
        n += 1;
    }
    Ok(n)
}

fn write_triplets(
    path: &Path,
    format: TriplesFormat,
    wanted: Option<&Wanted>,
    out_dir: &Path,
    options: &Options,
    summary: &mut Summary,
    progress: Progress<'_>,
) -> Result<()> {
    let stage = file_label(path);
    let mut train = Output::create(out_dir.join("triplets.train.jsonl"))?;
    let mut val = if options.split_ratio < 1.0 {
        Some(Output::create(out_dir.join("triplets.val.jsonl"))?)
    } else {
        None
    };
    let (mut n_train, mut n_val, mut n_empty) = (0u64, 0u64, 0u64);
    let read = for_each_triple(path, format, options.max_train_samples, |line, cols| {
        let (query_key, texts) = match (format, wanted) {
            (TriplesFormat::Ids, Some(w)) => {
                let q = lookup(&w.queries, cols[0], "query", path, line)?;
                let p = lookup(&w.passages, cols[1], "passage", path, line)?;
                let n = lookup(&w.passages, cols[2], "passage", path, line)?;
                (cols[0], [q, p, n])
            }
            _ => (cols[0], cols),
        };
        if texts.iter().any(|t| t.trim().is_empty()) {
            n_empty += 1;
            return Ok(());
        }
        let line_out = TripletLine {
            query: texts[0],
            positive: texts[1],
            negatives: [texts[2]],
        };
        match val.as_mut() {
            Some(v) if !in_train(options.seed, query_key, options.split_ratio) => {
                v.json_line(&line_out)?;
                n_val += 1;
            }
            _ => {
                train.json_line(&line_out)?;
                n_train += 1;
            }
        }
        let done = n_train + n_val + n_empty;
        if done.is_multiple_of(PROGRESS_EVERY) {
            progress(&stage, done);
        }
        Ok(())
    })?;
    progress(&stage, read);
    train.finish()?;
    if let Some(v) = val {
        v.finish()?;
    }
    summary.triples_read = read;
    summary.triplets_train = n_train;
    summary.triplets_val = n_val;
    summary.triples_empty = n_empty;
    Ok(())
}

fn lookup<'a>(
    texts: &'a HashMap<String, Option<String>>,
    id: &str,
    what: &str,
    path: &Path,
    line: usize,
) -> Result<&'a str> {
    match texts.get(id) {
        Some(Some(text)) => Ok(text),
        _ => Err(Error::parse(
            path,
            line,
            format!(
                "{what} id {} is not in the {}; expected the triples of this MS MARCO folder",
                quote(id),
                if what == "query" {
                    "queries files"
                } else {
                    "collection"
                }
            ),
        )),
    }
}

/// Whether a query's triples go to the training file: a seeded hash of its key, as a fraction
/// in [0, 1), below `ratio`. Stable across runs, platforms and Rust versions.
fn in_train(seed: u64, key: &str, ratio: f64) -> bool {
    let unit = (hash64(seed, key.as_bytes()) >> 11) as f64 / (1u64 << 53) as f64;
    unit < ratio
}

/// FNV-1a over the bytes, then SplitMix64's finaliser (FNV alone mixes the high bits poorly).
fn hash64(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

fn file_label(path: &Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
