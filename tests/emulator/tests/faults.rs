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
async fn stall_mid_upload_goes_silent_then_resets_and_stores_nothing() {
    let env = start(config()).await;
    let imp = env.create_ok(file_body()).await;
    let url = imp["upload"].as_str().unwrap().to_string();
    faults(
        &env,
        json!({"rules": [{"route": "storage.put", "kind": "stall_mid_upload", "count": 1, "bytes": 1000, "ms": 400}]}),
    )
    .await;
    let id = imp["id"].as_str().unwrap();
    let path = common::path_and_query(&url, env.emu.storage_origin());
    let req = format!(
        "PUT {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: 5000\r\n\r\n{}",
        env.emu.storage_addr(),
        "x".repeat(2000)
    )
    .into_bytes();
    let started = Instant::now();
    let (bytes, end) = raw(env.emu.storage_addr(), &req).await;
    assert!(bytes.is_empty(), "no answer");
    assert_eq!(end, End::Reset);
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(env.inspect(id).await["import"]["status"], "AWAITING_UPLOAD");
    let r = env.put(&url, CSV.as_bytes().to_vec()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
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

/// A finished import's result file: the path and query of its presigned URL, and its bytes.
async fn result_file(env: &Env) -> (String, Vec<u8>) {
    let data: Vec<Value> = (0..200)
        .map(|i| json!({"first_name": format!("n{i}"), "email": format!("u{i}@example.com")}))
        .collect();
    let imp = env
        .create_ok(json!({"schema_id": CONTACTS, "initial_data": data}))
        .await;
    let id = imp["id"].as_str().unwrap();
    assert_eq!(env.wait_final(id).await["status"], "SUCCESSFUL");
    let r = env
        .send(env.authed(Method::GET, &format!("/headless/imports/{id}/url/")))
        .await;
    let url = r.json()["presigned_url"].as_str().unwrap().to_string();
    let full = env.http.get(&url).send().await.unwrap().bytes().await;
    let path = common::path_and_query(&url, env.emu.storage_origin()).to_string();
    (path, full.unwrap().to_vec())
}

fn download_request(env: &Env, path: &str, range: Option<&str>) -> Vec<u8> {
    let range = range.map_or(String::new(), |r| format!("Range: {r}\r\n"));
    format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\n{range}\r\n",
        env.emu.storage_addr()
    )
    .into_bytes()
}

/// Splits a raw response into its head (as text) and body bytes.
fn head_and_body(raw: &[u8]) -> (String, &[u8]) {
    let at = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a complete head")
        + 4;
    (
        String::from_utf8_lossy(&raw[..at]).to_lowercase(),
        &raw[at..],
    )
}

#[tokio::test]
async fn reset_mid_download_sends_part_of_the_body_then_resets() {
    let env = start(config()).await;
    let (path, full) = result_file(&env).await;
    let total = full.len();
    faults(
        &env,
        json!({"rules": [{"route": "*", "kind": "reset_mid_download", "count": 2, "bytes": 1000}]}),
    )
    .await;
    // `*` skips the routes the kind can't affect: API calls are untouched.
    assert_eq!(dromo_count(&env).await, 1);

    let (raw_reply, end) = raw(env.emu.storage_addr(), &download_request(&env, &path, None)).await;
    let (head, body) = head_and_body(&raw_reply);
    assert!(head.starts_with("http/1.1 200 ok\r\n"), "{head}");
    assert!(
        head.contains(&format!("\r\ncontent-length: {total}\r\n")),
        "{head}"
    );
    assert!(head.contains("\r\netag: \""), "{head}");
    assert_eq!(body, &full[..1000], "exactly `bytes` of the body");
    assert_eq!(end, End::Reset, "a TCP reset, not a clean end");

    // reqwest: the status and headers arrive, then reading the body fails.
    let url = format!("{}{path}", env.emu.storage_origin());
    let resp = env.http.get(&url).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.content_length(), Some(total as u64));
    let err = resp.bytes().await.unwrap_err();
    assert!(!err.is_timeout(), "{err:?}");

    // Count spent: the third download is whole.
    let resp = env.http.get(&url).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap(), full);
    let c = fault_counters(&env).await;
    assert_eq!(c["rules"][0]["injected"], 2);
    assert_eq!(c["rules"][0]["matched"], 2);
    env.shutdown().await;
}

#[tokio::test]
async fn reset_mid_download_cuts_a_ranged_get_within_its_part() {
    let env = start(config()).await;
    let (path, full) = result_file(&env).await;
    let total = full.len();
    faults(
        &env,
        json!({"rules": [
            {"route": "storage.get", "kind": "reset_mid_download", "count": 1},
            {"route": "storage.get", "kind": "reset_mid_download", "count": 1, "bytes": 1_000_000}
        ]}),
    )
    .await;
    // Default: half of the part.
    let request = download_request(&env, &path, Some("bytes=1000-1999"));
    let (raw_reply, end) = raw(env.emu.storage_addr(), &request).await;
    let (head, body) = head_and_body(&raw_reply);
    assert!(
        head.starts_with("http/1.1 206 partial content\r\n"),
        "{head}"
    );
    assert!(head.contains("\r\ncontent-length: 1000\r\n"), "{head}");
    assert!(
        head.contains(&format!("\r\ncontent-range: bytes 1000-1999/{total}\r\n")),
        "{head}"
    );
    assert_eq!(body, &full[1000..1500]);
    assert_eq!(end, End::Reset);

    // More `bytes` than the part: all but its last byte, still a reset.
    let request = download_request(&env, &path, Some("bytes=-300"));
    let (raw_reply, end) = raw(env.emu.storage_addr(), &request).await;
    let (head, body) = head_and_body(&raw_reply);
    assert!(head.contains("\r\ncontent-length: 300\r\n"), "{head}");
    assert_eq!(body, &full[total - 300..total - 1]);
    assert_eq!(end, End::Reset);

    // Both rules spent: the resumed request gets its part.
    let mut request = download_request(&env, &path, Some("bytes=1500-"));
    request.splice(
        request.len() - 2..,
        b"Connection: close\r\n\r\n".iter().copied(),
    );
    let (raw_reply, end) = raw(env.emu.storage_addr(), &request).await;
    let (head, body) = head_and_body(&raw_reply);
    assert!(head.starts_with("http/1.1 206 "), "{head}");
    assert_eq!(body, &full[1500..]);
    assert_eq!(end, End::Eof);
    env.shutdown().await;
}

#[tokio::test]
async fn reset_mid_download_delivers_every_byte_to_a_slow_reader() {
    // A reset discards what the kernel still holds to send, so the fault waits for the send queue
    // to drain first. A result of a few MB and a reader that starts late fill that queue.
    let env = start(config()).await;
    let data: Vec<Value> = (0..60_000)
        .map(|i| json!({"first_name": format!("n{i}"), "email": format!("u{i}@example.com")}))
        .collect();
    let imp = env
        .create_ok(json!({"schema_id": CONTACTS, "initial_data": data}))
        .await;
    let id = imp["id"].as_str().unwrap();
    assert_eq!(env.wait_final(id).await["status"], "SUCCESSFUL");
    let r = env
        .send(env.authed(Method::GET, &format!("/headless/imports/{id}/url/")))
        .await;
    let url = r.json()["presigned_url"].as_str().unwrap().to_string();
    let full = env.http.get(&url).send().await.unwrap().bytes().await;
    let full = full.unwrap();
    assert!(full.len() > 4_000_000, "{}", full.len());
    let cut = full.len() - 1000;
    faults(
        &env,
        json!({"rules": [{"route": "storage.get", "kind": "reset_mid_download", "bytes": cut}]}),
    )
    .await;
    let path = common::path_and_query(&url, env.emu.storage_origin());
    let mut stream = tokio::net::TcpStream::connect(env.emu.storage_addr())
        .await
        .unwrap();
    stream
        .write_all(&download_request(&env, path, None))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut got = Vec::new();
    let err = stream.read_to_end(&mut got).await.unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    let (_, body) = head_and_body(&got);
    assert_eq!(body.len(), cut);
    assert!(body == &full[..cut]);
    env.shutdown().await;
}

#[tokio::test]
async fn stall_mid_download_pauses_then_finishes() {
    let env = start(config()).await;
    let (path, full) = result_file(&env).await;
    faults(
        &env,
        json!({"rules": [{"route": "storage.get", "kind": "stall_mid_download", "bytes": 100, "ms": 500, "count": 1}]}),
    )
    .await;
    let mut stream = tokio::net::TcpStream::connect(env.emu.storage_addr())
        .await
        .unwrap();
    stream
        .write_all(&download_request(&env, &path, None))
        .await
        .unwrap();
    let mut got = Vec::new();
    let mut buf = vec![0u8; 1 << 16];
    let started = Instant::now();
    // The head and the first 100 bytes come at once, then nothing while the connection stays open.
    let body_start = loop {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
        if let Some(at) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            if got.len() >= at + 4 + 100 {
                break at + 4;
            }
        }
    };
    assert_eq!(&got[body_start..], &full[..100]);
    let quiet = tokio::time::timeout(Duration::from_millis(250), stream.read(&mut buf)).await;
    assert!(quiet.is_err(), "nothing during the stall");
    while got.len() < body_start + full.len() {
        let n = stream.read(&mut buf).await.unwrap();
        assert!(n > 0, "closed early");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(started.elapsed() >= Duration::from_millis(500));
    assert_eq!(&got[body_start..], &full[..]);

    // Count spent: the next download is whole and prompt.
    let url = format!("{}{path}", env.emu.storage_origin());
    let resp = env.http.get(&url).send().await.unwrap();
    assert_eq!(resp.bytes().await.unwrap(), full);
    env.shutdown().await;
}

#[tokio::test]
async fn older_kinds_work_on_downloads() {
    let env = start(config()).await;
    let (path, full) = result_file(&env).await;
    let url = format!("{}{path}", env.emu.storage_origin());
    faults(
        &env,
        json!({"rules": [
            {"route": "storage.get", "kind": "truncated_json", "bytes": 200, "count": 2},
            {"route": "storage.get", "kind": "slow", "ms": 300, "count": 1},
            {"route": "storage.get", "kind": "status", "status": 503, "count": 1}
        ]}),
    )
    .await;
    let r = env.send(env.http.get(&url)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.text.as_bytes(), &full[..200]);
    assert_eq!(r.header("content-length"), Some("200"));
    let r = env
        .send(env.http.get(&url).header("range", "bytes=1000-"))
        .await;
    assert_eq!(r.status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(r.text.as_bytes(), &full[1000..1200]);

    let started = Instant::now();
    let r = env.send(env.http.get(&url)).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(r.text.as_bytes(), &full[..]);

    let r = env
        .send(env.http.get(&url).header("range", "bytes=0-9"))
        .await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        r.text.contains("<Code>ServiceUnavailable</Code>"),
        "{}",
        r.text
    );
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
        json!({"rules": [{"route": "storage.put", "kind": "reset_mid_download"}]}),
        json!({"rules": [{"route": "dromo.url", "kind": "stall_mid_download"}]}),
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
