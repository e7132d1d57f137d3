//! The JSON shapes of the HTTP API (the contract the Python client relies on) and their
//! validation against the service limits.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::config::ServeConfig;
use crate::error::ApiError;

pub const DEFAULT_K: i64 = 10;

#[derive(Debug, Deserialize)]
pub struct SearchRequest {
    /// The query text, or `vector`.
    #[serde(default)]
    pub query: Option<String>,
    /// A query vector encoded elsewhere, searched in the KB's vector index directly.
    #[serde(default)]
    pub vector: Option<Vec<f32>>,
    pub k: Option<i64>,
    pub retriever: Option<String>,
    /// Vector index of dense retrieval (`exact` or a name in the KB) and its knobs; absent:
    /// the server's (`trawl serve --index --ef --nprobe --refine`).
    pub index: Option<String>,
    pub nprobe: Option<i64>,
    pub ef: Option<i64>,
    pub refine: Option<i64>,
    /// true: the retriever's `+rerank` variant; false: the retriever without reranking.
    pub rerank: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub struct BatchItem {
    pub queries: Vec<String>,
}

#[derive(Debug, Deserialize)]
pub struct RetrieveBatchRequest {
    pub items: Vec<BatchItem>,
    pub k: Option<i64>,
    pub mode: Option<String>,
    pub fuse: Option<String>,
    pub retriever: Option<String>,
}

/// Inline judgements: a list of relevant doc ids (grade 1) or doc id -> grade.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Relevant {
    Ids(Vec<String>),
    Graded(HashMap<String, i32>),
}

impl Relevant {
    pub fn into_map(self) -> HashMap<String, i32> {
        match self {
            Relevant::Ids(ids) => ids.into_iter().map(|d| (d, 1)).collect(),
            Relevant::Graded(m) => m,
        }
    }
}

#[derive(Debug, Deserialize)]
pub struct RewardRequestItem {
    #[serde(default)]
    pub uid: Option<String>,
    pub queries: Vec<String>,
    #[serde(default)]
    pub relevant: Option<Relevant>,
}

#[derive(Debug, Deserialize)]
pub struct RewardRequest {
    pub items: Vec<RewardRequestItem>,
    pub k: Option<i64>,
    pub mode: Option<String>,
    pub fuse: Option<String>,
    pub metric: Option<String>,
    pub retriever: Option<String>,
    /// DARLING-style diversity of each item's rewrites (see `crate::diversity`).
    #[serde(default)]
    pub diversity: Option<crate::diversity::DiversityRequest>,
    /// Vector index of dense retrieval and its knobs, as on `SearchRequest`.
    pub index: Option<String>,
    pub nprobe: Option<i64>,
    pub ef: Option<i64>,
    pub refine: Option<i64>,
}

#[derive(Debug, Serialize)]
pub struct Hit {
    pub id: String,
    pub score: f32,
    pub title: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct SearchResponse {
    pub hits: Vec<Hit>,
}

#[derive(Debug, Serialize)]
pub struct Hits {
    pub hits: Vec<Hit>,
}

#[derive(Debug, Serialize)]
pub struct BatchResult {
    pub hits: Vec<Hit>,
    pub per_query: Vec<Hits>,
}

#[derive(Debug, Serialize)]
pub struct RetrieveBatchResponse {
    pub results: Vec<BatchResult>,
}

#[derive(Debug, Serialize)]
pub struct RewardResult {
    pub uid: String,
    pub reward: Option<f64>,
    pub per_query: Vec<f64>,
    pub doc_ids: Vec<String>,
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diversity: Option<trawl_retrieve::Diversity>,
}

#[derive(Debug, Serialize)]
pub struct RewardResponse {
    pub metric: String,
    /// Documents retrieved per rewrite: `max(k, the metric's cut-off)`.
    pub depth: usize,
    pub results: Vec<RewardResult>,
}

/// `k` within `1..=max_k` (10 when absent).
pub fn validate_k(k: Option<i64>, cfg: &ServeConfig) -> Result<usize, ApiError> {
    let k = k.unwrap_or(DEFAULT_K);
    if k < 1 || k as u64 > cfg.max_k as u64 {
        return Err(ApiError::bad_request(
            "k",
            format!("k must be between 1 and {}, got {k}", cfg.max_k),
        ));
    }
    Ok(k as usize)
}

/// The batch is non-empty, within `max_batch`, and every item has 1..=max_rewrites texts.
pub fn validate_batch<'a>(
    queries: impl ExactSizeIterator<Item = &'a Vec<String>>,
    cfg: &ServeConfig,
) -> Result<(), ApiError> {
    let n = queries.len();
    if n == 0 {
        return Err(ApiError::bad_request(
            "items",
            "items is empty: send at least one item",
        ));
    }
    if n > cfg.max_batch {
        return Err(ApiError::bad_request(
            "items",
            format!(
                "{n} items exceed the limit of {} per request: split the batch",
                cfg.max_batch
            ),
        ));
    }
    for (i, q) in queries.enumerate() {
        if q.is_empty() {
            return Err(ApiError::bad_request(
                format!("items[{i}].queries"),
                format!("items[{i}].queries is empty: give at least one query text"),
            ));
        }
        if q.len() > cfg.max_rewrites {
            return Err(ApiError::bad_request(
                format!("items[{i}].queries"),
                format!(
                    "items[{i}] has {} query texts, more than the limit of {}",
                    q.len(),
                    cfg.max_rewrites
                ),
            ));
        }
    }
    Ok(())
}

/// JSON bytes of one doc id in a reward answer (quotes, comma, a typical id).
const DOC_ID_BYTES: usize = 24;
/// JSON bytes of one number in a reward answer.
const NUMBER_BYTES: usize = 24;

/// What a request asks for, computed from its shape before any work starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Budget {
    /// Hits retrieved: the sum over items of rewrites x depth.
    pub hits: usize,
    /// Estimated bytes of the JSON answer.
    pub answer_bytes: usize,
}

impl Budget {
    /// `/search` and `/retrieve_batch`: every rewrite's ranking plus the fused one is returned.
    pub fn of_hits<'a>(
        rewrites: impl Iterator<Item = &'a Vec<String>>,
        k: usize,
        hit_bytes: usize,
    ) -> Budget {
        let (mut hits, mut returned) = (0usize, 0usize);
        for q in rewrites {
            hits = hits.saturating_add(q.len().saturating_mul(k));
            returned = returned.saturating_add((q.len() + 1).saturating_mul(k));
        }
        Budget {
            hits,
            answer_bytes: returned.saturating_mul(hit_bytes),
        }
    }

    /// `/reward`: items return their scored doc ids and one number per rewrite.
    pub fn of_rewards<'a>(rewrites: impl Iterator<Item = &'a Vec<String>>, depth: usize) -> Budget {
        let (mut hits, mut bytes) = (0usize, 0usize);
        for q in rewrites {
            hits = hits.saturating_add(q.len().saturating_mul(depth));
            bytes = bytes
                .saturating_add(depth.saturating_mul(DOC_ID_BYTES))
                .saturating_add((q.len() + 1).saturating_mul(NUMBER_BYTES));
        }
        Budget {
            hits,
            answer_bytes: bytes,
        }
    }

    /// 413 naming the limit and what was asked for, before any retrieval starts.
    pub fn check(&self, cfg: &ServeConfig) -> Result<(), ApiError> {
        if self.hits > cfg.max_hits {
            return Err(ApiError::too_large(
                "items",
                format!(
                    "this request asks for {} hits (items x rewrites x k), over the limit of {} \
                     per request (--max-hits): lower k, send fewer rewrites or split the batch",
                    self.hits, cfg.max_hits
                ),
            ));
        }
        if self.answer_bytes > cfg.max_answer_bytes {
            return Err(ApiError::too_large(
                "items",
                format!(
                    "the answer to this request would be about {} bytes, over the limit of {} \
                     bytes (--max-answer-mib): lower k, send fewer rewrites or split the batch",
                    self.answer_bytes, cfg.max_answer_bytes
                ),
            ));
        }
        Ok(())
    }
}
