//! Retry policy: which failures are worth another try, and how long to wait first.
//!
//! One decision, `next`, for every loop that retries (API calls, uploads, result downloads), as
//! pure functions so the rules read in one place and are tested natively. The shape follows the
//! Stainless SDKs (openai-node): 2 retries, server hints first, else capped exponential backoff.

use crate::prelude::*;
use crate::text::{parse_decimal, small_uint};

/// The most retries a client or a call may ask for: more would only hammer a failing API.
pub const MAX_RETRIES: u32 = 10;

/// What is being retried: it decides which failures may have had an effect worth not repeating.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Op {
    /// Reads (and idempotent writes such as PATCH or DELETE): retry every transient failure.
    Read,
    /// Creates that carry no data (the file is uploaded afterwards): retry like a read. If a lost
    /// answer had in fact created an import, that one holds nothing; not retrying would leave the
    /// same orphan *and* fail the caller.
    CreateEmpty,
    /// Creates that carry the data (`initial_data`): retry only answers that prove the server did
    /// nothing (408, 429). A timeout or a 5xx may have imported the rows already, and a retry
    /// would import them twice.
    CreateWithData,
    /// A presigned PUT: sent again from byte 0, which is harmless until the storage accepts one.
    Upload,
}

/// How an attempt failed, as far as retrying is concerned.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Failure {
    /// No answer: refused, reset, DNS, our timeout.
    NoAnswer,
    /// An answer with this status.
    Status(u16),
    /// A success status whose body was cut off or not JSON (a proxy's HTML page, a reset mid-body).
    BadBody,
    /// Nothing another try could change (an expired URL, a refused redirect, bad input, abort).
    Final,
}

/// Statuses that say "try again": timeout, lock conflict, throttled, server-side failure.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || status >= 500
}

/// Whether `failure` of `op` is worth another try at all.
pub fn worth_retrying(op: Op, failure: Failure) -> bool {
    match (op, failure) {
        (_, Failure::Final) => false,
        (Op::CreateWithData, Failure::Status(s)) => matches!(s, 408 | 429),
        (Op::CreateWithData, _) => false,
        // A 409 from storage is an upload conflict, not a lock to wait out.
        (Op::Upload, Failure::Status(s)) => s != 409 && retryable_status(s),
        (_, Failure::Status(s)) => retryable_status(s),
        (_, Failure::NoAnswer | Failure::BadBody) => true,
    }
}

/// What an answer says about retrying it: its `retry-after-ms`, `retry-after` and
/// `x-should-retry` headers.
#[derive(Default)]
pub struct Hints {
    pub retry_after_ms: Option<String>,
    pub retry_after: Option<String>,
    /// `x-should-retry: true|false` (the Stainless SDKs' convention): the server knows best, e.g.
    /// a proxy that refused a request before it reached the API says a retry is safe.
    pub should_retry: Option<String>,
}

impl Hints {
    /// Reads the hints through `header(name)`.
    pub fn from(header: impl Fn(&str) -> Option<String>) -> Hints {
        Hints {
            retry_after_ms: header("retry-after-ms"),
            retry_after: header("retry-after"),
            should_retry: header("x-should-retry"),
        }
    }
}

/// The wait before retry number `attempt` (0 = the first), or `None` to give up: the failure is
/// not worth retrying (unless the answer said it is), or `max_retries` are spent.
pub fn next(
    op: Op,
    failure: Failure,
    attempt: u32,
    max_retries: u32,
    hints: &Hints,
    now_ms: f64,
    jitter: f64,
) -> Option<f64> {
    let worth = match hints.should_retry.as_deref() {
        Some("true") => failure != Failure::Final,
        Some("false") => false,
        _ => worth_retrying(op, failure),
    };
    (attempt < max_retries.min(MAX_RETRIES) && worth).then(|| {
        delay_ms(
            attempt,
            hints.retry_after_ms.as_deref(),
            hints.retry_after.as_deref(),
            now_ms,
            jitter,
        )
    })
}

/// Longest server-requested wait we honour; beyond it we fall back to our own backoff.
const MAX_HINT_MS: f64 = 60_000.0;
const BASE_MS: f64 = 500.0;
const CAP_MS: f64 = 8_000.0;

/// Milliseconds to wait before retry number `attempt` (0 = the first retry).
///
/// `retry_after_ms` and `retry_after` are the raw header values; `now_ms` is the current epoch time
/// (for HTTP-date hints) and `jitter` a number in [0, 1).
pub fn delay_ms(
    attempt: u32,
    retry_after_ms: Option<&str>,
    retry_after: Option<&str>,
    now_ms: f64,
    jitter: f64,
) -> f64 {
    if let Some(ms) = retry_after_ms.and_then(|v| parse_decimal(v.trim())) {
        if (0.0..=MAX_HINT_MS).contains(&ms) {
            return ms;
        }
    }
    if let Some(hint) = retry_after.and_then(|v| parse_retry_after(v, now_ms)) {
        if (0.0..=MAX_HINT_MS).contains(&hint) {
            return hint;
        }
    }
    backoff_ms(attempt, jitter)
}

/// 0.5 s * 2^attempt, capped at 8 s, minus up to 25 % jitter so a crowd of clients spreads out.
pub fn backoff_ms(attempt: u32, jitter: f64) -> f64 {
    let exp = BASE_MS * f64::from(1u32 << attempt.min(16));
    exp.min(CAP_MS) * (1.0 - 0.25 * jitter.clamp(0.0, 1.0))
}

/// `Retry-After` is either delta-seconds or an HTTP date.
fn parse_retry_after(value: &str, now_ms: f64) -> Option<f64> {
    let v = value.trim();
    if let Some(secs) = parse_decimal(v) {
        return Some(secs * 1000.0);
    }
    http_date_ms(v).map(|t| (t - now_ms).max(0.0))
}

/// Parses the IMF-fixdate form (`Sun, 06 Nov 1994 08:49:37 GMT`), the only one servers send today.
pub fn http_date_ms(v: &str) -> Option<f64> {
    let mut parts = v.split_ascii_whitespace();
    let _weekday = parts.next()?;
    let num = |s: &str| small_uint(s).map(i64::from);
    let day = num(parts.next()?)?;
    let month = match parts.next()? {
        "Jan" => 1,
        "Feb" => 2,
        "Mar" => 3,
        "Apr" => 4,
        "May" => 5,
        "Jun" => 6,
        "Jul" => 7,
        "Aug" => 8,
        "Sep" => 9,
        "Oct" => 10,
        "Nov" => 11,
        "Dec" => 12,
        _ => return None,
    };
    let year = num(parts.next()?)?;
    let hms = parts.next()?.as_bytes();
    // `HH:MM:SS`, by position: no string splitting for one fixed layout.
    if hms.len() != 8 || hms[2] != b':' || hms[5] != b':' {
        return None;
    }
    let two = |i: usize| num(core::str::from_utf8(hms.get(i..i + 2)?).ok()?);
    let (h, m, s) = (two(0)?, two(3)?, two(6)?);
    if parts.next()? != "GMT" {
        return None;
    }
    let days = days_from_civil(year, month, day);
    Some(((days * 86_400 + h * 3600 + m * 60 + s) * 1000) as f64)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_statuses_retry() {
        for s in [408, 409, 429, 500, 502, 503, 504] {
            assert!(retryable_status(s), "{s}");
        }
        for s in [200, 400, 401, 403, 404, 422] {
            assert!(!retryable_status(s), "{s}");
        }
    }

    #[test]
    fn which_failures_retry_for_which_operation() {
        use Failure::*;
        for op in [Op::Read, Op::CreateEmpty] {
            for f in [
                NoAnswer,
                BadBody,
                Status(408),
                Status(409),
                Status(429),
                Status(503),
            ] {
                assert!(worth_retrying(op, f), "{op:?} {f:?}");
            }
            for f in [Final, Status(400), Status(401), Status(404), Status(302)] {
                assert!(!worth_retrying(op, f), "{op:?} {f:?}");
            }
        }
        // Rows may already be imported after anything but a refusal that proves nothing happened.
        assert!(worth_retrying(Op::CreateWithData, Status(429)));
        assert!(worth_retrying(Op::CreateWithData, Status(408)));
        for f in [NoAnswer, BadBody, Status(500), Status(409), Final] {
            assert!(!worth_retrying(Op::CreateWithData, f), "{f:?}");
        }
        assert!(worth_retrying(Op::Upload, NoAnswer));
        assert!(worth_retrying(Op::Upload, Status(503)));
        assert!(!worth_retrying(Op::Upload, Status(403)));
        assert!(!worth_retrying(Op::Upload, Status(409)));
        assert!(!worth_retrying(Op::Upload, Final));
    }

    #[test]
    fn next_counts_attempts_and_caps_them() {
        let no = &Hints::default();
        let read = |attempt, max| next(Op::Read, Failure::NoAnswer, attempt, max, no, 0.0, 0.0);
        assert_eq!(read(0, 2), Some(500.0));
        assert_eq!(read(1, 2), Some(1000.0));
        assert_eq!(read(2, 2), None);
        assert_eq!(next(Op::Read, Failure::Final, 0, 2, no, 0.0, 0.0), None);
        // However many retries are asked for, ten is the most.
        assert!(read(9, 1000).is_some());
        assert_eq!(read(10, 1000), None);
        // Uploads honour the server's hint like every other call.
        let hint = Hints {
            retry_after_ms: Some("40".into()),
            ..Hints::default()
        };
        let busy = Failure::Status(503);
        assert_eq!(next(Op::Upload, busy, 0, 2, &hint, 0.0, 0.0), Some(40.0));
    }

    #[test]
    fn x_should_retry_overrides_the_policy() {
        let says = |v: &str| Hints {
            should_retry: Some(v.into()),
            ..Hints::default()
        };
        // A rows create is not retried after a 503, unless the answer says nothing happened.
        let busy = Failure::Status(503);
        let none = &Hints::default();
        assert_eq!(next(Op::CreateWithData, busy, 0, 2, none, 0.0, 0.0), None);
        assert!(next(Op::CreateWithData, busy, 0, 2, &says("true"), 0.0, 0.0).is_some());
        assert_eq!(next(Op::Read, busy, 0, 2, &says("false"), 0.0, 0.0), None);
        // It never lifts the cap, nor makes a final failure retryable.
        assert_eq!(next(Op::Read, busy, 2, 2, &says("true"), 0.0, 0.0), None);
        let final_ = Failure::Final;
        assert_eq!(next(Op::Read, final_, 0, 2, &says("true"), 0.0, 0.0), None);
    }

    #[test]
    fn hints_win_when_reasonable() {
        assert_eq!(delay_ms(0, Some("250"), Some("10"), 0.0, 0.0), 250.0);
        assert_eq!(delay_ms(0, None, Some("3"), 0.0, 0.0), 3000.0);
        // A hint over 60 s is ignored in favour of backoff.
        assert_eq!(delay_ms(0, None, Some("120"), 0.0, 0.0), 500.0);
        let now = http_date_ms("Sun, 06 Nov 1994 08:49:37 GMT").unwrap();
        assert_eq!(
            delay_ms(0, None, Some("Sun, 06 Nov 1994 08:49:42 GMT"), now, 0.0),
            5000.0
        );
    }

    #[test]
    fn backoff_doubles_and_caps() {
        assert_eq!(backoff_ms(0, 0.0), 500.0);
        assert_eq!(backoff_ms(1, 0.0), 1000.0);
        assert_eq!(backoff_ms(4, 0.0), 8000.0);
        assert_eq!(backoff_ms(10, 0.0), 8000.0);
        assert_eq!(backoff_ms(0, 1.0), 375.0);
    }

    #[test]
    fn http_dates_parse() {
        assert_eq!(http_date_ms("Thu, 01 Jan 1970 00:00:00 GMT"), Some(0.0));
        assert_eq!(
            http_date_ms("Sun, 06 Nov 1994 08:49:37 GMT"),
            Some(784_111_777_000.0)
        );
        assert_eq!(http_date_ms("garbage"), None);
    }
}
