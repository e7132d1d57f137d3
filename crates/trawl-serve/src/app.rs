//! The router (endpoints, body limit, timeouts, statistics) and the serving loop with graceful
//! shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;

use crate::error::ApiError;
use crate::handlers;
use crate::state::AppState;
use crate::{Error, Result};

/// The HTTP API over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let limit = state.config.max_body_bytes;
    Router::new()
        .route("/search", post(handlers::search))
        .route("/retrieve_batch", post(handlers::retrieve_batch))
        .route("/reward", post(handlers::reward))
        .route("/health", get(handlers::health))
        .route("/stats", get(handlers::stats))
        .route("/openapi.json", get(handlers::openapi))
        .fallback(handlers::not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// Times out slow requests (408) and records every answer in the statistics.
async fn track(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let endpoint =
        match req.uri().path() {
            p @ ("/search" | "/retrieve_batch" | "/reward" | "/health" | "/stats"
            | "/openapi.json") => p.to_string(),
            _ => "other".to_string(),
        };
    let timeout = st.config.request_timeout;
    let resp = match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(r) => r,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "request not completed within {:.0} s (slow upload or too large a batch)",
                timeout.as_secs_f64()
            ),
        )
        .into_response(),
    };
    let s = resp.status();
    st.stats.record(
        &endpoint,
        s.is_client_error() || s.is_server_error(),
        start.elapsed(),
    );
    resp
}

/// Serves on `listener` until `shutdown` completes; connections still open `shutdown_grace`
/// after that are dropped (a stalled client cannot hold the process).
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let grace = state.config.shutdown_grace;
    let (tx, rx) = tokio::sync::watch::channel(false);
    let app = router(state);
    let server = axum::serve(listener, app).with_graceful_shutdown({
        let mut rx = rx.clone();
        async move {
            let _ = rx.wait_for(|&stop| stop).await;
        }
    });
    tokio::spawn(async move {
        shutdown.await;
        let _ = tx.send(true);
    });
    let mut rx = rx;
    let deadline = async move {
        let _ = rx.wait_for(|&stop| stop).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        r = server => r.map_err(Error::Io),
        _ = deadline => Ok(()),
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

/// Builds a multi-threaded runtime, binds `state.config().addr`, calls `on_listening` with the
/// bound address, and serves until Ctrl-C or SIGTERM.
pub fn run(state: AppState, on_listening: impl FnOnce(SocketAddr)) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let addr = state.config.addr.clone();
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        on_listening(listener.local_addr()?);
        serve(listener, Arc::new(state), shutdown_signal()).await
    })
}
