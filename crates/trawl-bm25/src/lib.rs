//! BM25 retrieval for trawl: Lucene-compatible English analysis, five BM25 variants, an exact
//! top-k search over block-coded postings (block-max MaxScore skips what cannot enter the top k;
//! an exhaustive path is the reference), and a checksummed, memory-mapped on-disk format.
//!
//! With the defaults (Anserini's English analyzer, Lucene BM25 with k1 = 0.9, b = 0.4) scores
//! reproduce Pyserini's BEIR "flat" BM25 runs.
//!
//! ```
//! use trawl_bm25::{AnalyzerConfig, Bm25Builder, Bm25Index, Bm25Params};
//!
//! let mut builder = Bm25Builder::new(AnalyzerConfig::default(), Bm25Params::default())?;
//! builder.add_documents(&[
//!     "The cat sat on the mat.",
//!     "Dogs and cats living together.",
//!     "A treatise on the stemming of English words.",
//! ]);
//! let index = builder.build()?;
//! let hits = index.search("cats", 10);
//! assert_eq!(hits.iter().map(|h| h.doc).collect::<Vec<_>>(), vec![0, 1]);
//! assert!(index.search("the and of", 10).is_empty()); // stopwords only: no hits, no error
//!
//! let dir = tempfile::tempdir().unwrap();
//! index.save(&dir.path().join("bm25"))?;
//! let reopened = Bm25Index::open(&dir.path().join("bm25"))?;
//! assert_eq!(reopened.search("cats", 10), hits);
//! # Ok::<(), trawl_bm25::Error>(())
//! ```
//!
//! Modules: [`analysis`] (tokenizer, Porter stemmer, stopwords), [`params`] (BM25 variants),
//! [`builder`], [`index`] (search), [`persist`] (on-disk format), [`smallfloat`] (Lucene's
//! document-length encoding); private: `blocks` (posting blocks), `maxscore`, `taat`, `window`,
//! `bmw` (pruned top-k).

pub mod analysis;
mod blocks;
mod bmw;
pub mod builder;
mod column;
pub mod error;
mod exhaustive;
mod external;
mod hash;
pub mod index;
mod maxscore;
pub mod params;
pub mod persist;
pub mod segments;
pub mod smallfloat;
mod taat;
mod topk;
mod window;

pub use analysis::{Analyzer, AnalyzerConfig, Stemmer, Stopwords};
pub use blocks::BLOCK_LEN as POSTINGS_PER_BLOCK;
pub use builder::Bm25Builder;
pub use error::{Error, Result};
#[doc(hidden)]
pub use exhaustive::set_chunk_for_tests_on_this_thread as set_exhaustive_chunk_for_tests_on_this_thread;
pub use external::{
    Bm25Writer, WrittenIndex, DEFAULT_MEMORY_BUDGET, MERGE_BATCH_POSTINGS, MIN_MEMORY_BUDGET,
};
pub use index::{Bm25Index, Hit, Strategy, AUTO_DOCS_PER_K, AUTO_MIN_DOCS, FLAT_DOCS_MAX_POSTINGS};
#[doc(hidden)]
pub use maxscore::take_counters;
pub use params::{Bm25Method, Bm25Params};
pub use segments::Segments;
pub use taat::set_chunk_for_tests as set_taat_chunk_for_tests;
pub use trawl_store::Verify;
