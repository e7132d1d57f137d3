//! The JSON shapes of the HTTP API (the contract the Python client relies on) and their
//! validation against the service limits.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::config::ServeConfig;
use crate::error::ApiError;

pub const DEFAULT_K: i64 = 10;

#[derive(Debug, Deserialize)]
pub struct SearchRequest {
    pub query: String,
    pub k: Option<i64>,
    pub retriever: Option<String>,
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
}

#[derive(Debug, Serialize)]
pub struct RewardResponse {
    pub metric: String,
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
