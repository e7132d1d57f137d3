//! Corpus preparation before indexing or training.
//!
//! - [`msmarco`]: the official MS MARCO passage-ranking files (collection, queries, qrels and the
//!   training triples) into a BEIR folder plus triplets JSONL for `trawl train`.
//! - [`wiki`]: a Wikipedia XML dump (`.xml` or `.xml.bz2`, streamed) or plain text into
//!   100-word passages with titles and the markup removed (the DPR recipe).
//!
//! Everything streams: no input file is held in memory whole. Outputs are written through
//! trawl-store (a temporary sibling swapped into place), so a failure leaves no half-written
//! output. Bad input is an [`Error`] naming the file, the line and what was expected.

pub mod error;
pub mod msmarco;
pub mod wiki;

pub use error::{Error, Result};
