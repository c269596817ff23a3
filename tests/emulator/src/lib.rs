//! A local stand-in for hosted "headless import" APIs (Dromo and Exa Websets), with an S3-like storage origin
//! for presigned uploads and results. Built for test suites, demos and benchmarks: real processing,
//! real rate limits, real failure modes, all on 127.0.0.1 and scaled in time.
//!
//! Layout: `storage`, `presign`, `ratelimit`, `s3xml` and `http` are provider-neutral; each provider is
//! one module (`dromo`, `exa`) contributing API routes and control routes, with its state in
//! [`state::Shared`] and one `merge` in [`api_router`].

pub mod background;
pub mod clock;
pub mod control;
pub mod dromo;
pub mod exa;
pub mod faults;
pub mod http;
pub mod presign;
pub mod ratelimit;
pub mod s3xml;
pub mod state;
pub mod storage;
pub mod webhooks;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use clock::TimeScale;
use dromo::schema::SavedSchema;
use state::{Origins, Settings, Shared, Stats};

pub const DEFAULT_API_KEY: &str = "test-dromo-key";
pub use exa::DEFAULT_API_KEY as DEFAULT_EXA_API_KEY;

#[derive(Clone, Debug)]
pub struct Config {
    pub host: String,
    /// 0 picks an ephemeral port.
    pub port: u16,
    pub storage_port: u16,
    /// Dromo's `X-Dromo-License-Key`.
    pub api_key: String,
    /// Exa's `x-api-key`.
    pub exa_api_key: String,
    pub time_scale: f64,
    /// Saved Dromo schemas; `None` means the built-in ones (`schemas.json`).
    pub dromo_schemas: Option<Vec<SavedSchema>>,
    /// Presigned URL lifetime in real (unscaled) time; `None` means the documented 30 minutes, scaled.
    pub upload_ttl: Option<Duration>,
    pub rate_limit: bool,
    /// Where uploads and results are spooled (a fresh temporary directory inside it).
    pub data_dir: Option<PathBuf>,
    /// Log one line per request to stderr (never headers, so never the key).
    pub verbose: bool,
    /// Fault rules installed at start (`--faults FILE`); `POST /_emulator/faults` replaces them.
    pub faults: Option<faults::Plan>,
    /// Dromo managed webhooks installed at start (`--dromo-webhook`, all three events each);
    /// `POST /_emulator/reset` brings them back. Loopback URLs only.
    pub dromo_webhooks: Vec<String>,
    /// Real time allowed per webhook delivery attempt (default 10 s).
    pub webhook_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: "127.0.0.1".into(),
            port: 0,
            storage_port: 0,
            api_key: DEFAULT_API_KEY.into(),
            exa_api_key: DEFAULT_EXA_API_KEY.into(),
            time_scale: 1.0,
            dromo_schemas: None,
            upload_ttl: None,
            rate_limit: true,
            data_dir: None,
            verbose: false,
            faults: None,
            dromo_webhooks: Vec::new(),
            webhook_timeout: webhooks::DEFAULT_TIMEOUT,
        }
    }
}

/// A running emulator (both listeners). Dropping it without [`Emulator::shutdown`] leaves the server
/// tasks running on the runtime until the runtime itself stops.
pub struct Emulator {
    api_addr: SocketAddr,
    storage_addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    _spool: tempfile::TempDir,
}

impl Emulator {
    /// Binds both listeners and starts serving on the current Tokio runtime.
    pub async fn start(config: Config) -> std::io::Result<Emulator> {
        if !(config.time_scale.is_finite() && config.time_scale > 0.0) {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "--time-scale must be a positive number",
            ));
        }
        let api_listener = TcpListener::bind((config.host.as_str(), config.port)).await?;
        let storage_listener =
            TcpListener::bind((config.host.as_str(), config.storage_port)).await?;
        let api_addr = api_listener.local_addr()?;
        let storage_addr = storage_listener.local_addr()?;
        let spool = match &config.data_dir {
            Some(dir) => {
                std::fs::create_dir_all(dir)?;
                tempfile::Builder::new()
                    .prefix("headless-imports-emulator-")
                    .tempdir_in(dir)?
            }
            None => tempfile::Builder::new()
                .prefix("headless-imports-emulator-")
                .tempdir()?,
        };
        let settings = Settings {
            api_key: config.api_key,
            exa_api_key: config.exa_api_key,
            scale: TimeScale::new(config.time_scale),
            upload_ttl: config.upload_ttl,
            rate_limit: config.rate_limit,
            verbose: config.verbose,
        };
        let schemas = config.dromo_schemas.unwrap_or_else(dromo::schema::builtin);
        let shared = Arc::new(Shared {
            dromo: dromo::DromoState::new(schemas, &settings),
            exa: exa::ExaState::default(),
            settings,
            origins: Origins {
                api: format!("http://{api_addr}"),
                storage: format!("http://{storage_addr}"),
            },
            stats: Stats::default(),
            presigner: presign::Presigner::new(),
            storage: storage::Storage::new(spool.path())?,
            faults: faults::Faults::default(),
            webhooks: webhooks::Webhooks::new(config.webhook_timeout),
        });
        shared
            .dromo
            .webhooks
            .seed(config.dromo_webhooks)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        if let Some(plan) = config.faults {
            shared.faults.install(plan);
        }
        let (stop, stopped) = watch::channel(false);
        let serve = |listener: TcpListener, router: Router| {
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stopped.wait_for(|s| *s).await;
                };
                // Through FaultListener, so an injected fault can drop a connection without a response.
                let app = router.into_make_service_with_connect_info::<faults::ConnAddr>();
                if let Err(e) = axum::serve(faults::FaultListener(listener), app)
                    .with_graceful_shutdown(shutdown)
                    .await
                {
                    eprintln!("headless-imports-emulator: server error: {e}");
                }
            })
        };
        let tasks = vec![
            serve(api_listener, api_router(shared.clone())),
            serve(storage_listener, storage_router(shared.clone())),
        ];
        Ok(Emulator {
            api_addr,
            storage_addr,
            shared,
            stop,
            tasks,
            _spool: spool,
        })
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.api_addr
    }

    pub fn storage_addr(&self) -> SocketAddr {
        self.storage_addr
    }

    /// `http://127.0.0.1:PORT/api/v1`
    pub fn api_base(&self) -> String {
        format!("{}{}", self.shared.origins.api, dromo::API_PREFIX)
    }

    /// `http://127.0.0.1:PORT/websets`, the Exa Websets base URL (`/v0/imports` follows).
    pub fn exa_base(&self) -> String {
        format!("{}{}", self.shared.origins.api, exa::BASE)
    }

    /// `http://127.0.0.1:PORT` of the API listener.
    pub fn api_origin(&self) -> &str {
        &self.shared.origins.api
    }

    /// `http://127.0.0.1:SPORT`
    pub fn storage_origin(&self) -> &str {
        &self.shared.origins.storage
    }

    /// `http://127.0.0.1:PORT/_emulator`
    pub fn control_base(&self) -> String {
        format!("{}/_emulator", self.shared.origins.api)
    }

    /// The single JSON line printed on stdout once both listeners are bound.
    pub fn ready_line(&self) -> String {
        serde_json::json!({
            "api": self.api_base(),
            "exa": self.exa_base(),
            "storage": self.storage_origin(),
            "control": self.control_base(),
        })
        .to_string()
    }

    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Stops accepting, gives in-flight requests a moment, then drops everything (spooled files too).
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let abort = task.abort_handle();
            if tokio::time::timeout(Duration::from_secs(2), task)
                .await
                .is_err()
            {
                abort.abort();
            }
        }
    }
}

/// The API origin: every provider's routes, the control endpoints, and shared middleware.
pub fn api_router(shared: Arc<Shared>) -> Router {
    Router::new()
        .merge(dromo::routes())
        .merge(exa::routes())
        .nest("/_emulator", control::routes())
        // A nested "/" only matches "/_emulator"; the documented form has the slash.
        .route("/_emulator/", axum::routing::get(control::describe))
        .fallback(api_fallback)
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            faults::api_layer,
        ))
        .layer(middleware::from_fn(http::api_envelope))
        .layer(middleware::from_fn_with_state(shared.clone(), log_requests))
        .with_state(shared)
}

pub fn storage_router(shared: Arc<Shared>) -> Router {
    storage::router(shared.clone())
        .layer(middleware::from_fn_with_state(
            shared.clone(),
            faults::storage_layer,
        ))
        .layer(middleware::from_fn_with_state(shared, log_requests))
}

async fn api_fallback(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    request_id: Option<axum::Extension<http::RequestId>>,
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> Response {
    let path = uri.path();
    if path == exa::BASE || path.starts_with(&format!("{}/", exa::BASE)) {
        shared.stats.hit("exa.other");
        let rid = request_id.map(|r| r.0 .0).unwrap_or_default();
        return exa::ExaError::no_route(&method, path).respond(&rid);
    }
    if let Some(target) = dromo::slash_redirect(uri.path()) {
        shared.stats.hit("dromo.redirect");
        let location = match uri.query() {
            Some(q) => format!("{target}?{q}"),
            None => target,
        };
        return (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, location)],
        )
            .into_response();
    }
    shared.stats.hit("api.not_found");
    http::detail(StatusCode::NOT_FOUND, "Not found.")
}

/// When the first request was logged: the origin of the verbose log's time column.
fn process_start() -> std::time::Instant {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    *START.get_or_init(std::time::Instant::now)
}

async fn log_requests(
    axum::extract::State(shared): axum::extract::State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    if !shared.settings.verbose {
        return next.run(req).await;
    }
    let method = req.method().clone();
    // Path only: query strings carry presigned signatures.
    let path = req.uri().path().to_string();
    let started = std::time::Instant::now();
    let resp = next.run(req).await;
    // Milliseconds since the process started first, so interleaved lines can be lined up in time.
    eprintln!(
        "{:>8} {method} {path} -> {} ({} ms)",
        process_start().elapsed().as_millis(),
        resp.status().as_u16(),
        started.elapsed().as_millis()
    );
    resp
}
