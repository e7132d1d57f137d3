//! IR data formats for trawl: documents, queries, relevance judgements (qrels) and runs.
//!
//! Readers stream their input line by line, read `.gz` files transparently, and report bad input
//! with the file, the line number and what was expected.
//!
//! Module map (one concept each): [`document`] (corpus records), [`query`], [`qrels`], [`run`].

pub mod document;
pub mod error;
pub mod qrels;
pub mod query;
pub mod run;
pub mod shared_data;

pub use document::Document;
pub use error::{Error, Result};
pub use qrels::Qrels;
pub use query::Query;
pub use run::{Run, ScoredDoc};
