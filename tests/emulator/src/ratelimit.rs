//! Sliding-window rate limiting, keyed by whatever the provider limits on (API key, import id, ...).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderName, HeaderValue};

/// A sliding log rather than fixed buckets: a client that bursts at a bucket edge must still be throttled,
/// which is what DRF's throttles (Dromo is a Django app) do too.
pub struct SlidingWindow {
    limit: usize,
    window: Duration,
    enabled: bool,
    hits: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl SlidingWindow {
    pub fn new(limit: usize, window: Duration, enabled: bool) -> Self {
        SlidingWindow {
            limit,
            window,
            enabled,
            hits: Mutex::new(HashMap::new()),
        }
    }

    /// Records a hit for `key`, or returns how long until one would be allowed. A refused hit is not
    /// recorded, so a client that keeps retrying too early is not punished beyond the window.
    pub fn check(&self, key: &str) -> Result<(), Duration> {
        if !self.enabled {
            return Ok(());
        }
        let now = Instant::now();
        let mut hits = self.hits.lock().unwrap();
        if hits.len() > 10_000 {
            // Keys are import ids: forget idle ones so a long benchmark does not grow the map forever.
            hits.retain(|_, log| log.back().is_some_and(|t| now - *t < self.window));
        }
        let log = hits.entry(key.to_string()).or_default();
        while log.front().is_some_and(|t| now - *t >= self.window) {
            log.pop_front();
        }
        if log.len() >= self.limit {
            let oldest = *log.front().expect("limit > 0");
            return Err((oldest + self.window).saturating_duration_since(now));
        }
        log.push_back(now);
        Ok(())
    }

    pub fn reset(&self) {
        self.hits.lock().unwrap().clear();
    }
}

/// Whole seconds for `Retry-After` (never 0, which some clients read as "retry now" and spin on).
pub fn retry_after_secs(wait: Duration) -> u64 {
    wait.as_millis().div_ceil(1000).max(1) as u64
}

/// Both headers a well-behaved client may read: `retry-after-ms` is exact (and what makes a small
/// `--time-scale` useful), `Retry-After` is the standard, coarser one.
pub fn retry_headers(wait: Duration) -> [(HeaderName, HeaderValue); 2] {
    let ms = wait.as_micros().div_ceil(1000).max(1) as u64;
    [
        (
            HeaderName::from_static("retry-after"),
            HeaderValue::from(retry_after_secs(wait)),
        ),
        (
            HeaderName::from_static("retry-after-ms"),
            HeaderValue::from(ms),
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_then_recovers() {
        let w = SlidingWindow::new(2, Duration::from_millis(80), true);
        assert!(w.check("a").is_ok());
        assert!(w.check("a").is_ok());
        let wait = w.check("a").unwrap_err();
        assert!(wait <= Duration::from_millis(80));
        assert!(w.check("b").is_ok(), "keys are independent");
        std::thread::sleep(wait + Duration::from_millis(5));
        assert!(w.check("a").is_ok());
    }

    #[test]
    fn disabled_never_limits() {
        let w = SlidingWindow::new(1, Duration::from_secs(60), false);
        for _ in 0..5 {
            assert!(w.check("a").is_ok());
        }
    }

    #[test]
    fn retry_after_rounds_up() {
        assert_eq!(retry_after_secs(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_secs(Duration::from_millis(1001)), 2);
        assert_eq!(retry_after_secs(Duration::from_secs(60)), 60);
        let [(_, secs), (_, ms)] = retry_headers(Duration::from_micros(599_200));
        assert_eq!(secs, "1");
        assert_eq!(ms, "600");
    }
}
