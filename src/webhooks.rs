//! Receiving webhooks: `exa.webhooks.unwrap` checks an Exa delivery's signature over the raw body
//! before parsing it (`signature.rs`); `dromo.webhooks.unwrap` parses a Dromo delivery, which
//! nothing signs, so what it returns is a hint to confirm with the API, never a fact. Server-side
//! (the `server` build): a browser has no business receiving webhooks.

use crate::prelude::*;
use js_sys::{Object, Uint8Array, JSON};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Headers;

use crate::error::{Error, Kind, Result};
use crate::js::{get, get_str, is_absent, is_plain_object, keys, set};
use crate::url::check_id;
#[cfg(feature = "exa")]
use crate::{
    exa::{check_metadata, Exa},
    op,
    opts::call_options,
    retry::Op,
    signature::{verify, Refused},
    validate::{check_struct, Shape},
};

#[cfg(feature = "exa")]
/// Exa's documented tolerance for a delivery's timestamp: five minutes either way.
pub const DEFAULT_TOLERANCE_S: f64 = 300.0;

/// A `WebhookVerificationError` with its `code`.
fn refused(code: &'static str, message: &str) -> Error {
    let mut e = Error::new(Kind::Webhook, ["Webhook refused: ", message, "."].concat());
    e.code = Some(code);
    e
}

/// The raw bytes of a delivery's body: a string, or bytes (`Uint8Array`, Node's `Buffer`,
/// `ArrayBuffer`). A parsed object is refused: JSON serialised again never has the bytes that
/// were signed, and a Dromo body may be a form.
fn body_bytes(body: &JsValue) -> Result<Vec<u8>> {
    if let Some(s) = body.as_string() {
        return Ok(s.into_bytes());
    }
    // Read once, in JS (`plain.js`'s `bodyOf`): a Proxy, a throwing getter or a detached buffer
    // is refused there, never touched here. A Blob would need an await: its bytes are asked for.
    crate::js::body_of(body)
        .ok()
        .and_then(|read| read.get(0).dyn_into::<Uint8Array>().ok())
        .map(|bytes| bytes.to_vec())
        .ok_or_else(|| {
            refused(
                "webhook_payload",
                "pass the raw body (a string, or the bytes: await request.arrayBuffer(), or the Buffer node:http gives), not a parsed object: re-serialised JSON never matches the signature",
            )
        })
}

/// Header `name` from a `Headers` or a plain object such as Node's `req.headers` (any case; a
/// repeated header's values joined with `, `, as `Headers` does).
fn header(headers: &JsValue, name: &str) -> Result<Option<String>> {
    if is_absent(headers) {
        return Ok(None);
    }
    if let Some(h) = headers.dyn_ref::<Headers>() {
        return Ok(h.get(name).ok().flatten());
    }
    let headers = crate::js::plain(headers, "headers")?;
    if !is_plain_object(&headers) {
        return Err(Error::invalid(
            "headers",
            "must be a Headers or an object of header names to values (node:http's req.headers)",
        ));
    }
    for k in keys(&headers) {
        if !k.eq_ignore_ascii_case(name) {
            continue;
        }
        let v = get(&headers, &k);
        if let Some(s) = v.as_string() {
            return Ok(Some(s));
        }
        if crate::js::is_array(&v) {
            let parts: Vec<String> = js_sys::Array::from(&v)
                .iter()
                .filter_map(|p| p.as_string())
                .collect();
            return Ok(Some(parts.join(", ")));
        }
    }
    Ok(None)
}

/// Parses a verified (or, for Dromo, received) body as one JSON object.
fn parse_object(bytes: &[u8]) -> Result<JsValue> {
    let text = core::str::from_utf8(bytes)
        .map_err(|_| refused("webhook_payload", "the body is not UTF-8 text"))?;
    let value =
        JSON::parse(text).map_err(|_| refused("webhook_payload", "the body is not JSON"))?;
    if !is_plain_object(&value) {
        return Err(refused("webhook_payload", "the body is not a JSON object"));
    }
    Ok(value)
}

#[cfg(feature = "exa")]
/// `exa.webhooks.unwrap(body, headers, secret?, options?)`: the event, once its signature holds.
/// `client_secret` is the client's `webhookSecret`, used when `secret` is not given.
pub fn exa_unwrap(
    body: &JsValue,
    headers: &JsValue,
    secret: &JsValue,
    options: &JsValue,
    client_secret: Option<&str>,
) -> Result<JsValue> {
    let options = crate::js::plain(options, "options")?;
    crate::validate::only_keys(&options, "options", &[&["toleranceSeconds"]])?;
    let tolerance = match crate::opts::non_negative(&options, "toleranceSeconds", "options")? {
        // Infinity would turn replay protection off without a word.
        Some(t) if !t.is_finite() => {
            return Err(Error::invalid(
                "options.toleranceSeconds",
                "must be a finite number of seconds",
            ))
        }
        Some(t) => t,
        None => DEFAULT_TOLERANCE_S,
    };
    let given = if is_absent(secret) {
        None
    } else {
        Some(
            secret
                .as_string()
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    Error::invalid(
                        "secret",
                        "must be a non-empty string (the webhook's secret)",
                    )
                })?,
        )
    };
    let secret = given.as_deref().or(client_secret).ok_or_else(|| {
        Error::invalid(
            "secret",
            "is required: pass the secret exa.webhooks.create returned, or set webhookSecret on the client",
        )
    })?;
    let bytes = body_bytes(body)?;
    let signature = header(headers, "exa-signature")?
        .ok_or_else(|| refused("webhook_signature", "no Exa-Signature header"))?;
    let now_s = crate::timer::now_ms() / 1000.0;
    verify(&signature, &bytes, secret.as_bytes(), now_s, tolerance).map_err(|why| match why {
        Refused::Signature(m) => refused("webhook_signature", m),
        Refused::Timestamp(m) => refused("webhook_timestamp", m),
    })?;
    let event = parse_object(&bytes)?;
    let is_event = get_str(&event, "id").is_some_and(|id| !id.is_empty())
        && get_str(&event, "type").is_some()
        && is_plain_object(&get(&event, "data"));
    if !is_event {
        return Err(refused(
            "webhook_payload",
            "signed, but not an event (it needs a string id and type, and data)",
        ));
    }
    Ok(event)
}

#[cfg(feature = "dromo")]
/// `dromo.webhooks.unwrap(body, headers?)`: a managed event `{ event, data }` (JSON), or the
/// deprecated basic webhook's form body `uploadId=<id>` as `{ event: 'basic', data: { id } }`.
/// Unsigned: the id it names must be confirmed with a GET before anything is believed.
pub fn dromo_unwrap(body: &JsValue, headers: &JsValue) -> Result<JsValue> {
    let bytes = body_bytes(body)?;
    let form = header(headers, "content-type")?.is_some_and(|t| {
        crate::text::find(&t.to_ascii_lowercase(), "x-www-form-urlencoded").is_some()
    }) || bytes.starts_with(b"uploadId=");
    if form {
        let text = core::str::from_utf8(&bytes)
            .map_err(|_| refused("webhook_payload", "the body is not UTF-8 text"))?;
        let id = text
            .split('&')
            .find_map(|pair| pair.strip_prefix("uploadId="))
            .filter(|id| check_id(id).is_ok())
            .ok_or_else(|| {
                refused(
                    "webhook_payload",
                    "a form body without a well-formed uploadId",
                )
            })?;
        let data = Object::new();
        set(&data, "id", &JsValue::from_str(id));
        let event = Object::new();
        set(&event, "event", &JsValue::from_str("basic"));
        set(&event, "data", &data);
        return Ok(event.into());
    }
    let event = parse_object(&bytes)?;
    let data = get(&event, "data");
    let id = get_str(&data, "id");
    if get_str(&event, "event").is_none()
        || !is_plain_object(&data)
        || id.is_none_or(|id| check_id(&id).is_err())
    {
        return Err(refused(
            "webhook_payload",
            "not a Dromo webhook: it needs a string event and data with the import's id",
        ));
    }
    Ok(event)
}

#[cfg(feature = "exa")]
/// Exa's `EventType`s (the spec's enum): what a webhook may subscribe to.
const EXA_EVENTS: &[&str] = &[
    "webset.created",
    "webset.deleted",
    "webset.paused",
    "webset.idle",
    "webset.search.created",
    "webset.search.canceled",
    "webset.search.completed",
    "webset.search.updated",
    "import.created",
    "import.completed",
    "webset.item.created",
    "webset.item.enriched",
    "monitor.created",
    "monitor.updated",
    "monitor.deleted",
    "monitor.run.created",
    "monitor.run.completed",
    "webset.export.created",
    "webset.export.completed",
];

#[cfg(feature = "exa")]
/// `CreateWebhookParameters` / `UpdateWebhookParameters`.
const WEBHOOK: &[(&str, Shape)] = &[
    ("url", Shape::NonEmptyStr),
    ("events", Shape::StrArray),
    ("metadata", Shape::Object),
];

#[cfg(feature = "exa")]
/// Checks webhook params (`required`: the create's) and returns the JSON body.
fn webhook_body(params: &JsValue, required: &[&str]) -> Result<js_sys::JsString> {
    check_struct(params, WEBHOOK, required, "params")?;
    if let Some(url) = get_str(params, "url") {
        if !(url.starts_with("https://") || url.starts_with("http://")) {
            return Err(Error::invalid(
                "params.url",
                "must be an absolute http(s) URL: where Exa will POST the events",
            ));
        }
    }
    let events = get(params, "events");
    if !is_absent(&events) {
        let list = js_sys::Array::from(&events);
        if list.length() == 0 || list.length() > 19 {
            return Err(Error::invalid(
                "params.events",
                "must name 1 to 19 event types",
            ));
        }
        for (i, e) in list.iter().enumerate() {
            crate::validate::check(
                &e,
                Shape::OneOf(EXA_EVENTS),
                &crate::validate::index("params.events", i),
            )?;
        }
    }
    check_metadata(&get(params, "metadata"), "params.metadata")?;
    crate::exa::stringify(params)
}

#[cfg(feature = "exa")]
/// `/v0/webhooks/{id}`; the id must be one safe path segment.
fn webhook_path(id: &JsValue) -> Result<String> {
    let id = id
        .as_string()
        .ok_or_else(|| Error::invalid("id", "must be a string (the webhook's id)"))?;
    check_id(&id).map_err(|why| Error::invalid("id", why))?;
    Ok(["/v0/webhooks/", &id].concat())
}

#[cfg(feature = "exa")]
/// `exa.webhooks`: unwrap, and the `/v0/webhooks` endpoints (they hold the key: server-side).
pub async fn exa_call(exa: &Exa, op: u8, a: JsValue, b: JsValue, c: JsValue) -> Result<JsValue> {
    let client = &exa.client;
    match op {
        op::WEBHOOK_UNWRAP => exa_unwrap(
            &a,
            &b,
            &get(&c, "secret"),
            &get(&c, "options"),
            client.webhook_secret.as_deref(),
        ),
        op::WEBHOOK_CREATE => {
            let body = webhook_body(&crate::js::plain(&a, "params")?, &["url", "events"])?;
            // The answer holds the signing secret, shown once: a create whose answer was lost
            // leaves a webhook whose secret nobody knows, so only what proves nothing was made
            // is retried (delete the stray one from exa.webhooks.list()).
            client
                .request(
                    "POST",
                    "/v0/webhooks",
                    Some(&body),
                    &call_options(&b)?,
                    Op::CreateWithData,
                )
                .await
        }
        op::WEBHOOK_RETRIEVE => {
            let path = webhook_path(&a)?;
            client
                .request("GET", &path, None, &call_options(&b)?, Op::Read)
                .await
        }
        op::WEBHOOK_UPDATE => {
            let path = webhook_path(&a)?;
            let body = webhook_body(&crate::js::plain(&b, "params")?, &[])?;
            client
                .request("PATCH", &path, Some(&body), &call_options(&c)?, Op::Read)
                .await
        }
        op::WEBHOOK_DELETE => {
            let path = webhook_path(&a)?;
            client.delete(&path, &call_options(&b)?).await
        }
        op::WEBHOOK_RECEIVED => {
            // An Exa event names itself (`id`, the same on every retry); `import.*` events carry
            // the import.
            let event = crate::js::plain(&a, "event")?;
            let key = get_str(&event, "id").unwrap_or_default();
            let about_import = get_str(&event, "type").is_some_and(|t| t.starts_with("import."));
            let import_id = about_import
                .then(|| get_str(&get(&event, "data"), "id"))
                .flatten();
            Ok(JsValue::from_bool(
                client.wakes.received(key, import_id.as_deref()),
            ))
        }
        op::WEBHOOK_LIST_PAGE => {
            exa.list_page_of("/v0/webhooks", &crate::js::plain(&a, "params")?)
                .await
        }
        _ => Err(crate::unknown_op(op)),
    }
}

/// Dromo's managed events, and the basic webhook: the only ones that wake a wait (an unsigned
/// event of any other name would be a free confirming GET for whoever sends it).
#[cfg(feature = "dromo")]
const DROMO_EVENTS: [&str; 4] = [
    "import_completed",
    "headless_import_needs_review",
    "headless_import_failed",
    "basic",
];

/// A Dromo event the handler received: wakes the client's waits for its import; whether it is
/// new. Dromo's events carry no id of their own and nothing signs them, so an event is known by
/// all it says: a delivery sent twice repeats it byte for byte, and a forged one that differs in
/// anything cannot stand in for the genuine one.
#[cfg(feature = "dromo")]
pub fn dromo_received(client: &crate::client::Client, event: &JsValue) -> Result<JsValue> {
    let event = crate::js::plain(event, "event")?;
    let key = JSON::stringify(&event)
        .map(String::from)
        .unwrap_or_default();
    let name = get_str(&event, "event").unwrap_or_default();
    let id = get_str(&get(&event, "data"), "id");
    let wakes = DROMO_EVENTS.contains(&name.as_str());
    Ok(JsValue::from_bool(
        client.wakes.received(key, id.as_deref().filter(|_| wakes)),
    ))
}
