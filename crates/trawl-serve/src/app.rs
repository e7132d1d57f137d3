//! The router (endpoints, guards, body limit, timeouts, statistics) and the serving loop:
//! a connection cap, a header read timeout that also closes idle connections, and a shutdown
//! that stops accepting, lets in-flight requests finish within a grace period, then cancels
//! what still runs and exits.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};

use crate::config::ServeConfig;
use crate::error::ApiError;
use crate::guard::guard;
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
        .route("/multihop", post(crate::multihop::multihop))
        .route("/reload", post(handlers::reload))
        .route("/health", get(handlers::health))
        .route("/stats", get(handlers::stats))
        .route("/openapi.json", get(handlers::openapi))
        .fallback(handlers::not_found)
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

/// Times out slow requests (408; dropping the handler cancels its retrieval) and records every
/// answer in the statistics.
async fn track(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let start = Instant::now();
    let _in_flight = InFlight::enter(&st);
    let endpoint = match req.uri().path() {
        p @ ("/search" | "/retrieve_batch" | "/reward" | "/multihop" | "/reload" | "/health"
        | "/stats" | "/openapi.json") => p.to_string(),
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

/// Counts a request as in flight until dropped.
struct InFlight<'a>(&'a AppState);

impl<'a> InFlight<'a> {
    fn enter(st: &'a AppState) -> Self {
        st.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(st)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Refuses to expose the service beyond loopback without a token, unless told to.
pub fn check_exposure(local: SocketAddr, cfg: &ServeConfig) -> Result<()> {
    if !local.ip().is_loopback() && cfg.token.is_none() && !cfg.insecure_public {
        return Err(Error::Config(format!(
            "{local} is reachable from other machines: give a bearer token (--token, or the \
             TRAWL_SERVE_TOKEN environment variable), or --insecure-public to serve it open"
        )));
    }
    Ok(())
}

/// Answers a connection over the cap with 503 and closes it. What the client sends meanwhile
/// is read and dropped for a moment, so that closing does not reset the connection before
/// the client has read the answer.
async fn refuse(stream: TcpStream) {
    const BODY: &str = r#"{"error":"too many open connections: retry later","field":null}"#;
    let msg = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nconnection: close\r\nretry-after: 1\r\n\r\n{BODY}",
        BODY.len()
    );
    if stream.try_write(msg.as_bytes()).is_err() {
        return;
    }
    let Ok(std) = stream.into_std() else { return };
    let _ = std.shutdown(std::net::Shutdown::Write);
    let Ok(stream) = TcpStream::from_std(std) else {
        return;
    };
    let drain = async {
        let mut buf = [0u8; 4096];
        while stream.readable().await.is_ok() {
            match stream.try_read(&mut buf) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(_) => break,
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_millis(500), drain).await;
}

/// Serves on `listener` until `shutdown` completes. Then: no new connections; idle ones are
/// closed and requests arriving on open ones get 503; in-flight requests get
/// `shutdown_grace` to finish, after which their retrieval is cancelled (they are answered
/// 503) and the function returns once the blocking work has stopped.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let local = listener.local_addr()?;
    check_exposure(local, &state.config)?;
    let _ = state.bound.set(local);
    let cfg = state.config.clone();
    let app = router(state.clone());
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(cfg.header_timeout);
    let slots = Arc::new(tokio::sync::Semaphore::new(cfg.max_connections));
    let (close_tx, close_rx) = tokio::sync::watch::channel(false);
    let mut conns = tokio::task::JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            _ = &mut shutdown => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                // Out of file descriptors and the like: back off instead of spinning.
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tokio::spawn(refuse(stream));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let svc = TowerToHyperService::new(app.clone());
        let http = http.clone();
        let mut close = close_rx.clone();
        conns.spawn(async move {
            let _slot = slot;
            let conn = http.serve_connection(TokioIo::new(stream), svc);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                _ = close.wait_for(|&c| c) => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    drop(listener);
    state.draining.store(true, Ordering::Relaxed);
    let _ = close_tx.send(true);
    // Done when every connection has closed, or when no request is in flight any more (what
    // remains are idle or half-sent connections, which are dropped).
    let drained = tokio::time::timeout(cfg.shutdown_grace, async {
        loop {
            tokio::select! {
                next = conns.join_next() => if next.is_none() { break },
                _ = tokio::time::sleep(Duration::from_millis(20)) => {
                    if state.in_flight.load(Ordering::SeqCst) == 0 { break }
                }
            }
        }
    })
    .await;
    if drained.is_ok() {
        // Let answers already handed to hyper be written out, then drop the rest.
        let _ = tokio::time::timeout(Duration::from_millis(200), async {
            while conns.join_next().await.is_some() {}
        })
        .await;
        conns.abort_all();
    } else {
        // Grace over: stop the retrievals; their requests are answered 503 (briefly awaited).
        state.cancel_all.store(true, Ordering::Relaxed);
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while conns.join_next().await.is_some() {}
        })
        .await;
        conns.abort_all();
    }
    // Blocking work stops within one chunk of queries once cancelled; wait for its slots.
    let all = u32::try_from(cfg.max_concurrent_retrievals).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(
        Duration::from_secs(5),
        state.retrieval_slots.acquire_many(all),
    )
    .await;
    Ok(())
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

/// Reloads the KB on every SIGHUP (unix), reporting the outcome on stderr.
#[cfg(unix)]
fn reload_on_sighup(state: Arc<AppState>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        return;
    };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            match state.reload().await {
                Ok(r) => eprintln!(
                    "trawl serve: SIGHUP: {} (generation {}, {} documents)",
                    if r.reloaded { "reloaded" } else { "unchanged" },
                    r.generation.as_deref().unwrap_or("-"),
                    r.num_docs
                ),
                Err(e) => eprintln!("trawl serve: SIGHUP: {}", e.message),
            }
        }
    });
}

/// Builds a multi-threaded runtime, binds `state.config().addr`, calls `on_listening` with the
/// bound address, and serves until Ctrl-C or SIGTERM (SIGHUP reloads the KB).
pub fn run(state: AppState, on_listening: impl FnOnce(SocketAddr)) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(async move {
        let addr = state.config.addr.clone();
        // Refuse before binding when the address is literal; names are checked once bound.
        if let Ok(literal) = addr.parse::<SocketAddr>() {
            check_exposure(literal, &state.config)?;
        }
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|source| Error::Bind { addr, source })?;
        let state = Arc::new(state);
        check_exposure(listener.local_addr()?, &state.config)?;
        on_listening(listener.local_addr()?);
        #[cfg(unix)]
        reload_on_sighup(state.clone());
        serve(listener, state, shutdown_signal()).await
    });
    // Never wait on a blocking task that ignored its cancel flag.
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_public_address_needs_a_token_or_an_explicit_insecure_flag() {
        let open = ServeConfig::default();
        for lo in ["127.0.0.1:8080", "[::1]:8080"] {
            assert!(check_exposure(lo.parse().unwrap(), &open).is_ok(), "{lo}");
        }
        for public in ["0.0.0.0:8080", "192.168.1.5:8080", "[::]:8080"] {
            let e = check_exposure(public.parse().unwrap(), &open).unwrap_err();
            assert!(e.to_string().contains("--token"), "{e}");
            let with_token = ServeConfig {
                token: Some("s3cret".into()),
                ..ServeConfig::default()
            };
            assert!(check_exposure(public.parse().unwrap(), &with_token).is_ok());
            let insecure = ServeConfig {
                insecure_public: true,
                ..ServeConfig::default()
            };
            assert!(check_exposure(public.parse().unwrap(), &insecure).is_ok());
        }
    }
}
