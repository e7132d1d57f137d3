//! Reading parquet tables with the record API, column projection first so only the named
//! columns are decoded.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use parquet::file::reader::{FileReader, SerializedFileReader};
use parquet::record::reader::RowIter;
use parquet::schema::types::Type;
use serde_json::Value;
use trawl_data::{Qrels, Query};

use crate::error::{Error, Result};

/// An open parquet file.
pub struct ParquetTable {
    reader: SerializedFileReader<File>,
    path: PathBuf,
}

impl ParquetTable {
    /// Opens `path`; a file that is not parquet is an error naming it.
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::parquet(path, e))?;
        let reader = SerializedFileReader::new(file)
            .map_err(|e| Error::parquet(path, format!("not a readable parquet file: {e}")))?;
        Ok(ParquetTable {
            reader,
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn num_rows(&self) -> u64 {
        self.reader.metadata().file_metadata().num_rows().max(0) as u64
    }

    pub fn num_row_groups(&self) -> usize {
        self.reader.metadata().num_row_groups()
    }

    /// The top-level column names, in file order.
    pub fn column_names(&self) -> Vec<String> {
        self.reader
            .metadata()
            .file_metadata()
            .schema()
            .get_fields()
            .iter()
            .map(|f| f.name().to_string())
            .collect()
    }

    /// The error for a column that is not there, naming the ones that are.
    pub fn missing_column(&self, name: &str, what: &str) -> Error {
        let present: Vec<String> = self
            .column_names()
            .iter()
            .map(|c| format!("`{c}`"))
            .collect();
        Error::Column {
            path: self.path.clone(),
            message: format!(
                "no column `{name}` ({what}); the columns are {}",
                if present.is_empty() {
                    "(none)".to_string()
                } else {
                    present.join(", ")
                }
            ),
        }
    }

    /// The first of `candidates` that is a column, or an error naming all of them.
    pub fn find_column(&self, candidates: &[&str], what: &str) -> Result<String> {
        let names = self.column_names();
        candidates
            .iter()
            .find(|c| names.iter().any(|n| n == *c))
            .map(|c| c.to_string())
            .ok_or_else(|| self.missing_column(&candidates.join("` or `"), what))
    }

    /// A second reader of the file, owned by a row iterator (rows stream from it lazily).
    fn reopen(&self) -> Result<Box<dyn FileReader>> {
        let file = File::open(&self.path).map_err(|e| Error::parquet(&self.path, e))?;
        let reader = SerializedFileReader::new(file).map_err(|e| Error::parquet(&self.path, e))?;
        Ok(Box::new(reader))
    }

    /// Streams the named columns, row by row, as JSON values (`[column]` per row). A dotted
    /// name reads a field of a struct column (`extra_info.uid`); a missing field is `null`.
    /// Rows are decoded one row group and one page at a time, so memory does not grow with
    /// the file.
    pub fn iter_columns(&self, names: &[&str]) -> Result<ColumnRows> {
        let fields = self.reader.metadata().file_metadata().schema().get_fields();
        let mut projected = Vec::new();
        let mut paths = Vec::new();
        for name in names {
            let (top, rest) = match fields.iter().find(|f| f.name() == *name) {
                Some(_) => (*name, None),
                None => match name.split_once('.') {
                    Some((top, rest)) => (top, Some(rest)),
                    None => (*name, None),
                },
            };
            let Some(field) = fields.iter().find(|f| f.name() == top) else {
                return Err(self.missing_column(name, "asked for"));
            };
            let at = match projected
                .iter()
                .position(|f: &parquet::schema::types::TypePtr| f.name() == top)
            {
                Some(at) => at,
                None => {
                    projected.push(field.clone());
                    projected.len() - 1
                }
            };
            paths.push((at, rest.map(str::to_string)));
        }
        let projection = Type::group_type_builder("schema")
            .with_fields(projected)
            .build()
            .map_err(|e| Error::parquet(&self.path, e))?;
        let rows = RowIter::from_file_into(self.reopen()?)
            .project(Some(projection))
            .map_err(|e| Error::parquet(&self.path, e))?;
        Ok(ColumnRows {
            rows,
            paths,
            path: self.path.clone(),
        })
    }

    /// Reads the named columns of every row ([`ParquetTable::iter_columns`], collected).
    pub fn read_columns(&self, names: &[&str]) -> Result<Vec<Vec<Value>>> {
        self.iter_columns(names)?.collect()
    }

    /// Streams every row as a JSON object (column name -> value), e.g. conversations with a
    /// `messages` list of `{role, content}` structs; one row group and page at a time.
    pub fn iter_rows(&self) -> Result<Rows> {
        Ok(Rows {
            rows: RowIter::from_file_into(self.reopen()?),
            path: self.path.clone(),
        })
    }

    /// Every row as a JSON object ([`ParquetTable::iter_rows`], collected).
    pub fn read_rows(&self) -> Result<Vec<serde_json::Map<String, Value>>> {
        self.iter_rows()?.collect()
    }
}

/// The rows of [`ParquetTable::iter_columns`]: the asked-for cells of each row, in order.
pub struct ColumnRows {
    rows: RowIter<'static>,
    /// Per asked-for column: its field's position in the projection, and the dotted rest.
    paths: Vec<(usize, Option<String>)>,
    path: PathBuf,
}

impl Iterator for ColumnRows {
    type Item = Result<Vec<Value>>;

    fn next(&mut self) -> Option<Self::Item> {
        let row = match self.rows.next()? {
            Ok(row) => row,
            Err(e) => return Some(Err(Error::parquet(&self.path, e))),
        };
        // A row's fields come in the projection's order.
        let fields: Vec<&parquet::record::Field> = row.get_column_iter().map(|(_, f)| f).collect();
        Some(Ok(self
            .paths
            .iter()
            .map(|(at, rest)| {
                let v = fields.get(*at).map_or(Value::Null, |f| f.to_json_value());
                match rest {
                    None => v,
                    Some(path) => path
                        .split('.')
                        .try_fold(v, |v, key| match v {
                            Value::Object(mut m) => m.remove(key),
                            _ => None,
                        })
                        .unwrap_or(Value::Null),
                }
            })
            .collect()))
    }
}

/// The rows of [`ParquetTable::iter_rows`] as JSON objects, in order.
pub struct Rows {
    rows: RowIter<'static>,
    path: PathBuf,
}

impl Iterator for Rows {
    type Item = Result<serde_json::Map<String, Value>>;

    fn next(&mut self) -> Option<Self::Item> {
        Some(match self.rows.next()? {
            Ok(row) => match row.to_json_value() {
                Value::Object(m) => Ok(m),
                _ => unreachable!("a row converts to a JSON object"),
            },
            Err(e) => Err(Error::parquet(&self.path, e)),
        })
    }
}

/// A JSON cell as an id: a string, or an integer written in decimal.
pub(crate) fn id_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

fn describe(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// Queries from a parquet table: id from `_id`, `id`, `query-id`, `query_id` or `qid`; text
/// from `text` or `query`.
pub fn read_queries(path: &Path) -> Result<Vec<Query>> {
    let table = ParquetTable::open(path)?;
    let id = table.find_column(
        &["_id", "id", "query-id", "query_id", "qid"],
        "the query id",
    )?;
    let text = table.find_column(&["text", "query"], "the query text")?;
    let mut seen = HashMap::new();
    let mut out = Vec::new();
    for (i, row) in table.read_columns(&[&id, &text])?.into_iter().enumerate() {
        let bad = |message: String| Error::Value {
            path: path.to_path_buf(),
            row: i + 1,
            message,
        };
        let qid = id_of(&row[0]).ok_or_else(|| {
            bad(format!(
                "`{id}` is {}; expected a non-empty string or an integer",
                describe(&row[0])
            ))
        })?;
        let Value::String(t) = &row[1] else {
            return Err(bad(format!(
                "`{text}` is {}; expected a string",
                describe(&row[1])
            )));
        };
        if let Some(first) = seen.insert(qid.clone(), i + 1) {
            return Err(bad(format!(
                "duplicate query id `{qid}` (first in row {first})"
            )));
        }
        out.push(Query {
            id: qid,
            text: t.clone(),
        });
    }
    Ok(out)
}

/// Qrels from a parquet table with BEIR's columns: `query-id` (or `query_id`, `qid`),
/// `corpus-id` (or `corpus_id`, `doc_id`, `docid`, `pid`) and `score` (or `relevance`, `rel`,
/// `label`, `grade`). Grades follow trawl's rule: an integer or an integral float.
pub fn read_qrels(path: &Path) -> Result<Qrels> {
    let table = ParquetTable::open(path)?;
    let q = table.find_column(&["query-id", "query_id", "qid"], "the query id")?;
    let d = table.find_column(
        &["corpus-id", "corpus_id", "doc_id", "docid", "pid"],
        "the document id",
    )?;
    let g = table.find_column(
        &["score", "relevance", "rel", "label", "grade"],
        "the grade",
    )?;
    let mut qrels = Qrels::new();
    for (i, row) in table.read_columns(&[&q, &d, &g])?.into_iter().enumerate() {
        let bad = |message: String| Error::Value {
            path: path.to_path_buf(),
            row: i + 1,
            message,
        };
        let (Some(qid), Some(did)) = (id_of(&row[0]), id_of(&row[1])) else {
            return Err(bad(format!(
                "`{q}` / `{d}` are {} / {}; expected non-empty strings or integers",
                describe(&row[0]),
                describe(&row[1])
            )));
        };
        let grade = row[2]
            .as_f64()
            .and_then(trawl_data::trec_format::grade_from_f64)
            .ok_or_else(|| {
                bad(format!(
                    "`{g}` is {}; expected an integer grade",
                    describe(&row[2])
                ))
            })?;
        if qrels.get(&qid).is_some_and(|j| j.contains_key(&did)) {
            return Err(bad(format!(
                "duplicate judgement of document `{did}` for query `{qid}`; keep one row"
            )));
        }
        qrels.insert(qid, did, grade);
    }
    Ok(qrels)
}
