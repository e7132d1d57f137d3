//! The hand-written OpenAPI 3 document served at `GET /openapi.json`.

use serde_json::{json, Value};

fn post(summary: &str, request: &str, response: &str) -> Value {
    json!({
        "post": {
            "summary": summary,
            "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{request}")}}}},
            "responses": {
                "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{response}")}}}},
                "400": {"description": "Invalid request (malformed JSON, wrong type, limit exceeded, unknown retriever or metric)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "401": {"description": "Missing or wrong bearer token (servers started with --token)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "408": {"description": "Request timed out (its retrieval is cancelled)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "413": {"description": "Body too large, or the request asks for more hits (--max-hits) or a larger answer (--max-answer-mib) than allowed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "415": {"description": "The body is not Content-Type: application/json", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "421": {"description": "The Host header is not this server's address (see --allow-host)", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "503": {"description": "Shutting down, too many connections, or the work was cancelled at shutdown", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
            }
        }
    })
}

fn get(summary: &str) -> Value {
    json!({"get": {"summary": summary, "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}}}}})
}

/// The OpenAPI 3.0 description of the API.
pub fn document() -> Value {
    let queries = json!({"type": "array", "minItems": 1, "items": {"type": "string"}, "description": "One or more rewrites of the same query"});
    let k = json!({"type": "integer", "minimum": 1, "maximum": 1000, "default": 10});
    let retriever = json!({"type": "string", "description": "bm25, dense, hybrid, ... (GET /health lists them)"});
    let mode =
        json!({"type": "string", "enum": ["single", "union", "intersection"], "default": "single"});
    let fuse = json!({"type": "string", "enum": ["rrf", "max_score"], "default": "rrf", "description": "Fusion of rewrites in union/intersection modes"});
    let knob = |what: &str| json!({"type": "integer", "minimum": 1, "maximum": crate::vector_request::MAX_KNOB, "description": what});
    let index = json!({"type": "string", "description": "Vector index of dense retrieval: exact, or an approximate index of the KB by name (trawl kb info lists them); default: the server's --index"});
    json!({
        "openapi": "3.0.3",
        "info": {"title": "trawl retrieval service", "version": env!("CARGO_PKG_VERSION"),
                 "description": "Search, batched multi-rewrite retrieval and RL rewards over a trawl knowledge base."},
        "paths": {
            "/search": post("Search one query", "SearchRequest", "SearchResponse"),
            "/retrieve_batch": post("Retrieve for a batch of items, each with one or more rewrites", "RetrieveBatchRequest", "RetrieveBatchResponse"),
            "/reward": post("Rewards: a metric of each item's ranking against the labels of its uid", "RewardRequest", "RewardResponse"),
            "/multihop": post("Multi-hop retrieval for one question: each next query adds the top terms of the previous hop's documents (pseudo-relevance feedback); no document repeats", "MultihopRequest", "MultihopResponse"),
            "/reload": {"post": {"summary": "Reopen the KB folder if it was replaced on disk and swap it in (no body)", "responses": {
                "200": {"description": "{reloaded, generation, num_docs, retrievers}", "content": {"application/json": {"schema": {"type": "object"}}}},
                "409": {"description": "Not started from a KB folder", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                "500": {"description": "The new KB could not be opened; the previous one is still served", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}}}},
            "/health": get("Liveness, retrievers, document and label counts, served and on-disk KB generation (stale)"),
            "/stats": get("Requests, errors, latency percentiles (ms), cache hits and misses"),
            "/openapi.json": get("This document")
        },
        "components": {"schemas": {
            "Error": {"type": "object", "required": ["error"], "properties": {
                "error": {"type": "string"}, "field": {"type": "string", "nullable": true, "description": "JSON path of the offending field"}}},
            "Hit": {"type": "object", "required": ["id", "score"], "properties": {
                "id": {"type": "string"}, "score": {"type": "number"}, "title": {"type": "string", "nullable": true}}},
            "Hits": {"type": "object", "required": ["hits"], "properties": {"hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}}}},
            "SearchRequest": {"type": "object", "description": "Exactly one of query and vector", "properties": {"query": {"type": "string"},
                "vector": {"type": "array", "items": {"type": "number"}, "description": "A query encoded elsewhere (the KB's model and dimension), searched in the vector index directly"},
                "k": k, "retriever": retriever, "index": index, "ef": knob("HNSW: candidate list size"), "nprobe": knob("IVF: lists probed"), "refine": knob("Re-score the first R candidates exactly (IVF-PQ built with --refine-vectors)"),
                "rerank": {"type": "boolean", "description": "true: the retriever's `+rerank` variant (served with `trawl serve --rerank MODEL`); false: without reranking"}}},
            "SearchResponse": {"$ref": "#/components/schemas/Hits"},
            "RetrieveBatchRequest": {"type": "object", "required": ["items"], "properties": {
                "items": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["queries"], "properties": {"queries": queries}}},
                "k": k, "mode": mode, "fuse": fuse, "retriever": retriever}},
            "RetrieveBatchResponse": {"type": "object", "required": ["results"], "properties": {"results": {"type": "array", "items": {
                "type": "object", "required": ["hits", "per_query"], "properties": {
                    "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}, "description": "Fused ranking (single mode: the first rewrite's)"},
                    "per_query": {"type": "array", "items": {"$ref": "#/components/schemas/Hits"}}}}}}},
            "RewardRequest": {"type": "object", "required": ["items"], "properties": {
                "items": {"type": "array", "minItems": 1, "items": {"type": "object", "required": ["queries"], "properties": {
                    "uid": {"type": "string", "description": "Query uid in the server's labels"},
                    "queries": queries,
                    "relevant": {"description": "Inline labels instead of a uid: doc ids (grade 1) or doc id -> grade",
                                 "oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "object", "additionalProperties": {"type": "integer"}}]}}}},
                "k": k, "mode": mode, "fuse": fuse, "retriever": retriever,
                "index": index, "ef": knob("HNSW: candidate list size"), "nprobe": knob("IVF: lists probed"), "refine": knob("Re-score the first R candidates exactly"),
                "metric": {"type": "string", "example": "ndcg@10", "description": "ndcg@K, recall@K, hit@K, mrr@K or precision@K (default ndcg@k); K above k raises the retrieval depth to K"}}},
            "MultihopRequest": {"type": "object", "required": ["query"], "properties": {"query": {"type": "string"},
                "max_hops": {"type": "integer", "minimum": 1, "maximum": 10, "default": 3}, "top_k_per_hop": {"type": "integer", "minimum": 1, "default": 3},
                "expansion_terms": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5}, "max_doc_words": {"type": "integer", "minimum": 1, "default": 300}, "retriever": retriever}},
            "MultihopResponse": {"type": "object", "nullable": true, "required": ["hops", "stopped"], "description": "The hops of schemas/rag_conversation.schema.json#/$defs/hop and why hopping stopped",
                "properties": {"hops": {"type": "array", "items": {"type": "object"}}, "stopped": {"type": "string"}}},
            "RewardResponse": {"type": "object", "required": ["results"], "properties": {
                "metric": {"type": "string"},
                "depth": {"type": "integer", "description": "Documents retrieved per rewrite: max(k, the metric's cut-off)"},
                "results": {"type": "array", "items": {"type": "object", "required": ["uid", "reward", "per_query", "doc_ids", "error"], "properties": {
                    "uid": {"type": "string"},
                    "reward": {"type": "number", "nullable": true, "description": "single: mean of per_query; union/intersection: metric of the fused ranking; null on error"},
                    "per_query": {"type": "array", "items": {"type": "number"}},
                    "doc_ids": {"type": "array", "items": {"type": "string"}},
                    "error": {"type": "string", "nullable": true, "description": "Per-item error, e.g. an unknown uid"}}}}}}
        }}
    })
}
