//! Reading the options callers pass: per-call options, and the typed readers (a signal, a
//! non-negative number, a callback, headers) every module uses, each naming the offending path.

use crate::prelude::*;
use js_sys::Function;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::AbortSignal;

use crate::error::{Error, Result};
use crate::js::{get, is_absent, is_plain_object, keys};

/// Options shared by every call: `{ signal?, timeoutMs?, maxRetries?, headers?, onQueued? }`.
#[derive(Default)]
pub struct CallOptions {
    pub signal: Option<AbortSignal>,
    pub timeout_ms: Option<f64>,
    pub max_retries: Option<u32>,
    pub headers: Vec<(String, String)>,
    /// Told `{ kind, waitMs }` when a send waits for a rate-limit slot.
    pub on_queued: Option<Function>,
    /// A flow's `onCreating({ attempt })`: awaited right before each create request is sent, once
    /// its rate-limit slot is granted (a journal records the intent there, so that a create it
    /// never sent leaves nothing to look for). Never read from per-call options. Node's build
    /// only: `importFiles` is its user, and the browser builds may not grow.
    #[cfg(feature = "server")]
    pub on_creating: Option<Function>,
}

/// The keys of [`CallOptions`].
pub const CALL_KEYS: [&str; 5] = ["signal", "timeoutMs", "maxRetries", "headers", "onQueued"];

impl CallOptions {
    /// Reads `opts`, refusing any key that is neither a call option nor one of `more` (a list's
    /// `offset`, say): a misspelt `singal` would otherwise be ignored, and nothing aborted.
    pub fn from_js(opts: &JsValue, path: &str, more: &[&str]) -> Result<CallOptions> {
        if is_absent(opts) {
            return Ok(CallOptions::default());
        }
        if !is_plain_object(opts) {
            return Err(Error::invalid(path, "must be an object"));
        }
        crate::validate::only_keys(opts, path, &[&CALL_KEYS, more])?;
        Ok(CallOptions {
            signal: signal(opts, path)?,
            timeout_ms: non_negative(opts, "timeoutMs", path)?,
            max_retries: non_negative(opts, "maxRetries", path)?.map(|n| n as u32),
            headers: headers(opts, path)?,
            on_queued: callback(opts, "onQueued", path)?,
            #[cfg(feature = "server")]
            on_creating: None,
        })
    }

    /// What a flow's options say about each of its requests: the signal, `onQueued` and
    /// `onCreating` (its `timeoutMs` is the wait's, not a request's).
    pub fn of_flow(opts: &JsValue, path: &str) -> Result<CallOptions> {
        Ok(CallOptions {
            signal: signal(opts, path)?,
            on_queued: callback(opts, "onQueued", path)?,
            #[cfg(feature = "server")]
            on_creating: callback(opts, "onCreating", path)?,
            ..CallOptions::default()
        })
    }

    /// A cleanup's requests (deleting an import a failed or aborted call made, or finding it
    /// first): deaf to the caller's signal, since a cleanup must not stop halfway because the
    /// caller gave up, but bounded, since the caller waits for it: at most `CLEANUP_TIMEOUT_MS`
    /// each (less if the client's own timeout is shorter) and no retry, whose wait a 429's
    /// Retry-After could stretch to a minute. An abort then ends its call within seconds even
    /// when the API, or a `fetch` option that ignores its signal, never answers; what could not
    /// be deleted stays named on the error.
    pub fn cleanup(client_timeout_ms: f64) -> CallOptions {
        let bounded = client_timeout_ms > 0.0 && client_timeout_ms < CLEANUP_TIMEOUT_MS;
        CallOptions {
            timeout_ms: Some(if bounded {
                client_timeout_ms
            } else {
                CLEANUP_TIMEOUT_MS
            }),
            max_retries: Some(0),
            ..CallOptions::default()
        }
    }
}

/// The longest a cleanup request may take (see [`CallOptions::cleanup`]).
pub const CLEANUP_TIMEOUT_MS: f64 = 5_000.0;

/// Per-call options of an operation, read from a plain copy of the caller's value.
pub fn call_options(opts: &JsValue) -> Result<CallOptions> {
    // Most calls pass none: no copy to make.
    if opts.is_undefined() {
        return Ok(CallOptions::default());
    }
    CallOptions::from_js(&crate::js::plain(opts, "opts")?, "opts", &[])
}

/// Reads `opts.signal`, which must be an AbortSignal when given. `opts` is a `js::plain` copy,
/// where a signal from another realm (or one that could misbehave) is already one of ours.
pub fn signal(opts: &JsValue, path: &str) -> Result<Option<AbortSignal>> {
    let v = get(opts, "signal");
    if is_absent(&v) {
        return Ok(None);
    }
    v.dyn_into::<AbortSignal>()
        .map(Some)
        .map_err(|_| Error::invalid(join(path, "signal"), "must be an AbortSignal"))
}

/// Reads a non-negative number option (Infinity allowed: "no limit").
pub fn non_negative(opts: &JsValue, key: &str, path: &str) -> Result<Option<f64>> {
    let v = get(opts, key);
    if is_absent(&v) {
        return Ok(None);
    }
    match v.as_f64() {
        Some(n) if n >= 0.0 => Ok(Some(n)),
        _ => Err(Error::invalid(
            join(path, key),
            "must be a non-negative number",
        )),
    }
}

/// Reads an optional boolean option.
pub fn boolean(opts: &JsValue, key: &str, path: &str) -> Result<Option<bool>> {
    let v = get(opts, key);
    if is_absent(&v) {
        return Ok(None);
    }
    v.as_bool()
        .map(Some)
        .ok_or_else(|| Error::invalid(join(path, key), "must be a boolean"))
}

/// Calls the caller's callback `name` with `arg`. One that throws stops the call with a
/// `callback_error`; one that returns a promise (an `async` callback) is awaited, and its
/// rejection stops the call the same way, instead of surfacing as an unhandled rejection.
pub async fn call_back(f: &Function, name: &str, arg: &JsValue) -> Result<()> {
    let out = f
        .call1(&JsValue::UNDEFINED, arg)
        .map_err(|e| Error::callback(name, e))?;
    if get(&out, "then").is_function() {
        crate::task::settled(js_sys::Promise::resolve(&out))
            .await
            .map_err(|e| Error::callback(name, e))?;
    }
    Ok(())
}

/// Reads an optional callback option.
pub fn callback(opts: &JsValue, key: &str, path: &str) -> Result<Option<Function>> {
    let v = get(opts, key);
    if is_absent(&v) {
        return Ok(None);
    }
    v.dyn_into::<Function>()
        .map(Some)
        .map_err(|_| Error::invalid(join(path, key), "must be a function"))
}

pub fn headers(opts: &JsValue, path: &str) -> Result<Vec<(String, String)>> {
    let h = get(opts, "headers");
    if is_absent(&h) {
        return Ok(Vec::new());
    }
    let at = join(path, "headers");
    if !is_plain_object(&h) {
        return Err(Error::invalid(
            at,
            "must be an object of header names to strings",
        ));
    }
    let mut out = Vec::new();
    for k in keys(&h) {
        match get(&h, &k).as_string() {
            Some(v) => out.push((k, v)),
            None => return Err(Error::invalid(join(&at, &k), "must be a string")),
        }
    }
    Ok(out)
}

/// `path.key`, or `key` at the top level.
pub fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        [path, ".", key].concat()
    }
}
