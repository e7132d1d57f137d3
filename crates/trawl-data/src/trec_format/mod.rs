//! The one reader of TREC qrels and runs, in two dialects.
//!
//! Every command reads qrels and runs through this module: [`crate::qrels`] and [`crate::run`]
//! build their owned types on it, and trawl-eval evaluates the tables it returns.
//!
//! # Dialects
//!
//! [`Dialect::Permissive`] (the default, used everywhere except `trawl trec-eval`):
//! - Qrels are TREC `qid iter docid rel` (4 columns) or BEIR `query-id corpus-id score`
//!   (3 columns), told apart by the first content line; a first line whose grade column is a
//!   column name (`score`, `rel`, `relevance`, `label`, `grade`, `judgment`) is a header and
//!   skipped. Blank lines and lines whose first non-blank character is `#` are skipped.
//! - **Grades**: an integer, or a float with an integral value (`1.0`, `2.`, `1e0`), read as that
//!   integer. Anything else (`1.5`, `high`) is an error naming the file and line.
//! - Runs: `qid Q0 docid rank score tag [more columns ignored]`; the score must be a number
//!   (`inf` allowed, NaN refused).
//!
//! [`Dialect::TrecEval`] accepts and rejects what trec_eval 10.0 does (get_qrels.c,
//! get_trec_results.c), with the same values:
//! - Qrels lines have exactly 4 columns; a blank line is malformed; a line with `#` in column 0
//!   is a comment, but only one comment line is skipped before each data line (a second
//!   consecutive comment line is read as data, as trec_eval does). A header line is data.
//! - Grades are read with C's `atol` (`1.5` -> 1, `rel` -> 0); scores with `atof` (`high` -> 0).
//!   Each such reading is recorded as a [`Note`] so the caller can say so (trec_eval is silent).
//! - Runs: blank lines and lines whose first non-blank character is `#` are skipped, at least 6
//!   columns, as in the permissive dialect; only the score is read differently.
//! - An empty (0-byte) qrels or run file is an error, as in trec_eval.
//!
//! Not reading rules, so not reproduced: trec_eval 10.0 exits (status 4) when a qrels query has
//! no results and `-c` is not given (`trawl trec-eval` leaves that query out, as trec_eval 9
//! did), and fails ("Can't calculate measure") when the first query it evaluates has only
//! negative grades (an allocation of size 0; trawl evaluates it). With a run of comment lines
//! only, trec_eval prints an uninitialised run id; trawl prints an empty one.
//!
//! Shared by both: ids are whitespace-free (C `isspace` separates fields); a `#` inside an id is
//! data; CRLF line ends and byte-order marks are removed; `.gz` input is decompressed; input must
//! be UTF-8. Where trec_eval 10.0 crashes (a comment as the last qrels line) trawl skips the
//! comment; where its result is undefined (a NaN score) trawl reports an error. A repeated
//! (query, document) pair in qrels is an error naming both lines in both dialects (trec_eval
//! fails on it too). Grades must lie in `-MAX_GRADE..=MAX_GRADE`: evaluation keeps a count per
//! grade level, as trec_eval does, which fails for huge grades.
//!
//! Runs are parsed in parallel chunks and borrow their ids from the file text, so a 10M-line run
//! costs one read and no per-line allocation.

use std::collections::HashMap;
use std::path::Path;

use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::input::{self, quote};

mod fields;
mod text;

pub(crate) use fields::fields;
use fields::parse_score;
pub use text::{read_text, Text};

/// The largest grade magnitude accepted (see the module docs).
pub const MAX_GRADE: i32 = 1_000_000;

/// Which reading rules apply; see the module docs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Dialect {
    /// trawl's rules: headers, blank lines and indented comments accepted; a grade or score that
    /// is not a number is an error.
    #[default]
    Permissive,
    /// trec_eval 10.0's rules, value for value.
    TrecEval,
}

/// A value read leniently in the [`Dialect::TrecEval`] dialect (e.g. a grade `1.5` read as 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub line: usize,
    pub message: String,
}

/// Notes kept per file: enough to show the problem, bounded for huge files.
const MAX_NOTES: usize = 20;

fn note(notes: &mut Vec<Note>, line: usize, message: impl FnOnce() -> String) {
    let message = match notes.len() {
        n if n < MAX_NOTES => message(),
        n if n == MAX_NOTES => "and further values read leniently (not listed)".to_string(),
        _ => return,
    };
    notes.push(Note { line, message });
}

/// The judgements of one query, sorted by document id (byte order, like `strcmp`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueryJudgements {
    pub query_id: String,
    pub docs: Vec<(String, i32)>,
}

impl QueryJudgements {
    /// The grade of `doc`, if judged.
    pub fn grade(&self, doc: &str) -> Option<i32> {
        self.docs
            .binary_search_by(|(d, _)| d.as_str().cmp(doc))
            .ok()
            .map(|i| self.docs[i].1)
    }
}

/// All judgements of a qrels file, sorted by query id (byte order, as trec_eval sorts them).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QrelsTable {
    pub queries: Vec<QueryJudgements>,
    /// Lenient readings ([`Dialect::TrecEval`] only): the first 20, then one line saying more.
    pub notes: Vec<Note>,
}

impl QrelsTable {
    pub fn get(&self, query_id: &str) -> Option<&QueryJudgements> {
        self.queries
            .binary_search_by(|q| q.query_id.as_str().cmp(query_id))
            .ok()
            .map(|i| &self.queries[i])
    }

    /// Converts to the owned [`crate::Qrels`] type.
    pub fn to_qrels(&self) -> crate::Qrels {
        let mut out = crate::Qrels::new();
        for q in &self.queries {
            for (d, g) in &q.docs {
                out.insert(q.query_id.clone(), d.clone(), *g);
            }
        }
        out
    }
}

/// One judgement as read from a qrels line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Judgement<'a> {
    pub line: usize,
    pub query_id: &'a str,
    pub doc_id: &'a str,
    pub grade: i32,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// `qid iter docid rel`
    Trec,
    /// `qid docid rel` (BEIR TSV)
    ThreeColumn,
}

/// Calls `on` for every judgement of a qrels text, in file order, and returns the notes.
pub fn scan_qrels<'a>(
    text: &'a str,
    path: &Path,
    dialect: Dialect,
    mut on: impl FnMut(Judgement<'a>) -> Result<()>,
) -> Result<Vec<Note>> {
    let mut notes = Vec::new();
    let mut layout = None;
    let mut after_comment = false;
    for (line_no, line) in input::lines(text) {
        let mut cols: [&str; 4] = [""; 4];
        let mut n = 0;
        let mut extra = false;
        for f in fields(line) {
            if n == 4 {
                extra = true;
                break;
            }
            cols[n] = f;
            n += 1;
        }
        let judgement = match dialect {
            Dialect::TrecEval => {
                // get_qrels.c skips one `#` line, then parses the next line whatever it holds.
                if line.starts_with('#') && !after_comment {
                    after_comment = true;
                    continue;
                }
                after_comment = false;
                if n != 4 || extra {
                    return Err(Error::parse(
                        path,
                        line_no,
                        format!(
                            "expected 4 columns `qid iter docid rel` (trec_eval 10.0 qrels), \
                             found {}: {}",
                            count_label(n, extra),
                            quote(line)
                        ),
                    ));
                }
                let grade = atol_grade(cols[3], path, line_no, &mut notes)?;
                (cols[0], cols[2], grade)
            }
            Dialect::Permissive => {
                if n == 0 || cols[0].starts_with('#') {
                    continue;
                }
                let l = match layout {
                    Some(l) => l,
                    None => {
                        let detected =
                            match (n, extra) {
                                (4, false) => Layout::Trec,
                                (3, _) => Layout::ThreeColumn,
                                _ => {
                                    return Err(Error::parse(
                                        path,
                                        line_no,
                                        format!(
                                        "expected a qrels line: 4 columns `qid iter docid rel` \
                                         (TREC) or 3 tab-separated columns `query-id corpus-id \
                                         score` (BEIR); found {}{}",
                                        count_label(n, extra),
                                        if n == 1 && !extra { " column" } else { " columns" }
                                    ),
                                    ))
                                }
                            };
                        layout = Some(detected);
                        if is_grade_column_name(cols[n.min(4) - 1]) {
                            continue; // a header such as `query-id corpus-id score`
                        }
                        detected
                    }
                };
                let (expected, want) = match l {
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
                let (qid, docid, grade) = match l {
                    Layout::Trec => (cols[0], cols[2], cols[3]),
                    Layout::ThreeColumn => (cols[0], cols[1], cols[2]),
                };
                (qid, docid, permissive_grade(grade, path, line_no)?)
            }
        };
        on(Judgement {
            line: line_no,
            query_id: judgement.0,
            doc_id: judgement.1,
            grade: judgement.2,
        })?;
    }
    Ok(notes)
}

fn count_label(n: usize, extra: bool) -> String {
    if extra {
        "more than 4".to_string()
    } else {
        n.to_string()
    }
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

fn out_of_range(path: &Path, line: usize, s: &str) -> Error {
    Error::parse(
        path,
        line,
        format!(
            "relevance grade {} is out of range: expected an integer from -{MAX_GRADE} to \
             {MAX_GRADE}",
            quote(s)
        ),
    )
}

/// The permissive grade rule: an integer, or a float with an integral value, read as that
/// integer. `1.5` or `high` is an error.
pub fn permissive_grade(s: &str, path: &Path, line: usize) -> Result<i32> {
    let value = match s.parse::<i64>() {
        Ok(g) => Some(g as f64),
        Err(_) => s.parse::<f64>().ok().filter(|f| f.fract() == 0.0),
    };
    match value {
        Some(g) if g.abs() <= MAX_GRADE as f64 => Ok(g as i32),
        Some(_) => Err(out_of_range(path, line, s)),
        None => Err(Error::parse(
            path,
            line,
            format!(
                "expected an integer relevance grade, found {} (integral values such as `2.0` \
                 are read as that integer; other numbers have no grade)",
                quote(s)
            ),
        )),
    }
}

/// The same rule for a grade given as a number (e.g. a JSON labels file).
pub fn grade_from_f64(g: f64) -> Option<i32> {
    (g.fract() == 0.0 && g.abs() <= MAX_GRADE as f64).then_some(g as i32)
}

/// C's `atol`: optional sign and leading digits, the rest ignored (0 if none).
fn atol_grade(s: &str, path: &Path, line: usize, notes: &mut Vec<Note>) -> Result<i32> {
    let (neg, rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let mut value: i64 = 0;
    for b in rest.bytes().take(digits) {
        value = value * 10 + i64::from(b - b'0');
        if value > i64::from(MAX_GRADE) {
            return Err(out_of_range(path, line, s));
        }
    }
    let value = if neg { -value } else { value } as i32;
    if digits == 0 || digits != rest.len() {
        note(notes, line, || {
            format!(
                "relevance grade {} read as {value}, as trec_eval 10.0 reads it (C atol)",
                quote(s)
            )
        });
    }
    Ok(value)
}

/// C's `atof` on a field: the longest prefix that is a number, 0 if none.
fn atof(s: &str) -> f64 {
    (1..=s.len())
        .rev()
        .filter(|&n| s.is_char_boundary(n))
        .find_map(|n| s[..n].parse::<f64>().ok())
        .unwrap_or(0.0)
}

/// Parses qrels text into a table sorted by query and document id.
pub fn parse_qrels(text: &str, path: &Path, dialect: Dialect) -> Result<QrelsTable> {
    if dialect == Dialect::TrecEval && text.is_empty() {
        return Err(Error::parse(
            path,
            1,
            "the qrels file is empty (trec_eval 10.0 cannot read an empty qrels file)",
        ));
    }
    let mut all: Vec<Judgement<'_>> = Vec::new();
    let scanned = scan_qrels(text, path, dialect, |j| {
        all.push(j);
        Ok(())
    });
    // Stable: of a repeated pair, the earlier line comes first.
    all.sort_by(|a, b| {
        a.query_id
            .cmp(b.query_id)
            .then_with(|| a.doc_id.cmp(b.doc_id))
    });
    // The first error in the file wins: a duplicate before a malformed line is reported first.
    if let Some(w) = all
        .windows(2)
        .filter(|w| w[0].query_id == w[1].query_id && w[0].doc_id == w[1].doc_id)
        .min_by_key(|w| w[1].line)
    {
        return Err(duplicate_judgement(path, &w[0], w[1].line));
    }
    let notes = scanned?;
    let mut queries: Vec<QueryJudgements> = Vec::new();
    for j in all {
        match queries.last_mut() {
            Some(q) if q.query_id == j.query_id => q.docs.push((j.doc_id.to_string(), j.grade)),
            _ => queries.push(QueryJudgements {
                query_id: j.query_id.to_string(),
                docs: vec![(j.doc_id.to_string(), j.grade)],
            }),
        }
    }
    Ok(QrelsTable { queries, notes })
}

/// The error for a (query, document) pair judged twice.
pub(crate) fn duplicate_judgement(path: &Path, first: &Judgement<'_>, line: usize) -> Error {
    Error::parse(
        path,
        line,
        format!(
            "duplicate judgement of document {} for query {} (first on line {}); trec_eval 10.0 \
             rejects duplicates: keep one line (or read with QrelsDuplicates::KeepLast, as BEIR \
             does)",
            quote(first.doc_id),
            quote(first.query_id),
            first.line
        ),
    )
}

/// Reads a qrels file (`.gz` too; `-` is standard input).
pub fn read_qrels(path: &Path, dialect: Dialect) -> Result<QrelsTable> {
    let text = read_text(path)?;
    parse_qrels(&text, path, dialect)
}

/// A run whose ids borrow from the file text. Queries keep first-seen order; each list keeps
/// file order.
#[derive(Debug, Clone, Default)]
pub struct RunTable<'a> {
    pub queries: Vec<(&'a str, Vec<(&'a str, f64)>)>,
    /// The run id of the last line (empty for an empty run).
    pub run_id: &'a str,
    /// Lenient readings ([`Dialect::TrecEval`] only): the first 20, then one line saying more.
    pub notes: Vec<Note>,
}

impl<'a> RunTable<'a> {
    /// Index from query id to position in `queries`.
    pub fn index(&self) -> HashMap<&'a str, usize> {
        self.queries
            .iter()
            .enumerate()
            .map(|(i, (q, _))| (*q, i))
            .collect()
    }

    /// Total number of retrieved lines.
    pub fn num_lines(&self) -> usize {
        self.queries.iter().map(|(_, d)| d.len()).sum()
    }
}

type Group<'a> = (&'a str, Vec<(&'a str, f64)>);

struct Chunk<'a> {
    groups: Vec<Group<'a>>,
    last_run_id: Option<&'a str>,
    notes: Vec<Note>,
}

/// One run line -> `(qid, docid, score, run_id)`; `None` for blank and comment lines. A note
/// (the score as trec_eval's `atof` reads it) is returned with the line's fields.
#[allow(clippy::type_complexity)]
pub(crate) fn parse_run_line(
    line: &str,
    dialect: Dialect,
) -> std::result::Result<Option<((&str, &str, f64, &str), Option<String>)>, String> {
    let mut it = fields(line);
    let Some(qid) = it.next() else {
        return Ok(None);
    };
    if qid.starts_with('#') {
        return Ok(None);
    }
    let mut next = || it.next();
    let (Some(_iter), Some(doc), Some(_rank), Some(score_text), Some(run_id)) =
        (next(), next(), next(), next(), next())
    else {
        let n = fields(line).count();
        return Err(format!(
            "expected 6 columns `qid Q0 docid rank score tag` (TREC run), found {n}: {}",
            quote(line)
        ));
    };
    let bad_score = || {
        format!(
            "expected a numeric score in column 5, found {}",
            quote(score_text)
        )
    };
    let (score, lenient) = match (parse_score(score_text), dialect) {
        (Some(s), _) => (s, None),
        (None, Dialect::Permissive) => return Err(bad_score()),
        (None, Dialect::TrecEval) => {
            let s = atof(score_text);
            let why = format!(
                "score {} read as {s}, as trec_eval 10.0 reads it (C atof)",
                quote(score_text)
            );
            (s, Some(why))
        }
    };
    if score.is_nan() {
        return Err(bad_score());
    }
    Ok(Some(((qid, doc, score, run_id), lenient)))
}

fn parse_chunk(
    chunk: &str,
    first_line: usize,
    dialect: Dialect,
) -> std::result::Result<Chunk<'_>, (usize, String)> {
    let mut out = Chunk {
        groups: Vec::new(),
        last_run_id: None,
        notes: Vec::new(),
    };
    let bytes = chunk.as_bytes();
    let mut start = 0;
    let mut line_index = 0;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |p| start + p);
        let line = input::clean_line(&chunk[start..end]);
        start = end + 1;
        line_index += 1;
        let ((qid, doc, score, run_id), lenient) = match parse_run_line(line, dialect) {
            Ok(Some(x)) => x,
            Ok(None) => continue,
            Err(m) => return Err((line_index - 1, m)),
        };
        if let Some(why) = lenient {
            note(&mut out.notes, first_line + line_index - 1, || why);
        }
        out.last_run_id = Some(run_id);
        match out.groups.last_mut() {
            Some((q, docs)) if *q == qid => docs.push((doc, score)),
            last => {
                // Runs usually have the same depth for every query: reserve the last one's.
                let cap = last.map_or(16, |(_, d)| d.len());
                let mut docs = Vec::with_capacity(cap);
                docs.push((doc, score));
                out.groups.push((qid, docs));
            }
        }
    }
    Ok(out)
}

/// Splits `text` into about `n` pieces at line boundaries.
fn split_lines(text: &str, n: usize) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut pieces = Vec::with_capacity(n);
    let mut start = 0;
    for k in 1..n {
        let target = text.len() * k / n;
        if target <= start {
            continue;
        }
        match memchr::memchr(b'\n', &bytes[target..]) {
            Some(p) => {
                let end = target + p + 1;
                pieces.push(&text[start..end]);
                start = end;
            }
            None => break,
        }
    }
    pieces.push(&text[start..]);
    pieces
}

/// Parses run text; ids borrow from `text`. Large inputs are parsed in parallel and merged in
/// file order, so the result and the error reported (the first bad line) do not depend on the
/// thread count.
pub fn parse_run<'a>(text: &'a str, path: &Path, dialect: Dialect) -> Result<RunTable<'a>> {
    if dialect == Dialect::TrecEval && text.is_empty() {
        return Err(Error::parse(
            path,
            1,
            "the run file is empty (trec_eval 10.0 cannot read an empty results file)",
        ));
    }
    let pieces = if text.len() > 1 << 20 {
        split_lines(text, rayon::current_num_threads().max(1) * 4)
    } else {
        vec![text]
    };
    // Line number of each piece's first line (pieces end after a newline).
    let mut firsts = Vec::with_capacity(pieces.len());
    let mut line = 1;
    for p in &pieces {
        firsts.push(line);
        line += memchr::memchr_iter(b'\n', p.as_bytes()).count();
    }
    let parsed: Vec<std::result::Result<Chunk<'a>, (usize, String)>> = pieces
        .par_iter()
        .zip(&firsts)
        .map(|(p, &first)| parse_chunk(p, first, dialect))
        .collect();
    let mut index: HashMap<&'a str, usize> = HashMap::new();
    let mut table = RunTable::default();
    // Merged in file order: the first error in the file wins, whatever thread found it.
    for (res, first) in parsed.into_iter().zip(&firsts) {
        let chunk = res.map_err(|(i, message)| Error::parse(path, first + i, message))?;
        if let Some(r) = chunk.last_run_id {
            table.run_id = r;
        }
        for n in chunk.notes {
            note(&mut table.notes, n.line, || n.message);
        }
        for (q, docs) in chunk.groups {
            match index.get(q) {
                Some(&i) => table.queries[i].1.extend(docs),
                None => {
                    index.insert(q, table.queries.len());
                    table.queries.push((q, docs));
                }
            }
        }
    }
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    const P: Dialect = Dialect::Permissive;
    const T: Dialect = Dialect::TrecEval;

    #[test]
    fn qrels_trec_and_beir_forms_agree_in_the_permissive_dialect() {
        let p = Path::new("q");
        let trec = parse_qrels("# c\n1 0 d2 1\r\n1 0 d1 0\n\n2 0 d1 2\n", p, P).unwrap();
        let beir = parse_qrels(
            "query-id\tcorpus-id\tscore\n1\td2\t1\n1\td1\t0\n2\td1\t2\n",
            p,
            P,
        )
        .unwrap();
        assert_eq!(trec, beir);
        assert_eq!(trec.get("1").unwrap().grade("d2"), Some(1));
        assert_eq!(trec.get("1").unwrap().docs[0].0, "d1");
    }

    #[test]
    fn qrels_errors_name_the_line() {
        let e = parse_qrels("1 0 d1 1\n1 0 d2 x\n", Path::new("q.txt"), P).unwrap_err();
        assert!(
            e.to_string().starts_with("q.txt:2: expected an integer"),
            "{e}"
        );
        let e = parse_qrels("1 0 d1 1 9 9\n", Path::new("q.txt"), P).unwrap_err();
        assert!(e.to_string().contains("found more than 4 columns"), "{e}");
        let e = parse_qrels("1 0 d1 1\n1 0 d2 0\n1 0 d1 0\n", Path::new("q.txt"), T).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "q.txt:3: duplicate judgement of document `d1` for query `1` (first on line 1)"
            ),
            "{e}"
        );
    }

    #[test]
    fn run_keeps_last_run_id_and_ignores_extra_columns() {
        let text = "# x\n1 Q0 a 1 2.5 r1 junk here\n2 Q0 b 1 1 r2\n1 Q0 c 2 1e0 r3\n";
        for d in [P, T] {
            let run = parse_run(text, Path::new("r"), d).unwrap();
            assert_eq!(run.run_id, "r3");
            assert_eq!(run.queries[0], ("1", vec![("a", 2.5), ("c", 1.0)]));
            assert_eq!(run.num_lines(), 3);
        }
    }

    #[test]
    fn run_errors_name_the_line_across_chunks() {
        let mut text = String::new();
        for i in 0..200_000 {
            text.push_str(&format!("q{} Q0 d{i} 1 1.0 r\n", i % 7));
        }
        text.push_str("q1 Q0 dx 1 NaN r\n");
        for d in [P, T] {
            let e = parse_run(&text, Path::new("r"), d).unwrap_err();
            assert!(
                e.to_string()
                    .starts_with("r:200001: expected a numeric score in column 5, found `NaN`"),
                "{e}"
            );
        }
        let e = parse_run("1 Q0 a 1\n", Path::new("r"), T).unwrap_err();
        assert!(e.to_string().contains("expected 6 columns"), "{e}");
    }

    #[test]
    fn trec_eval_dialect_reads_grades_and_scores_like_atol_and_atof_and_says_so() {
        let q = parse_qrels(
            "qid iter docno rel\n1 0 d1 1.5\n1 0 d2 2\n",
            Path::new("q"),
            T,
        )
        .unwrap();
        assert_eq!(q.get("qid").unwrap().grade("docno"), Some(0));
        assert_eq!(q.get("1").unwrap().grade("d1"), Some(1));
        let lines: Vec<usize> = q.notes.iter().map(|n| n.line).collect();
        assert_eq!(lines, [1, 2]);
        assert!(
            q.notes[1].message.contains("`1.5` read as 1"),
            "{:?}",
            q.notes
        );
        let r = parse_run("1 Q0 a 1 high r\n1 Q0 b 2 2.5x r\n", Path::new("r"), T).unwrap();
        assert_eq!(r.queries[0].1, [("a", 0.0), ("b", 2.5)]);
        assert_eq!(r.notes.len(), 2);
        assert_eq!(r.notes[1].line, 2);
    }

    #[test]
    fn notes_are_bounded_and_say_when_more_were_left_out() {
        let text: String = (0..30).map(|i| format!("1 Q0 d{i} 1 x r\n")).collect();
        let r = parse_run(&text, Path::new("r"), T).unwrap();
        assert_eq!(r.notes.len(), MAX_NOTES + 1);
        assert_eq!(r.notes[MAX_NOTES - 1].line, MAX_NOTES);
        assert!(r.notes[MAX_NOTES].message.contains("not listed"));
    }

    #[test]
    fn trec_eval_dialect_rejects_what_trec_eval_rejects() {
        let q = Path::new("q");
        // Blank line, 3 columns, 5 columns, empty file.
        for bad in ["1 0 d1 1\n\n1 0 d2 1\n", "1 d1 1\n", "1 0 d1 1 x\n", ""] {
            assert!(parse_qrels(bad, q, T).is_err(), "{bad:?}");
        }
        // Two comment lines in a row: the second is read as data (2 columns: malformed).
        let e = parse_qrels("# a\n# b\n1 0 d1 1\n", q, T).unwrap_err();
        assert!(e.to_string().starts_with("q:2: expected 4 columns"), "{e}");
        // ... and one that has 4 columns is a judgement of query `#`.
        let t = parse_qrels("# a\n# x y z\n1 0 d1 1\n", q, T).unwrap();
        assert_eq!(t.get("#").unwrap().grade("y"), Some(0));
        // An indented `#` is data in qrels.
        assert!(parse_qrels(" # a b c\n", q, T).unwrap().get("#").is_some());
        assert!(parse_run("", Path::new("r"), T).is_err());
        assert!(parse_run("", Path::new("r"), P).unwrap().queries.is_empty());
    }

    #[test]
    fn grade_rule_integral_floats_are_integers_others_are_errors() {
        let p = Path::new("g");
        assert_eq!(permissive_grade("2", p, 1).unwrap(), 2);
        assert_eq!(permissive_grade("1.0", p, 1).unwrap(), 1);
        assert_eq!(permissive_grade("-1.", p, 1).unwrap(), -1);
        let e = permissive_grade("1.5", p, 7).unwrap_err().to_string();
        assert!(
            e.starts_with("g:7: expected an integer relevance grade, found `1.5`"),
            "{e}"
        );
        assert!(permissive_grade("2000000", p, 1)
            .unwrap_err()
            .to_string()
            .contains("out of range"));
        assert!(parse_qrels("1 0 d 99999999999\n", p, T).is_err());
        assert_eq!(grade_from_f64(3.0), Some(3));
        assert_eq!(grade_from_f64(0.5), None);
    }
}
