//! Cross-encoder reranking of a first-stage ranking ([`RerankRetriever`] wraps any
//! [`Retriever`]; [`Reranker::rerank`] also reranks lists from elsewhere, e.g. a run file).
//!
//! The first `depth` hits of each query are scored by the cross-encoder on (query, passage) and
//! sorted by that score; hits past `depth` follow in their first-stage order with scores below
//! every reranked hit, so a TREC run sorted by score keeps that order.

use std::sync::Arc;

use trawl_embed::CrossEncoder;

use crate::retriever::{sort_ranking, RetrievedDoc, Retriever};
use crate::{Error, Result};

/// The passage a cross-encoder reads for a document, as BEIR's reranker builds it: title and
/// text joined by a space, trimmed.
pub fn passage_text(title: &str, text: &str) -> String {
    format!("{title} {text}").trim().to_string()
}

/// A cross-encoder and how many first-stage hits it rescores per query.
#[derive(Clone)]
pub struct Reranker {
    model: Arc<CrossEncoder>,
    depth: usize,
}

impl Reranker {
    /// Reranks the first `depth` hits of each query (depth >= 1).
    pub fn new(model: Arc<CrossEncoder>, depth: usize) -> Result<Reranker> {
        if depth == 0 {
            return Err(Error::InvalidArgument {
                field: "rerank depth",
                message: "must be at least 1".into(),
            });
        }
        Ok(Reranker { model, depth })
    }

    pub fn depth(&self) -> usize {
        self.depth
    }

    pub fn model(&self) -> &CrossEncoder {
        &self.model
    }

    /// Reranks `lists[i]` (the first-stage ranking of `queries[i]`) and keeps the top `k`.
    /// `passage` gives the text the model reads for a hit. All pairs of all queries are scored
    /// in one batched call.
    pub fn rerank(
        &self,
        queries: &[&str],
        lists: Vec<Vec<RetrievedDoc>>,
        k: usize,
        passage: &(dyn Fn(&RetrievedDoc) -> Result<String> + Sync),
    ) -> Result<Vec<Vec<RetrievedDoc>>> {
        if queries.len() != lists.len() {
            return Err(Error::InvalidArgument {
                field: "rerank lists",
                message: format!("{} queries but {} rankings", queries.len(), lists.len()),
            });
        }
        let mut texts = Vec::new();
        let mut owner = Vec::new();
        for (qi, list) in lists.iter().enumerate() {
            for hit in list.iter().take(self.depth) {
                texts.push(passage(hit)?);
                owner.push(qi);
            }
        }
        let pairs: Vec<(&str, &str)> = owner
            .iter()
            .zip(&texts)
            .map(|(&qi, t)| (queries[qi], t.as_str()))
            .collect();
        let scores = self.model.predict(&pairs).map_err(|e| Error::Engine {
            retriever: format!("rerank ({})", self.model.name()),
            message: e.to_string(),
        })?;
        let mut next = scores.into_iter();
        Ok(lists
            .into_iter()
            .map(|mut list| {
                let mut tail = list.split_off(self.depth.min(list.len()));
                for hit in &mut list {
                    hit.score = next.next().unwrap_or(f32::NEG_INFINITY);
                }
                sort_ranking(&mut list);
                let floor = list.iter().map(|h| h.score).fold(f32::INFINITY, f32::min);
                let floor = if floor.is_finite() { floor } else { 0.0 };
                for (j, hit) in tail.iter_mut().enumerate() {
                    hit.score = floor - 1.0 - j as f32;
                }
                list.append(&mut tail);
                list.truncate(k);
                list
            })
            .collect())
    }
}

/// A retriever whose hits are reranked by a cross-encoder: it asks `inner` for
/// `max(k, depth)` hits and reranks the first `depth` (passages from `inner`'s knowledge base).
pub struct RerankRetriever<R> {
    inner: R,
    reranker: Reranker,
    name: String,
}

impl<R: Retriever> RerankRetriever<R> {
    /// Fails when `inner` has no knowledge base to read passages from.
    pub fn new(inner: R, reranker: Reranker) -> Result<RerankRetriever<R>> {
        if inner.knowledge_base().is_none() {
            return Err(Error::InvalidArgument {
                field: "rerank",
                message: format!(
                    "the `{}` retriever has no knowledge base to read passages from",
                    inner.name()
                ),
            });
        }
        let name = format!("{}+rerank", inner.name());
        Ok(RerankRetriever {
            inner,
            reranker,
            name,
        })
    }

    pub fn reranker(&self) -> &Reranker {
        &self.reranker
    }
}

impl<R: Retriever> Retriever for RerankRetriever<R> {
    fn name(&self) -> &str {
        &self.name
    }

    fn retrieve_batch(&self, queries: &[&str], k: usize) -> Result<Vec<Vec<RetrievedDoc>>> {
        let lists = self
            .inner
            .retrieve_batch(queries, k.max(self.reranker.depth))?;
        let kb = self.inner.knowledge_base().ok_or_else(|| Error::Engine {
            retriever: self.name.clone(),
            message: "no knowledge base to read passages from".into(),
        })?;
        let passage = |hit: &RetrievedDoc| -> Result<String> {
            let doc = kb.document(hit.ordinal).map_err(|e| Error::Engine {
                retriever: self.name.clone(),
                message: e.to_string(),
            })?;
            Ok(passage_text(doc.title, doc.text))
        };
        self.reranker.rerank(queries, lists, k, &passage)
    }

    fn document_title(&self, ordinal: u32) -> Option<String> {
        self.inner.document_title(ordinal)
    }
    fn num_docs(&self) -> usize {
        self.inner.num_docs()
    }
    fn knowledge_base(&self) -> Option<&trawl_kb::KnowledgeBase> {
        self.inner.knowledge_base()
    }
    fn embed_queries(&self, texts: &[&str]) -> Option<Result<Vec<Vec<f32>>>> {
        self.inner.embed_queries(texts)
    }
}
