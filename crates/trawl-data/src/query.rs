//! Queries (topics) and their readers: JSONL (`_id`/`id`, `text`/`query`, other fields ignored)
//! and TSV `qid<TAB>text` (MS MARCO `queries.tsv`).
//!
//! The format comes from the extension (`.jsonl`/`.json`/`.ndjson` or `.tsv`/`.txt`, optionally
//! `.gz`). Blank lines are skipped; a repeated query id is an error naming both lines (a run or
//! qrels could not tell the two apart). Empty query text is allowed. A TSV first line
//! `qid<TAB>text` / `query-id<TAB>text` / `id<TAB>query` is taken as a header and skipped.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::document::{parse_json_object, take_id, take_string};
use crate::error::{Error, Result};
use crate::input::{self, quote, LineReader};

/// One query with its id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Query {
    pub id: String,
    pub text: String,
}

/// The on-disk layout of a queries file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryFormat {
    Jsonl,
    Tsv,
}

impl QueryFormat {
    /// The format named by the file extension (a `.gz` suffix is looked through).
    pub fn from_path(path: &Path) -> Result<Self> {
        match input::format_extension(path).as_deref() {
            Some("jsonl" | "json" | "ndjson") => Ok(QueryFormat::Jsonl),
            Some("tsv" | "txt") => Ok(QueryFormat::Tsv),
            other => Err(Error::UnknownFormat {
                path: path.to_path_buf(),
                message: format!(
                    "cannot tell the queries format from the extension {}; expected .jsonl, \
                     .json, .ndjson, .tsv or .txt (optionally followed by .gz)",
                    other.map_or("(none)".to_string(), |e| format!("`.{e}`"))
                ),
            }),
        }
    }
}

/// Reads all queries of a file, in file order; format from the extension.
pub fn read_queries(path: impl AsRef<Path>) -> Result<Vec<Query>> {
    let path = path.as_ref();
    let format = QueryFormat::from_path(path)?;
    parse_queries(LineReader::open(path)?, format)
}

/// Reads queries from any buffered source; `name` is used in errors.
pub fn read_queries_from(
    reader: impl BufRead + Send + 'static,
    name: impl AsRef<Path>,
    format: QueryFormat,
) -> Result<Vec<Query>> {
    parse_queries(LineReader::new(Box::new(reader), name.as_ref()), format)
}

fn parse_queries(lines: LineReader, format: QueryFormat) -> Result<Vec<Query>> {
    QueryReader::from_lines(lines, format).collect()
}

/// Opens a queries file for streaming (format from the extension), for files too large to hold
/// as a `Vec` (MS MARCO's 800k training queries). Same rules as [`read_queries`]; only the ids
/// are kept, to reject a repeated one.
pub fn stream_queries(path: impl AsRef<Path>) -> Result<QueryReader> {
    let path = path.as_ref();
    let format = QueryFormat::from_path(path)?;
    Ok(QueryReader::from_lines(LineReader::open(path)?, format))
}

/// Streams [`Query`]s from a file in file order; see [`stream_queries`]. After an error it ends.
pub struct QueryReader {
    lines: LineReader,
    format: QueryFormat,
    seen: HashMap<String, usize>,
    first: bool,
    failed: bool,
}

impl QueryReader {
    fn from_lines(lines: LineReader, format: QueryFormat) -> Self {
        QueryReader {
            lines,
            format,
            seen: HashMap::new(),
            first: true,
            failed: false,
        }
    }

    /// The file this reader reads (as given).
    pub fn path(&self) -> &Path {
        self.lines.path()
    }

    /// The line of the query last returned (1-based).
    pub fn line_number(&self) -> usize {
        self.lines.line_number()
    }

    fn next_query(&mut self) -> Option<Result<Query>> {
        loop {
            let (line_no, line) = match self.lines.next_line()? {
                Ok(found) => found,
                Err(e) => return Some(Err(e)),
            };
            if line.trim().is_empty() {
                continue;
            }
            let is_first = std::mem::replace(&mut self.first, false);
            let parsed = match self.format {
                QueryFormat::Jsonl => parse_json_query(line, is_first),
                QueryFormat::Tsv if is_first && is_tsv_header(line) => continue,
                QueryFormat::Tsv => parse_tsv_query(line),
            };
            let path = self.lines.path();
            let query = match parsed {
                Ok(q) => q,
                Err(m) => return Some(Err(Error::parse(path, line_no, m))),
            };
            if let Some(first_line) = self.seen.insert(query.id.clone(), line_no) {
                return Some(Err(Error::parse(
                    path,
                    line_no,
                    format!(
                        "duplicate query id {} (first on line {first_line}); query ids must be \
                         unique",
                        quote(&query.id)
                    ),
                )));
            }
            return Some(Ok(query));
        }
    }
}

impl Iterator for QueryReader {
    type Item = Result<Query>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        let next = self.next_query();
        self.failed = matches!(next, Some(Err(_)));
        next
    }
}

fn parse_json_query(line: &str, first: bool) -> std::result::Result<Query, String> {
    let mut map = parse_json_object(line, first)?;
    let id = take_id(&mut map, &["_id", "id"], "query")?;
    let text = take_string(&mut map, &["text", "query"])?.ok_or_else(|| {
        let found: Vec<String> = map.keys().map(|k| format!("`{k}`")).collect();
        format!(
            "missing query text: expected a `text` or `query` field; fields found: {}",
            if found.is_empty() {
                "(none)".to_string()
            } else {
                found.join(", ")
            }
        )
    })?;
    Ok(Query { id, text })
}

fn is_tsv_header(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    let mut cols = lower.split('\t').map(str::trim);
    matches!(
        (cols.next(), cols.next(), cols.next()),
        (
            Some("qid" | "id" | "_id" | "query-id" | "query_id"),
            Some("text" | "query"),
            None
        )
    )
}

fn parse_tsv_query(line: &str) -> std::result::Result<Query, String> {
    let Some((id, text)) = line.split_once('\t') else {
        return Err(format!(
            "expected 2 tab-separated columns `qid<TAB>text`, found 1: {}",
            quote(line)
        ));
    };
    let id = id.trim();
    if id.is_empty() {
        return Err("empty query id in column 1".to_string());
    }
    Ok(Query {
        id: id.to_string(),
        text: text.to_string(),
    })
}
