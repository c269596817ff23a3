//! Exa's Websets Imports API: the `CreateImportParameters`/`UpdateImport` schemas as validation
//! tables, the endpoints, cursor pagination, and `importFile`, which counts and sizes the CSV itself
//! and deletes the import when its upload finally fails (nothing is orphaned).
//!
//! Wire fields stay exactly as Exa spells them (camelCase).

use crate::prelude::*;
use crate::text::is_whole;
use js_sys::{JsString, Object, JSON};
use wasm_bindgen::JsValue;

use crate::client::{Client, Provider};
use crate::count;
use crate::error::{Error, Kind, Result};
use crate::js::{copy_without, get, get_str, is_absent, is_plain_object, keys, plain, set};
use crate::limit;
use crate::op;
use crate::opts::{call_options, CallOptions};
use crate::poll::{self, Flow, WaitOptions};
use crate::retry::Op;
use crate::status::exa_stage;
use crate::upload;
use crate::url::check_id;
use crate::validate::{self, check_struct, Shape};

pub static EXA: Provider = Provider {
    name: "Exa",
    default_base_url: "https://api.exa.ai/websets",
    auth_header: "x-api-key",
    key_name: "API key",
    id_routes: &["/v0/imports/", "/v0/webhooks/"],
    schema_404: false,
    #[cfg(feature = "server")]
    signs_webhooks: true,
    // Exa documents no limits; `rateLimit: { creates, polls }` sets some.
    limits: (None, None),
};

/// The metadata key of the token each create carries, so that an import made by a create whose
/// answer was lost can be found again (see `Exa::create`). The caller's own metadata is kept.
pub const TOKEN_KEY: &str = "headlessImportsToken";

/// A fresh create token: 64 random bits in hex; unique enough among one account's imports.
fn new_token() -> String {
    let half = || crate::text::hex((js_sys::Math::random() * 4_294_967_296.0) as u32);
    [half(), half()].concat()
}

/// A create that failed after it may have made an import that could not be deleted: the error
/// says so, with the token that import carries (also `error.token`) and, when the import was
/// found, its id (`error.import`, `deleted: false`).
fn unconfirmed(e: Error, token: &str, found: Option<String>) -> Error {
    let mut e = match found {
        Some(id) => e.with_import(&crate::error::id_only(&id)).undeleted(),
        None => {
            let mut e = e;
            e.message = [
                e.message.as_str(),
                " It may have created an import that could not be checked or deleted: look for metadata.",
                TOKEN_KEY,
                " = ",
                token,
                " (exa.imports.list) before creating again.",
            ]
            .concat();
            e
        }
    };
    e.extra.push(("token", JsValue::from_str(token)));
    e
}

/// Exa documents no polling limit; every 2 s is gentle and still prompt.
pub const DEFAULT_INTERVAL_MS: f64 = 2000.0;
/// The documented maximum upload size.
pub const MAX_SIZE: f64 = 50_000_000.0;
pub const EXPIRED_HINT: &str =
    "Exa upload URLs are valid for 1 hour (see uploadValidUntil): create a new import and upload again.";

const ENTITY_TYPES: &[&str] = &["company", "person", "article", "research_paper", "custom"];
const CSV: &[(&str, Shape)] = &[("identifier", Shape::Int)];

/// Top-level create keys; `entity`, `metadata`, `size`, `count` get dedicated checks.
const CREATE: &[(&str, Shape)] = &[
    ("size", Shape::Number),
    ("count", Shape::Number),
    ("format", Shape::OneOf(&["csv"])),
    ("entity", Shape::Object),
    ("title", Shape::Str),
    ("metadata", Shape::Object),
    ("csv", Shape::Struct(CSV, &[])),
];
const UPDATE: &[(&str, Shape)] = &[("title", Shape::Str), ("metadata", Shape::Object)];

/// Checks `CreateImportParameters` and returns the JSON body.
pub fn create_body(params: &JsValue) -> Result<JsString> {
    if !is_plain_object(params) {
        return Err(Error::invalid("params", "must be an object"));
    }
    check_struct(params, CREATE, &["size", "count", "format", "entity"], "")?;
    let size = get(params, "size").as_f64().unwrap_or(0.0);
    if !is_whole(size) || size < 1.0 {
        return Err(Error::invalid(
            "size",
            "must be a whole number of bytes, at least 1",
        ));
    }
    if size > MAX_SIZE {
        return Err(too_big("size", size));
    }
    let count = get(params, "count").as_f64().unwrap_or(0.0);
    if !is_whole(count) || count < 1.0 {
        return Err(Error::invalid(
            "count",
            "must be a whole number of records, at least 1",
        ));
    }
    check_entity(&get(params, "entity"))?;
    check_metadata(&get(params, "metadata"), "metadata")?;
    let identifier = get(&get(params, "csv"), "identifier");
    if identifier.as_f64().is_some_and(|i| i < 0.0) {
        return Err(Error::invalid(
            "csv.identifier",
            "must be a column index, 0 or more",
        ));
    }
    stringify(params)
}

/// Checks `UpdateImport` (`{ title?, metadata? }`).
pub fn update_body(params: &JsValue) -> Result<JsString> {
    if !is_plain_object(params) {
        return Err(Error::invalid(
            "params",
            "must be an object like { title, metadata }",
        ));
    }
    check_struct(params, UPDATE, &[], "")?;
    check_metadata(&get(params, "metadata"), "metadata")?;
    stringify(params)
}

pub(crate) fn too_big(path: &str, size: f64) -> Error {
    Error::invalid(
        path,
        [
            "is ",
            &crate::text::uint(size as u64),
            " bytes; Exa imports accept at most 50,000,000 bytes (50 MB)",
        ]
        .concat(),
    )
}

fn check_entity(entity: &JsValue) -> Result<()> {
    let kind = get(entity, "type");
    let Some(kind) = kind
        .as_string()
        .filter(|k| ENTITY_TYPES.contains(&k.as_str()))
    else {
        return Err(Error::invalid(
            "entity.type",
            ["must be one of ", &ENTITY_TYPES.join(", ")].concat(),
        ));
    };
    let allowed: &[&str] = if kind == "custom" {
        &["type", "description"]
    } else {
        &["type"]
    };
    crate::validate::only_keys(entity, "entity", &[allowed])?;
    if kind == "custom" {
        let chars = get(entity, "description")
            .as_string()
            .map(|d| crate::text::js_length(&d));
        if !chars.is_some_and(|n| (2..=200).contains(&n)) {
            return Err(Error::invalid(
                "entity.description",
                "is required for a custom entity: 2 to 200 characters saying what each row is",
            ));
        }
    }
    Ok(())
}

/// Metadata is a flat object of strings, each at most 1000 characters.
pub(crate) fn check_metadata(metadata: &JsValue, path: &str) -> Result<()> {
    if is_absent(metadata) {
        return Ok(());
    }
    for k in keys(metadata) {
        let at = crate::opts::join(path, &k);
        match get(metadata, &k).as_string() {
            Some(v) if crate::text::js_length(&v) <= 1000 => {}
            Some(_) => return Err(Error::invalid(at, "must be at most 1000 characters")),
            None => return Err(Error::invalid(at, "must be a string")),
        }
    }
    Ok(())
}

pub(crate) fn stringify(v: &JsValue) -> Result<JsString> {
    JSON::stringify(v).map_err(|_| Error::invalid("params", "cannot be serialized to JSON"))
}

fn import_path(id: &JsValue) -> Result<String> {
    let id = id
        .as_string()
        .ok_or_else(|| Error::invalid("id", "must be a string (the import's id)"))?;
    check_id(&id).map_err(|why| Error::invalid("id", why))?;
    Ok(["/v0/imports/", &id].concat())
}

/// Why an import failed, with Exa's reason and message; `canceled` reads as such.
pub fn describe_failure(imp: &JsValue) -> String {
    let id = get_str(imp, "id").unwrap_or_default();
    let status = get_str(imp, "status").unwrap_or_default();
    if status != "failed" {
        return [
            "Import ",
            &id,
            " ended as ",
            &status,
            "; it will not complete.",
        ]
        .concat();
    }
    let reason = get_str(imp, "failedReason").unwrap_or_else(|| "unknown reason".into());
    match get_str(imp, "failedMessage") {
        Some(m) => ["Import ", &id, " failed (", &reason, "): ", &m].concat(),
        None => ["Import ", &id, " failed (", &reason, ")."].concat(),
    }
}

/// Copies Exa's failure fields onto an `ImportFailedError`, as users expect to read them there.
pub fn with_failure_fields(mut e: Error) -> Error {
    if e.kind == Kind::ImportFailed {
        let e = &mut *e;
        if let Some(imp) = &e.import {
            for k in ["failedReason", "failedMessage"] {
                let v = get(imp, k);
                if !v.is_undefined() {
                    e.extra.push((k, v));
                }
            }
        }
    }
    e
}

/// The Exa imports operations over a configured client.
pub struct Exa {
    pub client: Client,
}

impl Exa {
    /// Runs operation `op` (see `crate::op`) for `Core::call`: every argument is read through
    /// `js::plain` first.
    pub async fn call(&self, op: u8, a: JsValue, b: JsValue, c: JsValue) -> Result<JsValue> {
        match op {
            op::IMPORT_FILE => self.import_file(&a, &plain(&b, "options")?).await,
            op::CREATE => self.create(&plain(&a, "params")?, &call_options(&b)?).await,
            op::RETRIEVE => self.retrieve(&a, &call_options(&b)?).await,
            op::UPDATE => {
                self.update(&a, &plain(&b, "params")?, &call_options(&c)?)
                    .await
            }
            op::DELETE => self.delete(&a, &call_options(&b)?).await,
            op::LIST_PAGE => self.list_page(&plain(&a, "params")?).await,
            op::UPLOAD => {
                let target = plain(&a, "target")?;
                let url = match target.as_string() {
                    Some(u) => u,
                    None => get_str(&target, "uploadUrl").ok_or_else(|| {
                        Error::invalid(
                            "target",
                            "must be an import from create (with uploadUrl) or the URL string",
                        )
                    })?,
                };
                let opts = plain(&c, "opts")?;
                upload::to_target(&url, &target, &b, &opts, &self.client, EXPIRED_HINT).await
            }
            op::WAIT => {
                let opts = WaitOptions::of_call(&plain(&b, "opts")?, DEFAULT_INTERVAL_MS)?;
                self.wait(&a, &opts).await
            }
            #[cfg(feature = "server")]
            op::JOURNAL_NEXT => Ok(crate::journal::decide(
                &crate::journal::EXA,
                &plain(&a, "records")?,
                &plain(&b, "seen")?,
                &plain(&c, "context")?,
            )),
            #[cfg(feature = "server")]
            op::FILES_CHECK => {
                crate::journal::exa_check(self, &plain(&a, "options")?, &plain(&b, "files")?)
            }
            #[cfg(feature = "server")]
            op::WEBHOOK_UNWRAP..=op::WEBHOOK_RECEIVED => {
                crate::webhooks::exa_call(self, op, a, b, c).await
            }
            _ => Err(crate::unknown_op(op)),
        }
    }

    /// `POST /v0/imports`, recoverable: the import carries a token in its metadata
    /// (`TOKEN_KEY`), so after a lost answer the import it may have made is found and deleted
    /// before another try (it has no upload URL anyone knows), and a lost answer leaves nothing.
    pub async fn create(&self, params: &JsValue, opts: &CallOptions) -> Result<JsValue> {
        let token = new_token();
        let params = copy_without(params, &[]);
        let metadata = copy_without(&get(&params, "metadata"), &[]);
        set(&metadata, TOKEN_KEY, &JsValue::from_str(&token));
        set(&params, "metadata", &metadata);
        let body = create_body(&params)?;
        let mut attempt = 0;
        loop {
            let sent = self
                .client
                .try_once(
                    Some(limit::Kind::Create),
                    "POST",
                    "/v0/imports",
                    Some(&body),
                    opts,
                    Op::CreateEmpty,
                    attempt,
                )
                .await;
            match sent {
                Ok(imp) => return Ok(imp),
                Err(failed) => {
                    // Another try only once what this one may have made is known to be gone:
                    // else stop, and say how to find it.
                    let mut deleted = None;
                    if failed.error.may_have_created() {
                        match self.remove_lost(&token, &failed.error).await {
                            Ok(id) => deleted = id,
                            Err(found) => return Err(unconfirmed(failed.error, &token, found)),
                        }
                    }
                    // The call ends here (an abort, no retries left): an import it made and
                    // deleted is named too, so the caller knows of it and that it is gone.
                    if failed.retry_in.is_none() {
                        return Err(match deleted {
                            Some(id) => failed.error.made(&crate::error::id_only(&id), true),
                            None => failed.error,
                        });
                    }
                    failed.wait(opts).await?;
                }
            }
            attempt += 1;
        }
    }

    /// Deletes the import a create whose answer was lost may have made: the one its cut-off
    /// answer named, else the newest one carrying `token`: a cleanup (`CallOptions::cleanup`).
    /// `Ok` when nothing is left: with the id of the import deleted, or none when none was made;
    /// `Err` when that could not be checked or done, with the import's id once found.
    async fn remove_lost(
        &self,
        token: &str,
        error: &Error,
    ) -> core::result::Result<Option<String>, Option<String>> {
        let calm = CallOptions::cleanup(self.client.timeout_ms);
        let id = match error.import.as_ref().and_then(|i| get_str(i, "id")) {
            Some(id) => id,
            None => match self.find_by_token(token, &calm).await {
                Ok(Some(id)) => id,
                Ok(None) => return Ok(None),
                Err(_) => return Err(None),
            },
        };
        match self.delete(&JsValue::from_str(&id), &calm).await {
            Err(e) if e.status != Some(404) => Err(Some(id)),
            _ => Ok(Some(id)),
        }
    }

    /// The id of the import whose metadata holds `token`, among the newest 200 (a page).
    async fn find_by_token(&self, token: &str, opts: &CallOptions) -> Result<Option<String>> {
        let page = self
            .client
            .request("GET", "/v0/imports?limit=200", None, opts, Op::Read)
            .await?;
        let data = get(&page, "data");
        if !crate::js::is_array(&data) {
            return Ok(None);
        }
        Ok(js_sys::Array::from(&data)
            .iter()
            .find(|imp| get_str(&get(imp, "metadata"), TOKEN_KEY).as_deref() == Some(token))
            .and_then(|imp| get_str(&imp, "id")))
    }

    pub async fn retrieve(&self, id: &JsValue, opts: &CallOptions) -> Result<JsValue> {
        let path = import_path(id)?;
        self.client.poll(&path, opts).await
    }

    pub async fn update(
        &self,
        id: &JsValue,
        params: &JsValue,
        opts: &CallOptions,
    ) -> Result<JsValue> {
        let path = import_path(id)?;
        let body = update_body(params)?;
        // PATCH sets fields to given values: repeating it is harmless.
        self.client
            .request("PATCH", &path, Some(&body), opts, Op::Read)
            .await
    }

    /// `DELETE /v0/imports/{id}`: resolves with the deleted import, or `null` when a retry finds
    /// that an attempt whose answer was lost already deleted it.
    pub async fn delete(&self, id: &JsValue, opts: &CallOptions) -> Result<JsValue> {
        self.client.delete(&import_path(id)?, opts).await
    }

    /// `importFile`: count and size -> create -> upload (deleting the import if the upload finally
    /// fails, so nothing is orphaned) -> wait.
    pub async fn import_file(&self, body: &JsValue, options: &JsValue) -> Result<JsValue> {
        if is_absent(options) {
            return Err(Error::invalid(
                "options",
                "is required: at least { entity: { type: 'company' } }",
            ));
        }
        check_flow_options(options)?;
        let data = upload::body(body, "body")?;
        let flow = Flow::from_js(options, DEFAULT_INTERVAL_MS)?;
        let call = flow.call();
        // Counting reads the whole file once; checking size and params first saves that on mistakes.
        let probe = file_params(options, data.size, 1.0)?;
        create_body(&probe)?;
        let count = count::records(&data.value, true, call.signal.as_ref()).await?;
        let params = file_params(options, data.size, count as f64)?;

        let imp = self.create(&params, call).await?;
        // A throwing onCreated ends the flow like a failed upload: the import, which nobody will
        // upload to now, is deleted.
        let url = flow
            .created(&imp)
            .await
            .map(|_| get_str(&imp, "uploadUrl").filter(|u| !u.is_empty()));
        let sent = match url {
            Err(e) => Err(e),
            Ok(Some(url)) => {
                upload::put(&url, &data, &flow.sending(&self.client), EXPIRED_HINT).await
            }
            Ok(None) => {
                let mut e = Error::new(
                    Kind::Api,
                    "POST /v0/imports answered without an uploadUrl: nothing to upload to.",
                );
                e.code = Some("invalid_response");
                Err(e)
            }
        };
        if let Err(err) = sent {
            // Nothing orphaned: an import whose file never arrived is deleted (the user's abort
            // included); if even that fails, the error still carries the import so its id is known.
            let deleted = self
                .delete(
                    &get(&imp, "id"),
                    &CallOptions::cleanup(self.client.timeout_ms),
                )
                .await
                .is_ok();
            return Err(err.made(&imp, deleted));
        }
        flow.uploaded(&imp).await?;
        let out = js_sys::Object::new();
        if !flow.waits {
            // Read again: the create's answer still says `pending`, from before the file went up.
            let now = self
                .retrieve(&get(&imp, "id"), call)
                .await
                .map_err(|err| err.with_import(&imp))?;
            set(&out, "import", &now);
            return Ok(out.into());
        }
        let done = self
            .wait(&get(&imp, "id"), &flow.wait)
            .await
            .map_err(|err| err.with_import(&imp))?;
        set(&out, "import", &done);
        Ok(out.into())
    }

    /// One page of `/v0/imports`: `{ page, items, next }` for `src/js/paged.js`.
    pub async fn list_page(&self, params: &JsValue) -> Result<JsValue> {
        self.list_page_of("/v0/imports", params).await
    }

    /// One page of a cursor-paged collection (`/v0/imports`, `/v0/webhooks`).
    pub async fn list_page_of(&self, collection: &str, params: &JsValue) -> Result<JsValue> {
        if !is_absent(params) && !is_plain_object(params) {
            return Err(Error::invalid(
                "params",
                "must be an object like { cursor, limit }",
            ));
        }
        let mut query = String::new();
        let limit = get(params, "limit");
        if !is_absent(&limit) {
            match limit.as_f64() {
                Some(l) if is_whole(l) && (1.0..=200.0).contains(&l) => {
                    query.push_str("limit=");
                    query.push_str(&crate::text::uint(l as u64));
                }
                _ => return Err(Error::invalid("limit", "must be an integer from 1 to 200")),
            }
        }
        let cursor = get(params, "cursor");
        if !is_absent(&cursor) {
            match cursor.as_string().filter(|c| !c.is_empty()) {
                Some(c) => {
                    if !query.is_empty() {
                        query.push('&');
                    }
                    query.push_str("cursor=");
                    query.push_str(&String::from(js_sys::encode_uri_component(&c)));
                }
                None => {
                    return Err(Error::invalid(
                        "cursor",
                        "must be a non-empty string (a nextCursor)",
                    ))
                }
            }
        }
        let opts = CallOptions::from_js(params, "params", &["cursor", "limit"])?;
        let path = if query.is_empty() {
            collection.to_string()
        } else {
            [collection, "?", &query].concat()
        };
        let page = self
            .client
            .request("GET", &path, None, &opts, Op::Read)
            .await?;
        let items = get(&page, "data");
        if !crate::js::is_array(&items) {
            let mut e = Error::new(
                Kind::Api,
                [
                    "GET ",
                    &path,
                    " did not answer a page ({data, hasMore, nextCursor}).",
                ]
                .concat(),
            );
            e.code = Some("invalid_response");
            e.body = Some(page);
            return Err(e);
        }
        let out = Object::new();
        set(&out, "page", &page);
        set(&out, "items", &items);
        let next = get_str(&page, "nextCursor").filter(|c| !c.is_empty());
        if let (Some(true), Some(next)) = (get(&page, "hasMore").as_bool(), next) {
            let p = copy_without(params, &["cursor"]);
            set(&p, "cursor", &JsValue::from_str(&next));
            set(&out, "next", &p);
        }
        Ok(out.into())
    }

    pub async fn wait(&self, id: &JsValue, opts: &WaitOptions) -> Result<JsValue> {
        let path = import_path(id)?;
        poll::wait(&self.client, &path, exa_stage, describe_failure, opts)
            .await
            .map_err(with_failure_fields)
    }
}

/// Options of `importFile` that are not create params.
/// `onCreating` is read by Node's build only (the browser builds may not grow).
pub const FLOW_OPTIONS: &[&str] = &[
    "webhooks",
    "onProgress",
    "onQueued",
    #[cfg(feature = "server")]
    "onCreating",
    "onCreated",
    "onUploaded",
    "signal",
    "wait",
    "intervalMs",
    "backoff",
    "maxIntervalMs",
    "timeoutMs",
    "onStatus",
];

/// The create params `importFile` takes from the caller; the rest it computes from the file.
const FILE_PARAMS: &[(&str, Shape)] = &[
    ("entity", Shape::Object),
    ("title", Shape::Str),
    ("metadata", Shape::Object),
    ("csv", Shape::Struct(CSV, &[])),
];

/// `importFile` options: `{ entity, title?, metadata?, csv?, wait?, onProgress?, onStatus?, signal?,
/// intervalMs?, timeoutMs? }`; `size`, `count` and `format` are computed, so they are refused here.
pub fn check_flow_options(options: &JsValue) -> Result<()> {
    if let Some(k) = ["size", "count", "format"]
        .iter()
        .find(|k| !get(options, k).is_undefined())
    {
        return Err(Error::invalid(
            ["options.", k].concat(),
            "is computed by importFile from the file itself; leave it out",
        ));
    }
    validate::check_flow_options(
        options,
        FILE_PARAMS,
        FLOW_OPTIONS,
        "must be an object with at least { entity: { type } }",
    )
}

/// The create params of `importFile`, with the computed `size`, `count` and `format`.
pub fn file_params(options: &JsValue, size: f64, count: f64) -> Result<JsValue> {
    if size > MAX_SIZE {
        return Err(too_big("body", size));
    }
    if count < 1.0 {
        return Err(Error::invalid(
            "body",
            "has no CSV records after the header row: nothing to import",
        ));
    }
    let params = copy_without(options, FLOW_OPTIONS);
    set(&params, "size", &JsValue::from_f64(size));
    set(&params, "count", &JsValue::from_f64(count));
    set(&params, "format", &JsValue::from_str("csv"));
    Ok(params.into())
}
