//! `JsonBody<T>`: a JSON request body whose every rejection is a JSON error naming the field.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Parses the body as JSON into `T` (any content type). Errors: 413 for a body over the limit,
/// 400 with the JSON path of the offending field for malformed JSON or wrong types.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            let status = rejection.status();
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    status,
                    "request body too large: split the batch into smaller requests".to_string(),
                )
            } else {
                ApiError::new(status, format!("cannot read the request body: {rejection}"))
            }
        })?;
        parse(&bytes).map(JsonBody)
    }
}

/// Parses JSON bytes into `T`, naming the offending field on error.
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "body",
            "empty request body: send a JSON object",
        ));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let what = if inner.is_syntax() || inner.is_eof() {
            "malformed JSON"
        } else {
            "invalid request"
        };
        let field = if path == "." {
            "body".to_string()
        } else {
            path
        };
        ApiError::bad_request(field, format!("{what}: {inner}"))
    })
}
