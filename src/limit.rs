//! Client-side rate limiting: sliding windows that hand out send slots in call order.
//!
//! The rule (`limit_rule.rs`): send number k+max waits until send number k has been *answered*,
//! plus the window. Here the slots live in this process: slots are handed out in call order, so
//! 200 callers started at once queue without a stampede of timers re-testing the same condition,
//! and without drawing a single 429. With `rateLimit.store` (the `server` build) they live in a
//! store that several processes share instead (`limit_store.rs`).

use crate::prelude::*;
use crate::text::is_whole;
use alloc::collections::VecDeque;
use alloc::rc::Rc;
use core::cell::{Cell, RefCell};

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;

pub use crate::limit_rule::Rate;
use crate::limit_rule::{after, depends_on, spent};

use crate::error::{Error, Result};
use crate::js::{get, is_absent, is_plain_object};
#[cfg(feature = "server")]
use crate::opts::CallOptions;
use crate::opts::{join, non_negative};
use crate::timer::{deferred, now_ms, sleep, unless_aborted};

/// One granted send: when its answer came (set once), and a promise other slots await.
struct Slot {
    answered_at: Cell<Option<f64>>,
    /// The earliest it can be sent, as known when it was taken: what `onQueued` is told.
    starts: f64,
    answered: Promise,
    resolve: Function,
}

impl Slot {
    fn new(starts: f64) -> Rc<Slot> {
        let (answered, resolve, _) = deferred();
        Rc::new(Slot {
            answered_at: Cell::new(None),
            starts,
            answered,
            resolve,
        })
    }

    fn finish(&self) {
        if self.answered_at.get().is_none() {
            let now = now_ms();
            self.answered_at.set(Some(now));
            let _ = self
                .resolve
                .call1(&JsValue::UNDEFINED, &JsValue::from_f64(now));
        }
    }
}

/// Held while a request is in flight; dropping it records the answer time (also on errors,
/// aborts and panics-free early returns), which frees the slot `max` places later.
pub struct Permit {
    slot: Option<Rc<Slot>>,
    /// A slot of a shared store instead: dropping it tells the store (`limit_store::Held`).
    #[cfg(feature = "server")]
    #[allow(dead_code)] // never read: held for its `Drop`
    shared: Option<crate::limit_store::Held>,
}

impl Permit {
    /// A send that waits for nothing (no limit of its kind).
    fn none() -> Permit {
        Permit::of(None)
    }

    fn of(slot: Option<Rc<Slot>>) -> Permit {
        Permit {
            slot,
            #[cfg(feature = "server")]
            shared: None,
        }
    }

    /// A slot of a shared store.
    #[cfg(feature = "server")]
    pub fn shared(held: crate::limit_store::Held) -> Permit {
        Permit {
            slot: None,
            shared: Some(held),
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(slot) = &self.slot {
            slot.finish();
        }
    }
}

/// The last `max` slots of one window.
#[derive(Default)]
struct Window {
    slots: VecDeque<Rc<Slot>>,
}

impl Window {
    /// Takes the next slot; returns it and the slot it must wait for.
    fn take(&mut self, rate: Rate) -> (Rc<Slot>, Option<Rc<Slot>>) {
        let before = depends_on(self.slots.len(), rate.max).map(|i| self.slots[i].clone());
        // A slot still in flight is answered no sooner than it starts: a lower bound, exact when
        // the queue is made of sends that are still waiting (the usual burst).
        let now = now_ms();
        let starts = before.as_ref().map_or(now, |b| {
            let answered = b.answered_at.get().unwrap_or(b.starts);
            now.max(after(answered, rate))
        });
        let slot = Slot::new(starts);
        self.slots.push_back(slot.clone());
        while self.slots.len() > rate.max {
            self.slots.pop_front();
        }
        (slot, before)
    }
}

/// The limits of one client: creates overall, polls per import.
pub struct Limiter {
    creates: Option<Rate>,
    polls: Option<Rate>,
    create_window: RefCell<Window>,
    /// One window per import polled lately. Spent windows are dropped as the list grows (see
    /// `take_poll`): a client that lives for days must not keep every import it ever polled.
    /// A list, not a hash map: it holds the imports of about one window, and scanning those costs
    /// less than the hasher's code costs in wasm bytes.
    poll_windows: RefCell<Vec<(String, Window)>>,
    /// The list length at which spent windows are next dropped: twice what the last sweep left,
    /// so sweeping stays O(1) per poll on average.
    next_sweep: Cell<usize>,
    /// `rateLimit.store`: where the slots live when several processes share the limits.
    #[cfg(feature = "server")]
    store: Option<crate::limit_store::Store>,
}

/// The keys of the `rateLimit` option; `store` only where shared stores exist (Node's build).
#[cfg(feature = "server")]
const RATE_KEYS: &[&str] = &["creates", "polls", "windowMs", "store"];
#[cfg(not(feature = "server"))]
const RATE_KEYS: &[&str] = &["creates", "polls", "windowMs"];

/// The fewest windows worth a sweep.
const MIN_SWEEP: usize = 32;

/// What to wait for.
#[derive(Clone, Copy)]
pub enum Kind<'a> {
    Create,
    Poll(&'a str),
}

impl Limiter {
    pub fn new(creates: Option<Rate>, polls: Option<Rate>) -> Limiter {
        Limiter {
            creates,
            polls,
            create_window: RefCell::default(),
            poll_windows: RefCell::default(),
            next_sweep: Cell::new(MIN_SWEEP),
            #[cfg(feature = "server")]
            store: None,
        }
    }

    /// Keeps the slots in `store` (shared with other processes) instead of this process.
    #[cfg(feature = "server")]
    pub fn with_store(mut self, store: Option<crate::limit_store::Store>) -> Limiter {
        self.store = store;
        self
    }

    /// Takes the next poll slot of import `id`, making its window if need be.
    fn take_poll(&self, id: &str, rate: Rate) -> (Rc<Slot>, Option<Rc<Slot>>) {
        let mut windows = self.poll_windows.borrow_mut();
        let i = match windows.iter().position(|(k, _)| k == id) {
            Some(i) => i,
            None => {
                if windows.len() >= self.next_sweep.get() {
                    let now = now_ms();
                    windows.retain(|(_, w)| {
                        !spent(w.slots.iter().map(|s| s.answered_at.get()), rate, now)
                    });
                    self.next_sweep.set(MIN_SWEEP.max(2 * windows.len()));
                }
                windows.push((id.to_string(), Window::default()));
                windows.len() - 1
            }
        };
        windows[i].1.take(rate)
    }

    /// The imports whose windows are kept (for the wasm tests).
    #[cfg(all(test, target_arch = "wasm32"))]
    fn poll_window_ids(&self) -> Vec<String> {
        self.poll_windows
            .borrow()
            .iter()
            .map(|(k, _)| k.clone())
            .collect()
    }

    /// Reads the `rateLimit` client option over the provider's defaults: `false` turns limiting
    /// off; `{ creates, polls, windowMs }` overrides (counts per window; `windowMs` default 60 s).
    pub fn from_js(opts: &JsValue, defaults: (Option<Rate>, Option<Rate>)) -> Result<Limiter> {
        let v = get(opts, "rateLimit");
        if is_absent(&v) || v.as_bool() == Some(true) {
            return Ok(Limiter::new(defaults.0, defaults.1));
        }
        if v.as_bool() == Some(false) {
            return Ok(Limiter::new(None, None));
        }
        if !is_plain_object(&v) {
            #[cfg(not(feature = "server"))]
            let shape = "must be false or { creates?, polls?, windowMs? }";
            #[cfg(feature = "server")]
            let shape = "must be false or { creates?, polls?, windowMs?, store? }";
            return Err(Error::invalid("rateLimit", shape));
        }
        crate::validate::only_keys(&v, "rateLimit", &[RATE_KEYS])?;
        let window_ms = non_negative(&v, "windowMs", "rateLimit")?.unwrap_or(60_000.0);
        let rate = |key: &str, default: Option<Rate>| -> Result<Option<Rate>> {
            Ok(match non_negative(&v, key, "rateLimit")? {
                Some(n) if !is_whole(n) => {
                    return Err(Error::invalid(
                        join("rateLimit", key),
                        "must be a whole number",
                    ))
                }
                Some(n) => (n > 0.0).then_some(Rate {
                    max: n as usize,
                    window_ms,
                }),
                None => default.map(|d| Rate {
                    max: d.max,
                    window_ms,
                }),
            })
        };
        Ok(Limiter::new(
            rate("creates", defaults.0)?,
            rate("polls", defaults.1)?,
        ))
    }

    /// The limit on sends of `kind`, if any (`rateLimit: false`, or Exa's defaults: none).
    pub fn rate(&self, kind: Kind<'_>) -> Option<Rate> {
        match kind {
            Kind::Create => self.creates,
            Kind::Poll(_) => self.polls,
        }
    }

    /// `acquire`, from the shared store when there is one (`rateLimit.store`). The request's
    /// timeout (`opts.timeout_ms`, else the client's `timeout_ms`) is how long the store lets
    /// the slot go unanswered before other processes take its holder for dead.
    #[cfg(feature = "server")]
    pub async fn acquire_for(
        &self,
        kind: Kind<'_>,
        opts: &CallOptions,
        timeout_ms: f64,
    ) -> Result<Permit> {
        if let (Some(store), Some(rate)) = (&self.store, self.rate(kind)) {
            // Back on the store after `onError: 'memory'` carried on without it: the sends made
            // meanwhile are this process's alone, unknown to the others. Until they are a window
            // old, every process holds its sends of this kind (asked again on each send, so one
            // still in flight keeps the hold going until it is answered).
            if let Some(last) = self.last_own(kind) {
                let until = after(last, rate);
                let now = now_ms();
                if until > now {
                    store.hold(kind, until - now);
                }
            }
            let timeout = opts.timeout_ms.unwrap_or(timeout_ms);
            match store.acquire(kind, rate, opts, timeout).await {
                // With `onError: 'memory'`, a store that fails leaves this process's own limits.
                Err(e) if store.falls_back(&e) => {}
                done => return done,
            }
        }
        let (signal, on_queued) = (opts.signal.as_ref(), opts.on_queued.as_ref());
        self.acquire(kind, signal, on_queued).await
    }

    /// When this process's own window of `kind` last had a send answered (now, for one still in
    /// flight), if it has any: only sends made while a shared store failed are there.
    #[cfg(feature = "server")]
    fn last_own(&self, kind: Kind<'_>) -> Option<f64> {
        let last = |w: &Window| {
            w.slots
                .iter()
                .map(|s| s.answered_at.get().unwrap_or_else(now_ms))
                .reduce(f64::max)
        };
        match kind {
            Kind::Create => last(&self.create_window.borrow()),
            Kind::Poll(id) => self
                .poll_windows
                .borrow()
                .iter()
                .find(|(k, _)| k == id)
                .and_then(|(_, w)| last(w)),
        }
    }

    /// Waits until sending keeps within the limits; hold the permit until the answer arrives.
    /// `on_queued` is told `{ kind: 'create' | 'poll', waitMs }` before a wait for the slot.
    pub async fn acquire(
        &self,
        kind: Kind<'_>,
        signal: Option<&web_sys::AbortSignal>,
        on_queued: Option<&Function>,
    ) -> Result<Permit> {
        let Some(rate) = self.rate(kind) else {
            return Ok(Permit::none());
        };
        let (slot, before) = match kind {
            Kind::Create => self.create_window.borrow_mut().take(rate),
            Kind::Poll(id) => self.take_poll(id, rate),
        };
        // Told once, as soon as the wait is known to come: a burst of sends hears it all at once.
        let wait_ms = slot.starts - now_ms();
        // From here on the slot is ours: if we give up, dropping the permit frees it.
        let permit = Permit::of(Some(slot));
        if let (Some(f), true) = (on_queued, wait_ms > 0.0) {
            tell_queued(f, kind, wait_ms).await?;
        }
        if let Some(before) = before {
            let answered_at = match before.answered_at.get() {
                Some(t) => t,
                // Whichever comes first: that answer, or the caller giving up.
                None => unless_aborted(&before.answered, signal)
                    .await?
                    .as_f64()
                    .unwrap_or_else(now_ms),
            };
            let at = after(answered_at, rate);
            let now = now_ms();
            if at > now {
                sleep(at - now, signal).await?;
            }
        }
        Ok(permit)
    }

    /// A 429 answered a send of `kind`: with a shared store, every process holds its next sends
    /// of that kind until the answer's `Retry-After` has passed. (In-process windows need no
    /// such pause: only this process sends there, and it retries after the hint anyway.)
    #[cfg(feature = "server")]
    pub fn throttled(&self, kind: Kind<'_>, hints: &crate::retry::Hints) {
        if let Some(store) = &self.store {
            store.pause(kind, hints);
        }
    }
}

/// Calls `onQueued({ kind, waitMs })`.
pub(crate) async fn tell_queued(f: &Function, kind: Kind<'_>, wait_ms: f64) -> Result<()> {
    let event = js_sys::Object::new();
    let name = match kind {
        Kind::Create => "create",
        Kind::Poll(_) => "poll",
    };
    crate::js::set(&event, "kind", &JsValue::from_str(name));
    crate::js::set(
        &event,
        "waitMs",
        &JsValue::from_f64(js_sys::Math::ceil(wait_ms)),
    );
    crate::opts::call_back(f, "onQueued", &event).await
}

#[cfg(all(test, target_arch = "wasm32"))]
mod wasm_tests {
    use super::*;
    use crate::limit_rule::margin_ms;
    use wasm_bindgen_test::wasm_bindgen_test;

    #[wasm_bindgen_test]
    async fn windows_of_imports_no_longer_polled_are_dropped() {
        let rate = Rate {
            max: 2,
            window_ms: 200.0,
        };
        let limiter = Limiter::new(None, Some(rate));
        // Still in flight across the sweep: its window must stay.
        let busy = limiter
            .acquire(Kind::Poll("busy"), None, None)
            .await
            .unwrap();
        for i in 0..100 {
            let id = ["old", &i.to_string()].concat();
            drop(limiter.acquire(Kind::Poll(&id), None, None).await.unwrap());
        }
        assert_eq!(limiter.poll_window_ids().len(), 101, "nothing is spent yet");
        // Timers never fire early: after this every "old" window is a whole window old.
        sleep(rate.window_ms + margin_ms(rate) + 50.0, None)
            .await
            .unwrap();
        for i in 0..100 {
            let id = ["new", &i.to_string()].concat();
            drop(limiter.acquire(Kind::Poll(&id), None, None).await.unwrap());
        }
        let ids = limiter.poll_window_ids();
        assert!(ids.iter().all(|k| !k.starts_with("old")), "{ids:?}");
        assert!(ids.iter().any(|k| k == "busy"), "{ids:?}");
        drop(busy);
    }
}
