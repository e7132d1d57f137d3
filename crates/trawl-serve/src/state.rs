//! The shared state of a running service: the served generation of retrievers (behind its
//! cache, swapped whole on reload), labels, limits, stats and the flags of a shutdown.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Instant;

use axum::http::StatusCode;
use trawl_retrieve::{Labels, Retriever};

use crate::cache::{CachedRetriever, QueryCache};
use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::stats::Stats;
use crate::{Error, Result};

/// Where the served retrievers come from, so that a replaced KB can be detected and reopened.
pub trait KbSource: Send + Sync {
    /// The generation on disk now (see [`crate::generation::kb_generation`]).
    fn generation(&self) -> std::result::Result<String, String>;
    /// Opens the retrievers of what is on disk now.
    fn open(&self) -> std::result::Result<Vec<Arc<dyn Retriever>>, String>;
}

/// One generation of retrievers with its own cache (rankings of an older KB must not answer
/// for a newer one). Requests hold an `Arc` to it, so a reload never pulls it from under them.
pub struct Served {
    pub(crate) retrievers: BTreeMap<String, Arc<dyn Retriever>>,
    pub(crate) default_retriever: String,
    pub(crate) cache: Arc<QueryCache>,
    pub(crate) generation: Option<String>,
    /// Estimated JSON bytes of one hit (`{"id":..,"score":..,"title":..}`), for answer budgets.
    pub(crate) hit_bytes: usize,
    pub(crate) num_docs: usize,
}

/// JSON bytes of a hit besides its title: braces, keys, an id of typical length, a score.
const HIT_BYTES_BESIDES_TITLE: usize = 56;

impl Served {
    fn new(
        retrievers: Vec<Arc<dyn Retriever>>,
        config: &ServeConfig,
        generation: Option<String>,
    ) -> Result<Self> {
        if retrievers.is_empty() {
            return Err(Error::Config("no retriever to serve".into()));
        }
        let cache = Arc::new(QueryCache::new(config.cache_bytes));
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
        let num_docs = retrievers.iter().map(|r| r.num_docs()).max().unwrap_or(0);
        Ok(Served {
            hit_bytes: HIT_BYTES_BESIDES_TITLE + mean_title_bytes(&*retrievers[0]),
            retrievers: map,
            default_retriever,
            cache,
            generation,
            num_docs,
        })
    }

    /// The longest ranking a request for the top `k` can get: no more than the documents.
    pub(crate) fn list_len(&self, k: usize) -> usize {
        k.min(self.num_docs.max(1))
    }

    /// [`Served::retriever`] with a request's `rerank` choice: true picks the `+rerank` variant
    /// (served when `trawl serve --rerank MODEL`), false the first stage alone.
    pub(crate) fn retriever_reranked(
        &self,
        name: Option<&str>,
        rerank: Option<bool>,
    ) -> std::result::Result<Arc<dyn Retriever>, ApiError> {
        let Some(rerank) = rerank else {
            return self.retriever(name);
        };
        let given = name.unwrap_or(&self.default_retriever);
        let base = given.strip_suffix("+rerank").unwrap_or(given);
        if !rerank {
            return self.retriever(Some(base));
        }
        let wanted = format!("{base}+rerank");
        if !self.retrievers.contains_key(&wanted) {
            return Err(ApiError::bad_request(
                "rerank",
                format!(
                    "this server does not rerank `{base}`: start `trawl serve` with --rerank MODEL"
                ),
            ));
        }
        self.retriever(Some(&wanted))
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
                    self.retrievers
                        .keys()
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            )
        })
    }
}

impl Served {
    /// What a `"vector"` search reads the KB from: the named retriever when it is `dense`
    /// (400 otherwise: a vector has no meaning to BM25), else any retriever over the KB (the
    /// vector index needs no model, so one encoded elsewhere searches even without it).
    pub(crate) fn vector_retriever(
        &self,
        name: Option<&str>,
    ) -> std::result::Result<Arc<dyn Retriever>, ApiError> {
        if let Some(n) = name.filter(|n| *n != "dense") {
            return Err(ApiError::bad_request(
                "retriever",
                format!("`vector` searches the KB's vector index: drop \"retriever\": \"{n}\" or use \"dense\""),
            ));
        }
        let kb_has_vectors =
            |r: &Arc<dyn Retriever>| r.knowledge_base().is_some_and(|kb| kb.vectors().is_some());
        self.retrievers
            .get("dense")
            .filter(|r| kb_has_vectors(r))
            .or_else(|| self.retrievers.values().find(|r| kb_has_vectors(r)))
            .cloned()
            .ok_or_else(|| {
                ApiError::bad_request(
                    "vector",
                    "this knowledge base has no dense vectors to search by `vector`: build it with `trawl kb build --dense MODEL`",
                )
            })
    }
}

/// Mean title length over up to 256 documents spread over the collection.
fn mean_title_bytes(r: &dyn Retriever) -> usize {
    let n = r.num_docs();
    if n == 0 {
        return 0;
    }
    let samples = n.min(256);
    let total: usize = (0..samples)
        .map(|i| {
            r.document_title((i * n / samples) as u32)
                .map_or(0, |t| t.len())
        })
        .sum();
    total / samples
}

/// Everything a request handler needs.
pub struct AppState {
    served: RwLock<Arc<Served>>,
    source: Option<Box<dyn KbSource>>,
    reload_lock: tokio::sync::Mutex<()>,
    pub(crate) labels: Option<Arc<Labels>>,
    pub(crate) config: ServeConfig,
    pub(crate) stats: Stats,
    pub(crate) started: Instant,
    pub(crate) retrieval_slots: Arc<tokio::sync::Semaphore>,
    /// Set at a shutdown signal: new requests get 503.
    pub(crate) draining: AtomicBool,
    /// Set when the shutdown grace is over: running retrievals stop.
    pub(crate) cancel_all: Arc<AtomicBool>,
    /// The address actually bound (for the Host check), set by `serve`.
    pub(crate) bound: OnceLock<SocketAddr>,
    pub(crate) reloads: AtomicU64,
    /// Requests being handled now (read, not yet answered).
    pub(crate) in_flight: std::sync::atomic::AtomicUsize,
}

/// What `POST /reload` did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Reloaded {
    pub reloaded: bool,
    pub generation: Option<String>,
    pub num_docs: usize,
    pub retrievers: Vec<String>,
}

impl AppState {
    /// Registers `retrievers` (by their names, each behind the shared cache).
    pub fn new(
        retrievers: Vec<Arc<dyn Retriever>>,
        labels: Option<Labels>,
        config: ServeConfig,
    ) -> Result<Self> {
        if config.max_k == 0
            || config.max_batch == 0
            || config.max_rewrites == 0
            || config.max_concurrent_retrievals == 0
            || config.max_hits == 0
            || config.max_connections == 0
        {
            return Err(Error::Config(
                "max_k, max_batch, max_rewrites, max_hits, max_connections and \
                 max_concurrent_retrievals must be at least 1"
                    .into(),
            ));
        }
        let served = Served::new(retrievers, &config, None)?;
        let retrieval_slots = Arc::new(tokio::sync::Semaphore::new(
            config.max_concurrent_retrievals,
        ));
        Ok(AppState {
            served: RwLock::new(Arc::new(served)),
            source: None,
            reload_lock: tokio::sync::Mutex::new(()),
            labels: labels.map(Arc::new),
            config,
            stats: Stats::default(),
            started: Instant::now(),
            retrieval_slots,
            draining: AtomicBool::new(false),
            cancel_all: Arc::new(AtomicBool::new(false)),
            bound: OnceLock::new(),
            reloads: AtomicU64::new(0),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Serves retrievers opened from `source`, whose generation was `generation` when they
    /// were opened (read it before opening: a replacement in between then shows as stale).
    pub fn with_source(mut self, source: Box<dyn KbSource>, generation: String) -> Self {
        self.source = Some(source);
        let served = self.served.get_mut().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = Arc::get_mut(served) {
            s.generation = Some(generation);
        }
        self
    }

    /// The generation being served now.
    pub fn served(&self) -> Arc<Served> {
        self.served
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The generation on disk now (`None` without a source).
    pub(crate) fn on_disk_generation(&self) -> Option<std::result::Result<String, String>> {
        self.source.as_ref().map(|s| s.generation())
    }

    /// Opens what the source holds now and swaps it in; requests already running finish on
    /// the old one. On error the old generation keeps being served.
    pub async fn reload(self: &Arc<Self>) -> std::result::Result<Reloaded, ApiError> {
        if self.source.is_none() {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "this server was not started from a KB folder: nothing to reload",
            ));
        }
        let _one_at_a_time = self.reload_lock.lock().await;
        let st = self.clone();
        let opened = tokio::task::spawn_blocking(move || {
            let source = st.source.as_ref().expect("checked above");
            let generation = source.generation()?;
            if st.served().generation.as_deref() == Some(generation.as_str()) {
                return Ok(None);
            }
            let retrievers = source.open()?;
            Served::new(retrievers, &st.config, Some(generation))
                .map(Some)
                .map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("reload failed, still serving the previous KB: {e}"),
            )
        })?;
        let reloaded = opened.is_some();
        if let Some(new) = opened {
            *self.served.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(new);
            self.reloads.fetch_add(1, Ordering::Relaxed);
        }
        let now = self.served();
        Ok(Reloaded {
            reloaded,
            generation: now.generation.clone(),
            num_docs: now.num_docs,
            retrievers: now.retrievers.keys().cloned().collect(),
        })
    }

    pub fn retriever_names(&self) -> Vec<String> {
        self.served().retrievers.keys().cloned().collect()
    }

    pub fn config(&self) -> &ServeConfig {
        &self.config
    }
}
