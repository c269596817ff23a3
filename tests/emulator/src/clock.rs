//! Time helpers shared by every emulated provider.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use time::format_description::BorrowedFormatItem;
use time::macros::format_description;
use time::OffsetDateTime;

/// Every emulated duration goes through this, so a suite can live through a "minute" of rate limiting
/// or a "30 minute" URL lifetime in a fraction of a second without the code paths changing.
#[derive(Clone, Copy, Debug)]
pub struct TimeScale(f64);

impl TimeScale {
    pub fn new(factor: f64) -> Self {
        assert!(factor.is_finite() && factor > 0.0, "time scale must be > 0");
        TimeScale(factor)
    }

    pub fn factor(self) -> f64 {
        self.0
    }

    /// Scales a duration stated in the provider's documentation (in real seconds).
    pub fn secs(self, documented_secs: f64) -> Duration {
        Duration::from_secs_f64(documented_secs * self.0)
    }
}

/// Wall clock as a Unix duration; presigned URLs carry wall-clock dates, so monotonic time won't do.
pub fn unix_now() -> Duration {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
}

const RFC3339_MICROS: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
const RFC3339_MILLIS: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
const RFC3339_SECS: &[BorrowedFormatItem<'static>] =
    format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
const AMZ_DATE: &[BorrowedFormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

fn utc(at: Duration) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(at.as_nanos() as i128)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Django REST framework renders datetimes with microseconds and a `Z`; clients must cope with that,
/// not only with the whole-second form shown in the OpenAPI examples.
pub fn rfc3339_micros(at: Duration) -> String {
    utc(at).format(RFC3339_MICROS).unwrap_or_default()
}

/// JavaScript's `Date.prototype.toISOString()` form (milliseconds), which Node backends such as
/// Exa's emit.
pub fn rfc3339_millis(at: Duration) -> String {
    utc(at).format(RFC3339_MILLIS).unwrap_or_default()
}

/// S3 reports `Expires`/`ServerTime` in whole seconds.
pub fn rfc3339_secs(at: Duration) -> String {
    utc(at).format(RFC3339_SECS).unwrap_or_default()
}

/// `X-Amz-Date` form (`20230227T160315Z`).
pub fn amz_date(at: Duration) -> String {
    utc(at).format(AMZ_DATE).unwrap_or_default()
}

/// Parses an `X-Amz-Date` back to Unix seconds; `None` for anything malformed.
pub fn parse_amz_date(s: &str) -> Option<u64> {
    let dt = time::PrimitiveDateTime::parse(s, AMZ_DATE).ok()?;
    u64::try_from(dt.assume_utc().unix_timestamp()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip() {
        let at = Duration::from_millis(1_677_513_795_123);
        assert_eq!(amz_date(at), "20230227T160315Z");
        assert_eq!(parse_amz_date("20230227T160315Z"), Some(1_677_513_795));
        assert_eq!(rfc3339_secs(at), "2023-02-27T16:03:15Z");
        assert_eq!(rfc3339_micros(at), "2023-02-27T16:03:15.123000Z");
        assert_eq!(rfc3339_millis(at), "2023-02-27T16:03:15.123Z");
        assert_eq!(parse_amz_date("2023-02-27"), None);
    }

    #[test]
    fn scale_multiplies() {
        assert_eq!(TimeScale::new(0.01).secs(60.0), Duration::from_millis(600));
    }
}
