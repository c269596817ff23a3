//! Client-side rate limiting: sliding windows that hand out send times in call order.
//!
//! Each acquire reserves the earliest time at which sending keeps at most `max` sends in any
//! `window_ms` (plus a small margin for clock skew and latency), then sleeps until then. Reserving
//! instead of re-checking means 200 callers started at once queue in order, without a stampede of
//! timers re-testing the same condition, and without drawing a single 429.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};

use wasm_bindgen::JsValue;
use web_sys::AbortSignal;

use crate::client::{join, non_negative};
use crate::error::{Error, Result};
use crate::js::{get, is_absent, is_plain_object};
use crate::timer::{now_ms, sleep};

/// Least slack added to a window; a loaded loopback can delay one request by tens of ms more than
/// another in the same burst.
const MIN_MARGIN_MS: f64 = 150.0;

/// A limit of `max` sends per `window_ms`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Rate {
    pub max: usize,
    pub window_ms: f64,
}

/// The send times granted so far (only the last `max` matter).
#[derive(Default, Debug)]
pub struct Window {
    granted: VecDeque<f64>,
}

impl Window {
    /// Reserves the earliest allowed send time at or after `now`.
    pub fn reserve(&mut self, rate: Rate, now: f64) -> f64 {
        if rate.max == 0 {
            return now;
        }
        // The server counts arrivals, we count departures: leave room for latency differences.
        let margin = (rate.window_ms / 100.0).max(MIN_MARGIN_MS);
        let at = if self.granted.len() < rate.max {
            now
        } else {
            now.max(self.granted[self.granted.len() - rate.max] + rate.window_ms + margin)
        };
        self.granted.push_back(at);
        while self.granted.len() > rate.max {
            self.granted.pop_front();
        }
        at
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
        if let Some(k) = crate::js::keys(&v)
            .into_iter()
            .find(|k| !["creates", "polls", "windowMs"].contains(&k.as_str()))
        {
            return Err(crate::validate::unknown_key(
                "rateLimit",
                &k,
                ["creates", "polls", "windowMs"].into_iter(),
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

    /// Waits until sending is within the limits (at once when they allow it).
    pub async fn acquire(&self, kind: Kind<'_>, signal: Option<&AbortSignal>) -> Result<()> {
        let now = now_ms();
        let at = match kind {
            Kind::Create => match self.creates {
                Some(rate) => self.create_window.borrow_mut().reserve(rate, now),
                None => now,
            },
            Kind::Poll(id) => match self.polls {
                Some(rate) => self
                    .poll_windows
                    .borrow_mut()
                    .entry(id.to_string())
                    .or_default()
                    .reserve(rate, now),
                None => now,
            },
        };
        if at > now {
            sleep(at - now, signal).await?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        max: 2,
        window_ms: 1000.0,
    };

    #[test]
    fn grants_in_order_and_spaces_by_window() {
        let mut w = Window::default();
        assert_eq!(w.reserve(RATE, 0.0), 0.0);
        assert_eq!(w.reserve(RATE, 0.0), 0.0);
        // The third waits for the first to leave the window (plus a margin).
        assert_eq!(w.reserve(RATE, 0.0), 1150.0);
        assert_eq!(w.reserve(RATE, 0.0), 1150.0);
        assert_eq!(w.reserve(RATE, 5.0), 2300.0);
    }

    #[test]
    fn idle_time_frees_the_window() {
        let mut w = Window::default();
        w.reserve(RATE, 0.0);
        w.reserve(RATE, 0.0);
        assert_eq!(w.reserve(RATE, 5000.0), 5000.0);
        assert_eq!(w.reserve(RATE, 5000.0), 5000.0);
        assert_eq!(w.reserve(RATE, 5001.0), 6150.0);
    }

    #[test]
    fn any_window_holds_at_most_max_sends() {
        let rate = Rate {
            max: 20,
            window_ms: 60_000.0,
        };
        let mut w = Window::default();
        let times: Vec<f64> = (0..200).map(|i| w.reserve(rate, i as f64 * 7.0)).collect();
        assert!(
            times.windows(2).all(|p| p[0] <= p[1]),
            "granted in call order"
        );
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..].iter().take_while(|u| **u < t + 60_000.0).count();
            assert!(
                in_window <= 20,
                "{in_window} sends within a window starting at {t}"
            );
        }
        // And no slower than needed: the last 20 go exactly 9 windows (plus margins) after the
        // first 20, which were called over 133 ms.
        assert_eq!(times[199], times[19] + 9.0 * 60_600.0);
    }
}
