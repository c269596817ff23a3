//! Fault injection (`/_emulator/faults`): each kind, deterministic with a seed.

mod common;

use std::time::{Duration, Instant};

use common::exa::create_body;
use common::{config, start, Env, CONTACTS};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CSV: &str = "First Name,Last Name,Email Address,Age\nAda,Lovelace,ada@example.com,36\n";

async fn faults(env: &Env, plan: Value) -> Value {
    let r = env
        .send(env.http.post(env.control("/faults")).json(&plan))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json()
}

async fn fault_counters(env: &Env) -> Value {
    env.send(env.http.get(env.control("/faults"))).await.json()
}

async fn dromo_count(env: &Env) -> u64 {
    let r = env
        .send(env.authed(Method::GET, "/headless/imports/?limit=1"))
        .await;
    r.json()["count"].as_u64().unwrap()
}

fn file_body() -> Value {
    json!({"schema_id": CONTACTS, "original_filename": "a.csv"})
}

/// What came back on a fresh connection: the bytes, and how the read ended.
#[derive(Debug, PartialEq)]
enum End {
    Reset,
    Eof,
    Open,
}

async fn raw(addr: std::net::SocketAddr, request: &[u8]) -> (Vec<u8>, End) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    // The server may reset while we are still writing a large body; that is fine.
    let _ = stream.write_all(request).await;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(2000), stream.read(&mut buf)).await {
            Ok(Ok(0)) => return (out, End::Eof),
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return (out, End::Reset)
            }
            Ok(Err(e)) => panic!("unexpected read error {e}"),
            Err(_) => return (out, End::Open),
        }
    }
    (out, End::Open)
}

fn create_request(env: &Env) -> Vec<u8> {
    let body = file_body().to_string();
    format!(
        "POST /api/v1/headless/imports/ HTTP/1.1\r\nHost: {}\r\nX-Dromo-License-Key: test-dromo-key\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        env.emu.api_addr(),
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn status_fault_answers_the_error_and_has_no_effect() {
    let env = start(config()).await;
    faults(
        &env,
        json!({"seed": 1, "rules": [{"route": "dromo.create", "kind": "status", "status": 503, "count": 1}]}),
    )
    .await;
    let r = env.create(file_body()).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(r.json()["detail"].as_str().unwrap().contains("injected"));
    assert!(r.header("x-request-id").is_some());
    assert_eq!(dromo_count(&env).await, 0, "nothing was created");
    env.create_ok(file_body()).await; // count: 1 is spent
    let c = fault_counters(&env).await;
    assert_eq!(c["rules"][0]["injected"], 1);
    assert_eq!(c["injected"], 1);
    let stats = env.send(env.http.get(env.control("/stats"))).await.json();
    assert_eq!(
        stats["requests"]["dromo.create"], 2,
        "injected requests are counted"
    );

    // `after: true`: processed, then the error. Exa's error shape on Exa routes.
    faults(
        &env,
        json!({"rules": [{"route": "exa.create", "kind": "status", "status": 500, "after": true}]}),
    )
    .await;
    let r = env.exa_create(&create_body(10, 1)).await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.json()["statusCode"], 500);
    let list = env
        .send(env.exa_req(Method::GET, "/v0/imports"))
        .await
        .json();
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "created anyway");
    env.shutdown().await;
}

#[tokio::test]
async fn rate_limit_fault_sends_retry_after_headers() {
    let env = start(config()).await;
    let imp = env.create_ok(file_body()).await;
    faults(
        &env,
        json!({"rules": [{"route": "dromo.get", "kind": "rate_limit", "retry_after_ms": 1500}]}),
    )
    .await;
    let r = env
        .send(env.authed(
            Method::GET,
            &format!("/headless/imports/{}/", imp["id"].as_str().unwrap()),
        ))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.header("retry-after"), Some("2"));
    assert_eq!(r.header("retry-after-ms"), Some("1500"));
    env.shutdown().await;
}

#[tokio::test]
async fn reset_before_drops_the_connection_and_nothing_is_created() {
    let env = start(config()).await;
    faults(
        &env,
        json!({"rules": [{"route": "dromo.create", "kind": "reset_before"}]}),
    )
    .await;
    let (bytes, end) = raw(env.emu.api_addr(), &create_request(&env)).await;
    assert!(bytes.is_empty(), "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(end, End::Reset, "a TCP reset, not a clean close");
    // reqwest sees a connection error, never a status.
    let err = env
        .authed(Method::POST, "/headless/imports/")
        .json(&file_body())
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    assert_eq!(dromo_count(&env).await, 0);
    env.shutdown().await;
}

#[tokio::test]
async fn reset_after_creates_the_import_but_answers_nothing() {
    let env = start(config()).await;
    faults(
        &env,
        json!({"rules": [{"route": "dromo.create", "kind": "reset_after", "count": 1}]}),
    )
    .await;
    let (bytes, end) = raw(env.emu.api_addr(), &create_request(&env)).await;
    assert!(bytes.is_empty(), "{}", String::from_utf8_lossy(&bytes));
    assert_eq!(end, End::Reset);
    assert_eq!(
        dromo_count(&env).await,
        1,
        "the import exists; its id was lost"
    );
    // The counters say what the client never saw.
    let c = fault_counters(&env).await;
    assert_eq!(c["rules"][0]["hidden"], json!({"201": 1}));
    env.shutdown().await;
}

#[tokio::test]
async fn reset_mid_upload_stores_nothing_and_the_url_still_works() {
    let env = start(config()).await;
    let imp = env.create_ok(file_body()).await;
    let url = imp["upload"].as_str().unwrap().to_string();
    faults(
        &env,
        json!({"rules": [{"route": "*", "kind": "reset_mid_upload", "count": 1, "bytes": 100000}]}),
    )
    .await;
    // `*` skips routes the kind can't affect: this GET is untouched.
    let id = imp["id"].as_str().unwrap();
    env.inspect(id).await;
    let big = vec![b'x'; 1_000_000];
    let path = common::path_and_query(&url, env.emu.storage_origin());
    let mut req = format!(
        "PUT {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n",
        env.emu.storage_addr(),
        big.len()
    )
    .into_bytes();
    req.extend_from_slice(&big);
    let (bytes, end) = raw(env.emu.storage_addr(), &req).await;
    assert!(bytes.is_empty());
    assert_eq!(end, End::Reset);
    let receipt = env
        .send(env.http.get(env.control(&format!("/uploads/{id}"))))
        .await;
    assert_eq!(receipt.status, StatusCode::NOT_FOUND, "nothing stored");
    assert_eq!(env.inspect(id).await["import"]["status"], "AWAITING_UPLOAD");
    let r = env.put(&url, CSV.as_bytes().to_vec()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(fault_counters(&env).await["rules"][0]["matched"], 1);
    env.shutdown().await;
}

#[tokio::test]
async fn slow_delays_past_a_client_timeout() {
    let env = start(config()).await;
    faults(
        &env,
        json!({"rules": [{"route": "dromo.list", "kind": "slow", "ms": 600, "count": 1}]}),
    )
    .await;
    let started = Instant::now();
    let err = env
        .authed(Method::GET, "/headless/imports/")
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() < Duration::from_millis(500));
    let started = Instant::now();
    assert_eq!(dromo_count(&env).await, 0);
    assert!(
        started.elapsed() < Duration::from_millis(300),
        "count spent"
    );
    env.shutdown().await;
}

#[tokio::test]
async fn truncated_json_is_a_200_with_half_a_body() {
    let env = start(config()).await;
    let imp = env.create_ok(file_body()).await;
    let id = imp["id"].as_str().unwrap();
    faults(
        &env,
        json!({"rules": [{"route": "dromo.get", "kind": "truncated_json"}]}),
    )
    .await;
    let r = env
        .send(env.authed(Method::GET, &format!("/headless/imports/{id}/")))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(serde_json::from_str::<Value>(&r.text).is_err());
    let full = imp.to_string();
    assert!(r.text.starts_with(&full[..10]), "{}", r.text);
    assert!(r.text.len() < full.len());
    env.shutdown().await;
}

#[tokio::test]
async fn html_error_is_a_proxy_page() {
    let env = start(config()).await;
    let imp = env.exa_create_ok(&create_body(10, 1)).await;
    faults(
        &env,
        json!({"rules": [{"route": "exa.get", "kind": "html_error"}]}),
    )
    .await;
    let r = env.exa_get(imp["id"].as_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(r.header("content-type"), Some("text/html"));
    assert!(r.text.contains("<h1>502 Bad Gateway</h1>"), "{}", r.text);
    env.shutdown().await;
}

#[tokio::test]
async fn expired_upload_answers_s3_expiry_for_a_valid_url() {
    let env = start(config()).await;
    let imp = env.create_ok(file_body()).await;
    faults(
        &env,
        json!({"rules": [{"route": "storage.put", "kind": "expired_upload", "count": 1}]}),
    )
    .await;
    let url = imp["upload"].as_str().unwrap();
    let r = env.put(url, CSV.as_bytes().to_vec()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.header("content-type"), Some("application/xml"));
    assert!(r.text.contains("<Code>AccessDenied</Code>"), "{}", r.text);
    assert!(r.text.contains("Request has expired"));
    let receipt = env
        .send(
            env.http
                .get(env.control(&format!("/uploads/{}", imp["id"].as_str().unwrap()))),
        )
        .await;
    assert_eq!(receipt.status, StatusCode::NOT_FOUND, "nothing stored");
    assert_eq!(
        env.put(url, CSV.as_bytes().to_vec()).await.status,
        StatusCode::OK
    );
    env.shutdown().await;
}

#[tokio::test]
async fn clock_skew_presigns_urls_that_storage_refuses() {
    let env = start(config()).await;
    faults(
        &env,
        json!({"rules": [
            {"route": "dromo.create", "kind": "clock_skew", "skew_secs": 3600, "count": 1},
            {"route": "exa.create", "kind": "clock_skew", "skew_secs": -7200, "count": 1}
        ]}),
    )
    .await;
    let ahead = env.create_ok(file_body()).await;
    let r = env
        .put(ahead["upload"].as_str().unwrap(), CSV.as_bytes().to_vec())
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(
        r.text.contains("<Code>RequestTimeTooSkewed</Code>"),
        "{}",
        r.text
    );
    assert!(r.text.contains("<MaxAllowedSkewMilliseconds>900000<"));

    let behind = env.exa_create_ok(&create_body(CSV.len(), 1)).await;
    let r = env
        .put(
            behind["uploadUrl"].as_str().unwrap(),
            CSV.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text.contains("Request has expired"), "{}", r.text);

    // Count spent: the next URLs are fine.
    let ok = env.create_ok(file_body()).await;
    let r = env
        .put(ok["upload"].as_str().unwrap(), CSV.as_bytes().to_vec())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    env.shutdown().await;
}

/// The pattern of injections on 64 sequential requests.
async fn pattern(env: &Env, seed: u64) -> Vec<bool> {
    faults(
        env,
        json!({"seed": seed, "rules": [{"route": "dromo.list", "kind": "status", "rate": 0.3}]}),
    )
    .await;
    let mut out = Vec::new();
    for _ in 0..64 {
        let r = env
            .send(env.authed(Method::GET, "/headless/imports/"))
            .await;
        out.push(r.status == StatusCode::INTERNAL_SERVER_ERROR);
    }
    out
}

#[tokio::test]
async fn same_seed_same_faults() {
    let env = start(config()).await;
    let a = pattern(&env, 42).await;
    let b = pattern(&env, 42).await;
    let c = pattern(&env, 43).await;
    assert_eq!(a, b);
    assert_ne!(a, c);
    let hits = a.iter().filter(|x| **x).count();
    assert!((8..=32).contains(&hits), "about 30 % of 64: {hits}");
    let counters = fault_counters(&env).await;
    assert_eq!(counters["seed"], 43);
    assert_eq!(counters["rules"][0]["matched"], 64);

    // DELETE clears; bad plans are refused.
    let r = env.send(env.http.delete(env.control("/faults"))).await;
    assert_eq!(r.json()["rules"], json!([]));
    assert_eq!(
        env.send(env.authed(Method::GET, "/headless/imports/"))
            .await
            .status,
        StatusCode::OK
    );
    for bad in [
        json!({"rules": [{"route": "dromo.nope", "kind": "status"}]}),
        json!({"rules": [{"route": "dromo.get", "kind": "explode"}]}),
        json!({"rules": [{"route": "dromo.get", "kind": "status", "rate": 2}]}),
        json!({"rules": [{"route": "dromo.get", "kind": "reset_mid_upload"}]}),
        json!({"rules": [{"route": "dromo.get", "kind": "status", "typo": 1}]}),
    ] {
        let r = env
            .send(env.http.post(env.control("/faults")).json(&bad))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}: {}", r.text);
    }
    env.shutdown().await;
}

#[tokio::test]
async fn faults_from_config_at_start() {
    let plan = headless_imports_emulator::faults::Plan::parse(
        r#"{"seed": 7, "rules": [{"route": "*", "kind": "status", "status": 502, "count": 1}]}"#,
    )
    .unwrap();
    let env = start(headless_imports_emulator::Config {
        faults: Some(plan),
        ..config()
    })
    .await;
    let r = env
        .send(env.authed(Method::GET, "/headless/imports/"))
        .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    // Control endpoints are never faulted.
    assert_eq!(fault_counters(&env).await["seed"], 7);
    env.shutdown().await;
}
