//! MaxP: a retriever over a chunked KB that ranks parent documents by their best chunk.

use std::sync::Arc;

use trawl_kb::KnowledgeBase;

use crate::retriever::{RetrievedDoc, Retriever};
use crate::Result;

/// Ranks parents by their best chunk (MaxP): each hit's id is the parent id, its score and
/// ordinal those of the best chunk. Retrieves chunks deeper (doubling) until `k` distinct
/// parents are found or the chunks run out, so the parents returned are exactly the top `k`.
pub struct MaxPRetriever {
    inner: Arc<dyn Retriever>,
    num_parents: usize,
    name: String,
}

impl MaxPRetriever {
    /// Wraps `inner`, a retriever over chunks of `num_parents` documents.
    pub fn new(inner: Arc<dyn Retriever>, num_parents: usize) -> Self {
        let name = inner.name().to_string();
        MaxPRetriever {
            inner,
            num_parents,
            name,
        }
    }
}

/// `retriever` collapsed with MaxP when `kb` is chunked (its manifest says so), as it is.
pub fn collapse_if_chunked(
    kb: &KnowledgeBase,
    retriever: Arc<dyn Retriever>,
) -> Arc<dyn Retriever> {
    match &kb.manifest().chunks {
        Some(c) => Arc::new(MaxPRetriever::new(retriever, c.num_parents as usize)),
        None => retriever,
    }
}

fn collapse(hits: Vec<RetrievedDoc>, k: usize) -> Vec<RetrievedDoc> {
    let keep = trawl_chunk::collapse_max(hits.iter().map(|h| &*h.id), k);
    keep.into_iter()
        .map(|i| {
            let h = &hits[i];
            RetrievedDoc {
                id: Arc::from(trawl_chunk::parent_id(&h.id)),
                score: h.score,
                ordinal: h.ordinal,
            }
        })
        .collect()
}

impl Retriever for MaxPRetriever {
    fn name(&self) -> &str {
        &self.name
    }

    fn retrieve_batch(&self, queries: &[&str], k: usize) -> Result<Vec<Vec<RetrievedDoc>>> {
        let total = self.inner.num_docs();
        let mut depth = k.saturating_mul(4).max(k).min(total.max(1));
        let mut out: Vec<Option<Vec<RetrievedDoc>>> = vec![None; queries.len()];
        let mut pending: Vec<usize> = (0..queries.len()).collect();
        while !pending.is_empty() {
            let batch: Vec<&str> = pending.iter().map(|&i| queries[i]).collect();
            let lists = self.inner.retrieve_batch(&batch, depth)?;
            let mut again = Vec::new();
            for (&qi, hits) in pending.iter().zip(lists) {
                let exhausted = hits.len() < depth || depth >= total;
                let parents = collapse(hits, k);
                if parents.len() < k && !exhausted {
                    again.push(qi);
                } else {
                    out[qi] = Some(parents);
                }
            }
            pending = again;
            depth = depth.saturating_mul(2).min(total);
        }
        Ok(out.into_iter().map(Option::unwrap_or_default).collect())
    }

    fn document_title(&self, ordinal: u32) -> Option<String> {
        self.inner.document_title(ordinal)
    }

    fn num_docs(&self) -> usize {
        self.num_parents
    }

    fn knowledge_base(&self) -> Option<&KnowledgeBase> {
        self.inner.knowledge_base()
    }

    fn embed_queries(&self, texts: &[&str]) -> Option<Result<Vec<Vec<f32>>>> {
        self.inner.embed_queries(texts)
    }
}
