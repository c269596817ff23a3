//! What the Websets resources (imports, webhooks) share: a store in insertion order with cursor pages
//! newest first, and the NestJS-style handling around each operation (a stats label per method,
//! `x-api-key`, `404 Cannot METHOD /path` for a method the route lacks, errors with the request id).
//! A resource supplies only what differs: its labels, its store, its create and update.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::extract::rejection::ExtensionRejection;
use axum::extract::{FromRequestParts, Path, RawQuery};
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use axum::Extension;
use base64::Engine;
use serde_json::{json, Value};

use super::{authorize, finish, ExaError, Reply, DEFAULT_LIMIT, MAX_LIMIT};
use crate::http::{json as json_response, RequestId};
use crate::presign;
use crate::state::Shared;

/// The stats label each operation is counted under.
pub struct Labels {
    pub create: &'static str,
    pub list: &'static str,
    pub get: &'static str,
    pub update: &'static str,
    pub delete: &'static str,
}

pub trait Resource: Sized + Send + 'static {
    const LABELS: Labels;
    /// Written before the sequence number in list cursors (`imports:7`).
    const CURSOR: &'static str;
    fn id(&self) -> &str;
    /// The API's schema of the resource.
    fn to_json(&self) -> Value;
    fn store(shared: &Shared) -> &Mutex<Store<Self>>;
    fn not_found(id: &str) -> ExaError;
    fn create(
        shared: &Arc<Shared>,
        headers: &HeaderMap,
        body: Body,
    ) -> impl Future<Output = Reply> + Send;
    fn update(
        shared: &Shared,
        id: &str,
        headers: &HeaderMap,
        body: Body,
    ) -> impl Future<Output = Reply> + Send;
}

/// Records by insertion number. List cursors point into that order, so creating or deleting records
/// between pages never repeats or skips one.
pub struct Store<T> {
    by_seq: BTreeMap<u64, T>,
    seq_of: HashMap<String, u64>,
    next_seq: u64,
}

impl<T> Default for Store<T> {
    fn default() -> Self {
        Store {
            by_seq: BTreeMap::new(),
            seq_of: HashMap::new(),
            next_seq: 0,
        }
    }
}

impl<T: Resource> Store<T> {
    pub fn insert(&mut self, record: T) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.seq_of.insert(record.id().to_string(), seq);
        self.by_seq.insert(seq, record);
    }

    pub fn get(&self, id: &str) -> Option<&T> {
        self.by_seq.get(self.seq_of.get(id)?)
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        self.by_seq.get_mut(self.seq_of.get(id)?)
    }

    pub fn remove(&mut self, id: &str) -> Option<T> {
        self.by_seq.remove(&self.seq_of.remove(id)?)
    }

    /// Oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.by_seq.values()
    }

    /// Whether `seq` was ever handed out (by this store, since the last reset).
    pub fn issued(&self, seq: u64) -> bool {
        seq < self.next_seq
    }

    /// Up to `limit` records older than `before` (all when `None`), newest first, and the sequence
    /// number of the last one when more remain.
    pub fn page(&self, before: Option<u64>, limit: usize) -> (Vec<Value>, Option<u64>) {
        let mut older = self.by_seq.range(..before.unwrap_or(u64::MAX)).rev();
        let page: Vec<(&u64, &T)> = older.by_ref().take(limit).collect();
        let more = older.next().is_some();
        let last = page.last().map(|(seq, _)| **seq).filter(|_| more);
        (page.into_iter().map(|(_, r)| r.to_json()).collect(), last)
    }
}

/// Opaque to clients: base64url (no padding) of `<prefix>:<seq>`.
fn encode_cursor(prefix: &str, seq: u64) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{prefix}:{seq}"))
}

fn decode_cursor(prefix: &str, cursor: &str) -> Option<u64> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let digits = text.strip_prefix(prefix)?.strip_prefix(':')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `limit` and `cursor`, checked in that order; `issued` tells a cursor this list could have given.
/// `query` is parsed leniently (percent-decoded, the last of repeated keys wins), so a malformed
/// query string still gets an Exa-shaped answer.
pub fn page_params(
    query: &HashMap<String, String>,
    prefix: &str,
    issued: impl Fn(u64) -> bool,
) -> Result<(usize, Option<u64>), ExaError> {
    let limit = match query.get("limit") {
        None => DEFAULT_LIMIT,
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n))
            .ok_or_else(|| {
                ExaError::new(
                    StatusCode::BAD_REQUEST,
                    format!("limit must be an integer between 1 and {MAX_LIMIT}"),
                )
            })?,
    };
    let before = match query.get("cursor") {
        None => None,
        Some(c) => Some(
            decode_cursor(prefix, c)
                .filter(|seq| issued(*seq))
                .ok_or_else(|| ExaError::new(StatusCode::BAD_REQUEST, "Invalid cursor"))?,
        ),
    };
    Ok((limit as usize, before))
}

pub fn page_response(prefix: &str, data: Vec<Value>, last: Option<u64>) -> Response {
    json_response(
        StatusCode::OK,
        json!({
            "data": data,
            "hasMore": last.is_some(),
            "nextCursor": last.map(|seq| encode_cursor(prefix, seq)),
        }),
    )
}

/// What every Websets handler takes from the request.
pub struct Call {
    pub shared: Arc<Shared>,
    pub rid: RequestId,
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
}

impl FromRequestParts<Arc<Shared>> for Call {
    type Rejection = ExtensionRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        shared: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        let Extension(rid) = Extension::<RequestId>::from_request_parts(parts, shared).await?;
        Ok(Call {
            shared: shared.clone(),
            rid,
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            headers: parts.headers.clone(),
        })
    }
}

impl Call {
    /// Counts the request under `label` and runs `op` once the key checks out; `None` (the route has
    /// no such method) counts `exa.other` and answers as NestJS does. Errors get Exa's shape.
    pub async fn serve(
        &self,
        label: Option<&'static str>,
        op: impl Future<Output = Reply>,
    ) -> Response {
        let reply = match label {
            None => {
                self.shared.stats.hit("exa.other");
                Err(ExaError::no_route(&self.method, self.uri.path()))
            }
            Some(label) => {
                self.shared.stats.hit(label);
                match authorize(&self.shared, &self.headers) {
                    Ok(()) => op.await,
                    Err(e) => Err(e),
                }
            }
        };
        finish(reply, &self.rid)
    }
}

/// `POST` creates, `GET` lists newest first.
pub async fn collection<R: Resource>(
    call: Call,
    RawQuery(query): RawQuery,
    body: Body,
) -> Response {
    let label = match call.method {
        Method::POST => Some(R::LABELS.create),
        Method::GET | Method::HEAD => Some(R::LABELS.list),
        _ => None,
    };
    let op = async {
        if call.method == Method::POST {
            return R::create(&call.shared, &call.headers, body).await;
        }
        let query = presign::parse_query(query.as_deref());
        let store = R::store(&call.shared).lock().unwrap();
        let (limit, before) = page_params(&query, R::CURSOR, |seq| store.issued(seq))?;
        let (data, last) = store.page(before, limit);
        Ok(page_response(R::CURSOR, data, last))
    };
    call.serve(label, op).await
}

/// `GET`, `PATCH` and `DELETE` of one record.
pub async fn item<R: Resource>(call: Call, Path(id): Path<String>, body: Body) -> Response {
    let label = match call.method {
        Method::GET | Method::HEAD => Some(R::LABELS.get),
        Method::PATCH => Some(R::LABELS.update),
        Method::DELETE => Some(R::LABELS.delete),
        _ => None,
    };
    let op = async {
        let found = match call.method {
            Method::PATCH => return R::update(&call.shared, &id, &call.headers, body).await,
            Method::DELETE => {
                let removed = R::store(&call.shared).lock().unwrap().remove(&id);
                removed.map(|r| r.to_json())
            }
            _ => R::store(&call.shared)
                .lock()
                .unwrap()
                .get(&id)
                .map(R::to_json),
        };
        found
            .map(|json| json_response(StatusCode::OK, json))
            .ok_or_else(|| R::not_found(&id))
    };
    call.serve(label, op).await
}
