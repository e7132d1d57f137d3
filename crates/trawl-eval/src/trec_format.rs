//! trec_eval's reading rules, as [`trec_eval`](crate::trec_eval()) expects its input.
//!
//! The reader itself lives in [`trawl_data::trec_format`] (one reader for every command); these
//! are its [`Dialect::TrecEval`] entry points, named as the tables they return are used here.

use std::path::Path;

pub use trawl_data::trec_format::{
    read_text, Dialect, Note, QrelsTable, QueryJudgements, RunTable, Text,
};

/// Reads a qrels file as trec_eval 10.0 does.
pub fn read_qrels(path: &Path) -> trawl_data::Result<QrelsTable> {
    trawl_data::trec_format::read_qrels(path, Dialect::TrecEval)
}

/// Parses qrels text as trec_eval 10.0 does.
pub fn parse_qrels(text: &str, path: &Path) -> trawl_data::Result<QrelsTable> {
    trawl_data::trec_format::parse_qrels(text, path, Dialect::TrecEval)
}

/// Parses run text as trec_eval 10.0 does; ids borrow from `text`.
pub fn parse_run<'a>(text: &'a str, path: &Path) -> trawl_data::Result<RunTable<'a>> {
    trawl_data::trec_format::parse_run(text, path, Dialect::TrecEval)
}
