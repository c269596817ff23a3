//! Exa Websets helpers on the shared harness.

use std::time::{Duration, Instant};

use headless_imports_emulator::DEFAULT_EXA_API_KEY;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use super::{Env, Reply};

pub const EXA_KEY: &str = DEFAULT_EXA_API_KEY;

/// The smallest valid create body for a file of `size` bytes holding `count` records.
pub fn create_body(size: usize, count: u64) -> Value {
    json!({"size": size, "count": count, "format": "csv", "entity": {"type": "company"}})
}

impl Env {
    /// `http://127.0.0.1:PORT/websets{path}`
    pub fn exa(&self, path: &str) -> String {
        format!("{}{path}", self.emu.exa_base())
    }

    /// An Exa request with the right `x-api-key`.
    pub fn exa_req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.exa(path))
            .header("x-api-key", EXA_KEY)
    }

    pub async fn exa_create(&self, body: &Value) -> Reply {
        self.send(self.exa_req(Method::POST, "/v0/imports").json(body))
            .await
    }

    /// Creates an import, asserting 201, and returns the `CreateImportResponse`.
    pub async fn exa_create_ok(&self, body: &Value) -> Value {
        let r = self.exa_create(body).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json()
    }

    pub async fn exa_get(&self, id: &str) -> Reply {
        self.send(self.exa_req(Method::GET, &format!("/v0/imports/{id}")))
            .await
    }

    /// The import through the control API (`{import, size, identifier, uploaded, uploadValidUntil}`).
    pub async fn exa_inspect(&self, id: &str) -> Value {
        let r = self
            .send(self.http.get(self.control(&format!("/exa/imports/{id}"))))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json()
    }

    /// Waits (bounded) until the import leaves pending/processing, and returns it.
    pub async fn exa_wait_final(&self, id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let import = self.exa_inspect(id).await["import"].clone();
            if !matches!(import["status"].as_str(), Some("pending" | "processing")) {
                return import;
            }
            assert!(Instant::now() < deadline, "timed out, last state {import}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Creates an import with `body` (its `size` defaulting to the file's length), uploads `file`,
    /// and returns the final Import.
    pub async fn exa_import(&self, mut body: Value, file: &[u8]) -> Value {
        if body.get("size").is_none() {
            body["size"] = json!(file.len());
        }
        let created = self.exa_create_ok(&body).await;
        let put = self
            .put(created["uploadUrl"].as_str().unwrap(), file.to_vec())
            .await;
        assert_eq!(put.status, StatusCode::OK, "{}", put.text);
        self.exa_wait_final(created["id"].as_str().unwrap()).await
    }
}
