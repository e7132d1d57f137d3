//! Relevance judgements: query id -> document id -> graded relevance.
//!
//! Two file formats, told apart by the first content line:
//! - TREC: `qid iter docid rel`, whitespace-separated, exactly 4 columns (`iter` is ignored, as in
//!   trec_eval).
//! - BEIR: `query-id<TAB>corpus-id<TAB>score`, 3 columns, usually with that header line.
//!
//! In both, a first content line whose grade column is a column name (`score`, `rel`,
//! `relevance`, `label`, `grade`, `judgment`) is a header and skipped.
//!
//! Rules shared with trec_eval 10.0: a line starting with `#` is a comment (a `#` anywhere else
//! is data, so MS MARCO ids like `doc_00_1#4_16` work); ids cannot contain whitespace. trawl is
//! more lenient in two ways: indented comments and blank lines are skipped (trec_eval's qrels
//! reader calls both malformed). It is stricter in one: grades must be integers (`2` or `2.0`);
//! trec_eval would silently read `abc` as 0, trawl reports it.
//!
//! A repeated (query, document) pair is by default an error naming both lines: trec_eval 10.0
//! stops with `duplicate docs` on it (it checks when it evaluates that query, i.e. for queries
//! present in both qrels and run; trawl checks every query at read time). Python tools that load
//! qrels into dicts (BEIR, pytrec_eval) silently keep the last line instead:
//! [`read_qrels_with`] with [`QrelsDuplicates::KeepLast`] reproduces that.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};
use crate::input::{self, quote};

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

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// `qid iter docid rel`
    Trec,
    /// `qid docid rel` (BEIR TSV)
    ThreeColumn,
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

/// [`parse_qrels`] with an explicit duplicate policy.
pub fn parse_qrels_with(data: &[u8], path: &Path, duplicates: QrelsDuplicates) -> Result<Qrels> {
    let text = input::to_str(data, path)?;
    let mut qrels = Qrels::new();
    let mut layout = None;
    let mut cur_qid = "";
    let mut cur: Option<&mut HashMap<String, i32>> = None;
    let mut fields: [&str; 4] = [""; 4];
    for (line_no, line) in input::lines(text) {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut n = 0;
        let mut parts = line.split_ascii_whitespace();
        for part in parts.by_ref().take(4) {
            fields[n] = part;
            n += 1;
        }
        let extra = parts.next().is_some();
        let layout = match layout {
            Some(l) => l,
            None => {
                let detected = match (n, extra) {
                    (4, false) => Layout::Trec,
                    (3, _) => Layout::ThreeColumn,
                    _ => {
                        return Err(Error::parse(
                            path,
                            line_no,
                            format!(
                        "expected a qrels line: 4 columns `qid iter docid rel` (TREC) or 3 \
                         tab-separated columns `query-id corpus-id score` (BEIR); found {}{}",
                        if extra { "more than 4".to_string() } else { n.to_string() },
                        if n == 1 { " column" } else { " columns" }
                    ),
                        ))
                    }
                };
                layout = Some(detected);
                if is_grade_column_name(fields[n - 1]) {
                    continue; // a header such as `query-id corpus-id score`
                }
                detected
            }
        };
        let (expected, want) = match layout {
            Layout::Trec => ("`qid iter docid rel` (TREC qrels)", 4),
            Layout::ThreeColumn => ("`query-id corpus-id score` (BEIR qrels)", 3),
        };
        if n != want || extra {
            let found = if extra {
                "more".to_string()
            } else {
                n.to_string()
            };
            return Err(Error::parse(
                path,
                line_no,
                format!(
                    "expected {want} columns {expected}, found {found}: {}",
                    quote(line)
                ),
            ));
        }
        let (qid, docid, grade) = match layout {
            Layout::Trec => (fields[0], fields[2], fields[3]),
            Layout::ThreeColumn => (fields[0], fields[1], fields[2]),
        };
        let Some(grade) = parse_grade(grade) else {
            return Err(Error::parse(
                path,
                line_no,
                format!(
                    "expected an integer relevance grade, found {}",
                    quote(grade)
                ),
            ));
        };
        if cur.is_none() || qid != cur_qid {
            cur = Some(qrels.by_query.entry(qid.to_string()).or_default());
            cur_qid = qid;
        }
        let Some(judged) = cur.as_mut() else {
            unreachable!("set just above")
        };
        if let Some(earlier) = judged.get_mut(docid) {
            match duplicates {
                QrelsDuplicates::KeepFirst => {}
                QrelsDuplicates::KeepLast => *earlier = grade,
                QrelsDuplicates::Error => {
                    let first = first_line_of(text, layout, qid, docid).unwrap_or(0);
                    return Err(Error::parse(
                        path,
                        line_no,
                        format!(
                            "duplicate judgement of document {} for query {} (first on line \
                             {first}); trec_eval 10.0 rejects duplicates: keep one line (or \
                             read with QrelsDuplicates::KeepLast, as BEIR does)",
                            quote(docid),
                            quote(qid)
                        ),
                    ));
                }
            }
        } else {
            judged.insert(docid.to_string(), grade);
        }
    }
    Ok(qrels)
}

fn is_grade_column_name(s: &str) -> bool {
    let names = [
        "score",
        "rel",
        "relevance",
        "label",
        "grade",
        "judgment",
        "judgement",
    ];
    names.iter().any(|n| s.eq_ignore_ascii_case(n))
}

/// `2`, `-1` or an integral float such as `2.0`.
fn parse_grade(s: &str) -> Option<i32> {
    if let Ok(g) = s.parse::<i32>() {
        return Some(g);
    }
    let f: f64 = s.parse().ok()?;
    (f.fract() == 0.0 && f.abs() <= i32::MAX as f64).then_some(f as i32)
}

/// Error path only: the first line judging (`qid`, `docid`).
fn first_line_of(text: &str, layout: Layout, qid: &str, docid: &str) -> Option<usize> {
    input::lines(text).find_map(|(no, line)| {
        let f: Vec<&str> = line.split_ascii_whitespace().collect();
        let (q, d) = match layout {
            Layout::Trec if f.len() == 4 => (f[0], f[2]),
            Layout::ThreeColumn if f.len() == 3 => (f[0], f[1]),
            _ => return None,
        };
        (q == qid && d == docid).then_some(no)
    })
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
