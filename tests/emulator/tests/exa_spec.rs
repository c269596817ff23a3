//! Spec conformance: what the Exa emulator sends (create, get, list, update, delete, in every status it
//! produces) and the request bodies the suite sends are checked against the schemas of
//! `tests/spec/exa-websets-spec.yaml` (a copy of `shared/api/`) by a real JSON Schema (2020-12) validator.
//!
//! The spec is used as it is, with no normalisation: each check compiles a root document that holds
//! the spec's `components` (so `#/components/schemas/...` references resolve) and a `$ref` to the
//! schema under test. `discriminator` is an OpenAPI keyword that JSON Schema ignores, and `$ref` with
//! sibling keywords (`type: [object]`) is plain 2020-12; both work as written. `format: date-time` is
//! asserted, not just annotated.

mod common;

use std::sync::OnceLock;

use common::exa::create_body;
use common::*;
use jsonschema::{Draft, Validator};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

/// Our copy of Exa's published spec, so any clone runs these tests; `copy_matches_the_shared_spec`
/// keeps it equal to `shared/api/` wherever that checkout sits beside the repository (as in CI).
const SPEC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/exa-websets-spec.yaml");
const SHARED_SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/api/exa-websets-spec.yaml"
);

#[test]
fn copy_matches_the_shared_spec() {
    match std::fs::read(SHARED_SPEC) {
        Ok(shared) => assert!(
            std::fs::read(SPEC).expect("tests/spec copy") == shared,
            "tests/spec/exa-websets-spec.yaml differs from {SHARED_SPEC}: copy the new one over"
        ),
        Err(_) => eprintln!("{SHARED_SPEC} not found: the copy's freshness is checked where it is"),
    }
}

fn spec() -> &'static Value {
    static SPEC_JSON: OnceLock<Value> = OnceLock::new();
    SPEC_JSON.get_or_init(|| {
        let text = std::fs::read_to_string(SPEC).unwrap_or_else(|e| panic!("{SPEC}: {e}"));
        serde_yaml::from_str(&text).expect("the spec is YAML")
    })
}

/// A validator for `#/components/schemas/{name}`.
fn schema(name: &str) -> Validator {
    let components = spec()["components"].clone();
    assert!(
        components["schemas"].get(name).is_some(),
        "{name} is not in the spec"
    );
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": components,
        "$ref": format!("#/components/schemas/{name}"),
    });
    jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .unwrap_or_else(|e| panic!("{name} compiles: {e}"))
}

fn errors(validator: &Validator, instance: &Value) -> Vec<String> {
    validator
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

#[track_caller]
fn assert_valid(name: &str, instance: &Value) {
    let errs = errors(&schema(name), instance);
    assert!(errs.is_empty(), "{name} rejects {instance}: {errs:#?}");
}

#[track_caller]
fn assert_invalid(name: &str, instance: &Value) {
    assert!(
        !schema(name).is_valid(instance),
        "{name} should reject {instance}"
    );
}

/// The spec's response schema for an operation, so the test follows the spec rather than assuming
/// which component each operation answers with.
fn response_ref(path: &str, method: &str, status: &str) -> String {
    let r = &spec()["paths"][path][method]["responses"][status]["content"]["application/json"]
        ["schema"]["$ref"];
    r.as_str()
        .and_then(|s| s.strip_prefix("#/components/schemas/"))
        .unwrap_or_else(|| panic!("{method} {path} {status} has no schema ref"))
        .to_string()
}

fn request_ref(path: &str, method: &str) -> String {
    let r = &spec()["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
        ["$ref"];
    r.as_str()
        .and_then(|s| s.strip_prefix("#/components/schemas/"))
        .unwrap_or_else(|| panic!("{method} {path} has no request schema ref"))
        .to_string()
}

#[test]
fn operations_use_the_expected_schemas() {
    assert_eq!(
        response_ref("/v0/imports", "post", "201"),
        "CreateImportResponse"
    );
    assert_eq!(
        response_ref("/v0/imports", "get", "200"),
        "ListImportsResponse"
    );
    for m in ["get", "patch", "delete"] {
        assert_eq!(response_ref("/v0/imports/{id}", m, "200"), "Import");
    }
    assert_eq!(request_ref("/v0/imports", "post"), "CreateImportParameters");
    assert_eq!(request_ref("/v0/imports/{id}", "patch"), "UpdateImport");
    // Every schema named in the brief compiles, as written.
    for name in [
        "Import",
        "CreateImportParameters",
        "CreateImportResponse",
        "UpdateImport",
        "ListImportsResponse",
        "Entity",
        "CompanyEntity",
        "PersonEntity",
        "ArticleEntity",
        "ResearchPaperEntity",
        "CustomEntity",
    ] {
        schema(name);
    }
}

/// The validator itself is not vacuous: it rejects broken responses.
#[test]
fn the_validator_has_teeth() {
    let import = json!({
        "id": "import_1", "object": "import", "status": "pending", "format": "csv",
        "entity": {"type": "company"}, "title": "", "count": 1, "metadata": {},
        "failedReason": null, "failedAt": null, "failedMessage": null,
        "createdAt": "2026-01-02T03:04:05.678Z", "updatedAt": "2026-01-02T03:04:05.678Z"
    });
    assert_valid("Import", &import);
    let broken = |key: &str, value: Value| {
        let mut v = import.clone();
        v[key] = value;
        v
    };
    assert_invalid("Import", &broken("createdAt", json!("yesterday")));
    assert_invalid("Import", &broken("failedReason", json!("disk_full")));
    assert_invalid("Import", &broken("entity", json!({"type": "place"})));
    assert_invalid("Import", &broken("metadata", json!({"a": 1})));
    assert_invalid("Import", &broken("title", Value::Null));
    let mut missing = import.clone();
    missing.as_object_mut().unwrap().remove("failedAt");
    assert_invalid("Import", &missing);
    // The spec's status enum is closed (pending/processing/completed/failed), though a newer doc page
    // adds canceled: a client that validated strictly would break on it.
    assert_invalid("Import", &broken("status", json!("canceled")));
    assert_invalid("CreateImportResponse", &import);
    assert_invalid(
        "ListImportsResponse",
        &json!({"data": [import], "hasMore": false}),
    );
}

#[tokio::test]
async fn responses_conform_in_every_state() {
    let env = start(config()).await;
    let mut creates = vec![
        create_body(18, 1),
        json!({
            "size": 18, "count": 1, "format": "csv",
            "entity": {"type": "custom", "description": "Seed-stage VC funds"},
            "title": "funds", "metadata": {"owner": "ops"}, "csv": {"identifier": 0}
        }),
    ];
    for t in ["person", "article", "research_paper"] {
        creates.push(json!({"size": 18, "count": 1, "format": "csv", "entity": {"type": t}}));
    }
    // What the suite sends is a valid CreateImportParameters.
    for body in &creates {
        assert_valid("CreateImportParameters", body);
        let r = env.exa_create(body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_valid("CreateImportResponse", &r.json());
        let got = env.exa_get(r.json()["id"].as_str().unwrap()).await;
        assert_valid("Import", &got.json());
    }

    // Processing, then every final status the pipeline produces.
    let slow = start(headless_imports_emulator::Config {
        time_scale: 0.2,
        ..config()
    })
    .await;
    let file = b"url\nhttps://a.com\n".to_vec();
    let created = slow.exa_create_ok(&create_body(file.len(), 1)).await;
    let put = slow.put(created["uploadUrl"].as_str().unwrap(), file).await;
    assert_eq!(put.status, StatusCode::OK);
    let processing = slow.exa_get(created["id"].as_str().unwrap()).await.json();
    assert_eq!(processing["status"], "processing");
    assert_valid("Import", &processing);
    slow.shutdown().await;

    let outcomes: [(&[u8], Value); 5] = [
        (b"url\nhttps://a.com\n", create_body(18, 1)),
        (b"url\n\"https://a.com\n", create_body(19, 1)),
        (b"url\nhttps://a.com\n", create_body(99, 1)),
        (b"url\nhttps://a.com\n", create_body(18, 2)),
        (b"name\nAda\n", create_body(9, 1)),
    ];
    let mut reasons = Vec::new();
    for (file, body) in outcomes {
        let done = env.exa_import(body, file).await;
        assert_valid("Import", &done);
        reasons.push(done["failedReason"].as_str().unwrap_or("-").to_string());
    }
    assert_eq!(
        reasons,
        [
            "-",
            "invalid_format",
            "invalid_file_content",
            "invalid_file_content",
            "missing_identifier"
        ]
    );

    // List pages, the last one with a null cursor.
    let first = env
        .send(env.exa_req(Method::GET, "/v0/imports?limit=2"))
        .await
        .json();
    assert_eq!(first["hasMore"], true);
    assert_valid("ListImportsResponse", &first);
    let last = env
        .send(env.exa_req(Method::GET, "/v0/imports?limit=200"))
        .await
        .json();
    assert_eq!(last["nextCursor"], Value::Null);
    assert_valid("ListImportsResponse", &last);
    let empty = start(config()).await;
    let none = empty
        .send(empty.exa_req(Method::GET, "/v0/imports"))
        .await
        .json();
    assert_valid("ListImportsResponse", &none);
    empty.shutdown().await;

    // Update and delete answer with an Import.
    let id = first["data"][0]["id"].as_str().unwrap().to_string();
    let update = json!({"title": "renamed", "metadata": {"k": "v"}});
    assert_valid("UpdateImport", &update);
    let r = env
        .send(
            env.exa_req(Method::PATCH, &format!("/v0/imports/{id}"))
                .json(&update),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_valid("Import", &r.json());
    let r = env
        .send(env.exa_req(Method::DELETE, &format!("/v0/imports/{id}")))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_valid("Import", &r.json());
    env.shutdown().await;
}

/// Bodies both sides refuse: the spec's validator and the emulator (400).
#[tokio::test]
async fn invalid_bodies_are_rejected_by_both() {
    let env = start(config()).await;
    let with = |key: &str, value: Value| {
        let mut b = create_body(10, 1);
        b[key] = value;
        b
    };
    let without = |key: &str| {
        let mut b = create_body(10, 1);
        b.as_object_mut().unwrap().remove(key);
        b
    };
    let creates = [
        without("size"),
        without("count"),
        without("format"),
        without("entity"),
        with("size", json!("10")),
        with("size", json!(50_000_001)),
        with("count", json!("1")),
        with("format", json!("xlsx")),
        with("entity", json!({"type": "place"})),
        with("entity", json!({"type": "custom"})),
        with("entity", json!({"type": "custom", "description": "x"})),
        with(
            "entity",
            json!({"type": "custom", "description": "x".repeat(201)}),
        ),
        with("entity", json!("company")),
        with("title", json!(7)),
        with("title", Value::Null),
        with("metadata", json!({"a": 1})),
        with("metadata", json!({"a": "x".repeat(1001)})),
        with("csv", json!({"identifier": -1})),
        with("csv", json!({"identifier": 1.5})),
        with("csv", json!("0")),
        json!([]),
    ];
    for body in &creates {
        assert_invalid("CreateImportParameters", body);
        let r = env.exa_create(body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body} -> {}", r.text);
    }
    let created = env.exa_create_ok(&create_body(10, 1)).await;
    let path = format!("/v0/imports/{}", created["id"].as_str().unwrap());
    for body in [
        json!({"title": 1}),
        json!({"title": null}),
        json!({"metadata": {"a": 1}}),
        json!({"metadata": "a"}),
        json!("title"),
    ] {
        assert_invalid("UpdateImport", &body);
        let r = env
            .send(env.exa_req(Method::PATCH, &path).json(&body))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body} -> {}", r.text);
    }
    env.shutdown().await;
}

/// Where the emulator is deliberately stricter than the spec, which declares no
/// `additionalProperties: false`, no lower bounds and no integer type for these. Pinned here so a
/// spec change that closes (or widens) one of them is noticed.
#[tokio::test]
async fn the_emulator_is_stricter_than_the_spec_here() {
    let env = start(config()).await;
    let with = |key: &str, value: Value| {
        let mut b = create_body(10, 1);
        b[key] = value;
        b
    };
    for body in [
        with("unknown", json!(1)),
        with("size", json!(0)),
        with("size", json!(-5)),
        with("count", json!(0)),
        with("count", json!(2.5)),
        with("entity", json!({"type": "company", "description": "extra"})),
        with("csv", json!({"identifier": 0, "delimiter": ";"})),
    ] {
        assert_valid("CreateImportParameters", &body);
        let r = env.exa_create(&body).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body} -> {}", r.text);
    }
    let created = env.exa_create_ok(&create_body(10, 1)).await;
    let path = format!("/v0/imports/{}", created["id"].as_str().unwrap());
    for body in [
        json!({"name": "x"}),
        json!({"metadata": {"a": "x".repeat(1001)}}),
    ] {
        assert_valid("UpdateImport", &body);
        let r = env
            .send(env.exa_req(Method::PATCH, &path).json(&body))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body} -> {}", r.text);
    }
    env.shutdown().await;
}
