//! The error type of this crate, and the JSON error answers of the HTTP API.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;

/// Errors from configuring or running the service.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The listening address could not be bound.
    #[error("cannot listen on {addr}: {source} (is another server using this port? try --addr 127.0.0.1:0)")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    /// A configuration value that cannot work.
    #[error("invalid service configuration: {0}")]
    Config(String),
    /// An I/O error while serving.
    #[error("server I/O error: {0}")]
    Io(#[from] std::io::Error),
}

/// `Result` with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// A 4xx/5xx answer with a JSON body `{"error": "...", "field": "..."}`.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub field: Option<String>,
}

impl ApiError {
    pub fn bad_request(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    /// 413: the request asks for more work or a larger answer than the service allows.
    pub fn too_large(field: impl Into<String>, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: message.into(),
            field: Some(field.into()),
        }
    }

    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            field: None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message, "field": self.field });
        (self.status, Json(body)).into_response()
    }
}

impl From<trawl_retrieve::Error> for ApiError {
    fn from(e: trawl_retrieve::Error) -> Self {
        use trawl_retrieve::Error as E;
        match &e {
            E::InvalidArgument { field, .. } => ApiError::bad_request(*field, e.to_string()),
            E::UnknownMetric { .. } => ApiError::bad_request("metric", e.to_string()),
            E::DenseNotBuilt | E::MissingIndex { .. } => {
                ApiError::bad_request("retriever", e.to_string())
            }
            _ => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
        }
    }
}
