//! The storage origin: presigned PUT/GET, S3-style XML errors, bucket CORS.

mod common;

use std::time::Duration;

use common::*;
use headless_imports_emulator::Config;
use reqwest::{Method, StatusCode};
use serde_json::json;
use sha2::Digest;

async fn new_upload(env: &Env) -> (String, String) {
    let import = env
        .create_ok(json!({"schema_id": CONTACTS, "original_filename": "c.csv"}))
        .await;
    (
        import["id"].as_str().unwrap().to_string(),
        import["upload"].as_str().unwrap().to_string(),
    )
}

fn xml_code(text: &str) -> &str {
    let start = text.find("<Code>").expect("has <Code>") + 6;
    &text[start..start + text[start..].find("</Code>").unwrap()]
}

#[tokio::test]
async fn upload_is_stored_with_its_sha256_and_only_once() {
    let env = start(config()).await;
    let (id, url) = new_upload(&env).await;
    let r = env
        .send(env.http.get(env.control(&format!("/uploads/{id}"))))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let mut body = b"first_name,email\n".to_vec();
    for i in 0..5000 {
        body.extend_from_slice(format!("n{i},u{i}@example.com\n").as_bytes());
    }
    let digest = hex::encode(sha2::Sha256::digest(&body));
    let r = env
        .send(
            env.http
                .put(&url)
                .header("content-type", "text/csv")
                .body(body.clone()),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.text, "");
    let etag = r.header("etag").unwrap();
    assert!(
        etag.starts_with('"') && etag.ends_with('"') && etag.len() == 34,
        "{etag}"
    );
    assert!(r.header("x-amz-request-id").is_some());

    let receipt = env
        .send(env.http.get(env.control(&format!("/uploads/{id}"))))
        .await
        .json();
    assert_eq!(receipt, json!({"size": body.len(), "sha256": digest}));

    let import = env.wait_final(&id).await;
    assert_eq!(import["status"], "SUCCESSFUL", "{import}");
    assert_eq!(import["result_metadata"]["num_data_rows"], 5000);
    let rows = env.results(&id).await;
    assert_eq!(rows[4999]["email"], "u4999@example.com");

    let r = env.put(&url, b"a,b\n1,2\n".to_vec()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(xml_code(&r.text), "AccessDenied");
    assert!(r.text.contains("one file per import"));
    env.shutdown().await;
}

#[tokio::test]
async fn tampered_or_unsigned_urls_get_signature_errors() {
    let env = start(config()).await;
    let (id, url) = new_upload(&env).await;
    let last = url.chars().last().unwrap();
    let tampered = format!(
        "{}{}",
        &url[..url.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let longer = url.replace("X-Amz-Expires=18&", "X-Amz-Expires=99999&");
    let unsigned = url.split('?').next().unwrap().to_string();
    for bad in [tampered, longer, unsigned] {
        let r = env.put(&bad, b"x,y\n1,2\n".to_vec()).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{bad}");
        assert_eq!(r.header("content-type"), Some("application/xml"));
        assert!(r
            .text
            .starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>"));
        assert_eq!(xml_code(&r.text), "SignatureDoesNotMatch");
        assert!(r.text.contains(&format!(
            "<RequestId>{}</RequestId>",
            r.header("x-amz-request-id").unwrap()
        )));
    }
    // The upload URL is for PUT only.
    let r = env.send(env.http.get(&url)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(xml_code(&r.text), "NoSuchKey");
    assert_eq!(
        env.inspect(&id).await["import"]["status"],
        "AWAITING_UPLOAD"
    );
    env.shutdown().await;
}

#[tokio::test]
async fn expired_urls_are_refused_like_s3() {
    let env = start(Config {
        upload_ttl: Some(Duration::ZERO),
        ..config()
    })
    .await;
    let (id, url) = new_upload(&env).await;
    assert!(url.contains("X-Amz-Expires=0&"));
    let r = env.put(&url, b"x\n1\n".to_vec()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(xml_code(&r.text), "AccessDenied");
    assert!(r.text.contains("<Message>Request has expired</Message>"));
    assert!(r.text.contains("<X-Amz-Expires>0</X-Amz-Expires>"));
    assert!(r.text.contains("<Expires>") && r.text.contains("<ServerTime>"));
    assert_eq!(
        env.inspect(&id).await["import"]["status"],
        "AWAITING_UPLOAD"
    );
    env.shutdown().await;
}

#[tokio::test]
async fn chunked_upload_without_content_length_is_411() {
    let env = start(config()).await;
    let (id, url) = new_upload(&env).await;
    let target = path_and_query(&url, env.emu.storage_origin());
    let request = format!(
        "PUT {target} HTTP/1.1\r\nHost: {}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\na,b\n\r\n0\r\n\r\n",
        env.emu.storage_addr()
    );
    let response = raw_http(env.emu.storage_addr(), request.as_bytes(), false).await;
    assert!(response.starts_with("HTTP/1.1 411"), "{response}");
    assert!(response.contains("<Code>MissingContentLength</Code>"));
    assert_eq!(
        env.inspect(&id).await["import"]["status"],
        "AWAITING_UPLOAD"
    );
    env.shutdown().await;
}

#[tokio::test]
async fn dropped_upload_is_discarded_and_can_be_retried() {
    let env = start(config()).await;
    let (id, url) = new_upload(&env).await;
    let target = path_and_query(&url, env.emu.storage_origin());
    let request = format!(
        "PUT {target} HTTP/1.1\r\nHost: {}\r\nContent-Length: 100000\r\n\r\nemail\na@example.com\n",
        env.emu.storage_addr()
    );
    raw_http(env.emu.storage_addr(), request.as_bytes(), true).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        env.inspect(&id).await["import"]["status"],
        "AWAITING_UPLOAD"
    );
    let r = env
        .send(env.http.get(env.control(&format!("/uploads/{id}"))))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    let r = env.put(&url, b"email\nb@example.com\n".to_vec()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(env.wait_final(&id).await["status"], "SUCCESSFUL");
    env.shutdown().await;
}

#[tokio::test]
async fn bucket_cors() {
    let env = start(config()).await;
    let (_, url) = new_upload(&env).await;
    let preflight = |method: &'static str| {
        env.send(
            env.http
                .request(Method::OPTIONS, &url)
                .header("Origin", "http://localhost:5173")
                .header("Access-Control-Request-Method", method)
                .header("Access-Control-Request-Headers", "content-type"),
        )
    };
    let r = preflight("PUT").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(
        r.header("access-control-allow-methods"),
        Some("PUT, GET, HEAD")
    );
    assert_eq!(
        r.header("access-control-allow-headers"),
        Some("content-type")
    );
    assert_eq!(r.header("access-control-max-age"), Some("3000"));
    let r = preflight("DELETE").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(xml_code(&r.text), "AccessForbidden");
    assert!(r.text.contains("CORSResponse"));
    assert!(r.header("access-control-allow-origin").is_none());

    // Errors carry CORS headers too, so a browser can read the XML.
    let r = env
        .send(
            env.http
                .put(format!("{url}0"))
                .header("Origin", "http://localhost:5173")
                .body("x"),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-expose-headers"), Some("ETag"));
    let r = env
        .send(
            env.http
                .put(&url)
                .header("Origin", "http://localhost:5173")
                .body("email\na@example.com\n"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("access-control-allow-origin"), Some("*"));
    assert_eq!(r.header("access-control-expose-headers"), Some("ETag"));
    env.shutdown().await;
}

#[tokio::test]
async fn unknown_paths_are_no_such_key() {
    let env = start(config()).await;
    for path in [
        "/",
        "/dromo-headless-imports/missing.csv",
        "/other/bucket/key",
    ] {
        let r = env
            .send(env.http.get(format!("{}{path}", env.emu.storage_origin())))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(xml_code(&r.text), "NoSuchKey");
    }
    env.shutdown().await;
}
