//! The trawl HTTP service: search, batched multi-rewrite retrieval and RL rewards over any
//! [`trawl_retrieve::Retriever`], with an LRU query cache bounded in bytes, per-request budgets
//! checked before work starts, cancellation of abandoned work, a token and Host check for
//! serving beyond loopback, KB reload, JSON errors, statistics and graceful shutdown.
//!
//! Endpoints: `POST /search`, `POST /retrieve_batch`, `POST /reward`, `POST /reload`, `GET /health`,
//! `GET /stats`, `GET /openapi.json` (the shapes are described there and in [`api`]).
//!
//! ```
//! use std::sync::Arc;
//! use trawl_retrieve::{InMemoryRetriever, Labels, Retriever};
//! use trawl_serve::{AppState, ServeConfig};
//!
//! let bm25: Arc<dyn Retriever> = Arc::new(InMemoryRetriever::new("bm25", &[
//!     ("d1", "Cats", "cats purr"),
//!     ("d2", "Dogs", "dogs bark"),
//! ]));
//! let labels = Labels::parse_json(r#"{"q1": ["d2"]}"#, "inline".as_ref())?;
//! let config = ServeConfig { addr: "127.0.0.1:0".into(), ..ServeConfig::default() };
//! let state = AppState::new(vec![bm25], Some(labels), config)?;
//! assert_eq!(state.retriever_names(), ["bm25"]);
//! let _router = trawl_serve::router(Arc::new(state));
//! // trawl_serve::run(state, |addr| println!("listening on http://{addr}")) serves until Ctrl-C.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod api;
mod app;
pub mod cache;
pub mod config;
mod diversity;
pub mod error;
mod extract;
pub mod generation;
mod guard;
mod handlers;
pub mod multihop;
pub mod openapi;
pub mod state;
pub mod stats;
pub mod vector_request;
mod work;

pub use app::{check_exposure, router, run, serve, shutdown_signal};
pub use config::ServeConfig;
pub use error::{ApiError, Error, Result};
pub use state::{AppState, KbSource, Reloaded, Served};
