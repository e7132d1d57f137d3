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
    let rows = columns.first().map_or(0, |c| c.data.len());
    if let Some(c) = columns.iter().find(|c| c.data.len() != rows) {
        return Err(Error::Column {
            path: path.to_path_buf(),
            message: format!(
                "column `{}` has {} values, the others {rows}; every column needs one per row",
                c.name,
                c.data.len()
            ),
        });
    }
    let pq = |e: parquet::errors::ParquetError| Error::parquet(path, e);
    let mut file = trawl_store::AtomicFile::create(path)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_created_by("trawl".to_string())
        .build();
    let mut writer = SerializedFileWriter::new(
        &mut file,
        Arc::new(schema(columns).map_err(pq)?),
        Arc::new(props),
    )
    .map_err(pq)?;
    let mut start = 0;
    while start < rows || (rows == 0 && start == 0) {
        let end = (start + ROW_GROUP_ROWS).min(rows);
        let mut group = writer.next_row_group().map_err(pq)?;
        for column in columns {
            let mut w = group
                .next_column()
                .map_err(pq)?
                .expect("one column writer per schema field");
            match &column.data {
                ColumnData::Utf8(v) => {
                    let (defs, vals) = levels(&v[start..end], |s| ByteArray::from(s.as_str()));
                    w.typed::<ByteArrayType>()
                        .write_batch(&vals, Some(&defs), None)
                }
                ColumnData::F64(v) => {
                    let (defs, vals) = levels(&v[start..end], |x| *x);
                    w.typed::<DoubleType>()
                        .write_batch(&vals, Some(&defs), None)
                }
                ColumnData::I64(v) => {
                    let (defs, vals) = levels(&v[start..end], |x| *x);
                    w.typed::<Int64Type>().write_batch(&vals, Some(&defs), None)
                }
            }
            .map_err(pq)?;
            w.close().map_err(pq)?;
        }
        group.close().map_err(pq)?;
        if rows == 0 {
            break;
        }
        start = end;
    }
    writer.close().map_err(pq)?;
    file.commit()?;
    Ok(())
}
