//! Keeping secrets out of messages.
//!
//! A presigned URL is a bearer credential until it expires: its signature (and any session token)
//! must never appear in an error message or a log line. The API key never enters a message in the
//! first place; `scrub` is the belt to that brace for text that came back from a server.

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

/// The URL with the values of credential-bearing query parameters replaced by `REDACTED`.
pub fn redact_url(url: &str) -> String {
    let Some((base, rest)) = url.split_once('?') else {
        return url.to_string();
    };
    let (query, fragment) = match rest.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (rest, None),
    };
    let mut out = String::with_capacity(url.len());
    out.push_str(base);
    out.push('?');
    for (i, pair) in query.split('&').enumerate() {
        if i > 0 {
            out.push('&');
        }
        match pair.split_once('=') {
            Some((k, _)) if SECRET_PARAMS.contains(&k.to_ascii_lowercase().as_str()) => {
                out.push_str(k);
                out.push_str("=REDACTED");
            }
            _ => out.push_str(pair),
        }
    }
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

/// `text` with every occurrence of `secret` replaced, for server text that might echo it.
pub fn scrub(text: &str, secret: &str) -> String {
    if secret.len() < 4 {
        return text.to_string();
    }
    crate::text::replace(text, secret, "***")
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
    fn scrubs_and_snips() {
        assert_eq!(
            scrub("key sk_live_123 echoed", "sk_live_123"),
            "key *** echoed"
        );
        assert_eq!(snippet("  héllo world ", 5), "héllo…");
        assert_eq!(snippet("short", 50), "short");
    }
}
