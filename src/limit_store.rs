//! Rate limits shared by several processes (Node's build only): `rateLimit.store`, where the
//! limiter's slots live outside this process. Dromo's limits belong to the account, so workers
//! on one key that each kept their own slots would each spend the whole budget.
//!
//! The store decides atomically where its state lives, by the rule of `limit_rule::decide`
//! (`pkg/redis.lua` for Redis, through `pkg/redis.js`). A process cannot await another's answer,
//! so a slot whose predecessor is still unanswered gets a lower bound and asks again once it has
//! passed; a slot with a final wait asks once more when it is over, right before it is sent; an
//! answer is recorded by `release` when the permit drops (`sent: false` for a slot given up while
//! it waited). A slot never released counts as answered at its start plus a lease (the request
//! timeout); a store that hears from its holders (Redis's: a heartbeat a second) frees a dead
//! worker's slots within seconds instead, its queued ones at once.
//!
//! Keys are `<namespace>:c` (creates) and `<namespace>:p:<import path>` (polls), where the
//! namespace is a hash of the provider and the API key: never the key itself.

use crate::prelude::*;
use alloc::rc::Rc;

use js_sys::{Function, Object};
use sha2::{Digest, Sha256};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

use crate::error::{safe_cause, Error, Kind as ErrorKind, Result};
use crate::js::{get, is_absent, is_plain_object, set};
use crate::limit::{tell_queued, Kind, Permit};
use crate::limit_rule::{margin_ms, Rate};
use crate::opts::CallOptions;
use crate::retry::{delay_ms, Hints};
use crate::timer::{now_ms, sleep, MAX_DELAY_MS};

/// The longest lease: a slot whose request has no timeout (`timeoutMs: 0`) still frees within
/// ten minutes of its start if its process dies.
const MAX_LEASE_MS: f64 = 600_000.0;

/// Bounds the checks of one slot. All but a few sleep at least the margin (5 ms or more), so this
/// is over eight minutes of asking; a slot's predecessor is answered or its lease runs out long
/// before (the lease is at most ten minutes, and each check sees it run down).
const MAX_CHECKS: u32 = 100_000;

/// The longest pause between checks of a slot whose predecessor is in flight, in margins (a tenth
/// of the window): the most a slot can start late because of the pause.
const MAX_POLL_MARGINS: f64 = 10.0;

const STORE_SHAPE: &str = "must be a rate-limit store, as redisRateLimitStore(client) from 'headless-imports/redis' makes it (an object with acquire, release and pause functions)";

/// The store's functions, shared by the client and the permits it hands out.
struct Fns {
    /// The store object, as `this` for its methods.
    this: JsValue,
    acquire: Function,
    release: Function,
    pause: Function,
}

impl Fns {
    /// Calls `f(req)` without waiting for it (`release`, `pause`).
    fn fire(&self, f: &Function, req: &Object) {
        fire(f, &self.this, req);
    }
}

#[wasm_bindgen(module = "/src/js/store.js")]
extern "C" {
    /// `f.call(store, req)`, its throw or rejection dropped.
    fn fire(f: &Function, store: &JsValue, req: &Object);
    /// `[promise, cancel]`: `acquire.call(store, req)`, or a rejection with `['abort']`,
    /// `['timeout']` or `['store', cause]`; an answer that comes too late is released.
    fn decide(
        acquire: &Function,
        release: &Function,
        store: &JsValue,
        req: &Object,
        signal: Option<&web_sys::AbortSignal>,
        timeout_ms: f64,
    ) -> js_sys::Array;
}

/// Stops waiting for a decision when dropped (a settled one is left as it is).
struct Cancel(Function);

impl Drop for Cancel {
    fn drop(&mut self) {
        let _ = self.0.call0(&JsValue::UNDEFINED);
    }
}

/// A client's shared store.
pub struct Store {
    fns: Rc<Fns>,
    /// `onError: 'memory'`: when the store fails, this process's own limits serve instead.
    memory_on_error: bool,
    /// A hash of the provider and the account (API key), shared by every process on it.
    namespace: String,
    /// The account itself: cleaned out of what a store's error says (a custom store may name it).
    account: String,
}

/// What the store answered for a slot.
struct Answer {
    slot: f64,
    wait_ms: f64,
    firm: bool,
}

/// A slot of the store, held while its request is in flight; dropping it records the answer.
pub struct Held {
    fns: Rc<Fns>,
    /// `{ key, slot, windowMs, marginMs, ... }`: what `release` needs to find the slot.
    req: Object,
    /// Whether its request went (or may have): else the slot was given up while it waited, and
    /// the store need not count it as a send (`sent: false`).
    sent: bool,
}

impl Drop for Held {
    fn drop(&mut self) {
        set(&self.req, "sent", &JsValue::from_bool(self.sent));
        self.fns.fire(&self.fns.release, &self.req);
    }
}

/// Puts `rateLimit.store` back, as the caller passed it, into `copy`, the plain copy of the client
/// options `raw` (`js::plain`): the copy keeps own enumerable data only, while a store may be a
/// class instance whose methods live on its prototype and want it as `this`.
pub fn keep_original(raw: &JsValue, copy: &JsValue) {
    let limits = get(copy, "rateLimit");
    let store = get(&get(raw, "rateLimit"), "store");
    if let (Some(limits), true) = (limits.dyn_ref::<Object>(), store.is_object()) {
        set(limits, "store", &store);
    }
}

/// The first 16 hex digits of SHA-256 over `provider` and `account`: a name for the account that
/// reveals nothing of its key, and distinct enough (64 bits) that two accounts never share one.
pub fn namespace(provider: &str, account: &str) -> String {
    let digest = Sha256::new()
        .chain_update(provider.as_bytes())
        .chain_update(b"\n")
        .chain_update(account.as_bytes())
        .finalize();
    let word =
        |i: usize| u32::from_be_bytes([digest[i], digest[i + 1], digest[i + 2], digest[i + 3]]);
    [crate::text::hex(word(0)), crate::text::hex(word(4))].concat()
}

impl Store {
    /// Reads `rateLimit.store` (`None` when absent). `account` is what the limits belong to: the
    /// API key (or, for a keyless client, its proxy's address); only its hash is kept.
    pub fn from_js(opts: &JsValue, provider: &str, account: &str) -> Result<Option<Store>> {
        let v = get(&get(opts, "rateLimit"), "store");
        // Only a missing store is none: `store: null` is a mistake (a store not made yet?), and
        // saying so beats running every process on its own limits without a word.
        if v.is_undefined() {
            return Ok(None);
        }
        let f = |k: &str| get(&v, k).dyn_into::<Function>().ok();
        let (Some(acquire), Some(release), Some(pause), true) =
            (f("acquire"), f("release"), f("pause"), is_plain_object(&v))
        else {
            return Err(Error::invalid("rateLimit.store", STORE_SHAPE));
        };
        let on_error = get(&v, "onError");
        let memory_on_error = match on_error.as_string().as_deref() {
            _ if is_absent(&on_error) => false,
            Some("fail") => false,
            Some("memory") => true,
            _ => {
                return Err(Error::invalid(
                    "rateLimit.store.onError",
                    "must be 'fail' or 'memory'",
                ))
            }
        };
        Ok(Some(Store {
            fns: Rc::new(Fns {
                this: v,
                acquire,
                release,
                pause,
            }),
            memory_on_error,
            namespace: namespace(provider, account),
            account: account.into(),
        }))
    }

    /// Whether the limiter should go on with its in-process windows after `e`.
    pub fn falls_back(&self, e: &Error) -> bool {
        self.memory_on_error && e.kind == ErrorKind::Store
    }

    /// The store key of the window `kind` sends count against.
    fn key(&self, kind: Kind<'_>) -> String {
        match kind {
            Kind::Create => [self.namespace.as_str(), ":c"].concat(),
            Kind::Poll(path) => [self.namespace.as_str(), ":p:", path].concat(),
        }
    }

    /// Waits for a slot of `kind` in the shared window; hold the permit until the answer arrives.
    /// `timeout` is the request's (0: none), which bounds how long the slot is held unanswered.
    pub async fn acquire(
        &self,
        kind: Kind<'_>,
        rate: Rate,
        opts: &CallOptions,
        timeout: f64,
    ) -> Result<Permit> {
        let margin = margin_ms(rate);
        // The request may start a little after its slot (timers, the event loop): the margin
        // covers that, so a live request is always answered within its lease.
        let lease = if timeout > 0.0 {
            timeout.min(MAX_LEASE_MS)
        } else {
            MAX_LEASE_MS
        } + margin;
        let req = Object::new();
        set(&req, "key", &JsValue::from_str(&self.key(kind)));
        set(&req, "max", &JsValue::from_f64(rate.max as f64));
        set(&req, "windowMs", &JsValue::from_f64(rate.window_ms));
        set(&req, "marginMs", &JsValue::from_f64(margin));
        set(&req, "leaseMs", &JsValue::from_f64(lease));
        let mut answer = self.take(&req, opts, timeout).await?;
        // From here on the slot is ours: if we give up, dropping `held` releases it (unsent).
        // Asking again with `slot` set re-decides this slot instead of taking a new one.
        set(&req, "slot", &JsValue::from_f64(answer.slot));
        let mut held = Held {
            fns: self.fns.clone(),
            req: req.clone(),
            sent: false,
        };
        if let (Some(f), true) = (opts.on_queued.as_ref(), answer.wait_ms > 0.0) {
            tell_queued(f, kind, answer.wait_ms).await?;
        }
        let signal = opts.signal.as_ref();
        let mut poll = margin;
        for _ in 0..MAX_CHECKS {
            if answer.firm && answer.wait_ms <= 0.0 {
                // Sent from here on (whatever happens to the request, it may have gone).
                held.sent = true;
                return Ok(Permit::shared(held));
            }
            if answer.firm {
                // Asked once more when the wait is over, right before sending: the store may
                // have taken this process for gone meanwhile (it stalled past a heartbeat) and
                // given the slot away, or a 429 may have paused the window since. A store that
                // knows the slot is still good answers without a round trip (pkg/redis.js).
                sleep(answer.wait_ms, signal).await?;
                answer = self.take(&req, opts, timeout).await?;
                set(&req, "slot", &JsValue::from_f64(answer.slot));
                continue;
            }
            // The slot it follows is unanswered. Not sent yet: ask again once it could have been
            // answered. In flight: ask every margin at first (a request's answer usually lands
            // within one), then less often, so that the slots behind a dead worker's do not keep
            // Redis busy until its lease runs out.
            let wait = if answer.wait_ms > 0.0 {
                poll = margin;
                answer.wait_ms
            } else {
                let p = poll;
                poll = (poll * 2.0).min(MAX_POLL_MARGINS * margin);
                p
            };
            sleep(wait, signal).await?;
            answer = self.take(&req, opts, timeout).await?;
            // Re-decided; or, given up for lost meanwhile, queued again under a new number.
            set(&req, "slot", &JsValue::from_f64(answer.slot));
        }
        Err(failed("kept a slot waiting past every bound", None))
    }

    /// A 429 answered a send of `kind`: every process holds that window until the answer's
    /// `retry-after-ms` or `Retry-After` (up to 60 s) has passed, or half a second when it names
    /// no wait (the retry policy's first backoff, without jitter: the same for every process).
    /// Not awaited: the retry waits anyway.
    pub fn pause(&self, kind: Kind<'_>, hints: &Hints) {
        let ms = delay_ms(
            0,
            hints.retry_after_ms.as_deref(),
            hints.retry_after.as_deref(),
            now_ms(),
            0.0,
        );
        self.hold(kind, ms);
    }

    /// Holds every process's next sends of `kind` for `ms` (not awaited).
    pub fn hold(&self, kind: Kind<'_>, ms: f64) {
        let req = Object::new();
        set(&req, "key", &JsValue::from_str(&self.key(kind)));
        set(&req, "ms", &JsValue::from_f64(ms));
        self.fns.fire(&self.fns.pause, &req);
    }

    /// Asks the store to take (or, with `req.slot`, re-decide) a slot. Whatever the store does
    /// (a Redis that stalls, a custom store that never settles), the caller's abort and the
    /// request's `timeout` end the wait with their own errors; a slot the store hands out after
    /// that is released (`js/store.js`).
    async fn take(&self, req: &Object, opts: &CallOptions, timeout: f64) -> Result<Answer> {
        let signal = opts.signal.as_ref();
        let fns = &self.fns;
        let parts = decide(&fns.acquire, &fns.release, &fns.this, req, signal, timeout);
        let _cancel = Cancel(parts.get(1).unchecked_into());
        let v = crate::task::settled(parts.get(0).unchecked_into())
            .await
            .map_err(|why| match get(&why, "0").as_string().as_deref() {
                Some("abort") => Error::aborted(signal),
                Some("timeout") => timed_out(timeout),
                _ => threw(get(&why, "1"), &self.account),
            })?;
        let slot = get(&v, "slot").as_f64();
        let wait = get(&v, "waitMs").as_f64();
        match (slot, wait, get(&v, "firm").as_bool()) {
            // A wait past setTimeout's range (24.8 days) is no answer a window could give.
            (Some(slot), Some(wait), Some(firm))
                if slot.is_finite() && wait.is_finite() && wait <= MAX_DELAY_MS =>
            {
                Ok(Answer {
                    slot,
                    wait_ms: wait.max(0.0),
                    firm,
                })
            }
            _ => Err(failed(
                "answered something other than { slot, waitMs (at most 2^31 - 1), firm }",
                None,
            )),
        }
    }
}

/// The store threw or rejected with `cause`; `secret` (the API key) never shows in what it says.
fn threw(cause: JsValue, secret: &str) -> Error {
    let message = get(&cause, "message")
        .as_string()
        .or_else(|| cause.as_string())
        .unwrap_or_default();
    let why = [
        "failed: ",
        &crate::redact::snippet(&crate::redact::clean(&message, Some(secret)), 200),
    ]
    .concat();
    let mut e = failed(&why, None);
    e.cause = Some(safe_cause(cause, Some(secret)));
    e
}

/// The request's `timeoutMs` passed while the store decided: the call's own timeout, not a
/// failure of the store (so `onError: 'memory'` does not carry on past it).
#[inline(never)] // cold
fn timed_out(timeout: f64) -> Error {
    Error::new(
        ErrorKind::Timeout,
        [
            "The shared rate-limit store (rateLimit.store) did not decide within timeoutMs (",
            &crate::text::num(timeout),
            " ms). This request was not sent.",
        ]
        .concat(),
    )
}

/// `rate_limit_store`: the store `why`; the send it was for did not happen.
#[inline(never)] // cold
fn failed(why: &str, cause: Option<JsValue>) -> Error {
    let mut e = Error::new(
        ErrorKind::Store,
        [
            "The shared rate-limit store (rateLimit.store) ",
            why,
            ". This request was not sent; with onError: 'memory' the client goes on within this process's own limits instead.",
        ]
        .concat(),
    );
    e.code = Some("rate_limit_store");
    e.cause = cause.map(|c| safe_cause(c, None));
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_hash_the_account_and_keep_nothing_of_it() {
        let a = namespace("Dromo", "secret-key-123");
        assert_eq!(a.len(), 16);
        assert!(a.bytes().all(|b| b.is_ascii_hexdigit()), "{a}");
        assert!(!a.contains("secret"));
        assert_eq!(
            a,
            namespace("Dromo", "secret-key-123"),
            "stable across processes"
        );
        assert_ne!(a, namespace("Dromo", "secret-key-124"));
        assert_ne!(a, namespace("Exa", "secret-key-123"));
        // SHA-256("Dromo\nk"), its first 8 bytes: fixed, so every version of the package (and
        // every process) names an account's windows alike.
        assert_eq!(namespace("Dromo", "k"), "dc9e96cfca0ad19e");
    }
}
