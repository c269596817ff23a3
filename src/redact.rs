//! Keeping secrets out of messages.
//!
//! A presigned URL is a bearer credential until it expires: its signature (and any session token)
//! must never appear in an error message or a log line. The API key never enters a message in the
//! first place; `scrub` is the belt to that brace for text that came back from a server.

use crate::prelude::*;

/// Query parameters that carry credentials in presigned URLs (S3 SigV4/SigV2, GCS, Azure SAS).
const SECRET_PARAMS: [&str; 7] = [
    "x-amz-signature",
    "x-amz-security-token",
    "x-amz-credential",
    "signature",
    "x-goog-signature",
    "sig",
    "token",
];

/// The URL (or any text quoting one) with the values of credential-bearing query parameters
/// replaced by `REDACTED`. A parameter is a name from `SECRET_PARAMS` right after `?`, `&` or `;`;
/// its value ends at `&`, `#` or anything that cannot be part of a URL (a space, a quote, ...), so
/// text around a quoted URL survives.
pub fn redact_url(text: &str) -> String {
    // Byte positions only: every boundary used is next to an ASCII byte, and `get` keeps the
    // panicking slice machinery (and its formatting code) out of the wasm.
    let bytes = text.as_bytes();
    let at = |from: usize, to: usize| text.get(from..to).unwrap_or_default();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let starts_param = matches!(bytes[i], b'?' | b'&' | b';');
        i += 1;
        if !starts_param {
            continue;
        }
        let Some(eq) = bytes[i..].iter().position(|&b| b == b'=').map(|e| i + e) else {
            break;
        };
        if !is_secret_name(&bytes[i..eq]) {
            continue;
        }
        let end = bytes[eq + 1..]
            .iter()
            .position(|&b| {
                matches!(b, b'&' | b'#' | b';' | b'"' | b'\'' | b'<' | b'>' | b')') || b <= b' '
            })
            .map_or(bytes.len(), |e| eq + 1 + e);
        out.push_str(at(copied, eq + 1));
        out.push_str("REDACTED");
        copied = end;
        i = end;
    }
    out.push_str(at(copied, bytes.len()));
    out
}

/// Whether a query parameter name is one of `SECRET_PARAMS`, percent-escapes decoded first
/// (`X-Amz-%53ignature` is the signature too).
fn is_secret_name(name: &[u8]) -> bool {
    let hex = |b: u8| (b as char).to_digit(16);
    let mut decoded = Vec::with_capacity(name.len());
    let mut i = 0;
    while i < name.len() {
        match (
            name[i],
            name.get(i + 1).copied().and_then(hex),
            name.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(h), Some(l)) => {
                decoded.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    SECRET_PARAMS
        .iter()
        .any(|p| p.as_bytes().eq_ignore_ascii_case(&decoded))
}

/// `text` with every occurrence of `secret` replaced, for server text that might echo it.
pub fn scrub(text: &str, secret: &str) -> String {
    if secret.len() < 4 {
        return text.to_string();
    }
    crate::text::replace(text, secret, "***")
}

/// `text` with `secret` scrubbed and presigned signatures redacted: safe for a message.
pub fn clean(text: &str, secret: Option<&str>) -> String {
    let t = redact_url(text);
    match secret {
        Some(k) => scrub(&t, k),
        None => t,
    }
}

/// At most `max` characters of `text`, on a char boundary, with an ellipsis when cut.
pub fn snippet(text: &str, max: usize) -> String {
    let t = text.trim();
    match t.char_indices().nth(max) {
        Some((i, _)) => [t.get(..i).unwrap_or(t), "…"].concat(),
        None => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_sigv4_signature_and_credential() {
        let url = "https://b.s3.amazonaws.com/k.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIA%2F20230227&X-Amz-Date=20230227T160315Z&X-Amz-Expires=1800&X-Amz-SignedHeaders=host&X-Amz-Signature=abcdef0123";
        let r = redact_url(url);
        assert!(!r.contains("abcdef0123"));
        assert!(!r.contains("AKIA"));
        assert!(r.contains("X-Amz-Signature=REDACTED"));
        assert!(r.contains("X-Amz-Expires=1800"));
        assert!(r.starts_with("https://b.s3.amazonaws.com/k.csv?"));
    }

    #[test]
    fn leaves_plain_urls_alone() {
        assert_eq!(redact_url("https://a.b/c"), "https://a.b/c");
        assert_eq!(redact_url("https://a.b/c?x=1#f"), "https://a.b/c?x=1#f");
        assert_eq!(
            redact_url("https://a.b/c?sig=1#f"),
            "https://a.b/c?sig=REDACTED#f"
        );
    }

    #[test]
    fn redacts_urls_quoted_in_text() {
        assert_eq!(
            redact_url("PUT \"https://b/k?X-Amz-Date=1&x-amz-signature=abc\" failed: ECONNRESET"),
            "PUT \"https://b/k?X-Amz-Date=1&x-amz-signature=REDACTED\" failed: ECONNRESET"
        );
        assert_eq!(
            redact_url("a ?sig=1 b ?sig=2"),
            "a ?sig=REDACTED b ?sig=REDACTED"
        );
        assert_eq!(redact_url("no query here = ok"), "no query here = ok");
        assert_eq!(redact_url("ends?token="), "ends?token=REDACTED");
        // A name that merely contains a secret one is left alone.
        assert_eq!(redact_url("u?nosig=1&design=2"), "u?nosig=1&design=2");
        assert_eq!(redact_url("u?é=1&sig=ü"), "u?é=1&sig=REDACTED");
        assert_eq!(
            redact_url("u?X-Amz-%53ignature=abc&x-amz-credential%3D=1"),
            "u?X-Amz-%53ignature=REDACTED&x-amz-credential%3D=1"
        );
    }

    #[test]
    fn cleans_keys_and_signatures_from_any_text() {
        let t = "fetch to https://s3/x?X-Amz-Signature=abc failed with key sk_live_123";
        assert_eq!(
            clean(t, Some("sk_live_123")),
            "fetch to https://s3/x?X-Amz-Signature=REDACTED failed with key ***"
        );
        assert_eq!(clean("plain", Some("sk_live_123")), "plain");
        assert_eq!(clean("plain", None), "plain");
    }

    #[test]
    fn scrubs_and_snips() {
        assert_eq!(
            scrub("key sk_live_123 echoed", "sk_live_123"),
            "key *** echoed"
        );
        assert_eq!(snippet("  héllo world ", 5), "héllo…");
        assert_eq!(snippet("short", 50), "short");
    }
}
