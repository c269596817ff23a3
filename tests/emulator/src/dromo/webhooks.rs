//! Dromo's webhooks (`dromo-docs/reference-webhooks.mdx`), delivered through [`crate::webhooks`]:
//! - managed webhooks, configured in Dromo's dashboard, so here through `/_emulator/dromo/webhooks`
//!   (or `--dromo-webhook URL`): JSON `{event, data}` for `import_completed`,
//!   `headless_import_needs_review` and `headless_import_failed`;
//! - basic webhooks, the deprecated `webhookUrl` setting: a form body `uploadId=<id>` when the import
//!   completes (and `needsReviewWebhookUrl` when it needs review, which only its name documents).
//!
//! Dromo signs nothing, so neither does the emulator.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::Router;
use serde_json::{json, Value};

use super::imports::{ImportRecord, FAILED, NEEDS_REVIEW, SUCCESSFUL};
use crate::clock;
use crate::http::{detail, json as json_response};
use crate::state::Shared;
use crate::webhooks::{self, Event, Provider, Target};

pub const IMPORT_COMPLETED: &str = "import_completed";
pub const NEEDS_REVIEW_EVENT: &str = "headless_import_needs_review";
pub const FAILED_EVENT: &str = "headless_import_failed";
pub const EVENTS: [&str; 3] = [IMPORT_COMPLETED, NEEDS_REVIEW_EVENT, FAILED_EVENT];

#[derive(Clone)]
pub struct Managed {
    pub id: String,
    pub url: String,
    pub events: Vec<String>,
}

impl Managed {
    fn to_json(&self) -> Value {
        json!({ "id": self.id, "url": self.url, "events": self.events })
    }
}

/// The managed webhooks, and the `--dromo-webhook` seed that `POST /_emulator/reset` brings back.
#[derive(Default)]
pub struct ManagedWebhooks {
    seed: Mutex<Vec<String>>,
    list: Mutex<Vec<Managed>>,
}

impl ManagedWebhooks {
    /// Installs the start-up receivers (all three events each); they must be loopback URLs.
    pub fn seed(&self, urls: Vec<String>) -> Result<(), String> {
        for url in &urls {
            webhooks::check_receiver(url).map_err(|e| format!("--dromo-webhook {url}: {e}"))?;
        }
        *self.seed.lock().unwrap() = urls;
        self.reset();
        Ok(())
    }

    pub fn reset(&self) {
        let seeded = self
            .seed
            .lock()
            .unwrap()
            .iter()
            .map(|url| Managed {
                id: uuid::Uuid::new_v4().to_string(),
                url: url.clone(),
                events: EVENTS.iter().map(|e| e.to_string()).collect(),
            })
            .collect();
        *self.list.lock().unwrap() = seeded;
    }

    fn contains(&self, id: &str) -> bool {
        self.list.lock().unwrap().iter().any(|m| m.id == id)
    }

    /// The webhooks `keep` selects, oldest first.
    fn matching(&self, keep: impl Fn(&Managed) -> bool) -> Vec<Managed> {
        let list = self.list.lock().unwrap();
        list.iter().filter(|m| keep(m)).cloned().collect()
    }
}

/// Under `/_emulator/dromo`.
pub fn control_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/webhooks", get(list).post(add).delete(clear))
        .route("/webhooks/{id}", delete(remove))
}

async fn list(State(shared): State<Arc<Shared>>) -> Response {
    let all = shared.dromo.webhooks.matching(|_| true);
    let list: Vec<Value> = all.iter().map(Managed::to_json).collect();
    json_response(StatusCode::OK, json!({ "webhooks": list }))
}

/// `{url, events?}`: events default to all three.
async fn add(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let Ok(Value::Object(obj)) = serde_json::from_slice::<Value>(&body) else {
        return detail(
            StatusCode::BAD_REQUEST,
            "Expected {\"url\": \"http://127.0.0.1:PORT/…\", \"events\"?: [...]}.",
        );
    };
    if let Some(key) = obj.keys().find(|k| *k != "url" && *k != "events") {
        return detail(StatusCode::BAD_REQUEST, format!("Unknown key {key:?}."));
    }
    let Some(url) = obj.get("url").and_then(Value::as_str) else {
        return detail(StatusCode::BAD_REQUEST, "url must be a string.");
    };
    if let Err(e) = webhooks::check_receiver(url) {
        return detail(StatusCode::BAD_REQUEST, e);
    }
    let events = match obj.get("events") {
        None | Some(Value::Null) => EVENTS.iter().map(|e| e.to_string()).collect(),
        Some(Value::Array(items))
            if !items.is_empty()
                && items
                    .iter()
                    .all(|e| e.as_str().is_some_and(|e| EVENTS.contains(&e))) =>
        {
            items
                .iter()
                .filter_map(|e| e.as_str().map(str::to_string))
                .collect()
        }
        Some(_) => {
            return detail(
                StatusCode::BAD_REQUEST,
                format!("events must be a non-empty array of {}.", EVENTS.join(", ")),
            )
        }
    };
    let managed = Managed {
        id: uuid::Uuid::new_v4().to_string(),
        url: url.to_string(),
        events,
    };
    let body = managed.to_json();
    shared.dromo.webhooks.list.lock().unwrap().push(managed);
    json_response(StatusCode::CREATED, body)
}

async fn clear(State(shared): State<Arc<Shared>>) -> Response {
    shared.dromo.webhooks.list.lock().unwrap().clear();
    json_response(StatusCode::OK, json!({ "webhooks": [] }))
}

async fn remove(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    let mut list = shared.dromo.webhooks.list.lock().unwrap();
    let before = list.len();
    list.retain(|m| m.id != id);
    if list.len() == before {
        return detail(StatusCode::NOT_FOUND, "Not found.");
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `import_metadata.user` in the webhook's snake_case form (`company_id`, `company_name`).
fn user(record: &ImportRecord) -> Value {
    match record.import_metadata.get("user") {
        Some(Value::Object(u)) => json!({
            "id": u.get("id").cloned().unwrap_or(Value::Null),
            "name": u.get("name").cloned().unwrap_or(Value::Null),
            "email": u.get("email").cloned().unwrap_or(Value::Null),
            "company_id": u.get("companyId").cloned().unwrap_or(Value::Null),
            "company_name": u.get("companyName").cloned().unwrap_or(Value::Null),
        }),
        _ => Value::Null,
    }
}

/// The managed webhook body: `{event, data}` with `data.headless` the import as the retrieve endpoint
/// returns it, minus `review_url` (and `original_file_download`, which the emulator never has).
pub fn event_body(record: &ImportRecord, event: &str) -> Value {
    let mut headless = record.full();
    if let Some(obj) = headless.as_object_mut() {
        obj.remove("review_url");
        obj.remove("original_file_download");
    }
    json!({
        "event": event,
        "data": {
            "id": record.id,
            "filename": record.original_filename,
            "user": user(record),
            // "The completion time of the import": the status change that caused the event.
            "created_date": record.modified_date,
            "import_type": "HEADLESS",
            "status": record.status,
            "num_data_rows": record
                .result_metadata
                .get("num_data_rows")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            "development_mode": record.settings.get("developmentMode").and_then(Value::as_bool).unwrap_or(false),
            "has_data": record.status == SUCCESSFUL && record.has_result,
            "headless": headless,
        }
    })
}

/// Called after `record` reached a final status through the pipeline or a completed review (a status
/// forced through the control API sends nothing). Managed webhooks subscribed to the event, then the
/// basic webhook of the import's settings.
pub fn emit(shared: &Arc<Shared>, record: &ImportRecord) {
    let event_type = match record.status.as_str() {
        SUCCESSFUL => IMPORT_COMPLETED,
        NEEDS_REVIEW => NEEDS_REVIEW_EVENT,
        FAILED => FAILED_EVENT,
        _ => return,
    };
    let subscribed = |m: &Managed| m.events.iter().any(|e| e == event_type);
    let managed = shared.dromo.webhooks.matching(subscribed);
    if !managed.is_empty() {
        let event = Arc::new(Event {
            provider: Provider::Dromo,
            id: format!("evt_{}", uuid::Uuid::new_v4().simple()),
            event_type: event_type.to_string(),
            import_id: record.id.clone(),
            body: Bytes::from(event_body(record, event_type).to_string()),
            content_type: "application/json",
        });
        for m in managed {
            let id = m.id.clone();
            webhooks::dispatch(
                shared,
                event.clone(),
                Target {
                    url: m.url,
                    webhook_id: Some(m.id),
                    secret: None,
                    still_wanted: Box::new(move |shared: &Shared| {
                        shared.dromo.webhooks.contains(&id)
                    }),
                },
            );
        }
    }
    let basic_key = match record.status.as_str() {
        SUCCESSFUL => "webhookUrl",
        NEEDS_REVIEW => "needsReviewWebhookUrl",
        _ => return,
    };
    let Some(url) = record.settings.get(basic_key).and_then(Value::as_str) else {
        return;
    };
    let event = Event {
        provider: Provider::Dromo,
        id: format!("evt_{}", uuid::Uuid::new_v4().simple()),
        event_type: basic_key.to_string(),
        import_id: record.id.clone(),
        // Ids are UUIDs: nothing to percent-encode.
        body: Bytes::from(format!("uploadId={}", record.id)),
        content_type: "application/x-www-form-urlencoded",
    };
    // The setting is free text Dromo would accept; the emulator still never leaves loopback.
    if let Err(e) = webhooks::check_receiver(url) {
        shared
            .webhooks
            .refuse(&event, url, format!("not sent: {e}"), clock::unix_now());
        return;
    }
    webhooks::dispatch(
        shared,
        Arc::new(event),
        Target {
            url: url.to_string(),
            webhook_id: None,
            secret: None,
            still_wanted: Box::new(|_: &Shared| true),
        },
    );
}
