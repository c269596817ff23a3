//! Exa webhooks (`/websets/v0/webhooks`, `/{id}`, `/{id}/attempts`) after the spec, and the events the
//! emulator sends through them: `import.created` when an import is created and `import.completed` when
//! it completes (Exa has no failed event). Deliveries go through [`crate::webhooks`], signed with the
//! webhook's secret.

use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::Response;
use axum::routing::{any, post};
use axum::Router;
use serde_json::{json, Map, Value};

use super::resource::{
    collection, item, page_params, page_response, Call, Labels, Resource, Store,
};
use super::{imports, params, read_json, ExaError, Reply};
use crate::http::json as json_response;
use crate::presign;
use crate::state::Shared;
use crate::webhooks::{self, Attempt, Event, Outcome, Provider, Target};

pub const ACTIVE: &str = "active";
pub const INACTIVE: &str = "inactive";

pub struct ExaWebhook {
    pub id: String,
    pub status: String,
    pub events: Vec<String>,
    pub url: String,
    /// Shown once, in the create answer; `null` everywhere else.
    pub secret: String,
    pub metadata: Map<String, Value>,
    pub created_at: String,
    pub updated_at: String,
}

impl Store<ExaWebhook> {
    /// Active webhooks subscribed to `event_type`, oldest first: `(id, url, secret)`.
    fn subscribed(&self, event_type: &str) -> Vec<(String, String, String)> {
        self.iter()
            .filter(|w| w.status == ACTIVE && w.events.iter().any(|e| e == event_type))
            .map(|w| (w.id.clone(), w.url.clone(), w.secret.clone()))
            .collect()
    }
}

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/websets/v0/webhooks", any(collection::<ExaWebhook>))
        .route("/websets/v0/webhooks/{id}", any(item::<ExaWebhook>))
        .route("/websets/v0/webhooks/{id}/attempts", any(attempts))
}

/// Under `/_emulator/exa`: the spec has no way to deactivate a webhook, so tests get one.
pub fn control_routes() -> Router<Arc<Shared>> {
    Router::new().route("/webhooks/{id}/status", post(force_status))
}

fn no_webhook(id: &str) -> ExaError {
    ExaError::new(StatusCode::NOT_FOUND, format!("Webhook {id} not found"))
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    // A fresh v4 UUID per 16 bytes: random enough for a test secret, no new dependency.
    for chunk in buf.chunks_mut(16) {
        let id = uuid::Uuid::new_v4();
        chunk.copy_from_slice(&id.as_bytes()[..chunk.len()]);
    }
    hex::encode(buf)
}

impl Resource for ExaWebhook {
    const LABELS: Labels = Labels {
        create: "exa.webhook_create",
        list: "exa.webhook_list",
        get: "exa.webhook_get",
        update: "exa.webhook_update",
        delete: "exa.webhook_delete",
    };
    const CURSOR: &'static str = "webhooks";

    fn id(&self) -> &str {
        &self.id
    }

    /// The `Webhook` schema, fields in the spec's order, with `secret: null`.
    fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "object": "webhook",
            "status": self.status,
            "events": self.events,
            "url": self.url,
            "secret": null,
            "metadata": self.metadata,
            "createdAt": self.created_at,
            "updatedAt": self.updated_at,
        })
    }

    fn store(shared: &Shared) -> &Mutex<Store<Self>> {
        &shared.exa.webhooks
    }

    fn not_found(id: &str) -> ExaError {
        no_webhook(id)
    }

    async fn create(shared: &Arc<Shared>, headers: &HeaderMap, body: Body) -> Reply {
        let value = read_json(headers, body).await?;
        let p = params::parse_webhook(&value, true, webhooks::check_receiver)
            .map_err(|p| ExaError::new(StatusCode::BAD_REQUEST, p.join("; ")))?;
        let now = imports::now();
        let hook = ExaWebhook {
            id: format!("webhook_{}", &random_hex(12)),
            status: ACTIVE.into(),
            events: p.events.unwrap_or_default(),
            url: p.url.unwrap_or_default(),
            secret: format!("whsec_{}", random_hex(24)),
            metadata: p.metadata.unwrap_or_default(),
            created_at: now.clone(),
            updated_at: now,
        };
        let mut body = hook.to_json();
        body["secret"] = json!(hook.secret);
        shared.exa.webhooks.lock().unwrap().insert(hook);
        // The spec answers 200 here (not 201 as for imports).
        Ok(json_response(StatusCode::OK, body))
    }

    async fn update(shared: &Shared, id: &str, headers: &HeaderMap, body: Body) -> Reply {
        if shared.exa.webhooks.lock().unwrap().get(id).is_none() {
            return Err(no_webhook(id));
        }
        let value = read_json(headers, body).await?;
        let p = params::parse_webhook(&value, false, webhooks::check_receiver)
            .map_err(|p| ExaError::new(StatusCode::BAD_REQUEST, p.join("; ")))?;
        let mut hooks = shared.exa.webhooks.lock().unwrap();
        let hook = hooks.get_mut(id).ok_or_else(|| no_webhook(id))?;
        let changed = p.url.is_some() || p.events.is_some() || p.metadata.is_some();
        if let Some(url) = p.url {
            hook.url = url;
        }
        if let Some(events) = p.events {
            hook.events = events;
        }
        if let Some(metadata) = p.metadata {
            hook.metadata = metadata;
        }
        if changed {
            hook.updated_at = imports::now();
        }
        Ok(json_response(StatusCode::OK, hook.to_json()))
    }
}

/// `WebhookAttempt`. A dropped attempt (fault `drop`) looks as the sender believes it went: a 200.
/// No connection or a timeout: `responseStatusCode` 0, no headers, `responseBody` null.
fn attempt_json(a: &Attempt) -> Value {
    let status = match a.outcome {
        Outcome::Dropped => 200,
        _ => a.status_code.unwrap_or(0),
    };
    json!({
        "id": a.id,
        "object": "webhook_attempt",
        "eventId": a.event_id,
        "eventType": a.event_type,
        "webhookId": a.webhook_id,
        "url": a.url,
        "successful": a.outcome != Outcome::Failed,
        "responseHeaders": a.response_headers,
        "responseBody": a.response_body,
        "responseStatusCode": status,
        "attempt": a.attempt,
        "attemptedAt": a.at,
    })
}

/// `GET /v0/webhooks/{id}/attempts?cursor=&limit=&eventType=&successful=`: newest first.
async fn attempts(call: Call, Path(id): Path<String>, RawQuery(query): RawQuery) -> Response {
    let label = matches!(call.method, Method::GET | Method::HEAD).then_some("exa.webhook_attempts");
    let op = async {
        let shared = &call.shared;
        if shared.exa.webhooks.lock().unwrap().get(&id).is_none() {
            return Err(no_webhook(&id));
        }
        let query = presign::parse_query(query.as_deref());
        let hooks = &shared.webhooks;
        let (limit, before) = page_params(&query, "attempts", |seq| hooks.issued(seq))?;
        let event_type = query.get("eventType");
        if event_type.is_some_and(|t| !params::EVENT_TYPES.contains(&t.as_str())) {
            return Err(ExaError::new(
                StatusCode::BAD_REQUEST,
                format!(
                    "eventType must be one of the following values: {}",
                    params::EVENT_TYPES.join(", ")
                ),
            ));
        }
        let successful = match query.get("successful").map(String::as_str) {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => {
                return Err(ExaError::new(
                    StatusCode::BAD_REQUEST,
                    "successful must be a boolean value",
                ))
            }
        };
        let mut matching = hooks.attempts(|a| {
            a.provider == Provider::Exa
                && a.webhook_id.as_deref() == Some(id.as_str())
                && a.seq < before.unwrap_or(u64::MAX)
                && event_type.is_none_or(|t| &a.event_type == t)
                && successful.is_none_or(|s| (a.outcome != Outcome::Failed) == s)
        });
        matching.reverse();
        let more = matching.len() > limit;
        matching.truncate(limit);
        let last = matching.last().map(|a| a.seq).filter(|_| more);
        let data = matching.iter().map(attempt_json).collect();
        Ok(page_response("attempts", data, last))
    };
    call.serve(label, op).await
}

/// Sends `event_type` about `import` (the Import as `GET /v0/imports/{id}` returns it) to every active
/// webhook subscribed to it: one event id for all of them and for every retry.
pub fn emit(shared: &Arc<Shared>, event_type: &str, import: Value) {
    let targets = shared.exa.webhooks.lock().unwrap().subscribed(event_type);
    if targets.is_empty() {
        return;
    }
    let id = format!("evt_{}", random_hex(12));
    let import_id = import["id"].as_str().unwrap_or_default().to_string();
    let body = json!({
        "id": id,
        "object": "event",
        "type": event_type,
        "data": import,
        "createdAt": imports::now(),
    });
    let event = Arc::new(Event {
        provider: Provider::Exa,
        id,
        event_type: event_type.to_string(),
        import_id,
        body: Bytes::from(body.to_string()),
        content_type: "application/json",
    });
    for (webhook_id, url, secret) in targets {
        let wanted_id = webhook_id.clone();
        webhooks::dispatch(
            shared,
            event.clone(),
            Target {
                url,
                webhook_id: Some(webhook_id),
                secret: Some(secret),
                // Deleted or deactivated: no further retries.
                still_wanted: Box::new(move |shared: &Shared| {
                    shared
                        .exa
                        .webhooks
                        .lock()
                        .unwrap()
                        .get(&wanted_id)
                        .is_some_and(|w| w.status == ACTIVE)
                }),
            },
        );
    }
}

/// `POST /_emulator/exa/webhooks/{id}/status {"status": "active"|"inactive"}`.
async fn force_status(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: axum::extract::Json<Value>,
) -> Response {
    let status = body.get("status").and_then(Value::as_str);
    let Some(status) = status.filter(|s| *s == ACTIVE || *s == INACTIVE) else {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({ "detail": "Expected {\"status\": \"active\"|\"inactive\"}." }),
        );
    };
    let mut hooks = shared.exa.webhooks.lock().unwrap();
    let Some(hook) = hooks.get_mut(&id) else {
        return json_response(StatusCode::NOT_FOUND, json!({ "detail": "Not found." }));
    };
    if hook.status != status {
        hook.status = status.to_string();
        hook.updated_at = imports::now();
    }
    json_response(StatusCode::OK, hook.to_json())
}
