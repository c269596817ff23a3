//! Exa Websets imports (`/websets/v0/imports`), after the OpenAPI spec in
//! `shared/api/exa-websets-spec.yaml`: NestJS-style routes (no trailing slash), `x-api-key` auth,
//! `{statusCode, message, error}` errors, cursor pagination, and an upload that is really checked.

pub mod csvcheck;
pub mod imports;
pub mod params;
pub mod resource;
pub mod webhooks;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::{any, get, post};
use axum::Router;
use serde_json::{json, Value};

use crate::clock;
use crate::http::{json as json_response, RequestId};
use crate::presign::{self, constant_time_eq};
use crate::state::Shared;
use imports::{ExaImport, ExaUpload};
use resource::{collection, item, Labels, Resource, Store};
use webhooks::ExaWebhook;

/// Path prefix of the Websets API on the API origin (`https://api.exa.ai/websets` in production).
pub const BASE: &str = "/websets";
pub const DEFAULT_API_KEY: &str = "test-exa-key";
/// Documented upload URL lifetime (1 hour), before `--time-scale`.
const UPLOAD_URL_SECS: f64 = 3600.0;
/// Create and update bodies are a few hundred bytes; this only stops abuse.
const MAX_BODY: usize = 1024 * 1024;
pub const DEFAULT_LIMIT: u64 = 25;
pub const MAX_LIMIT: u64 = 200;

#[derive(Default)]
pub struct ExaState {
    pub imports: Mutex<Store<ExaImport>>,
    pub webhooks: Mutex<Store<ExaWebhook>>,
}

impl ExaState {
    pub fn reset(&self) {
        *self.imports.lock().unwrap() = Store::default();
        *self.webhooks.lock().unwrap() = Store::default();
    }
}

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/websets/v0/imports", any(collection::<ExaImport>))
        .route("/websets/v0/imports/{id}", any(item::<ExaImport>))
        .merge(webhooks::routes())
}

/// Test-only controls, mounted under `/_emulator/exa`.
pub fn control_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/imports/{id}", get(inspect))
        .route("/imports/{id}/status", post(force_status))
        .merge(webhooks::control_routes())
}

/// An error in Exa's (NestJS's) shape. `message` is always one string; validation problems are joined
/// with "; ".
#[derive(Debug)]
pub struct ExaError {
    pub status: StatusCode,
    pub message: String,
}

impl ExaError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ExaError {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// `{"statusCode": 400, "message": "...", "error": "Bad Request", "requestId": "req_..."}`
    pub fn respond(self, request_id: &str) -> Response {
        json_response(
            self.status,
            json!({
                "statusCode": self.status.as_u16(),
                "message": self.message,
                "error": self.status.canonical_reason().unwrap_or("Error"),
                "requestId": request_id,
            }),
        )
    }

    /// What NestJS answers for a path or method it has no route for (a trailing slash included).
    pub fn no_route(method: &Method, path: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("Cannot {method} {path}"))
    }

    fn no_import(id: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, format!("Import {id} not found"))
    }
}

type Reply = Result<Response, ExaError>;

fn finish(reply: Reply, rid: &RequestId) -> Response {
    reply.unwrap_or_else(|e| e.respond(&rid.0))
}

fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), ExaError> {
    let given = headers
        .get("x-api-key")
        .map(|v| v.as_bytes())
        .unwrap_or_default();
    if !given.is_empty() && constant_time_eq(given, shared.settings.exa_api_key.as_bytes()) {
        Ok(())
    } else {
        Err(ExaError::new(
            StatusCode::UNAUTHORIZED,
            "Invalid or missing API key (x-api-key header).",
        ))
    }
}

/// The JSON body; an empty one counts as `{}` (as Express's JSON parser has it).
async fn read_json(headers: &HeaderMap, body: Body) -> Result<Value, ExaError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or("");
        let essence = ct
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        if essence != "application/json" && !essence.ends_with("+json") {
            return Err(ExaError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                format!("Unsupported Content-Type \"{ct}\": send application/json."),
            ));
        }
    }
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return Err(ExaError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Request body is too large.",
        ));
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ExaError::bad_request(format!("Invalid JSON in request body: {e}")))
}

fn new_id() -> String {
    format!(
        "import_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..24]
    )
}

/// When a presigned URL stops working, read back from its own `X-Amz-Date` + `X-Amz-Expires` (the
/// presigner rounds both up to whole seconds, so this is exact, not an estimate).
fn valid_until(url: &str) -> Option<String> {
    let query = presign::parse_query(url.split_once('?').map(|(_, q)| q));
    let signed = clock::parse_amz_date(query.get("X-Amz-Date")?)?;
    let expires: u64 = query.get("X-Amz-Expires")?.parse().ok()?;
    Some(clock::rfc3339_millis(Duration::from_secs(
        signed.saturating_add(expires),
    )))
}

impl Resource for ExaImport {
    const LABELS: Labels = Labels {
        create: "exa.create",
        list: "exa.list",
        get: "exa.get",
        update: "exa.update",
        delete: "exa.delete",
    };
    const CURSOR: &'static str = "imports";

    fn id(&self) -> &str {
        &self.id
    }

    /// The `Import` schema, fields in the spec's order.
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "import",
            "status": self.status,
            "format": "csv",
            "entity": self.entity,
            "title": self.title,
            "count": self.count,
            "metadata": self.metadata,
            "failedReason": self.failed_reason,
            "failedAt": self.failed_at,
            "failedMessage": self.failed_message,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }

    fn store(shared: &Shared) -> &Mutex<Store<Self>> {
        &shared.exa.imports
    }

    fn not_found(id: &str) -> ExaError {
        ExaError::no_import(id)
    }

    async fn create(shared: &Arc<Shared>, headers: &HeaderMap, body: Body) -> Reply {
        let value = read_json(headers, body).await?;
        let params =
            params::parse_create(&value).map_err(|p| ExaError::bad_request(p.join("; ")))?;
        let id = new_id();
        let now = imports::now();
        let path = imports::upload_path(&id);
        let ttl = shared.settings.url_ttl(UPLOAD_URL_SECS);
        let upload_url = shared
            .presigner
            .presign("PUT", &shared.origins.storage, &path, ttl);
        let upload_valid_until = valid_until(&upload_url)
            .unwrap_or_else(|| clock::rfc3339_millis(clock::unix_now() + ttl));
        let record = ExaImport {
            id: id.clone(),
            status: imports::PENDING.into(),
            entity: params.entity,
            title: params.title.unwrap_or_default(),
            count: params.count,
            size: params.size,
            identifier: params.identifier,
            metadata: params.metadata,
            failed_reason: None,
            failed_at: None,
            failed_message: None,
            created_at: now.clone(),
            updated_at: now,
            upload_valid_until: upload_valid_until.clone(),
            uploaded: false,
        };
        let import = record.to_json();
        let mut body = import.clone();
        let obj = body.as_object_mut().expect("object");
        obj.insert("uploadUrl".into(), json!(upload_url));
        obj.insert("uploadValidUntil".into(), json!(upload_valid_until));
        shared.exa.imports.lock().unwrap().insert(record);
        shared
            .storage
            .register_upload(&path, &id, Arc::new(ExaUpload { id: id.clone() }));
        webhooks::emit(shared, "import.created", import);
        Ok(json_response(StatusCode::CREATED, body))
    }

    async fn update(shared: &Shared, id: &str, headers: &HeaderMap, body: Body) -> Reply {
        if shared.exa.imports.lock().unwrap().get(id).is_none() {
            return Err(ExaError::no_import(id));
        }
        let value = read_json(headers, body).await?;
        let update =
            params::parse_update(&value).map_err(|p| ExaError::bad_request(p.join("; ")))?;
        let mut imports = shared.exa.imports.lock().unwrap();
        let record = imports.get_mut(id).ok_or_else(|| ExaError::no_import(id))?;
        let changed = update.title.is_some() || update.metadata.is_some();
        if let Some(title) = update.title {
            record.title = title;
        }
        if let Some(metadata) = update.metadata {
            record.metadata = metadata;
        }
        if changed {
            record.updated_at = imports::now();
        }
        Ok(json_response(StatusCode::OK, record.to_json()))
    }
}

fn control_not_found() -> Response {
    json_response(StatusCode::NOT_FOUND, json!({ "detail": "Not found." }))
}

/// The import plus what the API never shows (declared size, identifier, whether a file arrived).
async fn inspect(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let imports = shared.exa.imports.lock().unwrap();
    let Some(r) = imports.get(&id) else {
        return control_not_found();
    };
    json_response(
        StatusCode::OK,
        json!({
            "import": r.to_json(),
            "size": r.size,
            "identifier": r.identifier,
            "uploaded": r.uploaded,
            "uploadValidUntil": r.upload_valid_until,
        }),
    )
}

/// Forces any status (`"canceled"`, or anything unknown) to test open-set handling. `failedReason`
/// and `failedMessage` are taken from the body (absent = null); `failedAt` is set when the status is
/// `failed` or a reason is given. The pipeline never overrides a forced status.
async fn force_status(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: axum::extract::Json<Value>,
) -> Response {
    let bad = || {
        json_response(
            StatusCode::BAD_REQUEST,
            json!({ "detail": "Expected {\"status\": \"...\", \"failedReason\"?: string|null, \"failedMessage\"?: string|null}." }),
        )
    };
    let Some(obj) = body.as_object() else {
        return bad();
    };
    let Some(status) = obj
        .get("status")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
    else {
        return bad();
    };
    let text = |key: &str| -> Result<Option<String>, ()> {
        match obj.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(()),
        }
    };
    let (Ok(reason), Ok(message)) = (text("failedReason"), text("failedMessage")) else {
        return bad();
    };
    let mut imports = shared.exa.imports.lock().unwrap();
    let Some(r) = imports.get_mut(&id) else {
        return control_not_found();
    };
    r.set_status(status);
    r.failed_at = (status == imports::FAILED || reason.is_some()).then(|| r.updated_at.clone());
    r.failed_reason = reason;
    r.failed_message = message;
    json_response(StatusCode::OK, r.to_json())
}
