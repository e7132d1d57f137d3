//! Parquet for trawl: the one place where parquet files are read and written.
//!
//! - [`ParquetTable`]: open a file, list its columns, read named columns (dotted paths reach
//!   into structs: `extra_info.uid`) or whole rows as JSON values (conversations, rollouts).
//! - [`read_queries`], [`read_qrels`]: trawl's query and qrels types from parquet tables with the
//!   BEIR column names (`_id`/`id`/`query-id`, `text`/`query`; `query-id`, `corpus-id`, `score`).
//! - [`ParquetTable::iter_columns`], [`ParquetTable::iter_rows`]: the same, streamed one row
//!   group and page at a time; [`TableWriter`]: a table written batch by batch.
//! - [`write_table`]: flat columns (strings, floats, integers; nulls allowed), snappy, written
//!   through trawl-store (temporary sibling, renamed into place).
//!
//! A column that is not there is an error naming the columns that are.

mod error;
mod read;
mod write;

pub use error::{Error, Result};
pub use read::{read_qrels, read_queries, ColumnRows, ParquetTable, Rows};
pub use write::{write_table, Column, ColumnData, TableWriter};

/// Whether `path` names a parquet file (by its extension).
pub fn is_parquet(path: &std::path::Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("pq"))
}
