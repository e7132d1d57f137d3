//! The shared state of a running service: retrievers (behind the cache), labels, limits, stats.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use trawl_retrieve::{Labels, Retriever};

use crate::cache::{CachedRetriever, QueryCache};
use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::stats::Stats;
use crate::{Error, Result};

/// Everything a request handler needs.
pub struct AppState {
    pub(crate) retrievers: BTreeMap<String, Arc<dyn Retriever>>,
    pub(crate) default_retriever: String,
    pub(crate) labels: Option<Arc<Labels>>,
    pub(crate) config: ServeConfig,
    pub(crate) cache: Arc<QueryCache>,
    pub(crate) stats: Stats,
    pub(crate) started: Instant,
    pub(crate) retrieval_slots: tokio::sync::Semaphore,
}

impl AppState {
    /// Registers `retrievers` (by their names, each behind the shared cache).
    pub fn new(
        retrievers: Vec<Arc<dyn Retriever>>,
        labels: Option<Labels>,
        config: ServeConfig,
    ) -> Result<Self> {
        if retrievers.is_empty() {
            return Err(Error::Config("no retriever to serve".into()));
        }
        let cache = Arc::new(QueryCache::new(config.cache_size));
        let mut map: BTreeMap<String, Arc<dyn Retriever>> = BTreeMap::new();
        for r in &retrievers {
            let cached: Arc<dyn Retriever> =
                Arc::new(CachedRetriever::new(r.clone(), cache.clone()));
            if map.insert(r.name().to_string(), cached).is_some() {
                return Err(Error::Config(format!(
                    "two retrievers are named `{}`",
                    r.name()
                )));
            }
        }
        let default_retriever = match &config.default_retriever {
            Some(d) if map.contains_key(d) => d.clone(),
            Some(d) => {
                return Err(Error::Config(format!(
                    "default retriever `{d}` is not one of: {}",
                    map.keys().cloned().collect::<Vec<_>>().join(", ")
                )))
            }
            None => retrievers[0].name().to_string(),
        };
        if config.max_k == 0
            || config.max_batch == 0
            || config.max_rewrites == 0
            || config.max_concurrent_retrievals == 0
        {
            return Err(Error::Config(
                "max_k, max_batch, max_rewrites and max_concurrent_retrievals must be at least 1"
                    .into(),
            ));
        }
        let retrieval_slots = tokio::sync::Semaphore::new(config.max_concurrent_retrievals);
        Ok(AppState {
            retrievers: map,
            default_retriever,
            labels: labels.map(Arc::new),
            config,
            cache,
            stats: Stats::default(),
            started: Instant::now(),
            retrieval_slots,
        })
    }

    /// The named retriever (the default when `None`); 400 listing the available ones otherwise.
    pub(crate) fn retriever(
        &self,
        name: Option<&str>,
    ) -> std::result::Result<Arc<dyn Retriever>, ApiError> {
        let name = name.unwrap_or(&self.default_retriever);
        self.retrievers.get(name).cloned().ok_or_else(|| {
            ApiError::bad_request(
                "retriever",
                format!(
                    "unknown retriever `{name}`: this server has {}",
                    self.retriever_names().join(", ")
                ),
            )
        })
    }

    pub fn retriever_names(&self) -> Vec<String> {
        self.retrievers.keys().cloned().collect()
    }

    pub fn config(&self) -> &ServeConfig {
        &self.config
    }
}
