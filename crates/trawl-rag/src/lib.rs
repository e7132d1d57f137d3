//! RAG training data from a trawl knowledge base: conversations with retrieval messages
//! ([`rag`]), multi-hop retrieval ([`hops`]) with a pseudo-relevance-feedback rule for the next
//! query ([`prf`]), and a seeded example set ([`example`]).
//!
//! Conversations come in as [`conversation::Record`]s from any source ([`conversation::read_jsonl`]
//! reads JSONL; a parquet reader yields the same records).

pub mod conversation;
pub mod documents;
pub mod error;
pub mod example;
pub mod hops;
pub mod prf;
pub mod rag;

pub use conversation::{read_jsonl, Record};
pub use documents::RagDocument;
pub use error::{Error, Result};
pub use hops::{multi_hop, Hop, HopOptions, HopRun, NextQuery};
pub use rag::{RagBatch, RagData, RagOptions, Turns};
