//! Webhook deliveries over real HTTP to a tiny receiver on 127.0.0.1:0: Exa's webhook API and signed
//! events, Dromo's managed and basic webhooks, retries, delivery faults, stats and the loopback rule.

mod common;

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use common::exa::create_body;
use common::*;
use hmac::{Hmac, Mac};
use jsonschema::{Draft, Validator};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

// ---------------------------------------------------------------------------------------------------
// The receiver: one request per connection, answered with the next scripted status (200 when none).

struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
    at: Instant,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("JSON body")
    }
    fn header(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or("")
    }
}

struct Receiver {
    url: String,
    rx: mpsc::UnboundedReceiver<Received>,
    script: Arc<Mutex<VecDeque<u16>>>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let (tx, rx) = mpsc::unbounded_channel();
        let script: Arc<Mutex<VecDeque<u16>>> = Arc::default();
        let statuses = script.clone();
        tokio::spawn(async move {
            while let Ok((sock, _)) = listener.accept().await {
                tokio::spawn(serve(sock, tx.clone(), statuses.clone()));
            }
        });
        Receiver { url, rx, script }
    }

    /// The next `n` requests get `status`.
    fn answer(&self, status: u16, n: usize) {
        self.script
            .lock()
            .unwrap()
            .extend(std::iter::repeat_n(status, n));
    }

    async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(10), self.rx.recv())
            .await
            .expect("a delivery within 10 s")
            .expect("receiver alive")
    }

    /// Nothing more arrives within `ms`.
    async fn quiet(&mut self, ms: u64) {
        if let Ok(Some(r)) = tokio::time::timeout(Duration::from_millis(ms), self.rx.recv()).await {
            panic!("unexpected delivery: {}", String::from_utf8_lossy(&r.body));
        }
    }
}

async fn serve(
    mut sock: TcpStream,
    tx: mpsc::UnboundedSender<Received>,
    script: Arc<Mutex<VecDeque<u16>>>,
) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .unwrap_or("")
        .to_string();
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + len {
        match sock.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
    let status = script.lock().unwrap().pop_front().unwrap_or(200);
    let _ = tx.send(Received {
        path,
        headers,
        body: buf[head_end..head_end + len].to_vec(),
        at: Instant::now(),
    });
    let reply = format!(
        "HTTP/1.1 {status} Whatever\r\nContent-Length: 7\r\nX-Receiver: test\r\nConnection: close\r\n\r\nthanks!"
    );
    let _ = sock.write_all(reply.as_bytes()).await;
    let _ = sock.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------
// Helpers.

const GOOD_CSV: &[u8] = b"name,url\nAcme,acme.com\n";

/// Verifies `Exa-Signature` the way a receiver must: over the raw bytes, with the create-time secret.
fn verify_exa_signature(header: &str, secret: &str, body: &[u8]) -> bool {
    let mut t = None;
    let mut sigs = Vec::new();
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", v)) => t = v.parse::<u64>().ok(),
            Some(("v1", v)) => sigs.push(v.to_string()),
            _ => {}
        }
    }
    let Some(t) = t else { return false };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now.abs_diff(t) > 300 {
        return false;
    }
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.").as_bytes());
    mac.update(body);
    let expected = hex::encode(mac.finalize().into_bytes());
    sigs.contains(&expected)
}

impl Env {
    async fn exa_webhook(&self, body: Value) -> Reply {
        self.send(self.exa_req(Method::POST, "/v0/webhooks").json(&body))
            .await
    }

    /// Creates a webhook for both import events, asserting 200; returns it (with its secret).
    async fn exa_webhook_ok(&self, url: &str) -> Value {
        let r = self
            .exa_webhook(json!({"url": url, "events": ["import.created", "import.completed"]}))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json()
    }

    async fn set_faults(&self, plan: Value) {
        let r = self
            .send(self.http.post(self.control("/faults")).json(&plan))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }

    async fn webhook_stats(&self, provider: &str) -> Value {
        let r = self.send(self.http.get(self.control("/stats"))).await;
        r.json()["webhooks"][provider].clone()
    }

    async fn deliveries(&self, query: &str) -> Vec<Value> {
        let r = self
            .send(
                self.http
                    .get(self.control(&format!("/webhooks/deliveries{query}"))),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json()["deliveries"].as_array().unwrap().clone()
    }

    async fn dromo_webhook(&self, body: Value) -> Reply {
        self.send(self.http.post(self.control("/dromo/webhooks")).json(&body))
            .await
    }

    /// Waits (bounded) until the stats satisfy `done`.
    async fn wait_stats(&self, provider: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let s = self.webhook_stats(provider).await;
            if done(&s) {
                return s;
            }
            assert!(Instant::now() < deadline, "timed out, stats {s}");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

fn spec() -> &'static Value {
    static SPEC_JSON: OnceLock<Value> = OnceLock::new();
    SPEC_JSON.get_or_init(|| {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../spec/exa-websets-spec.yaml");
        serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    })
}

#[track_caller]
fn assert_spec(name: &str, instance: &Value) {
    let root = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": spec()["components"].clone(),
        "$ref": format!("#/components/schemas/{name}"),
    });
    let validator: Validator = jsonschema::options()
        .with_draft(Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .unwrap();
    let errs: Vec<String> = validator
        .iter_errors(instance)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errs.is_empty(), "{name} rejects {instance}: {errs:#?}");
}

// ---------------------------------------------------------------------------------------------------
// Exa.

#[tokio::test]
async fn exa_webhook_crud_shows_the_secret_only_on_create() {
    let env = start(config()).await;
    let url = "http://127.0.0.1:9/hook";
    let r = env
        .exa_webhook(json!({"url": url, "events": ["import.completed"], "metadata": {"team": "a"}}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.header("x-request-id").unwrap().starts_with("req_"));
    let created = r.json();
    assert_spec("Webhook", &created);
    let id = created["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("webhook_"), "{id}");
    assert_eq!(created["object"], "webhook");
    assert_eq!(created["status"], "active");
    assert_eq!(created["events"], json!(["import.completed"]));
    assert_eq!(created["url"], url);
    assert_eq!(created["metadata"], json!({"team": "a"}));
    let secret = created["secret"].as_str().unwrap();
    assert!(
        secret.starts_with("whsec_") && secret.len() > 30,
        "{secret}"
    );
    let keys: Vec<&String> = created.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "id",
            "object",
            "status",
            "events",
            "url",
            "secret",
            "metadata",
            "createdAt",
            "updatedAt"
        ]
    );

    let got = env
        .send(env.exa_req(Method::GET, &format!("/v0/webhooks/{id}")))
        .await;
    assert_eq!(got.status, StatusCode::OK);
    let got = got.json();
    assert_eq!(got["secret"], Value::Null);
    assert_eq!(got["createdAt"], created["createdAt"]);

    // A second webhook, then the list: newest first, paged by cursor.
    let second = env.exa_webhook_ok(url).await;
    let list = env
        .send(env.exa_req(Method::GET, "/v0/webhooks?limit=1"))
        .await
        .json();
    assert_spec("ListWebhooksResponse", &list);
    assert_eq!(list["data"][0]["id"], second["id"]);
    assert_eq!(list["data"][0]["secret"], Value::Null);
    assert_eq!(list["hasMore"], true);
    let cursor = list["nextCursor"].as_str().unwrap();
    let page2 = env
        .send(env.exa_req(
            Method::GET,
            &format!("/v0/webhooks?limit=1&cursor={cursor}"),
        ))
        .await
        .json();
    assert_eq!(page2["data"][0]["id"], json!(id));
    assert_eq!(page2["hasMore"], false);
    assert_eq!(page2["nextCursor"], Value::Null);
    for bad in ["limit=0", "limit=201", "cursor=nope"] {
        let r = env
            .send(env.exa_req(Method::GET, &format!("/v0/webhooks?{bad}")))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }

    // PATCH: url, events, metadata; the status is kept and cannot be sent.
    tokio::time::sleep(Duration::from_millis(5)).await;
    let r = env
        .send(
            env.exa_req(Method::PATCH, &format!("/v0/webhooks/{id}"))
                .json(&json!({"events": ["import.created"], "url": "http://localhost:10/x", "metadata": {}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let patched = r.json();
    assert_spec("Webhook", &patched);
    assert_eq!(patched["events"], json!(["import.created"]));
    assert_eq!(patched["url"], "http://localhost:10/x");
    assert_eq!(patched["metadata"], json!({}));
    assert_eq!(patched["status"], "active");
    assert_eq!(patched["secret"], Value::Null);
    assert_ne!(patched["updatedAt"], created["updatedAt"]);
    let r = env
        .send(
            env.exa_req(Method::PATCH, &format!("/v0/webhooks/{id}"))
                .json(&json!({"status": "inactive"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json()["message"], "property status should not exist");

    // DELETE answers the Webhook (without its secret); it is gone afterwards.
    let r = env
        .send(env.exa_req(Method::DELETE, &format!("/v0/webhooks/{id}")))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.json()["id"], json!(id));
    assert_eq!(r.json()["secret"], Value::Null);
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let r = env
            .send(
                env.exa_req(method.clone(), &format!("/v0/webhooks/{id}"))
                    .json(&json!({})),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{method}");
        let body = r.json();
        assert_eq!(body["message"], format!("Webhook {id} not found"));
        assert_eq!(body["error"], "Not Found");
        assert_eq!(body["statusCode"], 404);
    }
    let r = env
        .send(env.exa_req(Method::GET, &format!("/v0/webhooks/{id}/attempts")))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Auth, and no route for other methods.
    let r = env.send(env.http.get(env.exa("/v0/webhooks"))).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = env.send(env.exa_req(Method::PUT, "/v0/webhooks")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json()["message"], "Cannot PUT /websets/v0/webhooks");
    env.shutdown().await;
}

#[tokio::test]
async fn exa_webhook_create_is_validated() {
    let env = start(config()).await;
    let all: Vec<&str> = spec()["components"]["schemas"]["EventType"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(all.len(), 19);
    let ok = env
        .exa_webhook(json!({"url": "http://[::1]:9/", "events": all}))
        .await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    let cases = [
        (
            json!({}),
            "url should not be empty; events should not be empty",
        ),
        (
            json!({"url": 5, "events": ["import.created"]}),
            "url must be a URL address",
        ),
        (
            json!({"url": "not a url", "events": ["import.created"]}),
            "url must be a URL address",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": []}),
            "events must contain at least 1 elements",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": "import.created"}),
            "events must be an array",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": ["import.failed"]}),
            "each value in events must be one of the following values",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": ["import.created"], "metadata": {"a": 1}}),
            "metadata.a must be a string",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": ["import.created"], "secret": "x"}),
            "property secret should not exist",
        ),
        (
            json!({"url": "http://127.0.0.1:9/", "events": ["import.created"], "metadata": null}),
            "metadata must be an object",
        ),
    ];
    for (body, needle) in cases {
        let r = env.exa_webhook(body.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{body}");
        let message = r.json()["message"].as_str().unwrap().to_string();
        assert!(message.starts_with(needle), "{body}: {message}");
    }
    let mut twenty: Vec<&str> = all.clone();
    twenty.push("import.created");
    let r = env
        .exa_webhook(json!({"url": "http://127.0.0.1:9/", "events": twenty}))
        .await;
    assert_eq!(
        r.json()["message"],
        "events must contain no more than 19 elements"
    );
    env.shutdown().await;
}

#[tokio::test]
async fn receivers_off_loopback_are_refused() {
    let env = start(config()).await;
    for url in [
        "http://example.com/hook",
        "http://10.0.0.1/hook",
        "http://192.168.1.1:8080/",
        "http://[2001:db8::1]/",
        "http://localhost.example.com/",
    ] {
        let r = env
            .exa_webhook(json!({"url": url, "events": ["import.created"]}))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}");
        assert!(
            r.json()["message"].as_str().unwrap().contains("loopback"),
            "{}",
            r.text
        );
        let r = env.dromo_webhook(json!({ "url": url })).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}");
        assert!(r.json()["detail"].as_str().unwrap().contains("loopback"));
    }
    let r = env
        .exa_webhook(json!({"url": "https://127.0.0.1/hook", "events": ["import.created"]}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(r.json()["message"]
        .as_str()
        .unwrap()
        .contains("without TLS"));
    // PATCH too.
    let hook = env.exa_webhook_ok("http://127.0.0.1:9/").await;
    let r = env
        .send(
            env.exa_req(
                Method::PATCH,
                &format!("/v0/webhooks/{}", hook["id"].as_str().unwrap()),
            )
            .json(&json!({"url": "http://example.com/"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // The basic webhook is free text Dromo would take: the import is created, nothing is sent.
    let import = env
        .create_ok(json!({
            "schema_id": CONTACTS,
            "initial_data": [{"email": "a@b.co"}],
            "settings": {"webhookUrl": "http://example.com/hook"}
        }))
        .await;
    let id = import["id"].as_str().unwrap();
    assert_eq!(env.wait_final(id).await["status"], "SUCCESSFUL");
    let s = env.wait_stats("dromo", |s| s["refused"] == 1).await;
    assert_eq!(s["sent"], 0);
    let log = env.deliveries(&format!("?import_id={id}")).await;
    assert_eq!(log.len(), 1);
    assert_eq!(log[0]["outcome"], "failed");
    assert!(log[0]["error"].as_str().unwrap().starts_with("not sent: "));
    assert_eq!(log[0]["status_code"], Value::Null);
    env.shutdown().await;
}

#[tokio::test]
async fn exa_import_events_arrive_signed_and_in_order() {
    let env = start(config()).await;
    let mut rx = Receiver::start().await;
    let hook = env.exa_webhook_ok(&rx.url).await;
    let secret = hook["secret"].as_str().unwrap().to_string();
    let hook_id = hook["id"].as_str().unwrap().to_string();
    // A webhook for another event, and an inactive one, get nothing.
    let mut other = Receiver::start().await;
    let r = env
        .exa_webhook(json!({"url": other.url, "events": ["webset.created"]}))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let off = env.exa_webhook_ok(&other.url).await;
    let r = env
        .send(
            env.http
                .post(env.control(&format!(
                    "/exa/webhooks/{}/status",
                    off["id"].as_str().unwrap()
                )))
                .json(&json!({"status": "inactive"})),
        )
        .await;
    assert_eq!(r.json()["status"], "inactive");

    let done = env
        .exa_import(create_body(GOOD_CSV.len(), 1), GOOD_CSV)
        .await;
    assert_eq!(done["status"], "completed");
    let id = done["id"].as_str().unwrap();

    let first = rx.next().await;
    let second = rx.next().await;
    for (r, kind) in [(&first, "import.created"), (&second, "import.completed")] {
        assert_eq!(r.path, "/hook");
        assert_eq!(r.header("content-type"), "application/json");
        let sig = r.header("exa-signature");
        assert!(sig.starts_with("t="), "{sig}");
        assert!(verify_exa_signature(sig, &secret, &r.body), "{sig}");
        // A re-serialised body would not verify if a byte changed; the raw bytes do.
        let mut tampered = r.body.clone();
        tampered.push(b' ');
        assert!(!verify_exa_signature(sig, &secret, &tampered));
        assert!(!verify_exa_signature(sig, "whsec_wrong", &r.body));
        let event = r.json();
        assert_spec("Event", &event);
        let keys: Vec<&String> = event.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "object", "type", "data", "createdAt"]);
        assert!(event["id"].as_str().unwrap().starts_with("evt_"));
        assert_eq!(event["object"], "event");
        assert_eq!(event["type"], kind);
        assert_eq!(event["data"]["id"], json!(id));
        assert_eq!(event["data"]["object"], "import");
    }
    assert_eq!(first.json()["data"]["status"], "pending");
    assert_eq!(
        first.json()["data"]["uploadUrl"],
        Value::Null,
        "the Import, not the create answer"
    );
    // import.completed carries the Import exactly as GET returns it.
    let got = env.exa_get(id).await.json();
    assert_eq!(second.json()["data"], got);
    assert_ne!(first.json()["id"], second.json()["id"]);
    other.quiet(200).await;

    let s = env.wait_stats("exa", |s| s["succeeded"] == 2).await;
    assert_eq!(s["events"], 2);
    assert_eq!(s["sent"], 2);
    assert_eq!(s["failed"], 0);

    // Exa's own attempt list: newest first, spec-shaped.
    let attempts = env
        .send(env.exa_req(Method::GET, &format!("/v0/webhooks/{hook_id}/attempts")))
        .await
        .json();
    assert_spec("ListWebhookAttemptsResponse", &attempts);
    let data = attempts["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    assert_eq!(data[0]["eventType"], "import.completed");
    assert_eq!(data[1]["eventType"], "import.created");
    assert_eq!(data[0]["eventId"], second.json()["id"]);
    assert_eq!(data[0]["webhookId"], json!(hook_id));
    assert_eq!(data[0]["successful"], true);
    assert_eq!(data[0]["responseStatusCode"], 200);
    assert_eq!(data[0]["responseBody"], "thanks!");
    assert_eq!(data[0]["responseHeaders"]["x-receiver"], "test");
    assert_eq!(data[0]["attempt"], 1);
    let filtered = env
        .send(env.exa_req(
            Method::GET,
            &format!("/v0/webhooks/{hook_id}/attempts?eventType=import.created&limit=1"),
        ))
        .await
        .json();
    assert_eq!(filtered["data"].as_array().unwrap().len(), 1);
    assert_eq!(filtered["data"][0]["eventType"], "import.created");
    assert_eq!(filtered["hasMore"], false);
    let page = env
        .send(env.exa_req(
            Method::GET,
            &format!("/v0/webhooks/{hook_id}/attempts?limit=1"),
        ))
        .await
        .json();
    assert_eq!(page["hasMore"], true);
    let cursor = page["nextCursor"].as_str().unwrap();
    let page2 = env
        .send(env.exa_req(
            Method::GET,
            &format!("/v0/webhooks/{hook_id}/attempts?limit=1&cursor={cursor}"),
        ))
        .await
        .json();
    assert_eq!(page2["data"][0]["eventType"], "import.created");
    assert_eq!(page2["hasMore"], false);

    // The control log.
    let log = env.deliveries("?provider=exa").await;
    assert_eq!(log.len(), 2);
    assert_eq!(log[0]["type"], "import.created");
    assert_eq!(log[0]["import_id"], json!(id));
    assert_eq!(log[0]["url"], json!(rx.url));
    assert_eq!(log[0]["status_code"], 200);
    assert_eq!(log[0]["outcome"], "succeeded");
    assert_eq!(log[0]["attempt"], 1);

    // Reset forgets webhooks and deliveries.
    let r = env.send(env.http.post(env.control("/reset"))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(env.deliveries("").await.is_empty());
    assert_eq!(env.webhook_stats("exa").await["sent"], 0);
    let r = env
        .send(env.exa_req(Method::GET, &format!("/v0/webhooks/{hook_id}")))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    env.exa_import(create_body(GOOD_CSV.len(), 1), GOOD_CSV)
        .await;
    rx.quiet(200).await;
    env.shutdown().await;
}

#[tokio::test]
async fn a_failed_exa_import_sends_no_completed_event() {
    let env = start(config()).await;
    let mut rx = Receiver::start().await;
    env.exa_webhook_ok(&rx.url).await;
    // Declares two records, has one: invalid_file_content.
    let done = env
        .exa_import(create_body(GOOD_CSV.len(), 2), GOOD_CSV)
        .await;
    assert_eq!(done["status"], "failed");
    assert_eq!(rx.next().await.json()["type"], "import.created");
    rx.quiet(300).await;
    env.shutdown().await;
}

#[tokio::test]
async fn failed_deliveries_are_retried_then_given_up() {
    let env = start(config()).await;
    let mut rx = Receiver::start().await;
    let hook = env.exa_webhook_ok(&rx.url).await;
    let secret = hook["secret"].as_str().unwrap().to_string();
    rx.answer(500, 2);
    let created = env.exa_create_ok(&create_body(GOOD_CSV.len(), 1)).await;
    let id = created["id"].as_str().unwrap();
    let tries: Vec<Received> = vec![rx.next().await, rx.next().await, rx.next().await];
    let event_id = tries[0].json()["id"].clone();
    for r in &tries {
        assert_eq!(r.json()["id"], event_id, "the same event on every retry");
        assert!(verify_exa_signature(
            r.header("exa-signature"),
            &secret,
            &r.body
        ));
    }
    // Backoff 1 s then 5 s, times the 0.01 scale.
    assert!(tries[1].at - tries[0].at >= Duration::from_millis(10));
    assert!(tries[2].at - tries[1].at >= Duration::from_millis(50));
    rx.quiet(100).await;
    let s = env.wait_stats("exa", |s| s["succeeded"] == 1).await;
    assert_eq!(s["failed"], 2);
    assert_eq!(s["sent"], 3);
    let log = env.deliveries(&format!("?import_id={id}")).await;
    let attempts: Vec<(u64, Value)> = log
        .iter()
        .map(|a| (a["attempt"].as_u64().unwrap(), a["status_code"].clone()))
        .collect();
    assert_eq!(
        attempts,
        [(1, json!(500)), (2, json!(500)), (3, json!(200))]
    );
    let listed = env
        .send(env.exa_req(
            Method::GET,
            &format!(
                "/v0/webhooks/{}/attempts?successful=false",
                hook["id"].as_str().unwrap()
            ),
        ))
        .await
        .json();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    assert_eq!(listed["data"][0]["attempt"], 2);
    assert_eq!(listed["data"][0]["responseStatusCode"], 500);

    // A receiver that never answers 2xx: five attempts (1 + 4 retries), then given up.
    rx.answer(503, 5);
    env.exa_create_ok(&create_body(GOOD_CSV.len(), 1)).await;
    for _ in 0..5 {
        rx.next().await;
    }
    let s = env.wait_stats("exa", |s| s["given_up"] == 1).await;
    assert_eq!(s["failed"], 7);
    rx.quiet(300).await;

    // No connection at all is a failure too, with the error in the log.
    let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let dead = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let r = env.dromo_webhook(json!({ "url": dead })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    env.create_ok(json!({"schema_id": CONTACTS, "initial_data": [{"email": "a@b.co"}]}))
        .await;
    let s = env.wait_stats("dromo", |s| s["given_up"] == 1).await;
    assert_eq!(s["failed"], 5);
    assert_eq!(s["sent"], 5);
    let log = env.deliveries("?provider=dromo").await;
    assert_eq!(log.len(), 5);
    assert!(log
        .iter()
        .all(|a| a["status_code"].is_null() && a["error"].is_string()));
    env.shutdown().await;
}

#[tokio::test]
async fn delivery_faults_drop_duplicate_delay_and_reorder() {
    let env = start(config()).await;
    let mut rx = Receiver::start().await;
    env.exa_webhook_ok(&rx.url).await;

    // drop: the first event is never sent and never retried; the next one arrives as usual.
    env.set_faults(
        json!({"seed": 1, "rules": [{"route": "exa.webhook", "kind": "drop", "count": 1}]}),
    )
    .await;
    let done = env
        .exa_import(create_body(GOOD_CSV.len(), 1), GOOD_CSV)
        .await;
    let r = rx.next().await;
    assert_eq!(r.json()["type"], "import.completed");
    assert_eq!(r.json()["data"]["id"], done["id"]);
    rx.quiet(200).await;
    let s = env.wait_stats("exa", |s| s["succeeded"] == 1).await;
    assert_eq!(
        (s["dropped"].as_u64(), s["sent"].as_u64()),
        (Some(1), Some(1))
    );
    let log = env.deliveries("").await;
    assert_eq!(log[0]["outcome"], "dropped");
    assert_eq!(log[0]["fault"], "drop");
    assert_eq!(log[0]["type"], "import.created");

    // duplicate: the same event id twice.
    env.set_faults(json!({"rules": [{"route": "exa.webhook", "kind": "duplicate", "count": 1}]}))
        .await;
    env.exa_create_ok(&create_body(GOOD_CSV.len(), 1)).await;
    let (a, b) = (rx.next().await, rx.next().await);
    assert_eq!(a.body, b.body);
    assert_eq!(a.json()["type"], "import.created");
    env.wait_stats("exa", |s| s["duplicated"] == 1).await;
    rx.quiet(100).await;

    // delay: `ms` of real time before the attempt.
    env.set_faults(
        json!({"rules": [{"route": "exa.webhook", "kind": "delay", "ms": 300, "count": 1}]}),
    )
    .await;
    let sent = Instant::now();
    env.exa_create_ok(&create_body(GOOD_CSV.len(), 1)).await;
    let r = rx.next().await;
    assert!(r.at - sent >= Duration::from_millis(300));
    assert_eq!(env.webhook_stats("exa").await["delayed"], 1);

    // reorder: the first event waits until the next one for the same webhook has gone.
    env.set_faults(json!({"rules": [{"route": "exa.webhook", "kind": "reorder", "count": 1}]}))
        .await;
    let one = env.exa_create_ok(&create_body(GOOD_CSV.len(), 1)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    let two = env.exa_create_ok(&create_body(GOOD_CSV.len(), 1)).await;
    assert_eq!(rx.next().await.json()["data"]["id"], two["id"]);
    assert_eq!(rx.next().await.json()["data"]["id"], one["id"]);
    assert_eq!(env.webhook_stats("exa").await["reordered"], 1);

    // Delivery kinds only on delivery routes, and request kinds never on them.
    for rule in [
        json!({"route": "exa.get", "kind": "drop"}),
        json!({"route": "exa.webhook", "kind": "status"}),
    ] {
        let r = env
            .send(
                env.http
                    .post(env.control("/faults"))
                    .json(&json!({ "rules": [rule] })),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{rule}");
    }
    // Under "*", a request kind leaves deliveries alone (and a delivery kind leaves requests alone).
    env.set_faults(json!({"rules": [
        {"route": "*", "kind": "status", "status": 503, "count": 100, "rate": 0.0},
        {"route": "*", "kind": "duplicate", "count": 1}
    ]}))
    .await;
    let created = env.exa_create(&create_body(GOOD_CSV.len(), 1)).await;
    assert_eq!(created.status, StatusCode::CREATED);
    let (a, b) = (rx.next().await, rx.next().await);
    assert_eq!(a.body, b.body);
    env.shutdown().await;
}

// ---------------------------------------------------------------------------------------------------
// Dromo.

#[tokio::test]
async fn dromo_managed_webhooks_for_each_final_status() {
    let env = start(config()).await;
    let mut rx = Receiver::start().await;
    let r = env.dromo_webhook(json!({ "url": rx.url })).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let managed = r.json();
    assert_eq!(
        managed["events"],
        json!([
            "import_completed",
            "headless_import_needs_review",
            "headless_import_failed"
        ])
    );
    let listed = env
        .send(env.http.get(env.control("/dromo/webhooks")))
        .await
        .json();
    assert_eq!(listed["webhooks"][0]["id"], managed["id"]);

    // SUCCESSFUL, from initial_data with user metadata.
    let import = env
        .create_ok(json!({
            "schema_id": CONTACTS,
            "initial_data": [{"email": "ada@example.com", "first_name": "Ada"}, {"email": "alan@example.com"}],
            "import_metadata": {"user": {"id": "user-123", "name": "Jasmine Clark", "email": "jclark@acme.com", "companyId": "c1"}},
            "settings": {"developmentMode": true}
        }))
        .await;
    let id = import["id"].as_str().unwrap();
    let r = rx.next().await;
    assert_eq!(r.header("content-type"), "application/json");
    assert!(
        !r.headers.contains_key("exa-signature"),
        "Dromo signs nothing"
    );
    let body = r.json();
    let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["event", "data"]);
    assert_eq!(body["event"], "import_completed");
    let data = &body["data"];
    let keys: Vec<&String> = data.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "id",
            "filename",
            "user",
            "created_date",
            "import_type",
            "status",
            "num_data_rows",
            "development_mode",
            "has_data",
            "headless"
        ]
    );
    assert_eq!(data["id"], json!(id));
    assert_eq!(data["filename"], Value::Null);
    assert_eq!(
        data["user"],
        json!({"id": "user-123", "name": "Jasmine Clark", "email": "jclark@acme.com", "company_id": "c1", "company_name": null})
    );
    assert_eq!(data["import_type"], "HEADLESS");
    assert_eq!(data["status"], "SUCCESSFUL");
    assert_eq!(data["num_data_rows"], 2);
    assert_eq!(data["development_mode"], true);
    assert_eq!(data["has_data"], true);
    let mut full = env.inspect(id).await["import"].clone();
    assert!(full["review_url"].is_string());
    full.as_object_mut().unwrap().remove("review_url");
    assert_eq!(data["headless"], full);
    assert!(data["headless"].get("review_url").is_none());
    assert_eq!(data["created_date"], full["modified_date"]);

    // NEEDS_REVIEW from a file, then SUCCESSFUL once reviewed.
    let import = env
        .create_ok(json!({"schema_id": CONTACTS, "original_filename": "contacts.csv"}))
        .await;
    let id = import["id"].as_str().unwrap();
    let put = env
        .put(
            import["upload"].as_str().unwrap(),
            b"email,age\nada@example.com,36\nnot-an-email,x\n".to_vec(),
        )
        .await;
    assert_eq!(put.status, StatusCode::OK);
    let body = rx.next().await.json();
    assert_eq!(body["event"], "headless_import_needs_review");
    assert_eq!(body["data"]["status"], "NEEDS_REVIEW");
    assert_eq!(body["data"]["filename"], "contacts.csv");
    assert_eq!(body["data"]["user"], Value::Null);
    assert_eq!(body["data"]["has_data"], false);
    assert_eq!(body["data"]["development_mode"], false);
    assert!(body["data"]["headless"].get("review_url").is_none());
    assert_eq!(body["data"]["headless"]["status"], "NEEDS_REVIEW");
    assert!(body["data"]["headless"]["import_errors"].is_array());
    let r = env
        .send(
            env.http
                .post(env.control(&format!("/dromo/imports/{id}/review"))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let body = rx.next().await.json();
    assert_eq!(body["event"], "import_completed");
    assert_eq!(body["data"]["status"], "SUCCESSFUL");
    assert_eq!(body["data"]["has_data"], true);

    // FAILED.
    let import = env
        .create_ok(json!({"schema_id": CONTACTS, "original_filename": "empty.csv"}))
        .await;
    let put = env
        .put(import["upload"].as_str().unwrap(), Vec::new())
        .await;
    assert_eq!(put.status, StatusCode::OK);
    let body = rx.next().await.json();
    assert_eq!(body["event"], "headless_import_failed");
    assert_eq!(body["data"]["status"], "FAILED");
    assert_eq!(body["data"]["num_data_rows"], 0);
    assert_eq!(body["data"]["has_data"], false);
    assert_eq!(body["data"]["headless"]["id"], import["id"]);
    assert!(body["data"]["headless"].get("review_url").is_none());

    // A webhook for one event only; then none at all.
    let r = env
        .send(env.http.delete(env.control("/dromo/webhooks")))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let r = env
        .dromo_webhook(json!({"url": rx.url, "events": ["headless_import_failed"]}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let hook_id = r.json()["id"].as_str().unwrap().to_string();
    env.create_ok(json!({"schema_id": CONTACTS, "initial_data": [{"email": "a@b.co"}]}))
        .await;
    rx.quiet(300).await;
    let r = env
        .send(
            env.http
                .delete(env.control(&format!("/dromo/webhooks/{hook_id}"))),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    for bad in [
        json!({"url": rx.url, "events": ["import.completed"]}),
        json!({"url": rx.url, "events": []}),
        json!({"events": ["headless_import_failed"]}),
        json!({"url": rx.url, "secret": "x"}),
    ] {
        let r = env.dromo_webhook(bad.clone()).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let stats = env.webhook_stats("dromo").await;
    assert_eq!(stats["succeeded"], 4);
    env.shutdown().await;
}

#[tokio::test]
async fn dromo_basic_webhook_posts_the_upload_id_as_a_form() {
    let env = start(config()).await;
    let mut done = Receiver::start().await;
    let mut review = Receiver::start().await;
    let settings = json!({"webhookUrl": done.url, "needsReviewWebhookUrl": review.url});
    let import = env
        .create_ok(json!({"schema_id": CONTACTS, "initial_data": [{"email": "a@b.co"}], "settings": settings}))
        .await;
    let r = done.next().await;
    assert_eq!(
        r.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        String::from_utf8(r.body).unwrap(),
        format!("uploadId={}", import["id"].as_str().unwrap())
    );
    review.quiet(100).await;

    let import = env
        .create_ok(json!({"schema_id": CONTACTS, "initial_data": [{"email": "nope"}], "settings": settings}))
        .await;
    let id = import["id"].as_str().unwrap();
    let r = review.next().await;
    assert_eq!(
        r.header("content-type"),
        "application/x-www-form-urlencoded"
    );
    assert_eq!(String::from_utf8(r.body).unwrap(), format!("uploadId={id}"));
    done.quiet(100).await;
    env.send(
        env.http
            .post(env.control(&format!("/dromo/imports/{id}/review"))),
    )
    .await;
    assert_eq!(
        String::from_utf8(done.next().await.body).unwrap(),
        format!("uploadId={id}")
    );
    let log = env.deliveries(&format!("?import_id={id}")).await;
    let types: Vec<&str> = log.iter().map(|a| a["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["needsReviewWebhookUrl", "webhookUrl"]);
    assert!(log.iter().all(|a| a["webhook_id"].is_null()));
    env.shutdown().await;
}

#[tokio::test]
async fn dromo_webhook_from_the_config_survives_reset() {
    let mut rx = Receiver::start().await;
    let env = start(headless_imports_emulator::Config {
        dromo_webhooks: vec![rx.url.clone()],
        ..config()
    })
    .await;
    env.send(env.http.post(env.control("/reset"))).await;
    env.create_ok(json!({"schema_id": CONTACTS, "initial_data": [{"email": "a@b.co"}]}))
        .await;
    assert_eq!(rx.next().await.json()["event"], "import_completed");
    env.shutdown().await;
    let refused = headless_imports_emulator::Emulator::start(headless_imports_emulator::Config {
        dromo_webhooks: vec!["http://example.com/".into()],
        ..config()
    })
    .await;
    assert!(refused.is_err());
}
