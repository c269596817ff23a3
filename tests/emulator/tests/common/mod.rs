//! Shared harness: an in-process emulator on 127.0.0.1:0 and a small JSON client.
#![allow(dead_code)]

pub mod exa;

use std::time::{Duration, Instant};

use headless_imports_emulator::{Config, Emulator, DEFAULT_API_KEY};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub const CONTACTS: &str = "4eefe3fe-7181-4562-aa28-8cfe1c5bdf1b";
pub const PRODUCTS: &str = "0b8a7d5c-2f6e-4a51-9b3c-5d7e8f9a0b1c";

pub struct Env {
    pub emu: Emulator,
    pub http: reqwest::Client,
}

pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub text: String,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Fast by default: time scale 0.01 (processing ~20 ms), rate limits off unless a test wants them.
pub fn config() -> Config {
    Config {
        time_scale: 0.01,
        rate_limit: false,
        ..Config::default()
    }
}

pub async fn start(config: Config) -> Env {
    let emu = Emulator::start(config).await.expect("emulator starts");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    Env { emu, http }
}

impl Env {
    pub fn api(&self, path: &str) -> String {
        format!("{}{path}", self.emu.api_base())
    }

    pub fn control(&self, path: &str) -> String {
        format!("{}{path}", self.emu.control_base())
    }

    pub async fn send(&self, req: reqwest::RequestBuilder) -> Reply {
        let resp = req.send().await.expect("request sent");
        Reply {
            status: resp.status(),
            headers: resp.headers().clone(),
            text: resp.text().await.unwrap_or_default(),
        }
    }

    /// An authenticated API request.
    pub fn authed(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.api(path))
            .header("X-Dromo-License-Key", DEFAULT_API_KEY)
    }

    pub async fn create(&self, body: Value) -> Reply {
        self.send(self.authed(Method::POST, "/headless/imports/").json(&body))
            .await
    }

    /// Creates an import and returns its full JSON, asserting 201.
    pub async fn create_ok(&self, body: Value) -> Value {
        let reply = self.create(body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.json()
    }

    /// PUT with an explicit Content-Length: hyper leaves it out for an empty body, and S3 (like the
    /// emulator) answers 411 to a PUT without one.
    pub async fn put(&self, url: &str, body: Vec<u8>) -> Reply {
        let len = body.len();
        self.send(self.http.put(url).header("content-length", len).body(body))
            .await
    }

    /// Current import state through the control API (not rate limited).
    pub async fn inspect(&self, id: &str) -> Value {
        let r = self
            .send(self.http.get(self.control(&format!("/dromo/imports/{id}"))))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json()
    }

    /// Waits (bounded) until the import's status satisfies `done`, and returns the import.
    pub async fn wait_for(&self, id: &str, done: impl Fn(&str) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let import = self.inspect(id).await["import"].clone();
            if done(import["status"].as_str().unwrap()) {
                return import;
            }
            assert!(Instant::now() < deadline, "timed out, last state {import}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn wait_final(&self, id: &str) -> Value {
        self.wait_for(id, |s| {
            !matches!(s, "AWAITING_UPLOAD" | "PENDING" | "RUNNING")
        })
        .await
    }

    /// Follows `/url/` and downloads the result rows.
    pub async fn results(&self, id: &str) -> Value {
        let r = self
            .send(self.authed(Method::GET, &format!("/headless/imports/{id}/url/")))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let url = r.json()["presigned_url"].as_str().unwrap().to_string();
        assert!(url.starts_with(&format!(
            "{}/dromo-user-imports/{id}.json?X-Amz-Algorithm=AWS4-HMAC-SHA256&",
            self.emu.storage_origin()
        )));
        let rows = self.send(self.http.get(&url)).await;
        assert_eq!(rows.status, StatusCode::OK, "{}", rows.text);
        assert_eq!(rows.header("content-type"), Some("application/json"));
        rows.json()
    }

    pub async fn shutdown(self) {
        self.emu.shutdown().await;
    }
}

/// Sends raw bytes on a fresh connection and returns what came back before the server closed it
/// (or after `wait`), for requests reqwest won't produce.
pub async fn raw_http(
    addr: std::net::SocketAddr,
    request: &[u8],
    close_after_send: bool,
) -> String {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    if close_after_send {
        drop(stream);
        return String::new();
    }
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        match tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => out.extend_from_slice(&buf[..n]),
            Err(_) if !out.is_empty() => break,
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Path and query of a URL on the given origin.
pub fn path_and_query<'a>(url: &'a str, origin: &str) -> &'a str {
    url.strip_prefix(origin).expect("url on origin")
}
