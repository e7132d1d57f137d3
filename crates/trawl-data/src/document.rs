//! Corpus records and the streaming corpus readers (JSONL and MS MARCO style TSV).
//!
//! JSONL: one object per line. Id from `_id` (preferred) or `id`, a string or a number (numbers
//! become their decimal text). Text from `text` (preferred) or `content`; `title` optional. A
//! `null` title or text reads as empty. Every other field, including the unused one of
//! `_id`/`id` or `text`/`content`, is kept in [`Document::metadata`].
//!
//! TSV: `id<TAB>text`, or `id<TAB>title<TAB>text` when a line has 3 columns. A first line made
//! only of column names (`id`, `_id`, `docid`, `pid`, `title`, `text`, `contents`, ...) is a
//! header that fixes the column order for the whole file.
//!
//! Blank lines are skipped; empty text is allowed (the knowledge base decides what to do with
//! it); an empty id is an error. Reading does not deduplicate ids: call
//! [`DocumentReader::reject_duplicate_ids`] to make a repeated id an error naming both lines.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::{Error, Result};
use crate::input::{self, quote, LineReader};

/// One document of a corpus. `metadata` keeps every input field that is not id, title or text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Document {
    pub id: String,
    #[serde(default)]
    pub title: String,
    pub text: String,
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    pub metadata: serde_json::Map<String, serde_json::Value>,
}

/// The on-disk layout of a corpus file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocumentFormat {
    /// JSON Lines (`.jsonl`, `.json`, `.ndjson`).
    Jsonl,
    /// Tab-separated `id text` or `id title text` (`.tsv`).
    Tsv,
}

impl DocumentFormat {
    /// The format named by the file extension (a `.gz` suffix is looked through).
    pub fn from_path(path: &Path) -> Result<Self> {
        match input::format_extension(path).as_deref() {
            Some("jsonl" | "json" | "ndjson") => Ok(DocumentFormat::Jsonl),
            Some("tsv") => Ok(DocumentFormat::Tsv),
            other => Err(Error::UnknownFormat {
                path: path.to_path_buf(),
                message: format!(
                    "cannot tell the corpus format from the extension {}; expected .jsonl, \
                     .json, .ndjson or .tsv (optionally followed by .gz)",
                    other.map_or("(none)".to_string(), |e| format!("`.{e}`"))
                ),
            }),
        }
    }
}

/// Opens a corpus file for streaming, format from the extension (see [`DocumentFormat`]).
pub fn read_documents(path: impl AsRef<Path>) -> Result<DocumentReader> {
    let path = path.as_ref();
    read_documents_as(path, DocumentFormat::from_path(path)?)
}

/// Opens a corpus file for streaming in the given format.
pub fn read_documents_as(path: impl AsRef<Path>, format: DocumentFormat) -> Result<DocumentReader> {
    let path = path.as_ref();
    Ok(DocumentReader::from_lines(LineReader::open(path)?, format))
}

/// Columns of a TSV corpus.
#[derive(Clone, Copy, Debug)]
struct TsvColumns {
    id: usize,
    title: Option<usize>,
    text: usize,
    count: usize,
}

/// Streams [`Document`]s from a corpus file, one line at a time. After a parse error the
/// reader continues with the next line; after a read error it ends.
pub struct DocumentReader {
    lines: LineReader,
    path: std::path::PathBuf,
    state: ParseState,
}

impl DocumentReader {
    /// Reads from any buffered source (e.g. a `std::io::Cursor<Vec<u8>>`); `name` is used in
    /// errors.
    pub fn from_reader(
        reader: impl BufRead + Send + 'static,
        name: impl AsRef<Path>,
        format: DocumentFormat,
    ) -> Self {
        Self::from_lines(LineReader::new(Box::new(reader), name.as_ref()), format)
    }

    fn from_lines(lines: LineReader, format: DocumentFormat) -> Self {
        DocumentReader {
            path: lines.path().to_path_buf(),
            lines,
            state: ParseState {
                format,
                header: None,
                first: true,
                seen: None,
            },
        }
    }

    /// Makes a repeated document id an error naming both lines (by default ids pass through
    /// unchecked). Keeps every id in memory.
    pub fn reject_duplicate_ids(mut self) -> Self {
        self.state.seen = Some(HashMap::new());
        self
    }

    /// The file this reader reads (as given).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The line of the record last returned (1-based).
    pub fn line_number(&self) -> usize {
        self.lines.line_number()
    }
}

/// Per-file parsing state, kept apart from the line reader so a line can be parsed while it is
/// still borrowed from the reader's buffer.
struct ParseState {
    format: DocumentFormat,
    header: Option<TsvColumns>,
    first: bool,
    seen: Option<HashMap<String, usize>>,
}

impl ParseState {
    fn parse(&mut self, path: &Path, line_no: usize, line: &str) -> Result<Option<Document>> {
        let first = std::mem::replace(&mut self.first, false);
        let doc = match self.format {
            DocumentFormat::Jsonl => {
                parse_json_document(line, first).map_err(|m| Error::parse(path, line_no, m))?
            }
            DocumentFormat::Tsv => {
                if first {
                    if let Some(cols) = tsv_header(line) {
                        self.header = Some(cols);
                        return Ok(None);
                    }
                }
                parse_tsv_document(line, self.header).map_err(|m| Error::parse(path, line_no, m))?
            }
        };
        if let Some(seen) = &mut self.seen {
            if let Some(first_line) = seen.get(&doc.id) {
                return Err(Error::parse(
                    path,
                    line_no,
                    format!(
                        "duplicate document id {} (first on line {first_line})",
                        quote(&doc.id)
                    ),
                ));
            }
            seen.insert(doc.id.clone(), line_no);
        }
        Ok(Some(doc))
    }
}

impl Iterator for DocumentReader {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let (line_no, line) = match self.lines.next_line()? {
                Ok((_, l)) if l.trim().is_empty() => continue,
                Ok(found) => found,
                Err(e) => return Some(Err(e)),
            };
            match self.state.parse(&self.path, line_no, line) {
                Ok(Some(doc)) => return Some(Ok(doc)),
                Ok(None) => continue,
                Err(e) => return Some(Err(e)),
            }
        }
    }
}

/// One JSONL line -> Document, or a message saying what was expected.
pub(crate) fn parse_json_document(
    line: &str,
    first: bool,
) -> std::result::Result<Document, String> {
    let mut map = parse_json_object(line, first)?;
    let id = take_id(&mut map, &["_id", "id"], "document")?;
    let text = take_string(&mut map, &["text", "content"])?.ok_or_else(|| {
        format!(
            "missing document text: expected a `text` or `content` field; fields found: {}",
            field_list(&map)
        )
    })?;
    let title = take_string(&mut map, &["title"])?.unwrap_or_default();
    Ok(Document {
        id,
        title,
        text,
        metadata: map,
    })
}

/// Parses one JSON object line (shared with the query reader).
pub(crate) fn parse_json_object(
    line: &str,
    first: bool,
) -> std::result::Result<Map<String, Value>, String> {
    match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(Value::Array(_)) if first => Err("found a JSON array; expected JSON Lines, one \
                                              object per line (convert with `jq -c '.[]'`)"
            .to_string()),
        Ok(other) => Err(format!(
            "expected a JSON object, found {}",
            json_type(&other)
        )),
        Err(e) => {
            let msg = e.to_string();
            let msg = msg
                .rsplit_once(" at line ")
                .map_or(msg.as_str(), |(m, _)| m);
            Err(format!(
                "invalid JSON at column {}: {msg}; expected one JSON object per line",
                e.column()
            ))
        }
    }
}

/// Removes the first present key of `keys` and returns it as an id string.
pub(crate) fn take_id(
    map: &mut Map<String, Value>,
    keys: &[&str],
    what: &str,
) -> std::result::Result<String, String> {
    let Some((key, value)) = keys.iter().find_map(|k| map.remove(*k).map(|v| (*k, v))) else {
        return Err(format!(
            "missing {what} id: expected an `{}` field; fields found: {}",
            keys.join("` or `"),
            field_list(map)
        ));
    };
    let id = match value {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        other => {
            return Err(format!(
                "expected `{key}` to be a string or number, found {}",
                json_type(&other)
            ))
        }
    };
    if id.is_empty() {
        return Err(format!("empty {what} id in `{key}`"));
    }
    Ok(id)
}

/// Removes the first present key of `keys`; string or null (empty) accepted.
pub(crate) fn take_string(
    map: &mut Map<String, Value>,
    keys: &[&str],
) -> std::result::Result<Option<String>, String> {
    let Some((key, value)) = keys.iter().find_map(|k| map.remove(*k).map(|v| (*k, v))) else {
        return Ok(None);
    };
    match value {
        Value::String(s) => Ok(Some(s)),
        Value::Null => Ok(Some(String::new())),
        other => Err(format!(
            "expected `{key}` to be a string, found {}",
            json_type(&other)
        )),
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn field_list(map: &Map<String, Value>) -> String {
    if map.is_empty() {
        return "(none)".to_string();
    }
    map.keys()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A first TSV line made only of known column names -> the column layout.
fn tsv_header(line: &str) -> Option<TsvColumns> {
    let names: Vec<String> = line
        .split('\t')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let find = |wanted: &[&str]| names.iter().position(|n| wanted.contains(&n.as_str()));
    let id = find(&["id", "_id", "docid", "doc_id", "pid", "corpus-id"])?;
    let text = find(&["text", "contents", "content", "passage", "body"])?;
    let title = find(&["title"]);
    let known = 2 + usize::from(title.is_some());
    (known == names.len()).then_some(TsvColumns {
        id,
        title,
        text,
        count: names.len(),
    })
}

/// One TSV line -> Document.
fn parse_tsv_document(
    line: &str,
    header: Option<TsvColumns>,
) -> std::result::Result<Document, String> {
    let cols: Vec<&str> = line.split('\t').collect();
    let layout = match header {
        Some(h) if cols.len() == h.count => h,
        Some(h) => {
            return Err(format!(
                "expected {} tab-separated columns as in the header, found {}",
                h.count,
                cols.len()
            ))
        }
        None => match cols.len() {
            2 => TsvColumns {
                id: 0,
                title: None,
                text: 1,
                count: 2,
            },
            3 => TsvColumns {
                id: 0,
                title: Some(1),
                text: 2,
                count: 3,
            },
            n => {
                return Err(format!(
                    "expected 2 tab-separated columns `id<TAB>text` or 3 `id<TAB>title<TAB>text`, \
                     found {n}: {}",
                    quote(line)
                ))
            }
        },
    };
    let id = cols[layout.id].trim();
    if id.is_empty() {
        return Err("empty document id in column 1".to_string());
    }
    Ok(Document {
        id: id.to_string(),
        title: layout
            .title
            .map(|t| cols[t].to_string())
            .unwrap_or_default(),
        text: cols[layout.text].to_string(),
        metadata: Map::new(),
    })
}
