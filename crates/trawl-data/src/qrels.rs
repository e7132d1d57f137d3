//! Relevance judgements: query id -> document id -> graded relevance, read by the one qrels
//! reader ([`crate::trec_format`], permissive dialect).
//!
//! Two file formats, told apart by the first content line:
//! - TREC: `qid iter docid rel`, whitespace-separated, exactly 4 columns (`iter` is ignored, as in
//!   trec_eval).
//! - BEIR: `query-id<TAB>corpus-id<TAB>score`, 3 columns, usually with that header line.
//!
//! In both, a first content line whose grade column is a column name (`score`, `rel`,
//! `relevance`, `label`, `grade`, `judgment`) is a header and skipped.
//!
//! A `#` starting a line (after optional blanks) starts a comment (a `#` anywhere else is data,
//! so MS MARCO ids like `doc_00_1#4_16` work); blank lines are skipped; ids cannot contain
//! whitespace. **Grades**: an integer, or a float with an integral value (`2.0`) read as that
//! integer; `1.5` or `abc` is an error naming the file and line (trec_eval's `atol` would read
//! them as 1 and 0; `trawl trec-eval` does, with a note on stderr).
//!
//! A repeated (query, document) pair is by default an error naming both lines: trec_eval 10.0
//! stops with `duplicate docs` on it. Python tools that load qrels into dicts (BEIR,
//! pytrec_eval) silently keep the last line instead: [`read_qrels_with`] with
//! [`QrelsDuplicates::KeepLast`] reproduces that.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::input::{self, quote};
use crate::trec_format::{duplicate_judgement, scan_qrels, Dialect, Judgement};

/// Relevance judgements. Grades are kept as given (0 and negatives too); which grade counts as
/// relevant is the evaluator's decision.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Qrels {
    pub(crate) by_query: HashMap<String, HashMap<String, i32>>,
}

impl Qrels {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the grade of `doc_id` for `query_id` (a later judgement replaces an earlier one).
    pub fn insert(&mut self, query_id: impl Into<String>, doc_id: impl Into<String>, grade: i32) {
        self.by_query
            .entry(query_id.into())
            .or_default()
            .insert(doc_id.into(), grade);
    }

    /// The judgements of one query.
    pub fn get(&self, query_id: &str) -> Option<&HashMap<String, i32>> {
        self.by_query.get(query_id)
    }

    /// All judged queries, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &HashMap<String, i32>)> {
        self.by_query.iter()
    }

    pub fn num_queries(&self) -> usize {
        self.by_query.len()
    }

    /// The number of (query, document) judgements.
    pub fn num_judgements(&self) -> usize {
        self.by_query.values().map(HashMap::len).sum()
    }

    /// Query ids in the order files list them: numeric ids by value, others lexicographically.
    pub fn sorted_query_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self.by_query.keys().map(String::as_str).collect();
        ids.sort_by(|a, b| crate::run::compare_query_ids(a, b));
        ids
    }
}

/// What to do with a (query, document) pair judged twice.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum QrelsDuplicates {
    /// Fail naming both lines (trec_eval 10.0 fails too).
    #[default]
    Error,
    /// Keep the first judgement.
    KeepFirst,
    /// Keep the last judgement (what dict-based Python loaders do).
    KeepLast,
}

/// Reads a TREC or BEIR qrels file (`.gz` too); see the module docs for the rules.
pub fn read_qrels(path: impl AsRef<Path>) -> Result<Qrels> {
    read_qrels_with(path, QrelsDuplicates::Error)
}

/// [`read_qrels`] with an explicit duplicate policy.
pub fn read_qrels_with(path: impl AsRef<Path>, duplicates: QrelsDuplicates) -> Result<Qrels> {
    let path = path.as_ref();
    let data = input::read_bytes(path)?;
    parse_qrels_with(&data, path, duplicates)
}

/// Parses qrels from memory; `path` is only used in error messages.
pub fn parse_qrels(data: &[u8], path: &Path) -> Result<Qrels> {
    parse_qrels_with(data, path, QrelsDuplicates::Error)
}

/// [`parse_qrels`] with an explicit duplicate policy. Lines are read by
/// [`crate::trec_format::scan_qrels`] in the permissive dialect, the one reader every command
/// shares.
pub fn parse_qrels_with(data: &[u8], path: &Path, duplicates: QrelsDuplicates) -> Result<Qrels> {
    let text = input::to_str(data, path)?;
    let mut qrels = Qrels::new();
    scan_qrels(text, path, Dialect::Permissive, |j| {
        // Look up by &str: a String is allocated once per query, not per line.
        let judged = match qrels.by_query.get_mut(j.query_id) {
            Some(m) => m,
            None => qrels.by_query.entry(j.query_id.to_string()).or_default(),
        };
        match judged.get_mut(j.doc_id) {
            None => {
                judged.insert(j.doc_id.to_string(), j.grade);
            }
            Some(earlier) => match duplicates {
                QrelsDuplicates::KeepFirst => {}
                QrelsDuplicates::KeepLast => *earlier = j.grade,
                QrelsDuplicates::Error => {
                    let first = Judgement {
                        line: first_line_of(text, path, j.query_id, j.doc_id),
                        ..j
                    };
                    return Err(duplicate_judgement(path, &first, j.line));
                }
            },
        }
        Ok(())
    })?;
    Ok(qrels)
}

/// Error path only: the first line judging (`qid`, `docid`).
fn first_line_of(text: &str, path: &Path, qid: &str, docid: &str) -> usize {
    let mut first = 0;
    let _ = scan_qrels(text, path, Dialect::Permissive, |j| {
        if j.query_id == qid && j.doc_id == docid {
            first = j.line;
            // Stop the scan: the first occurrence is found.
            return Err(Error::parse(path, j.line, ""));
        }
        Ok(())
    });
    first
}

/// Writes TREC qrels (`qid 0 docid rel`), queries in [`Qrels::sorted_query_ids`] order and
/// documents sorted by id, so the output is deterministic.
pub fn write_qrels(qrels: &Qrels, mut out: impl Write) -> Result<()> {
    for qid in qrels.sorted_query_ids() {
        check_id("TREC qrels", "query id", qid)?;
        let mut docs: Vec<(&String, &i32)> = qrels.by_query[qid].iter().collect();
        docs.sort_unstable();
        for (doc, grade) in docs {
            check_id("TREC qrels", "document id", doc)?;
            writeln!(out, "{qid} 0 {doc} {grade}").map_err(Error::Write)?;
        }
    }
    out.flush().map_err(Error::Write)
}

/// Writes BEIR qrels TSV with its `query-id corpus-id score` header, in the same order as
/// [`write_qrels`].
pub fn write_qrels_tsv(qrels: &Qrels, mut out: impl Write) -> Result<()> {
    writeln!(out, "query-id\tcorpus-id\tscore").map_err(Error::Write)?;
    for qid in qrels.sorted_query_ids() {
        check_id("BEIR qrels", "query id", qid)?;
        let mut docs: Vec<(&String, &i32)> = qrels.by_query[qid].iter().collect();
        docs.sort_unstable();
        for (doc, grade) in docs {
            check_id("BEIR qrels", "document id", doc)?;
            writeln!(out, "{qid}\t{doc}\t{grade}").map_err(Error::Write)?;
        }
    }
    out.flush().map_err(Error::Write)
}

/// Ids in whitespace-separated files must be non-empty, without whitespace, and must not start
/// with `#` (it would read back as a comment).
pub(crate) fn check_id(format: &'static str, what: &str, id: &str) -> Result<()> {
    if id.is_empty() || id.starts_with('#') || id.bytes().any(|b| b.is_ascii_whitespace()) {
        return Err(Error::Unrepresentable {
            format,
            message: format!(
                "{what} {} is empty, contains whitespace or starts with `#`",
                quote(id)
            ),
        });
    }
    Ok(())
}
