//! Dromo's Headless Import API (`/api/v1/headless/imports/`) and Saved Schema API (`/api/v1/schemas/`,
//! in `schema_api`), as documented, including their quirks.

pub mod cells;
mod create;
pub mod imports;
pub mod process;
pub mod schema;
mod schema_api;
pub mod webhooks;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::clock;
use crate::http::{detail, json as json_response, request_origin};
use crate::presign::constant_time_eq;
use crate::ratelimit::{self, SlidingWindow};
use crate::state::{Settings, Shared};
use create::{SchemaChoice, Source};
use imports::{ImportRecord, ImportUpload, Imports};
use process::Input;
use schema::SavedSchema;
use schema_api::SchemaStore;

pub const API_PREFIX: &str = "/api/v1";
/// Dromo caps `initial_data` at 15 MB; the body limit leaves room for the rest of the request.
const MAX_CREATE_BODY: usize = 16 * 1024 * 1024;
/// Documented lifetimes, before `--time-scale`.
const UPLOAD_URL_SECS: f64 = 1800.0;
const RATE_WINDOW_SECS: f64 = 60.0;

pub struct DromoState {
    /// Saved schemas: seeded from `schemas.json` or `--schemas`, changed through `/api/v1/schemas/`.
    schemas: SchemaStore,
    pub imports: Mutex<Imports>,
    creates: SlidingWindow,
    polls: SlidingWindow,
    /// Managed webhooks (`/_emulator/dromo/webhooks`, `--dromo-webhook`).
    pub webhooks: webhooks::ManagedWebhooks,
}

impl DromoState {
    pub fn new(schemas: Vec<SavedSchema>, settings: &Settings) -> Self {
        let window = settings.scale.secs(RATE_WINDOW_SECS);
        DromoState {
            schemas: SchemaStore::new(schemas),
            imports: Mutex::default(),
            creates: SlidingWindow::new(20, window, settings.rate_limit),
            polls: SlidingWindow::new(12, window, settings.rate_limit),
            webhooks: webhooks::ManagedWebhooks::default(),
        }
    }

    pub fn reset(&self) {
        self.schemas.reset();
        *self.imports.lock().unwrap() = Imports::default();
        self.creates.reset();
        self.polls.reset();
        self.webhooks.reset();
    }
}

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .merge(schema_api::routes())
        .route("/api/v1/headless/imports/", any(collection))
        .route("/api/v1/headless/imports/{id}/", any(item))
        .route("/api/v1/headless/imports/{id}/url/", any(result_url))
        .route("/headless/{id}/", get(review_page))
}

/// Test-only controls, mounted under `/_emulator/dromo`.
pub fn control_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/imports/{id}", get(inspect))
        .route("/imports/{id}/review", post(complete_review))
        .route("/imports/{id}/status", post(force_status))
        .merge(webhooks::control_routes())
}

/// Django's APPEND_SLASH: a known path without its trailing slash gets a 301 to the slash form (for
/// every method, as Django does outside DEBUG), so clients that drop the slash find out here.
pub fn slash_redirect(path: &str) -> Option<String> {
    if path.ends_with('/') {
        return None;
    }
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    let known = matches!(
        segments.as_slice(),
        ["api", "v1", "headless", "imports"]
            | ["api", "v1", "headless", "imports", _]
            | ["api", "v1", "headless", "imports", _, "url"]
            | ["api", "v1", "schemas"]
            | ["api", "v1", "schemas", _]
            | ["headless", _]
    );
    known.then(|| format!("{path}/"))
}

/// `Some(401 response)` when the key is missing or wrong.
fn reject_unauthorized(shared: &Shared, headers: &HeaderMap) -> Option<Response> {
    let given = headers
        .get("x-dromo-license-key")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    let ok = !given.is_empty() && constant_time_eq(given, shared.settings.api_key.as_bytes());
    (!ok).then(|| {
        detail(
            StatusCode::UNAUTHORIZED,
            "Invalid or missing backend license key.",
        )
    })
}

fn method_not_allowed(method: &Method, allow: &'static str) -> Response {
    let mut resp = detail(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("Method \"{method}\" not allowed."),
    );
    resp.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    resp
}

/// DRF's throttled response, plus the exact `retry-after-ms` that makes scaled windows usable.
fn throttled(shared: &Shared, wait: Duration) -> Response {
    shared.stats.throttled();
    let mut resp = detail(
        StatusCode::TOO_MANY_REQUESTS,
        format!(
            "Request was throttled. Expected available in {} seconds.",
            ratelimit::retry_after_secs(wait)
        ),
    );
    for (name, value) in ratelimit::retry_headers(wait) {
        resp.headers_mut().insert(name, value);
    }
    resp
}

async fn collection(
    State(shared): State<Arc<Shared>>,
    method: Method,
    Query(query): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match method {
        Method::POST => {
            shared.stats.hit("dromo.create");
            if let Some(resp) = reject_unauthorized(&shared, &headers) {
                return resp;
            }
            create(&shared, &headers, body).await
        }
        Method::GET | Method::HEAD => {
            shared.stats.hit("dromo.list");
            if let Some(resp) = reject_unauthorized(&shared, &headers) {
                return resp;
            }
            list(&shared, &headers, &query)
        }
        other => {
            shared.stats.hit("dromo.other");
            if let Some(resp) = reject_unauthorized(&shared, &headers) {
                return resp;
            }
            method_not_allowed(&other, "GET, POST, HEAD, OPTIONS")
        }
    }
}

/// A request body as DRF's JSON parser sees it: 415 for a `Content-Type` that is not JSON (a missing
/// one is accepted), 413 above the size limit, `400 {"detail": "JSON parse error - …"}` for bad JSON.
async fn json_body(headers: &HeaderMap, body: Body) -> Result<Value, Response> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(detail(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Unsupported media type \"{ct}\" in request."),
            ));
        }
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_CREATE_BODY).await else {
        return Err(detail(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body is too large (initial_data is limited to 15 MB).",
        ));
    };
    serde_json::from_slice(&bytes)
        .map_err(|e| detail(StatusCode::BAD_REQUEST, format!("JSON parse error - {e}")))
}

async fn create(shared: &Arc<Shared>, headers: &HeaderMap, body: Body) -> Response {
    // Like DRF, throttling happens before the body is looked at: invalid requests count too.
    if let Err(wait) = shared.dromo.creates.check(&shared.settings.api_key) {
        return throttled(shared, wait);
    }
    let value = match json_body(headers, body).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let request = match create::parse(&value) {
        Ok(r) => r,
        Err(errors) => return json_response(StatusCode::BAD_REQUEST, errors),
    };
    let (schema_id, fields, settings, hooks) = match request.schema {
        SchemaChoice::Saved(id) => {
            // The store as it is now: a schema deleted or replaced through the Saved Schema API
            // is gone or replaced for every later import.
            let Some(saved) = shared.dromo.schemas.get(&id) else {
                return detail(StatusCode::NOT_FOUND, "No schema found with that id");
            };
            let mut settings = saved.settings.clone();
            settings.extend(request.settings);
            let mut hooks = saved.hooks.clone();
            hooks.extend(request.hooks);
            (id, saved.fields.clone(), settings, hooks)
        }
        SchemaChoice::Inline(fields) => (new_id(), fields, request.settings, request.hooks),
    };
    let id = new_id();
    let now = clock::rfc3339_micros(clock::unix_now());
    let (status, original_filename, upload, input) = match request.source {
        Source::File(name) => {
            let url = shared.presigner.presign(
                "PUT",
                &shared.origins.storage,
                &imports::upload_path(&id),
                shared.settings.url_ttl(UPLOAD_URL_SECS),
            );
            (imports::AWAITING_UPLOAD, Some(name), Some(url), None)
        }
        Source::Rows(rows) => (imports::PENDING, None, None, Some(Input::Rows(rows))),
    };
    let record = ImportRecord {
        id: id.clone(),
        schema_id,
        original_filename,
        status: status.to_string(),
        created_date: now.clone(),
        modified_date: now,
        upload,
        review_url: format!("{}/headless/{id}/", shared.origins.api),
        result_metadata: Value::Null,
        import_errors: Value::Null,
        plan: Arc::new(schema::plan(fields, &settings)),
        settings,
        hooks,
        import_metadata: request.import_metadata,
        has_result: false,
    };
    let body = record.full();
    shared.dromo.imports.lock().unwrap().insert(record);
    match input {
        Some(input) => imports::start_processing(shared.clone(), id, input),
        None => shared.storage.register_upload(
            &imports::upload_path(&id),
            &id,
            Arc::new(ImportUpload { id: id.clone() }),
        ),
    }
    json_response(StatusCode::CREATED, body)
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn bad_query(field: &str, message: &str) -> Response {
    json_response(StatusCode::BAD_REQUEST, json!({ field: [message] }))
}

/// DRF's LimitOffsetPagination, including Dromo's documented `next`/`previous` bug: the links repeat
/// the `/api/v1` prefix. Clients must compute offsets themselves instead of following them.
fn list(shared: &Shared, headers: &HeaderMap, query: &[(String, String)]) -> Response {
    let param = |name: &str| query.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v);
    let parse = |name: &str, default: u64, min: u64| -> Result<u64, String> {
        match param(name) {
            None => Ok(default),
            Some(v) => match v.trim().parse::<u64>() {
                Ok(n) if n >= min => Ok(n),
                Ok(_) => Err(format!(
                    "Ensure this value is greater than or equal to {min}."
                )),
                Err(_) => Err("A valid integer is required.".into()),
            },
        }
    };
    let (offset, limit) = match (parse("offset", 0, 0), parse("limit", 100, 1)) {
        (Ok(offset), Ok(limit)) => (offset, limit.min(1000)),
        (Err(m), _) => return bad_query("offset", &m),
        (_, Err(m)) => return bad_query("limit", &m),
    };
    let imports = shared.dromo.imports.lock().unwrap();
    let count = imports.count() as u64;
    let results: Vec<Value> = imports
        .newest_first()
        .skip(offset.min(count) as usize)
        .take(limit as usize)
        .map(ImportRecord::summary)
        .collect();
    drop(imports);

    let base = format!(
        "{}{API_PREFIX}{API_PREFIX}/headless/imports/",
        request_origin(headers, &shared.origins.api)
    );
    let link = |offset: Option<u64>| {
        // DRF rebuilds the query sorted by key, keeping unrelated parameters.
        let mut pairs: Vec<(String, String)> = query
            .iter()
            .filter(|(k, _)| k != "limit" && k != "offset")
            .cloned()
            .collect();
        pairs.push(("limit".into(), limit.to_string()));
        if let Some(o) = offset {
            pairs.push(("offset".into(), o.to_string()));
        }
        pairs.sort();
        let q: Vec<String> = pairs.iter().map(|(k, v)| format!("{k}={v}")).collect();
        format!("{base}?{}", q.join("&"))
    };
    let next = (offset + limit < count).then(|| link(Some(offset + limit)));
    let previous = (offset > 0).then(|| {
        if offset <= limit {
            link(None)
        } else {
            link(Some(offset - limit))
        }
    });
    json_response(
        StatusCode::OK,
        json!({ "count": count, "next": next, "previous": previous, "results": results }),
    )
}

async fn item(
    State(shared): State<Arc<Shared>>,
    method: Method,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    shared.stats.hit(match method {
        Method::GET | Method::HEAD => "dromo.retrieve",
        Method::DELETE => "dromo.delete",
        _ => "dromo.other",
    });
    if let Some(resp) = reject_unauthorized(&shared, &headers) {
        return resp;
    }
    if method == Method::DELETE {
        // `deleteHeadlessImport` in dromo-openapi.json: 204, or 404 for an unknown id. Not
        // rate-limited (the documented limits are on creates and status polls).
        let removed = shared.dromo.imports.lock().unwrap().remove(&id);
        return match removed {
            Some(_) => {
                shared
                    .storage
                    .forget(&imports::upload_path(&id), &imports::result_path(&id));
                StatusCode::NO_CONTENT.into_response()
            }
            None => detail(StatusCode::NOT_FOUND, "Not found."),
        };
    }
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed(&method, "GET, DELETE, HEAD, OPTIONS");
    }
    let Some(body) = shared
        .dromo
        .imports
        .lock()
        .unwrap()
        .get(&id)
        .map(ImportRecord::full)
    else {
        return detail(StatusCode::NOT_FOUND, "Not found.");
    };
    if let Err(wait) = shared.dromo.polls.check(&id) {
        return throttled(&shared, wait);
    }
    json_response(StatusCode::OK, body)
}

async fn result_url(
    State(shared): State<Arc<Shared>>,
    method: Method,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    shared.stats.hit("dromo.result_url");
    if let Some(resp) = reject_unauthorized(&shared, &headers) {
        return resp;
    }
    if method != Method::GET && method != Method::HEAD {
        return method_not_allowed(&method, "GET, HEAD, OPTIONS");
    }
    let Some(status) = shared
        .dromo
        .imports
        .lock()
        .unwrap()
        .get(&id)
        .map(|r| r.status.clone())
    else {
        return detail(StatusCode::NOT_FOUND, "Not found.");
    };
    if status != imports::SUCCESSFUL {
        return detail(
            StatusCode::BAD_REQUEST,
            format!("Import results are not available (status {status})."),
        );
    }
    let url = shared.presigner.presign(
        "GET",
        &shared.origins.storage,
        &imports::result_path(&id),
        shared.settings.url_ttl(UPLOAD_URL_SECS),
    );
    json_response(StatusCode::OK, json!({ "presigned_url": url }))
}

/// Stands in for Dromo's review UI, which is out of scope: it only says how to finish the review.
async fn review_page(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    shared.stats.hit("dromo.review_page");
    let status = shared
        .dromo
        .imports
        .lock()
        .unwrap()
        .get(&id)
        .map(|r| r.status.clone());
    let Some(status) = status else {
        return (
            StatusCode::NOT_FOUND,
            Html("<h1>Not found</h1>".to_string()),
        )
            .into_response();
    };
    let id = html_escape(&id);
    Html(format!(
        "<!doctype html><title>Dromo review (emulated)</title>\
         <h1>Import {id}</h1><p>Status: <b>{}</b></p>\
         <p>The emulator has no review UI. <code>POST /_emulator/dromo/imports/{id}/review</code> \
         accepts the data as it is and makes the import SUCCESSFUL.</p>",
        html_escape(&status)
    ))
    .into_response()
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The import plus what the API never shows: the merged settings and hooks and the field keys.
async fn inspect(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let imports = shared.dromo.imports.lock().unwrap();
    let Some(record) = imports.get(&id) else {
        return detail(StatusCode::NOT_FOUND, "Not found.");
    };
    let fields: Vec<&str> = record.plan.fields.iter().map(|f| f.key.as_str()).collect();
    json_response(
        StatusCode::OK,
        json!({
            "import": record.full(),
            "settings": record.settings,
            "hooks": record.hooks,
            "import_metadata": record.import_metadata,
            "fields": fields,
        }),
    )
}

/// What a person finishing the review in Dromo's UI would cause: NEEDS_REVIEW becomes SUCCESSFUL,
/// with the rows as they were (invalid values included).
async fn complete_review(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let mut imports = shared.dromo.imports.lock().unwrap();
    let Some(record) = imports.get_mut(&id) else {
        return detail(StatusCode::NOT_FOUND, "Not found.");
    };
    if record.status != imports::NEEDS_REVIEW || !record.has_result {
        return detail(
            StatusCode::CONFLICT,
            format!(
                "Only a processed NEEDS_REVIEW import can be reviewed (status {}).",
                record.status
            ),
        );
    }
    record.import_errors = Value::Null;
    record.set_status(imports::SUCCESSFUL);
    webhooks::emit(&shared, record);
    json_response(StatusCode::OK, record.full())
}

/// Forces any status string (an unknown one too), to test that clients treat statuses as an open set.
async fn force_status(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: axum::extract::Json<Value>,
) -> Response {
    let Some(status) = body
        .get("status")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return detail(StatusCode::BAD_REQUEST, "Expected {\"status\": \"...\"}.");
    };
    let mut imports = shared.dromo.imports.lock().unwrap();
    let Some(record) = imports.get_mut(&id) else {
        return detail(StatusCode::NOT_FOUND, "Not found.");
    };
    record.set_status(status);
    json_response(StatusCode::OK, record.full())
}
