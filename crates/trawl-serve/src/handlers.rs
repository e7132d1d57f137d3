//! Request handlers. Retrieval runs on tokio's blocking pool so that slow work never stalls the
//! event loop that serves other clients.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use trawl_retrieve::{
    compute_rewards, retrieve_rewrites, RetrievedDoc, Retriever, RewardItem, RewardSpec,
    RewriteFusion, RewriteMode,
};

use crate::api::*;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;

type Answer<T> = Result<Json<T>, ApiError>;

/// Runs retrieval on the blocking pool, at most `max_concurrent_retrievals` at a time: more
/// would only make threads fight for the same cores (each batch is already parallel inside)
/// and hold more requests' memory at once. Waiting requests queue cheaply on the event loop.
async fn blocking<T: Send + 'static>(
    st: &AppState,
    f: impl FnOnce() -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let _permit = st.retrieval_slots.acquire().await.map_err(|_| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        )
    })?;
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("retrieval task failed: {e}"),
        )
    })?
}

fn hits(r: &dyn Retriever, docs: &[RetrievedDoc]) -> Vec<Hit> {
    docs.iter()
        .map(|d| Hit {
            id: d.id.to_string(),
            score: d.score,
            title: r.document_title(d.ordinal),
        })
        .collect()
}

fn parse_mode(mode: Option<&str>) -> Result<RewriteMode, ApiError> {
    mode.unwrap_or("single").parse().map_err(ApiError::from)
}

fn parse_fuse(fuse: Option<&str>) -> Result<RewriteFusion, ApiError> {
    fuse.map_or(Ok(RewriteFusion::Rrf), |f| {
        f.parse().map_err(ApiError::from)
    })
}

pub async fn search(
    State(st): State<Arc<AppState>>,
    JsonBody(req): JsonBody<SearchRequest>,
) -> Answer<SearchResponse> {
    let k = validate_k(req.k, &st.config)?;
    let r = st.retriever(req.retriever.as_deref())?;
    let hits = blocking(&st, move || {
        let mut out = r.retrieve_batch(&[req.query.as_str()], k)?;
        Ok(hits(&*r, &out.pop().unwrap_or_default()))
    })
    .await?;
    Ok(Json(SearchResponse { hits }))
}

pub async fn retrieve_batch(
    State(st): State<Arc<AppState>>,
    JsonBody(req): JsonBody<RetrieveBatchRequest>,
) -> Answer<RetrieveBatchResponse> {
    let k = validate_k(req.k, &st.config)?;
    validate_batch(req.items.iter().map(|i| &i.queries), &st.config)?;
    let mode = parse_mode(req.mode.as_deref())?;
    let fuse = parse_fuse(req.fuse.as_deref())?;
    let r = st.retriever(req.retriever.as_deref())?;
    let texts: Vec<Vec<String>> = req.items.into_iter().map(|i| i.queries).collect();
    let results = blocking(&st, move || {
        let out = retrieve_rewrites(&*r, &texts, k, mode, fuse)?;
        Ok(out
            .into_iter()
            .map(|res| BatchResult {
                hits: hits(&*r, &res.fused),
                per_query: res
                    .per_query
                    .iter()
                    .map(|q| Hits { hits: hits(&*r, q) })
                    .collect(),
            })
            .collect())
    })
    .await?;
    Ok(Json(RetrieveBatchResponse { results }))
}

pub async fn reward(
    State(st): State<Arc<AppState>>,
    JsonBody(req): JsonBody<RewardRequest>,
) -> Answer<RewardResponse> {
    let k = validate_k(req.k, &st.config)?;
    validate_batch(req.items.iter().map(|i| &i.queries), &st.config)?;
    let mode = parse_mode(req.mode.as_deref())?;
    let fusion = parse_fuse(req.fuse.as_deref())?;
    let metric_name = req.metric.unwrap_or_else(|| format!("ndcg@{k}"));
    let metric = metric_name.parse().map_err(ApiError::from)?;
    let r = st.retriever(req.retriever.as_deref())?;
    let mut items = Vec::with_capacity(req.items.len());
    for (i, it) in req.items.into_iter().enumerate() {
        if it.uid.is_none() && it.relevant.is_none() {
            return Err(ApiError::bad_request(
                format!("items[{i}].uid"),
                format!("items[{i}] needs a `uid` (looked up in the labels) or `relevant` doc ids"),
            ));
        }
        items.push(RewardItem {
            uid: it.uid.unwrap_or_default(),
            queries: it.queries,
            relevant: it.relevant.map(Relevant::into_map),
        });
    }
    let spec = RewardSpec {
        k,
        mode,
        fusion,
        metric,
        unknown_uid: st.config.unknown_uid,
    };
    let labels = st.labels.clone();
    let results = blocking(&st, move || {
        let out = compute_rewards(&*r, &items, labels.as_deref(), &spec)?;
        Ok(out
            .into_iter()
            .map(|x| RewardResult {
                uid: x.uid,
                reward: x.reward,
                per_query: x.per_query,
                doc_ids: x.doc_ids.iter().map(|d| d.to_string()).collect(),
                error: x.error,
            })
            .collect())
    })
    .await?;
    Ok(Json(RewardResponse {
        metric: metric_name,
        results,
    }))
}

pub async fn health(State(st): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let num_docs = st
        .retrievers
        .values()
        .map(|r| r.num_docs())
        .max()
        .unwrap_or(0);
    Json(serde_json::json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "retrievers": st.retriever_names(),
        "default_retriever": st.default_retriever,
        "num_docs": num_docs,
        "labelled_uids": st.labels.as_ref().map(|l| l.num_queries()),
    }))
}

pub async fn stats(State(st): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let snap = st.stats.snapshot();
    Json(serde_json::json!({
        "requests": snap.requests,
        "errors": snap.errors,
        "endpoints": snap.endpoints,
        "latency_ms": snap.latency_ms,
        "cache": {
            "hits": st.cache.hits(),
            "misses": st.cache.misses(),
            "entries": st.cache.len(),
            "capacity": st.cache.capacity(),
        },
        "uptime_s": st.started.elapsed().as_secs_f64(),
    }))
}

pub async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint: see GET /openapi.json (POST /search, /retrieve_batch, /reward; GET /health, /stats)",
    )
}
