//! Process-wide state shared by the API origin, the storage origin and the control endpoints.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use serde_json::{json, Value};

use crate::clock::TimeScale;
use crate::dromo::DromoState;
use crate::exa::ExaState;
use crate::presign::Presigner;
use crate::storage::Storage;

/// Knobs from the command line that handlers consult at request time.
pub struct Settings {
    /// Dromo's `X-Dromo-License-Key`.
    pub api_key: String,
    /// Exa's `x-api-key`.
    pub exa_api_key: String,
    pub scale: TimeScale,
    /// `--upload-ttl`: real seconds, deliberately not scaled, so a suite can pick an exact lifetime.
    pub upload_ttl: Option<Duration>,
    pub rate_limit: bool,
    pub verbose: bool,
}

impl Settings {
    /// Lifetime for a presigned URL whose documented lifetime is `documented_secs`.
    pub fn url_ttl(&self, documented_secs: f64) -> Duration {
        self.upload_ttl
            .unwrap_or_else(|| self.scale.secs(documented_secs))
    }
}

/// Where the two listeners ended up; only known after binding, and needed to build absolute URLs.
pub struct Origins {
    /// `http://host:port` of the API listener.
    pub api: String,
    /// `http://host:port` of the storage listener.
    pub storage: String,
}

pub struct Shared {
    pub settings: Settings,
    pub origins: Origins,
    pub stats: Stats,
    pub presigner: Presigner,
    pub storage: Storage,
    pub dromo: DromoState,
    pub exa: ExaState,
    /// Installed fault rules (`/_emulator/faults`, `--faults`); untouched by `reset`.
    pub faults: crate::faults::Faults,
    /// Outgoing webhook deliveries: their log and counters.
    pub webhooks: crate::webhooks::Webhooks,
}

impl Shared {
    /// Back to a just-started server, so suites can share one process without seeing each other's imports.
    pub fn reset(&self) {
        self.dromo.reset();
        self.exa.reset();
        self.storage.reset();
        self.stats.reset();
        self.webhooks.reset();
    }
}

/// Per-route request counts, so tests can assert how many calls a client made (retries included).
#[derive(Default)]
pub struct Stats {
    requests: Mutex<BTreeMap<&'static str, u64>>,
    throttled: AtomicU64,
}

impl Stats {
    pub fn hit(&self, label: &'static str) {
        *self.requests.lock().unwrap().entry(label).or_insert(0) += 1;
    }

    pub fn throttled(&self) {
        self.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> Value {
        let requests: serde_json::Map<String, Value> = self
            .requests
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.to_string(), json!(v)))
            .collect();
        json!({ "requests": requests, "throttled": self.throttled.load(Ordering::Relaxed) })
    }

    pub fn reset(&self) {
        self.requests.lock().unwrap().clear();
        self.throttled.store(0, Ordering::Relaxed);
    }
}
