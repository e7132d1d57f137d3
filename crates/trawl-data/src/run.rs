//! A run: ranked, scored documents per query, and the TREC run format
//! `qid Q0 docid rank score tag`.
//!
//! Reading follows trec_eval 10.0: columns are whitespace-separated, at least 6 (more are
//! ignored); `Q0` and `rank` are ignored (evaluation orders by score); the run tag reported is
//! the one on the last line; a line whose first non-blank character is `#` is a comment and
//! blank lines are skipped (`#` inside an id is data). trawl is stricter than trec_eval where
//! trec_eval silently reads garbage: a score that is not a number (trec_eval's `atof` makes it 0)
//! or is NaN is an error naming the line. (These are the permissive rules of
//! [`crate::trec_format`], the one run reader; `trawl trec-eval` uses its trec_eval dialect.)
//!
//! Duplicate (query, document) pairs: trec_eval 10.0 stops with `duplicate docs <docid>` when it
//! evaluates a query whose list holds a document twice (it checks queries present in both run
//! and qrels, among the first `-M` documents by score). [`read_run`] is stricter and simpler: any
//! duplicate in any query is an error naming both lines ([`DuplicatePolicy::Error`]).
//! [`read_run_with`] can instead keep the first occurrence, or keep everything (for tools that
//! reproduce trec_eval's exact leniency or want to inspect a broken run).
//!
//! Lists keep the input order; evaluation sorts (score descending, ties by document id
//! descending, as trec_eval does; see [`Run::sort_trec_order`]).

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::Path;

use rayon::prelude::*;

/// Ids come from files, not attackers of a server: a fast non-DoS-resistant hash is fine.
type FastHash = foldhash::fast::RandomState;

use crate::error::{Error, Result};
use crate::input::{self, quote};
use crate::trec_format::{self, Dialect};

/// A retrieved document with its score.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredDoc {
    pub doc_id: String,
    pub score: f64,
}

/// Retrieval results per query. Each list is kept in the order given; evaluation re-sorts by
/// score the way trec_eval does. Equality compares the lists only, not the [`Run::tag`].
#[derive(Debug, Clone, Default)]
pub struct Run {
    pub(crate) by_query: HashMap<String, Vec<ScoredDoc>>,
    pub(crate) tag: Option<String>,
}

impl PartialEq for Run {
    fn eq(&self, other: &Self) -> bool {
        self.by_query == other.by_query
    }
}

impl Run {
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends one retrieved document to the list of `query_id`.
    pub fn push(&mut self, query_id: impl Into<String>, doc_id: impl Into<String>, score: f64) {
        self.by_query
            .entry(query_id.into())
            .or_default()
            .push(ScoredDoc {
                doc_id: doc_id.into(),
                score,
            });
    }

    /// Replaces the whole list of one query.
    pub fn insert(&mut self, query_id: impl Into<String>, docs: Vec<ScoredDoc>) {
        self.by_query.insert(query_id.into(), docs);
    }

    pub fn get(&self, query_id: &str) -> Option<&[ScoredDoc]> {
        self.by_query.get(query_id).map(Vec::as_slice)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&String, &Vec<ScoredDoc>)> {
        self.by_query.iter()
    }

    pub fn num_queries(&self) -> usize {
        self.by_query.len()
    }

    /// The total number of retrieved documents over all queries.
    pub fn num_docs(&self) -> usize {
        self.by_query.values().map(Vec::len).sum()
    }

    /// The run tag (last column) of the last line read, as trec_eval reports it; `None` for
    /// runs built in memory until [`Run::set_tag`].
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn set_tag(&mut self, tag: impl Into<String>) {
        self.tag = Some(tag.into());
    }

    /// Query ids: numeric ids by value, others lexicographically (the order files list them).
    pub fn sorted_query_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.by_query.keys().map(String::as_str).collect();
        ids.sort_by(|a, b| compare_query_ids(a, b));
        ids
    }

    /// Sorts every list the way trec_eval ranks: score descending, ties by document id
    /// descending (byte order, like `strcmp`).
    pub fn sort_trec_order(&mut self) {
        for docs in self.by_query.values_mut() {
            docs.sort_by(trec_order);
        }
    }
}

/// trec_eval's ranking order: score descending, then document id descending.
pub fn trec_order(a: &ScoredDoc, b: &ScoredDoc) -> Ordering {
    b.score
        .total_cmp(&a.score)
        .then_with(|| b.doc_id.as_bytes().cmp(a.doc_id.as_bytes()))
}

/// Numeric ids by value (`2` < `10`), numeric before non-numeric, others by bytes.
pub fn compare_query_ids(a: &str, b: &str) -> Ordering {
    match (a.parse::<u64>(), b.parse::<u64>()) {
        (Ok(x), Ok(y)) => x.cmp(&y).then_with(|| a.cmp(b)),
        (Ok(_), Err(_)) => Ordering::Less,
        (Err(_), Ok(_)) => Ordering::Greater,
        (Err(_), Err(_)) => a.cmp(b),
    }
}

/// What to do with a document listed twice for one query.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum DuplicatePolicy {
    /// Fail naming both lines (trec_eval 10.0 fails too).
    #[default]
    Error,
    /// Keep the first occurrence, drop later ones.
    KeepFirst,
    /// Keep every line as read.
    KeepAll,
}

/// Options for [`read_run_with`].
#[derive(Clone, Debug, Default)]
pub struct RunReadOptions {
    pub duplicates: DuplicatePolicy,
}

/// Reads a TREC run file (`.gz` too) with the default options (duplicates are an error).
pub fn read_run(path: impl AsRef<Path>) -> Result<Run> {
    read_run_with(path, &RunReadOptions::default())
}

/// Reads a TREC run file with explicit options.
pub fn read_run_with(path: impl AsRef<Path>, options: &RunReadOptions) -> Result<Run> {
    let path = path.as_ref();
    let data = input::read_bytes(path)?;
    parse_run(&data, path, options)
}

/// Parses a TREC run from memory; `path` is only used in error messages. The lines are read by
/// [`crate::trec_format::parse_run`] in the permissive dialect (the one run reader, parallel on
/// large inputs, with the first bad line reported whatever the thread count).
pub fn parse_run(data: &[u8], path: &Path, options: &RunReadOptions) -> Result<Run> {
    let text = input::to_str(data, path)?;
    let table = trec_format::parse_run(text, path, Dialect::Permissive)?;
    let mut lists = table.queries;
    match options.duplicates {
        DuplicatePolicy::KeepAll => {}
        DuplicatePolicy::Error => {
            let dup = lists.par_iter().find_map_first(|(qid, docs)| {
                let mut seen: HashSet<&str, FastHash> =
                    HashSet::with_capacity_and_hasher(docs.len(), FastHash::default());
                docs.iter()
                    .find(|(d, _)| !seen.insert(d))
                    .map(|(d, _)| (*qid, *d))
            });
            if let Some((qid, doc_id)) = dup {
                return Err(duplicate_error(text, path, qid, doc_id));
            }
        }
        DuplicatePolicy::KeepFirst => {
            lists.par_iter_mut().for_each(|(_, docs)| {
                let mut seen: HashSet<&str, FastHash> =
                    HashSet::with_capacity_and_hasher(docs.len(), FastHash::default());
                docs.retain(|(d, _)| seen.insert(d));
            });
        }
    }
    let by_query = lists
        .into_par_iter()
        .map(|(q, docs)| {
            let docs = docs
                .into_iter()
                .map(|(d, score)| ScoredDoc {
                    doc_id: d.to_string(),
                    score,
                })
                .collect();
            (q.to_string(), docs)
        })
        .collect::<Vec<_>>()
        .into_iter()
        .collect();
    Ok(Run {
        by_query,
        tag: (!table.run_id.is_empty()).then(|| table.run_id.to_string()),
    })
}

/// Error path only: finds the two lines of the duplicate to name them.
fn duplicate_error(text: &str, path: &Path, qid: &str, doc_id: &str) -> Error {
    let mut hits = input::lines(text).filter_map(|(no, line)| {
        match trec_format::parse_run_line(line, Dialect::Permissive) {
            Ok(Some(((q, d, _, _), _))) if q == qid && d == doc_id => Some(no),
            _ => None,
        }
    });
    let first = hits.next().unwrap_or(0);
    let second = hits.next().unwrap_or(0);
    Error::parse(
        path,
        second,
        format!(
            "duplicate document {} for query {} (first on line {first}); trec_eval 10.0 rejects \
             duplicate documents in a query's list: remove one, or read with \
             DuplicatePolicy::KeepFirst",
            quote(doc_id),
            quote(qid)
        ),
    )
}

/// Writes `run` in TREC format: queries in [`Run::sorted_query_ids`] order, each list sorted
/// by [`trec_order`] with ranks 1..n, scores printed in shortest round-trip form.
pub fn write_trec_run(run: &Run, mut out: impl Write, tag: &str) -> Result<()> {
    crate::qrels::check_id("TREC run", "run tag", tag)?;
    let mut docs: Vec<&ScoredDoc> = Vec::new();
    for qid in run.sorted_query_ids() {
        crate::qrels::check_id("TREC run", "query id", qid)?;
        docs.clear();
        docs.extend(run.by_query[qid].iter());
        docs.sort_by(|a, b| trec_order(a, b));
        for (rank, d) in docs.iter().enumerate() {
            crate::qrels::check_id("TREC run", "document id", &d.doc_id)?;
            if d.score.is_nan() {
                return Err(Error::Unrepresentable {
                    format: "TREC run",
                    message: format!(
                        "score of {} for query {} is NaN",
                        quote(&d.doc_id),
                        quote(qid)
                    ),
                });
            }
            writeln!(out, "{qid} Q0 {} {} {} {tag}", d.doc_id, rank + 1, d.score)
                .map_err(Error::Write)?;
        }
    }
    out.flush().map_err(Error::Write)
}
