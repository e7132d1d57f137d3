//! Request handlers. Retrieval runs on tokio's blocking pool (see [`crate::work`]) so that slow
//! work never stalls the event loop that serves other clients; every request's work and answer
//! size are checked against the limits before it starts.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use trawl_retrieve::{
    compute_rewards, retrieve_rewrites, RetrievedDoc, Retriever, RewardItem, RewardMetric,
    RewardSpec, RewriteFusion, RewriteMode,
};

use crate::api::*;
use crate::error::ApiError;
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::vector_request::{search_vector, with_index, IndexChoice};
use crate::work::{blocking, json_capped, Cancellable};

type Answer = Result<Response, ApiError>;

fn json_bytes(bytes: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], bytes).into_response()
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
) -> Answer {
    let k = validate_k(req.k, &st.config)?;
    let choice = IndexChoice::parse(req.index, req.nprobe, req.ef, req.refine)?;
    let served = st.served();
    let per_list = served.list_len(k);
    let budget = Budget {
        hits: per_list,
        answer_bytes: per_list.saturating_mul(served.hit_bytes),
    };
    let limit = st.config.max_answer_bytes;
    let query = match (req.query, req.vector) {
        (Some(q), None) => q,
        (None, Some(vector)) => {
            let r = served.vector_retriever(req.retriever.as_deref())?;
            budget.check(&st.config)?;
            let body = blocking(&st, move |_cancel| {
                let kb = r.knowledge_base().expect("checked by vector_retriever");
                let found = search_vector(kb, &vector, &choice.unwrap_or_default(), k)?;
                json_capped(
                    &SearchResponse {
                        hits: hits(&*r, &found),
                    },
                    limit,
                )
            })
            .await?;
            return Ok(json_bytes(body));
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::bad_request(
                "vector",
                "give either `query` (text) or `vector` (an encoded query), not both",
            ))
        }
        (None, None) => {
            return Err(ApiError::bad_request(
                "query",
                "missing `query`: give the query text, or `vector` with an encoded query",
            ))
        }
    };
    let mut r = served.retriever_reranked(req.retriever.as_deref(), req.rerank)?;
    if let Some(choice) = choice {
        r = with_index(r, choice)?;
    }
    budget.check(&st.config)?;
    let body = blocking(&st, move |cancel| {
        let r = Cancellable { inner: &*r, cancel };
        let mut out = r.retrieve_batch(&[query.as_str()], k)?;
        let hits = hits(&r, &out.pop().unwrap_or_default());
        json_capped(&SearchResponse { hits }, limit)
    })
    .await?;
    Ok(json_bytes(body))
}

pub async fn retrieve_batch(
    State(st): State<Arc<AppState>>,
    JsonBody(req): JsonBody<RetrieveBatchRequest>,
) -> Answer {
    let k = validate_k(req.k, &st.config)?;
    validate_batch(req.items.iter().map(|i| &i.queries), &st.config)?;
    let mode = parse_mode(req.mode.as_deref())?;
    let fuse = parse_fuse(req.fuse.as_deref())?;
    let served = st.served();
    let r = served.retriever(req.retriever.as_deref())?;
    Budget::of_hits(
        req.items.iter().map(|i| &i.queries),
        served.list_len(k),
        served.hit_bytes,
    )
    .check(&st.config)?;
    let texts: Vec<Vec<String>> = req.items.into_iter().map(|i| i.queries).collect();
    let limit = st.config.max_answer_bytes;
    let body = blocking(&st, move |cancel| {
        let r = Cancellable { inner: &*r, cancel };
        let out = retrieve_rewrites(&r, &texts, k, mode, fuse)?;
        let results = out
            .into_iter()
            .map(|res| BatchResult {
                hits: hits(&r, &res.fused),
                per_query: res
                    .per_query
                    .iter()
                    .map(|q| Hits { hits: hits(&r, q) })
                    .collect(),
            })
            .collect();
        json_capped(&RetrieveBatchResponse { results }, limit)
    })
    .await?;
    Ok(json_bytes(body))
}

pub async fn reward(
    State(st): State<Arc<AppState>>,
    JsonBody(req): JsonBody<RewardRequest>,
) -> Answer {
    let k = validate_k(req.k, &st.config)?;
    validate_batch(req.items.iter().map(|i| &i.queries), &st.config)?;
    let mode = parse_mode(req.mode.as_deref())?;
    let fusion = parse_fuse(req.fuse.as_deref())?;
    let metric_name = req.metric.unwrap_or_else(|| format!("ndcg@{k}"));
    let metric: RewardMetric = metric_name.parse().map_err(ApiError::from)?;
    if metric.cutoff() > st.config.max_k {
        return Err(ApiError::bad_request(
            "metric",
            format!(
                "{metric} needs {} retrieved documents, more than the largest k of {} \
                 (--max-k): use a smaller cut-off",
                metric.cutoff(),
                st.config.max_k
            ),
        ));
    }
    let served = st.served();
    let mut r = served.retriever(req.retriever.as_deref())?;
    if let Some(choice) = IndexChoice::parse(req.index, req.nprobe, req.ef, req.refine)? {
        r = with_index(r, choice)?;
    }
    // Labels name documents: on a chunked KB, rank them by their best chunk (MaxP).
    let r = trawl_retrieve::collapse_chunks(r);
    let diversity = match req.diversity {
        Some(d) => Some(crate::diversity::DiversitySpec::parse(d, &served)?),
        None => None,
    };
    let spec = RewardSpec {
        k,
        mode,
        fusion,
        metric,
        unknown_uid: st.config.unknown_uid,
    };
    let depth = spec.depth();
    Budget::of_rewards(req.items.iter().map(|i| &i.queries), served.list_len(depth))
        .check(&st.config)?;
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
    let labels = st.labels.clone();
    let limit = st.config.max_answer_bytes;
    let body = blocking(&st, move |cancel| {
        let r = Cancellable { inner: &*r, cancel };
        let out = compute_rewards(&r, &items, labels.as_deref(), &spec)?;
        let results = out
            .into_iter()
            .zip(&items)
            .map(|(x, item)| {
                let diversity = match (&diversity, x.reward) {
                    (Some(d), Some(_)) => Some(d.score(&item.queries, &x.per_query)?),
                    _ => None,
                };
                Ok(RewardResult {
                    uid: x.uid,
                    reward: x.reward,
                    per_query: x.per_query,
                    doc_ids: x.doc_ids.iter().map(|d| d.to_string()).collect(),
                    error: x.error,
                    diversity,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        let answer = RewardResponse {
            metric: metric_name,
            depth,
            results,
        };
        json_capped(&answer, limit)
    })
    .await?;
    Ok(json_bytes(body))
}

pub async fn health(State(st): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let served = st.served();
    let on_disk = {
        let st = st.clone();
        tokio::task::spawn_blocking(move || st.on_disk_generation())
            .await
            .ok()
            .flatten()
    };
    let (on_disk_generation, stale, on_disk_error) = match on_disk {
        None => (None, false, None),
        Some(Ok(g)) => {
            let stale = served.generation.as_deref() != Some(g.as_str());
            (Some(g), stale, None)
        }
        Some(Err(e)) => (None, true, Some(e)),
    };
    let draining = st.draining.load(Ordering::Relaxed);
    Json(serde_json::json!({
        "status": if draining { "draining" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "retrievers": served.retrievers.keys().collect::<Vec<_>>(),
        "default_retriever": served.default_retriever,
        "num_docs": served.num_docs,
        "labelled_uids": st.labels.as_ref().map(|l| l.num_queries()),
        "generation": served.generation,
        "on_disk_generation": on_disk_generation,
        "on_disk_error": on_disk_error,
        "stale": stale,
        "reloads": st.reloads.load(Ordering::Relaxed),
    }))
}

pub async fn reload(State(st): State<Arc<AppState>>) -> Result<Json<serde_json::Value>, ApiError> {
    let r = st.reload().await?;
    Ok(Json(serde_json::to_value(r).unwrap_or_default()))
}

pub async fn stats(State(st): State<Arc<AppState>>) -> Json<serde_json::Value> {
    let snap = st.stats.snapshot();
    let served = st.served();
    Json(serde_json::json!({
        "requests": snap.requests,
        "errors": snap.errors,
        "endpoints": snap.endpoints,
        "latency_ms": snap.latency_ms,
        "cache": {
            "hits": served.cache.hits(),
            "misses": served.cache.misses(),
            "entries": served.cache.len(),
            "bytes": served.cache.bytes(),
            "capacity_bytes": served.cache.capacity_bytes(),
        },
        "retrievals_running": st.config.max_concurrent_retrievals - st.retrieval_slots.available_permits(),
        "uptime_s": st.started.elapsed().as_secs_f64(),
    }))
}

pub async fn openapi() -> Json<serde_json::Value> {
    Json(crate::openapi::document())
}

pub async fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "no such endpoint: see GET /openapi.json (POST /search, /retrieve_batch, /reward, /reload; GET /health, /stats)",
    )
}
