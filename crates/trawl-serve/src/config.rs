//! Service limits and defaults.

use std::time::Duration;

use trawl_retrieve::UnknownUidPolicy;

/// Settings of the HTTP service. `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Listening address; loopback by default.
    pub addr: String,
    /// Bytes of the query-result LRU cache, estimated per entry (0 disables it).
    pub cache_bytes: usize,
    /// Most items in one `/retrieve_batch` or `/reward` request.
    pub max_batch: usize,
    /// Most rewrites (query texts) per item.
    pub max_rewrites: usize,
    /// Largest `k` accepted (smallest is 1).
    pub max_k: usize,
    /// Most hits one request may retrieve: the sum over items of rewrites x k (the retrieval
    /// depth for rewards). Checked before any work starts.
    pub max_hits: usize,
    /// Largest JSON answer, in bytes: estimated before work starts, enforced while writing it.
    pub max_answer_bytes: usize,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// A request (body upload included) taking longer is answered 408 and its retrieval stops.
    pub request_timeout: Duration,
    /// A connection must deliver a complete request head within this long of opening or of its
    /// previous answer; idle keep-alive connections are closed after it too.
    pub header_timeout: Duration,
    /// Open connections at most; more are answered 503 and closed.
    pub max_connections: usize,
    /// After a shutdown signal: how long in-flight requests may finish (new ones get 503)
    /// before their retrieval is cancelled and the process exits.
    pub shutdown_grace: Duration,
    /// Retriever used when a request names none (the first registered when `None`).
    pub default_retriever: Option<String>,
    /// Reward for an item whose uid has no labels.
    pub unknown_uid: UnknownUidPolicy,
    /// Requests retrieving at the same time (others wait their turn); default: the number of
    /// CPUs, since every batch is already spread over all cores.
    pub max_concurrent_retrievals: usize,
    /// Bearer token required on every endpoint but `/health` (`Authorization: Bearer TOKEN`).
    pub token: Option<String>,
    /// Serve a non-loopback address without a token (otherwise refused).
    pub insecure_public: bool,
    /// Host header values accepted besides `localhost` and the bound IP (`*`: any).
    pub allowed_hosts: Vec<String>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            addr: "127.0.0.1:8080".to_string(),
            cache_bytes: 256 * 1024 * 1024,
            max_batch: 4096,
            max_rewrites: 64,
            max_k: 1000,
            max_hits: 1_000_000,
            max_answer_bytes: 64 * 1024 * 1024,
            max_body_bytes: 8 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            header_timeout: Duration::from_secs(10),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(10),
            default_retriever: None,
            unknown_uid: UnknownUidPolicy::Error,
            max_concurrent_retrievals: std::thread::available_parallelism().map_or(2, |n| n.get()),
            token: None,
            insecure_public: false,
            allowed_hosts: Vec::new(),
        }
    }
}
