//! The storage origin: a stand-in for the S3 bucket behind presigned upload and result URLs.
//!
//! Providers register an upload slot (where a file may be PUT, and who is told when it arrives) or a
//! downloadable object; everything S3-specific (signatures, expiry, Content-Length, CORS, XML errors)
//! lives here, so a second provider reuses it unchanged.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use http_body_util::BodyExt;

use crate::clock;
use crate::presign::{self, Refusal};
use crate::s3xml::{self, S3Error};
use crate::state::Shared;

/// S3's single-PUT ceiling (5 GiB): anything larger is `EntityTooLarge` there too.
const MAX_SINGLE_PUT: u64 = 5 * 1024 * 1024 * 1024;
const CORS_METHODS: &str = "PUT, GET, HEAD";

/// A file that arrived completely; the slot's target takes ownership of `path` (and must delete it).
pub struct CompletedUpload {
    pub path: PathBuf,
    pub size: u64,
    pub sha256: String,
}

/// The provider-side owner of an upload slot.
pub trait UploadTarget: Send + Sync {
    /// Asked before any byte is read, so "one file per import" is refused without streaming a gigabyte.
    fn admit(&self, shared: &Shared) -> Result<(), String>;
    /// Told once the whole body is on disk. An `Err` (the slot was consumed by a concurrent PUT, or the
    /// import was reset meanwhile) is reported as AccessDenied and the file is discarded.
    fn complete(&self, shared: &Arc<Shared>, upload: &CompletedUpload) -> Result<(), String>;
}

struct Slot {
    owner_id: String,
    target: Arc<dyn UploadTarget>,
}

struct StoredObject {
    file: PathBuf,
    content_type: &'static str,
}

/// What the control endpoint reports about an upload, so tests can prove the bytes arrived intact.
#[derive(Clone)]
pub struct Receipt {
    pub size: u64,
    pub sha256: String,
}

#[derive(Default)]
struct Inner {
    slots: HashMap<String, Slot>,
    objects: HashMap<String, StoredObject>,
    receipts: HashMap<String, Receipt>,
}

pub struct Storage {
    uploads_dir: PathBuf,
    results_dir: PathBuf,
    inner: Mutex<Inner>,
}

impl Storage {
    pub fn new(data_dir: &Path) -> std::io::Result<Self> {
        let uploads_dir = data_dir.join("uploads");
        let results_dir = data_dir.join("results");
        std::fs::create_dir_all(&uploads_dir)?;
        std::fs::create_dir_all(&results_dir)?;
        Ok(Storage {
            uploads_dir,
            results_dir,
            inner: Mutex::default(),
        })
    }

    /// Where providers write result files before publishing them with [`Storage::put_object`].
    pub fn results_dir(&self) -> &Path {
        &self.results_dir
    }

    /// Accept a PUT at `path` (`/bucket/key`) on behalf of `owner_id`.
    pub fn register_upload(&self, path: &str, owner_id: &str, target: Arc<dyn UploadTarget>) {
        let slot = Slot {
            owner_id: owner_id.to_string(),
            target,
        };
        self.inner
            .lock()
            .unwrap()
            .slots
            .insert(path.to_string(), slot);
    }

    /// Publish a file for presigned GETs at `path`; the storage owns (and eventually deletes) it.
    pub fn put_object(&self, path: &str, file: PathBuf, content_type: &'static str) {
        let old = self
            .inner
            .lock()
            .unwrap()
            .objects
            .insert(path.to_string(), StoredObject { file, content_type });
        if let Some(old) = old {
            let _ = std::fs::remove_file(old.file);
        }
    }

    /// Drops the upload slot and any published object at these paths (an import was deleted).
    pub fn forget(&self, upload: &str, result: &str) {
        let mut inner = self.inner.lock().unwrap();
        inner.slots.remove(upload);
        if let Some(object) = inner.objects.remove(result) {
            let _ = std::fs::remove_file(object.file);
        }
    }

    pub fn receipt(&self, owner_id: &str) -> Option<Receipt> {
        self.inner.lock().unwrap().receipts.get(owner_id).cloned()
    }

    pub fn reset(&self) {
        let old = std::mem::take(&mut *self.inner.lock().unwrap());
        for object in old.objects.into_values() {
            let _ = std::fs::remove_file(object.file);
        }
    }

    fn slot(&self, path: &str) -> Option<(String, Arc<dyn UploadTarget>)> {
        let inner = self.inner.lock().unwrap();
        let slot = inner.slots.get(path)?;
        Some((slot.owner_id.clone(), slot.target.clone()))
    }

    fn object(&self, path: &str) -> Option<(PathBuf, &'static str)> {
        let inner = self.inner.lock().unwrap();
        let object = inner.objects.get(path)?;
        Some((object.file.clone(), object.content_type))
    }
}

/// S3 request ids are 16 upper-case hex characters.
#[derive(Clone)]
struct AmzRequestId(String);

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .fallback(handle)
        .layer(middleware::from_fn(s3_envelope))
        .with_state(shared)
}

/// Adds what S3 puts on every response: request ids and, for cross-origin requests, the CORS headers of
/// a bucket configured with AllowedOrigins `*` and ExposeHeaders `ETag` (on errors too, so a browser
/// can read the XML and tell "expired" from "tampered").
async fn s3_envelope(mut req: Request, next: Next) -> Response {
    let id = uuid::Uuid::new_v4().simple().to_string()[..16].to_ascii_uppercase();
    req.extensions_mut().insert(AmzRequestId(id.clone()));
    let cross_origin =
        req.headers().contains_key(header::ORIGIN) && req.method() != Method::OPTIONS;
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert("x-amz-request-id", HeaderValue::from_str(&id).unwrap());
    h.insert(
        "x-amz-id-2",
        HeaderValue::from_str(&s3xml::host_id(&id)).unwrap(),
    );
    h.insert(header::SERVER, HeaderValue::from_static("AmazonS3"));
    if cross_origin {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_ORIGIN,
            HeaderValue::from_static("*"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static(CORS_METHODS),
        );
        h.insert(
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("ETag"),
        );
        h.insert(
            header::VARY,
            HeaderValue::from_static(
                "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
            ),
        );
    }
    resp
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    Extension(AmzRequestId(rid)): Extension<AmzRequestId>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let path = uri.path().to_string();
    let query = presign::parse_query(uri.query());
    let result = match method {
        Method::OPTIONS => {
            shared.stats.hit("storage.preflight");
            preflight(&headers)
        }
        Method::PUT => {
            shared.stats.hit("storage.put");
            put(&shared, &path, &query, &headers, body).await
        }
        Method::GET | Method::HEAD => {
            shared.stats.hit("storage.get");
            get(&shared, &method, &path, &query).await
        }
        other => {
            shared.stats.hit("storage.other");
            Err(S3Error::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "MethodNotAllowed",
                "The specified method is not allowed against this resource.",
            )
            .with("Method", other.as_str())
            .with("ResourceType", "OBJECT"))
        }
    };
    match result {
        Ok(resp) => resp,
        Err(err) => err.request_id(&rid).into_response(),
    }
}

fn object_key(path: &str) -> &str {
    path.trim_start_matches('/')
        .split_once('/')
        .map_or("", |(_, key)| key)
}

fn check_signature(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
) -> Result<(), S3Error> {
    let now = clock::unix_now();
    match shared.presigner.verify(method.as_str(), path, query, now) {
        Ok(()) => Ok(()),
        Err(Refusal::Signature) => Err(S3Error::new(
            StatusCode::FORBIDDEN,
            "SignatureDoesNotMatch",
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method.",
        )
        .with("AWSAccessKeyId", presign::ACCESS_KEY)),
        Err(Refusal::Expired {
            expires_secs,
            expired_at,
        }) => Err(S3Error::access_denied("Request has expired")
            .with("X-Amz-Expires", expires_secs.to_string())
            .with(
                "Expires",
                clock::rfc3339_secs(std::time::Duration::from_secs(expired_at)),
            )
            .with("ServerTime", clock::rfc3339_secs(now))),
        Err(Refusal::TooSkewed { signed_at }) => Err(S3Error::new(
            StatusCode::FORBIDDEN,
            "RequestTimeTooSkewed",
            "The difference between the request time and the current time is too large.",
        )
        .with(
            "RequestTime",
            clock::amz_date(std::time::Duration::from_secs(signed_at)),
        )
        .with("ServerTime", clock::rfc3339_secs(now))
        .with(
            "MaxAllowedSkewMilliseconds",
            (presign::MAX_SKEW_SECS * 1000).to_string(),
        )),
    }
}

async fn put(
    shared: &Arc<Shared>,
    path: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Response, S3Error> {
    let Some((owner_id, target)) = shared.storage.slot(path) else {
        return Err(S3Error::no_such_key(object_key(path)));
    };
    check_signature(shared, &Method::PUT, path, query)?;
    let Some(expected) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    else {
        return Err(S3Error::new(
            StatusCode::LENGTH_REQUIRED,
            "MissingContentLength",
            "You must provide the Content-Length HTTP header.",
        ));
    };
    if expected > MAX_SINGLE_PUT {
        return Err(S3Error::new(
            StatusCode::BAD_REQUEST,
            "EntityTooLarge",
            "Your proposed upload exceeds the maximum allowed size",
        )
        .with("ProposedSize", expected.to_string())
        .with("MaxSizeAllowed", MAX_SINGLE_PUT.to_string()));
    }
    target.admit(shared).map_err(S3Error::access_denied)?;
    let mut part = receive(&shared.storage.uploads_dir, body, expected).await?;
    let completed = CompletedUpload {
        path: part.path.clone(),
        size: part.size,
        sha256: part.sha256.clone(),
    };
    target
        .complete(shared, &completed)
        .map_err(S3Error::access_denied)?;
    part.keep = true;
    shared.storage.inner.lock().unwrap().receipts.insert(
        owner_id,
        Receipt {
            size: completed.size,
            sha256: completed.sha256.clone(),
        },
    );
    // S3's ETag is an MD5; a prefix of the SHA-256 has the same shape and saves hashing twice.
    let etag = format!("\"{}\"", &completed.sha256[..32]);
    Ok((StatusCode::OK, [(header::ETAG, etag)]).into_response())
}

/// A partially written upload; deleted on drop unless kept, so a dropped connection leaves nothing behind.
struct PartFile {
    path: PathBuf,
    size: u64,
    sha256: String,
    keep: bool,
}

impl Drop for PartFile {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

fn internal_error() -> S3Error {
    S3Error::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        "InternalError",
        "We encountered an internal error. Please try again.",
    )
}

/// Streams the body to disk while hashing, never holding more than a few chunks in memory (benchmarks
/// PUT a gigabyte). Hashing and writing run on a blocking thread, so on a small machine they overlap
/// with reading the socket instead of taking turns with it.
async fn receive(dir: &Path, mut body: Body, expected: u64) -> Result<PartFile, S3Error> {
    let mut part = PartFile {
        path: dir.join(format!("{}.part", uuid::Uuid::new_v4().simple())),
        size: 0,
        sha256: String::new(),
        keep: false,
    };
    // Created here, not on the writer thread, so the guard can never miss a file it should delete.
    let file = std::fs::File::create(&part.path).map_err(|_| internal_error())?;
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(32);
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<String> {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        // ring rather than sha2: the workspace's release profile optimizes for size, which leaves
        // sha2's SHA-NI intrinsics un-inlined and caps uploads near 150 MB/s.
        let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
        while let Some(chunk) = rx.blocking_recv() {
            hasher.update(&chunk);
            out.write_all(&chunk)?;
        }
        out.flush()?;
        Ok(hex::encode(hasher.finish()))
    });
    let incomplete = || {
        S3Error::new(
            StatusCode::BAD_REQUEST,
            "IncompleteBody",
            "You did not provide the number of bytes specified by the Content-Length HTTP header",
        )
    };
    let mut failed = false;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            failed = true;
            break;
        };
        if let Ok(data) = frame.into_data() {
            part.size += data.len() as u64;
            if tx.send(data).await.is_err() {
                break; // the writer failed; its error is reported below
            }
        }
    }
    drop(tx);
    let written = writer.await;
    if failed || part.size != expected {
        return Err(incomplete());
    }
    part.sha256 = written
        .map_err(|_| internal_error())?
        .map_err(|_| internal_error())?;
    Ok(part)
}

async fn get(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
) -> Result<Response, S3Error> {
    let Some((file, content_type)) = shared.storage.object(path) else {
        return Err(S3Error::no_such_key(object_key(path)));
    };
    check_signature(shared, method, path, query)?;
    let file = tokio::fs::File::open(&file)
        .await
        .map_err(|_| S3Error::no_such_key(object_key(path)))?;
    let len = file.metadata().await.map_err(|_| internal_error())?.len();
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(file, 1 << 16));
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
        ],
        body,
    )
        .into_response())
}

fn preflight(headers: &HeaderMap) -> Result<Response, S3Error> {
    if !headers.contains_key(header::ORIGIN) {
        return Err(S3Error::new(
            StatusCode::BAD_REQUEST,
            "BadRequest",
            "Insufficient information. Origin request header needed.",
        ));
    }
    let requested = headers
        .get(header::ACCESS_CONTROL_REQUEST_METHOD)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !["PUT", "GET", "HEAD"].contains(&requested) {
        return Err(S3Error::new(
            StatusCode::FORBIDDEN,
            "AccessForbidden",
            "CORSResponse: This CORS request is not allowed. This is usually because the evalution of \
             Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers \
             are not whitelisted by the resource's CORS spec.",
        )
        .with("Method", requested)
        .with("ResourceType", "OBJECT"));
    }
    let mut resp = StatusCode::OK.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(CORS_METHODS),
    );
    if let Some(asked) = headers.get(header::ACCESS_CONTROL_REQUEST_HEADERS) {
        h.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, asked.clone());
    }
    h.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static("ETag"),
    );
    h.insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from(3000));
    h.insert(
        header::VARY,
        HeaderValue::from_static(
            "Origin, Access-Control-Request-Headers, Access-Control-Request-Method",
        ),
    );
    Ok(resp)
}
