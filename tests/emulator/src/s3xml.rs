//! S3-shaped XML error bodies for the storage origin.

use axum::http::{header, HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// One S3 error: clients parse `<Code>`, and browsers can only read the body if CORS headers are added
/// (the storage layer does that for every response, errors included).
pub struct S3Error {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Extra elements S3 adds for some codes (`Expires`, `ServerTime`, `Method`, ...), in order.
    pub extra: Vec<(&'static str, String)>,
    pub request_id: String,
    /// Response headers beside the XML (`Content-Range: bytes */N` on a 416).
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

impl S3Error {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        S3Error {
            status,
            code,
            message: message.into(),
            extra: Vec::new(),
            request_id: String::new(),
            headers: Vec::new(),
        }
    }

    pub fn header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn with(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.extra.push((name, value.into()));
        self
    }

    pub fn request_id(mut self, id: &str) -> Self {
        self.request_id = id.to_string();
        self
    }

    pub fn no_such_key(key: &str) -> Self {
        S3Error::new(
            StatusCode::NOT_FOUND,
            "NoSuchKey",
            "The specified key does not exist.",
        )
        .with("Key", key)
    }

    pub fn access_denied(message: impl Into<String>) -> Self {
        S3Error::new(StatusCode::FORBIDDEN, "AccessDenied", message)
    }

    pub fn body(&self) -> String {
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>");
        push_element(&mut xml, "Code", self.code);
        push_element(&mut xml, "Message", &self.message);
        for (name, value) in &self.extra {
            push_element(&mut xml, name, value);
        }
        push_element(&mut xml, "RequestId", &self.request_id);
        push_element(&mut xml, "HostId", &host_id(&self.request_id));
        xml.push_str("</Error>");
        xml
    }
}

impl IntoResponse for S3Error {
    fn into_response(self) -> Response {
        let mut resp = (
            self.status,
            [(header::CONTENT_TYPE, "application/xml")],
            self.body(),
        )
            .into_response();
        resp.headers_mut().extend(self.headers);
        resp
    }
}

/// S3's opaque `x-amz-id-2`; derived from the request id so the pair is consistent.
pub fn host_id(request_id: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(request_id.as_bytes());
    hex::encode(&digest[..18])
}

fn push_element(xml: &mut String, name: &str, value: &str) {
    xml.push('<');
    xml.push_str(name);
    xml.push('>');
    for c in value.chars() {
        match c {
            '<' => xml.push_str("&lt;"),
            '>' => xml.push_str("&gt;"),
            '&' => xml.push_str("&amp;"),
            '"' => xml.push_str("&quot;"),
            '\'' => xml.push_str("&apos;"),
            c => xml.push(c),
        }
    }
    xml.push_str("</");
    xml.push_str(name);
    xml.push('>');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_escaped_xml() {
        let e = S3Error::access_denied("a <b> & c")
            .with("Expires", "2023-01-01T00:00:00Z")
            .request_id("R1");
        let xml = e.body();
        assert!(xml.starts_with(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
        ));
        assert!(xml.contains("<Message>a &lt;b&gt; &amp; c</Message><Expires>2023-01-01T00:00:00Z</Expires><RequestId>R1</RequestId>"));
        assert!(xml.ends_with("</Error>"));
    }
}
