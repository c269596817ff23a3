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

/// What is known of an earlier slot: the earliest it could be sent (as last decided), whether that
/// was ever decided for good (`firm`: before, its holder could not send it), when its answer came
/// (once it has), when its holder was last heard from (a store that keeps track), and whether it
/// was given up before it was sent.
// The shared store's rule (`Past`, `Decision`, `decide`) is what `pkg/redis.lua` applies and what
// tests/limit_store_props.rs holds it to; the library itself runs only its answered case (`after`,
// in `limit.rs`), so outside the tests these are unused.
#[cfg_attr(not(test), allow(dead_code))]
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Past {
    pub starts: f64,
    pub firm: bool,
    pub answered: Option<f64>,
    pub heard: Option<f64>,
    pub dropped: bool,
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
    /// How many slots of the chain the decision looked at. A firm one is the only slot that
    /// will ever look at them, so the store forgets them.
    pub used: usize,
}

/// When a slot may be sent, at `now`, in a window that several processes share.
///
/// `chain` is what the store still keeps of the slots it may wait for: the slot `max` places
/// back, then the one `max` places before that, and so on while each is kept (a slot is
/// forgotten once the one after it was decided for good). `again` is the slot's own start as
/// decided before, when it is asked about again.
///
/// A process cannot await another's answer, so an unanswered slot gives a lower bound; it counts
/// as answered once `starts + lease_ms` has passed (its holder lost track of it: a lease as long
/// as the request timeout is safe, since a live request is answered or abandoned by then), or
/// once its holder has not been heard from for `stale_ms` (0: never), when it fell silent. A
/// slot that was never sent (given up; or whose holder fell silent before its start, or before
/// it was ever decided for good: a holder never sends when it may have been taken for gone, nor
/// before its slot is firm) holds nothing back: the slot after it takes its place and waits for
/// what it waited for. (Counting a never-firm slot of a silent holder as sent would let the slots
/// after a whole run of them, one per window, all go at once when it counts as answered.) Nothing is sent before `paused_until` (a 429's
/// `Retry-After`), if any. Without a lease, a pause and staleness this is the in-process rule.
#[cfg_attr(not(test), allow(dead_code))]
#[allow(clippy::too_many_arguments)]
pub fn decide(
    chain: &[Past],
    again: Option<f64>,
    rate: Rate,
    lease_ms: f64,
    stale_ms: f64,
    paused_until: Option<f64>,
    now: f64,
) -> Decision {
    let earliest = paused_until.map_or(now, |p| now.max(p));
    let firm = |bound: f64, used: usize| Decision {
        at: earliest.max(bound),
        firm: true,
        used,
    };
    if chain.is_empty() {
        // Asked again once its wait was final (the slots it waited for are forgotten).
        return firm(again.unwrap_or(earliest), 0);
    }
    let mut used = 0;
    for b in chain {
        used += 1;
        if let Some(t) = b.answered {
            return firm(after(t, rate), used);
        }
        let quiet = b.heard.filter(|_| stale_ms > 0.0).map(|h| h + stale_ms);
        if b.dropped || quiet.is_some_and(|q| q <= now && (b.starts >= q || !b.firm)) {
            // Never sent: wait for what it waited for, or from its start if that was final.
            if used < chain.len() {
                continue;
            }
            return firm(b.starts, used);
        }
        let gone = quiet.map_or(b.starts + lease_ms, |q| q.min(b.starts + lease_ms));
        if gone <= now {
            return firm(after(gone, rate), used);
        }
        return Decision {
            at: earliest.max(after(b.starts, rate)),
            firm: false,
            used,
        };
    }
    // Not reached: the chain's last slot always decides.
    firm(earliest, used)
}

/// Whether slot `past` is forfeited: its send unanswered, its holder silent for `stale_ms` (0:
/// holders are never taken for gone) by `now`. Others may have given its place away meanwhile (the
/// slot after it took it, or counted it answered when its holder fell silent), so it is never
/// revived: its holder, asking about it again after a stall, is given a new slot, and its
/// heartbeat names it lost. `pkg/redis.lua`'s `forfeited`.
#[cfg_attr(not(test), allow(dead_code))]
pub fn forfeited(past: &Past, stale_ms: f64, now: f64) -> bool {
    stale_ms > 0.0 && past.answered.is_none() && past.heard.is_some_and(|h| h + stale_ms <= now)
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

    /// A slot as the store knows it: decided for good to start at `starts`, nothing else known yet.
    fn past(starts: f64) -> Past {
        Past {
            starts,
            firm: true,
            answered: None,
            heard: None,
            dropped: false,
        }
    }

    fn firm(at: f64, used: usize) -> Decision {
        Decision {
            at,
            firm: true,
            used,
        }
    }

    /// A holder that wakes from a stall past `stale` never gets back a slot whose place may have
    /// been given away; an answered slot, or a store that does not track holders, keeps its own.
    #[test]
    fn a_slot_whose_holder_fell_silent_unanswered_is_forfeited() {
        let heard = Past {
            heard: Some(100.0),
            ..past(50.0)
        };
        assert!(!forfeited(&heard, 300.0, 399.0));
        assert!(forfeited(&heard, 300.0, 400.0));
        assert!(!forfeited(&heard, 0.0, 9_000.0));
        let answered = Past {
            answered: Some(120.0),
            ..heard
        };
        assert!(!forfeited(&answered, 300.0, 9_000.0));
    }

    #[test]
    fn a_first_slot_goes_now_unless_paused() {
        assert_eq!(
            decide(&[], None, RATE, 1000.0, 0.0, None, 50.0),
            firm(50.0, 0)
        );
        let d = decide(&[], None, RATE, 1000.0, 0.0, Some(80.0), 50.0);
        assert_eq!(d, firm(80.0, 0));
    }

    #[test]
    fn an_answered_slot_frees_the_next_a_window_and_margin_later() {
        // Margin 5 ms: answered at 40 -> 145, whatever the time now (up to then).
        let before = [Past {
            answered: Some(40.0),
            ..past(0.0)
        }];
        let d = decide(&before, None, RATE, 1000.0, 0.0, None, 60.0);
        assert_eq!(d, firm(145.0, 1));
        let d = decide(&before, None, RATE, 1000.0, 0.0, None, 200.0);
        assert_eq!(d, firm(200.0, 1));
        // A pause beyond it wins.
        let d = decide(&before, None, RATE, 1000.0, 0.0, Some(300.0), 60.0);
        assert_eq!(d, firm(300.0, 1));
    }

    #[test]
    fn an_unanswered_slot_gives_a_lower_bound_until_its_lease_runs_out() {
        let before = [past(10.0)];
        // In flight: no sooner than if it were answered the moment it started.
        let d = decide(&before, None, RATE, 500.0, 0.0, None, 20.0);
        assert_eq!(
            d,
            Decision {
                at: 115.0,
                firm: false,
                used: 1
            }
        );
        // Its lease ran out at 510: taken as answered then.
        let d = decide(&before, None, RATE, 500.0, 0.0, None, 510.0);
        assert_eq!(d, firm(615.0, 1));
        // An endless lease (this process's own slots, whose answers it awaits) never runs out.
        let d = decide(&before, None, RATE, f64::INFINITY, 0.0, None, 1e12);
        assert_eq!(
            d,
            Decision {
                at: 1e12,
                firm: false,
                used: 1
            }
        );
    }

    #[test]
    fn a_silent_holder_costs_what_it_may_have_sent_and_no_more() {
        // Heard at 100, silent for 300 ms: gone at 400.
        let heard = |starts, dropped| Past {
            heard: Some(100.0),
            dropped,
            ..past(starts)
        };
        // Still within the 300 ms: alive, however long its lease.
        let d = decide(
            &[heard(50.0, false)],
            None,
            RATE,
            60_000.0,
            300.0,
            None,
            399.0,
        );
        assert!(!d.firm);
        // It may have sent from 50 until it fell silent: counted as answered at 400.
        let d = decide(
            &[heard(50.0, false)],
            None,
            RATE,
            60_000.0,
            300.0,
            None,
            400.0,
        );
        assert_eq!(d, firm(505.0, 1));
        // Its start came after it fell silent: it never sent, and the next slot takes its place
        // (here from the start it had, which was final: nothing earlier is kept).
        let d = decide(
            &[heard(450.0, false)],
            None,
            RATE,
            60_000.0,
            300.0,
            None,
            420.0,
        );
        assert_eq!(d, firm(450.0, 1));
        // ...or waits for what it was waiting for: a slot answered at 200.
        let answered = Past {
            answered: Some(200.0),
            ..past(0.0)
        };
        let chain = [heard(450.0, false), answered];
        let d = decide(&chain, None, RATE, 60_000.0, 300.0, None, 420.0);
        assert_eq!(d, firm(420.0, 2));
        // Never decided for good (it was waiting for a slot still unanswered): its holder could
        // not have sent it, so it never sent either, whenever its start; without this, each of a
        // run of such slots, one per window, counted as answered when its holder fell silent, and
        // the slots after them all went at once.
        let waiting = Past {
            firm: false,
            ..heard(50.0, false)
        };
        let d = decide(
            &[waiting, answered],
            None,
            RATE,
            60_000.0,
            300.0,
            None,
            420.0,
        );
        assert_eq!(d, firm(420.0, 2));
        // Given up unsent (released with sent: false): the same, however recently heard.
        let d = decide(
            &[heard(50.0, true)],
            None,
            RATE,
            60_000.0,
            300.0,
            None,
            120.0,
        );
        assert_eq!(d, firm(120.0, 1));
        // The lease still bounds a holder that keeps beating.
        let d = decide(&[heard(50.0, false)], None, RATE, 200.0, 300.0, None, 250.0);
        assert_eq!(d, firm(355.0, 1));
        // A store that does not track holders (0) never takes one for gone.
        let d = decide(
            &[heard(50.0, false)],
            None,
            RATE,
            60_000.0,
            0.0,
            None,
            9_000.0,
        );
        assert!(!d.firm);
    }

    #[test]
    fn a_slot_asked_again_after_its_final_wait_keeps_its_start() {
        let d = decide(&[], Some(700.0), RATE, 1000.0, 0.0, None, 650.0);
        assert_eq!(d, firm(700.0, 0));
        let d = decide(&[], Some(700.0), RATE, 1000.0, 0.0, None, 720.0);
        assert_eq!(d, firm(720.0, 0));
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
