//! One HTTP exchange over the global (or a user-supplied) `fetch`, with a timeout and abort.
//!
//! The wiring (an `AbortController` per attempt, fed by the caller's signal and by our timeout)
//! lives in `js/exchange.js`: done from Rust it took a dozen wasm<->JS crossings per request, and
//! that was most of the client's per-call overhead. What the outcome means stays here: the caller
//! aborting is `APIUserAbortError`, our timeout is `APIConnectionTimeoutError`, anything else is
//! `APIConnectionError`. The body stays a JS string: result sets can be large and never need to be
//! copied into wasm memory.

use js_sys::{Array, Function, JsString, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, Headers};

use crate::error::{Error, Kind, Result};
use crate::js::get;
use crate::redact::redact_url;

#[wasm_bindgen(module = "/src/js/exchange.js")]
extern "C" {
    /// Resolves `[status, text, headers]`; rejects with `[why, cause]`.
    fn exchange(
        fetch: Option<&Function>,
        method: &str,
        url: &str,
        headers: &JsValue,
        body: Option<&JsValue>,
        timeout_ms: f64,
        signal: Option<&AbortSignal>,
    ) -> Promise;
}

/// What to send.
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    /// A `Headers` (or `undefined` for none).
    pub headers: &'a JsValue,
    pub body: Option<&'a JsValue>,
    /// 0 or infinite: no timeout.
    pub timeout_ms: f64,
    pub signal: Option<&'a AbortSignal>,
    /// A user-supplied fetch; the global one otherwise.
    pub fetch: Option<&'a Function>,
}

/// What came back.
pub struct Reply {
    pub status: u16,
    pub headers: Headers,
    pub text: JsString,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name).ok().flatten()
    }
}

pub async fn send(req: Request<'_>) -> Result<Reply> {
    let promise = exchange(
        req.fetch,
        req.method,
        req.url,
        req.headers,
        req.body,
        req.timeout_ms,
        req.signal,
    );
    match JsFuture::from(promise).await {
        Ok(reply) => {
            let reply: Array = reply.unchecked_into();
            Ok(Reply {
                status: reply.get(0).as_f64().unwrap_or(0.0) as u16,
                text: reply.get(1).unchecked_into(),
                headers: reply.get(2).unchecked_into(),
            })
        }
        Err(failure) => {
            let failure: Array = failure.unchecked_into();
            Err(match failure.get(0).as_string().as_deref() {
                Some("abort") => Error::aborted(),
                Some("timeout") => Error::new(
                    Kind::Timeout,
                    [
                        "Request timed out after ",
                        &crate::text::num(req.timeout_ms),
                        " ms (",
                        req.method,
                        " ",
                        &redact_url(req.url),
                        ").",
                    ]
                    .concat(),
                ),
                Some("nofetch") => Error::new(
                    Kind::Connection,
                    "No global fetch: pass `fetch` in the client options.",
                ),
                _ => connection(&req, failure.get(1)),
            })
        }
    }
}

fn connection(req: &Request<'_>, cause: JsValue) -> Error {
    let detail = get(&cause, "message").as_string().unwrap_or_default();
    let mut e = Error::new(
        Kind::Connection,
        [
            "Connection error (",
            req.method,
            " ",
            &redact_url(req.url),
            "): ",
            &redact_url(&detail),
        ]
        .concat(),
    );
    e.cause = Some(cause);
    e
}
