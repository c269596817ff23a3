//! Checking Exa's webhook signatures: `Exa-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>...]`,
//! where each `v1` is hex(HMAC-SHA256(secret, "<t>." + the raw body)). Several `v1` values may
//! come (while a secret rotates): one match is enough. The comparison takes the same time
//! wherever the bytes differ, and the timestamp must lie within a tolerance of now, so that a
//! captured delivery cannot be replayed later.
//!
//! Pure Rust over bytes and numbers (no JS types), so `tests/signature.rs`-style native tests can
//! drive it; `webhooks.rs` reads the JS values around it. Only in the `server` build.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a delivery is refused; the `code` of the `WebhookVerificationError`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// No `Exa-Signature` header, one that does not parse, or no `v1` that matches.
    Signature(&'static str),
    /// The timestamp is outside the tolerance.
    Timestamp(&'static str),
}

/// The parts of an `Exa-Signature` header: its timestamp and every `v1` value, as bytes.
fn parse(header: &str) -> Result<(u64, alloc::vec::Vec<[u8; 32]>), Refused> {
    let mut t = None;
    let mut v1 = alloc::vec::Vec::new();
    for part in header.split(',') {
        let Some((k, v)) = part.trim().split_once('=') else {
            continue;
        };
        match k.trim() {
            "t" => t = v.trim().parse::<u64>().ok(),
            // A value that is not 64 hex digits can match nothing: skipped like an unknown scheme.
            "v1" => {
                if let Some(mac) = unhex32(v.trim()) {
                    v1.push(mac);
                }
            }
            _ => {}
        }
    }
    let t = t.ok_or(Refused::Signature(
        "the Exa-Signature header has no timestamp (t=...)",
    ))?;
    if v1.is_empty() {
        return Err(Refused::Signature(
            "the Exa-Signature header has no v1 signature",
        ));
    }
    Ok((t, v1))
}

fn unhex32(s: &str) -> Option<[u8; 32]> {
    let s = s.as_bytes();
    if s.len() != 64 {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks(2).enumerate() {
        out[i] = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// Checks a delivery: `header` is the `Exa-Signature` value, `body` the raw bytes as received,
/// `now_s` the current Unix time in seconds, `tolerance_s` how far the timestamp may be from it
/// (either way: clocks drift).
pub fn verify(
    header: &str,
    body: &[u8],
    secret: &[u8],
    now_s: f64,
    tolerance_s: f64,
) -> Result<(), Refused> {
    let (t, candidates) = parse(header)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)
        .map_err(|_| Refused::Signature("the webhook secret is not usable"))?;
    let mut digits = [0u8; 20];
    mac.update(decimal(t, &mut digits));
    mac.update(b".");
    mac.update(body);
    let expected = mac.finalize().into_bytes();
    // Every candidate is compared in full, matching or not: the time taken says nothing.
    let mut matched = false;
    for candidate in &candidates {
        matched |= same(&expected, candidate);
    }
    if !matched {
        return Err(Refused::Signature(
            "no v1 signature matches this body and secret (was the body parsed and re-serialised, or is the secret another webhook's?)",
        ));
    }
    if (now_s - t as f64).abs() > tolerance_s {
        return Err(Refused::Timestamp(
            "the Exa-Signature timestamp is outside the tolerance (a replayed delivery, or a clock far off)",
        ));
    }
    Ok(())
}

/// Byte equality whose time does not depend on where the bytes differ.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `n` in decimal, written into `buf`; the digits as a slice of it.
fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[at..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &[u8], t: u64, body: &[u8]) -> alloc::string::String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret).unwrap();
        mac.update(format!("{t}.").as_bytes());
        mac.update(body);
        hex(&mac.finalize().into_bytes())
    }

    fn hex(b: &[u8]) -> alloc::string::String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    const BODY: &[u8] =
        br#"{"id":"evt_1","object":"event","type":"import.completed","data":{"id":"import_1"}}"#;
    const SECRET: &[u8] = b"whsec_test";

    #[test]
    fn a_genuine_delivery_verifies_also_among_several_v1_values() {
        let t = 1_700_000_000;
        let good = sign(SECRET, t, BODY);
        let header = format!("t={t},v1={good}");
        assert_eq!(
            verify(&header, BODY, SECRET, t as f64 + 10.0, 300.0),
            Ok(())
        );
        let rotated = format!("t={t}, v1={}, v1={good}", sign(b"old", t, BODY));
        assert_eq!(verify(&rotated, BODY, SECRET, t as f64, 300.0), Ok(()));
        // Upper-case hex is still hex.
        let upper = format!("t={t},v1={}", good.to_uppercase());
        assert_eq!(verify(&upper, BODY, SECRET, t as f64, 300.0), Ok(()));
    }

    #[test]
    fn forged_changed_reserialised_or_wrong_secret_deliveries_are_refused() {
        let t = 1_700_000_000;
        let good = sign(SECRET, t, BODY);
        let now = t as f64;
        let refused = |header: &str, body: &[u8], secret: &[u8]| {
            matches!(
                verify(header, body, secret, now, 300.0),
                Err(Refused::Signature(_))
            )
        };
        assert!(refused(
            &format!("t={t},v1={good}"),
            b"{\"id\": \"evt_1\"}",
            SECRET
        ));
        let spaced = String::from_utf8(BODY.to_vec()).unwrap().replace(':', ": ");
        assert!(refused(
            &format!("t={t},v1={good}"),
            spaced.as_bytes(),
            SECRET
        ));
        assert!(refused(
            &format!("t={t},v1={good}"),
            BODY,
            b"another secret"
        ));
        assert!(
            refused(&format!("t={},v1={good}", t + 1), BODY, SECRET),
            "the timestamp is signed"
        );
        assert!(
            refused(&format!("t={t},v1={}", &good[..63]), BODY, SECRET),
            "truncated"
        );
        assert!(
            refused(&format!("t={t},v0={good}"), BODY, SECRET),
            "another scheme"
        );
        assert!(refused(&format!("v1={good}"), BODY, SECRET), "no timestamp");
        assert!(refused("", BODY, SECRET));
        assert!(refused(&format!("t=abc,v1={good}"), BODY, SECRET));
        assert!(refused(
            &format!("t={t},v1={}", "z".repeat(64)),
            BODY,
            SECRET
        ));
    }

    #[test]
    fn a_delivery_outside_the_tolerance_is_refused_either_way() {
        let t = 1_700_000_000u64;
        let header = format!("t={t},v1={}", sign(SECRET, t, BODY));
        for now in [t as f64 + 301.0, t as f64 - 301.0] {
            assert!(matches!(
                verify(&header, BODY, SECRET, now, 300.0),
                Err(Refused::Timestamp(_))
            ));
        }
        assert_eq!(
            verify(&header, BODY, SECRET, t as f64 + 299.0, 300.0),
            Ok(())
        );
        assert_eq!(
            verify(&header, BODY, SECRET, t as f64 + 1e9, f64::INFINITY),
            Ok(())
        );
    }

    #[test]
    fn decimal_writes_every_digit() {
        let mut buf = [0u8; 20];
        for n in [0u64, 7, 10, 1_700_000_000, u64::MAX] {
            assert_eq!(decimal(n, &mut buf), n.to_string().as_bytes());
        }
    }
}
