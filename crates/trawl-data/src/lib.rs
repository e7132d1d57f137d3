//! IR data formats for trawl: documents, queries, relevance judgements (qrels) and runs.
//!
//! Readers stream their input line by line (corpora) or parse one buffer (qrels, runs), read
//! `.gz` files transparently, and report bad input with the file, the line number and what was
//! expected. Line conventions shared by all readers (CRLF, BOM, UTF-8, empty files) are in
//! [`input`]; trec_eval compatibility rules (comments, duplicates) in [`qrels`] and [`run`].
//!
//! Module map (one concept each): [`document`] (corpus records), [`query`], [`qrels`], [`run`],
//! [`pickle`] (safe reader of pickled plain containers: id mappings, labels),
//! [`trec_format`] (the one reader of qrels and runs, permissive and trec_eval dialects, fast
//! borrowed tables), [`beir`] (BEIR dataset folders), [`input`] (gzip, line conventions),
//! [`error`].
//!
//! # Quickstart
//!
//! ```
//! use std::path::Path;
//! use trawl_data::{qrels, run};
//!
//! let qrels_text = "q1 0 d1 2\nq1 0 d2 0\nq2 0 d3 1\n";
//! let qrels = qrels::parse_qrels(qrels_text.as_bytes(), Path::new("qrels.txt"))?;
//! assert_eq!(qrels.get("q1").unwrap()["d1"], 2);
//!
//! // A run on disk: `qid Q0 docid rank score tag`.
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("bm25.trec");
//! std::fs::write(&path, "q1 Q0 d2 1 9.5 bm25\nq1 Q0 d1 2 7.25 bm25\n").unwrap();
//! let mut r = run::read_run(&path)?;
//! assert_eq!(r.tag(), Some("bm25"));
//! assert_eq!(r.get("q1").unwrap()[0].doc_id, "d2");
//!
//! // Bad input names the file, the line and what was expected.
//! let err = run::parse_run(b"q1 Q0 d1 1 high bm25\n", Path::new("r.trec"), &Default::default())
//!     .unwrap_err();
//! assert_eq!(err.to_string(), "r.trec:1: expected a numeric score in column 5, found `high`");
//!
//! // Writing sorts by score (ties: doc id descending, as trec_eval) and renumbers ranks.
//! r.push("q1", "d3", 8.0);
//! let mut out = Vec::new();
//! run::write_trec_run(&r, &mut out, "rerun")?;
//! assert_eq!(
//!     String::from_utf8(out).unwrap(),
//!     "q1 Q0 d2 1 9.5 rerun\nq1 Q0 d3 2 8 rerun\nq1 Q0 d1 3 7.25 rerun\n"
//! );
//! # Ok::<(), trawl_data::Error>(())
//! ```

pub mod beir;
pub mod document;
pub mod error;
pub mod input;
pub mod pickle;
pub mod qrels;
pub mod query;
pub mod run;
pub mod shared_data;
pub mod trec_format;

pub use beir::BeirDataset;
pub use document::{read_documents, Document, DocumentReader};
pub use error::{Error, Result};
pub use qrels::{read_qrels, Qrels};
pub use query::{read_queries, Query};
pub use run::{read_run, write_trec_run, Run, ScoredDoc};
