//! The `Retriever` trait: a batch of query texts in, one ranked list per query out.

use std::sync::Arc;

use crate::Result;

/// One retrieved document: its external id, the retriever's score and its ordinal in the KB.
///
/// The ordinal is the document's position in the knowledge base (under MaxP, its best chunk's);
/// it breaks score ties (lower first). Fusion identifies documents by `id`.
#[derive(Debug, Clone, PartialEq)]
pub struct RetrievedDoc {
    pub id: Arc<str>,
    pub score: f32,
    pub ordinal: u32,
}

impl From<trawl_kb::KbHit> for RetrievedDoc {
    fn from(h: trawl_kb::KbHit) -> Self {
        RetrievedDoc {
            id: Arc::from(h.id),
            score: h.score,
            ordinal: h.ordinal,
        }
    }
}

impl From<trawl_kb::KbHitRef<'_>> for RetrievedDoc {
    fn from(h: trawl_kb::KbHitRef<'_>) -> Self {
        RetrievedDoc {
            id: Arc::from(h.id),
            score: h.score,
            ordinal: h.ordinal,
        }
    }
}

/// A ranker over one document collection. Implementations must be cheap to share across
/// threads: the service calls them from a blocking pool.
pub trait Retriever: Send + Sync {
    /// A short name (`bm25`, `dense`, `hybrid`): used in errors, caches and the HTTP API.
    fn name(&self) -> &str;

    /// The top `k` documents of every query, best first (ties: lower ordinal first).
    /// The outer vector has one entry per query, in order.
    fn retrieve_batch(&self, queries: &[&str], k: usize) -> Result<Vec<Vec<RetrievedDoc>>>;

    /// The title of the document with this ordinal, when the retriever knows documents.
    fn document_title(&self, _ordinal: u32) -> Option<String> {
        None
    }

    /// How many documents the retriever ranks (live ones: a KB's deleted or replaced documents
    /// are not counted).
    fn num_docs(&self) -> usize;

    /// The knowledge base the ordinals refer to, when the retriever ranks one (RAG data and
    /// multi-hop read documents' text and term statistics from it).
    fn knowledge_base(&self) -> Option<&trawl_kb::KnowledgeBase> {
        None
    }

    /// Query embeddings of `texts` with the retriever's model, when it has one (diversity
    /// rewards group rewrites by them).
    fn embed_queries(&self, _texts: &[&str]) -> Option<Result<Vec<Vec<f32>>>> {
        None
    }
}

impl<R: Retriever + ?Sized> Retriever for Arc<R> {
    fn name(&self) -> &str {
        (**self).name()
    }
    fn retrieve_batch(&self, queries: &[&str], k: usize) -> Result<Vec<Vec<RetrievedDoc>>> {
        (**self).retrieve_batch(queries, k)
    }
    fn document_title(&self, ordinal: u32) -> Option<String> {
        (**self).document_title(ordinal)
    }
    fn num_docs(&self) -> usize {
        (**self).num_docs()
    }
    fn knowledge_base(&self) -> Option<&trawl_kb::KnowledgeBase> {
        (**self).knowledge_base()
    }
    fn embed_queries(&self, texts: &[&str]) -> Option<Result<Vec<Vec<f32>>>> {
        (**self).embed_queries(texts)
    }
}

/// Sorts best first: score descending, then ordinal ascending (deterministic ties).
pub(crate) fn sort_ranking(docs: &mut [RetrievedDoc]) {
    docs.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| a.ordinal.cmp(&b.ordinal))
    });
}
