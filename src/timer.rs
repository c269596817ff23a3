//! Waiting: timers and abort signals, wired in `js/net.js` (the global `setTimeout`, not
//! `window()`, so the same wasm runs in browsers, workers and Node) and awaited here. Every timer
//! is cleared the moment its signal aborts, so a Node script exits as soon as its work is aborted.

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use web_sys::AbortSignal;

use crate::error::{Error, Result};
use crate::task::settled;

#[wasm_bindgen(module = "/src/js/net.js")]
extern "C" {
    #[wasm_bindgen(js_name = sleep)]
    fn sleep_js(ms: f64, signal: Option<&AbortSignal>, wake: Option<&Promise>) -> Promise;
    #[wasm_bindgen(js_name = unlessAborted)]
    fn unless_aborted_js(promise: &Promise, signal: Option<&AbortSignal>) -> Promise;
    #[wasm_bindgen(js_name = deferred)]
    fn deferred_js() -> js_sys::Array;
}

/// The longest delay `setTimeout` takes, in ms (a signed 32-bit number; a longer one fires at
/// once): about 24.8 days.
pub const MAX_DELAY_MS: f64 = 2_147_483_647.0;

/// Fails with `APIUserAbortError` when the signal has already fired.
pub fn check(signal: Option<&AbortSignal>) -> Result<()> {
    match signal {
        Some(s) if s.aborted() => Err(Error::aborted(Some(s))),
        _ => Ok(()),
    }
}

/// A promise and the functions that resolve and reject it.
pub fn deferred() -> (Promise, Function, Function) {
    let parts = deferred_js();
    (
        parts.get(0).unchecked_into(),
        parts.get(1).unchecked_into(),
        parts.get(2).unchecked_into(),
    )
}

/// `promise`'s value, or `APIUserAbortError` as soon as `signal` aborts.
pub async fn unless_aborted(promise: &Promise, signal: Option<&AbortSignal>) -> Result<JsValue> {
    check(signal)?;
    settled(unless_aborted_js(promise, signal))
        .await
        .map_err(|_| Error::aborted(signal))
}

/// Waits `ms` milliseconds, or fails as soon as `signal` aborts (clearing the timer).
pub async fn sleep(ms: f64, signal: Option<&AbortSignal>) -> Result<()> {
    sleep_or_wake(ms, signal, None).await.map(|_| ())
}

/// `sleep`, ended early when `wake` resolves; whether it was.
pub async fn sleep_or_wake(
    ms: f64,
    signal: Option<&AbortSignal>,
    wake: Option<&Promise>,
) -> Result<bool> {
    check(signal)?;
    settled(sleep_js(ms, signal, wake))
        .await
        .map(|v| v.is_string())
        .map_err(|_| Error::aborted(signal))
}

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}
