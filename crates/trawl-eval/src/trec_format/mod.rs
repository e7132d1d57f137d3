//! Reading qrels and runs the way trec_eval 10.0 does, fast.
//!
//! - Qrels: `qid iter docno rel` (TREC) or BEIR TSV `query-id corpus-id score` (3 columns, header
//!   line detected because its last field is not a number). Lines whose first non-blank character
//!   is `#` are comments; blank lines are skipped. Negative grades mean "in the pool, unjudged".
//! - Runs: `qid iter docno rank sim run_id [anything]`. The rank column is ignored; the run id is
//!   taken from the last line, as trec_eval does. Scores must be finite numbers.
//! - gzip input is detected by its magic bytes; a UTF-8 byte-order mark and CRLF line ends are
//!   accepted.
//!
//! Runs are parsed in parallel chunks and borrow their ids from the file buffer, so a 10M-line
//! run costs one read and no per-line allocation.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};

mod fields;
mod text;

use fields::{fields, is_comment_or_blank, parse_score, strip_bom};
pub use text::{read_text, Text};

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

/// All judgements of a qrels file, sorted by query id.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QrelsTable {
    pub queries: Vec<QueryJudgements>,
}

impl QrelsTable {
    pub fn get(&self, query_id: &str) -> Option<&QueryJudgements> {
        self.queries
            .binary_search_by(|q| q.query_id.as_str().cmp(query_id))
            .ok()
            .map(|i| &self.queries[i])
    }

    /// Converts to the shared [`trawl_data::Qrels`] type.
    pub fn to_qrels(&self) -> trawl_data::Qrels {
        let mut out = trawl_data::Qrels::new();
        for q in &self.queries {
            for (d, g) in &q.docs {
                out.insert(q.query_id.clone(), d.clone(), *g);
            }
        }
        out
    }
}

/// A run whose ids borrow from the file text. Queries keep first-seen order.
#[derive(Debug, Clone, Default)]
pub struct RunTable<'a> {
    pub queries: Vec<(&'a str, Vec<(&'a str, f64)>)>,
    /// The run id of the last line (empty for an empty run).
    pub run_id: &'a str,
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

/// Parses qrels text (TREC 4-column or BEIR 3-column TSV with header).
pub fn parse_qrels(text: &str, path: &Path) -> Result<QrelsTable> {
    let err = |line: usize, message: String| Error::Parse {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut by_query: HashMap<&str, Vec<(String, i32)>> = HashMap::new();
    let mut first = true;
    for (i, raw) in text.split('\n').enumerate() {
        let line = strip_bom(raw);
        if is_comment_or_blank(line) {
            continue;
        }
        let fields: Vec<&str> = fields(line).collect();
        let (qid, doc, grade) = match fields.as_slice() {
            [q, _, d, g] => (*q, *d, *g),
            [q, d, g] => {
                if first && g.parse::<i64>().is_err() {
                    first = false;
                    continue; // BEIR header `query-id corpus-id score`
                }
                (*q, *d, *g)
            }
            _ => {
                return Err(err(
                    i + 1,
                    format!(
                        "expected `qid 0 docid relevance` (4 columns) or BEIR `query-id corpus-id score` (3 columns), found {} column(s)",
                        fields.len()
                    ),
                ))
            }
        };
        first = false;
        let grade: i32 = grade.parse().map_err(|_| {
            err(
                i + 1,
                format!("relevance '{grade}' is not an integer (expected e.g. 0, 1, 2)"),
            )
        })?;
        by_query
            .entry(qid)
            .or_default()
            .push((doc.to_string(), grade));
    }
    let mut queries: Vec<QueryJudgements> = by_query
        .into_iter()
        .map(|(q, mut docs)| {
            docs.sort_by(|a, b| a.0.cmp(&b.0));
            QueryJudgements {
                query_id: q.to_string(),
                docs,
            }
        })
        .collect();
    queries.sort_by(|a, b| a.query_id.cmp(&b.query_id));
    for q in &queries {
        if let Some(w) = q.docs.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::Parse {
                path: path.to_path_buf(),
                line: 0,
                message: format!(
                    "query '{}': document '{}' is judged more than once (trec_eval refuses this too)",
                    q.query_id, w[0].0
                ),
            });
        }
    }
    Ok(QrelsTable { queries })
}

/// Reads a qrels file.
pub fn read_qrels(path: &Path) -> Result<QrelsTable> {
    let text = read_text(path)?;
    parse_qrels(&text, path)
}

type Group<'a> = (&'a str, Vec<(&'a str, f64)>);

struct Chunk<'a> {
    groups: Vec<Group<'a>>,
    last_run_id: Option<&'a str>,
}

fn parse_run_line(line: &str) -> std::result::Result<(&str, &str, f64, &str), String> {
    let mut it = fields(line);
    let mut next = || it.next();
    let (Some(qid), Some(_iter), Some(doc), Some(_rank), Some(score), Some(run_id)) =
        (next(), next(), next(), next(), next(), next())
    else {
        let n = fields(line).count();
        return Err(format!(
            "expected 6 columns `qid Q0 docid rank score run_id`, found {n}"
        ));
    };
    let score: f64 =
        parse_score(score).ok_or_else(|| format!("score '{score}' is not a number"))?;
    if !score.is_finite() {
        return Err(format!("score '{score}' is not a finite number"));
    }
    Ok((qid, doc, score, run_id))
}

fn parse_chunk(chunk: &str) -> std::result::Result<Chunk<'_>, (usize, String)> {
    let mut groups: Vec<Group<'_>> = Vec::new();
    let mut last_run_id = None;
    let bytes = chunk.as_bytes();
    let mut start = 0;
    let mut line_index = 0;
    while start < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |p| start + p);
        let line = strip_bom(&chunk[start..end]);
        start = end + 1;
        line_index += 1;
        if is_comment_or_blank(line) {
            continue;
        }
        let (qid, doc, score, run_id) = parse_run_line(line).map_err(|m| (line_index - 1, m))?;
        last_run_id = Some(run_id);
        match groups.last_mut() {
            Some((q, docs)) if *q == qid => docs.push((doc, score)),
            last => {
                // Runs usually have the same depth for every query: reserve the last one's.
                let cap = last.map_or(16, |(_, d)| d.len());
                let mut docs = Vec::with_capacity(cap);
                docs.push((doc, score));
                groups.push((qid, docs));
            }
        }
    }
    Ok(Chunk {
        groups,
        last_run_id,
    })
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

/// Parses run text; ids borrow from `text`.
pub fn parse_run<'a>(text: &'a str, path: &Path) -> Result<RunTable<'a>> {
    let pieces = if text.len() > 1 << 20 {
        split_lines(text, rayon::current_num_threads().max(1) * 4)
    } else {
        vec![text]
    };
    let parsed: Vec<std::result::Result<Chunk<'a>, (usize, String)>> =
        pieces.par_iter().map(|p| parse_chunk(p)).collect();
    let mut chunks = Vec::with_capacity(parsed.len());
    for (k, res) in parsed.into_iter().enumerate() {
        match res {
            Ok(c) => chunks.push(c),
            Err((i, message)) => {
                // Line numbers are only needed on error: count the lines of earlier pieces.
                let before: usize = pieces[..k]
                    .iter()
                    .map(|p| memchr::memchr_iter(b'\n', p.as_bytes()).count())
                    .sum();
                return Err(Error::Parse {
                    path: PathBuf::from(path),
                    line: before + i + 1,
                    message,
                });
            }
        }
    }
    let mut index: HashMap<&'a str, usize> = HashMap::new();
    let mut queries: Vec<Group<'a>> = Vec::new();
    let mut run_id = "";
    for chunk in chunks {
        if let Some(r) = chunk.last_run_id {
            run_id = r;
        }
        for (q, docs) in chunk.groups {
            match index.get(q) {
                Some(&i) => queries[i].1.extend(docs),
                None => {
                    index.insert(q, queries.len());
                    queries.push((q, docs));
                }
            }
        }
    }
    Ok(RunTable { queries, run_id })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qrels_trec_and_beir_forms_agree() {
        let p = Path::new("q");
        let trec = parse_qrels("# c\n1 0 d2 1\r\n1 0 d1 0\n\n2 0 d1 2\n", p).unwrap();
        let beir = parse_qrels(
            "query-id\tcorpus-id\tscore\n1\td2\t1\n1\td1\t0\n2\td1\t2\n",
            p,
        )
        .unwrap();
        assert_eq!(trec, beir);
        assert_eq!(trec.get("1").unwrap().grade("d2"), Some(1));
        assert_eq!(trec.get("1").unwrap().docs[0].0, "d1");
    }

    #[test]
    fn qrels_errors_name_the_line() {
        let e = parse_qrels("1 0 d1 1\n1 0 d2 x\n", Path::new("q.txt")).unwrap_err();
        assert!(e.to_string().starts_with("q.txt:2: relevance 'x'"), "{e}");
        let e = parse_qrels("1 0 d1 1 9 9\n", Path::new("q.txt")).unwrap_err();
        assert!(e.to_string().contains("found 6 column"), "{e}");
        let e = parse_qrels("1 0 d1 1\n1 0 d1 0\n", Path::new("q.txt")).unwrap_err();
        assert!(e.to_string().contains("more than once"), "{e}");
    }

    #[test]
    fn run_keeps_last_run_id_and_ignores_extra_columns() {
        let text = "# x\n1 Q0 a 1 2.5 r1 junk here\n2 Q0 b 1 1 r2\n1 Q0 c 2 1e0 r3\n";
        let run = parse_run(text, Path::new("r")).unwrap();
        assert_eq!(run.run_id, "r3");
        assert_eq!(run.queries[0], ("1", vec![("a", 2.5), ("c", 1.0)]));
        assert_eq!(run.num_lines(), 3);
    }

    #[test]
    fn run_errors_name_the_line_across_chunks() {
        let mut text = String::new();
        for i in 0..200_000 {
            text.push_str(&format!("q{} Q0 d{i} 1 1.0 r\n", i % 7));
        }
        text.push_str("q1 Q0 dx 1 NaN r\n");
        let e = parse_run(&text, Path::new("r")).unwrap_err();
        assert!(e.to_string().starts_with("r:200001: score 'NaN'"), "{e}");
        let e = parse_run("1 Q0 a 1 x r\n", Path::new("r")).unwrap_err();
        assert!(e.to_string().contains("score 'x' is not a number"), "{e}");
        let e = parse_run("1 Q0 a 1\n", Path::new("r")).unwrap_err();
        assert!(e.to_string().contains("expected 6 columns"), "{e}");
    }
}
