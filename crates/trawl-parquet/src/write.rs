//! Writing flat parquet tables with the column writer API (no Arrow), snappy-compressed.

use std::path::Path;
use std::sync::Arc;

use parquet::basic::{Compression, ConvertedType, LogicalType, Repetition, Type as PhysicalType};
use parquet::data_type::{ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::Type;

use crate::error::{Error, Result};

/// Rows per row group: bounds the writer's memory and lets readers parallelise.
const ROW_GROUP_ROWS: usize = 1 << 20;

/// The values of one column; `None` is a null.
#[derive(Clone, Debug, PartialEq)]
pub enum ColumnData {
    Utf8(Vec<Option<String>>),
    F64(Vec<Option<f64>>),
    I64(Vec<Option<i64>>),
}

impl ColumnData {
    fn len(&self) -> usize {
        match self {
            ColumnData::Utf8(v) => v.len(),
            ColumnData::F64(v) => v.len(),
            ColumnData::I64(v) => v.len(),
        }
    }
}

/// A named column of a table to write.
#[derive(Clone, Debug, PartialEq)]
pub struct Column {
    pub name: String,
    pub data: ColumnData,
}

fn schema(columns: &[Column]) -> parquet::errors::Result<Type> {
    let fields = columns
        .iter()
        .map(|c| {
            let b = match c.data {
                ColumnData::Utf8(_) => {
                    Type::primitive_type_builder(&c.name, PhysicalType::BYTE_ARRAY)
                        .with_logical_type(Some(LogicalType::String))
                        .with_converted_type(ConvertedType::UTF8)
                }
                ColumnData::F64(_) => Type::primitive_type_builder(&c.name, PhysicalType::DOUBLE),
                ColumnData::I64(_) => Type::primitive_type_builder(&c.name, PhysicalType::INT64),
            };
            b.with_repetition(Repetition::OPTIONAL)
                .build()
                .map(Arc::new)
        })
        .collect::<parquet::errors::Result<Vec<_>>>()?;
    Type::group_type_builder("schema")
        .with_fields(fields)
        .build()
}

/// Definition levels (1 present, 0 null) and the present values of one slice of a column.
fn levels<T: Clone, U>(values: &[Option<T>], convert: impl Fn(&T) -> U) -> (Vec<i16>, Vec<U>) {
    let defs = values.iter().map(|v| i16::from(v.is_some())).collect();
    let present = values.iter().flatten().map(convert).collect();
    (defs, present)
}

/// Writes `columns` (all of one length) to `path` as a parquet file, atomically: a failure
/// leaves an existing file as it was.
pub fn write_table(path: &Path, columns: &[Column]) -> Result<()> {
    let mut w = TableWriter::create(path, columns)?;
    let rows = w.check(columns)?;
    // Straight from the caller's columns, no copy into the buffer.
    let mut start = 0;
    while start < rows {
        let end = (start + w.group_rows).min(rows);
        write_group(&mut w.writer, &w.path, columns, start..end)?;
        start = end;
    }
    w.finish()
}

/// A parquet file written batch by batch (rows as they are produced), atomically: nothing is
/// at `path` until [`TableWriter::finish`]; dropped unfinished, nothing is. At most one row
/// group of rows is held in memory.
pub struct TableWriter {
    writer: SerializedFileWriter<trawl_store::AtomicFile>,
    /// Rows not yet written, one buffer per column (names and types fixed at creation).
    pending: Vec<Column>,
    group_rows: usize,
    path: std::path::PathBuf,
}

fn empty_like(data: &ColumnData) -> ColumnData {
    match data {
        ColumnData::Utf8(_) => ColumnData::Utf8(Vec::new()),
        ColumnData::F64(_) => ColumnData::F64(Vec::new()),
        ColumnData::I64(_) => ColumnData::I64(Vec::new()),
    }
}

impl TableWriter {
    /// Starts a table with the names and types of `columns` (their values are not written).
    pub fn create(path: &Path, columns: &[Column]) -> Result<Self> {
        let pq = |e: parquet::errors::ParquetError| Error::parquet(path, e);
        let file = trawl_store::AtomicFile::create(path)?;
        let props = WriterProperties::builder()
            .set_compression(Compression::SNAPPY)
            .set_created_by("trawl".to_string())
            .build();
        let writer = SerializedFileWriter::new(
            file,
            Arc::new(schema(columns).map_err(pq)?),
            Arc::new(props),
        )
        .map_err(pq)?;
        Ok(TableWriter {
            writer,
            pending: columns
                .iter()
                .map(|c| Column {
                    name: c.name.clone(),
                    data: empty_like(&c.data),
                })
                .collect(),
            group_rows: ROW_GROUP_ROWS,
            path: path.to_path_buf(),
        })
    }

    /// Rows per row group (default 2^20): a row group is written once this many are pending.
    pub fn with_row_group_rows(mut self, rows: usize) -> Self {
        self.group_rows = rows.max(1);
        self
    }

    /// Checks that `columns` match the table's (order, names, types) and are of one length;
    /// returns that length.
    fn check(&self, columns: &[Column]) -> Result<usize> {
        let rows = columns.first().map_or(0, |c| c.data.len());
        let bad = |message: String| Error::Column {
            path: self.path.clone(),
            message,
        };
        if columns.len() != self.pending.len() {
            return Err(bad(format!(
                "{} columns given, the table has {}",
                columns.len(),
                self.pending.len()
            )));
        }
        for (c, p) in columns.iter().zip(&self.pending) {
            if c.data.len() != rows {
                return Err(bad(format!(
                    "column `{}` has {} values, the others {rows}; every column needs one per row",
                    c.name,
                    c.data.len()
                )));
            }
            if c.name != p.name
                || std::mem::discriminant(&c.data) != std::mem::discriminant(&p.data)
            {
                return Err(bad(format!(
                    "column `{}` does not match the table's column `{}` (name and type)",
                    c.name, p.name
                )));
            }
        }
        Ok(rows)
    }

    /// Appends rows: `columns` in the order, names and types given at creation, all of one
    /// length. Full row groups are written at once; the rest waits for more rows.
    pub fn append(&mut self, columns: &[Column]) -> Result<()> {
        let rows = self.check(columns)?;
        let mut start = 0;
        if self.pending_rows() == 0 {
            while rows - start >= self.group_rows {
                let end = start + self.group_rows;
                write_group(&mut self.writer, &self.path, columns, start..end)?;
                start = end;
            }
        }
        for (c, p) in columns.iter().zip(&mut self.pending) {
            match (&mut p.data, &c.data) {
                (ColumnData::Utf8(to), ColumnData::Utf8(from)) => {
                    to.extend_from_slice(&from[start..])
                }
                (ColumnData::F64(to), ColumnData::F64(from)) => {
                    to.extend_from_slice(&from[start..])
                }
                (ColumnData::I64(to), ColumnData::I64(from)) => {
                    to.extend_from_slice(&from[start..])
                }
                _ => unreachable!("types checked above"),
            }
        }
        while self.pending_rows() >= self.group_rows {
            self.flush(self.group_rows)?;
        }
        Ok(())
    }

    fn pending_rows(&self) -> usize {
        self.pending.first().map_or(0, |c| c.data.len())
    }

    /// Writes the first `rows` pending rows as one row group.
    fn flush(&mut self, rows: usize) -> Result<()> {
        write_group(&mut self.writer, &self.path, &self.pending, 0..rows)?;
        for c in &mut self.pending {
            match &mut c.data {
                ColumnData::Utf8(v) => drop(v.drain(..rows)),
                ColumnData::F64(v) => drop(v.drain(..rows)),
                ColumnData::I64(v) => drop(v.drain(..rows)),
            }
        }
        Ok(())
    }

    /// Writes the pending rows and the footer, and moves the file into place.
    pub fn finish(mut self) -> Result<()> {
        let rows = self.pending_rows();
        // An empty table still gets one (empty) row group, as before.
        if rows > 0 || self.writer.flushed_row_groups().is_empty() {
            self.flush(rows)?;
        }
        let path = self.path.clone();
        let file = self
            .writer
            .into_inner()
            .map_err(|e| Error::parquet(&path, e))?;
        file.commit()?;
        Ok(())
    }
}

/// Writes rows `range` of `columns` as one row group.
fn write_group(
    writer: &mut SerializedFileWriter<trawl_store::AtomicFile>,
    path: &Path,
    columns: &[Column],
    range: std::ops::Range<usize>,
) -> Result<()> {
    let pq = |e: parquet::errors::ParquetError| Error::parquet(path, e);
    let mut group = writer.next_row_group().map_err(pq)?;
    for column in columns {
        let mut w = group
            .next_column()
            .map_err(pq)?
            .expect("one column writer per schema field");
        match &column.data {
            ColumnData::Utf8(v) => {
                let (defs, vals) = levels(&v[range.clone()], |s| ByteArray::from(s.as_str()));
                w.typed::<ByteArrayType>()
                    .write_batch(&vals, Some(&defs), None)
            }
            ColumnData::F64(v) => {
                let (defs, vals) = levels(&v[range.clone()], |x| *x);
                w.typed::<DoubleType>()
                    .write_batch(&vals, Some(&defs), None)
            }
            ColumnData::I64(v) => {
                let (defs, vals) = levels(&v[range.clone()], |x| *x);
                w.typed::<Int64Type>().write_batch(&vals, Some(&defs), None)
            }
        }
        .map_err(pq)?;
        w.close().map_err(pq)?;
    }
    group.close().map_err(pq)?;
    Ok(())
}
