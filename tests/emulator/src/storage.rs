//! The storage origin: a stand-in for the S3 bucket behind presigned upload and result URLs.
//!
//! Providers register an upload slot (where a file may be PUT, and who is told when it arrives) or a
//! downloadable object; everything S3-specific (signatures, expiry, Content-Length, Range, ETags, CORS,
//! XML errors) lives here, so a second provider reuses it unchanged.

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
/// The bucket's CORS ExposeHeaders: a browser can read the ETag (PUT, and the validator a resumed
/// download compares) and the headers of a ranged GET.
const CORS_EXPOSE: &str = "ETag, Content-Range, Accept-Ranges";

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
    etag: Etag,
}

/// The object's ETag, hashed once: started when the object is published, awaited by the first GET if
/// it is not ready (a 2 GB result takes a second or two).
type Etag = Arc<tokio::sync::OnceCell<String>>;

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
        let etag = Etag::default();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (etag, file) = (etag.clone(), file.clone());
            runtime.spawn(async move {
                // A file deleted meanwhile (reset) fails here and leaves the cell empty.
                let _ = etag.get_or_try_init(|| etag_of(file)).await;
            });
        }
        let object = StoredObject {
            file,
            content_type,
            etag,
        };
        let old = self
            .inner
            .lock()
            .unwrap()
            .objects
            .insert(path.to_string(), object);
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

    fn object(&self, path: &str) -> Option<(PathBuf, &'static str, Etag)> {
        let inner = self.inner.lock().unwrap();
        let object = inner.objects.get(path)?;
        Some((
            object.file.clone(),
            object.content_type,
            object.etag.clone(),
        ))
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
/// a bucket configured with AllowedOrigins `*` and ExposeHeaders [`CORS_EXPOSE`] (on errors too, so a
/// browser can read the XML and tell "expired" from "tampered").
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
            HeaderValue::from_static(CORS_EXPOSE),
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
            get(&shared, &method, &path, &query, &headers).await
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
    let etag = etag_from_sha256(&completed.sha256);
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

/// S3's ETag of a single-part object is its MD5; a prefix of the SHA-256 has the same shape (quoted,
/// 32 hex) and, for uploads, saves hashing twice. Results and uploads use the same rule.
fn etag_from_sha256(sha256: &str) -> String {
    format!("\"{}\"", &sha256[..32])
}

async fn etag_of(file: PathBuf) -> std::io::Result<String> {
    tokio::task::spawn_blocking(move || {
        let mut input = std::fs::File::open(file)?;
        let mut hasher = ring::digest::Context::new(&ring::digest::SHA256);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = std::io::Read::read(&mut input, &mut buf)?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(etag_from_sha256(&hex::encode(hasher.finish())))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// What a GET's `Range` header asks of an object of `total` bytes, read as S3 reads it.
#[derive(Debug, PartialEq, Eq)]
enum RangeAsk {
    /// No header, or one S3 ignores: several ranges, another unit, bad syntax, last < first.
    Full,
    /// Inclusive byte positions, already clamped to the object.
    Part { start: u64, end: u64 },
    /// Well formed but starting at or past the end (or a zero suffix): 416 `InvalidRange`.
    Unsatisfiable,
}

fn range_ask(header: &str, total: u64) -> RangeAsk {
    let Some((unit, spec)) = header.trim().split_once('=') else {
        return RangeAsk::Full;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") || spec.contains(',') {
        return RangeAsk::Full;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeAsk::Full;
    };
    // Digits only (no sign, no inner spaces); too many digits saturate, which is past any end.
    let number = |s: &str| {
        (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u64>().unwrap_or(u64::MAX))
    };
    let part = |start: u64, end: u64| {
        if start >= total {
            RangeAsk::Unsatisfiable
        } else {
            RangeAsk::Part {
                start,
                end: end.min(total - 1),
            }
        }
    };
    match (number(first), number(last)) {
        (None, Some(suffix)) if first.is_empty() => {
            if suffix == 0 {
                RangeAsk::Unsatisfiable
            } else {
                part(total.saturating_sub(suffix), u64::MAX)
            }
        }
        (Some(start), None) if last.is_empty() => part(start, u64::MAX),
        (Some(start), Some(end)) if end >= start => part(start, end),
        _ => RangeAsk::Full,
    }
}

async fn get(
    shared: &Shared,
    method: &Method,
    path: &str,
    query: &HashMap<String, String>,
    headers: &HeaderMap,
) -> Result<Response, S3Error> {
    let Some((file, content_type, etag)) = shared.storage.object(path) else {
        return Err(S3Error::no_such_key(object_key(path)));
    };
    check_signature(shared, method, path, query)?;
    let etag = etag
        .get_or_try_init(|| etag_of(file.clone()))
        .await
        .map_err(|_| S3Error::no_such_key(object_key(path)))?
        .clone();
    let mut file = tokio::fs::File::open(&file)
        .await
        .map_err(|_| S3Error::no_such_key(object_key(path)))?;
    let total = file.metadata().await.map_err(|_| internal_error())?.len();
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok());
    // If-Range with anything but the current ETag (an old one, a weak one, a date: no Last-Modified
    // is sent, so no date can match) asks for the whole object.
    let if_range_ok = headers
        .get(header::IF_RANGE)
        .is_none_or(|v| v.as_bytes() == etag.as_bytes());
    let ask = match range {
        Some(range) if if_range_ok => range_ask(range, total),
        _ => RangeAsk::Full,
    };
    let (status, start, len) = match ask {
        RangeAsk::Full => (StatusCode::OK, 0, total),
        RangeAsk::Part { start, end } => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
        RangeAsk::Unsatisfiable => {
            return Err(S3Error::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "InvalidRange",
                "The requested range is not satisfiable",
            )
            .with("RangeRequested", range.unwrap_or_default())
            .with("ActualObjectSize", total.to_string())
            .header(
                header::CONTENT_RANGE,
                HeaderValue::from_str(&format!("bytes */{total}")).unwrap(),
            ));
        }
    };
    if start > 0 {
        use tokio::io::AsyncSeekExt;
        file.seek(std::io::SeekFrom::Start(start))
            .await
            .map_err(|_| internal_error())?;
    }
    let part = tokio::io::AsyncReadExt::take(file, len);
    let body = Body::from_stream(tokio_util::io::ReaderStream::with_capacity(part, 1 << 16));
    let mut resp = (
        status,
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::CONTENT_LENGTH, len.to_string()),
            (header::ETAG, etag),
            (header::ACCEPT_RANGES, "bytes".to_string()),
        ],
        body,
    )
        .into_response();
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {start}-{}/{total}", start + len - 1);
        resp.headers_mut().insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&value).unwrap(),
        );
    }
    Ok(resp)
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
        HeaderValue::from_static(CORS_EXPOSE),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_read_as_s3_reads_them() {
        use RangeAsk::{Full, Unsatisfiable};
        let part = |start, end| RangeAsk::Part { start, end };
        let cases = [
            ("bytes=0-", part(0, 9)),
            ("bytes=4-", part(4, 9)),
            ("bytes=9-", part(9, 9)),
            ("bytes=2-5", part(2, 5)),
            ("bytes=2-2", part(2, 2)),
            ("bytes=2-999", part(2, 9)),
            ("bytes=-3", part(7, 9)),
            ("bytes=-10", part(0, 9)),
            ("bytes=-999", part(0, 9)),
            ("Bytes = 1-2 ", part(1, 2)),
            ("bytes=10-", Unsatisfiable),
            ("bytes=10-20", Unsatisfiable),
            ("bytes=99999999999999999999999-", Unsatisfiable),
            ("bytes=-0", Unsatisfiable),
            ("bytes=5-2", Full),
            ("bytes=0-1,4-5", Full),
            ("bytes=-", Full),
            ("bytes=a-", Full),
            ("bytes=+1-", Full),
            ("bytes=1", Full),
            ("items=0-1", Full),
            ("", Full),
        ];
        for (header, want) in cases {
            assert_eq!(range_ask(header, 10), want, "{header:?}");
        }
        assert_eq!(range_ask("bytes=0-", 0), Unsatisfiable);
        assert_eq!(range_ask("bytes=-1", 0), Unsatisfiable);
    }
}
