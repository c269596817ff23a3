//! Timers on the global `setTimeout`, and abort listeners, both undone on drop.
//!
//! Binding the globals (not `window()`) is what lets the same wasm run in browsers, workers and
//! Node. Undoing on drop is what lets a Node script exit the moment its work is aborted: a pending
//! `setTimeout` would otherwise keep the event loop alive.

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

use crate::error::{Error, Result};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    fn clear_timeout(id: &JsValue);
}

/// setTimeout's delay is a signed 32-bit number of milliseconds; longer delays fire at once.
const MAX_DELAY_MS: f64 = 2_147_483_647.0;

/// A pending `setTimeout`, cleared when dropped.
pub struct Timeout {
    id: JsValue,
    _callback: Closure<dyn FnMut()>,
}

impl Timeout {
    pub fn new(ms: f64, callback: impl FnMut() + 'static) -> Timeout {
        let callback = Closure::<dyn FnMut()>::new(callback);
        let id = set_timeout(
            callback.as_ref().unchecked_ref(),
            ms.clamp(0.0, MAX_DELAY_MS),
        );
        Timeout {
            id,
            _callback: callback,
        }
    }
}

impl Drop for Timeout {
    fn drop(&mut self) {
        clear_timeout(&self.id);
    }
}

/// An `abort` listener on a signal, removed when dropped.
pub struct OnAbort {
    signal: AbortSignal,
    callback: Closure<dyn FnMut()>,
}

impl OnAbort {
    pub fn new(signal: &AbortSignal, callback: impl FnMut() + 'static) -> OnAbort {
        let callback = Closure::<dyn FnMut()>::new(callback);
        let _ = signal.add_event_listener_with_callback("abort", callback.as_ref().unchecked_ref());
        OnAbort {
            signal: signal.clone(),
            callback,
        }
    }
}

impl Drop for OnAbort {
    fn drop(&mut self) {
        let _ = self
            .signal
            .remove_event_listener_with_callback("abort", self.callback.as_ref().unchecked_ref());
    }
}

/// Fails with `APIUserAbortError` when the signal has already fired.
pub fn check(signal: Option<&AbortSignal>) -> Result<()> {
    match signal {
        Some(s) if s.aborted() => Err(Error::aborted()),
        _ => Ok(()),
    }
}

/// A promise with its resolve and reject functions, for wrapping callback APIs.
pub fn deferred() -> (Promise, Function, Function) {
    let mut parts = None;
    let promise = Promise::new(&mut |resolve, reject| parts = Some((resolve, reject)));
    let (resolve, reject) = parts.expect("Promise executor runs synchronously");
    (promise, resolve, reject)
}

/// Waits `ms` milliseconds, or fails as soon as `signal` aborts (clearing the timer).
pub async fn sleep(ms: f64, signal: Option<&AbortSignal>) -> Result<()> {
    check(signal)?;
    let (promise, resolve, reject) = deferred();
    let _timer = Timeout::new(ms, move || {
        let _ = resolve.call0(&JsValue::UNDEFINED);
    });
    let _abort = signal.map(|s| {
        OnAbort::new(s, move || {
            let _ = reject.call0(&JsValue::UNDEFINED);
        })
    });
    JsFuture::from(promise)
        .await
        .map(|_| ())
        .map_err(|_| Error::aborted())
}

/// Milliseconds since the epoch.
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}
