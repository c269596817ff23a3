//! One HTTP exchange over the global (or a user-supplied) `fetch`, with a timeout and abort.
//!
//! The wiring (an `AbortController` per attempt, fed by the caller's signal and by our timeout)
//! lives in `js/net.js`: done from Rust it took a dozen wasm<->JS crossings per request, and
//! that was most of the client's per-call overhead. What the outcome means stays here: the caller
//! aborting is `APIUserAbortError`, our timeout is `APIConnectionTimeoutError`, anything else is
//! `APIConnectionError`. The body stays a JS string: result sets can be large and never need to be
//! copied into wasm memory.

use crate::prelude::*;
use js_sys::{Array, Function, JsString, Promise};
use wasm_bindgen::prelude::*;
use web_sys::{AbortSignal, Headers};

use crate::error::{safe_cause, Error, Kind, Result};
use crate::js::get;
use crate::redact::{clean, redact_url};

#[wasm_bindgen(module = "/src/js/net.js")]
extern "C" {
    /// Resolves `[status, text, headers, location, reader]`; rejects with `[why, cause]`.
    #[allow(clippy::too_many_arguments)]
    fn exchange(
        fetch: Option<&Function>,
        method: &str,
        url: &str,
        headers: &JsValue,
        body: Option<&JsValue>,
        timeout_ms: f64,
        signal: Option<&AbortSignal>,
        follow: bool,
        stream: bool,
    ) -> Promise;
}

/// What to send.
#[derive(Clone, Copy)]
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
    /// The API key, if the request carries one: scrubbed from any error text that quotes it.
    pub secret: Option<&'a str>,
    /// Let fetch follow redirects: only for requests that carry nothing secret (a presigned GET).
    /// Otherwise a 3xx comes back as a `Reply` with `redirect` set, for the caller to judge.
    pub follow: bool,
    /// Leave a 2xx body unread: `Reply::reader` then streams it (see `rows`), and `timeout_ms`
    /// covers the headers only.
    pub stream: bool,
}

/// A redirect that was not followed.
pub enum Redirect {
    /// To this absolute URL (empty when the answer named none).
    To(String),
    /// Somewhere the platform does not tell (a browser's opaque redirect).
    Hidden,
}

/// What came back.
pub struct Reply {
    pub status: u16,
    pub headers: Headers,
    pub text: JsString,
    pub redirect: Option<Redirect>,
    /// The unread body of a streamed 2xx answer (`undefined` when it has none).
    pub reader: JsValue,
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
        req.follow,
        req.stream,
    );
    match crate::task::settled(promise).await {
        Ok(reply) => {
            let reply: Array = reply.unchecked_into();
            let location = reply.get(3);
            Ok(Reply {
                status: reply.get(0).as_f64().unwrap_or(0.0) as u16,
                text: reply.get(1).unchecked_into(),
                headers: reply.get(2).unchecked_into(),
                redirect: if location.is_null() {
                    Some(Redirect::Hidden)
                } else {
                    location.as_string().map(Redirect::To)
                },
                reader: reply.get(4),
            })
        }
        Err(failure) => Err(failed(&req, failure, "Request timed out after ")),
    }
}

/// The error for an exchange (or a streamed body's read, see `rows`) that rejected with
/// `[why, cause]`; `timed_out` starts the message of our timeout.
pub fn failed(req: &Request<'_>, failure: JsValue, timed_out: &str) -> Error {
    let failure: Array = failure.unchecked_into();
    match failure.get(0).as_string().as_deref() {
        Some("abort") => Error::aborted(req.signal),
        Some("timeout") => Error::new(
            Kind::Timeout,
            [
                timed_out,
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
        _ => connection(req, failure.get(1)),
    }
}

#[inline(never)] // cold: kept out of every request's state machine
fn connection(req: &Request<'_>, cause: JsValue) -> Error {
    // undici says only "fetch failed"; what went wrong (ECONNREFUSED, ENOTFOUND, a TLS error) is
    // in its cause.
    let inner = get(&cause, "cause");
    // A `fetch` option may throw anything: a string is its own message.
    let mut detail = get(&cause, "message")
        .as_string()
        .or_else(|| cause.as_string())
        .filter(|m| !m.trim().is_empty())
        .unwrap_or_else(|| "no reason given".into());
    let code = get(&inner, "code").as_string();
    if let Some(why) = code.clone().or_else(|| get(&inner, "message").as_string()) {
        detail = [detail.as_str(), ": ", &why].concat();
    }
    let hint = match code.as_deref() {
        Some("ECONNREFUSED") => {
            " Nothing is listening there: is the server running, and is the port in baseUrl right?"
        }
        Some("ENOTFOUND" | "EAI_AGAIN") => " The host name does not resolve: check baseUrl.",
        Some(c) if crate::text::find(c, "CERT").is_some() => {
            " The TLS certificate was refused: check baseUrl's host (and https)."
        }
        _ => "",
    };
    let mut e = Error::new(
        Kind::Connection,
        [
            "Connection error (",
            req.method,
            " ",
            &redact_url(req.url),
            "): ",
            &clean(&detail, req.secret),
            hint,
        ]
        .concat(),
    );
    e.cause = Some(safe_cause(cause, req.secret));
    e
}
