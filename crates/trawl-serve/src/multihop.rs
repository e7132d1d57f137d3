//! `POST /multihop`: multi-hop retrieval for one question (trawl-rag's hops, with its
//! pseudo-relevance-feedback rule for the next query), under the same limits as `/search`:
//! `k` bounds, a budget priced before work starts, cancellation, a capped answer.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use trawl_rag::{HopOptions, NextQuery};

use crate::api::{validate_k, Budget};
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::work::{blocking, json_capped, Cancellable};

/// Hops a request may ask for.
pub const MAX_HOPS: i64 = 10;
/// Expansion terms a request may ask for.
pub const MAX_EXPANSION_TERMS: i64 = 50;
/// Bytes of an answer per word of document content (estimate, for the budget).
const BYTES_PER_WORD: usize = 8;

#[derive(Debug, Deserialize)]
pub struct MultihopRequest {
    pub query: String,
    /// Hops at most (default 3, 1..=10).
    pub max_hops: Option<i64>,
    /// New documents per hop (default 3; the same bounds as `k`).
    pub top_k_per_hop: Option<i64>,
    /// Expansion terms added to the question for the next hop (default 5, 1..=50).
    pub expansion_terms: Option<i64>,
    /// Words of each document's text returned (default 300).
    pub max_doc_words: Option<i64>,
    pub retriever: Option<String>,
}

fn bounded(v: Option<i64>, default: i64, max: i64, field: &str) -> Result<usize, ApiError> {
    let v = v.unwrap_or(default);
    if !(1..=max).contains(&v) {
        return Err(ApiError::bad_request(
            field,
            format!("{field} must be between 1 and {max}, got {v}"),
        ));
    }
    Ok(v as usize)
}

fn rag_error(e: trawl_rag::Error) -> ApiError {
    match e {
        trawl_rag::Error::Retrieve(e) => e.into(),
        trawl_rag::Error::Invalid(m) => ApiError::bad_request("query", m),
        other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, other.to_string()),
    }
}

pub async fn multihop(
    State(st): State<Arc<AppState>>,
    JsonBody(req): JsonBody<MultihopRequest>,
) -> Result<Response, ApiError> {
    let per_hop = validate_k(req.top_k_per_hop.or(Some(3)), &st.config).map_err(|_| {
        ApiError::bad_request(
            "top_k_per_hop",
            format!("top_k_per_hop must be between 1 and {}", st.config.max_k),
        )
    })?;
    let max_hops = bounded(req.max_hops, 3, MAX_HOPS, "max_hops")?;
    let terms = bounded(
        req.expansion_terms,
        5,
        MAX_EXPANSION_TERMS,
        "expansion_terms",
    )?;
    let words = bounded(req.max_doc_words, 300, 100_000, "max_doc_words")?;
    let served = st.served();
    let r = served.retriever(req.retriever.as_deref())?;
    if r.knowledge_base().is_none() {
        return Err(ApiError::bad_request(
            "retriever",
            format!(
                "multi-hop reads documents from a knowledge base; the {} retriever has none",
                r.name()
            ),
        ));
    }
    // Hop h retrieves per_hop new documents plus the (h-1) * per_hop seen before.
    let hits = (1..=max_hops).fold(0usize, |acc, h| {
        acc.saturating_add(served.list_len(h * per_hop))
    });
    let returned = max_hops.saturating_mul(per_hop);
    Budget {
        hits,
        answer_bytes: returned.saturating_mul(
            served
                .hit_bytes
                .saturating_add(words.saturating_mul(BYTES_PER_WORD)),
        ),
    }
    .check(&st.config)?;
    let opts = HopOptions {
        max_hops,
        top_k_per_hop: per_hop,
        next: NextQuery::Feedback { terms },
    };
    let limit = st.config.max_answer_bytes;
    let body = blocking(&st, move |cancel| {
        let kb = r
            .knowledge_base()
            .ok_or_else(|| ApiError::bad_request("retriever", "no knowledge base"))?;
        let c = Cancellable { inner: &*r, cancel };
        let mut runs =
            trawl_rag::multi_hop(&c, kb, &[req.query.as_str()], &opts, words).map_err(rag_error)?;
        json_capped(&runs.pop(), limit)
    })
    .await?;
    Ok((
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}
