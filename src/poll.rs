//! Waiting for an import to finish: poll on a timer until the provider says the status is final.
//!
//! Provider-neutral: it asks `stage_of` what a status means and `describe_failure` how to word a
//! failure. Every error raised after the first poll carries the last import seen, so the caller
//! always keeps the id.

use js_sys::Function;
use wasm_bindgen::JsValue;
use web_sys::AbortSignal;

use crate::client::{callback, non_negative, signal, CallOptions, Client};
use crate::error::{Error, Kind, Result};
use crate::js::{get, get_str, is_absent, is_plain_object};
use crate::status::Stage;
use crate::timer::{now_ms, sleep};

/// `{ intervalMs?, backoff?, maxIntervalMs?, timeoutMs?, signal?, onStatus?, waitForReview? }`.
pub struct WaitOptions {
    pub interval_ms: f64,
    /// Each wait is this many times the previous one (1 = fixed): long imports poll less.
    pub backoff: f64,
    pub max_interval_ms: f64,
    pub timeout_ms: f64,
    pub signal: Option<AbortSignal>,
    pub on_status: Option<Function>,
    pub wait_for_review: bool,
}

/// Default give-up time: as long as a presigned upload URL lives.
pub const DEFAULT_TIMEOUT_MS: f64 = 30.0 * 60.0 * 1000.0;

impl WaitOptions {
    pub fn from_js(opts: &JsValue, path: &str, default_interval_ms: f64) -> Result<WaitOptions> {
        if !is_absent(opts) && !is_plain_object(opts) {
            return Err(Error::invalid(path, "must be an object"));
        }
        let wait_for_review = get(opts, "waitForReview");
        if !is_absent(&wait_for_review) && wait_for_review.as_bool().is_none() {
            return Err(Error::invalid(
                crate::client::join(path, "waitForReview"),
                "must be a boolean",
            ));
        }
        let backoff = non_negative(opts, "backoff", path)?.unwrap_or(1.0);
        if !(1.0..=10.0).contains(&backoff) {
            return Err(Error::invalid(
                crate::client::join(path, "backoff"),
                "must be a factor from 1 (fixed interval) to 10",
            ));
        }
        Ok(WaitOptions {
            interval_ms: non_negative(opts, "intervalMs", path)?.unwrap_or(default_interval_ms),
            backoff,
            max_interval_ms: non_negative(opts, "maxIntervalMs", path)?.unwrap_or(60_000.0),
            timeout_ms: non_negative(opts, "timeoutMs", path)?.unwrap_or(DEFAULT_TIMEOUT_MS),
            signal: signal(opts, path)?,
            on_status: callback(opts, "onStatus", path)?,
            wait_for_review: wait_for_review.as_bool().unwrap_or(false),
        })
    }
}

/// Polls `GET path` until the import is final (or needs review, unless `wait_for_review`).
/// Not generic over a retrieve closure: one copy of this loop serves every provider.
pub async fn wait(
    client: &Client,
    path: &str,
    stage_of: fn(&str) -> Stage,
    describe_failure: fn(&JsValue) -> String,
    opts: &WaitOptions,
) -> Result<JsValue> {
    let call = CallOptions {
        signal: opts.signal.clone(),
        ..CallOptions::default()
    };
    let deadline = now_ms() + opts.timeout_ms;
    let mut last: Option<JsValue> = None;
    let mut last_status: Option<String> = None;
    let mut interval = opts.interval_ms;
    loop {
        let keep = |e: Error| match &last {
            Some(imp) => e.with_import(imp),
            None => e,
        };
        let imp = client.poll(path, &call).await.map_err(keep)?;
        let status = get_str(&imp, "status").unwrap_or_default();
        if last_status.as_deref() != Some(status.as_str()) {
            if let Some(f) = &opts.on_status {
                f.call1(&JsValue::UNDEFINED, &imp).map_err(|e| {
                    let mut err = Error::new(Kind::Validation, "onStatus threw; waiting stopped.");
                    err.cause = Some(e);
                    err.code = Some("callback_error");
                    err.with_import(&imp)
                })?;
            }
            last_status = Some(status.clone());
        }
        match stage_of(&status) {
            Stage::Succeeded => return Ok(imp),
            Stage::NeedsReview if !opts.wait_for_review => return Ok(imp),
            Stage::Failed => {
                let e = Error::new(Kind::ImportFailed, describe_failure(&imp));
                return Err(e.with_import(&imp));
            }
            _ => {}
        }
        let remaining = deadline - now_ms();
        if remaining <= 0.0 {
            let id = get_str(&imp, "id").unwrap_or_default();
            let e = Error::new(
                Kind::WaitTimeout,
                [
                    "Import ",
                    &id,
                    " was still ",
                    &status,
                    " after ",
                    &crate::text::num(opts.timeout_ms),
                    " ms; it keeps running: wait again with its id.",
                ]
                .concat(),
            );
            return Err(e.with_import(&imp));
        }
        last = Some(imp);
        sleep(interval.min(remaining), opts.signal.as_ref())
            .await
            .map_err(|e| e.with_import(last.as_ref().expect("set above")))?;
        interval = next_interval(interval, opts);
    }
}

/// The wait after one of `interval`: grown by the backoff factor, never past the cap (unless
/// the fixed interval itself is longer).
fn next_interval(interval: f64, opts: &WaitOptions) -> f64 {
    if opts.backoff <= 1.0 {
        return interval;
    }
    (interval * opts.backoff).min(opts.max_interval_ms.max(opts.interval_ms))
}
