//! URL checks that decide where secrets may go. Pure string logic, tested natively.

use crate::prelude::*;

/// Scheme, host and port of an absolute http(s) URL (`https://a.b:8443/x` -> `https://a.b:8443`).
pub fn origin(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let end = rest
        .bytes()
        .position(|b| matches!(b, b'/' | b'?' | b'#'))
        .unwrap_or(rest.len());
    // No userinfo (a classic way to disguise the real host), a well-formed host and port.
    if !authority_ok(rest.as_bytes().get(..end)?) {
        return None;
    }
    url.get(..url.len() - rest.len() + end)
}

/// `host[:port]` with a DNS name or IPv4 address, or `[IPv6][:port]`, and a port of digits.
fn authority_ok(a: &[u8]) -> bool {
    let (host_ok, port) = if a.first() == Some(&b'[') {
        let Some(close) = a.iter().position(|&b| b == b']') else {
            return false;
        };
        let ok = close > 1
            && a[1..close]
                .iter()
                .all(|&b| b.is_ascii_hexdigit() || b == b':' || b == b'.');
        match &a[close + 1..] {
            [] => (ok, None),
            [b':', port @ ..] => (ok, Some(port)),
            _ => return false,
        }
    } else {
        let (h, port) = match a.iter().position(|&b| b == b':') {
            Some(c) => (&a[..c], Some(&a[c + 1..])),
            None => (a, None),
        };
        let ok = !h.is_empty()
            && h.iter()
                .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        (ok, port)
    };
    host_ok
        && port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.iter().all(u8::is_ascii_digit))
}

/// The host of an origin, without brackets or port.
fn host(origin: &str) -> &str {
    let hp = crate::text::find(origin, "://")
        .and_then(|i| origin.get(i + 3..))
        .unwrap_or(origin);
    let end = match hp.strip_prefix('[') {
        Some(v6) => {
            return v6
                .get(..crate::text::find(v6, "]").unwrap_or(v6.len()))
                .unwrap_or(v6)
        }
        None => crate::text::find(hp, ":").unwrap_or(hp.len()),
    };
    hp.get(..end).unwrap_or(hp)
}

/// Loopback hosts, where plain http cannot be sniffed on the way.
pub fn is_loopback(origin: &str) -> bool {
    let h = host(origin).to_ascii_lowercase();
    // 127.0.0.0/8 only as a whole IPv4 literal: `127.attacker.example` is a DNS name like any other.
    let parts: Vec<&str> = h.split('.').collect();
    let ipv4_127 = parts.len() == 4
        && parts[0] == "127"
        && parts
            .iter()
            .all(|p| (1..=3).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit()));
    h == "localhost" || h.ends_with(".localhost") || ipv4_127 || h == "::1"
}

/// Why a base URL is unacceptable, if it is. Relative paths (`/api/dromo`) are allowed: they are
/// how a browser app reaches its own proxy.
pub fn check_base_url(url: &str) -> Result<(), &'static str> {
    // A path on the page's own origin. Not `//host` nor `/\\host`: browsers read both as another
    // host (the URL parser takes a backslash for a slash).
    if url.starts_with('/') {
        return match url.as_bytes().get(1) {
            Some(b'/' | b'\\') => {
                Err("must be an absolute http(s) URL or a path starting with one '/'")
            }
            _ if url.contains(['?', '#', '\\']) => {
                Err("must be a plain path (no query, fragment or backslash)")
            }
            _ => Ok(()),
        };
    }
    let origin =
        origin(url).ok_or("must be an absolute http(s) URL or a path starting with '/'")?;
    if origin.starts_with("http://") && !is_loopback(origin) {
        return Err("must use https (plain http is only allowed for localhost): the API key would travel in clear text");
    }
    if url.contains(['?', '#']) {
        return Err("must not contain a query string or fragment");
    }
    Ok(())
}

/// How many same-origin redirects one API request may follow (Dromo's APPEND_SLASH takes one).
pub const MAX_REDIRECTS: u32 = 3;

/// Why a redirect of a request that carries the key is not followed.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// It points at another origin (given, or `None` when the target is unknown or unparsable).
    Elsewhere(Option<String>),
    /// Following it would change the method (a POST after 301/302, anything but GET after 303).
    MethodChange,
    /// More than `MAX_REDIRECTS` in a row.
    TooMany,
}

/// Whether a request sent to `from` may follow a `status` redirect to `to` (absolute, or `None` when
/// the platform hides it) after `hops` earlier ones. Only the origin the request went to may see
/// the key again, and only with the same method and body (what fetch does after 307/308, and after
/// 301/302 for anything but POST).
pub fn follow(
    method: &str,
    status: u16,
    from: &str,
    to: Option<&str>,
    hops: u32,
) -> Result<(), Refused> {
    let target = to.and_then(origin);
    // `to` comes from the platform's URL parser (lower-case scheme and host), `from` as configured.
    let same = matches!((target, origin(from)), (Some(t), Some(f)) if t.eq_ignore_ascii_case(f));
    if !same {
        return Err(Refused::Elsewhere(target.map(str::to_string)));
    }
    let keeps_method = match status {
        307 | 308 => true,
        301 | 302 => method != "POST",
        303 => method == "GET" || method == "HEAD",
        _ => false,
    };
    if !keeps_method {
        return Err(Refused::MethodChange);
    }
    if hops >= MAX_REDIRECTS {
        return Err(Refused::TooMany);
    }
    Ok(())
}

/// An id is one path segment: anything else could steer the request to another endpoint.
pub fn check_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("must be a non-empty string");
    }
    if id.len() > 256 {
        return Err("is too long to be an id");
    }
    if id == "." || crate::text::find(id, "..").is_some() {
        return Err("must not contain '..'");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(
            "may only contain letters, digits, '-', '_' and '.' (it is used as a URL path segment)",
        );
    }
    Ok(())
}

/// The `id` a JSON object's text starts to tell, even when the text is cut off after it (an
/// import whose create answer was truncated): the value of the first `"id"` key, if it is a
/// well-formed id.
pub fn id_in(text: &str) -> Option<&str> {
    let at = crate::text::find(text, "\"id\"")?;
    let rest = text.get(at + 4..)?.trim_start().strip_prefix(':')?;
    let value = rest.trim_start().strip_prefix('"')?;
    let id = value.get(..crate::text::find(value, "\"")?)?;
    check_id(id).ok().map(|_| id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(
            origin("https://app.dromo.io/api/v1"),
            Some("https://app.dromo.io")
        );
        assert_eq!(
            origin("http://127.0.0.1:8080"),
            Some("http://127.0.0.1:8080")
        );
        assert_eq!(origin("http://[::1]:9/x?y"), Some("http://[::1]:9"));
        assert_eq!(origin("https://evil.com@good.com/"), None);
        assert_eq!(origin("http://[::1:bad/x"), None);
        assert_eq!(origin("http://[::1]x/"), None);
        assert_eq!(origin("http://a.b:80x/"), None);
        assert_eq!(origin("http://a b/"), None);
        assert_eq!(origin("http://a.b:/"), None);
        assert_eq!(origin("http://[::1]/"), Some("http://[::1]"));
        assert_eq!(origin("http://h:65535"), Some("http://h:65535"));
        assert_eq!(origin("ftp://a"), None);
        assert_eq!(origin("/api"), None);
    }

    #[test]
    fn base_urls() {
        assert!(check_base_url("https://app.dromo.io/api/v1").is_ok());
        assert!(check_base_url("http://localhost:3000/api").is_ok());
        assert!(check_base_url("http://127.0.0.1:1/api/v1").is_ok());
        assert!(check_base_url("http://[::1]:1").is_ok());
        assert!(check_base_url("/api/dromo").is_ok());
        assert!(check_base_url("http://app.dromo.io/api/v1").is_err());
        assert!(check_base_url("//evil.com/api").is_err());
        assert!(check_base_url("/\\evil.com/api").is_err());
        assert!(check_base_url("/api\\..\\x").is_err());
        assert!(check_base_url("http://127.attacker.example/").is_err());
        assert!(check_base_url("http://127.0.0.1.evil.example/api").is_err());
        assert!(check_base_url("http://127.1.2.3:8080/api").is_ok());
        assert!(check_base_url("app.dromo.io").is_err());
        assert!(check_base_url("https://a.b/api?x=1").is_err());
    }

    #[test]
    fn redirects_stay_on_the_origin_and_keep_the_method() {
        let from = "https://app.dromo.io/api/v1/headless/imports";
        let slash = Some("https://app.dromo.io/api/v1/headless/imports/");
        assert_eq!(follow("GET", 301, from, slash, 0), Ok(()));
        assert_eq!(
            follow("GET", 301, "https://App.Dromo.io/api/v1/x", slash, 0),
            Ok(())
        );
        assert_eq!(follow("DELETE", 302, from, slash, 0), Ok(()));
        assert_eq!(follow("POST", 308, from, slash, 0), Ok(()));
        assert_eq!(follow("POST", 307, from, slash, 2), Ok(()));
        assert_eq!(follow("GET", 303, from, slash, 0), Ok(()));
        assert_eq!(
            follow("POST", 301, from, slash, 0),
            Err(Refused::MethodChange)
        );
        assert_eq!(
            follow("PATCH", 303, from, slash, 0),
            Err(Refused::MethodChange)
        );
        assert_eq!(
            follow("GET", 304, from, slash, 0),
            Err(Refused::MethodChange)
        );
        assert_eq!(follow("GET", 301, from, slash, 3), Err(Refused::TooMany));
        for other in [
            "https://evil.example/api/v1/",
            "http://app.dromo.io/api/v1/",
            "https://app.dromo.io:8443/api/v1/",
            "https://app.dromo.io.evil.example/",
            "https://x@app.dromo.io/",
        ] {
            let got = follow("GET", 302, from, Some(other), 0);
            assert!(
                matches!(got, Err(Refused::Elsewhere(_))),
                "{other}: {got:?}"
            );
        }
        assert_eq!(
            follow("GET", 302, from, Some("https://evil.example/x"), 0),
            Err(Refused::Elsewhere(Some("https://evil.example".into())))
        );
        assert_eq!(
            follow("GET", 302, from, None, 0),
            Err(Refused::Elsewhere(None))
        );
        assert_eq!(
            follow("GET", 302, from, Some(""), 0),
            Err(Refused::Elsewhere(None))
        );
        assert_eq!(
            follow("GET", 302, "/api/dromo/x", slash, 0),
            Err(Refused::Elsewhere(Some("https://app.dromo.io".into())))
        );
    }

    #[test]
    fn ids_in_cut_off_answers() {
        assert_eq!(
            id_in(r#"{"id": "94187d21-9820-420f", "status": "AWAI"#),
            Some("94187d21-9820-420f")
        );
        assert_eq!(
            id_in(r#"{"object":"import","id":"import_1a","sta"#),
            Some("import_1a")
        );
        assert_eq!(id_in(r#"{"id": "9418"#), None, "the id itself is cut off");
        assert_eq!(id_in(r#"{"id": "../x"}"#), None);
        assert_eq!(id_in(r#"{"idx": "a"}"#), None);
        assert_eq!(id_in("<html>502</html>"), None);
    }

    #[test]
    fn ids() {
        assert!(check_id("94187d21-9820-420f-b08c-a80cbbf52604").is_ok());
        assert!(check_id("import_01abc").is_ok());
        for bad in ["", "..", "a/b", "../x", "a?b", "a#b", "a b", "%2e%2e", "."] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
