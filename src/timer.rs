//! Waiting: timers and abort signals, wired in `js/net.js` (the global `setTimeout`, not
//! `window()`, so the same wasm runs in browsers, workers and Node) and awaited here. Every timer
//! is cleared the moment its signal aborts, so a Node script exits as soon as its work is aborted.

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

use crate::error::{Error, Result};

#[wasm_bindgen(module = "/src/js/net.js")]
extern "C" {
    #[wasm_bindgen(js_name = sleep)]
    fn sleep_js(ms: f64, signal: Option<&AbortSignal>) -> Promise;
    #[wasm_bindgen(js_name = unlessAborted)]
    fn unless_aborted_js(promise: &Promise, signal: Option<&AbortSignal>) -> Promise;
    #[wasm_bindgen(js_name = deferred)]
    fn deferred_js() -> js_sys::Array;
}

/// Fails with `APIUserAbortError` when the signal has already fired.
pub fn check(signal: Option<&AbortSignal>) -> Result<()> {
    match signal {
        Some(s) if s.aborted() => Err(Error::aborted()),
        _ => Ok(()),
    }
}

/// A promise and the function that resolves it.
pub fn deferred() -> (Promise, Function) {
    let pair = deferred_js();
    (pair.get(0).unchecked_into(), pair.get(1).unchecked_into())
}

/// `promise`'s value, or `APIUserAbortError` as soon as `signal` aborts.
pub async fn unless_aborted(promise: &Promise, signal: Option<&AbortSignal>) -> Result<JsValue> {
    check(signal)?;
    JsFuture::from(unless_aborted_js(promise, signal))
        .await
        .map_err(|_| Error::aborted())
}

/// Waits `ms` milliseconds, or fails as soon as `signal` aborts (clearing the timer).
pub async fn sleep(ms: f64, signal: Option<&AbortSignal>) -> Result<()> {
    check(signal)?;
    JsFuture::from(sleep_js(ms, signal))
        .await
        .map(|_| ())
        .map_err(|_| Error::aborted())
}

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}
