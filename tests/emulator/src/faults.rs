//! Fault injection, driven by tests: `POST /_emulator/faults` (or `--faults FILE`) installs rules that
//! make chosen routes fail in the ways real networks, proxies and S3 fail. Each rule has its own small
//! PRNG (splitmix64) seeded from the plan's seed and the rule's index, so a sequential client sees the
//! same faults on every run.
//!
//! Dropping a connection without any response cannot be expressed as an axum `Response`, so both
//! listeners accept through [`FaultListener`]: every connection's IO is a [`FaultIo`] that shares a kill
//! switch with the requests it carries (via `ConnectInfo<ConnAddr>`). A fault flips the switch; the next
//! write hyper attempts (the response head) fails, `SO_LINGER 0` is set, and hyper drops the socket, so
//! the peer sees a TCP reset and not one byte of a response. A download cut mid-body (`reset_mid_download`)
//! arms the switch instead: it trips at the first flush after the last allowed byte was handed to hyper,
//! so those bytes reach the peer before the reset.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::{IncomingStream, Listener};
use http_body_util::BodyExt;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use crate::http::{detail, json as json_response};
use crate::s3xml::S3Error;
use crate::state::Shared;
use crate::{clock, ratelimit};

/// Routes a rule can name (`"*"` matches all of them). Control endpoints and preflights are never faulted.
pub const ROUTES: &[&str] = &[
    "dromo.create",
    "dromo.get",
    "dromo.list",
    "dromo.url",
    "dromo.delete",
    "dromo.schema_list",
    "dromo.schema_create",
    "dromo.schema_get",
    "dromo.schema_update",
    "dromo.schema_delete",
    "exa.create",
    "exa.get",
    "exa.list",
    "exa.update",
    "exa.delete",
    "storage.put",
    "storage.get",
    // Webhook deliveries (outgoing POSTs), for the delivery kinds only.
    "exa.webhook",
    "dromo.webhook",
];

/// Routes of outgoing webhook deliveries rather than incoming requests.
pub fn is_delivery(route: &str) -> bool {
    matches!(route, "exa.webhook" | "dromo.webhook")
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Status,
    RateLimit,
    ResetBefore,
    ResetAfter,
    ResetMidUpload,
    /// `storage.put`: `bytes` of the body are read, then nothing more for `ms`, then a reset.
    StallMidUpload,
    ResetMidDownload,
    StallMidDownload,
    Slow,
    TruncatedJson,
    HtmlError,
    ExpiredUpload,
    ClockSkew,
    /// Webhook deliveries: the attempt is never sent, yet counted as delivered (no retry).
    Drop,
    /// Webhook deliveries: sent twice, same event id.
    Duplicate,
    /// Webhook deliveries: `ms` (default 1000, real time) before the attempt.
    Delay,
    /// Webhook deliveries: held back until the next event for the same receiver has been sent (or
    /// `ms`, default 5000, real time), so that one arrives first.
    Reorder,
}

impl Kind {
    /// Whether this kind means anything on `route`; under `"*"` a rule skips the routes it can't affect.
    fn applies_to(self, route: &str) -> bool {
        match self {
            Kind::ResetMidUpload | Kind::StallMidUpload | Kind::ExpiredUpload => {
                route == "storage.put"
            }
            Kind::ResetMidDownload | Kind::StallMidDownload => route == "storage.get",
            Kind::ClockSkew => matches!(route, "dromo.create" | "exa.create" | "dromo.url"),
            Kind::Drop | Kind::Duplicate | Kind::Delay | Kind::Reorder => is_delivery(route),
            _ => !is_delivery(route),
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub route: String,
    pub kind: Kind,
    /// Probability per matching request, 0..=1.
    #[serde(default = "one")]
    pub rate: f64,
    /// At most this many injections (absent: unlimited).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u64>,
    /// `status`: the status (default 500).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// `status`: the body (default: the route's usual error shape).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `status`: process the request first, then answer the error (the effect happened).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub after: bool,
    /// `rate_limit`: the wait announced (default 1000 ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
    /// `slow`, `stall_mid_download`, `stall_mid_upload`: delay in real milliseconds (default
    /// 5000); `delay` (default
    /// 1000) and `reorder` (the longest hold, default 5000) on webhook deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ms: Option<u64>,
    /// `reset_mid_upload`, `stall_mid_upload`: bytes read before the drop or the pause (default
    /// half the Content-Length);
    /// `truncated_json`: bytes of the body kept (default half);
    /// `reset_mid_download`, `stall_mid_download`: body bytes sent before the cut or the pause
    /// (default half the Content-Length, of the part for a ranged GET).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    /// `clock_skew`: seconds added to the presigned X-Amz-Date (negative: the past). Default 3600.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skew_secs: Option<i64>,
}

fn one() -> f64 {
    1.0
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Plan {
    #[serde(default)]
    pub seed: u64,
    pub rules: Vec<Rule>,
}

impl Plan {
    pub fn parse(text: &str) -> Result<Plan, String> {
        let plan: Plan = serde_json::from_str(text).map_err(|e| e.to_string())?;
        plan.validate()?;
        Ok(plan)
    }

    pub fn from_value(value: Value) -> Result<Plan, String> {
        let plan: Plan = serde_json::from_value(value).map_err(|e| e.to_string())?;
        plan.validate()?;
        Ok(plan)
    }

    fn validate(&self) -> Result<(), String> {
        for (i, r) in self.rules.iter().enumerate() {
            if r.route != "*" && !ROUTES.contains(&r.route.as_str()) {
                return Err(format!(
                    "rules[{i}].route: unknown route {:?} (expected \"*\" or one of {})",
                    r.route,
                    ROUTES.join(", ")
                ));
            }
            if r.route != "*" && !r.kind.applies_to(&r.route) {
                return Err(format!(
                    "rules[{i}]: kind {:?} does not apply to route {}",
                    r.kind, r.route
                ));
            }
            if !(r.rate.is_finite() && (0.0..=1.0).contains(&r.rate)) {
                return Err(format!("rules[{i}].rate must be between 0 and 1"));
            }
            if let Some(s) = r.status {
                if StatusCode::from_u16(s).is_err() || s < 100 {
                    return Err(format!("rules[{i}].status: not an HTTP status"));
                }
            }
        }
        Ok(())
    }
}

/// splitmix64: tiny, good enough, and identical everywhere.
fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

struct RuleState {
    rule: Rule,
    rng: u64,
    matched: u64,
    injected: u64,
    /// For kinds that process the request and then hide the answer (`reset_after`, `status` with
    /// `after`): how many hidden answers had each status, so a test can tell "created, then reset"
    /// from "throttled anyway, then reset".
    hidden: std::collections::BTreeMap<u16, u64>,
}

struct Active {
    seed: u64,
    rules: Vec<RuleState>,
}

/// The installed plan and its counters.
#[derive(Default)]
pub struct Faults {
    active: Mutex<Option<Active>>,
}

impl Faults {
    pub fn install(&self, plan: Plan) {
        let rules = plan
            .rules
            .into_iter()
            .enumerate()
            .map(|(i, rule)| {
                let mut rng = plan.seed ^ (i as u64 + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93);
                splitmix64(&mut rng);
                RuleState {
                    rule,
                    rng,
                    matched: 0,
                    injected: 0,
                    hidden: Default::default(),
                }
            })
            .collect();
        *self.active.lock().unwrap() = Some(Active {
            seed: plan.seed,
            rules,
        });
    }

    pub fn clear(&self) {
        *self.active.lock().unwrap() = None;
    }

    /// Rules in order; the first that fires wins. Every rule that matches the route (and still has
    /// injections left) draws once, in order, until one fires.
    pub fn decide(&self, route: &str) -> Option<(usize, Rule)> {
        let mut guard = self.active.lock().unwrap();
        let active = guard.as_mut()?;
        for (index, state) in active.rules.iter_mut().enumerate() {
            let r = &state.rule;
            if !(r.route == "*" || r.route == route) || !r.kind.applies_to(route) {
                continue;
            }
            if r.count.is_some_and(|c| state.injected >= c) {
                continue;
            }
            state.matched += 1;
            let draw = (splitmix64(&mut state.rng) >> 11) as f64 / (1u64 << 53) as f64;
            if draw < r.rate {
                state.injected += 1;
                return Some((index, r.clone()));
            }
        }
        None
    }

    /// Records the status of an answer the client never saw (`index` from [`Faults::decide`]).
    fn hidden(&self, index: usize, status: StatusCode) {
        if let Some(state) = self
            .active
            .lock()
            .unwrap()
            .as_mut()
            .and_then(|a| a.rules.get_mut(index))
        {
            *state.hidden.entry(status.as_u16()).or_insert(0) += 1;
        }
    }

    pub fn snapshot(&self) -> Value {
        let guard = self.active.lock().unwrap();
        let Some(active) = guard.as_ref() else {
            return json!({ "seed": null, "rules": [], "injected": 0 });
        };
        let rules: Vec<Value> = active
            .rules
            .iter()
            .map(|s| {
                let mut v = serde_json::to_value(&s.rule).unwrap_or(Value::Null);
                if let Some(o) = v.as_object_mut() {
                    o.insert("matched".into(), json!(s.matched));
                    o.insert("injected".into(), json!(s.injected));
                    if matches!(s.rule.kind, Kind::ResetAfter) || s.rule.after {
                        let hidden: serde_json::Map<String, Value> = s
                            .hidden
                            .iter()
                            .map(|(k, v)| (k.to_string(), json!(v)))
                            .collect();
                        o.insert("hidden".into(), Value::Object(hidden));
                    }
                }
                v
            })
            .collect();
        let total: u64 = active.rules.iter().map(|s| s.injected).sum();
        json!({ "seed": active.seed, "rules": rules, "injected": total })
    }
}

// ---------------------------------------------------------------------------------------------------
// Connections that can be killed from a handler.

/// Shared between a connection's IO and every request it carries.
#[derive(Default, Debug)]
pub struct KillSwitch {
    killed: AtomicBool,
    /// Kill at the next flush: everything hyper buffered so far is written first.
    armed: AtomicBool,
}

impl KillSwitch {
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
    }
    fn killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }
    /// Kill once what is buffered has been written (hyper writes its whole buffer, then flushes).
    pub fn kill_after_flush(&self) {
        self.armed.store(true, Ordering::SeqCst);
    }
}

/// The connect info of a [`FaultListener`] connection (`ConnectInfo<ConnAddr>` in request extensions).
#[derive(Clone, Debug)]
pub struct ConnAddr {
    pub addr: SocketAddr,
    pub kill: Arc<KillSwitch>,
}

impl Connected<IncomingStream<'_, FaultListener>> for ConnAddr {
    fn connect_info(stream: IncomingStream<'_, FaultListener>) -> Self {
        stream.remote_addr().clone()
    }
}

pub struct FaultListener(pub TcpListener);

impl Listener for FaultListener {
    type Io = FaultIo;
    type Addr = ConnAddr;

    async fn accept(&mut self) -> (FaultIo, ConnAddr) {
        loop {
            match self.0.accept().await {
                Ok((stream, addr)) => {
                    let _ = stream.set_nodelay(true);
                    let kill = Arc::new(KillSwitch::default());
                    let io = FaultIo {
                        stream,
                        kill: kill.clone(),
                        lingered: false,
                        drain: None,
                    };
                    return (io, ConnAddr { addr, kill });
                }
                // Like axum's own listener: transient errors (EMFILE, ECONNABORTED) wait and retry.
                Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<ConnAddr> {
        Ok(ConnAddr {
            addr: self.0.local_addr()?,
            kill: Arc::default(),
        })
    }
}

pub struct FaultIo {
    stream: TcpStream,
    kill: Arc<KillSwitch>,
    lingered: bool,
    /// While an armed kill waits for the kernel to send what was written (see [`FaultIo::drained`]).
    #[cfg_attr(not(target_os = "linux"), allow(dead_code))]
    drain: Option<(Pin<Box<tokio::time::Sleep>>, std::time::Instant)>,
}

impl FaultIo {
    /// Once killed: `SO_LINGER 0`, so dropping the socket sends RST, then fail every operation so
    /// hyper gives up on the connection without writing anything.
    fn dead(&mut self) -> Option<io::Error> {
        if !self.kill.killed() {
            return None;
        }
        if !self.lingered {
            self.lingered = true;
            let _ = self.stream.set_zero_linger();
        }
        Some(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset by fault injection",
        ))
    }

    /// Whether the socket's send queue is empty, so a reset now discards nothing already written
    /// (`SO_LINGER 0` drops unsent data). On loopback it empties at once unless the peer stopped
    /// reading; give it up to 2 s, polled every millisecond. Elsewhere, assume it is.
    fn drained(&mut self, cx: &mut Context<'_>) -> bool {
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            let mut queued: libc::c_int = 0;
            // SIOCOUTQ (= TIOCOUTQ): bytes not yet acknowledged by the peer.
            // SAFETY: a valid open socket and a c_int the kernel writes.
            let ok =
                unsafe { libc::ioctl(self.stream.as_raw_fd(), libc::TIOCOUTQ, &mut queued) == 0 };
            if ok && queued > 0 {
                let (sleep, since) = self.drain.get_or_insert_with(|| {
                    (
                        Box::pin(tokio::time::sleep(Duration::ZERO)),
                        std::time::Instant::now(),
                    )
                });
                if since.elapsed() < Duration::from_secs(2) {
                    let next = tokio::time::Instant::now() + Duration::from_millis(1);
                    sleep.as_mut().reset(next);
                    if sleep.as_mut().poll(cx).is_pending() {
                        return false;
                    }
                    cx.waker().wake_by_ref();
                    return false;
                }
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = cx;
        true
    }
}

impl AsyncRead for FaultIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if let Some(e) = self.dead() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.dead() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if let Some(e) = self.dead() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.kill.armed.load(Ordering::SeqCst) && !self.kill.killed() {
            if !self.drained(cx) {
                return Poll::Pending;
            }
            self.kill.kill();
        }
        if let Some(e) = self.dead() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(e) = self.dead() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

// ---------------------------------------------------------------------------------------------------
// The middleware.

/// Which listener a request arrived on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Api,
    Storage,
}

/// The fault route of a request, and the stats label its handler would count.
pub fn classify(
    origin: Origin,
    method: &Method,
    path: &str,
) -> Option<(&'static str, &'static str)> {
    let read = method == Method::GET || method == Method::HEAD;
    if origin == Origin::Storage {
        return match *method {
            Method::PUT => Some(("storage.put", "storage.put")),
            Method::GET | Method::HEAD => Some(("storage.get", "storage.get")),
            _ => None,
        };
    }
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    match segments.as_slice() {
        ["api", "v1", "headless", "imports", ""] => match *method {
            Method::POST => Some(("dromo.create", "dromo.create")),
            _ if read => Some(("dromo.list", "dromo.list")),
            _ => None,
        },
        ["api", "v1", "headless", "imports", id, ""] if !id.is_empty() => match *method {
            _ if read => Some(("dromo.get", "dromo.retrieve")),
            Method::DELETE => Some(("dromo.delete", "dromo.delete")),
            _ => None,
        },
        ["api", "v1", "headless", "imports", id, "url", ""] if !id.is_empty() && read => {
            Some(("dromo.url", "dromo.result_url"))
        }
        ["api", "v1", "schemas", ""] => match *method {
            Method::POST => Some(("dromo.schema_create", "dromo.schema_create")),
            _ if read => Some(("dromo.schema_list", "dromo.schema_list")),
            _ => None,
        },
        ["api", "v1", "schemas", id, ""] if !id.is_empty() => match *method {
            _ if read => Some(("dromo.schema_get", "dromo.schema_get")),
            Method::PUT => Some(("dromo.schema_update", "dromo.schema_update")),
            Method::DELETE => Some(("dromo.schema_delete", "dromo.schema_delete")),
            _ => None,
        },
        ["websets", "v0", "imports"] => match *method {
            Method::POST => Some(("exa.create", "exa.create")),
            _ if read => Some(("exa.list", "exa.list")),
            _ => None,
        },
        ["websets", "v0", "imports", id] if !id.is_empty() => match *method {
            _ if read => Some(("exa.get", "exa.get")),
            Method::PATCH => Some(("exa.update", "exa.update")),
            Method::DELETE => Some(("exa.delete", "exa.delete")),
            _ => None,
        },
        _ => None,
    }
}

pub async fn api_layer(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    inject(shared, Origin::Api, req, next).await
}

pub async fn storage_layer(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    inject(shared, Origin::Storage, req, next).await
}

async fn inject(shared: Arc<Shared>, origin: Origin, req: Request, next: Next) -> Response {
    let Some((route, label)) = classify(origin, req.method(), req.uri().path()) else {
        return next.run(req).await;
    };
    let Some((index, rule)) = shared.faults.decide(route) else {
        return next.run(req).await;
    };
    let head = req.method() == Method::HEAD;
    let kill = req
        .extensions()
        .get::<ConnectInfo<ConnAddr>>()
        .map(|c| c.0.kill.clone());
    match rule.kind {
        Kind::Status => {
            let status = StatusCode::from_u16(rule.status.unwrap_or(500))
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            if rule.after {
                let resp = next.run(req).await;
                shared.faults.hidden(index, resp.status());
                let _ = resp.into_body().collect().await;
            } else {
                shared.stats.hit(label);
            }
            error_response(route, status, rule.body.as_deref())
        }
        Kind::RateLimit => {
            shared.stats.hit(label);
            shared.stats.throttled();
            let wait = Duration::from_millis(rule.retry_after_ms.unwrap_or(1000));
            let mut resp = error_response(route, StatusCode::TOO_MANY_REQUESTS, None);
            for (name, value) in ratelimit::retry_headers(wait) {
                resp.headers_mut().insert(name, value);
            }
            resp
        }
        Kind::ResetBefore => {
            shared.stats.hit(label);
            drop(req);
            reset(kill)
        }
        Kind::ResetAfter => {
            let resp = next.run(req).await;
            shared.faults.hidden(index, resp.status());
            // Streamed bodies (downloads) are produced in full too, as the server would have sent them.
            let _ = resp.into_body().collect().await;
            reset(kill)
        }
        Kind::ResetMidUpload | Kind::StallMidUpload => {
            shared.stats.hit(label);
            let declared: u64 = req
                .headers()
                .get(header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0);
            let want = rule.bytes.unwrap_or(declared / 2).min(declared);
            let mut body = req.into_body();
            let mut read = 0u64;
            while read < want {
                match body.frame().await {
                    Some(Ok(frame)) => {
                        read += frame.data_ref().map_or(0, |d| d.len() as u64);
                    }
                    _ => break,
                }
            }
            if rule.kind == Kind::StallMidUpload {
                // The body stays unread and the client unanswered: its connection goes silent.
                tokio::time::sleep(Duration::from_millis(rule.ms.unwrap_or(5000))).await;
            }
            reset(kill)
        }
        // A HEAD answer has no body to cut: it goes out whole (the injection still counts).
        Kind::ResetMidDownload | Kind::StallMidDownload if head => next.run(req).await,
        Kind::ResetMidDownload | Kind::StallMidDownload => {
            let resp = next.run(req).await;
            cut_download(resp, &rule, kill)
        }
        Kind::Slow => {
            let resp = next.run(req).await;
            tokio::time::sleep(Duration::from_millis(rule.ms.unwrap_or(5000))).await;
            resp
        }
        Kind::TruncatedJson => {
            let resp = next.run(req).await;
            let (mut parts, body) = resp.into_parts();
            let bytes = body
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let keep = match rule.bytes {
                Some(n) => (n as usize).min(bytes.len().saturating_sub(1)),
                None => bytes.len() / 2,
            };
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(bytes.slice(..keep)))
        }
        Kind::HtmlError => {
            shared.stats.hit(label);
            let status =
                StatusCode::from_u16(rule.status.unwrap_or(502)).unwrap_or(StatusCode::BAD_GATEWAY);
            let reason = status.canonical_reason().unwrap_or("Error");
            let code = status.as_u16();
            let page = format!(
                "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n\
                 <center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n\
                 </body>\r\n</html>\r\n"
            );
            let mut resp = (status, page).into_response();
            resp.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html"));
            resp.headers_mut()
                .insert(header::SERVER, HeaderValue::from_static("nginx"));
            resp
        }
        Kind::ExpiredUpload => {
            shared.stats.hit(label);
            let now = clock::unix_now();
            S3Error::access_denied("Request has expired")
                .with("X-Amz-Expires", "1800")
                .with(
                    "Expires",
                    clock::rfc3339_secs(now.saturating_sub(Duration::from_secs(60))),
                )
                .with("ServerTime", clock::rfc3339_secs(now))
                .request_id(&s3_request_id())
                .into_response()
        }
        // Delivery kinds only apply to webhook routes, which no request is classified as.
        Kind::Drop | Kind::Duplicate | Kind::Delay | Kind::Reorder => next.run(req).await,
        Kind::ClockSkew => {
            crate::presign::SKEW_SECS
                .scope(rule.skew_secs.unwrap_or(3600), next.run(req))
                .await
        }
    }
}

/// `reset_mid_download` / `stall_mid_download`: the status and headers as they are, Content-Length
/// the whole body's (or part's), then `bytes` of the body and either a reset or a pause of `ms`.
fn cut_download(resp: Response, rule: &Rule, kill: Option<Arc<KillSwitch>>) -> Response {
    let (mut parts, body) = resp.into_parts();
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    // An XML error comes as a whole body without the header; the cut body would be sent chunked.
    let Some(len) = declared.or(body.size_hint().exact()) else {
        return Response::from_parts(parts, body);
    };
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    let bytes = rule.bytes.unwrap_or(len / 2);
    let (cut_at, after) = match rule.kind {
        // Never the whole body: the client must see the connection die mid-body.
        Kind::ResetMidDownload => (bytes.min(len.saturating_sub(1)), AfterCut::Reset(kill)),
        _ => {
            let pause = Duration::from_millis(rule.ms.unwrap_or(5000));
            (bytes.min(len), AfterCut::Stall(pause, None))
        }
    };
    let cut = CutBody {
        inner: body,
        pending: Bytes::new(),
        sent: 0,
        cut_at,
        after,
    };
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(cut, 1 << 16));
    Response::from_parts(parts, body)
}

enum AfterCut {
    /// Arm the kill switch (or, without one, fail the body) once `cut_at` bytes went out.
    Reset(Option<Arc<KillSwitch>>),
    /// Send nothing for this long, then the rest; the sleep exists while pausing, `Done` after.
    Stall(Duration, Option<Pin<Box<tokio::time::Sleep>>>),
    Done,
}

/// A response body that passes `cut_at` bytes, then resets or pauses (an `AsyncRead`, so it can be
/// wrapped in a `ReaderStream` like the storage's own file bodies).
struct CutBody {
    inner: Body,
    pending: Bytes,
    sent: u64,
    cut_at: u64,
    after: AfterCut,
}

impl AsyncRead for CutBody {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        if this.sent == this.cut_at {
            match &mut this.after {
                AfterCut::Reset(Some(kill)) => {
                    // Pending for good: hyper flushes what it holds, the armed switch then fails
                    // that flush, and the connection (with this body) is dropped.
                    kill.kill_after_flush();
                    return Poll::Pending;
                }
                AfterCut::Reset(None) => {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::ConnectionReset,
                        "fault injection",
                    )));
                }
                AfterCut::Stall(pause, sleep) => {
                    let sleep = sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep(*pause)));
                    if sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    this.after = AfterCut::Done;
                }
                AfterCut::Done => {}
            }
        }
        while this.pending.is_empty() {
            match Pin::new(&mut this.inner).poll_frame(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(io::Error::other(e))),
                Poll::Ready(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        this.pending = data;
                    }
                }
            }
        }
        let mut n = this.pending.len().min(buf.remaining());
        if this.sent < this.cut_at {
            n = n.min(usize::try_from(this.cut_at - this.sent).unwrap_or(usize::MAX));
        }
        buf.put_slice(&this.pending.split_to(n));
        this.sent += n as u64;
        Poll::Ready(Ok(()))
    }
}

fn s3_request_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..16].to_ascii_uppercase()
}

/// The route's usual error shape: DRF `{"detail"}` for Dromo, NestJS's for Exa, S3 XML for storage.
fn error_response(route: &str, status: StatusCode, body: Option<&str>) -> Response {
    if let Some(body) = body {
        return (status, body.to_string()).into_response();
    }
    let throttled = status == StatusCode::TOO_MANY_REQUESTS;
    if route.starts_with("storage.") {
        let (code, message) = if throttled {
            ("SlowDown", "Please reduce your request rate.")
        } else if status == StatusCode::SERVICE_UNAVAILABLE {
            ("ServiceUnavailable", "Please reduce your request rate.")
        } else {
            (
                "InternalError",
                "We encountered an internal error. Please try again.",
            )
        };
        return S3Error::new(status, code, message)
            .request_id(&s3_request_id())
            .into_response();
    }
    let message = if throttled {
        "Request was throttled.".to_string()
    } else {
        format!(
            "{} (injected fault)",
            status.canonical_reason().unwrap_or("Error")
        )
    };
    if route.starts_with("exa.") {
        return json_response(
            status,
            json!({
                "statusCode": status.as_u16(),
                "message": message,
                "error": status.canonical_reason().unwrap_or("Error"),
            }),
        );
    }
    detail(status, message)
}

/// Drops the connection with no response at all. Without a kill switch (a router served some other
/// way) the best available is a body that fails at once, which makes hyper abort the connection.
fn reset(kill: Option<Arc<KillSwitch>>) -> Response {
    match kill {
        Some(k) => {
            k.kill();
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        None => Response::new(Body::from_stream(tokio_util::io::ReaderStream::new(
            FailingReader,
        ))),
    }
}

/// A reader that fails at once, so a response body built from it aborts the connection.
struct FailingReader;

impl AsyncRead for FailingReader {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        _: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "fault injection",
        )))
    }
}
