//! The rate limiter's rule, as pure functions of times: when a send may go, given what is known of
//! the send it must follow. `limit.rs` applies it to slots held in this process, whose answers it
//! awaits (`after`); a store that several processes share applies all of it (`decide`)
//! atomically where the slots live: `pkg/redis.lua` mirrors `decide` step for step, and
//! `tests/limit_store_props.rs` checks the two agree on random arrivals.
//!
//! The server counts a request when it arrives; we cannot see that moment, but it lies between our
//! send and the answer. So send number k+max waits until send number k has been *answered*, plus
//! the window (and a margin): then, whatever the latency of either, the server has seen at most
//! `max` requests in any window.
//!
//! A leaf: nothing from the crate or the platform, so the property test can compile it natively.

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

/// The earliest a slot may be sent when the slot it follows was answered at `answered`.
pub fn after(answered: f64, rate: Rate) -> f64 {
    answered + rate.window_ms + margin_ms(rate)
}

/// What is known of an earlier slot: the earliest it could be sent (as last decided), and when
/// its answer came, once it has.
// The shared store's rule (`Past`, `Decision`, `decide`) is what `pkg/redis.lua` applies and what
// tests/limit_store_props.rs holds it to; the library itself runs only its answered case (`after`,
// in `limit.rs`), so outside the tests these are unused.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Past {
    pub starts: f64,
    pub answered: Option<f64>,
}

/// When a slot may be sent.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Decision {
    /// The earliest time the slot may be sent.
    pub at: f64,
    /// Whether `at` is final. When not, the slot it follows is still unanswered, and `at` is a
    /// lower bound (that slot answered the moment it could start): ask again once it has passed.
    pub firm: bool,
}

/// When a slot that follows `before` (the slot `max` places back, if any) may be sent, at `now`,
/// in a window that several processes share.
///
/// A process cannot await another's answer, so an unanswered `before` gives a lower bound, and
/// once `starts + lease_ms` has passed it counts as answered then: its holder died or lost track
/// of it, and must not hold the window for ever (a lease as long as the request timeout is safe,
/// since a live request is answered or abandoned by then). Nothing is sent before `paused_until`
/// (a 429's `Retry-After`), if any. Without a lease and a pause this is the in-process rule.
#[cfg_attr(not(test), allow(dead_code))]
pub fn decide(
    before: Option<Past>,
    rate: Rate,
    lease_ms: f64,
    paused_until: Option<f64>,
    now: f64,
) -> Decision {
    let earliest = paused_until.map_or(now, |p| now.max(p));
    let Some(b) = before else {
        return Decision {
            at: earliest,
            firm: true,
        };
    };
    let (answered, firm) = match b.answered {
        Some(t) => (t, true),
        None if b.starts + lease_ms <= now => (b.starts + lease_ms, true),
        None => (b.starts, false),
    };
    Decision {
        at: earliest.max(after(answered, rate)),
        firm,
    }
}

/// Whether a window whose slots were answered at `answered` (`None`: still in flight) can be
/// forgotten: every slot answered, the last of them a whole window (plus margin) ago. No later send
/// would wait on any of them, and the server's window holds none of them any more, so a fresh
/// window allows exactly what this one would.
pub fn spent(answered: impl Iterator<Item = Option<f64>>, rate: Rate, now: f64) -> bool {
    let mut last = f64::NEG_INFINITY;
    for t in answered {
        match t {
            Some(t) => last = last.max(t),
            None => return false,
        }
    }
    last + rate.window_ms + margin_ms(rate) <= now
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: Rate = Rate {
        max: 2,
        window_ms: 100.0,
    };

    #[test]
    fn each_slot_waits_for_the_one_max_places_back() {
        assert_eq!(depends_on(0, 20), None);
        assert_eq!(depends_on(19, 20), None);
        assert_eq!(depends_on(20, 20), Some(0));
        assert_eq!(depends_on(45, 20), Some(25));
        assert_eq!(depends_on(3, 0), None);
    }

    #[test]
    fn a_first_slot_goes_now_unless_paused() {
        let d = decide(None, RATE, 1000.0, None, 50.0);
        assert_eq!(
            d,
            Decision {
                at: 50.0,
                firm: true
            }
        );
        let d = decide(None, RATE, 1000.0, Some(80.0), 50.0);
        assert_eq!(
            d,
            Decision {
                at: 80.0,
                firm: true
            }
        );
    }

    #[test]
    fn an_answered_slot_frees_the_next_a_window_and_margin_later() {
        // Margin 5 ms: answered at 40 -> 145, whatever the time now (up to then).
        let before = Past {
            starts: 0.0,
            answered: Some(40.0),
        };
        let d = decide(Some(before), RATE, 1000.0, None, 60.0);
        assert_eq!(
            d,
            Decision {
                at: 145.0,
                firm: true
            }
        );
        let d = decide(Some(before), RATE, 1000.0, None, 200.0);
        assert_eq!(
            d,
            Decision {
                at: 200.0,
                firm: true
            }
        );
        // A pause beyond it wins.
        let d = decide(Some(before), RATE, 1000.0, Some(300.0), 60.0);
        assert_eq!(
            d,
            Decision {
                at: 300.0,
                firm: true
            }
        );
    }

    #[test]
    fn an_unanswered_slot_gives_a_lower_bound_until_its_lease_runs_out() {
        let before = Past {
            starts: 10.0,
            answered: None,
        };
        // In flight: no sooner than if it were answered the moment it started.
        let d = decide(Some(before), RATE, 500.0, None, 20.0);
        assert_eq!(
            d,
            Decision {
                at: 115.0,
                firm: false
            }
        );
        // Its lease ran out at 510: taken as answered then.
        let d = decide(Some(before), RATE, 500.0, None, 510.0);
        assert_eq!(
            d,
            Decision {
                at: 615.0,
                firm: true
            }
        );
        // An endless lease (this process's own slots, whose answers it awaits) never runs out.
        let d = decide(Some(before), RATE, f64::INFINITY, None, 1e12);
        assert_eq!(
            d,
            Decision {
                at: 1e12,
                firm: false
            }
        );
    }

    #[test]
    fn a_window_is_spent_once_all_answered_a_window_ago() {
        // Margin 5 ms: the last answer at 50 frees the window at 155.
        let answered = [Some(10.0), Some(50.0)];
        assert!(!spent(answered.into_iter(), RATE, 154.0));
        assert!(spent(answered.into_iter(), RATE, 155.0));
        // One still in flight keeps it, however old the others are.
        assert!(!spent([Some(0.0), None].into_iter(), RATE, 1e9));
        assert!(spent([].into_iter(), RATE, 0.0));
    }

    #[test]
    fn margins_scale_with_the_window() {
        let rate = |window_ms| Rate { max: 20, window_ms };
        assert_eq!(margin_ms(rate(60_000.0)), 600.0);
        assert_eq!(margin_ms(rate(100.0)), 5.0);
        assert_eq!(margin_ms(rate(3_600_000.0)), 1000.0);
    }
}
