//! `/_emulator/...`: unauthenticated endpoints for test suites, never part of an emulated API.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::Router;
use serde_json::json;

use crate::http::{detail, json};
use crate::state::Shared;
use crate::{dromo, exa};

pub fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/", get(describe))
        .route("/uploads/{id}", get(upload_receipt))
        .route("/stats", get(stats))
        .route("/reset", post(reset))
        .route(
            "/faults",
            get(faults_get).post(faults_set).delete(faults_clear),
        )
        .route("/webhooks/deliveries", get(deliveries))
        .nest("/dromo", dromo::control_routes())
        .nest("/exa", exa::control_routes())
}

/// `GET /_emulator` (and `/_emulator/`, as the README has always written it).
pub async fn describe(State(shared): State<Arc<Shared>>) -> Response {
    let s = &shared.settings;
    json(
        StatusCode::OK,
        json!({
            "api": format!("{}{}", shared.origins.api, dromo::API_PREFIX),
            "exa": format!("{}{}", shared.origins.api, exa::BASE),
            "storage": shared.origins.storage,
            "control": format!("{}/_emulator", shared.origins.api),
            "time_scale": s.scale.factor(),
            "rate_limit": s.rate_limit,
            "upload_ttl_secs": s.upload_ttl.map(|d| d.as_secs_f64()),
        }),
    )
}

/// Size and SHA-256 of what the storage origin received, to prove an upload arrived byte for byte.
async fn upload_receipt(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    match shared.storage.receipt(&id) {
        Some(r) => json(
            StatusCode::OK,
            json!({ "size": r.size, "sha256": r.sha256 }),
        ),
        None => detail(StatusCode::NOT_FOUND, "Not found."),
    }
}

async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let mut body = shared.stats.snapshot();
    body["webhooks"] = shared.webhooks.stats();
    json(StatusCode::OK, body)
}

/// `GET /_emulator/webhooks/deliveries?provider=&import_id=&event_id=&type=`: every attempt, oldest
/// first.
async fn deliveries(
    State(shared): State<Arc<Shared>>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let query = crate::presign::parse_query(query.as_deref());
    match shared.webhooks.deliveries(&query) {
        Ok(body) => json(StatusCode::OK, body),
        Err(e) => detail(StatusCode::BAD_REQUEST, e),
    }
}

async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    shared.reset();
    json(StatusCode::OK, json!({ "reset": true }))
}

/// `GET /_emulator/faults`: the installed rules with `matched`/`injected` counters per rule.
async fn faults_get(State(shared): State<Arc<Shared>>) -> Response {
    json(StatusCode::OK, shared.faults.snapshot())
}

/// `POST /_emulator/faults` `{seed, rules: [...]}` replaces the plan (counters restart at 0).
async fn faults_set(State(shared): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let plan = match crate::faults::Plan::parse(&String::from_utf8_lossy(&body)) {
        Ok(p) => p,
        Err(e) => return detail(StatusCode::BAD_REQUEST, format!("Invalid fault plan: {e}")),
    };
    shared.faults.install(plan);
    json(StatusCode::OK, shared.faults.snapshot())
}

/// `DELETE /_emulator/faults`: no more faults.
async fn faults_clear(State(shared): State<Arc<Shared>>) -> Response {
    shared.faults.clear();
    json(StatusCode::OK, shared.faults.snapshot())
}
