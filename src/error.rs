//! Error kinds and how they cross into JavaScript.
//!
//! Rust decides everything about an error (its class, code, message and properties); the class
//! hierarchy itself lives in `pkg/errors.js` because `instanceof` needs real JS classes, and the
//! package hands its `makeError` to the core at start-up (`setup`).
//! Messages are built here and only here, so redaction of secrets happens in one place
//! (`crate::redact`).

use js_sys::Object;
use wasm_bindgen::prelude::*;

use crate::js::{set, Slot};
use crate::prelude::*;
use crate::retry::Failure;

/// `makeError(name, message, props)` from `pkg/clients.js`, given to `setup`.
static MAKER: Slot = Slot::new();

/// Registers the JS side's error factory.
pub fn set_maker(f: js_sys::Function) {
    MAKER.set(f);
}

/// Which JS class an error becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Bad input, rejected before any request was sent.
    Validation,
    /// The API answered with an error status (or an unreadable body).
    Api,
    /// The request never got an answer (DNS, refused, reset, CORS).
    Connection,
    /// The request took longer than `timeoutMs`.
    Timeout,
    /// The caller's `AbortSignal` fired.
    Abort,
    /// The presigned PUT failed.
    Upload,
    /// The import reached FAILED.
    ImportFailed,
    /// A Dromo import stopped at NEEDS_REVIEW where a result was expected.
    NeedsReview,
    /// `waitForCompletion` ran out of time.
    WaitTimeout,
    /// A callback of the caller's (`onProgress`, `onStatus`, `onQueued`) threw: the call stopped.
    Callback,
    /// A webhook delivery that does not verify (or parse): `WebhookVerificationError`.
    #[cfg(feature = "server")]
    Webhook,
    /// `rateLimit.store` failed (Redis unreachable, say) and its `onError` is `'fail'`: no request
    /// was sent. A `HeadlessImportsError` with `code` `rate_limit_store`, like a callback's error
    /// (a class of its own would grow every browser download, where there is no store).
    #[cfg(feature = "server")]
    Store,
}

/// Every failure of the library. Converted to a JS error at the boundary.
///
/// Boxed: every `Result` in every async state machine carries it, and a one-pointer error keeps
/// those moves and copies small (boxing took ~4 KB gzipped off the wasm). Fields read through
/// `Deref`, so `e.kind` and `e.status = ...` work as on a plain struct.
#[derive(Debug)]
pub struct Error(Box<Fields>);

/// What an [`Error`] holds.
#[derive(Debug)]
pub struct Fields {
    pub kind: Kind,
    pub message: String,
    /// HTTP status, for API and upload errors.
    pub status: Option<u16>,
    /// The offending input, e.g. `fields[2].label`, for validation errors.
    pub path: Option<String>,
    pub request_id: Option<String>,
    /// Parsed JSON (or text) body of an API error.
    pub body: Option<JsValue>,
    /// The S3 error code of an upload error (`AccessDenied`, `SignatureDoesNotMatch`, ...).
    pub s3_code: Option<String>,
    pub expired: bool,
    /// The import this error concerns: a created import's id is never lost.
    pub import: Option<JsValue>,
    /// The underlying JS error, for connection failures.
    pub cause: Option<JsValue>,
    /// Overrides the class's default `code` (e.g. `invalid_response`).
    pub code: Option<&'static str>,
    /// Provider-specific properties (e.g. Exa's `failedReason`), copied onto the JS error.
    pub extra: Vec<(&'static str, JsValue)>,
}

pub type Result<T> = core::result::Result<T, Error>;

impl core::ops::Deref for Error {
    type Target = Fields;
    fn deref(&self) -> &Fields {
        &self.0
    }
}

impl core::ops::DerefMut for Error {
    fn deref_mut(&mut self) -> &mut Fields {
        &mut self.0
    }
}

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self::with_message(kind, message.into())
    }

    // The generic constructors hand over to these at once: their bodies would otherwise be copied
    // for each argument type they are called with (four copies of `invalid`, two of `new`).
    fn with_message(kind: Kind, message: String) -> Self {
        Error(Box::new(Fields {
            kind,
            message,
            status: None,
            path: None,
            request_id: None,
            body: None,
            s3_code: None,
            expired: false,
            import: None,
            cause: None,
            code: None,
            extra: Vec::new(),
        }))
    }

    /// A `ValidationError` naming the offending input.
    pub fn invalid(path: impl Into<String>, message: impl AsRef<str>) -> Self {
        Self::invalid_at(path.into(), message.as_ref())
    }

    fn invalid_at(path: String, message: &str) -> Self {
        let message = if path.is_empty() {
            message.to_string()
        } else {
            [path.as_str(), ": ", message].concat()
        };
        let mut e = Error::with_message(Kind::Validation, message);
        e.path = Some(path);
        e
    }

    /// `APIUserAbortError`, with the signal's reason (what `abort(reason)` was given, or the
    /// `TimeoutError` of `AbortSignal.timeout()`) as its `cause` and in its message.
    pub fn aborted(signal: Option<&web_sys::AbortSignal>) -> Self {
        let reason = signal.map_or(JsValue::UNDEFINED, |s| crate::js::get(s, "reason"));
        let text = |k: &str| crate::js::get(&reason, k).as_string();
        let why = match (reason.as_string(), text("name").as_deref()) {
            (Some(s), _) => s,
            (_, Some("TimeoutError")) => "the signal timed out".into(),
            // `abort()` without a reason: the platform's AbortError says nothing more.
            (_, Some("AbortError")) => String::new(),
            _ => text("message").unwrap_or_default(),
        };
        let mut e = Error::new(
            Kind::Abort,
            if why.is_empty() {
                "Request was aborted.".into()
            } else {
                ["Aborted: ", &crate::redact::snippet(&why, 200), "."].concat()
            },
        );
        if !reason.is_undefined() {
            e.cause = Some(reason);
        }
        e
    }

    /// The caller's callback `name` threw `thrown`: what it was doing stopped.
    pub fn callback(name: &str, thrown: JsValue) -> Self {
        let mut e = Error::new(
            Kind::Callback,
            [
                name,
                " threw, so the call stopped; what it threw is the cause.",
            ]
            .concat(),
        );
        e.cause = Some(thrown);
        e.code = Some("callback_error");
        e
    }

    pub fn with_import(mut self, import: &JsValue) -> Self {
        if self.import.is_none() {
            self.import = Some(import.clone());
        }
        self
    }

    /// Names the import a failed call made (`error.import`) and whether it was `deleted`.
    #[inline(never)] // cold: kept out of every flow's state machine
    pub fn made(self, import: &JsValue, deleted: bool) -> Self {
        let mut e = self.with_import(import);
        e.extra.push(("deleted", JsValue::from_bool(deleted)));
        e
    }

    /// A create that made the import on this error (`error.import`), failed, and could not delete
    /// it: stops, naming it, rather than make another that would leave it behind unknown.
    #[inline(never)] // cold: kept out of every flow's state machine
    pub fn undeleted(self) -> Self {
        let id = self
            .import
            .as_ref()
            .and_then(|i| crate::js::get_str(i, "id"))
            .unwrap_or_default();
        let mut e = self;
        e.extra.push(("deleted", JsValue::FALSE));
        let sep = if e.message.ends_with('.') { " " } else { ". " };
        e.message = [
            e.message.as_str(),
            sep,
            "It created import ",
            &id,
            ", whose deletion failed or went unconfirmed: check it before creating again.",
        ]
        .concat();
        e
    }

    /// The JS class name: API errors are split by status like every major SDK does.
    pub fn class_name(&self) -> &'static str {
        match self.kind {
            Kind::Validation => "ValidationError",
            Kind::Api => api_class(self.status.unwrap_or(0)),
            Kind::Connection => "APIConnectionError",
            Kind::Timeout => "APIConnectionTimeoutError",
            Kind::Abort => "APIUserAbortError",
            Kind::Upload => "UploadError",
            Kind::ImportFailed => "ImportFailedError",
            Kind::NeedsReview => "NeedsReviewError",
            Kind::WaitTimeout => "WaitTimeoutError",
            Kind::Callback => "HeadlessImportsError",
            #[cfg(feature = "server")]
            Kind::Webhook => "WebhookVerificationError",
            #[cfg(feature = "server")]
            Kind::Store => "HeadlessImportsError",
        }
    }

    /// What the retry policy (`crate::retry::next`) says after attempt `attempt` (0 = the first)
    /// of `op` failed with this error: the wait before another, or `None` to give up. The clock
    /// and the jitter are the platform's; every retrying loop asks here.
    pub fn retry_in(
        &self,
        op: crate::retry::Op,
        attempt: u32,
        max_retries: u32,
        hints: &crate::retry::Hints,
    ) -> Option<f64> {
        crate::retry::next(
            op,
            self.failure(),
            attempt,
            max_retries,
            hints,
            crate::timer::now_ms(),
            js_sys::Math::random(),
        )
    }

    /// Whether the create that failed so may still have created an import: its request may have
    /// been processed (no answer, a cut-off answer, a 5xx, or the caller aborted while it was out).
    pub fn may_have_created(&self) -> bool {
        self.kind == Kind::Abort
            || matches!(
                self.failure(),
                Failure::NoAnswer | Failure::BadBody | Failure::Status(500..)
            )
    }

    /// How this failure looks to the retry policy (`crate::retry`), which decides the rest.
    pub fn failure(&self) -> Failure {
        match (self.kind, self.code, self.status) {
            (Kind::Connection | Kind::Timeout, _, _) => Failure::NoAnswer,
            (Kind::Api, Some("invalid_response"), _) => Failure::BadBody,
            (Kind::Api, None, Some(s)) => Failure::Status(s),
            (Kind::Upload, _, _) if self.expired => Failure::Final,
            (Kind::Upload, _, None) => Failure::NoAnswer,
            (Kind::Upload, _, Some(s)) => Failure::Status(s),
            _ => Failure::Final,
        }
    }

    pub fn into_js(self) -> JsValue {
        let props = Object::new();
        let opt_str = |k: &str, v: &Option<String>| {
            if let Some(v) = v {
                set(&props, k, &JsValue::from_str(v));
            }
        };
        opt_str("path", &self.path);
        opt_str("requestId", &self.request_id);
        opt_str("s3Code", &self.s3_code);
        if let Some(s) = self.status {
            set(&props, "status", &JsValue::from(s));
        }
        for (k, v) in [
            ("body", &self.body),
            ("import", &self.import),
            ("cause", &self.cause),
        ] {
            if let Some(v) = v {
                set(&props, k, v);
            }
        }
        if self.kind == Kind::Upload {
            set(&props, "expired", &JsValue::from_bool(self.expired));
        }
        for (k, v) in &self.extra {
            set(&props, k, v);
        }
        if let Some(code) = self.code {
            set(&props, "code", &JsValue::from_str(code));
        }
        let message = JsValue::from_str(&self.message);
        // The package's entries always call `setup` first; without it the message alone is all
        // there is to give.
        MAKER
            .get()
            .and_then(|f| {
                f.call3(
                    &JsValue::UNDEFINED,
                    &self.class_name().into(),
                    &message,
                    &props,
                )
                .ok()
            })
            .unwrap_or(message)
    }
}

impl From<Error> for JsValue {
    fn from(e: Error) -> JsValue {
        e.into_js()
    }
}

/// A platform error safe to keep as an error's `cause`: always a copy, never the original. A
/// caller's `fetch` may throw anything, with anything hung on it (the `Request` with its headers,
/// a `Map`, a getter): no walk of the original could promise to find every copy of the key. The
/// copy is an `Error` with the original's `message`, and its `name`, `stack` and the network
/// details Node sets (`code`, `errno`, `syscall`, `address`, `port`), each string cleaned of
/// `secret` and of presigned signatures; its own `cause` is copied the same way, 4 levels deep.
pub fn safe_cause(cause: JsValue, secret: Option<&str>) -> JsValue {
    copy_cause(&cause, secret, 4)
}

fn copy_cause(v: &JsValue, secret: Option<&str>, depth: u8) -> JsValue {
    let clean = |s: &str| JsValue::from_str(&crate::redact::clean(s, secret));
    if let Some(s) = v.as_string() {
        return clean(&s);
    }
    if !v.is_object() {
        return v.clone();
    }
    let get = |k: &str| crate::js::get(v, k);
    let copy = js_sys::Error::new("");
    for k in [
        "message", "name", "stack", "code", "errno", "syscall", "address", "port",
    ] {
        let x = get(k);
        if let Some(s) = x.as_string() {
            set(&copy, k, &clean(&s));
        } else if x.as_f64().is_some() {
            set(&copy, k, &x);
        }
    }
    let inner = get("cause");
    if depth > 0 && !inner.is_undefined() {
        set(&copy, "cause", &copy_cause(&inner, secret, depth - 1));
    }
    copy.into()
}

/// The class for an HTTP error status.
pub fn api_class(status: u16) -> &'static str {
    match status {
        400 => "BadRequestError",
        401 => "AuthenticationError",
        403 => "PermissionDeniedError",
        404 => "NotFoundError",
        409 => "ConflictError",
        422 => "UnprocessableEntityError",
        429 => "RateLimitError",
        s if s >= 500 => "InternalServerError",
        _ => "APIError",
    }
}

/// An import known by its id alone: `{ id }`.
pub fn id_only(id: &str) -> JsValue {
    let imp = Object::new();
    set(&imp, "id", &JsValue::from_str(id));
    imp.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_classes() {
        assert_eq!(api_class(401), "AuthenticationError");
        assert_eq!(api_class(404), "NotFoundError");
        assert_eq!(api_class(429), "RateLimitError");
        assert_eq!(api_class(503), "InternalServerError");
        assert_eq!(api_class(418), "APIError");
    }

    #[test]
    fn validation_messages_name_the_path() {
        let e = Error::invalid("fields[2].label", "is required");
        assert_eq!(e.message, "fields[2].label: is required");
        assert_eq!(e.path.as_deref(), Some("fields[2].label"));
        assert_eq!(e.class_name(), "ValidationError");
    }
}
