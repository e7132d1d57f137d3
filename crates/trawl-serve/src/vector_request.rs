//! Per-request choice of the vector index (`index`, `nprobe`, `ef`, `refine`) and search by a
//! query vector (`"vector": [...]` on `/search`). Requests without them go through the served
//! retrievers (and their cache) unchanged.

use std::sync::Arc;

use trawl_kb::{KnowledgeBase, SearchParams};
use trawl_retrieve::{RetrievedDoc, Retriever};

use crate::error::ApiError;

/// The largest `ef`, `nprobe` or `refine` a request may ask for (they bound the work per query).
pub const MAX_KNOB: i64 = 1 << 20;

/// The vector-index fields of a request, validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct IndexChoice {
    /// `None` or "exact": the flat index; otherwise an approximate index of the KB by name.
    pub index: Option<String>,
    pub params: SearchParams,
}

fn knob(name: &'static str, value: Option<i64>) -> Result<Option<usize>, ApiError> {
    match value {
        None => Ok(None),
        Some(v) if (1..=MAX_KNOB).contains(&v) => Ok(Some(v as usize)),
        Some(v) => Err(ApiError::bad_request(
            name,
            format!("{name} must be between 1 and {MAX_KNOB}, got {v}"),
        )),
    }
}

impl IndexChoice {
    /// `None` when the request names no index and no knob (the server's own settings apply).
    pub fn parse(
        index: Option<String>,
        nprobe: Option<i64>,
        ef: Option<i64>,
        refine: Option<i64>,
    ) -> Result<Option<IndexChoice>, ApiError> {
        let params = SearchParams {
            ef: knob("ef", ef)?,
            nprobe: knob("nprobe", nprobe)?,
            refine: knob("refine", refine)?,
        };
        if index.is_none() && params == SearchParams::default() {
            return Ok(None);
        }
        Ok(Some(IndexChoice { index, params }))
    }

    /// The chosen index of `kb`, or 400 naming the indexes it has.
    fn check<'k>(&self, kb: &'k KnowledgeBase) -> Result<&'k dyn trawl_kb::VectorIndex, ApiError> {
        kb.vector_index(self.index.as_deref())
            .map_err(|e| ApiError::bad_request("index", e.to_string()))
    }
}

/// Dense retrieval of `inner` (queries encoded by its model) through the index and knobs of a
/// request. Not cached: the cache keys rankings by retriever, k and text only.
pub struct IndexedDense {
    inner: Arc<dyn Retriever>,
    choice: IndexChoice,
}

/// `r` searching the index `choice` names: only dense retrieval has a vector index to choose.
pub fn with_index(
    r: Arc<dyn Retriever>,
    choice: IndexChoice,
) -> Result<Arc<dyn Retriever>, ApiError> {
    let kb = match r.knowledge_base() {
        Some(kb) if r.name() == "dense" => kb,
        _ => {
            return Err(ApiError::bad_request(
                "index",
                format!(
                    "index, nprobe, ef and refine choose the vector index of dense retrieval, \
                     but this request uses the `{}` retriever: add \"retriever\": \"dense\"",
                    r.name()
                ),
            ))
        }
    };
    choice.check(kb)?;
    Ok(Arc::new(IndexedDense { inner: r, choice }))
}

fn engine(e: impl std::fmt::Display) -> trawl_retrieve::Error {
    trawl_retrieve::Error::Engine {
        retriever: "dense".to_string(),
        message: e.to_string(),
    }
}

impl Retriever for IndexedDense {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn retrieve_batch(
        &self,
        queries: &[&str],
        k: usize,
    ) -> trawl_retrieve::Result<Vec<Vec<RetrievedDoc>>> {
        if queries.is_empty() {
            return Ok(Vec::new());
        }
        let kb = self
            .inner
            .knowledge_base()
            .ok_or_else(|| engine("no knowledge base"))?;
        let vectors = self
            .inner
            .embed_queries(queries)
            .ok_or_else(|| engine("the dense retriever has no query encoder"))??;
        let flat: Vec<f32> = vectors.concat();
        let hits = kb
            .search_vectors(
                self.choice.index.as_deref(),
                &flat,
                queries.len(),
                k,
                &self.choice.params,
            )
            .map_err(engine)?;
        Ok(hits
            .into_iter()
            .map(|hits| hits.into_iter().map(RetrievedDoc::from).collect())
            .collect())
    }

    fn document_title(&self, ordinal: u32) -> Option<String> {
        self.inner.document_title(ordinal)
    }

    fn num_docs(&self) -> usize {
        self.inner.num_docs()
    }

    fn knowledge_base(&self) -> Option<&KnowledgeBase> {
        self.inner.knowledge_base()
    }

    fn embed_queries(&self, texts: &[&str]) -> Option<trawl_retrieve::Result<Vec<Vec<f32>>>> {
        self.inner.embed_queries(texts)
    }
}

/// The top `k` documents for one query vector through the chosen index of `kb`: 400 when the
/// vector is empty, not finite, or of another dimension than the index (both numbers named).
pub fn search_vector(
    kb: &KnowledgeBase,
    vector: &[f32],
    choice: &IndexChoice,
    k: usize,
) -> Result<Vec<RetrievedDoc>, ApiError> {
    let index = choice.check(kb)?;
    if vector.len() != index.dim() {
        return Err(ApiError::bad_request(
            "vector",
            format!(
                "vector has {} values but the `{}` index holds {}-dimensional vectors{}: \
                 encode the query with the KB's model",
                vector.len(),
                choice.index.as_deref().unwrap_or("exact"),
                index.dim(),
                kb.dense_model()
                    .map(|m| format!(" (made by {m})"))
                    .unwrap_or_default()
            ),
        ));
    }
    if let Some(i) = vector.iter().position(|x| !x.is_finite()) {
        return Err(ApiError::bad_request(
            format!("vector[{i}]"),
            format!("vector[{i}] is not a finite number (too large for f32)"),
        ));
    }
    let mut hits = kb
        .search_vectors(choice.index.as_deref(), vector, 1, k, &choice.params)
        .map_err(|e| ApiError::bad_request("vector", e.to_string()))?;
    Ok(hits
        .pop()
        .unwrap_or_default()
        .into_iter()
        .map(RetrievedDoc::from)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn knobs_are_checked_and_absent_ones_choose_nothing() {
        assert_eq!(IndexChoice::parse(None, None, None, None).unwrap(), None);
        let c = IndexChoice::parse(Some("h".into()), Some(4), None, Some(50))
            .unwrap()
            .unwrap();
        assert_eq!(c.index.as_deref(), Some("h"));
        assert_eq!(c.params.nprobe, Some(4));
        assert_eq!(c.params.refine, Some(50));
        let e = IndexChoice::parse(None, None, Some(0), None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("ef"));
        assert!(e.message.contains("between 1 and"), "{}", e.message);
        let e = IndexChoice::parse(None, Some(-3), None, None).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("nprobe"));
    }
}
