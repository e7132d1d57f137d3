//! Checks made before any handler runs: shutdown (503), the Host header (against DNS
//! rebinding: a web page whose name resolves to this machine), the bearer token, and a JSON
//! content type on bodies (a page in the user's browser can post `text/plain` cross-origin
//! without asking; `application/json` needs a CORS preflight this server never grants).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

pub(crate) async fn guard(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    if st.draining.load(Ordering::Relaxed) {
        let mut r = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the server is shutting down",
        )
        .into_response();
        r.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        return r;
    }
    let cfg = &st.config;
    if let Some(host) = req.headers().get(header::HOST) {
        let host = host.to_str().unwrap_or("");
        if !host_allowed(host, st.bound.get().copied(), &cfg.allowed_hosts) {
            return ApiError::bad_request(
                "Host",
                format!(
                    "Host `{host}` is not this server's address: use localhost or the bound IP, \
                     or start the server with --allow-host NAME"
                ),
            )
            .with_status(StatusCode::MISDIRECTED_REQUEST)
            .into_response();
        }
    }
    if let Some(token) = &cfg.token {
        if req.uri().path() != "/health" && !bearer_matches(req.headers(), token) {
            let mut r = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing or wrong token: send `Authorization: Bearer TOKEN`",
            )
            .into_response();
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            return r;
        }
    }
    if req.method() == Method::POST && has_body(req.headers()) && !is_json(req.headers()) {
        return ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send request bodies with `Content-Type: application/json`",
        )
        .into_response();
    }
    next.run(req).await
}

fn has_body(h: &HeaderMap) -> bool {
    h.contains_key(header::TRANSFER_ENCODING)
        || h.get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v.trim() != "0")
}

fn is_json(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
}

/// Compares in time independent of where the first difference is.
fn bearer_matches(h: &HeaderMap, token: &str) -> bool {
    let Some(given) = h
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `localhost`, names given with `--allow-host` (`*`: any), the bound IP, any loopback IP,
/// and any IP literal when bound to all interfaces (0.0.0.0 / ::). A DNS name the server was
/// not told about is what a rebinding attack sends, so it is refused.
pub(crate) fn host_allowed(host: &str, bound: Option<SocketAddr>, allowed: &[String]) -> bool {
    let name = strip_port(host.trim());
    if name.eq_ignore_ascii_case("localhost")
        || allowed
            .iter()
            .any(|a| a == "*" || a.eq_ignore_ascii_case(name))
    {
        return true;
    }
    let Ok(ip) = name.parse::<IpAddr>() else {
        return false;
    };
    ip.is_loopback() || bound.is_some_and(|b| b.ip().is_unspecified() || b.ip() == ip)
}

fn strip_port(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_of_this_server_pass_and_rebinding_names_do_not() {
        let lo: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let lan: SocketAddr = "192.168.1.5:8080".parse().unwrap();
        let any: SocketAddr = "0.0.0.0:8080".parse().unwrap();
        for h in [
            "localhost:8080",
            "LOCALHOST",
            "127.0.0.1:8080",
            "[::1]:8080",
        ] {
            assert!(host_allowed(h, Some(lo), &[]), "{h}");
        }
        assert!(host_allowed("192.168.1.5:8080", Some(lan), &[]));
        assert!(!host_allowed("192.168.1.6:8080", Some(lan), &[]));
        assert!(host_allowed("10.0.0.7", Some(any), &[]));
        for h in ["evil.example:8080", "evil.example", "127.0.0.1.nip.io"] {
            assert!(!host_allowed(h, Some(lo), &[]), "{h}");
            assert!(!host_allowed(h, Some(any), &[]), "{h}");
        }
        let names = vec!["search.internal".to_string()];
        assert!(host_allowed("Search.Internal:80", Some(lan), &names));
        assert!(host_allowed("anything", Some(lan), &["*".to_string()]));
    }
}
