//! Retry policy: which failures are worth another try, and how long to wait first.
//!
//! Pure functions so the rules read in one place and are tested natively. The shape follows the
//! Stainless SDKs (openai-node): 2 retries, server hints first, else capped exponential backoff.

use crate::text::parse_decimal;

/// Statuses that say "try again": timeout, lock conflict, throttled, server-side failure.
pub fn retryable_status(status: u16) -> bool {
    matches!(status, 408 | 409 | 429) || status >= 500
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
    let exp = BASE_MS * 2f64.powi(attempt.min(16) as i32);
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
    let mut parts = v.split_whitespace();
    let _weekday = parts.next()?;
    let day: i64 = parts.next()?.parse().ok()?;
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
    let year: i64 = parts.next()?.parse().ok()?;
    let mut hms = parts.next()?.split(':').map(|p| p.parse::<i64>().ok());
    let (h, m, s) = (hms.next()??, hms.next()??, hms.next()??);
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
