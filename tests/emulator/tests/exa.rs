//! Exa Websets imports: create, auth, validation, upload and processing outcomes, update, delete,
//! cursor pagination, control endpoints, CORS.

mod common;

use std::time::Duration;

use common::exa::{create_body, EXA_KEY};
use common::*;
use headless_imports_emulator::Config;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const CREATE_RESPONSE_FIELDS: [&str; 15] = [
    "id",
    "object",
    "status",
    "format",
    "entity",
    "title",
    "count",
    "metadata",
    "failedReason",
    "failedAt",
    "failedMessage",
    "createdAt",
    "updatedAt",
    "uploadUrl",
    "uploadValidUntil",
];

/// `2026-01-02T03:04:05.678Z`, as JavaScript's `toISOString()` prints.
fn is_iso_millis(s: &str) -> bool {
    let b = s.as_bytes();
    s.len() == 24
        && s.ends_with('Z')
        && b[4] == b'-'
        && b[10] == b'T'
        && b[19] == b'.'
        && time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).is_ok()
}

fn unix_secs(iso: &str) -> f64 {
    let t =
        time::OffsetDateTime::parse(iso, &time::format_description::well_known::Rfc3339).unwrap();
    t.unix_timestamp_nanos() as f64 / 1e9
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// The error shape: `{statusCode, message, error, requestId}` with `requestId` = `X-Request-Id`.
fn assert_exa_error(r: &Reply, status: StatusCode, message_part: &str) -> String {
    assert_eq!(r.status, status, "{}", r.text);
    let body = r.json();
    let obj = body.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        ["error", "message", "requestId", "statusCode"],
        "{body}"
    );
    assert_eq!(body["statusCode"], status.as_u16());
    assert_eq!(body["error"], status.canonical_reason().unwrap());
    assert_eq!(body["requestId"].as_str(), r.header("x-request-id"));
    let message = body["message"].as_str().unwrap().to_string();
    assert!(
        message.contains(message_part),
        "{message:?} should contain {message_part:?}"
    );
    message
}

#[tokio::test]
async fn create_returns_every_required_field() {
    let env = start(config()).await;
    let before = now_secs();
    let r = env.exa_create(&create_body(100, 2)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(r.header("x-request-id").unwrap().starts_with("req_"));
    let created = r.json();
    let obj = created.as_object().unwrap();
    let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    assert_eq!(
        keys, CREATE_RESPONSE_FIELDS,
        "all required fields, in the spec's order"
    );
    let id = created["id"].as_str().unwrap();
    assert!(id.starts_with("import_") && id.len() > 10, "{id}");
    assert_eq!(created["object"], "import");
    assert_eq!(created["status"], "pending");
    assert_eq!(created["format"], "csv");
    assert_eq!(created["entity"], json!({"type": "company"}));
    assert_eq!(created["title"], "");
    assert_eq!(created["count"], 2);
    assert_eq!(created["metadata"], json!({}));
    for k in ["failedReason", "failedAt", "failedMessage"] {
        assert_eq!(created[k], Value::Null, "{k}");
    }
    let created_at = created["createdAt"].as_str().unwrap();
    assert!(is_iso_millis(created_at), "{created_at}");
    assert_eq!(created["createdAt"], created["updatedAt"]);

    let url = created["uploadUrl"].as_str().unwrap();
    let prefix = format!(
        "{}/exa-websets-imports/{id}.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=EMULATORKEY%2F",
        env.emu.storage_origin()
    );
    assert!(url.starts_with(&prefix), "{url}");
    // One hour, scaled by 0.01.
    assert!(url.contains("&X-Amz-Expires=36&"), "{url}");
    let until = created["uploadValidUntil"].as_str().unwrap();
    assert!(is_iso_millis(until), "{until}");
    let lifetime = unix_secs(until) - before;
    assert!((35.0..=38.0).contains(&lifetime), "{lifetime}");

    // GET is the Import: the same fields without the upload ones.
    let got = env.exa_get(id).await;
    assert_eq!(got.status, StatusCode::OK);
    let mut expected = created.clone();
    expected.as_object_mut().unwrap().remove("uploadUrl");
    expected.as_object_mut().unwrap().remove("uploadValidUntil");
    assert_eq!(got.json(), expected);

    // Optional fields are stored and echoed.
    let full = env
        .exa_create_ok(&json!({
            "size": 10, "count": 1, "format": "csv",
            "entity": {"type": "custom", "description": "Seed-stage VC funds"},
            "title": "My list", "metadata": {"source": "crm"}, "csv": {"identifier": 0}
        }))
        .await;
    assert_eq!(full["title"], "My list");
    assert_eq!(full["metadata"], json!({"source": "crm"}));
    assert_eq!(
        full["entity"],
        json!({"type": "custom", "description": "Seed-stage VC funds"})
    );
    assert_ne!(full["id"], created["id"]);
    env.shutdown().await;
}

#[tokio::test]
async fn upload_lifetime_follows_upload_ttl() {
    let env = start(Config {
        upload_ttl: Some(Duration::from_secs(0)),
        ..config()
    })
    .await;
    let file = b"url\nhttps://a.com\n".to_vec();
    let created = env.exa_create_ok(&create_body(file.len(), 1)).await;
    let url = created["uploadUrl"].as_str().unwrap();
    assert!(url.contains("&X-Amz-Expires=0&"), "{url}");
    let r = env.put(url, file).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.text.contains("<Message>Request has expired</Message>"),
        "{}",
        r.text
    );
    let id = created["id"].as_str().unwrap();
    assert_eq!(env.exa_get(id).await.json()["status"], "pending");
    env.shutdown().await;
}

#[tokio::test]
async fn missing_or_wrong_key_is_401() {
    let env = start(Config {
        exa_api_key: "exa-secret-1".into(),
        ..config()
    })
    .await;
    let paths = [
        (Method::POST, "/v0/imports"),
        (Method::GET, "/v0/imports"),
        (Method::GET, "/v0/imports/import_x"),
        (Method::PATCH, "/v0/imports/import_x"),
        (Method::DELETE, "/v0/imports/import_x"),
    ];
    for (method, path) in paths {
        for key in [None, Some("wrong"), Some("test-dromo-key"), Some(EXA_KEY)] {
            let mut req = env.http.request(method.clone(), env.exa(path));
            if let Some(k) = key {
                req = req.header("x-api-key", k);
            }
            let r = env.send(req.json(&create_body(1, 1))).await;
            let m = assert_exa_error(&r, StatusCode::UNAUTHORIZED, "x-api-key");
            assert!(!m.contains("exa-secret-1") && !r.text.contains("exa-secret-1"));
        }
    }
    // The Dromo header is not an alternative.
    let r = env
        .send(
            env.http
                .get(env.exa("/v0/imports"))
                .header("X-Dromo-License-Key", "exa-secret-1"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = env
        .send(
            env.http
                .get(env.exa("/v0/imports"))
                .header("x-api-key", "exa-secret-1"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    env.shutdown().await;
}

#[tokio::test]
async fn each_validation_class_is_400() {
    let env = start(config()).await;
    let with = |key: &str, value: Value| {
        let mut b = create_body(10, 1);
        b[key] = value;
        b
    };
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "size should not be empty; count should not be empty; format should not be empty; entity should not be empty"),
        (json!([1]), "must be a JSON object"),
        (with("size", json!("10")), "size must be a number"),
        (with("size", json!(0)), "size must be greater than 0"),
        (with("size", json!(50_000_001)), "size must not be greater than 50000000"),
        (with("count", json!(2.5)), "count must be an integer number"),
        (with("count", json!(0)), "count must not be less than 1"),
        (with("count", json!("1")), "count must be a number"),
        (with("format", json!("xlsx")), "format must be one of the following values: csv"),
        (with("entity", json!("company")), "entity must be an object"),
        (with("entity", json!({"type": "place"})), "entity.type must be one of the following values: company, person, article, research_paper, custom"),
        (with("entity", json!({"type": "custom"})), "entity.description should not be empty"),
        (with("entity", json!({"type": "custom", "description": "x"})), "longer than or equal to 2 characters"),
        (with("entity", json!({"type": "custom", "description": "x".repeat(201)})), "shorter than or equal to 200 characters"),
        (with("entity", json!({"type": "company", "name": "x"})), "property entity.name should not exist"),
        (with("title", json!(5)), "title must be a string"),
        (with("metadata", json!(["a"])), "metadata must be an object"),
        (with("metadata", json!({"n": 1})), "metadata.n must be a string"),
        (with("metadata", json!({"long": "x".repeat(1001)})), "metadata.long must be shorter than or equal to 1000 characters"),
        (with("csv", json!({"identifier": -1})), "csv.identifier must not be less than 0"),
        (with("csv", json!({"identifier": 0.5})), "csv.identifier must be an integer number"),
        (with("csv", json!({"delimiter": ";"})), "property csv.delimiter should not exist"),
        (with("webset", json!("ws_1")), "property webset should not exist"),
    ];
    for (body, part) in cases {
        let r = env.exa_create(&body).await;
        assert_exa_error(&r, StatusCode::BAD_REQUEST, part);
    }
    // Limits are inclusive.
    env.exa_create_ok(&create_body(50_000_000, 1)).await;
    env.exa_create_ok(&with(
        "entity",
        json!({"type": "custom", "description": "ab"}),
    ))
    .await;
    env.exa_create_ok(&with("metadata", json!({"k": "x".repeat(1000)})))
        .await;
    for t in ["person", "article", "research_paper"] {
        env.exa_create_ok(&with("entity", json!({ "type": t })))
            .await;
    }

    // Bodies that are not JSON.
    let r = env
        .send(
            env.exa_req(Method::POST, "/v0/imports")
                .header("content-type", "application/json")
                .body("{\"size\": "),
        )
        .await;
    assert_exa_error(&r, StatusCode::BAD_REQUEST, "Invalid JSON in request body");
    let r = env
        .send(
            env.exa_req(Method::POST, "/v0/imports")
                .header("content-type", "text/csv")
                .body("url\n"),
        )
        .await;
    assert_exa_error(&r, StatusCode::UNSUPPORTED_MEDIA_TYPE, "application/json");
    let r = env
        .send(env.exa_req(Method::POST, "/v0/imports").body(""))
        .await;
    assert_exa_error(&r, StatusCode::BAD_REQUEST, "size should not be empty");
    // Nothing was created by any of the failures.
    let list = env
        .send(env.exa_req(Method::GET, "/v0/imports?limit=200"))
        .await;
    assert_eq!(list.json()["data"].as_array().unwrap().len(), 6);
    env.shutdown().await;
}

#[tokio::test]
async fn upload_then_processing_then_completed() {
    // Scale 0.2: "processing" lasts 200 ms, long enough to observe reliably.
    let env = start(Config {
        time_scale: 0.2,
        ..config()
    })
    .await;
    let file =
        b"Company,Website\r\nAcme,https://acme.com\r\nGlobex,https://globex.com\r\n".to_vec();
    let created = env
        .exa_create_ok(&json!({
            "size": file.len(), "count": 2, "format": "csv", "entity": {"type": "company"},
            "title": "crm export"
        }))
        .await;
    let id = created["id"].as_str().unwrap();
    let put = env
        .put(created["uploadUrl"].as_str().unwrap(), file.clone())
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    assert!(put.header("etag").is_some());
    let processing = env.exa_get(id).await.json();
    assert_eq!(processing["status"], "processing");
    assert_ne!(processing["updatedAt"], created["updatedAt"]);

    // One file per import.
    let again = env
        .put(created["uploadUrl"].as_str().unwrap(), file.clone())
        .await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert!(again.text.contains("one file per import"), "{}", again.text);

    let done = env.exa_wait_final(id).await;
    assert_eq!(done["status"], "completed", "{done}");
    for k in ["failedReason", "failedAt", "failedMessage"] {
        assert_eq!(done[k], Value::Null, "{k}");
    }
    assert_eq!(done["title"], "crm export");
    assert!(
        unix_secs(done["updatedAt"].as_str().unwrap())
            > unix_secs(created["createdAt"].as_str().unwrap())
    );
    assert_eq!(env.exa_get(id).await.json(), done);

    // The storage receipt works for Exa ids too.
    let receipt = env
        .send(env.http.get(env.control(&format!("/uploads/{id}"))))
        .await;
    assert_eq!(receipt.status, StatusCode::OK);
    assert_eq!(receipt.json()["size"], file.len());
    env.shutdown().await;
}

#[tokio::test]
async fn never_uploaded_stays_pending() {
    let env = start(config()).await;
    let created = env.exa_create_ok(&create_body(10, 1)).await;
    tokio::time::sleep(Duration::from_millis(60)).await;
    let got = env.exa_get(created["id"].as_str().unwrap()).await.json();
    assert_eq!(got["status"], "pending");
    assert_eq!(got["updatedAt"], created["updatedAt"]);
    env.shutdown().await;
}

fn failure(import: &Value) -> (&str, &str) {
    assert_eq!(import["status"], "failed", "{import}");
    let at = import["failedAt"].as_str().expect("failedAt set");
    assert!(is_iso_millis(at));
    assert_eq!(import["failedAt"], import["updatedAt"]);
    (
        import["failedReason"].as_str().unwrap(),
        import["failedMessage"].as_str().unwrap(),
    )
}

#[tokio::test]
async fn invalid_format_paths() {
    let env = start(config()).await;
    let cases: [(&[u8], u64, &str); 5] = [
        (
            b"url\n\"https://a.com\n",
            1,
            "Unterminated quoted field starting on line 2",
        ),
        (b"url\nhttps://a.com\n\xff\xfe\n", 2, "not valid UTF-8"),
        (
            b"url,name\nhttps://a.com,A\nhttps://b.com\n",
            2,
            "Line 3 has 1 field(s) but the header has 2",
        ),
        (b"url\n\"a\"b\n", 1, "after a closing quote on line 2"),
        (b"\n\n", 1, "The file is empty"),
    ];
    for (file, count, part) in cases {
        let import = env
            .exa_import(
                json!({"count": count, "format": "csv", "entity": {"type": "company"}}),
                file,
            )
            .await;
        let (reason, message) = failure(&import);
        assert_eq!(reason, "invalid_format");
        assert!(message.contains(part), "{message}");
    }
    // A zero-byte upload (size must be > 0, so it also mismatches: emptiness is reported first).
    let import = env.exa_import(create_body(5, 1), b"").await;
    assert_eq!(failure(&import), ("invalid_format", "The file is empty."));
    env.shutdown().await;
}

#[tokio::test]
async fn size_mismatch_is_invalid_file_content() {
    let env = start(config()).await;
    let file = b"url\nhttps://a.com\n";
    let import = env.exa_import(create_body(file.len() + 7, 1), file).await;
    let (reason, message) = failure(&import);
    assert_eq!(reason, "invalid_file_content");
    assert!(
        message.contains(&format!("is {} bytes", file.len())),
        "{message}"
    );
    assert!(
        message.contains(&format!("size of {} bytes", file.len() + 7)),
        "{message}"
    );
    env.shutdown().await;
}

#[tokio::test]
async fn count_is_records_not_lines() {
    let env = start(config()).await;
    // 6 physical lines after the header, but 3 records: quoted fields hold line breaks.
    let file = "url,description\r\nhttps://a.com,\"a\nb\"\r\nhttps://b.com,\"line1\r\nline2\nline3\"\r\nhttps://c.com,\"say \"\"hi\"\"\"\r\n";
    let lines = file.lines().count() as u64 - 1;
    assert_eq!(lines, 6);
    let import = env
        .exa_import(create_body(file.len(), lines), file.as_bytes())
        .await;
    let (reason, message) = failure(&import);
    assert_eq!(reason, "invalid_file_content");
    assert!(message.contains("has 3 CSV records"), "{message}");
    assert!(message.contains("count of 6"), "{message}");
    let import = env
        .exa_import(create_body(file.len(), 3), file.as_bytes())
        .await;
    assert_eq!(import["status"], "completed", "{import}");
    // A header-only file has zero records.
    let import = env.exa_import(create_body(4, 1), b"url\n").await;
    assert!(failure(&import).1.contains("has 0 CSV records"));
    env.shutdown().await;
}

#[tokio::test]
async fn missing_identifier_paths() {
    let env = start(config()).await;
    let no_url = b"name,email\nAda,ada@example.com\n";
    for t in ["company", "person", "article", "research_paper"] {
        let import = env
            .exa_import(
                json!({"count": 1, "format": "csv", "entity": {"type": t}}),
                no_url,
            )
            .await;
        let (reason, message) = failure(&import);
        assert_eq!(reason, "missing_identifier", "{t}");
        assert!(
            message.contains("url, website, domain, linkedin, link, homepage"),
            "{message}"
        );
    }
    let out_of_range = env
        .exa_import(
            json!({"count": 1, "format": "csv", "entity": {"type": "company"}, "csv": {"identifier": 2}}),
            no_url,
        )
        .await;
    let (reason, message) = failure(&out_of_range);
    assert_eq!(reason, "missing_identifier");
    assert!(
        message.contains("csv.identifier is 2") && message.contains("only 2 column(s)"),
        "{message}"
    );
    let custom_out_of_range = env
        .exa_import(
            json!({"count": 1, "format": "csv", "entity": {"type": "custom", "description": "people"}, "csv": {"identifier": 5}}),
            no_url,
        )
        .await;
    assert_eq!(failure(&custom_out_of_range).0, "missing_identifier");

    // What completes: an explicit index, a custom entity, or a recognised header in any case.
    let ok: Vec<(Value, &[u8])> = vec![
        (
            json!({"count": 1, "format": "csv", "entity": {"type": "person"}, "csv": {"identifier": 1}}),
            no_url,
        ),
        (
            json!({"count": 1, "format": "csv", "entity": {"type": "custom", "description": "people"}}),
            no_url,
        ),
        (
            json!({"count": 1, "format": "csv", "entity": {"type": "person"}}),
            b"name, LinkedIn \nAda,https://linkedin.com/in/ada\n",
        ),
        (
            json!({"count": 1, "format": "csv", "entity": {"type": "company"}}),
            b"\xEF\xBB\xBFDomain\nacme.com\n",
        ),
        (
            json!({"count": 1, "format": "csv", "entity": {"type": "article"}}),
            b"title,Link\nT,https://x.com/a\n",
        ),
        (
            json!({"count": 1, "format": "csv", "entity": {"type": "research_paper"}}),
            b"HOMEPAGE\nhttps://arxiv.org/abs/1\n",
        ),
    ];
    for (body, file) in ok {
        let import = env.exa_import(body.clone(), file).await;
        assert_eq!(import["status"], "completed", "{body} -> {import}");
    }
    env.shutdown().await;
}

#[tokio::test]
async fn patch_updates_title_and_metadata() {
    let env = start(config()).await;
    let created = env
        .exa_create_ok(&json!({
            "size": 10, "count": 1, "format": "csv", "entity": {"type": "company"},
            "title": "old", "metadata": {"a": "1", "b": "2"}
        }))
        .await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/v0/imports/{id}");
    tokio::time::sleep(Duration::from_millis(5)).await;
    let r = env
        .send(
            env.exa_req(Method::PATCH, &path)
                .json(&json!({"title": "new", "metadata": {"c": "3"}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let updated = r.json();
    assert_eq!(updated["title"], "new");
    assert_eq!(
        updated["metadata"],
        json!({"c": "3"}),
        "metadata is replaced, not merged"
    );
    assert_eq!(updated["createdAt"], created["createdAt"]);
    assert_ne!(updated["updatedAt"], created["updatedAt"]);
    assert!(updated.get("uploadUrl").is_none());
    assert_eq!(env.exa_get(id).await.json(), updated);

    // Title only keeps metadata; an empty body changes nothing.
    let r = env
        .send(
            env.exa_req(Method::PATCH, &path)
                .json(&json!({"title": ""})),
        )
        .await;
    assert_eq!(r.json()["metadata"], json!({"c": "3"}));
    assert_eq!(r.json()["title"], "");
    let before = r.json();
    let r = env
        .send(env.exa_req(Method::PATCH, &path).json(&json!({})))
        .await;
    assert_eq!(r.json(), before);

    for (body, part) in [
        (json!({"name": "x"}), "property name should not exist"),
        (json!({"title": null}), "title must be a string"),
        (json!({"metadata": {"k": 1}}), "metadata.k must be a string"),
        (
            json!({"metadata": {"k": "x".repeat(1001)}}),
            "shorter than or equal to 1000",
        ),
        (
            json!({"status": "completed"}),
            "property status should not exist",
        ),
    ] {
        let r = env
            .send(env.exa_req(Method::PATCH, &path).json(&body))
            .await;
        assert_exa_error(&r, StatusCode::BAD_REQUEST, part);
    }
    assert_eq!(env.exa_get(id).await.json(), before);
    let r = env
        .send(
            env.exa_req(Method::PATCH, "/v0/imports/import_nope")
                .json(&json!({"title": "x"})),
        )
        .await;
    assert_exa_error(&r, StatusCode::NOT_FOUND, "Import import_nope not found");
    env.shutdown().await;
}

#[tokio::test]
async fn delete_returns_the_import_then_404() {
    let env = start(config()).await;
    let created = env.exa_create_ok(&create_body(18, 1)).await;
    let id = created["id"].as_str().unwrap();
    let path = format!("/v0/imports/{id}");
    let got = env.exa_get(id).await.json();
    let r = env.send(env.exa_req(Method::DELETE, &path)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json(), got);
    assert_exa_error(&env.exa_get(id).await, StatusCode::NOT_FOUND, "not found");
    let r = env.send(env.exa_req(Method::DELETE, &path)).await;
    assert_exa_error(&r, StatusCode::NOT_FOUND, "not found");
    let list = env
        .send(env.exa_req(Method::GET, "/v0/imports"))
        .await
        .json();
    assert_eq!(list["data"], json!([]));
    // Its upload URL no longer accepts a file.
    let put = env
        .put(
            created["uploadUrl"].as_str().unwrap(),
            b"url\nhttps://a.com\n".to_vec(),
        )
        .await;
    assert_eq!(put.status, StatusCode::FORBIDDEN);
    assert!(put.text.contains("<Code>AccessDenied</Code>"));
    env.shutdown().await;
}

async fn list(env: &Env, query: &str) -> Reply {
    env.send(env.exa_req(Method::GET, &format!("/v0/imports{query}")))
        .await
}

#[tokio::test]
async fn list_pages_newest_first_with_a_cursor() {
    let env = start(config()).await;
    let mut ids = Vec::new();
    for i in 0..7 {
        let c = env
            .exa_create_ok(&json!({
                "size": 10, "count": 1, "format": "csv", "entity": {"type": "company"},
                "title": format!("import {i}")
            }))
            .await;
        ids.push(c["id"].as_str().unwrap().to_string());
    }
    ids.reverse(); // newest first

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("?limit=2&cursor={c}"),
            None => "?limit=2".into(),
        };
        let r = list(&env, &q).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let page = r.json();
        let keys: Vec<&str> = page
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(keys, ["data", "hasMore", "nextCursor"]);
        let data = page["data"].as_array().unwrap();
        assert!(data.len() <= 2);
        for item in data {
            assert!(item.get("uploadUrl").is_none());
            seen.push(item["id"].as_str().unwrap().to_string());
        }
        pages += 1;
        if pages == 2 {
            // Deleting an import already listed, and creating a new one, shifts nothing.
            let r = env
                .send(env.exa_req(Method::DELETE, &format!("/v0/imports/{}", ids[0])))
                .await;
            assert_eq!(r.status, StatusCode::OK);
            env.exa_create_ok(&create_body(10, 1)).await;
        }
        if page["hasMore"] == json!(true) {
            let c = page["nextCursor"].as_str().unwrap();
            assert!(
                !c.is_empty()
                    && c.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            cursor = Some(c.to_string());
        } else {
            assert_eq!(page["nextCursor"], Value::Null);
            break;
        }
        assert!(pages < 10);
    }
    assert_eq!(pages, 4);
    assert_eq!(seen, ids);

    // Default limit 25 covers everything; limit=200 is allowed.
    let all = list(&env, "").await.json();
    assert_eq!(all["data"].as_array().unwrap().len(), 7);
    assert_eq!(all["hasMore"], false);
    assert_eq!(all["nextCursor"], Value::Null);
    assert_eq!(list(&env, "?limit=200").await.status, StatusCode::OK);
    // An exact fit: no further page is announced.
    let exact = list(&env, "?limit=7").await.json();
    assert_eq!(exact["hasMore"], false);
    env.shutdown().await;
}

#[tokio::test]
async fn bad_cursor_or_limit_is_400() {
    let env = start(config()).await;
    for _ in 0..3 {
        env.exa_create_ok(&create_body(10, 1)).await;
    }
    let first = list(&env, "?limit=1").await.json();
    let good = first["nextCursor"].as_str().unwrap().to_string();
    assert_eq!(
        list(&env, &format!("?cursor={good}")).await.status,
        StatusCode::OK
    );
    // base64url("imports:99"): well formed, but never issued.
    let unissued = "aW1wb3J0czo5OQ";
    for bad in [
        "",
        "nope!",
        "bm90LWEtY3Vyc29y",
        unissued,
        &good[..good.len() - 1],
        "aW1wb3J0czo",
    ] {
        let r = list(&env, &format!("?cursor={bad}")).await;
        assert_exa_error(&r, StatusCode::BAD_REQUEST, "Invalid cursor");
    }
    for bad in ["0", "201", "-1", "abc", "2.5", ""] {
        let r = list(&env, &format!("?limit={bad}")).await;
        assert_exa_error(
            &r,
            StatusCode::BAD_REQUEST,
            "limit must be an integer between 1 and 200",
        );
    }
    env.shutdown().await;
}

#[tokio::test]
async fn routes_are_exact_and_unknown_ids_404() {
    let env = start(config()).await;
    for (method, path) in [
        (Method::POST, "/v0/imports/"),
        (Method::GET, "/v0/imports/import_x/"),
        (Method::PUT, "/v0/imports"),
        (Method::POST, "/v0/imports/import_x"),
        (Method::GET, "/v0/import"),
    ] {
        let r = env
            .send(env.exa_req(method.clone(), path).json(&json!({})))
            .await;
        assert_exa_error(
            &r,
            StatusCode::NOT_FOUND,
            &format!("Cannot {method} /websets{path}"),
        );
    }
    assert_exa_error(
        &env.exa_get("import_missing").await,
        StatusCode::NOT_FOUND,
        "Import import_missing not found",
    );
    let stats = env.send(env.http.get(env.control("/stats"))).await.json();
    assert_eq!(stats["requests"]["exa.other"], 5);
    assert_eq!(stats["requests"]["exa.get"], 1);
    env.shutdown().await;
}

#[tokio::test]
async fn forced_status_survives_the_pipeline() {
    let env = start(Config {
        time_scale: 0.2,
        ..config()
    })
    .await;
    let file = b"url\nhttps://a.com\n".to_vec();
    let created = env.exa_create_ok(&create_body(file.len(), 1)).await;
    let id = created["id"].as_str().unwrap();
    let put = env.put(created["uploadUrl"].as_str().unwrap(), file).await;
    assert_eq!(put.status, StatusCode::OK);
    let force = |body: Value| {
        env.http
            .post(env.control(&format!("/exa/imports/{id}/status")))
            .json(&body)
    };
    let r = env.send(force(json!({"status": "canceled"}))).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["status"], "canceled");
    tokio::time::sleep(Duration::from_millis(400)).await;
    let got = env.exa_get(id).await.json();
    assert_eq!(got["status"], "canceled", "the pipeline left it alone");
    assert_eq!(got["failedAt"], Value::Null);

    // Unknown failure reasons can be forced too.
    let r = env
        .send(force(
            json!({"status": "failed", "failedReason": "quota_exceeded", "failedMessage": "m"}),
        ))
        .await;
    let got = r.json();
    assert_eq!(got["failedReason"], "quota_exceeded");
    assert_eq!(got["failedAt"], got["updatedAt"]);
    assert_eq!(
        env.send(force(json!({"status": ""}))).await.status,
        StatusCode::BAD_REQUEST
    );
    let r = env
        .send(
            env.http
                .post(env.control("/exa/imports/import_nope/status"))
                .json(&json!({"status": "x"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // A pending import forced elsewhere refuses its file.
    let created = env.exa_create_ok(&create_body(18, 1)).await;
    let id2 = created["id"].as_str().unwrap();
    env.send(
        env.http
            .post(env.control(&format!("/exa/imports/{id2}/status")))
            .json(&json!({"status": "canceled"})),
    )
    .await;
    let put = env
        .put(
            created["uploadUrl"].as_str().unwrap(),
            b"url\nhttps://a.com\n".to_vec(),
        )
        .await;
    assert_eq!(put.status, StatusCode::FORBIDDEN);
    assert!(put.text.contains("canceled, not pending"), "{}", put.text);
    let inspected = env.exa_inspect(id2).await;
    assert_eq!(inspected["uploaded"], false);
    assert_eq!(inspected["size"], 18.0);
    env.shutdown().await;
}

#[tokio::test]
async fn cors_allows_the_exa_key_header() {
    let env = start(config()).await;
    let r = env
        .send(
            env.http
                .request(Method::OPTIONS, env.exa("/v0/imports"))
                .header("Origin", "http://localhost:5173")
                .header("Access-Control-Request-Method", "POST")
                .header("Access-Control-Request-Headers", "content-type,x-api-key"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type,x-api-key")
    );
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("PATCH"));
    assert!(r
        .header("access-control-allow-methods")
        .unwrap()
        .contains("DELETE"));
    // Without Access-Control-Request-Headers the default list names it too.
    let r = env
        .send(
            env.http
                .request(Method::OPTIONS, env.exa("/v0/imports/import_x"))
                .header("Origin", "http://localhost:5173")
                .header("Access-Control-Request-Method", "PATCH"),
        )
        .await;
    assert!(r
        .header("access-control-allow-headers")
        .unwrap()
        .contains("x-api-key"));
    // Actual responses (errors too) are readable cross-origin, with the request id exposed.
    let r = env
        .send(
            env.http
                .get(env.exa("/v0/imports"))
                .header("Origin", "http://localhost:5173"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert!(r
        .header("access-control-expose-headers")
        .unwrap()
        .contains("X-Request-Id"));
    env.shutdown().await;
}

#[tokio::test]
async fn reset_forgets_exa_imports_and_describe_names_the_base() {
    let env = start(config()).await;
    let created = env.exa_create_ok(&create_body(10, 1)).await;
    for path in ["", "/"] {
        let d = env.send(env.http.get(env.control(path))).await.json();
        assert_eq!(d["exa"], env.emu.exa_base(), "{path:?}");
    }
    assert!(env.emu.exa_base().ends_with("/websets"));
    let r = env.send(env.http.post(env.control("/reset"))).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = env.exa_get(created["id"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    env.shutdown().await;
}
