//! URL checks that decide where secrets may go. Pure string logic, tested natively.

/// Scheme, host and port of an absolute http(s) URL (`https://a.b:8443/x` -> `https://a.b:8443`).
pub fn origin(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    if end == 0 || rest.get(..end)?.contains('@') {
        // No host, or userinfo (a classic way to disguise the real host).
        return None;
    }
    url.get(..url.len() - rest.len() + end)
}

/// The host of an origin, without brackets or port.
fn host(origin: &str) -> &str {
    let hp = crate::text::find(origin, "://")
        .and_then(|i| origin.get(i + 3..))
        .unwrap_or(origin);
    if let Some(v6) = hp.strip_prefix('[') {
        return v6.split(']').next().unwrap_or(v6);
    }
    hp.split(':').next().unwrap_or(hp)
}

/// Loopback hosts, where plain http cannot be sniffed on the way.
pub fn is_loopback(origin: &str) -> bool {
    let h = host(origin).to_ascii_lowercase();
    h == "localhost" || h.ends_with(".localhost") || h.starts_with("127.") || h == "::1"
}

/// Why a base URL is unacceptable, if it is. Relative paths (`/api/dromo`) are allowed: they are
/// how a browser app reaches its own proxy.
pub fn check_base_url(url: &str) -> Result<(), &'static str> {
    if url.starts_with('/') && !url.starts_with("//") {
        return Ok(());
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

/// An id is one path segment: anything else could steer the request to another endpoint.
pub fn check_id(id: &str) -> Result<(), &'static str> {
    if id.is_empty() {
        return Err("must be a non-empty string");
    }
    if id.len() > 256 {
        return Err("is too long to be an import id");
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
        assert!(check_base_url("app.dromo.io").is_err());
        assert!(check_base_url("https://a.b/api?x=1").is_err());
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
