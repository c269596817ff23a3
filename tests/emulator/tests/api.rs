//! The JSON API: create, retrieve, list, auth, validation, CORS, redirects, rate limits.

mod common;

use std::time::Duration;

use common::*;
use headless_imports_emulator::Config;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn is_uuid_v4(s: &str) -> bool {
    uuid_like(s) && s.as_bytes()[14] == b'4'
}

fn uuid_like(s: &str) -> bool {
    s.len() == 36
        && s.chars().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
            }
        })
}

fn is_rfc3339_utc(s: &str) -> bool {
    s.len() >= 20 && s.ends_with('Z') && &s[4..5] == "-" && &s[10..11] == "T"
}

#[tokio::test]
async fn create_with_saved_schema_awaits_upload() {
    let env = start(config()).await;
    let reply = env
        .create(json!({"schema_id": CONTACTS, "original_filename": "data.csv"}))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert!(reply.header("x-request-id").unwrap().starts_with("req_"));
    let import = reply.json();
    let id = import["id"].as_str().unwrap();
    assert!(is_uuid_v4(id));
    assert_eq!(import["schema_id"], CONTACTS);
    assert_eq!(import["status"], "AWAITING_UPLOAD");
    assert_eq!(import["original_filename"], "data.csv");
    assert!(is_rfc3339_utc(import["created_date"].as_str().unwrap()));
    assert_eq!(import["created_date"], import["modified_date"]);
    assert_eq!(import["result_metadata"], Value::Null);
    assert_eq!(import["import_errors"], Value::Null);
    assert_eq!(
        import["review_url"],
        format!("{}/headless/{id}/", env.emu.api_origin())
    );
    let upload = import["upload"].as_str().unwrap();
    let prefix = format!(
        "{}/dromo-headless-imports/{id}.csv?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=EMULATORKEY%2F",
        env.emu.storage_origin()
    );
    assert!(upload.starts_with(&prefix), "{upload}");
    assert!(upload.contains("%2Fus-west-2%2Fs3%2Faws4_request&X-Amz-Date="));
    // 1800 s scaled by 0.01.
    assert!(upload.contains("&X-Amz-Expires=18&X-Amz-SignedHeaders=host&X-Amz-Signature="));
    let signature = upload.rsplit('=').next().unwrap();
    assert_eq!(signature.len(), 64);
    assert!(signature.chars().all(|c| c.is_ascii_hexdigit()));

    let again = env
        .send(env.authed(Method::GET, &format!("/headless/imports/{id}/")))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(again.json(), import);
    env.shutdown().await;
}

#[tokio::test]
async fn create_with_inline_fields_and_initial_data_runs_immediately() {
    let env = start(config()).await;
    let import = env
        .create_ok(json!({
            "fields": [
                {"key": "first_name", "type": "string", "label": "First Name", "validators": []},
                {"key": "last_name", "type": "string", "label": "Last Name", "validators": []}
            ],
            "initial_data": [{"first_name": "Zeph", "last_name": "paul.zeph@gmail.com"}],
            "hooks": {"rowHooks": ["(record, mode) => record"]},
            "import_metadata": {"user": {"id": "jeff_id", "name": "Jeff"}}
        }))
        .await;
    let id = import["id"].as_str().unwrap();
    assert_eq!(import["status"], "PENDING");
    assert_eq!(import["upload"], Value::Null);
    assert_eq!(import["original_filename"], Value::Null);
    let schema_id = import["schema_id"].as_str().unwrap();
    assert!(is_uuid_v4(schema_id));
    assert_ne!(schema_id, id);
    let done = env.wait_final(id).await;
    assert_eq!(done["status"], "SUCCESSFUL", "{done}");
    assert_eq!(done["result_metadata"]["num_data_rows"], 1);
    assert_eq!(
        env.results(id).await,
        json!([{"first_name": "Zeph", "last_name": "paul.zeph@gmail.com"}])
    );
    env.shutdown().await;
}

#[tokio::test]
async fn saved_schema_settings_and_hooks_are_merged() {
    let env = start(config()).await;
    let import = env
        .create_ok(json!({
            "schema_id": CONTACTS,
            "settings": {"invalidDataBehavior": "REMOVE_INVALID_ROWS", "importIdentifier": "x"},
            "hooks": {"stepHooks": [{"type": "UPLOAD_STEP", "callback": "() => {}"}]},
            "initial_data": [{"email": "a@example.com"}, {"email": "nope"}]
        }))
        .await;
    let id = import["id"].as_str().unwrap();
    let inspected = env.inspect(id).await;
    assert_eq!(
        inspected["settings"],
        json!({"invalidDataBehavior": "REMOVE_INVALID_ROWS", "importIdentifier": "x"})
    );
    assert_eq!(inspected["hooks"]["stepHooks"][0]["type"], "UPLOAD_STEP");
    assert_eq!(
        inspected["fields"],
        json!(["first_name", "last_name", "email", "age"])
    );
    let done = env.wait_final(id).await;
    assert_eq!(done["status"], "SUCCESSFUL");
    assert_eq!(
        env.results(id).await,
        json!([{"first_name": null, "last_name": null, "email": "a@example.com", "age": null}])
    );
    env.shutdown().await;
}

#[tokio::test]
async fn missing_or_wrong_key_is_401_without_echo() {
    let env = start(config()).await;
    for key in [None, Some("wrong-key-123"), Some("")] {
        let mut req = env
            .http
            .post(env.api("/headless/imports/"))
            .json(&json!({"schema_id": CONTACTS, "original_filename": "a.csv"}));
        if let Some(k) = key {
            req = req.header("X-Dromo-License-Key", k);
        }
        let r = env.send(req).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.json(),
            json!({"detail": "Invalid or missing backend license key."})
        );
        assert!(!r.text.contains("wrong-key") && !r.text.contains("test-dromo-key"));
        assert!(r.header("x-request-id").is_some());
    }
    let r = env.send(env.http.get(env.api("/headless/imports/"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    env.shutdown().await;
}

#[tokio::test]
async fn unknown_schema_and_import_are_404() {
    let env = start(config()).await;
    let r = env
        .create(json!({"schema_id": "00000000-0000-4000-8000-000000000000", "original_filename": "a.csv"}))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json(), json!({"detail": "No schema found with that id"}));
    for path in ["/headless/imports/nope/", "/headless/imports/nope/url/"] {
        let r = env.send(env.authed(Method::GET, path)).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.json(), json!({"detail": "Not found."}));
    }
    env.shutdown().await;
}

#[tokio::test]
async fn invalid_bodies_are_400_in_drf_shape() {
    let env = start(config()).await;
    let field = json!({"key": "a", "type": "string", "label": "A"});
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"original_filename": "a.csv"}),
            "non_field_errors",
            "schema_id or fields",
        ),
        (
            json!({"schema_id": CONTACTS, "fields": [field], "original_filename": "a.csv"}),
            "non_field_errors",
            "schema_id or fields",
        ),
        (
            json!({"schema_id": CONTACTS}),
            "non_field_errors",
            "original_filename or initial_data",
        ),
        (
            json!({"schema_id": CONTACTS, "original_filename": "a.csv", "initial_data": []}),
            "non_field_errors",
            "original_filename or initial_data",
        ),
        (
            json!({"schema_id": CONTACTS, "initial_data": [1, 2]}),
            "initial_data",
            "not an object",
        ),
        (
            json!({"schema_id": CONTACTS, "initial_data": "rows"}),
            "initial_data",
            "list",
        ),
        (
            json!({"schema_id": 7, "original_filename": "a.csv"}),
            "schema_id",
            "valid string",
        ),
        (
            json!({"schema_id": CONTACTS, "original_filename": ""}),
            "original_filename",
            "blank",
        ),
        (
            json!({"fields": [{"key": "a", "type": "string"}], "original_filename": "a.csv"}),
            "fields",
            "'label' is a required property",
        ),
        (
            json!({"fields": [{"key": "a", "type": "string", "label": "A", "colour": "red"}], "original_filename": "a.csv"}),
            "fields",
            "'colour' was unexpected",
        ),
        (
            json!({"fields": [], "original_filename": "a.csv"}),
            "fields",
            "empty",
        ),
        (
            json!({"fields": [{"key": "a", "type": "string", "label": "A", "validators": [{"validate": "regex_match", "regex": "("}]}], "original_filename": "a.csv"}),
            "fields",
            "invalid regex",
        ),
        (
            json!({"schema_id": CONTACTS, "original_filename": "a.csv", "settings": {"colour": 1}}),
            "settings",
            "'colour' was unexpected",
        ),
        (
            json!({"schema_id": CONTACTS, "original_filename": "a.csv", "settings": {"invalidDataBehavior": "SOMETIMES"}}),
            "settings",
            "invalidDataBehavior",
        ),
        (
            json!({"schema_id": CONTACTS, "original_filename": "a.csv", "settings": {"maxRecords": "ten"}}),
            "settings",
            "maxRecords",
        ),
        (
            json!({"schema_id": CONTACTS, "original_filename": "a.csv", "hooks": {"onStart": "x"}}),
            "hooks",
            "'onStart' was unexpected",
        ),
        (
            json!({"schema_id": CONTACTS, "original_filename": "a.csv", "hooks": {"stepHooks": [{"type": "NOPE", "callback": "x"}]}}),
            "hooks",
            "stepHooks[0]",
        ),
        (
            json!({"schema_id": CONTACTS, "original_filename": "a.csv", "import_metadata": {"user": {"name": "Jeff"}}}),
            "import_metadata",
            "'id' is a required property",
        ),
        (
            json!({"schema_id": CONTACTS, "original_filename": "a.csv", "import_metadata": {"user": {"id": "j", "age": 3}}}),
            "import_metadata",
            "'age' was unexpected",
        ),
        (json!([1, 2]), "non_field_errors", "Expected a dictionary"),
    ];
    for (body, key, needle) in cases {
        let r = env.create(body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}: {}", r.text);
        let errors = r.json();
        let messages = errors[key]
            .as_array()
            .unwrap_or_else(|| panic!("{body}: no {key} in {errors}"));
        assert!(
            messages
                .iter()
                .any(|m| m.as_str().unwrap().contains(needle)),
            "{body}: {errors} should mention {needle}"
        );
    }
    let r = env
        .send(
            env.authed(Method::POST, "/headless/imports/")
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["detail"]
        .as_str()
        .unwrap()
        .starts_with("JSON parse error"));
    let r = env
        .send(
            env.authed(Method::POST, "/headless/imports/")
                .header("content-type", "text/plain")
                .body("{}"),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = env
        .send(env.authed(Method::PUT, "/headless/imports/x/"))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(r.json(), json!({"detail": "Method \"PUT\" not allowed."}));
    env.shutdown().await;
}

#[tokio::test]
async fn delete_forgets_an_import_and_its_upload_url() {
    let env = common::start(common::config()).await;
    let imp = env
        .create_ok(json!({"schema_id": common::CONTACTS, "original_filename": "a.csv"}))
        .await;
    let id = imp["id"].as_str().unwrap();
    let path = format!("/headless/imports/{id}/");
    let r = env.send(env.authed(Method::DELETE, &path)).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.text, "");
    assert_eq!(
        env.send(env.authed(Method::GET, &path)).await.status,
        StatusCode::NOT_FOUND
    );
    let again = env.send(env.authed(Method::DELETE, &path)).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert_eq!(again.json(), json!({"detail": "Not found."}));
    // The presigned URL no longer takes a file: its slot is gone (S3's NoSuchKey).
    let put = env
        .put(imp["upload"].as_str().unwrap(), b"a,b\n1,2\n".to_vec())
        .await;
    assert_eq!(put.status, StatusCode::NOT_FOUND, "{}", put.text);
    let list = env
        .send(env.authed(Method::GET, "/headless/imports/"))
        .await
        .json();
    assert_eq!(list["count"], 0);
    // Without the key: 401, and nothing is deleted.
    let other = env
        .create_ok(json!({"schema_id": common::CONTACTS, "original_filename": "b.csv"}))
        .await;
    let path = env.api(&format!(
        "/headless/imports/{}/",
        other["id"].as_str().unwrap()
    ));
    let r = env.send(env.http.delete(&path)).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        env.inspect(other["id"].as_str().unwrap()).await["import"]["status"],
        "AWAITING_UPLOAD"
    );
    env.shutdown().await;
}

#[tokio::test]
async fn result_url_needs_a_successful_import() {
    let env = start(config()).await;
    let import = env
        .create_ok(json!({"schema_id": PRODUCTS, "original_filename": "p.csv"}))
        .await;
    let id = import["id"].as_str().unwrap();
    let r = env
        .send(env.authed(Method::GET, &format!("/headless/imports/{id}/url/")))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json(),
        json!({"detail": "Import results are not available (status AWAITING_UPLOAD)."})
    );
    env.shutdown().await;
}

#[tokio::test]
async fn list_pages_newest_first_with_the_doubled_next_url() {
    let env = start(config()).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let import = env
            .create_ok(json!({"schema_id": PRODUCTS, "original_filename": format!("{i}.csv")}))
            .await;
        ids.push(import["id"].as_str().unwrap().to_string());
    }
    ids.reverse();
    let base = format!("{}/api/v1/api/v1/headless/imports/", env.emu.api_origin());
    let page = |q: &'static str| {
        let env = &env;
        async move {
            let r = env
                .send(env.authed(Method::GET, &format!("/headless/imports/{q}")))
                .await;
            (r.status, r.json())
        }
    };
    let (status, first) = page("?limit=2").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(first["count"], 5);
    assert_eq!(first["previous"], Value::Null);
    assert_eq!(first["next"], format!("{base}?limit=2&offset=2"));
    let got: Vec<&str> = first["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(got, [ids[0].as_str(), ids[1].as_str()]);
    let item = first["results"][0].as_object().unwrap();
    let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "created_date",
            "id",
            "modified_date",
            "original_filename",
            "schema_id",
            "status"
        ]
    );

    let (_, second) = page("?limit=2&offset=2").await;
    assert_eq!(second["previous"], format!("{base}?limit=2"));
    assert_eq!(second["next"], format!("{base}?limit=2&offset=4"));
    assert_eq!(second["results"][0]["id"], ids[2]);
    let (_, last) = page("?offset=4&limit=2").await;
    assert_eq!(last["next"], Value::Null);
    assert_eq!(last["previous"], format!("{base}?limit=2&offset=2"));
    assert_eq!(last["results"].as_array().unwrap().len(), 1);
    let (_, all) = page("").await;
    assert_eq!(all["results"].as_array().unwrap().len(), 5);
    assert_eq!(all["next"], Value::Null);
    let (_, beyond) = page("?offset=50").await;
    assert_eq!(beyond["results"], json!([]));
    let (_, clamped) = page("?limit=5000").await;
    assert_eq!(clamped["results"].as_array().unwrap().len(), 5);

    for q in [
        "?limit=abc",
        "?limit=-1",
        "?offset=-3",
        "?offset=1.5",
        "?limit=0",
    ] {
        let (status, body) = page(q).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{q}: {body}");
    }
    env.shutdown().await;
}

#[tokio::test]
async fn paths_without_trailing_slash_redirect() {
    let env = start(config()).await;
    let r = env
        .send(env.http.get(env.api("/headless/imports?limit=1")))
        .await;
    assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY);
    assert_eq!(
        r.header("location"),
        Some("/api/v1/headless/imports/?limit=1")
    );
    let r = env
        .send(env.http.get(env.api("/headless/imports/abc/url")))
        .await;
    assert_eq!(
        r.header("location"),
        Some("/api/v1/headless/imports/abc/url/")
    );
    let r = env.send(env.http.get(env.api("/nothing/here"))).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    env.shutdown().await;
}

#[tokio::test]
async fn cors_on_the_api_origin() {
    let env = start(config()).await;
    let r = env
        .send(
            env.http
                .request(Method::OPTIONS, env.api("/headless/imports/"))
                .header("Origin", "http://localhost:5173")
                .header("Access-Control-Request-Method", "POST")
                .header(
                    "Access-Control-Request-Headers",
                    "content-type,x-dromo-license-key",
                ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("GET, POST, PUT, PATCH, DELETE, OPTIONS")
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type,x-dromo-license-key")
    );
    assert!(r.header("access-control-max-age").is_some());
    let r = env
        .send(
            env.authed(Method::GET, "/headless/imports/")
                .header("Origin", "http://localhost:5173"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("X-Request-Id, Retry-After, retry-after-ms")
    );
    env.shutdown().await;
}

#[tokio::test]
async fn creates_and_polls_are_rate_limited_with_retry_headers() {
    // 60 s * 0.05 = a 3 s window.
    let env = start(Config {
        time_scale: 0.05,
        rate_limit: true,
        ..Config::default()
    })
    .await;
    let body = json!({"schema_id": PRODUCTS, "original_filename": "p.csv"});
    let mut first_id = String::new();
    for i in 0..20 {
        let r = env.create(body.clone()).await;
        assert_eq!(r.status, StatusCode::CREATED, "create {i}: {}", r.text);
        if i == 0 {
            first_id = r.json()["id"].as_str().unwrap().to_string();
        }
    }
    let r = env.create(body.clone()).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    let ms: u64 = r.header("retry-after-ms").unwrap().parse().unwrap();
    let secs: u64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=3000).contains(&ms), "{ms}");
    assert_eq!(secs, ms.div_ceil(1000).max(1));
    assert_eq!(
        r.json()["detail"],
        format!("Request was throttled. Expected available in {secs} seconds.")
    );
    // Throttled requests do not count: after the advertised wait, one create goes through.
    tokio::time::sleep(Duration::from_millis(ms + 20)).await;
    assert_eq!(env.create(body.clone()).await.status, StatusCode::CREATED);

    let poll = || env.send(env.authed(Method::GET, &format!("/headless/imports/{first_id}/")));
    for i in 0..12 {
        assert_eq!(poll().await.status, StatusCode::OK, "poll {i}");
    }
    let r = poll().await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(r.header("retry-after-ms").is_some());
    // Other imports have their own budget, and listing is not limited.
    let r = env
        .send(env.authed(Method::GET, "/headless/imports/?limit=1"))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let other = r.json()["results"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        env.send(env.authed(Method::GET, &format!("/headless/imports/{other}/")))
            .await
            .status,
        StatusCode::OK
    );

    let stats = env.send(env.http.get(env.control("/stats"))).await.json();
    assert_eq!(stats["throttled"], 2);
    assert_eq!(stats["requests"]["dromo.create"], 22);
    assert_eq!(stats["requests"]["dromo.retrieve"], 14);
    let r = env.send(env.http.post(env.control("/reset"))).await;
    assert_eq!(r.status, StatusCode::OK);
    let stats = env.send(env.http.get(env.control("/stats"))).await.json();
    assert_eq!(stats["requests"], json!({}));
    assert_eq!(stats["throttled"], 0);
    assert_eq!(stats["webhooks"]["dromo"]["events"], 0);
    let listed = env
        .send(env.authed(Method::GET, "/headless/imports/"))
        .await
        .json();
    assert_eq!(listed["count"], 0);
    env.shutdown().await;
}
