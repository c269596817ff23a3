//! Pieces every JSON API origin needs: request ids, CORS for browser suites, DRF-style error bodies.

use axum::extract::Request;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// The id put in `X-Request-Id`; handlers can read it from the request extensions.
#[derive(Clone)]
pub struct RequestId(pub String);

const EXPOSED: &str = "X-Request-Id, Retry-After, retry-after-ms";
const ALLOWED_METHODS: &str = "GET, POST, PUT, PATCH, DELETE, OPTIONS";

/// Request id on every response, and CORS so browser suites can call the API directly (the real API
/// presumably doesn't allow that, but a backend key in a browser is the test suite's choice, not ours).
/// Preflights are answered here, before authentication, because browsers never send credentials on them.
pub async fn api_envelope(mut req: Request, next: Next) -> Response {
    let id = format!("req_{}", uuid::Uuid::new_v4().simple());
    req.extensions_mut().insert(RequestId(id.clone()));
    let origin = req.headers().get(header::ORIGIN).cloned();
    let is_preflight = req.method() == Method::OPTIONS
        && origin.is_some()
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let mut resp = if is_preflight {
        preflight(req.headers())
    } else {
        next.run(req).await
    };
    let h = resp.headers_mut();
    h.insert("x-request-id", HeaderValue::from_str(&id).unwrap());
    if origin.is_some() {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static(EXPOSED),
        );
        h.append(header::VARY, HeaderValue::from_static("Origin"));
    }
    resp
}

fn preflight(headers: &HeaderMap) -> Response {
    let mut resp = StatusCode::OK.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(ALLOWED_METHODS),
    );
    let asked = headers
        .get(header::ACCESS_CONTROL_REQUEST_HEADERS)
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_static("content-type, x-dromo-license-key, x-api-key")
        });
    h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked);
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(86400));
    resp
}

/// DRF's `{"detail": "..."}` error body.
pub fn detail(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "detail": message.into() }))).into_response()
}

pub fn json(status: StatusCode, body: Value) -> Response {
    (status, Json(body)).into_response()
}

/// `scheme://host[:port]` as the client addressed us, like Django's `build_absolute_uri`; falls back to
/// the bound origin when there is no usable Host header.
pub fn request_origin(headers: &HeaderMap, fallback: &str) -> String {
    headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
        .map(|h| format!("http://{h}"))
        .unwrap_or_else(|| fallback.to_string())
}
