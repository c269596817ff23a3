//! Pagination maths. Pure, so it is tested natively.
//!
//! Dromo's documented `next` link has a doubled path (`/api/v1/api/v1/...`) and could point at any
//! origin, so it is never followed: the next offset is computed from what the page says.

use crate::text::is_whole;

/// Dromo's page-size bounds.
pub const MAX_LIMIT: u64 = 1000;
pub const DEFAULT_LIMIT: u64 = 100;

/// The offset of the page after one that started at `offset` and returned `returned` of `count`
/// items, or `None` on the last page. Uses what was returned (not the requested limit), so a
/// server that caps the page size lower than asked never makes us skip items.
pub fn next_offset(offset: u64, returned: u64, count: u64) -> Option<u64> {
    let next = offset.checked_add(returned)?;
    (returned > 0 && next < count).then_some(next)
}

/// Checks a requested `limit`: an integer from 1 to `MAX_LIMIT`.
pub fn check_limit(limit: f64) -> Result<u64, &'static str> {
    if !is_whole(limit) || !(1.0..=MAX_LIMIT as f64).contains(&limit) {
        return Err("must be an integer from 1 to 1000");
    }
    Ok(limit as u64)
}

/// Checks a requested `offset`: a non-negative integer.
pub fn check_offset(offset: f64) -> Result<u64, &'static str> {
    if !is_whole(offset) || !(0.0..=9_007_199_254_740_991.0).contains(&offset) {
        return Err("must be a non-negative integer");
    }
    Ok(offset as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_offsets() {
        assert_eq!(next_offset(0, 10, 25), Some(10));
        assert_eq!(next_offset(10, 10, 25), Some(20));
        assert_eq!(next_offset(20, 5, 25), None);
        assert_eq!(
            next_offset(0, 0, 25),
            None,
            "an empty page ends the walk even if count disagrees"
        );
        assert_eq!(next_offset(0, 100, 100), None);
        // Server capped the page at 50 though 100 were asked: continue from 50, not 100.
        assert_eq!(next_offset(0, 50, 120), Some(50));
        assert_eq!(next_offset(u64::MAX, 1, u64::MAX), None);
    }

    #[test]
    fn limits_and_offsets() {
        assert_eq!(check_limit(1.0), Ok(1));
        assert_eq!(check_limit(1000.0), Ok(1000));
        assert!(check_limit(0.0).is_err());
        assert!(check_limit(1001.0).is_err());
        assert!(check_limit(2.5).is_err());
        assert!(check_limit(f64::NAN).is_err());
        assert_eq!(check_offset(0.0), Ok(0));
        assert!(check_offset(-1.0).is_err());
        assert!(check_offset(1.5).is_err());
    }
}
