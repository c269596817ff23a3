//! Dromo's Headless Import API: the documented request schema as validation tables, the endpoints,
//! and the one-call flows (`importFile`, `importRows`).
//!
//! Wire fields stay exactly as Dromo spells them (snake_case); params are checked against the
//! documented schema before any request so mistakes come back as `ValidationError`s with a path.

use crate::prelude::*;
use js_sys::{JsString, Object, JSON};
use wasm_bindgen::JsValue;

use crate::client::{Client, Provider};
use crate::error::{Error, Result};
use crate::js::{copy_without, get, get_str, is_absent, is_plain_object, plain, set};
use crate::limit::{Kind, Rate};
use crate::op;
use crate::opts::{call_options, CallOptions};
use crate::page;
use crate::poll::{self, Flow, WaitOptions};
use crate::retry::Op;
use crate::rows::Sink;
use crate::status::{dromo_stage, Stage};
use crate::text::{quote, uint};
#[cfg(feature = "server")]
use crate::timer::now_ms;
use crate::upload;
use crate::url::check_id;
use crate::validate::{self, check, check_struct, Shape};

pub static DROMO: Provider = Provider {
    name: "Dromo",
    default_base_url: "https://app.dromo.io/api/v1",
    auth_header: "X-Dromo-License-Key",
    key_name: "backend license key",
    id_routes: &["/headless/imports/", "/schemas/"],
    schema_404: true,
    #[cfg(feature = "server")]
    signs_webhooks: false,
    // The documented limits: 20 creates per minute, 12 status polls per minute per import.
    limits: (
        Some(Rate {
            max: 20,
            window_ms: 60_000.0,
        }),
        Some(Rate {
            max: 12,
            window_ms: 60_000.0,
        }),
    ),
};

/// The documented 12 status polls per minute per import.
pub const DEFAULT_INTERVAL_MS: f64 = 5000.0;
/// `initial_data` may be at most 15 MB serialized.
pub const MAX_INITIAL_DATA_BYTES: usize = 15 * 1000 * 1000;
/// What to do about an expired upload URL.
pub const EXPIRED_HINT: &str =
    "Dromo upload URLs are valid for 30 minutes and one file per import: create a new import and upload again.";

pub(crate) const FIELD: &[(&str, Shape)] = &[
    ("key", Shape::NonEmptyStr),
    ("type", Shape::TypeSpec),
    ("label", Shape::Str),
    ("description", Shape::Str),
    ("alternateMatches", Shape::StrArray),
    ("validators", Shape::ObjArray),
    ("invalidValueMessage", Shape::Str),
    ("readOnly", Shape::Bool),
    ("hidden", Shape::Bool),
    ("requireMapping", Shape::Bool),
    ("manyToOne", Shape::Bool),
];

pub(crate) const SETTINGS: &[(&str, Shape)] = &[
    ("importIdentifier", Shape::Str),
    ("title", Shape::Str),
    ("allowInvalidSubmit", Shape::Bool),
    (
        "invalidDataBehavior",
        Shape::OneOf(&[
            "BLOCK_SUBMIT",
            "INCLUDE_INVALID_ROWS",
            "REMOVE_INVALID_ROWS",
            "INCLUDE_INVALID_ROWS_AND_VALUES",
        ]),
    ),
    ("backendSync", Shape::Bool),
    (
        "backendSyncMode",
        Shape::OneOf(&["DISABLED", "FULL_DATA", "MAPPINGS_ONLY"]),
    ),
    ("manualInputDisabled", Shape::Bool),
    ("manualInputOnly", Shape::Bool),
    ("allowCustomFields", Shape::Bool),
    ("passThroughUnmappedColumns", Shape::Bool),
    ("maxRecords", Shape::Nullable(&Shape::Int)),
    ("developmentMode", Shape::Bool),
    ("displayEncoding", Shape::Bool),
    ("styleOverrides", Shape::Object),
    ("maxFileSize", Shape::Int),
    ("webhookUrl", Shape::Nullable(&Shape::Str)),
    ("needsReviewWebhookUrl", Shape::Nullable(&Shape::Str)),
    ("initialData", Shape::Nullable(&Shape::Array)),
];

const COLUMN_HOOK: &[(&str, Shape)] = &[("fieldName", Shape::Str), ("callback", Shape::Str)];
const STEP_HOOK: &[(&str, Shape)] = &[
    (
        "type",
        Shape::OneOf(&["UPLOAD_STEP", "REVIEW_STEP", "REVIEW_STEP_POST_HOOKS"]),
    ),
    ("callback", Shape::Str),
];
pub(crate) const HOOKS: &[(&str, Shape)] = &[
    ("rowHooks", Shape::StrArray),
    ("bulkRowHooks", Shape::StrArray),
    ("rowDeleteHooks", Shape::StrArray),
    ("beforeFinishCallback", Shape::Str),
    (
        "columnHooks",
        Shape::StructArray(COLUMN_HOOK, &["fieldName", "callback"]),
    ),
    (
        "stepHooks",
        Shape::StructArray(STEP_HOOK, &["type", "callback"]),
    ),
];

const USER: &[(&str, Shape)] = &[
    ("id", Shape::Str),
    ("name", Shape::Str),
    ("email", Shape::Str),
    ("companyId", Shape::Str),
    ("companyName", Shape::Str),
];
const USER_SHAPE: Shape = Shape::Struct(USER, &["id"]);
const METADATA: &[(&str, Shape)] = &[("user", Shape::Nullable(&USER_SHAPE))];

/// Top-level create keys; `fields` and `initial_data` get dedicated checks below.
const CREATE: &[(&str, Shape)] = &[
    ("schema_id", Shape::NonEmptyStr),
    ("fields", Shape::Array),
    ("settings", Shape::Struct(SETTINGS, &[])),
    ("hooks", Shape::Struct(HOOKS, &[])),
    ("original_filename", Shape::Nullable(&Shape::NonEmptyStr)),
    ("initial_data", Shape::Nullable(&Shape::Array)),
    (
        "import_metadata",
        Shape::Nullable(&Shape::Struct(METADATA, &[])),
    ),
];

/// Checks create params and returns the JSON body to send.
/// `schema_required` is false for a client without a key: the server behind its `baseUrl` (the
/// package's proxy, say) may choose the schema itself.
pub fn create_body(params: &JsValue, schema_required: bool) -> Result<JsString> {
    if !is_plain_object(params) {
        return Err(Error::invalid("params", "must be an object"));
    }
    check_struct(params, CREATE, &[], "")?;
    let given = |k: &str| !is_absent(&get(params, k));
    match (given("schema_id"), given("fields")) {
        (true, true) => {
            return Err(Error::invalid(
                "fields",
                "give either schema_id (a saved schema) or fields (an inline schema), not both",
            ))
        }
        (false, false) if schema_required => {
            return Err(Error::invalid(
                "schema_id",
                "is required: give schema_id (a saved schema) or fields (an inline schema)",
            ))
        }
        _ => {}
    }
    match (given("original_filename"), given("initial_data")) {
        (true, true) => {
            return Err(Error::invalid(
                "initial_data",
                "give either original_filename (to upload a file) or initial_data (rows), not both",
            ))
        }
        (false, false) => {
            return Err(Error::invalid(
                "original_filename",
                "is required: give original_filename (to upload a file) or initial_data (rows)",
            ))
        }
        _ => {}
    }
    if given("fields") {
        check_fields(&get(params, "fields"), "fields")?;
    }
    if let Some(name) = get_str(params, "original_filename") {
        check_file_name(&name, "original_filename")?;
    }
    let body = stringify(params, "params")?;
    if given("initial_data") {
        let rows = get(params, "initial_data");
        check(&rows, Shape::ObjArray, "initial_data")?;
        if js_sys::Array::from(&rows).length() == 0 {
            return Err(Error::invalid(
                "initial_data",
                "is empty: there are no rows to import",
            ));
        }
        // The serialized body bounds initial_data from above; only measure precisely when close.
        if utf8_len(&body) > MAX_INITIAL_DATA_BYTES {
            let size = utf8_len(&stringify(&rows, "initial_data")?);
            if size > MAX_INITIAL_DATA_BYTES {
                return Err(Error::invalid(
                    "initial_data",
                    [
                        "is ",
                        &uint(size as u64),
                        " bytes serialized; Dromo accepts at most 15 MB: upload it as a file instead",
                    ]
                    .concat(),
                ));
            }
        }
    }
    Ok(body)
}

/// The fields of an inline or saved schema at `path`: at least one, each by the `FIELD` table,
/// keys unique.
pub(crate) fn check_fields(fields: &JsValue, path: &str) -> Result<()> {
    let list = js_sys::Array::from(fields);
    if list.length() == 0 {
        return Err(Error::invalid(path, "must contain at least one field"));
    }
    let mut seen: Vec<String> = Vec::new();
    for (i, f) in list.iter().enumerate() {
        let path = crate::validate::index(path, i);
        check_struct(&f, FIELD, &["key", "label", "type"], &path)?;
        let key = get_str(&f, "key").unwrap_or_default();
        if seen.contains(&key) {
            return Err(Error::invalid(
                [path.as_str(), ".key"].concat(),
                ["duplicates the key ", &quote(&key), " of another field"].concat(),
            ));
        }
        seen.push(key);
    }
    Ok(())
}

pub(crate) fn stringify(v: &JsValue, path: &str) -> Result<JsString> {
    JSON::stringify(v)
        .map_err(|_| Error::invalid(path, "cannot be serialized to JSON (a cycle or a BigInt?)"))
}

/// Byte length of a JS string once UTF-8 encoded, measured by the platform (a Blob encodes UTF-8)
/// so 15 MB of rows are never copied into wasm memory or walked unit by unit across the boundary.
fn utf8_len(s: &JsString) -> usize {
    web_sys::Blob::new_with_str_sequence(&js_sys::Array::of1(s))
        .map_or(usize::MAX, |b| b.size() as usize)
}

/// `/headless/imports/{id}/` etc.; the id must be one safe path segment.
pub fn import_path(id: &JsValue, suffix: &str) -> Result<String> {
    let id = id
        .as_string()
        .ok_or_else(|| Error::invalid("id", "must be a string (the import's id)"))?;
    check_id(&id).map_err(|why| Error::invalid("id", why))?;
    Ok(["/headless/imports/", &id, "/", suffix].concat())
}

/// What Dromo said first in an import's `import_errors`, if anything.
fn first_error(imp: &JsValue) -> Option<String> {
    let errors = get(imp, "import_errors");
    crate::js::is_array(&errors)
        .then(|| js_sys::Array::from(&errors).get(0))
        .and_then(|e| get_str(&e, "message").or_else(|| JSON::stringify(&e).ok().map(String::from)))
}

/// Why an import failed, from its `import_errors`.
pub fn describe_failure(imp: &JsValue) -> String {
    let id = get_str(imp, "id").unwrap_or_default();
    match first_error(imp) {
        Some(m) => ["Import ", &id, " failed: ", &m].concat(),
        None => ["Import ", &id, " failed (no results and no review URL)."].concat(),
    }
}

/// The file types a headless import takes (Dromo's FAQ), by extension.
const FILE_TYPES: [&str; 4] = [".csv", ".tsv", ".xls", ".xlsx"];

/// Sets `params.original_filename` (the option, else the File's name) and refuses a name Dromo
/// would not import, before the import exists. Out of line: inlined into the flow's state machine
/// it cost twice its size.
#[inline(never)]
fn name_the_file(params: &Object, file_name: Option<&str>) -> Result<()> {
    let (name, path) =
        match (get_str(params, "original_filename"), file_name) {
            (Some(n), _) => (n, "options.original_filename"),
            (None, Some(n)) => (n.to_string(), "body"),
            (None, None) => return Err(Error::invalid(
                "options.original_filename",
                "is required when the body has no file name (it is not a File, or a File named '')",
            )),
        };
    set(params, "original_filename", &JsValue::from_str(&name));
    check_file_name(&name, path)
}

/// Refuses a file name Dromo would not import (by its extension). JSON gets a pointer to
/// `importRows`: rows are data, not a file type.
pub(crate) fn check_file_name(name: &str, path: &str) -> Result<()> {
    let is = |ext: &str| {
        let at = name.len().wrapping_sub(ext.len());
        name.get(at..).is_some_and(|e| e.eq_ignore_ascii_case(ext))
    };
    if FILE_TYPES.iter().any(|t| is(t)) {
        return Ok(());
    }
    Err(Error::invalid(
        path,
        [
            "names ",
            &quote(name),
            ": Dromo imports .csv, .tsv, .xls and .xlsx files",
            if is(".json") {
                "; send rows as data with importRows"
            } else {
                " (name the file with its type's extension)"
            },
        ]
        .concat(),
    ))
}

/// The Dromo API operations over a configured client.
pub struct Dromo {
    pub client: Client,
    /// The ids of this client's newest creates (at most a list page's worth and as many again):
    /// never taken for what a lost create answer left behind (`left_by`), when many imports of
    /// one file name run at once. Node's build only (see `left_by`).
    #[cfg(feature = "server")]
    pub made: core::cell::RefCell<Vec<String>>,
}

impl Dromo {
    /// Runs operation `op` (see `crate::op`) for `Core::call`: every argument is read through
    /// `js::plain` first.
    pub async fn call(&self, op: u8, a: JsValue, b: JsValue, c: JsValue) -> Result<JsValue> {
        match op {
            op::IMPORT_FILE => self.import_file(&a, &plain(&b, "options")?).await,
            op::IMPORT_ROWS => {
                self.import_rows(&plain(&a, "rows")?, &plain(&b, "options")?)
                    .await
            }
            op::CREATE => self.create(&plain(&a, "params")?, &call_options(&b)?).await,
            op::RETRIEVE => self.retrieve(&a, &call_options(&b)?).await,
            op::DELETE => self.delete(&a, &call_options(&b)?).await,
            op::RESULT_URL => Ok(self.result_url(&a, &call_options(&b)?).await?.into()),
            op::RESULTS => self.results(&a, &call_options(&b)?).await,
            op::ROWS => {
                let (sink, opts) = crate::rows::streamed(&c, call_options(&b)?)?;
                let n = self.read_rows(&a, &opts, &Sink::Stream(&sink)).await?;
                Ok(JsValue::from_f64(n as f64))
            }
            op::LIST_PAGE => self.list_page(&plain(&a, "params")?).await,
            op::UPLOAD => {
                let target = plain(&a, "target")?;
                let url = upload_url_of(&target)?;
                let opts = plain(&c, "opts")?;
                upload::to_target(&url, &target, &b, &opts, &self.client, EXPIRED_HINT).await
            }
            op::WAIT => {
                let opts = WaitOptions::of_call(&plain(&b, "opts")?, DEFAULT_INTERVAL_MS)?;
                self.wait(&a, &opts).await
            }
            #[cfg(feature = "server")]
            op::WEBHOOK_UNWRAP => crate::webhooks::dromo_unwrap(&a, &b),
            #[cfg(feature = "server")]
            op::WEBHOOK_RECEIVED => crate::webhooks::dromo_received(&self.client, &a),
            #[cfg(feature = "server")]
            op::JOURNAL_NEXT => Ok(crate::journal::decide(
                &crate::journal::DROMO,
                &plain(&a, "records")?,
                &plain(&b, "seen")?,
                &plain(&c, "context")?,
            )),
            #[cfg(feature = "server")]
            op::FILES_CHECK => {
                crate::journal::dromo_check(self, &plain(&a, "options")?, &plain(&b, "files")?)
            }
            #[cfg(feature = "server")]
            op::SCHEMA_LIST..=op::SCHEMA_DELETE => {
                crate::schemas::call(&self.client, op, a, b, c).await
            }
            _ => Err(crate::unknown_op(op)),
        }
    }

    pub async fn create(&self, params: &JsValue, opts: &CallOptions) -> Result<JsValue> {
        let body = create_body(params, self.client.has_key())?;
        let with_rows = !is_absent(&get(params, "initial_data"));
        Ok(self.create_with_body(&body, with_rows, opts).await?.0)
    }

    /// Sends an already validated create body; `with_rows` when it carries `initial_data`
    /// (which decides what may be retried, see `retry::Op`). Also answers when the first attempt
    /// that may have made an import although it failed (its answer was lost) started, if any:
    /// a retry then made another, and that one may be left on the account (see `left_by`).
    pub async fn create_with_body(
        &self,
        body: &JsString,
        with_rows: bool,
        opts: &CallOptions,
    ) -> Result<(JsValue, Unsure)> {
        let op = if with_rows {
            Op::CreateWithData
        } else {
            Op::CreateEmpty
        };
        // Node's build only (see `left_by`): when the first attempt that may have made an import
        // started. Nothing in the browser builds, which may not grow.
        #[cfg(feature = "server")]
        let mut unsure_since: Unsure = None;
        #[cfg(not(feature = "server"))]
        let unsure_since: Unsure = ();
        let mut attempt = 0;
        loop {
            #[cfg(feature = "server")]
            let started = now_ms();
            let sent = self
                .client
                .try_once(
                    Some(Kind::Create),
                    "POST",
                    "/headless/imports/",
                    Some(body),
                    opts,
                    op,
                    attempt,
                )
                .await;
            match sent {
                Ok(imp) => {
                    #[cfg(feature = "server")]
                    if let Some(id) = get_str(&imp, "id") {
                        let mut made = self.made.borrow_mut();
                        if made.len() >= 2 * LEFT_BY_SCAN {
                            made.remove(0);
                        }
                        made.push(id);
                    }
                    return Ok((imp, unsure_since));
                }
                Err(failed) => {
                    // An answer cut off mid-body still named the import it created (see
                    // `client::parse_json`). Before a retry makes another, that one is deleted:
                    // nobody could upload to it. Given up, it stays on the error instead; so it
                    // does when it could not be deleted, and no retry leaves it behind unknown.
                    if let (Some(_), Some(imp)) = (failed.retry_in, &failed.error.import) {
                        let cleanup = CallOptions::cleanup(self.client.timeout_ms);
                        let gone = self.delete(&get(imp, "id"), &cleanup).await;
                        if gone.is_err_and(|e| e.status != Some(404)) {
                            return Err(failed.error.undeleted());
                        }
                    }
                    // No answer at all, yet it may have made one: named once a retry succeeds.
                    #[cfg(feature = "server")]
                    if failed.retry_in.is_some()
                        && failed.error.import.is_none()
                        && failed.error.may_have_created()
                    {
                        unsure_since.get_or_insert(started);
                    }
                    failed.wait(opts).await?;
                }
            }
            attempt += 1;
        }
    }

    /// The imports a create whose answer was lost may have made before `imp` (made by a retry):
    /// among the newest `LEFT_BY_SCAN`, none of this client's own creates, those waiting for a
    /// file with `imp`'s file name and (with a `saved` schema; an inline one gets a new id each
    /// create) schema, made since that attempt started (`since`, our
    /// clock, placed on the API's by `imp`'s own time, with 2 s of slack). Dromo echoes nothing
    /// that proves one ours rather than another client's, so they are named, never touched.
    /// Best effort: a failed look names none. Node's build only, where the bulk imports run: the
    /// browser builds may not grow (an empty import a lost answer made goes unnamed there).
    #[cfg(feature = "server")]
    async fn left_by(&self, imp: &JsValue, saved: bool, since: f64) -> Vec<String> {
        let made_at = |i: &JsValue| {
            get_str(i, "created_date")
                .map(|d| js_sys::Date::parse(&d))
                .filter(|t| t.is_finite())
        };
        let (Some(ours), Some(id)) = (made_at(imp), get_str(imp, "id")) else {
            return Vec::new();
        };
        let earliest = ours - (now_ms() - since) - 2000.0;
        let calm = CallOptions::default();
        let path = [
            "/headless/imports/?offset=0&limit=",
            &uint(LEFT_BY_SCAN as u64),
        ]
        .concat();
        let Ok(page) = self
            .client
            .request("GET", &path, None, &calm, Op::Read)
            .await
        else {
            return Vec::new();
        };
        let items = get(&page, "results");
        if !crate::js::is_array(&items) {
            return Vec::new();
        }
        let ours_too = self.made.borrow();
        let same = |k: &str, i: &JsValue| get(i, k).loose_eq(&get(imp, k));
        js_sys::Array::from(&items)
            .iter()
            .filter(|i| {
                get_str(i, "id").is_some_and(|other| other != id && !ours_too.contains(&other))
                    && get_str(i, "status").as_deref() == Some("AWAITING_UPLOAD")
                    && same("original_filename", i)
                    && (!saved || same("schema_id", i))
                    && made_at(i).is_some_and(|t| t >= earliest && t <= ours)
            })
            .filter_map(|i| get_str(&i, "id"))
            .collect()
    }

    /// `DELETE /headless/imports/{id}/`: resolves `undefined` (204), also when a retry finds that
    /// an attempt whose answer was lost already deleted it.
    pub async fn delete(&self, id: &JsValue, opts: &CallOptions) -> Result<JsValue> {
        let path = import_path(id, "")?;
        self.client.delete(&path, opts).await?;
        Ok(JsValue::UNDEFINED)
    }

    pub async fn retrieve(&self, id: &JsValue, opts: &CallOptions) -> Result<JsValue> {
        let path = import_path(id, "")?;
        self.client.poll(&path, opts).await
    }

    pub async fn result_url(&self, id: &JsValue, opts: &CallOptions) -> Result<String> {
        let path = import_path(id, "url/")?;
        let reply = self
            .client
            .request("GET", &path, None, opts, Op::Read)
            .await?;
        get_str(&reply, "presigned_url").ok_or_else(|| {
            let mut e = Error::new(
                crate::error::Kind::Api,
                ["GET ", &path, " answered without a presigned_url."].concat(),
            );
            e.code = Some("invalid_response");
            e.body = Some(reply);
            e
        })
    }

    /// The rows of a `SUCCESSFUL` import, all at once (`results`) or as they arrive (`rows`).
    /// A result URL expires (S3: 403) while a long read goes on: a fresh one is asked for (up to
    /// three times) and the read continues where it was.
    pub async fn read_rows(
        &self,
        id: &JsValue,
        opts: &CallOptions,
        sink: &Sink<'_>,
    ) -> Result<u64> {
        let mut reader = crate::rows::Reader::new(sink);
        let mut fresh_urls = 0;
        loop {
            let url = self.result_url(id, opts).await?;
            let read = crate::rows::read(
                &mut reader,
                &url,
                opts.signal.as_ref(),
                self.client.fetch_fn(),
                opts.timeout_ms.unwrap_or(self.client.timeout_ms),
                opts.max_retries.unwrap_or(self.client.max_retries),
                sink,
            )
            .await;
            match read {
                Err(e) if e.status == Some(403) && reader.answered && fresh_urls < 3 => {
                    fresh_urls += 1
                }
                done => return done,
            }
        }
    }

    pub async fn results(&self, id: &JsValue, opts: &CallOptions) -> Result<JsValue> {
        let all = js_sys::Array::new();
        self.read_rows(id, opts, &Sink::Collect(&all)).await?;
        Ok(all.into())
    }

    /// One page: `{ page, items, next }` for `src/js/paged.js`.
    pub async fn list_page(&self, params: &JsValue) -> Result<JsValue> {
        let (offset, limit) = list_params(params)?;
        let opts = CallOptions::from_js(params, "params", &["offset", "limit"])?;
        let path = [
            "/headless/imports/?offset=",
            &uint(offset),
            "&limit=",
            &uint(limit),
        ]
        .concat();
        let page = self
            .client
            .request("GET", &path, None, &opts, Op::Read)
            .await?;
        let items = get(&page, "results");
        let count = get(&page, "count").as_f64();
        let (Some(count), true) = (count, crate::js::is_array(&items)) else {
            let mut e = Error::new(
                crate::error::Kind::Api,
                ["GET ", &path, " did not answer a page ({count, results})."].concat(),
            );
            e.code = Some("invalid_response");
            e.body = Some(page);
            return Err(e);
        };
        let returned = js_sys::Array::from(&items).length() as u64;
        let out = Object::new();
        set(&out, "page", &page);
        set(&out, "items", &items);
        if let Some(next) = page::next_offset(offset, returned, count.max(0.0) as u64) {
            let p = copy_without(params, &["offset"]);
            set(&p, "offset", &JsValue::from_f64(next as f64));
            set(&p, "limit", &JsValue::from_f64(limit as f64));
            set(&out, "next", &p);
        }
        Ok(out.into())
    }

    pub async fn wait(&self, id: &JsValue, opts: &WaitOptions) -> Result<JsValue> {
        let path = import_path(id, "")?;
        poll::wait(&self.client, &path, dromo_stage, describe_failure, opts).await
    }

    /// `importFile`: create -> upload -> wait -> results. Everything is checked before the import
    /// exists, so bad input never leaves an orphan; later errors carry the import.
    pub async fn import_file(&self, body: &JsValue, options: &JsValue) -> Result<JsValue> {
        let options = flow_options(options, self.client.has_key())?;
        if !is_absent(&get(&options, "initial_data")) {
            return Err(Error::invalid(
                "options.initial_data",
                "importFile uploads a file; use importRows for rows",
            ));
        }
        let data = upload::body(body, "body")?;
        let params = copy_without(&options, FLOW_OPTIONS);
        name_the_file(&params, data.name.as_deref())?;
        let create = create_body(&params, self.client.has_key())?;
        let flow = Flow::from_js(&options, DEFAULT_INTERVAL_MS)?;

        let (imp, unsure) = self.create_with_body(&create, false, flow.call()).await?;
        // What a lost answer may have left (Node's build): named on the result and on any error
        // from here on, as `leftBehind`.
        #[cfg(feature = "server")]
        let left = match unsure {
            Some(since) => {
                let saved = !is_absent(&get(&params, "schema_id"));
                self.left_by(&imp, saved, since).await
            }
            None => Vec::new(),
        };
        #[cfg(feature = "server")]
        let named = |e: Error| error_left(e, &left);
        #[cfg(not(feature = "server"))]
        let named = |e: Error| {
            let () = unsure;
            e
        };
        flow.created(&imp).await.map_err(named)?;
        let Some(url) = get_str(&imp, "upload").filter(|u| !u.is_empty()) else {
            let mut e = Error::new(
                crate::error::Kind::Api,
                "POST /headless/imports/ answered without an upload URL: nothing to upload to.",
            );
            e.code = Some("invalid_response");
            return Err(named(e.with_import(&imp)));
        };
        upload::put(&url, &data, &flow.sending(&self.client), EXPIRED_HINT)
            .await
            .map_err(|e| named(e.with_import(&imp)))?;
        flow.uploaded(&imp).await.map_err(named)?;
        #[cfg(feature = "server")]
        return name_left(self.finish(imp, &flow, true).await, &left);
        #[cfg(not(feature = "server"))]
        self.finish(imp, &flow, true).await
    }

    /// `importRows`: create with `initial_data` -> wait -> results.
    pub async fn import_rows(&self, rows: &JsValue, options: &JsValue) -> Result<JsValue> {
        let options = flow_options(options, self.client.has_key())?;
        if !is_absent(&get(&options, "original_filename")) {
            return Err(Error::invalid(
                "options.original_filename",
                "importRows sends rows; use importFile for a file",
            ));
        }
        let params = copy_without(&options, FLOW_OPTIONS);
        set(&params, "initial_data", rows);
        let body = create_body(&params, self.client.has_key())?;
        let flow = Flow::from_js(&options, DEFAULT_INTERVAL_MS)?;
        // Rows are sent with the create: only an answer proving nothing was made is retried.
        let (imp, _) = self.create_with_body(&body, true, flow.call()).await?;
        flow.created(&imp).await?;
        self.finish(imp, &flow, false).await
    }

    /// Waits (unless `wait: false`) then fetches the rows: `{ import, rows }`. An import that stops
    /// at NEEDS_REVIEW rejects with `NeedsReviewError` (unless `waitForReview` waits it out), so
    /// it is never taken for a result. `uploaded`: a file went up since `imp` was read, so its
    /// status is read again rather than reported as AWAITING_UPLOAD.
    pub async fn finish(&self, imp: JsValue, flow: &Flow, uploaded: bool) -> Result<JsValue> {
        let out = Object::new();
        let id = get(&imp, "id");
        if !flow.waits {
            let now = if uploaded {
                self.retrieve(&id, flow.call())
                    .await
                    .map_err(|e| e.with_import(&imp))?
            } else {
                imp
            };
            set(&out, "import", &now);
            return Ok(out.into());
        }
        let done = self
            .wait(&id, &flow.wait)
            .await
            .map_err(|e| e.with_import(&imp))?;
        if dromo_stage(&get_str(&done, "status").unwrap_or_default()) == Stage::NeedsReview {
            let url = get(&done, "review_url");
            let mut e = Error::new(
                crate::error::Kind::NeedsReview,
                [
                    "Import ",
                    &get_str(&done, "id").unwrap_or_default(),
                    " needs a review",
                    &first_error(&done)
                        .map(|m| [" (", &m, ")"].concat())
                        .unwrap_or_default(),
                    ": a person must finish it at its review_url (it then becomes SUCCESSFUL), or pass waitForReview: true to wait for that.",
                ]
                .concat(),
            );
            e.extra.push(("reviewUrl", url));
            return Err(e.with_import(&done));
        }
        set(&out, "import", &done);
        if !flow.rows {
            return Ok(out.into());
        }
        let rows = self
            .results(&id, flow.call())
            .await
            .map_err(|e| e.with_import(&done))?;
        set(&out, "rows", &rows);
        Ok(out.into())
    }
}

/// When a create's first attempt that may have made an import although it failed started (Node's
/// build; nothing in the browser builds).
#[cfg(feature = "server")]
pub type Unsure = Option<f64>;
#[cfg(not(feature = "server"))]
pub type Unsure = ();

/// How many of the newest imports `left_by` looks at.
#[cfg(feature = "server")]
const LEFT_BY_SCAN: usize = 100;

/// `leftBehind` (when there is any) on what `importFile` resolves or rejects with.
#[cfg(feature = "server")]
fn name_left(r: Result<JsValue>, left: &[String]) -> Result<JsValue> {
    let out = r.map_err(|e| error_left(e, left))?;
    if !left.is_empty() {
        set(
            wasm_bindgen::JsCast::unchecked_ref(&out),
            "leftBehind",
            &ids_array(left),
        );
    }
    Ok(out)
}

/// `leftBehind` (when there is any) on an error of `importFile`'s.
#[cfg(feature = "server")]
fn error_left(mut e: Error, left: &[String]) -> Error {
    if !left.is_empty() {
        e.extra.push(("leftBehind", ids_array(left)));
    }
    e
}

/// Ids as a JS array.
#[cfg(feature = "server")]
fn ids_array(ids: &[String]) -> JsValue {
    ids.iter()
        .map(|i| JsValue::from_str(i))
        .collect::<js_sys::Array>()
        .into()
}

/// Flow options of `importFile`/`importRows`, removed before the rest is sent as create params.
/// `onCreating` is read by Node's build only (the browser builds may not grow).
pub const FLOW_OPTIONS: &[&str] = &[
    "webhooks",
    "onProgress",
    "onQueued",
    #[cfg(feature = "server")]
    "onCreating",
    "onCreated",
    "onUploaded",
    "rows",
    "signal",
    "wait",
    "intervalMs",
    "backoff",
    "maxIntervalMs",
    "timeoutMs",
    "onStatus",
    "waitForReview",
];

/// Checks the keys of `importFile`/`importRows` options before anything is sent.
pub fn check_flow_options(options: &JsValue) -> Result<()> {
    validate::check_flow_options(
        options,
        CREATE,
        FLOW_OPTIONS,
        "must be an object with the create params (schema_id or fields, ...)",
    )
}

fn list_params(params: &JsValue) -> Result<(u64, u64)> {
    if !is_absent(params) && !is_plain_object(params) {
        return Err(Error::invalid(
            "params",
            "must be an object like { offset, limit }",
        ));
    }
    let num = |k: &str| -> Result<Option<f64>> {
        let v = get(params, k);
        if is_absent(&v) {
            return Ok(None);
        }
        v.as_f64()
            .map(Some)
            .ok_or_else(|| Error::invalid(k, "must be a number"))
    };
    let offset = match num("offset")? {
        Some(o) => page::check_offset(o).map_err(|why| Error::invalid("offset", why))?,
        None => 0,
    };
    let limit = match num("limit")? {
        Some(l) => page::check_limit(l).map_err(|why| Error::invalid("limit", why))?,
        None => page::DEFAULT_LIMIT,
    };
    Ok((offset, limit))
}

/// True when `v` looks like an import object (has a string `id`).
pub fn is_import(v: &JsValue) -> bool {
    is_plain_object(v) && get(v, "id").is_string()
}

/// Reads `imp.upload`, explaining why an import has none.
pub fn upload_url_of(target: &JsValue) -> Result<String> {
    if let Some(url) = target.as_string() {
        return Ok(url);
    }
    if !is_import(target) {
        return Err(Error::invalid(
            "target",
            "must be an import (from create) or its upload URL string",
        ));
    }
    match get(target, "upload").as_string() {
        Some(u) if !u.is_empty() => Ok(u),
        _ => Err(Error::invalid(
            "target.upload",
            "is missing: this import takes no file (created with initial_data) or was already uploaded",
        )),
    }
}

/// The options of a flow, required where they must carry the schema (see `create_body`).
pub(crate) fn flow_options(options: &JsValue, schema_required: bool) -> Result<JsValue> {
    if is_absent(options) {
        if !schema_required {
            return Ok(Object::new().into());
        }
        return Err(Error::invalid(
            "options",
            "is required: give schema_id (a saved schema) or fields (an inline schema)",
        ));
    }
    check_flow_options(options)?;
    Ok(options.clone())
}
