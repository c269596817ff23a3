//! Waiting for an import to finish: poll on a timer until the provider says the status is final.
//!
//! Provider-neutral: it asks `stage_of` what a status means and `describe_failure` how to word a
//! failure. Every error raised after the first poll carries the last import seen, so the caller
//! always keeps the id.

use crate::prelude::*;
use js_sys::Function;
use wasm_bindgen::JsValue;

use crate::client::Client;
use crate::error::{Error, Kind, Result};
use crate::js::{get, get_str, is_absent, is_plain_object};
use crate::opts::{boolean, call_back, callback, join, non_negative, CallOptions};
use crate::status::Stage;
use crate::timer::{now_ms, sleep_or_wake};

/// How often to poll: a quick start, then every `interval_ms`, growing by `backoff` up to
/// `max_interval_ms`.
#[derive(Clone, Copy, Debug)]
pub struct Pace {
    pub interval_ms: f64,
    /// Each wait past the interval is this many times the previous one (1 = fixed): long imports
    /// poll less.
    pub backoff: f64,
    pub max_interval_ms: f64,
    /// Poll soon after the first poll, then less often (0.25, 0.5, 1 s... up to the interval).
    /// Off when webhooks wake the wait: polling is then only the fallback for a lost delivery.
    pub quick_start: bool,
}

/// The shortest `intervalMs`: polling faster only spends the API's patience (Exa has no limit to
/// stop it; Dromo allows 12 polls a minute).
pub const MIN_INTERVAL_MS: f64 = 1000.0;
/// The first wait after a poll that found the import still going. Small imports finish in about
/// a second, so the first few polls come sooner than `intervalMs` and the waits double up to it.
pub const FIRST_WAIT_MS: f64 = 250.0;

/// What the wait loop does after a poll.
#[derive(Debug, PartialEq)]
pub enum Step {
    /// The import is where the caller wanted it: resolve.
    Done,
    /// It failed: reject with `ImportFailedError`.
    Failed,
    /// Poll again after this many milliseconds.
    Wait(f64),
    /// The deadline passed: reject with `WaitTimeoutError`.
    GiveUp,
}

/// The wait loop's decision after a poll that found the import at `stage`, the previous wait
/// having been `last_wait` (None after the first poll), with `remaining_ms` left before the deadline.
pub fn step(
    stage: Stage,
    wait_for_review: bool,
    last_wait: Option<f64>,
    remaining_ms: f64,
    pace: Pace,
) -> Step {
    match stage {
        Stage::Succeeded => return Step::Done,
        Stage::NeedsReview if !wait_for_review => return Step::Done,
        Stage::Failed => return Step::Failed,
        _ => {}
    }
    if remaining_ms <= 0.0 {
        return Step::GiveUp;
    }
    let next = match last_wait {
        None if !pace.quick_start => pace.interval_ms,
        None => FIRST_WAIT_MS.min(pace.interval_ms),
        Some(w) if w < pace.interval_ms => (w * 2.0).min(pace.interval_ms),
        Some(w) if pace.backoff > 1.0 => {
            (w * pace.backoff).min(pace.max_interval_ms.max(pace.interval_ms))
        }
        Some(w) => w,
    };
    Step::Wait(next.min(remaining_ms))
}

/// `{ intervalMs?, backoff?, maxIntervalMs?, timeoutMs?, signal?, onStatus?, waitForReview?,
/// onQueued? }`.
pub struct WaitOptions {
    pub pace: Pace,
    pub timeout_ms: f64,
    /// Each poll's: the signal, and `onQueued` for a poll that waits for its rate-limit slot.
    pub call: CallOptions,
    pub on_status: Option<Function>,
    pub wait_for_review: bool,
    /// Sleep until a webhook for the import arrives (or the fallback interval passes); unset,
    /// the client's `webhooks` option decides. (Browser builds refuse `true` when reading it.)
    #[cfg_attr(not(feature = "server"), allow(dead_code))]
    pub webhooks: Option<bool>,
    /// Whether `intervalMs` was given: otherwise a wait on webhooks polls every
    /// `WEBHOOK_FALLBACK_MS` instead of the provider's interval.
    interval_given: bool,
}

impl WaitOptions {
    /// How to poll, once it is known whether webhooks wake the wait.
    pub fn pace(&self, webhooks: bool) -> Pace {
        let mut pace = self.pace;
        if webhooks {
            pace.quick_start = false;
            if !self.interval_given {
                pace.interval_ms = WEBHOOK_FALLBACK_MS;
            }
        }
        pace
    }
}

/// The keys of `waitForCompletion`'s options.
const WAIT_KEYS: [&str; 9] = [
    "webhooks",
    "intervalMs",
    "backoff",
    "maxIntervalMs",
    "timeoutMs",
    "signal",
    "onStatus",
    "waitForReview",
    "onQueued",
];

/// The fallback poll of a wait that webhooks wake: a lost delivery still finishes it, a minute
/// late at most.
pub const WEBHOOK_FALLBACK_MS: f64 = 60_000.0;

/// Default give-up time: as long as a presigned upload URL lives.
pub const DEFAULT_TIMEOUT_MS: f64 = 30.0 * 60.0 * 1000.0;

impl WaitOptions {
    /// `waitForCompletion`'s options, every key checked (a flow checks its own keys first, then
    /// reads these through [`Flow::from_js`]).
    pub fn of_call(opts: &JsValue, default_interval_ms: f64) -> Result<WaitOptions> {
        if is_plain_object(opts) {
            crate::validate::only_keys(opts, "opts", &[&WAIT_KEYS])?;
        }
        WaitOptions::from_js(opts, "opts", default_interval_ms)
    }

    fn from_js(opts: &JsValue, path: &str, default_interval_ms: f64) -> Result<WaitOptions> {
        if !is_absent(opts) && !is_plain_object(opts) {
            return Err(Error::invalid(path, "must be an object"));
        }
        let webhooks = boolean(opts, "webhooks", path)?;
        if webhooks == Some(true) && !cfg!(feature = "server") {
            return Err(Error::invalid(
                join(path, "webhooks"),
                "is for Node, where webhooks.handler receives the events: a browser gets none",
            ));
        }
        let interval_given = !is_absent(&get(opts, "intervalMs"));
        let wait_for_review = boolean(opts, "waitForReview", path)?.unwrap_or(false);
        let backoff = non_negative(opts, "backoff", path)?.unwrap_or(1.0);
        if !(1.0..=10.0).contains(&backoff) {
            return Err(Error::invalid(
                join(path, "backoff"),
                "must be a factor from 1 (fixed interval) to 10",
            ));
        }
        let interval_ms = non_negative(opts, "intervalMs", path)?.unwrap_or(default_interval_ms);
        if interval_ms < MIN_INTERVAL_MS {
            return Err(Error::invalid(
                join(path, "intervalMs"),
                "must be at least 1000 ms: the first polls already come sooner by themselves",
            ));
        }
        Ok(WaitOptions {
            pace: Pace {
                interval_ms,
                backoff,
                max_interval_ms: non_negative(opts, "maxIntervalMs", path)?.unwrap_or(60_000.0),
                quick_start: true,
            },
            timeout_ms: non_negative(opts, "timeoutMs", path)?.unwrap_or(DEFAULT_TIMEOUT_MS),
            call: CallOptions::of_flow(opts, path)?,
            on_status: callback(opts, "onStatus", path)?,
            wait_for_review,
            webhooks,
            interval_given,
        })
    }
}

/// The options of `importFile`/`importRows` that are not create params, read once (their keys
/// already checked by the provider, which knows its create params).
pub struct Flow {
    /// The wait's options; their `call` (signal, `onQueued`) serves every request of the flow.
    pub wait: WaitOptions,
    /// False with `wait: false`: the flow ends after the upload.
    pub waits: bool,
    /// False with `rows: false` (Dromo): the flow ends at SUCCESSFUL without downloading them.
    pub rows: bool,
    pub on_progress: Option<Function>,
    /// Told the import as soon as it exists, and once its file is up: a caller can record the id
    /// or report the step (the CLI's `created` and `uploaded` events).
    pub on_created: Option<Function>,
    pub on_uploaded: Option<Function>,
}

impl Flow {
    pub fn from_js(options: &JsValue, default_interval_ms: f64) -> Result<Flow> {
        Ok(Flow {
            wait: WaitOptions::from_js(options, "options", default_interval_ms)?,
            waits: get(options, "wait").as_bool() != Some(false),
            rows: get(options, "rows").as_bool() != Some(false),
            on_progress: callback(options, "onProgress", "options")?,
            on_created: callback(options, "onCreated", "options")?,
            on_uploaded: callback(options, "onUploaded", "options")?,
        })
    }

    /// Calls `onCreated(imp)`; one that throws stops the flow (the error carries the import).
    pub async fn created(&self, imp: &JsValue) -> Result<()> {
        tell(self.on_created.as_ref(), "onCreated", imp).await
    }

    /// Calls `onUploaded(imp)`, likewise.
    pub async fn uploaded(&self, imp: &JsValue) -> Result<()> {
        tell(self.on_uploaded.as_ref(), "onUploaded", imp).await
    }

    /// The options of each request the flow sends.
    pub fn call(&self) -> &CallOptions {
        &self.wait.call
    }

    /// How the flow's upload is sent by `client`.
    pub fn sending<'a>(&'a self, client: &'a Client) -> crate::upload::Sending<'a> {
        crate::upload::Sending::new(
            client,
            self.on_progress.as_ref(),
            self.call().signal.as_ref(),
        )
    }
}

/// Tells `f` (if given) about `imp`; an error carries the import.
async fn tell(f: Option<&Function>, name: &str, imp: &JsValue) -> Result<()> {
    match f {
        Some(f) => call_back(f, name, imp)
            .await
            .map_err(|e| e.with_import(imp)),
        None => Ok(()),
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
    let call = &opts.call;
    let deadline = now_ms() + opts.timeout_ms;
    let mut last: Option<JsValue> = None;
    let mut last_status: Option<String> = None;
    let mut last_wait = None;
    // The import's id, as the path names it (`.../imports/{id}/`): what a webhook names.
    #[cfg(feature = "server")]
    let import_id = path
        .trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or_default();
    #[cfg(feature = "server")]
    let webhooks = opts.webhooks.unwrap_or(client.webhooks);
    #[cfg(not(feature = "server"))]
    let webhooks = false;
    let pace = opts.pace(webhooks);
    // Wakes whose confirming poll found the import still going: an unsigned (Dromo) event can
    // come from anyone, so each such false alarm doubles how long the next wake must wait
    // (1 s, 2 s, 4 s... up to the interval), and no sender can spend the import's poll budget.
    #[cfg(feature = "server")]
    let mut false_alarms = 0;
    loop {
        // Every error after the first answer carries the import as last seen: its id is never lost.
        let keep = |e: Error| match &last {
            Some(imp) => e.with_import(imp),
            None => e,
        };
        // Registered before the poll, so that an event arriving while it is out ends the sleep
        // after it at once.
        #[cfg(feature = "server")]
        let ticket = webhooks.then(|| client.wakes.register(import_id));
        #[cfg(feature = "server")]
        let wake = ticket.as_ref().map(|t| &t.promise);
        let imp = client.poll(path, call).await.map_err(keep)?;
        let status = get_str(&imp, "status").unwrap_or_default();
        if last_status.as_deref() != Some(status.as_str()) {
            tell(opts.on_status.as_ref(), "onStatus", &imp).await?;
            last_status = Some(status.clone());
        }
        let remaining = deadline - now_ms();
        match step(
            stage_of(&status),
            opts.wait_for_review,
            last_wait,
            remaining,
            pace,
        ) {
            Step::Done => return Ok(imp),
            Step::Failed => {
                let e = Error::new(Kind::ImportFailed, describe_failure(&imp));
                return Err(e.with_import(&imp));
            }
            Step::GiveUp => {
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
            Step::Wait(ms) => {
                let keep = |e: Error| e.with_import(&imp);
                #[cfg(feature = "server")]
                {
                    let hold = if false_alarms == 0 {
                        0.0
                    } else {
                        (MIN_INTERVAL_MS * f64::from(1u32 << (false_alarms - 1).min(16))).min(ms)
                    };
                    if hold > 0.0 {
                        // An event meanwhile is kept by the ticket and ends the sleep below at once.
                        sleep_or_wake(hold, call.signal.as_ref(), None)
                            .await
                            .map_err(keep)?;
                    }
                    let woken = sleep_or_wake(ms - hold, call.signal.as_ref(), wake)
                        .await
                        .map_err(keep)?;
                    if woken {
                        false_alarms += 1;
                    }
                }
                // Browsers receive no webhooks: a plain sleep.
                #[cfg(not(feature = "server"))]
                sleep_or_wake(ms, call.signal.as_ref(), None)
                    .await
                    .map_err(keep)?;
                last_wait = Some(ms);
                last = Some(imp);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DROMO: Pace = Pace {
        interval_ms: 5000.0,
        backoff: 1.0,
        max_interval_ms: 60_000.0,
        quick_start: true,
    };

    /// The waits the loop takes while the import stays in progress, until `total` ms have passed.
    fn waits(pace: Pace, total: f64) -> Vec<f64> {
        let (mut out, mut last, mut t) = (Vec::new(), None, 0.0);
        while let Step::Wait(ms) = step(Stage::InProgress, false, last, total - t, pace) {
            out.push(ms);
            t += ms;
            last = Some(ms);
        }
        out
    }

    #[test]
    fn final_stages_end_the_wait() {
        assert_eq!(step(Stage::Succeeded, false, None, 1e9, DROMO), Step::Done);
        assert_eq!(
            step(Stage::NeedsReview, false, None, 1e9, DROMO),
            Step::Done
        );
        assert_eq!(step(Stage::Failed, true, None, 1e9, DROMO), Step::Failed);
        assert!(matches!(
            step(Stage::NeedsReview, true, None, 1e9, DROMO),
            Step::Wait(_)
        ));
        assert_eq!(
            step(Stage::InProgress, false, Some(5000.0), 0.0, DROMO),
            Step::GiveUp
        );
        // Final beats the deadline: an import seen done is done, however late.
        assert_eq!(step(Stage::Succeeded, false, None, -1.0, DROMO), Step::Done);
    }

    #[test]
    fn polls_start_quickly_then_settle_at_the_interval() {
        assert_eq!(
            waits(DROMO, 30_000.0),
            [250.0, 500.0, 1000.0, 2000.0, 4000.0, 5000.0, 5000.0, 5000.0, 5000.0, 2250.0]
        );
        // A 1-row import (done after ~1 s) is seen done on the third or fourth poll, not after 5 s.
        let seen_by: f64 = waits(DROMO, 60_000.0).iter().take(3).sum();
        assert_eq!(seen_by, 1750.0);
        // Every wait is at least the first one: the floor on intervalMs keeps the rest >= 1 s.
        assert!(waits(DROMO, 600_000.0).iter().all(|&w| w >= FIRST_WAIT_MS));
    }

    #[test]
    fn within_a_minute_the_quick_start_costs_a_few_polls() {
        // Polls at 0 and after each wait: the quick start adds four polls to the first minute.
        // Dromo's client-side limiter keeps the requests within 12 a minute: it holds the 13th
        // back until the first one's window has passed.
        let mut t = 0.0;
        let mut polls = 1;
        for w in waits(DROMO, 60_000.0) {
            t += w;
            if t < 60_000.0 {
                polls += 1;
            }
        }
        assert_eq!(polls, 16);
    }

    #[test]
    fn a_wait_on_webhooks_polls_only_as_a_fallback() {
        // Woken by events; a poll right away (the loop's first), then one a minute for a lost one.
        let fallback = Pace {
            interval_ms: WEBHOOK_FALLBACK_MS,
            quick_start: false,
            ..DROMO
        };
        assert_eq!(waits(fallback, 180_000.0), [60_000.0, 60_000.0, 60_000.0]);
    }

    #[test]
    fn backoff_grows_past_the_interval_up_to_the_cap() {
        let pace = Pace {
            interval_ms: 2000.0,
            backoff: 2.0,
            max_interval_ms: 10_000.0,
            quick_start: true,
        };
        assert_eq!(
            waits(pace, 40_000.0),
            [250.0, 500.0, 1000.0, 2000.0, 4000.0, 8000.0, 10_000.0, 10_000.0, 4250.0]
        );
    }
}
