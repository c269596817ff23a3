//! One HTTP exchange over the global (or a user-supplied) `fetch`, with a timeout and abort.
//!
//! Each attempt gets its own `AbortController`, fed by the caller's signal and by our timeout, so
//! the two can be told apart afterwards: the caller aborting is `APIUserAbortError`, our timeout is
//! `APIConnectionTimeoutError`. The body stays a JS string: result sets can be large and never need
//! to be copied into wasm memory.

use std::cell::Cell;
use std::rc::Rc;

use js_sys::{Function, JsString, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortController, AbortSignal, Headers, RequestInit, Response};

use crate::error::{Error, Kind, Result};
use crate::js::get;
use crate::redact::redact_url;
use crate::timer::{check, OnAbort, Timeout};

/// What to send.
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: Headers,
    pub body: Option<JsValue>,
    pub timeout_ms: f64,
    pub signal: Option<&'a AbortSignal>,
    /// A user-supplied fetch; the global one otherwise (looked up per call so polyfills apply).
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
    check(req.signal)?;
    let controller = AbortController::new().map_err(|e| connection(&req, e))?;
    let timed_out = Rc::new(Cell::new(false));
    let _timer = (req.timeout_ms.is_finite() && req.timeout_ms > 0.0).then(|| {
        let (controller, timed_out) = (controller.clone(), timed_out.clone());
        Timeout::new(req.timeout_ms, move || {
            timed_out.set(true);
            controller.abort();
        })
    });
    let _abort = req.signal.map(|s| {
        let controller = controller.clone();
        OnAbort::new(s, move || controller.abort())
    });

    let init = RequestInit::new();
    init.set_method(req.method);
    init.set_headers(&req.headers);
    if let Some(body) = &req.body {
        init.set_body(body);
    }
    init.set_signal(Some(&controller.signal()));

    let fail = |e: JsValue| {
        if req.signal.is_some_and(|s| s.aborted()) {
            Error::aborted()
        } else if timed_out.get() {
            Error::new(
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
            )
        } else {
            connection(&req, e)
        }
    };

    let fetch = match req.fetch {
        Some(f) => f.clone(),
        None => get(&js_sys::global(), "fetch")
            .dyn_into::<Function>()
            .map_err(|_| {
                Error::new(
                    Kind::Connection,
                    "No global fetch: pass `fetch` in the client options.",
                )
            })?,
    };
    let promise = fetch
        .call2(&JsValue::UNDEFINED, &JsValue::from_str(req.url), &init)
        .map_err(fail)?;
    let response: Response = JsFuture::from(Promise::resolve(&promise))
        .await
        .map_err(fail)?
        .unchecked_into();
    let text = response.text().map_err(fail)?;
    let text = JsFuture::from(text).await.map_err(fail)?;
    Ok(Reply {
        status: response.status(),
        headers: response.headers(),
        text: text.unchecked_into(),
    })
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
