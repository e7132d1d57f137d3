//! Service limits and defaults.

use std::time::Duration;

use trawl_retrieve::UnknownUidPolicy;

/// Settings of the HTTP service. `Default` gives the documented defaults.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Listening address; loopback by default.
    pub addr: String,
    /// Entries of the query-result LRU cache (0 disables it).
    pub cache_size: usize,
    /// Most items in one `/retrieve_batch` or `/reward` request.
    pub max_batch: usize,
    /// Most rewrites (query texts) per item.
    pub max_rewrites: usize,
    /// Largest `k` accepted (smallest is 1).
    pub max_k: usize,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// A request (body upload included) taking longer is answered 408.
    pub request_timeout: Duration,
    /// After a shutdown signal, connections still open this long are dropped.
    pub shutdown_grace: Duration,
    /// Retriever used when a request names none (the first registered when `None`).
    pub default_retriever: Option<String>,
    /// Reward for an item whose uid has no labels.
    pub unknown_uid: UnknownUidPolicy,
    /// Requests retrieving at the same time (others wait their turn); default: the number of
    /// CPUs, since every batch is already spread over all cores.
    pub max_concurrent_retrievals: usize,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            addr: "127.0.0.1:8080".to_string(),
            cache_size: 100_000,
            max_batch: 4096,
            max_rewrites: 64,
            max_k: 1000,
            max_body_bytes: 8 * 1024 * 1024,
            request_timeout: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(5),
            default_retriever: None,
            unknown_uid: UnknownUidPolicy::Error,
            max_concurrent_retrievals: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}
