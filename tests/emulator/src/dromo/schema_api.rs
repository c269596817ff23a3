//! Dromo's Saved Schema API: `GET/POST /api/v1/schemas/`, `GET/PUT/DELETE /api/v1/schemas/{id}/`
//! (`listImportSchemas` … `deleteImportSchema` in `dromo-openapi.json`, and the saved schema guide).
//! Same key, 401, 405, APPEND_SLASH and DRF error shapes as the import routes; no rate limit (none
//! is documented for these routes).

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use serde_json::{Map, Value};

use super::create::{expect_object, string_field, Errors};
use super::schema::{self, SavedSchema};
use super::{json_body, method_not_allowed, new_id, reject_unauthorized};
use crate::http::{detail, json as json_response};
use crate::state::Shared;

/// Top-level keys of `ImportSchema`. `id` is read-only: accepted in a body and ignored, as DRF does.
const KEYS: &[&str] = &["id", "name", "fields", "settings", "hooks"];

/// Saved schemas in creation order (the list answers in that order), and the seed `reset` restores.
pub struct SchemaStore {
    seed: Vec<SavedSchema>,
    items: Mutex<Vec<SavedSchema>>,
}

impl SchemaStore {
    pub fn new(seed: Vec<SavedSchema>) -> Self {
        SchemaStore {
            items: Mutex::new(seed.clone()),
            seed,
        }
    }

    /// The schema as it is now (a copy: an import keeps what it was created with).
    pub fn get(&self, id: &str) -> Option<SavedSchema> {
        self.items
            .lock()
            .unwrap()
            .iter()
            .find(|s| s.id == id)
            .cloned()
    }

    pub fn reset(&self) {
        *self.items.lock().unwrap() = self.seed.clone();
    }
}

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/api/v1/schemas/", any(collection))
        .route("/api/v1/schemas/{id}/", any(item))
}

async fn collection(
    State(shared): State<Arc<Shared>>,
    method: Method,
    headers: HeaderMap,
    body: Body,
) -> Response {
    shared.stats.hit(match method {
        Method::POST => "dromo.schema_create",
        Method::GET | Method::HEAD => "dromo.schema_list",
        _ => "dromo.other",
    });
    if let Some(resp) = reject_unauthorized(&shared, &headers) {
        return resp;
    }
    let store = &shared.dromo.schemas;
    match method {
        Method::GET | Method::HEAD => {
            // A plain array: `listImportSchemas` answers `type: array`, with no paging envelope.
            let all: Vec<Value> = store
                .items
                .lock()
                .unwrap()
                .iter()
                .map(SavedSchema::to_json)
                .collect();
            json_response(StatusCode::OK, Value::Array(all))
        }
        Method::POST => {
            let value = match json_body(&headers, body).await {
                Ok(v) => v,
                Err(resp) => return resp,
            };
            let mut items = store.items.lock().unwrap();
            let saved = match parse(&value, new_id(), |name| {
                items.iter().any(|s| s.name == name)
            }) {
                Ok(s) => s,
                Err(errors) => return json_response(StatusCode::BAD_REQUEST, errors),
            };
            let body = saved.to_json();
            items.push(saved);
            json_response(StatusCode::CREATED, body)
        }
        other => method_not_allowed(&other, "GET, POST, HEAD, OPTIONS"),
    }
}

async fn item(
    State(shared): State<Arc<Shared>>,
    method: Method,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    shared.stats.hit(match method {
        Method::GET | Method::HEAD => "dromo.schema_get",
        Method::PUT => "dromo.schema_update",
        Method::DELETE => "dromo.schema_delete",
        _ => "dromo.other",
    });
    if let Some(resp) = reject_unauthorized(&shared, &headers) {
        return resp;
    }
    let store = &shared.dromo.schemas;
    let not_found = || detail(StatusCode::NOT_FOUND, "Not found.");
    match method {
        Method::GET | Method::HEAD => match store.get(&id) {
            Some(s) => json_response(StatusCode::OK, s.to_json()),
            None => not_found(),
        },
        Method::DELETE => {
            let mut items = store.items.lock().unwrap();
            match items.iter().position(|s| s.id == id) {
                Some(i) => {
                    items.remove(i);
                    StatusCode::NO_CONTENT.into_response()
                }
                None => not_found(),
            }
        }
        Method::PUT => {
            // DRF looks the object up before it reads the body: an unknown id is 404 whatever was sent.
            if store.get(&id).is_none() {
                return not_found();
            }
            let value = match json_body(&headers, body).await {
                Ok(v) => v,
                Err(resp) => return resp,
            };
            let mut items = store.items.lock().unwrap();
            // Deleted while the body was read.
            let Some(at) = items.iter().position(|s| s.id == id) else {
                return not_found();
            };
            let saved = match parse(&value, id.clone(), |name| {
                items.iter().any(|s| s.name == name && s.id != id)
            }) {
                Ok(s) => s,
                Err(errors) => return json_response(StatusCode::BAD_REQUEST, errors),
            };
            let body = saved.to_json();
            items[at] = saved;
            json_response(StatusCode::OK, body)
        }
        other => method_not_allowed(&other, "GET, PUT, DELETE, HEAD, OPTIONS"),
    }
}

/// An `ImportSchema` body (create, or the full replacement of a PUT), every problem at once in DRF's
/// `{"<field>": ["…"]}` shape. `name_taken` says whether another stored schema has that name.
fn parse(
    body: &Value,
    id: String,
    name_taken: impl Fn(&str) -> bool,
) -> Result<SavedSchema, Value> {
    let body = expect_object(body)?;
    let mut errors = Errors::default();
    if let Some(m) = schema::unexpected(body, KEYS) {
        errors.add("non_field_errors", m);
    }

    // DRF's CharField trims before checking for blank, and the unique check sees the trimmed name.
    let name = match body.get("name") {
        None => {
            errors.add("name", "This field is required.");
            None
        }
        Some(_) => string_field(body, "name", &mut errors).map(|s| s.trim().to_string()),
    };
    if name.as_deref().is_some_and(&name_taken) {
        errors.add("name", "import schema with this name already exists.");
    }

    let fields = match body.get("fields") {
        None => {
            errors.add("fields", "This field is required.");
            None
        }
        Some(Value::Null) => {
            errors.add("fields", "This field may not be null.");
            None
        }
        Some(v) => schema::compile_fields(v, "fields")
            .map_err(|m| errors.extend("fields", m))
            .ok(),
    };
    // `ImportSchema` lists `settings` as required (and so does the saved schema guide), unlike `hooks`.
    let settings = match body.get("settings") {
        None => {
            errors.add("settings", "This field is required.");
            None
        }
        Some(v) => optional_object(v, "settings", schema::validate_settings, &mut errors),
    };
    let hooks = match body.get("hooks") {
        None => Some(Map::new()),
        Some(v) => optional_object(v, "hooks", schema::validate_hooks, &mut errors),
    };

    match (name, fields, settings, hooks) {
        (Some(name), Some(fields), Some(settings), Some(hooks)) if errors.is_empty() => {
            Ok(SavedSchema {
                id,
                name,
                fields,
                fields_json: body["fields"].clone(),
                settings,
                hooks,
            })
        }
        _ => Err(errors.into_value()),
    }
}

/// `schema::validate_settings` or `schema::validate_hooks`.
type Check = fn(&Value) -> Result<Map<String, Value>, Vec<String>>;

/// `settings` or `hooks` when given: an object that passes `check`; `null` is refused, as on create.
fn optional_object(
    value: &Value,
    key: &str,
    check: Check,
    errors: &mut Errors,
) -> Option<Map<String, Value>> {
    if value.is_null() {
        errors.add(key, "This field may not be null.");
        return None;
    }
    check(value).map_err(|m| errors.extend(key, m)).ok()
}
