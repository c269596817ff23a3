//! The storage origin: presigned PUT/GET, ranged GETs and ETags, S3-style XML errors, bucket CORS.

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
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("ETag, Content-Range, Accept-Ranges")
    );
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
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("ETag, Content-Range, Accept-Ranges")
    );

    // A resumed download in a browser: Range may be sent, and the 206's headers can be read.
    let r = env
        .send(
            env.http
                .request(Method::OPTIONS, &url)
                .header("Origin", "http://localhost:5173")
                .header("Access-Control-Request-Method", "GET")
                .header("Access-Control-Request-Headers", "range"),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header("access-control-allow-headers"), Some("range"));
    assert_eq!(
        r.header("access-control-expose-headers"),
        Some("ETag, Content-Range, Accept-Ranges")
    );
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

/// A finished import's result: its presigned GET URL and the bytes a plain GET returns.
async fn result_file(env: &Env, rows: usize) -> (String, Vec<u8>) {
    let data: Vec<_> = (0..rows)
        .map(|i| json!({"first_name": format!("n{i}"), "email": format!("u{i}@example.com")}))
        .collect();
    let import = env
        .create_ok(json!({"schema_id": CONTACTS, "initial_data": data}))
        .await;
    let id = import["id"].as_str().unwrap();
    assert_eq!(env.wait_final(id).await["status"], "SUCCESSFUL");
    let r = env
        .send(env.authed(Method::GET, &format!("/headless/imports/{id}/url/")))
        .await;
    let url = r.json()["presigned_url"].as_str().unwrap().to_string();
    let full = env.http.get(&url).send().await.unwrap();
    assert_eq!(full.status(), StatusCode::OK);
    let bytes = full.bytes().await.unwrap().to_vec();
    (url, bytes)
}

/// A GET with these headers: status, headers and the exact body bytes.
async fn get_with(
    env: &Env,
    url: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = env.http.get(url);
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let resp = req.send().await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    (status, headers, resp.bytes().await.unwrap().to_vec())
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn result_downloads_answer_ranges_like_s3() {
    let env = start(config()).await;
    let (url, full) = result_file(&env, 300).await;
    let total = full.len();
    assert!(total > 10_000, "{total}");
    assert!(serde_json::from_slice::<serde_json::Value>(&full).is_ok());

    let (status, h, body) = get_with(&env, &url, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, full);
    let etag = header(&h, "etag").unwrap().to_string();
    assert!(
        etag.len() == 34
            && etag.starts_with('"')
            && etag.ends_with('"')
            && etag[1..33].bytes().all(|b| b.is_ascii_hexdigit()),
        "{etag}"
    );
    assert_eq!(header(&h, "accept-ranges"), Some("bytes"));
    assert_eq!(header(&h, "content-length"), Some(&*total.to_string()));
    assert!(header(&h, "content-range").is_none());
    // Like an upload's: the first half of the SHA-256, where S3 has the MD5.
    let sha = hex::encode(sha2::Sha256::digest(&full));
    assert_eq!(etag, format!("\"{}\"", &sha[..32]));

    let ranges = [
        ("bytes=1000-", 1000, total - 1),
        ("bytes=0-", 0, total - 1),
        ("bytes=100-199", 100, 199),
        ("bytes=7-7", 7, 7),
        (&*format!("bytes={}-", total - 1), total - 1, total - 1),
        (&*format!("bytes=50-{}", total + 500), 50, total - 1),
        ("bytes=-300", total - 300, total - 1),
        (&*format!("bytes=-{}", total + 1), 0, total - 1),
    ];
    for (range, start, end) in ranges {
        let (status, h, body) = get_with(&env, &url, &[("range", range)]).await;
        assert_eq!(status, StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(body, &full[start..=end], "{range}");
        assert_eq!(
            header(&h, "content-range"),
            Some(&*format!("bytes {start}-{end}/{total}")),
            "{range}"
        );
        assert_eq!(
            header(&h, "content-length"),
            Some(&*(end - start + 1).to_string())
        );
        assert_eq!(header(&h, "content-type"), Some("application/json"));
        assert_eq!(header(&h, "accept-ranges"), Some("bytes"));
        assert_eq!(header(&h, "etag"), Some(&*etag), "the same ETag on 206");
    }

    // Past the end: S3's InvalidRange, with the size in Content-Range.
    for range in [
        format!("bytes={total}-"),
        format!("bytes={}-{}", total + 5, total + 10),
        "bytes=-0".to_string(),
    ] {
        let (status, h, body) = get_with(&env, &url, &[("range", &range)]).await;
        assert_eq!(status, StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(
            header(&h, "content-range"),
            Some(&*format!("bytes */{total}"))
        );
        assert_eq!(header(&h, "content-type"), Some("application/xml"));
        let text = String::from_utf8(body).unwrap();
        assert_eq!(xml_code(&text), "InvalidRange");
        assert!(text.contains("<Message>The requested range is not satisfiable</Message>"));
        assert!(text.contains(&format!("<RangeRequested>{range}</RangeRequested>")));
        assert!(text.contains(&format!("<ActualObjectSize>{total}</ActualObjectSize>")));
    }

    // What S3 ignores gets the whole object.
    for range in [
        "bytes=0-1,5-9",
        "bytes=200-100",
        "bytes=abc-",
        "bytes=-",
        "items=0-10",
        "garbage",
    ] {
        let (status, h, body) = get_with(&env, &url, &[("range", range)]).await;
        assert_eq!(status, StatusCode::OK, "{range}");
        assert_eq!(body, full, "{range}");
        assert!(header(&h, "content-range").is_none());
        assert_eq!(header(&h, "etag"), Some(&*etag));
    }

    // Stable across GETs.
    let (_, again, _) = get_with(&env, &url, &[]).await;
    assert_eq!(header(&again, "etag"), Some(&*etag));
    env.shutdown().await;
}

#[tokio::test]
async fn if_range_applies_the_range_only_for_the_current_etag() {
    let env = start(config()).await;
    let (url, full) = result_file(&env, 50).await;
    let (_, h, _) = get_with(&env, &url, &[]).await;
    let etag = header(&h, "etag").unwrap().to_string();

    let (status, _, body) =
        get_with(&env, &url, &[("range", "bytes=10-"), ("if-range", &etag)]).await;
    assert_eq!(status, StatusCode::PARTIAL_CONTENT);
    assert_eq!(body, &full[10..]);
    for stale in [
        "\"00000000000000000000000000000000\"",
        &*format!("W/{etag}"),
        "Wed, 21 Oct 2015 07:28:00 GMT",
    ] {
        let (status, h, body) =
            get_with(&env, &url, &[("range", "bytes=10-"), ("if-range", stale)]).await;
        assert_eq!(status, StatusCode::OK, "{stale}");
        assert_eq!(body, full);
        assert_eq!(header(&h, "etag"), Some(&*etag));
    }
    env.shutdown().await;
}

#[tokio::test]
async fn range_requests_still_check_the_signature_and_expiry() {
    let env = start(config()).await;
    let (url, _) = result_file(&env, 20).await;
    let tampered = url.replace("X-Amz-Signature=", "X-Amz-Signature=0");
    let (status, _, body) = get_with(&env, &tampered, &[("range", "bytes=0-9")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        xml_code(&String::from_utf8(body).unwrap()),
        "SignatureDoesNotMatch"
    );
    env.shutdown().await;

    let env = start(Config {
        upload_ttl: Some(Duration::ZERO),
        ..config()
    })
    .await;
    let import = env
        .create_ok(json!({"schema_id": CONTACTS, "initial_data": [{"email": "a@example.com"}]}))
        .await;
    let id = import["id"].as_str().unwrap();
    assert_eq!(env.wait_final(id).await["status"], "SUCCESSFUL");
    let r = env
        .send(env.authed(Method::GET, &format!("/headless/imports/{id}/url/")))
        .await;
    let url = r.json()["presigned_url"].as_str().unwrap().to_string();
    for range in ["bytes=0-9", "bytes=999999-"] {
        let (status, _, body) = get_with(&env, &url, &[("range", range)]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{range}");
        let text = String::from_utf8(body).unwrap();
        assert_eq!(xml_code(&text), "AccessDenied");
        assert!(text.contains("Request has expired"));
    }
    env.shutdown().await;
}
