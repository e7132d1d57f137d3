//! Bounded, cancellable retrieval work: a concurrency slot held exactly as long as the blocking
//! work runs, a cancel flag the work checks between chunks of queries, and JSON answers
//! written under a byte limit.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::StatusCode;
use trawl_retrieve::{RetrievedDoc, Retriever};

use crate::error::ApiError;
use crate::state::AppState;

/// Queries retrieved between two looks at the cancel flag: enough to keep every core busy
/// inside one engine call, few enough to stop within a fraction of a second.
const CHUNK: usize = 64;

/// Why work should stop: its request went away (client disconnected, or 408), or the
/// shutdown grace is over.
#[derive(Clone)]
pub(crate) struct Cancel {
    request: Arc<AtomicBool>,
    all: Arc<AtomicBool>,
}

impl Cancel {
    pub(crate) fn is_set(&self) -> bool {
        self.request.load(Ordering::Relaxed) || self.all.load(Ordering::Relaxed)
    }
}

/// Sets the request's flag when the request's future is dropped, whatever the reason.
struct SetOnDrop(Arc<AtomicBool>);

impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

fn cancelled() -> ApiError {
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "retrieval cancelled (the request timed out or the server is shutting down)",
    )
}

/// Runs `f` on the blocking pool, at most `max_concurrent_retrievals` at a time: more would
/// only make threads fight for the same cores (each batch is already parallel inside) and hold
/// more requests' memory at once. The slot moves into the blocking task, so it is released when
/// the work ends, not when the request gives up; dropping the request sets the cancel flag `f`
/// receives.
pub(crate) async fn blocking<T: Send + 'static>(
    st: &Arc<AppState>,
    f: impl FnOnce(&Cancel) -> Result<T, ApiError> + Send + 'static,
) -> Result<T, ApiError> {
    let permit = st
        .retrieval_slots
        .clone()
        .acquire_owned()
        .await
        .map_err(|_| cancelled())?;
    let flag = Arc::new(AtomicBool::new(false));
    let _on_drop = SetOnDrop(flag.clone());
    let cancel = Cancel {
        request: flag,
        all: st.cancel_all.clone(),
    };
    tokio::task::spawn_blocking(move || {
        let _slot = permit;
        if cancel.is_set() {
            return Err(cancelled());
        }
        let out = f(&cancel);
        if cancel.is_set() {
            return Err(cancelled());
        }
        out
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("retrieval task failed: {e}"),
        )
    })?
}

/// A retriever that retrieves in chunks of [`CHUNK`] queries and stops between chunks once
/// `cancel` is set.
pub(crate) struct Cancellable<'a> {
    pub inner: &'a dyn Retriever,
    pub cancel: &'a Cancel,
}

impl Retriever for Cancellable<'_> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn retrieve_batch(
        &self,
        queries: &[&str],
        k: usize,
    ) -> trawl_retrieve::Result<Vec<Vec<RetrievedDoc>>> {
        let mut out = Vec::with_capacity(queries.len());
        for chunk in queries.chunks(CHUNK) {
            if self.cancel.is_set() {
                return Err(trawl_retrieve::Error::Engine {
                    retriever: self.name().to_string(),
                    message: "cancelled".into(),
                });
            }
            out.extend(self.inner.retrieve_batch(chunk, k)?);
        }
        Ok(out)
    }

    fn document_title(&self, ordinal: u32) -> Option<String> {
        self.inner.document_title(ordinal)
    }

    fn num_docs(&self) -> usize {
        self.inner.num_docs()
    }
}

/// A `Vec` that refuses to grow past `limit` bytes.
struct Capped {
    buf: Vec<u8>,
    limit: usize,
}

impl std::io::Write for Capped {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        if self.buf.len() + b.len() > self.limit {
            return Err(std::io::Error::other("answer over the byte limit"));
        }
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `value` as JSON, or 413 as soon as the answer passes `limit` bytes.
pub(crate) fn json_capped<T: serde::Serialize>(value: &T, limit: usize) -> Result<Bytes, ApiError> {
    let mut w = Capped {
        buf: Vec::new(),
        limit,
    };
    match serde_json::to_writer(&mut w, value) {
        Ok(()) => Ok(Bytes::from(w.buf)),
        Err(e) if e.is_io() => Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the answer is larger than the limit of {limit} bytes (--max-answer-mib): \
                 lower k, send fewer items or rewrites per request"
            ),
        )),
        Err(e) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot write the answer: {e}"),
        )),
    }
}
