//! The Redis store's script (`pkg/redis.lua`) against the limiter's rule in Rust
//! (`limit_rule::decide`) on random arrivals: slots taken, asked about again, released, windows
//! paused, time moving on. Each step runs the script in a real redis-server (started here on a
//! loopback port) at a time the test sets through the script's test-only clock argument, and
//! must give exactly what `decide` gives for the same history. Also the script on Redis's own
//! clock, and its keys' expiry. Native only; skipped (saying so) without redis-server.
#![cfg(not(target_arch = "wasm32"))]
#![allow(clippy::disallowed_macros)] // tests never ship: formatting is fine here (see clippy.toml)

#[path = "../src/limit_rule.rs"]
mod limit_rule;
#[path = "support/redis.rs"]
mod redis;
#[path = "support/rng.rs"]
mod rng;

use std::time::{Duration, Instant};

use limit_rule::{decide, forfeited, margin_ms, Decision, Past, Rate};
use redis::{Conn, Reply};
use rng::Rng;

const SCRIPT: &str = include_str!("../pkg/redis.lua");

/// What the script answered a `take`.
#[derive(Debug, PartialEq)]
struct Took {
    slot: usize,
    wait_ms: f64,
    firm: bool,
}

/// The script, loaded once, run with `EVALSHA` as the package runs it.
struct Script {
    conn: Conn,
    sha: String,
    /// The incarnation of each key's hash, as its takes answered (the slots' own, here).
    inc: std::collections::HashMap<String, String>,
    /// Keep every key from expiring (`PERSIST` after each call): for runs on the test's clock.
    /// Redis expires keys on its own clock, which the test does not move: a TTL the script sets
    /// from the test's times can be a few ms of real time, and a step that the machine slows by
    /// that much would lose the hash (CI saw it: a slot came back as slot 1 of a new hash).
    /// Expiry is checked on Redis's own clock, in the tests that use it.
    keep: bool,
}

impl Script {
    fn load(port: u16) -> Script {
        let mut conn = Conn::open(port).expect("connect to redis-server");
        let sha = conn.cmd(&["SCRIPT", "LOAD", SCRIPT]).text().to_string();
        Script {
            conn,
            sha,
            inc: Default::default(),
            keep: false,
        }
    }

    fn run(&mut self, key: &str, args: &[String]) -> Reply {
        let mut cmd = vec!["EVALSHA", &self.sha, "1", key];
        cmd.extend(args.iter().map(String::as_str));
        let reply = self.conn.cmd(&cmd);
        assert!(!matches!(reply, Reply::Error(_)), "{reply:?}");
        if self.keep {
            self.conn.cmd(&["PERSIST", key]);
        }
        reply
    }

    /// `take`: a new slot (`slot` None) or that slot again; `now` None reads Redis's clock.
    #[allow(clippy::too_many_arguments)]
    fn take(
        &mut self,
        key: &str,
        rate: Rate,
        lease: f64,
        stale: f64,
        slot: Option<usize>,
        now: Option<f64>,
    ) -> Took {
        let args = [
            "take".to_string(),
            rate.max.to_string(),
            rate.window_ms.to_string(),
            margin_ms(rate).to_string(),
            lease.to_string(),
            stale.to_string(),
            slot.map_or(String::new(), |k| k.to_string()),
            self.inc(key),
            now.map_or(String::new(), |t| t.to_string()),
        ];
        let reply = self.run(key, &args);
        let items = reply.items();
        self.inc
            .insert(key.to_string(), items[3].text().to_string());
        Took {
            slot: items[0].int() as usize,
            wait_ms: items[1].text().parse().expect("a decimal wait"),
            firm: items[2].int() == 1,
        }
    }

    /// The incarnation the slots of `key` were taken in, as last answered.
    fn inc(&self, key: &str) -> String {
        self.inc.get(key).cloned().unwrap_or_default()
    }

    /// `drop`: slot `slot` is released without having been sent.
    fn drop_unsent(&mut self, key: &str, slot: usize) -> i64 {
        let args = ["drop".to_string(), slot.to_string(), self.inc(key)];
        self.run(key, &args).int()
    }

    /// `beat`: the holder of `slots` is alive; the ones no longer kept, or forfeited, come back.
    fn beat(&mut self, key: &str, slots: &[usize], now: f64, stale: f64) -> Vec<usize> {
        let mut args = vec![
            "beat".to_string(),
            now.to_string(),
            self.inc(key),
            stale.to_string(),
        ];
        args.extend(slots.iter().map(|k| k.to_string()));
        let reply = self.run(key, &args);
        let mut lost: Vec<usize> = reply.items().iter().map(|r| r.int() as usize).collect();
        lost.sort_unstable();
        lost
    }

    /// `answer`: slot `slot` was answered `ago` ms before the call (0: as it runs).
    fn answer(&mut self, key: &str, rate: Rate, slot: usize, now: Option<f64>, ago: f64) -> i64 {
        let args = [
            "answer".to_string(),
            slot.to_string(),
            rate.window_ms.to_string(),
            margin_ms(rate).to_string(),
            self.inc(key),
            now.map_or(String::new(), |t| t.to_string()),
            ago.to_string(),
        ];
        self.run(key, &args).int()
    }

    fn pause(&mut self, key: &str, ms: f64, now: Option<f64>) {
        let args = [
            "pause".to_string(),
            ms.to_string(),
            now.map_or(String::new(), |t| t.to_string()),
        ];
        assert_eq!(self.run(key, &args).int(), 1);
    }
}

/// The same history, kept by the test and decided by `decide`.
struct Model {
    /// Slot k (from 1) at index k - 1.
    slots: Vec<Past>,
    /// Slots whose fields the script has dropped (the one slot waiting for them went ahead).
    dropped: Vec<bool>,
    paused_until: Option<f64>,
}

impl Model {
    /// A new slot's number.
    fn push(&mut self) -> usize {
        self.slots.push(Past {
            starts: 0.0,
            firm: false,
            answered: None,
            heard: None,
            dropped: false,
        });
        self.dropped.push(false);
        self.slots.len()
    }

    /// Decides slot `k` (`again`: asked about once more) as `decide` does, over what the script
    /// still keeps of the slots before it, and records the decision as the script does.
    fn decide(
        &mut self,
        k: usize,
        again: bool,
        rate: Rate,
        lease: f64,
        stale: f64,
        now: f64,
    ) -> Decision {
        let mut chain = Vec::new();
        let mut numbers = Vec::new();
        let mut b = k;
        while b > rate.max && !self.dropped[b - rate.max - 1] {
            b -= rate.max;
            chain.push(self.slots[b - 1]);
            numbers.push(b);
        }
        let own = again.then(|| self.slots[k - 1].starts);
        let d = decide(&chain, own, rate, lease, stale, self.paused_until, now);
        if d.firm {
            for &u in &numbers[..d.used] {
                self.dropped[u - 1] = true;
            }
        }
        self.slots[k - 1].starts = d.at;
        self.slots[k - 1].firm |= d.firm;
        self.slots[k - 1].heard = Some(now);
        d
    }
}

#[test]
fn the_script_decides_as_the_rule_on_random_arrivals() {
    let Some(server) = redis::start() else { return };
    let mut script = Script::load(server.port);
    script.keep = true;
    let started = Instant::now();
    let mut steps = 0;
    for seed in 0..300u64 {
        let mut rng = Rng(seed);
        // Windows of whole hundreds of ms keep every time a whole number, which the script's
        // three decimals carry exactly: any difference is a difference of rule.
        let rate = Rate {
            max: rng.pick(&[1, 2, 3, 5, 20]),
            window_ms: rng.pick(&[1_000.0, 2_500.0, 10_000.0, 60_000.0]),
        };
        let lease = rng.pick(&[50.0, 700.0, 3_000.0, 60_600.0]);
        // How long a holder may be silent before it counts as gone (0: never).
        let stale = rng.pick(&[0.0, 300.0, 3_000.0]);
        let key = format!("props:{seed}");
        let mut now = 1_700_000_000_000.0 + rng.below(1000) as f64;
        let mut model = Model {
            slots: Vec::new(),
            dropped: Vec::new(),
            paused_until: None,
        };
        // Taken, unreleased slots.
        let mut held: Vec<usize> = Vec::new();
        for _ in 0..80 {
            steps += 1;
            let step = rng.below(100);
            if step < 35 || held.is_empty() {
                let k = model.push();
                let d = model.decide(k, false, rate, lease, stale, now);
                let took = script.take(&key, rate, lease, stale, None, Some(now));
                let want = Took {
                    slot: k,
                    wait_ms: d.at - now,
                    firm: d.firm,
                };
                assert_eq!(took, want, "seed {seed}: take at {now}");
                held.push(k);
            } else if step < 55 {
                // Asked about again: still waiting, or right before sending.
                let i = rng.below(held.len());
                let asked = held[i];
                // A slot given up for lost (the one after it went ahead) queues again as new; so
                // does one whose holder was silent past `stale` (forfeited: it was never sent,
                // since its holder asks about it, and is given up).
                let (k, again) = if model.dropped[asked - 1] {
                    let k = model.push();
                    held[i] = k;
                    (k, false)
                } else if forfeited(&model.slots[asked - 1], stale, now) {
                    model.slots[asked - 1].dropped = true;
                    let k = model.push();
                    held[i] = k;
                    (k, false)
                } else {
                    (asked, true)
                };
                let d = model.decide(k, again, rate, lease, stale, now);
                let took = script.take(&key, rate, lease, stale, Some(asked), Some(now));
                let want = Took {
                    slot: k,
                    wait_ms: d.at - now,
                    firm: d.firm,
                };
                assert_eq!(took, want, "seed {seed}: slot {asked} again at {now}");
            } else if step < 75 {
                // Released: answered now, or a little earlier (a busy holder sends the call
                // late), though never before the slot could start.
                let k = held.swap_remove(rng.below(held.len()));
                let known = !model.dropped[k - 1];
                let ago = rng.pick(&[0.0, 0.0, 3.0, 50.0, 5_000.0]);
                assert_eq!(
                    script.answer(&key, rate, k, Some(now), ago),
                    i64::from(known),
                    "seed {seed}: answer {k} {ago} ms ago"
                );
                let slot = &mut model.slots[k - 1];
                slot.answered = Some(if ago > 0.0 {
                    (now - ago).max(slot.starts)
                } else {
                    now
                });
            } else if step < 85 {
                // Released without having been sent.
                let k = held.swap_remove(rng.below(held.len()));
                let known = !model.dropped[k - 1];
                assert_eq!(
                    script.drop_unsent(&key, k),
                    i64::from(known),
                    "seed {seed}: drop {k}"
                );
                model.slots[k - 1].dropped = true;
            } else if step < 93 {
                // A heartbeat from the holder of some of the held slots.
                let some: Vec<usize> = held.iter().copied().filter(|_| rng.below(2) == 0).collect();
                let gone =
                    |k: usize| model.dropped[k - 1] || forfeited(&model.slots[k - 1], stale, now);
                let mut lost: Vec<usize> = some.iter().copied().filter(|&k| gone(k)).collect();
                lost.sort_unstable();
                for &k in &some {
                    if !lost.contains(&k) {
                        model.slots[k - 1].heard = Some(now);
                    }
                }
                assert_eq!(
                    script.beat(&key, &some, now, stale),
                    lost,
                    "seed {seed}: beat {some:?}"
                );
            } else {
                let ms = rng.pick(&[0.0, 100.0, rate.window_ms, 5_000.0]);
                script.pause(&key, ms, Some(now));
                model.paused_until = Some(model.paused_until.unwrap_or(f64::MIN).max(now + ms));
            }
            now += rng.pick(&[
                0.0,
                1.0,
                7.0,
                50.0,
                333.0,
                rate.window_ms / 2.0,
                rate.window_ms,
                lease,
                stale,
            ]);
        }
        // Bounded: 300 short histories take about a second; far more means something hangs.
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "too slow at seed {seed}"
        );
    }
    eprintln!("{steps} steps agreed in {:?}", started.elapsed());
}

#[test]
fn on_redis_time_a_released_slot_frees_the_next_and_windows_expire() {
    let Some(server) = redis::start() else { return };
    let mut script = Script::load(server.port);
    let rate = Rate {
        max: 1,
        window_ms: 200.0,
    };
    let lease = 100.0;
    let first = script.take("clock", rate, lease, 0.0, None, None);
    assert_eq!(
        first,
        Took {
            slot: 1,
            wait_ms: 0.0,
            firm: true
        }
    );
    // The second must wait for the first's answer.
    let second = script.take("clock", rate, lease, 0.0, None, None);
    assert_eq!((second.slot, second.firm), (2, false));
    let t0 = Instant::now();
    assert_eq!(script.answer("clock", rate, 1, None, 0.0), 1);
    let again = script.take("clock", rate, lease, 0.0, Some(2), None);
    let elapsed = t0.elapsed().as_secs_f64() * 1000.0;
    // A window plus the 5 ms margin after the answer, less what has passed since.
    assert!(again.firm);
    assert!(
        again.wait_ms <= 205.0 && again.wait_ms >= 205.0 - elapsed - 1.0,
        "{again:?}"
    );
    let mut conn = Conn::open(server.port).unwrap();
    let ttl = conn.cmd(&["PTTL", "clock"]).int();
    assert!(
        ttl > 0 && ttl <= (205.0 + lease + 205.0) as i64 + 2,
        "TTL {ttl}"
    );
    // Nothing is kept once nothing can be held back: the key goes by itself.
    let deadline = Instant::now() + Duration::from_secs(5);
    while conn.cmd(&["EXISTS", "clock"]).int() == 1 {
        assert!(Instant::now() < deadline, "the window's key never expired");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn a_slot_number_from_before_redis_lost_the_window_is_never_taken_for_a_new_one() {
    let Some(server) = redis::start() else { return };
    let mut script = Script::load(server.port);
    let mut admin = Conn::open(server.port).unwrap();
    let rate = Rate {
        max: 1,
        window_ms: 1_000.0,
    };
    let (lease, stale) = (60_000.0, 3_000.0);
    let now = 1_700_000_000_000.0;
    for k in 1..=3 {
        assert_eq!(
            script
                .take("lost", rate, lease, stale, None, Some(now))
                .slot,
            k
        );
    }
    let before = script.inc("lost");
    // Redis restarts without persistence (or someone flushes it); other processes take slots 1
    // to 3 of a new hash.
    admin.cmd(&["DEL", "lost"]);
    let mut other = Script::load(server.port);
    for k in 1..=3 {
        assert_eq!(
            other.take("lost", rate, lease, stale, None, Some(now)).slot,
            k
        );
    }
    assert_ne!(other.inc("lost"), before);
    // The old holder of slot 2 asks about it again: queued anew as slot 4, not handed the other
    // process's slot 2.
    let again = script.take("lost", rate, lease, stale, Some(2), Some(now + 10.0));
    assert_eq!(again.slot, 4);
    // Its answer to old slot 3 and its heartbeat for old slot 1 touch nothing of the new hash.
    script.inc.insert("lost".into(), before.clone());
    assert_eq!(script.answer("lost", rate, 3, Some(now + 20.0), 0.0), 0);
    assert_eq!(script.drop_unsent("lost", 1), 0);
    assert_eq!(script.beat("lost", &[1, 2], now + 20.0, 0.0), vec![1, 2]);
    assert_eq!(admin.cmd(&["HEXISTS", "lost", "a3"]).int(), 0);
    assert_eq!(admin.cmd(&["HEXISTS", "lost", "v1"]).int(), 0);
}
