//! S3-looking presigned URLs, signed with a per-process secret.
//!
//! Real SigV4 is not reproduced: nothing on the client side can (or should) verify it, but the URL shape,
//! the `X-Amz-Expires` lifetime and "any edit breaks the signature" are what clients actually meet.

use std::collections::HashMap;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::clock;

/// The access key shown in `X-Amz-Credential`; a fake one so a leaked URL never looks like a real credential.
pub const ACCESS_KEY: &str = "EMULATORKEY";
pub const REGION: &str = "us-west-2";

tokio::task_local! {
    /// Fault injection (`clock_skew`): seconds added to `X-Amz-Date` for URLs presigned in this task.
    pub static SKEW_SECS: i64;
}

/// S3 refuses requests signed more than 15 minutes in the future (`RequestTimeTooSkewed`).
pub const MAX_SKEW_SECS: u64 = 900;

pub struct Presigner {
    secret: [u8; 32],
}

/// Why a presigned request was refused; each maps to the S3 error a client would get.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Missing parameters or a signature that does not match (a tampered URL).
    Signature,
    /// Well signed but past `X-Amz-Date + X-Amz-Expires`.
    Expired { expires_secs: u64, expired_at: u64 },
    /// Signed more than [`MAX_SKEW_SECS`] in the future (a signer with a skewed clock).
    TooSkewed { signed_at: u64 },
}

impl Default for Presigner {
    fn default() -> Self {
        Self::new()
    }
}

impl Presigner {
    /// A fresh random secret per process: URLs from a previous run must not validate after a restart.
    pub fn new() -> Self {
        let mut secret = [0u8; 32];
        secret[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        secret[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Presigner { secret }
    }

    fn signature(&self, method: &str, path: &str, date: &str, expires: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.secret).expect("any key length");
        mac.update(format!("{method}\n{path}\n{date}\n{expires}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Builds `origin + path + ?X-Amz-...` valid for at least `ttl` from now (S3 has one-second
    /// resolution: the lifetime is rounded up, and so is the signing time, so that a scaled lifetime of
    /// a second or two is not cut short by truncation). A zero `ttl` yields an already expired URL.
    /// `path` must already be URL-safe.
    pub fn presign(&self, method: &str, origin: &str, path: &str, ttl: Duration) -> String {
        let now = clock::unix_now();
        let signed_at = if ttl.is_zero() || now.subsec_nanos() == 0 {
            Duration::from_secs(now.as_secs())
        } else {
            Duration::from_secs(now.as_secs() + 1)
        };
        let skew = SKEW_SECS.try_with(|s| *s).unwrap_or(0);
        let signed_at = if skew >= 0 {
            signed_at.saturating_add(Duration::from_secs(skew.unsigned_abs()))
        } else {
            signed_at.saturating_sub(Duration::from_secs(skew.unsigned_abs()))
        };
        let date = clock::amz_date(signed_at);
        let day = date.get(..8).unwrap_or_default();
        let expires = ttl.as_millis().div_ceil(1000).to_string();
        let signature = self.signature(method, path, &date, &expires);
        format!(
            "{origin}{path}?X-Amz-Algorithm=AWS4-HMAC-SHA256\
             &X-Amz-Credential={ACCESS_KEY}%2F{day}%2F{REGION}%2Fs3%2Faws4_request\
             &X-Amz-Date={date}&X-Amz-Expires={expires}&X-Amz-SignedHeaders=host\
             &X-Amz-Signature={signature}"
        )
    }

    /// Checks a request against the signature in its query (already percent-decoded).
    /// Signature problems win over expiry, so an edited `X-Amz-Expires` cannot turn "expired" into "valid".
    pub fn verify(
        &self,
        method: &str,
        path: &str,
        query: &HashMap<String, String>,
        now: Duration,
    ) -> Result<(), Refusal> {
        let get = |k: &str| query.get(k).map(String::as_str);
        let (Some(date), Some(expires), Some(signature)) = (
            get("X-Amz-Date"),
            get("X-Amz-Expires"),
            get("X-Amz-Signature"),
        ) else {
            return Err(Refusal::Signature);
        };
        if get("X-Amz-Algorithm") != Some("AWS4-HMAC-SHA256") {
            return Err(Refusal::Signature);
        }
        let expected = self.signature(method, path, date, expires);
        if !constant_time_eq(expected.as_bytes(), signature.as_bytes()) {
            return Err(Refusal::Signature);
        }
        let (Some(signed_at), Ok(expires_secs)) = (clock::parse_amz_date(date), expires.parse())
        else {
            return Err(Refusal::Signature);
        };
        if signed_at > now.as_secs().saturating_add(MAX_SKEW_SECS) {
            return Err(Refusal::TooSkewed { signed_at });
        }
        let expired_at = signed_at.saturating_add(expires_secs);
        // `>=` so that a zero lifetime (`--upload-ttl 0`) yields URLs that are expired from birth,
        // which lets client suites test expiry handling without waiting.
        if now.as_millis() >= u128::from(expired_at) * 1000 {
            return Err(Refusal::Expired {
                expires_secs,
                expired_at,
            });
        }
        Ok(())
    }
}

/// Compares secrets without an early exit, so timing reveals nothing about how much matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Splits a raw query string into decoded pairs (last one wins, as S3 rejects duplicates anyway).
pub fn parse_query(raw: Option<&str>) -> HashMap<String, String> {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

pub fn percent_decode(s: &str) -> String {
    fn hex_val(b: u8) -> Option<u8> {
        (b as char).to_digit(16).map(|d| d as u8)
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex_val(bytes[i + 1]), hex_val(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(hi * 16 + lo);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query_of(url: &str) -> (String, HashMap<String, String>) {
        let rest = url.split_once("://").unwrap().1;
        let path_q = &rest[rest.find('/').unwrap()..];
        let (path, q) = path_q.split_once('?').unwrap();
        (path.to_string(), parse_query(Some(q)))
    }

    #[test]
    fn presigned_url_verifies_and_detects_tampering() {
        let p = Presigner::new();
        let url = p.presign(
            "PUT",
            "http://127.0.0.1:9",
            "/bucket/a.csv",
            Duration::from_secs(1800),
        );
        assert!(url.contains("X-Amz-Credential=EMULATORKEY%2F"));
        assert!(url.contains("%2Fus-west-2%2Fs3%2Faws4_request"));
        let (path, q) = query_of(&url);
        let now = clock::unix_now();
        assert_eq!(p.verify("PUT", &path, &q, now), Ok(()));
        assert_eq!(p.verify("GET", &path, &q, now), Err(Refusal::Signature));
        assert_eq!(
            p.verify("PUT", "/bucket/b.csv", &q, now),
            Err(Refusal::Signature)
        );
        let mut longer = q.clone();
        longer.insert("X-Amz-Expires".into(), "999999".into());
        assert_eq!(
            p.verify("PUT", &path, &longer, now),
            Err(Refusal::Signature)
        );
        let mut missing = q.clone();
        missing.remove("X-Amz-Signature");
        assert_eq!(
            p.verify("PUT", &path, &missing, now),
            Err(Refusal::Signature)
        );
        let later = now + Duration::from_secs(1801);
        assert!(matches!(
            p.verify("PUT", &path, &q, later),
            Err(Refusal::Expired {
                expires_secs: 1800,
                ..
            })
        ));
    }

    #[test]
    fn short_lifetimes_round_up() {
        let p = Presigner::new();
        let url = p.presign("GET", "http://h", "/b/k", Duration::from_millis(180));
        assert!(url.contains("&X-Amz-Expires=1&"), "{url}");
        let (path, q) = query_of(&url);
        let now = clock::unix_now();
        assert_eq!(p.verify("GET", &path, &q, now), Ok(()));
        assert_eq!(
            p.verify("GET", &path, &q, now + Duration::from_millis(990)),
            Ok(())
        );
    }

    #[test]
    fn zero_ttl_is_born_expired() {
        let p = Presigner::new();
        let url = p.presign("GET", "http://h", "/b/k", Duration::ZERO);
        let (path, q) = query_of(&url);
        assert!(matches!(
            p.verify("GET", &path, &q, clock::unix_now()),
            Err(Refusal::Expired { .. })
        ));
    }

    #[test]
    fn decodes_percent_sequences() {
        assert_eq!(percent_decode("a%2Fb+c%zz%4"), "a/b c%zz%4");
    }
}
