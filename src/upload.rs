//! The presigned PUT. The file bytes never enter wasm memory: the Blob (or a Node file stream) is
//! handed to the platform. Browsers use XMLHttpRequest because fetch has no upload progress; Node
//! uses the `node:http` uploader registered by the Node entry, because Node's fetch buffers a whole
//! Blob in memory; anything else falls back to fetch.
//!
//! Only `Content-Length` is sent (set by the platform from the body): presigned S3 URLs sign just
//! `host`, refuse chunked bodies, and must never see the API key.

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use web_sys::AbortSignal;

use crate::client::Client;
use crate::error::{Error, Kind, Result};
use crate::js::{get, is_absent, is_plain_object, Slot};
use crate::opts::{callback, signal};
use crate::prelude::*;
use crate::redact::{redact_url, snippet};
use crate::retry::{Hints, Op};
use crate::text::uint;
use crate::timer::{check, sleep, MAX_DELAY_MS};

#[wasm_bindgen(module = "/src/js/net.js")]
extern "C" {
    /// One PUT through the Node uploader, or XMLHttpRequest when `uploader` is undefined, with
    /// the caller's `onProgress` wired (see net.js).
    #[wasm_bindgen(js_name = put)]
    fn put_js(
        uploader: &JsValue,
        fetch: Option<&Function>,
        url: &str,
        body: &JsValue,
        size: f64,
        on_progress: Option<&Function>,
        signal: Option<&AbortSignal>,
        quiet_ms: f64,
        whole_ms: f64,
        mark: &js_sys::Object,
    ) -> Promise;
}

/// `nodePut` from `pkg/node-upload.js`, given to `setup` by the Node entry.
static NODE_UPLOADER: Slot = Slot::new();

/// Registers the Node streaming uploader (`nodePut` from `pkg/node-upload.js`).
pub fn set_node_uploader(f: Function) {
    NODE_UPLOADER.set(f);
}

/// A body ready to send: a Blob, or bytes still owned by JS.
pub struct Body {
    pub value: JsValue,
    pub size: f64,
    /// A `File`'s name.
    pub name: Option<String>,
}

/// Accepts `Blob | File | ArrayBuffer | Uint8Array (any typed array) | string`; rejects everything
/// else, and empty or detached bodies, before any request is made. Read once, in JS
/// (`plain.js`'s `bodyOf`), so a Proxy or a throwing getter is refused instead of running later.
pub fn body(v: &JsValue, path: &str) -> Result<Body> {
    if let Some(s) = v.as_string().filter(|s| looks_like_path(s)) {
        let s = crate::text::quote(&s);
        return Err(Error::invalid(
            path,
            [
                "is the string ",
                &s,
                ", which looks like a file path; a string is uploaded as the file's contents. In Node pass await fileFromPath(",
                &s,
                "); in a browser, the File from an <input type=file>.",
            ]
            .concat(),
        ));
    }
    let body = read_body(v, path)?;
    if body.size == 0.0 {
        return Err(Error::invalid(
            path,
            "is empty (0 bytes): there is nothing to import",
        ));
    }
    Ok(body)
}

/// Whether a string given as a body is more likely a file's name or path than its contents: one
/// short line that ends in a file extension (`contacts.csv`, `C:\\data\\q3.xlsx`) or starts
/// like a path (`/`, `./`, `../`, `~/`, `file:`). Contents worth importing have a line break (a
/// header and a record at least), so nothing that could import is refused.
pub fn looks_like_path(s: &str) -> bool {
    let b = s.as_bytes();
    if b.len() > 1024 || b.iter().any(|&c| c == b'\n' || c == b'\r') {
        return false;
    }
    let starts = ["/", "./", "../", "~/", "file:", ".\\", "..\\"];
    let drive = b.get(1..3) == Some(b":\\".as_slice());
    let name = match b.iter().rposition(|&c| c == b'/' || c == b'\\') {
        Some(at) => &b[at + 1..],
        None => b,
    };
    let has_ext = name.iter().rposition(|&c| c == b'.').is_some_and(|dot| {
        let ext = &name[dot + 1..];
        dot > 0
            && (1..=5).contains(&ext.len())
            && ext.iter().all(u8::is_ascii_alphanumeric)
            && ext.iter().any(u8::is_ascii_alphabetic)
            && !name.iter().any(|c| b",;\t\"".contains(c))
    });
    has_ext || drive || starts.iter().any(|p| s.starts_with(p))
}

/// `body` without the emptiness check (counting an empty file is fine: zero records).
pub fn read_body(v: &JsValue, path: &str) -> Result<Body> {
    let read = crate::js::body_of(v).map_err(|why| {
        Error::invalid(
            path,
            why.as_string().unwrap_or_else(|| "cannot be read".into()),
        )
    })?;
    Ok(Body {
        value: read.get(0),
        size: read.get(1).as_f64().unwrap_or(0.0),
        name: read.get(2).as_string(),
    })
}

/// How one PUT attempt ended, when it got an answer.
struct Answer {
    status: u16,
    text: String,
    /// What the answer said about retrying.
    hints: Hints,
}

/// How a PUT is sent: the caller's progress callback and signal, the client's retries and fetch.
pub struct Sending<'a> {
    pub on_progress: Option<&'a Function>,
    pub signal: Option<&'a AbortSignal>,
    pub max_retries: u32,
    pub fetch: Option<&'a Function>,
    /// The client's `timeoutMs`: the least an attempt may go without a sign of life before it
    /// is given up, to be retried (see [`patience`]).
    pub idle_ms: f64,
}

/// What a slow but healthy link is trusted to move, in bytes per second.
const SLOW_LINK: f64 = 16.0 * 1024.0;
/// What the OS may hold of a body it has taken (Linux's default ceiling of a socket's send
/// buffer), which it then sends unseen.
const OS_HOLDS: f64 = 4.0 * 1024.0 * 1024.0;

/// How long one PUT of `size` bytes may go without a sign of life, in whole ms, 0 for ever
/// (`idle_ms` 0): `[quiet, whole]`. Without a bound a storage that stops reading, or never
/// answers, leaves the upload pending for ever; too tight a bound fails a slow but healthy link.
///
/// `quiet`: how long nothing may move, while the body is handed over or its answer awaited (an
/// uploader that sees progress: Node's, XMLHttpRequest). What is handed over is not what has
/// left: the OS holds up to megabytes of it, and frees room in bursts as the link drains it, so
/// a healthy slow link looks silent that long. `idle_ms` plus what the OS may hold, at a slow
/// link's rate. `whole`: the bound of an uploader that sees nothing before the answer (fetch),
/// `idle_ms` plus the whole body at that rate.
pub fn patience(idle_ms: f64, size: f64) -> [f64; 2] {
    if idle_ms <= 0.0 || idle_ms.is_nan() {
        return [0.0; 2];
    }
    let drain = |bytes: f64| (idle_ms + bytes / SLOW_LINK * 1000.0).min(MAX_DELAY_MS);
    // Rounded up by hand: `f64::ceil` is std's, which the shipped wasm does not link.
    [drain(size.min(OS_HOLDS)), drain(size)].map(|ms| {
        let whole = ms as u64 as f64;
        whole + f64::from(u8::from(whole < ms))
    })
}

impl<'a> Sending<'a> {
    /// With `client`'s retries and fetch.
    pub fn new(
        client: &'a Client,
        on_progress: Option<&'a Function>,
        signal: Option<&'a AbortSignal>,
    ) -> Sending<'a> {
        Sending {
            on_progress,
            signal,
            max_retries: client.max_retries,
            fetch: client.fetch_fn(),
            idle_ms: client.timeout_ms,
        }
    }
}

/// PUTs `body` to `url`, retrying connection failures and 5xx from byte 0 with backoff.
/// `expired_hint` is what the provider tells the user to do when the URL has expired.
pub async fn put(url: &str, body: &Body, how: &Sending<'_>, expired_hint: &str) -> Result<()> {
    let signal = how.signal;
    let shown = redact_url(url);
    // Checked here, not left to the platform: Node's URL error would keep the whole URL, signature
    // included, in its `input`.
    if crate::url::origin(url).is_none() {
        return Err(Error::invalid(
            "target",
            ["is not an absolute http(s) URL: ", &shown].concat(),
        ));
    }
    // What progress was reported, across the attempts: a retry never reports less.
    let mark = js_sys::Object::new();
    let mut attempt = 0;
    loop {
        check(signal)?;
        let result = send(url, body, how, &mark).await;
        let (error, hints) = match result {
            Ok(a) if (200..300).contains(&a.status) => return Ok(()),
            Ok(a) => (failed_answer(&a, &shown, expired_hint), a.hints),
            Err(e) => (e, Hints::default()),
        };
        let Some(wait) = error.retry_in(Op::Upload, attempt, how.max_retries, &hints) else {
            return Err(error);
        };
        sleep(wait, signal).await?;
        attempt += 1;
    }
}

/// An S3-style XML error answer as an `UploadError`.
fn failed_answer(a: &Answer, shown: &str, expired_hint: &str) -> Error {
    // Storage may quote the URL back (its signature included): cleaned before it is used.
    let text = redact_url(&a.text);
    let code = xml_tag(&text, "Code");
    let message = xml_tag(&text, "Message");
    let expired = matches!(code.as_deref(), Some("ExpiredToken" | "RequestExpired"))
        || (code.as_deref() == Some("AccessDenied")
            && message
                .as_deref()
                .is_some_and(|m| crate::text::find(&m.to_ascii_lowercase(), "expired").is_some()));
    let detail = match (&code, &message) {
        (Some(c), Some(m)) => [c.as_str(), ": ", m].concat(),
        (Some(c), None) => c.clone(),
        _ => snippet(&text, 200),
    };
    let mut msg = [
        "Upload failed with ",
        &uint(a.status.into()),
        " ",
        &detail,
        " (PUT ",
        shown,
        ").",
    ]
    .concat();
    if expired {
        msg.push(' ');
        msg.push_str(expired_hint);
    }
    let mut e = Error::new(Kind::Upload, msg);
    e.status = Some(a.status);
    e.s3_code = code;
    e.expired = expired;
    e.body = Some(JsValue::from_str(&snippet(&text, 2000)));
    e
}

/// The text of the first `<tag>...</tag>` (S3 error bodies are flat and small).
pub fn xml_tag(xml: &str, tag: &str) -> Option<String> {
    let open = ["<", tag, ">"].concat();
    let rest = xml.get(crate::text::find(xml, &open)? + open.len()..)?;
    let end = crate::text::find(rest, &["</", tag, ">"].concat())?;
    Some(rest.get(..end)?.trim().to_string())
}

/// Sends one PUT through the platform's uploader (`put` in js/net.js): the Node one when the Node
/// entry registered it, XMLHttpRequest in browsers (for progress), fetch anywhere else.
async fn send(url: &str, body: &Body, how: &Sending<'_>, mark: &js_sys::Object) -> Result<Answer> {
    let node = NODE_UPLOADER.get();
    let [quiet, whole] = patience(how.idle_ms, body.size);
    let started = put_js(
        node.as_ref().map_or(&JsValue::UNDEFINED, |f| f.as_ref()),
        how.fetch,
        url,
        &body.value,
        body.size,
        how.on_progress,
        how.signal,
        quiet,
        whole,
        mark,
    );
    let reply = crate::task::settled(started)
        .await
        .map_err(|e| network_error(url, e, how.signal))?;
    Ok(Answer {
        status: get(&reply, "status").as_f64().unwrap_or(0.0) as u16,
        text: get(&reply, "body").as_string().unwrap_or_default(),
        hints: Hints {
            retry_after_ms: get(&reply, "retryAfterMs").as_string(),
            retry_after: get(&reply, "retryAfter").as_string(),
            should_retry: None,
        },
    })
}

fn network_error(url: &str, cause: JsValue, signal: Option<&AbortSignal>) -> Error {
    if signal.is_some_and(|s| s.aborted()) {
        return Error::aborted(signal);
    }
    // `put` in net.js stops the upload when `onProgress` throws, and says so.
    if crate::js::is_array(&cause) {
        return Error::callback("onProgress", js_sys::Array::from(&cause).get(1));
    }
    let code = get(&cause, "code").as_string();
    let detail = code
        .clone()
        .or_else(|| get(&cause, "message").as_string())
        .unwrap_or_else(|| {
            "network error (connection reset, DNS, or CORS refused by the storage)".into()
        });
    let mut e = Error::new(
        Kind::Upload,
        [
            "Upload failed: ",
            &redact_url(&detail),
            " (PUT ",
            &redact_url(url),
            ").",
        ]
        .concat(),
    );
    if !cause.is_undefined() && !cause.is_null() {
        e.cause = Some(crate::error::safe_cause(cause, None));
    }
    e
}

/// `imports.upload` of both providers: checks the options and body, then `put`; an error carries
/// the import when `target` is one.
pub async fn to_target(
    url: &str,
    target: &JsValue,
    value: &JsValue,
    opts: &JsValue,
    client: &Client,
    expired_hint: &str,
) -> Result<JsValue> {
    if !is_absent(opts) && !is_plain_object(opts) {
        return Err(Error::invalid("opts", "must be an object"));
    }
    crate::validate::only_keys(opts, "opts", &[&["onProgress", "signal"]])?;
    let data = body(value, "body")?;
    let on_progress = callback(opts, "onProgress", "opts")?;
    let signal = signal(opts, "opts")?;
    let how = Sending::new(client, on_progress.as_ref(), signal.as_ref());
    put(url, &data, &how, expired_hint).await.map_err(|e| {
        if is_plain_object(target) && get(target, "id").is_string() {
            e.with_import(target)
        } else {
            e
        }
    })?;
    Ok(JsValue::UNDEFINED)
}

#[cfg(test)]
mod tests {
    use super::{looks_like_path, patience, xml_tag};

    #[test]
    fn an_upload_waits_for_a_slow_link_but_not_for_ever() {
        const MIB: f64 = 1024.0 * 1024.0;
        // timeoutMs 0: no bound, as for the API calls.
        assert_eq!(patience(0.0, 5.0 * MIB), [0.0; 2]);
        // A small body: the OS may hold all of it, so silence gets its drain time, as the whole.
        assert_eq!(patience(1000.0, 16.0 * 1024.0), [2000.0, 2000.0]);
        // A big one: the OS holds at most 4 MiB (256 s at 16 KiB/s); a sender that sees nothing
        // must allow the whole body at that rate.
        assert_eq!(patience(60_000.0, 100.0 * MIB), [316_000.0, 6_460_000.0]);
        // Whole milliseconds (they are shown in messages).
        assert_eq!(patience(1000.0, 100_005.0), [7104.0, 7104.0]);
        // No timer past what setTimeout takes (a longer one would fire at once).
        assert_eq!(patience(60_000.0, 1e15)[1], 2_147_483_647.0);
        assert_eq!(patience(f64::INFINITY, 1.0), [2_147_483_647.0; 2]);
    }

    #[test]
    fn a_file_name_is_not_taken_for_contents() {
        for s in [
            "contacts.csv",
            "data/contacts.CSV",
            "./q3.xlsx",
            "/tmp/leads.tsv",
            "C:\\Users\\ada\\leads.xls",
            "~/file",
            "../up",
            "my file.txt",
        ] {
            assert!(looks_like_path(s), "{s}");
        }
        for s in [
            "name,email\nada,ada@example.com\n",
            "a,b.csv\n1,2",
            "1.5",
            "email,score",
            "ada@example.com,3.5",
            "x.y,z",
            "hello",
            "",
        ] {
            assert!(!looks_like_path(s), "{s}");
        }
    }

    #[test]
    fn reads_s3_error_xml() {
        let xml = "<?xml version=\"1.0\"?>\n<Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>";
        assert_eq!(xml_tag(xml, "Code").as_deref(), Some("AccessDenied"));
        assert_eq!(
            xml_tag(xml, "Message").as_deref(),
            Some("Request has expired")
        );
        assert_eq!(xml_tag(xml, "RequestId"), None);
        assert_eq!(xml_tag("<html>502</html>", "Code"), None);
    }
}
