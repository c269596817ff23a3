//! Client-side rate limiting: sliding windows that hand out send slots in call order.
//!
//! The server counts a request when it arrives; we cannot see that moment, but it lies between our
//! send and the answer. So send number k+max waits until send number k has been *answered*, plus
//! the window: then, whatever the latency of either, the server has seen at most `max` requests in
//! any window. Slots are handed out in call order, so 200 callers started at once queue without a
//! stampede of timers re-testing the same condition, and without drawing a single 429.

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use web_sys::AbortSignal;

use crate::client::{join, non_negative};
use crate::error::{Error, Result};
use crate::js::{get, is_absent, is_plain_object};
use crate::timer::{check, deferred, now_ms, sleep, OnAbort};

/// A limit of `max` sends per `window_ms`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub max: usize,
    pub window_ms: f64,
}

/// Slack on top of the window for clock-rate differences between us and the server.
pub fn margin_ms(rate: Rate) -> f64 {
    (rate.window_ms / 100.0).clamp(5.0, 1000.0)
}

/// Which earlier slot a new one must wait for: the one `max` places back, if any.
pub fn depends_on(slots_before: usize, max: usize) -> Option<usize> {
    (max > 0 && slots_before >= max).then(|| slots_before - max)
}

/// One granted send: when its answer came (set once), and a promise other slots await.
struct Slot {
    answered_at: Cell<Option<f64>>,
    answered: Promise,
    resolve: Function,
}

impl Slot {
    fn new() -> Rc<Slot> {
        let (answered, resolve, _) = deferred();
        Rc::new(Slot {
            answered_at: Cell::new(None),
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
pub struct Permit(Option<Rc<Slot>>);

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(slot) = &self.0 {
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
    fn take(&mut self, max: usize) -> (Rc<Slot>, Option<Rc<Slot>>) {
        let before = depends_on(self.slots.len(), max).map(|i| self.slots[i].clone());
        let slot = Slot::new();
        self.slots.push_back(slot.clone());
        while self.slots.len() > max {
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
    poll_windows: RefCell<HashMap<String, Window>>,
}

/// What to wait for.
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
        }
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
            return Err(Error::invalid(
                "rateLimit",
                "must be false or { creates?, polls?, windowMs? }",
            ));
        }
        let known = ["creates", "polls", "windowMs"];
        if let Some(k) = crate::js::keys(&v)
            .into_iter()
            .find(|k| !known.contains(&k.as_str()))
        {
            return Err(crate::validate::unknown_key(
                "rateLimit",
                &k,
                known.into_iter(),
            ));
        }
        let window_ms = non_negative(&v, "windowMs", "rateLimit")?.unwrap_or(60_000.0);
        let rate = |key: &str, default: Option<Rate>| -> Result<Option<Rate>> {
            Ok(match non_negative(&v, key, "rateLimit")? {
                Some(n) if n.fract() != 0.0 => {
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

    /// Waits until sending keeps within the limits; hold the permit until the answer arrives.
    pub async fn acquire(&self, kind: Kind<'_>, signal: Option<&AbortSignal>) -> Result<Permit> {
        let (rate, taken) = match kind {
            Kind::Create => match self.creates {
                Some(rate) => (rate, self.create_window.borrow_mut().take(rate.max)),
                None => return Ok(Permit(None)),
            },
            Kind::Poll(id) => match self.polls {
                Some(rate) => {
                    let mut windows = self.poll_windows.borrow_mut();
                    (
                        rate,
                        windows.entry(id.to_string()).or_default().take(rate.max),
                    )
                }
                None => return Ok(Permit(None)),
            },
        };
        let (slot, before) = taken;
        // From here on the slot is ours: if we give up, dropping the permit frees it.
        let permit = Permit(Some(slot));
        if let Some(before) = before {
            let answered_at = match before.answered_at.get() {
                Some(t) => t,
                None => {
                    check(signal)?;
                    // Whichever comes first: that answer, or the caller giving up.
                    let (gave_up, resolve, _) = deferred();
                    let _on_abort = signal.map(|s| {
                        OnAbort::new(s, move || {
                            let _ = resolve.call0(&JsValue::UNDEFINED);
                        })
                    });
                    let race = Promise::race(&js_sys::Array::of2(&before.answered, &gave_up));
                    let first = JsFuture::from(race).await;
                    check(signal)?;
                    first.ok().and_then(|v| v.as_f64()).unwrap_or_else(now_ms)
                }
            };
            let at = answered_at + rate.window_ms + margin_ms(rate);
            let now = now_ms();
            if at > now {
                sleep(at - now, signal).await?;
            }
        }
        Ok(permit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_slot_waits_for_the_one_max_places_back() {
        assert_eq!(depends_on(0, 20), None);
        assert_eq!(depends_on(19, 20), None);
        assert_eq!(depends_on(20, 20), Some(0));
        assert_eq!(depends_on(45, 20), Some(25));
        assert_eq!(depends_on(3, 0), None);
    }

    #[test]
    fn margins_scale_with_the_window() {
        assert_eq!(
            margin_ms(Rate {
                max: 20,
                window_ms: 60_000.0
            }),
            600.0
        );
        assert_eq!(
            margin_ms(Rate {
                max: 20,
                window_ms: 100.0
            }),
            5.0
        );
        assert_eq!(
            margin_ms(Rate {
                max: 20,
                window_ms: 3_600_000.0
            }),
            1000.0
        );
    }
}
