//! The shared API client: base URL policy, auth header, and `request` = fetch + retry + timeout +
//! abort + error classification. Providers (`dromo.rs`, `exa.rs`) only build paths and bodies; options are read in `opts.rs`.

use crate::prelude::*;
use js_sys::{Function, JsString};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use web_sys::Headers;

use crate::error::{Error, Kind, Result};
use crate::http::{self, Redirect, Reply};
use crate::js::{get, get_str, is_absent, is_plain_object, json_parse, keys};
use crate::limit::{Limiter, Rate};
use crate::opts::{callback, headers, join, non_negative, CallOptions};
use crate::redact::{clean, snippet};
use crate::retry::{Hints, Op};
use crate::text::uint;
use crate::timer::sleep;
use crate::url::{check_base_url, Refused};

/// What differs between providers at the transport level.
pub struct Provider {
    pub name: &'static str,
    pub default_base_url: &'static str,
    pub auth_header: &'static str,
    /// Environment-ish name users know the key by, for error messages.
    pub key_name: &'static str,
    /// What every path naming one resource has in it (`/imports/` then the id): a 404 for any
    /// other path is a route the server lacks, not a resource it lacks.
    pub id_routes: &'static [&'static str],
    /// Whether a create's 404 can mean a missing saved schema (Dromo's `schema_id`).
    pub schema_404: bool,
    /// Whether its webhooks carry a signature (Exa's `Exa-Signature`; Dromo's carry none).
    #[cfg(feature = "server")]
    pub signs_webhooks: bool,
    /// Documented limits: creates per window, and status polls per import per window.
    pub limits: (Option<Rate>, Option<Rate>),
}

/// The `webhookSecret` option: Exa's signing secret (Dromo signs nothing).
#[cfg(feature = "server")]
fn webhook_secret(provider: &Provider, opts: &JsValue) -> Result<Option<String>> {
    let v = get(opts, "webhookSecret");
    if is_absent(&v) {
        return Ok(None);
    }
    if !provider.signs_webhooks {
        return Err(Error::invalid(
            "webhookSecret",
            "is for Exa: Dromo signs no webhooks (confirm each event with a GET instead)",
        ));
    }
    match v.as_string() {
        Some(s) if !s.is_empty() => Ok(Some(s)),
        _ => Err(Error::invalid(
            "webhookSecret",
            "must be a non-empty string",
        )),
    }
}

/// `Accept: application/json` plus `extra`; a header fetch would refuse is an error at `path`.
fn base_headers(extra: &[(String, String)], path: &str) -> Result<Headers> {
    let h = Headers::new().map_err(|_| Error::new(Kind::Connection, "Headers is not available"))?;
    let _ = h.set("Accept", "application/json");
    add_headers(h, extra, path)
}

/// A copy of `base` with `extra` set on top.
fn with_headers(base: &Headers, extra: &[(String, String)], path: &str) -> Result<Headers> {
    let h = Headers::new_with_headers(base)
        .map_err(|_| Error::new(Kind::Connection, "Headers is not available"))?;
    add_headers(h, extra, path)
}

fn add_headers(h: Headers, extra: &[(String, String)], path: &str) -> Result<Headers> {
    for (k, v) in extra {
        h.set(k, v)
            .map_err(|_| Error::invalid(join(path, k), "is not a valid header"))?;
    }
    Ok(h)
}

/// A configured client. The key lives only here: in wasm memory, and in the `Headers` that only
/// this struct holds and hands to fetch for API requests. No JS object the user can reach has it,
/// so `console.log(client)` or `toString()` cannot show it.
pub struct Client {
    provider: &'static Provider,
    base_url: String,
    api_key: Option<String>,
    pub max_retries: u32,
    pub timeout_ms: f64,
    /// Every request's headers (Accept, the client's `headers`, the key), built and checked once:
    /// fetch copies them, so one instance serves every call. `json_headers` adds Content-Type.
    read_headers: Headers,
    json_headers: Headers,
    /// Whether requests carry something secret (the key, or the caller's own headers): then
    /// redirects are judged here instead of followed by fetch.
    sends_secrets: bool,
    fetch: Option<Function>,
    /// Queues sends that would exceed the provider's rate limits.
    pub limiter: Limiter,
    /// The secret `exa.webhooks.unwrap` checks deliveries with when it is given none.
    #[cfg(feature = "server")]
    pub webhook_secret: Option<String>,
    /// The waits webhooks can wake, and the events the client's handler has seen.
    #[cfg(feature = "server")]
    pub wakes: crate::wake::Wakes,
    /// The client's `webhooks` option: whether its waits sleep until an event (default false).
    #[cfg(feature = "server")]
    pub webhooks: bool,
}

const CLIENT_KEYS: [&str; 8] = [
    "apiKey",
    "baseUrl",
    "maxRetries",
    "timeoutMs",
    "headers",
    "fetch",
    "dangerouslyAllowBrowser",
    "rateLimit",
];

/// Options only the `server` build (Node's) knows: a browser has no business holding them.
#[cfg(feature = "server")]
const SERVER_KEYS: &[&str] = &["webhookSecret", "webhooks"];
#[cfg(not(feature = "server"))]
const SERVER_KEYS: &[&str] = &[];

impl Client {
    pub fn from_js(provider: &'static Provider, opts: &JsValue) -> Result<Client> {
        let opts = if is_absent(opts) {
            JsValue::from(js_sys::Object::new())
        } else {
            opts.clone()
        };
        if !is_plain_object(&opts) {
            return Err(Error::invalid("options", "must be an object"));
        }
        crate::validate::only_keys(&opts, "", &[&CLIENT_KEYS, SERVER_KEYS])?;
        let api_key = match get(&opts, "apiKey") {
            v if is_absent(&v) => None,
            v => match v.as_string() {
                Some(s) if !s.trim().is_empty() => Some(s),
                _ => return Err(Error::invalid("apiKey", "must be a non-empty string")),
            },
        };
        let base_url = match get(&opts, "baseUrl") {
            v if is_absent(&v) => provider.default_base_url.to_string(),
            v => v
                .as_string()
                .ok_or_else(|| Error::invalid("baseUrl", "must be a string"))?,
        };
        let base_url = base_url.trim_end_matches('/').to_string();
        check_base_url(&base_url).map_err(|why| Error::invalid("baseUrl", why))?;
        // The provider's own host without the API's path (what exa-js users pass, or Dromo's app
        // address) answers every call with a bare 404: said here instead.
        let home = provider.default_base_url;
        if crate::url::origin(home) == Some(base_url.as_str()) {
            return Err(Error::invalid(
                "baseUrl",
                [
                    "is ",
                    &base_url,
                    ", without the API's path: ",
                    provider.name,
                    "'s API is at ",
                    home,
                    " (the default; leave baseUrl out)",
                ]
                .concat(),
            ));
        }
        if api_key.is_none() && !base_url.starts_with('/') && base_url == provider.default_base_url
        {
            return Err(Error::invalid(
                "apiKey",
                [
                    "is required for ",
                    provider.name,
                    " (your ",
                    provider.key_name,
                    "); or point baseUrl at your proxy",
                ]
                .concat(),
            ));
        }
        let allow_browser = get(&opts, "dangerouslyAllowBrowser")
            .as_bool()
            .unwrap_or(false);
        if api_key.is_some() && is_browser() && !allow_browser {
            return Err(Error::invalid(
                "dangerouslyAllowBrowser",
                [
                    "refusing to put your ",
                    provider.name,
                    " ",
                    provider.key_name,
                    " in a browser, where anyone can read it. Put the key in a proxy on your server and use `new ",
                    provider.name,
                    "({ baseUrl: '/api/...' })` here without a key, or pass dangerouslyAllowBrowser: true if you understand the risk.",
                ]
                .concat(),
            ));
        }
        let fetch = callback(&opts, "fetch", "")?;
        let extra_headers = headers(&opts, "")?;
        let sends_secrets = api_key.is_some() || !extra_headers.is_empty();
        let read_headers = base_headers(&extra_headers, "headers")?;
        if let Some(key) = &api_key {
            read_headers
                .set(provider.auth_header, key)
                .map_err(|_| Error::invalid("apiKey", "is not a valid header value"))?;
        }
        let json_headers = with_headers(&read_headers, &[], "")?;
        let _ = json_headers.set("Content-Type", "application/json");
        // Where the limiter's slots live (`rateLimit.store`): named by the account, of which only
        // a hash is kept. A keyless client (its proxy adds the key) shares limits per proxy.
        #[cfg(feature = "server")]
        let store = crate::limit_store::Store::from_js(
            &opts,
            provider.name,
            api_key.as_deref().unwrap_or(&base_url),
        )?;
        Ok(Client {
            provider,
            base_url,
            api_key,
            max_retries: non_negative(&opts, "maxRetries", "")?.map_or(2, |n| n.min(10.0) as u32),
            timeout_ms: non_negative(&opts, "timeoutMs", "")?.unwrap_or(60_000.0),
            read_headers,
            json_headers,
            sends_secrets,
            fetch,
            limiter: {
                let limiter = Limiter::from_js(&opts, provider.limits)?;
                #[cfg(feature = "server")]
                let limiter = limiter.with_store(store);
                limiter
            },
            #[cfg(feature = "server")]
            webhook_secret: webhook_secret(provider, &opts)?,
            #[cfg(feature = "server")]
            wakes: crate::wake::Wakes::default(),
            #[cfg(feature = "server")]
            webhooks: crate::opts::boolean(&opts, "webhooks", "")?.unwrap_or(false),
        })
    }

    /// A status read of the import at `path`, within the per-import poll limit (when one is set).
    pub async fn poll(&self, path: &str, opts: &CallOptions) -> Result<JsValue> {
        self.limited_request(
            Some(crate::limit::Kind::Poll(path)),
            "GET",
            path,
            None,
            opts,
            Op::Read,
        )
        .await
    }

    /// The base URL requests go to (no trailing slash): part of what a journal is written for.
    #[cfg(feature = "server")]
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Whether requests carry an API key (else `baseUrl` is a proxy or a server of the caller's).
    pub fn has_key(&self) -> bool {
        self.api_key.is_some()
    }

    pub fn fetch_fn(&self) -> Option<&Function> {
        self.fetch.as_ref()
    }

    /// Sends an API request with retries and returns the parsed JSON body.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        body: Option<&JsString>,
        opts: &CallOptions,
        op: Op,
    ) -> Result<JsValue> {
        self.limited_request(None, method, path, body, opts, op)
            .await
    }

    /// `request` within a rate limit: every attempt takes its own slot, because the server
    /// counts each one (a retry after a reset or a 5xx may follow a request it did process).
    /// A DELETE whose retry finds nothing (404) is done: an attempt whose answer was lost did
    /// delete it; that success is answered `null`.
    pub async fn limited_request(
        &self,
        limit: Option<crate::limit::Kind<'_>>,
        method: &str,
        path: &str,
        body: Option<&JsString>,
        opts: &CallOptions,
        op: Op,
    ) -> Result<JsValue> {
        let mut attempt = 0;
        loop {
            match self
                .try_once(limit, method, path, body, opts, op, attempt)
                .await
            {
                Ok(v) => return Ok(v),
                Err(f) if method == "DELETE" && attempt > 0 && f.error.status == Some(404) => {
                    return Ok(JsValue::NULL)
                }
                Err(failed) => failed.wait(opts).await?,
            }
            attempt += 1;
        }
    }

    /// `DELETE path` with retries (see `limited_request` for a 404 on a retry).
    pub async fn delete(&self, path: &str, opts: &CallOptions) -> Result<JsValue> {
        self.request("DELETE", path, None, opts, Op::Read).await
    }

    /// Attempt number `attempt` (0 = the first) of a request, within its rate limit. On failure,
    /// what the retry policy says: the error and the wait before another try, if any. For flows
    /// that must look at a failure before retrying (a create whose answer was lost).
    #[allow(clippy::too_many_arguments)]
    pub async fn try_once(
        &self,
        limit: Option<crate::limit::Kind<'_>>,
        method: &str,
        path: &str,
        body: Option<&JsString>,
        opts: &CallOptions,
        op: Op,
        attempt: u32,
    ) -> core::result::Result<JsValue, Failed> {
        // Checked first, so an unlimited send does not even await an empty permit.
        let permit = match limit {
            Some(kind) if self.limiter.rate(kind).is_some() => Some({
                // Node's build may keep the slots in a shared store, which holds a slot no longer
                // than the request may take.
                #[cfg(feature = "server")]
                let acquired = self.limiter.acquire_for(kind, opts, self.timeout_ms);
                #[cfg(not(feature = "server"))]
                let acquired =
                    self.limiter
                        .acquire(kind, opts.signal.as_ref(), opts.on_queued.as_ref());
                acquired.await.map_err(Failed::last)?
            }),
            _ => None,
        };
        // The slot is granted: a flow's `onCreating` hears of the create before it is sent.
        #[cfg(feature = "server")]
        if let (Some(crate::limit::Kind::Create), Some(f)) = (limit, opts.on_creating.as_ref()) {
            let event = js_sys::Object::new();
            crate::js::set(&event, "attempt", &JsValue::from_f64(f64::from(attempt)));
            crate::opts::call_back(f, "onCreating", &event.into())
                .await
                .map_err(Failed::last)?;
        }
        let url = [self.base_url.as_str(), path].concat();
        let create = matches!(op, Op::CreateEmpty | Op::CreateWithData);
        let result = self.attempt(method, &url, path, body, opts, create).await;
        // Answered (or failed): that frees the slot `max` sends later, before any retry wait.
        drop(permit);
        result.map_err(|e| {
            let hints = Hints::from(|h| e.retry_hints.as_ref().and_then(|r| r.header(h)));
            #[cfg(feature = "server")]
            if let (Some(kind), Some(429)) = (limit, e.error.status) {
                self.limiter.throttled(kind, &hints);
            }
            let max_retries = opts.max_retries.unwrap_or(self.max_retries);
            let retry_in = e.error.retry_in(op, attempt, max_retries, &hints);
            Failed {
                error: e.error,
                retry_in,
            }
        })
    }

    /// One request, following what redirects may be followed; a `create`'s answer must name what
    /// it made.
    async fn attempt(
        &self,
        method: &str,
        url: &str,
        path: &str,
        body: Option<&JsString>,
        opts: &CallOptions,
        create: bool,
    ) -> core::result::Result<JsValue, Attempt> {
        let base = if body.is_some() {
            &self.json_headers
        } else {
            &self.read_headers
        };
        // Per-call headers are rare: only then is a copy made.
        let extra;
        let headers = if opts.headers.is_empty() {
            base
        } else {
            extra = with_headers(base, &opts.headers, "opts.headers")?;
            &extra
        };
        // A request that carries the key (or the caller's own headers, which may hold secrets)
        // follows no redirect blindly: fetch would send those headers to any origin a 3xx names.
        let follow = !self.sends_secrets && opts.headers.is_empty();
        let mut to = url.to_string();
        let mut hops = 0;
        let reply = loop {
            let reply = http::send(http::Request {
                method,
                url: &to,
                headers: headers.as_ref(),
                body: body.map(|b| b.as_ref()),
                timeout_ms: opts.timeout_ms.unwrap_or(self.timeout_ms),
                signal: opts.signal.as_ref(),
                fetch: self.fetch.as_ref(),
                follow,
                secret: self.api_key.as_deref(),
                stream: false,
            })
            .await?;
            let target = match &reply.redirect {
                None => break reply,
                Some(Redirect::To(t)) => Some(t.as_str()),
                Some(Redirect::Hidden) => None,
            };
            if let Err(why) = crate::url::follow(method, reply.status, &to, target, hops) {
                return Err(redirect_refused(&reply, why, method, path).into());
            }
            to = target.unwrap_or_default().to_string();
            hops += 1;
        };
        let what = [method, " ", path].concat();
        if (200..300).contains(&reply.status) {
            return self
                .parse_json(&reply, &what, create)
                .map_err(Attempt::from);
        }
        let error = self.api_error(&reply, &what);
        Err(Attempt {
            error,
            retry_hints: Some(reply),
        })
    }

    /// The answer's `X-Request-Id`, cleaned like the rest of what the server said.
    fn request_id(&self, reply: &Reply) -> Option<String> {
        reply
            .header("x-request-id")
            .map(|id| clean(&id, self.api_key.as_deref()))
    }

    /// Success bodies must be JSON objects (an import, a page; an array of rows), and a create's
    /// must name what it made (a string `id`). Anything else (an HTML page from a proxy, a body cut
    /// off, a `null`) is an `APIError` carrying the status and a (cleaned) snippet, never a crash
    /// and never a success without a result: it may still have made what it was asked to (a
    /// create), and is retried and cleaned up as a cut-off answer.
    fn parse_json(&self, reply: &Reply, what: &str, create: bool) -> Result<JsValue> {
        // Only a DELETE answers nothing.
        if reply.text.length() == 0 && what.starts_with("DELETE ") {
            return Ok(JsValue::NULL);
        }
        match json_parse(&reply.text) {
            Ok(v) if v.is_object() && (!create || get_str(&v, "id").is_some()) => Ok(v),
            _ => Err(self.bad_body(reply, what)),
        }
    }

    /// The error for a 2xx answer `parse_json` refused.
    #[inline(never)] // cold: kept out of every request's state machine
    fn bad_body(&self, reply: &Reply, what: &str) -> Error {
        let text = clean(&String::from(reply.text.clone()), self.api_key.as_deref());
        let mut e = Error::new(
            Kind::Api,
            [
                &uint(reply.status.into()),
                " response was not JSON as expected (",
                what,
                "): ",
                &if text.is_empty() {
                    "an empty body".into()
                } else {
                    snippet(&text, 120)
                },
            ]
            .concat(),
        );
        e.status = Some(reply.status);
        e.request_id = self.request_id(reply);
        e.body = Some(JsValue::from_str(&snippet(&text, 2000)));
        e.code = Some("invalid_response");
        // A create's answer cut off mid-body still names the import it made: keep its id.
        if let Some(id) = crate::url::id_in(&text) {
            e.import = Some(crate::error::id_only(id));
        }
        e
    }

    /// Turns an error reply into the right `APIError` subclass with a readable message.
    #[inline(never)] // cold: kept out of every request's state machine
    fn api_error(&self, reply: &Reply, what: &str) -> Error {
        // Whatever the server said is cleaned before it goes anywhere near the error: it may echo
        // the key, or an import's presigned upload URL.
        let text = clean(&String::from(reply.text.clone()), self.api_key.as_deref());
        let body = json_parse(&text.as_str().into()).unwrap_or_else(|_| JsValue::from_str(&text));
        let mut detail = error_detail(&body).unwrap_or_else(|| {
            // A web page (a proxy's or a gateway's 502) says nothing its status does not.
            if text.trim_start().starts_with('<') {
                [
                    status_text(reply.status),
                    " (an HTML page: a proxy or gateway answered, not the API)",
                ]
                .concat()
            } else {
                snippet(&text, 200)
            }
        });
        // A 404 page that is not the API's JSON (a web server's HTML), or a 404 listing a
        // collection that always exists: the request reached something other than the API. (A
        // create's 404 names a missing schema.)
        let names_one = self.provider.id_routes.iter().any(|route| {
            crate::text::find(what, route)
                .and_then(|at| what.get(at + route.len()..))
                .is_some_and(|id| !id.is_empty() && !id.starts_with('?'))
        });
        // A create's 404 names a missing schema at Dromo; at Exa a create has no such meaning.
        let collection = !names_one && (what.starts_with("GET ") || !self.provider.schema_404);
        let missing = reply.status == 404 && (body.is_string() || collection);
        // A 405 on the API's own paths: something else (a web app) answers there.
        if missing || reply.status == 405 {
            detail = [
                "Nothing answers this route at ",
                &self.base_url,
                ". Is baseUrl right? ",
                self.provider.name,
                "'s API is at ",
                self.provider.default_base_url,
                " (a proxy or emulator serves the same paths under its own).",
            ]
            .concat();
        }
        let mut e = Error::new(
            Kind::Api,
            [
                uint(reply.status.into()).as_str(),
                " ",
                if detail.is_empty() {
                    status_text(reply.status)
                } else {
                    detail.as_str()
                },
                " (",
                what,
                ")",
            ]
            .concat(),
        );
        e.status = Some(reply.status);
        e.request_id = self.request_id(reply);
        e.body = Some(body);
        // The headers too: an API (or a proxy) may echo the key in any of them.
        if let Ok(h) = js_sys::Object::from_entries(&reply.headers) {
            for k in keys(&h) {
                if let Some(v) = get_str(&h, &k) {
                    crate::js::set(
                        &h,
                        &k,
                        &JsValue::from_str(&clean(&v, self.api_key.as_deref())),
                    );
                }
            }
            e.extra.push(("headers", h.into()));
        }
        e
    }
}

/// The error for a redirect that was not followed; it names the other origin, never the path
/// or query there (they could carry anything).
#[inline(never)] // cold: kept out of every request's state machine
fn redirect_refused(reply: &Reply, why: Refused, method: &str, path: &str) -> Error {
    let why = match &why {
        Refused::Elsewhere(Some(origin)) => [
            " to ",
            origin,
            ", another origin: your key was not sent there",
        ]
        .concat(),
        Refused::Elsewhere(None) => " to a hidden or invalid URL".into(),
        Refused::MethodChange => " that would change the method (a missing trailing slash?)".into(),
        Refused::TooMany => ", too many in a row".into(),
    };
    let mut e = Error::new(
        Kind::Api,
        [
            &uint(reply.status.into()),
            " redirect",
            &why,
            " (",
            method,
            " ",
            path,
            "). Not followed; check baseUrl.",
        ]
        .concat(),
    );
    e.status = Some(reply.status);
    e.request_id = reply.header("x-request-id");
    e.code = Some("redirect_refused");
    e
}

/// A failed attempt and the retry policy's verdict on it.
pub struct Failed {
    pub error: Error,
    /// Milliseconds to wait before the next try; `None`: give up with `error`.
    pub retry_in: Option<f64>,
}

impl Failed {
    fn last(error: Error) -> Failed {
        Failed {
            error,
            retry_in: None,
        }
    }

    /// Waits before the next try, or gives up with the error.
    pub async fn wait(self, opts: &CallOptions) -> Result<()> {
        match self.retry_in {
            Some(ms) => sleep(ms, opts.signal.as_ref()).await,
            None => Err(self.error),
        }
    }
}

/// An attempt's error, keeping the reply so the retry delay can read its headers.
struct Attempt {
    error: Error,
    retry_hints: Option<Reply>,
}

impl From<Error> for Attempt {
    fn from(error: Error) -> Self {
        Attempt {
            error,
            retry_hints: None,
        }
    }
}

/// The human part of an error body: DRF's `detail`, a `message`/`error`, or the first field error.
fn error_detail(body: &JsValue) -> Option<String> {
    for k in ["detail", "message", "error"] {
        if let Some(s) = get_str(body, k) {
            return Some(s);
        }
    }
    if is_plain_object(body) {
        let k = keys(body).into_iter().next()?;
        let v = get(body, &k);
        let first = if crate::js::is_array(&v) {
            js_sys::Array::from(&v).get(0)
        } else {
            v
        };
        return first.as_string().map(|s| [k.as_str(), ": ", &s].concat());
    }
    None
}

fn status_text(status: u16) -> &'static str {
    match status {
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        409 => "Conflict",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "HTTP error",
    }
}

#[wasm_bindgen(module = "/src/js/net.js")]
extern "C" {
    /// True in a page or a worker: where a secret key would be visible to whoever runs the code.
    #[wasm_bindgen(js_name = inBrowser)]
    fn is_browser() -> bool;
}
