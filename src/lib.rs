//! headless-imports: run headless file imports against Dromo (and Exa Websets) from browsers and
//! Node. This file is the only wasm-bindgen boundary; everything below it is plain Rust.
//!
//! The TypeScript contract users see is `pkg/index.d.ts`; the doc comments here say the same in
//! fewer words.

// A one-provider build (`--no-default-features --features exa`, for the `headless-imports/exa`
// entry) leaves some shared helpers unused; the default build, which lint checks, uses them all.
#![cfg_attr(
    not(all(feature = "dromo", feature = "exa")),
    allow(dead_code, unused_imports)
)]

// The small allocator needs a single thread (see its `Sync`); a threaded build keeps dlmalloc.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
mod alloc;
mod client;
mod count;
mod csv_count;
#[cfg(feature = "dromo")]
mod dromo;
mod error;
#[cfg(feature = "exa")]
mod exa;
mod http;
mod js;
mod limit;
mod page;
mod poll;
mod redact;
mod retry;
mod status;
mod text;
mod timer;
mod upload;
mod url;
mod validate;

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use client::{CallOptions, Client};
use error::{Error, Result};
use js::plain;
use poll::WaitOptions;

#[wasm_bindgen(module = "/src/js/paged.js")]
extern "C" {
    #[wasm_bindgen(js_name = pagedList)]
    fn paged_list(owner: JsValue, params: &JsValue) -> JsValue;
}

/// Runs a Rust future as a JS promise, turning our errors into the JS error classes.
fn promise<F>(f: F) -> Promise
where
    F: Future<Output = Result<JsValue>> + 'static,
{
    boxed_promise(Box::pin(f))
}

/// The one `future_to_promise` instance: boxing first keeps its executor glue (about 1-3 KB of
/// wasm per future type) from being monomorphised once per exported async method.
fn boxed_promise(f: Pin<Box<dyn Future<Output = Result<JsValue>>>>) -> Promise {
    future_to_promise(async move { f.await.map_err(JsValue::from) })
}

/// Per-call options (`{ signal?, timeoutMs?, maxRetries?, headers? }`), read from a plain copy.
fn call_options(opts: &JsValue) -> Result<CallOptions> {
    CallOptions::from_js(&plain(opts, "opts")?, "opts")
}

/// The JS error classes (`HeadlessImportsError`, `APIError`, ...), for the package entries to export.
#[wasm_bindgen(js_name = errorClasses)]
pub fn error_classes() -> JsValue {
    error::error_classes()
}

/// Registers the Node streaming uploader. Called by the Node entry; not part of the public API.
#[wasm_bindgen(js_name = setNodeUploader)]
pub fn set_node_uploader(f: Function) {
    upload::set_node_uploader(f);
}

#[cfg(feature = "dromo")]
/// A client for Dromo's Headless Import API.
#[wasm_bindgen]
pub struct Dromo {
    inner: Rc<dromo::Dromo>,
    /// Made once, so `client.imports` is always the same object (and costs nothing per call).
    imports: JsValue,
}

#[cfg(feature = "dromo")]
#[wasm_bindgen]
impl Dromo {
    /// `new Dromo({ apiKey, baseUrl?, maxRetries?, timeoutMs?, headers?, fetch?, dangerouslyAllowBrowser? })`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> core::result::Result<Dromo, JsValue> {
        let client = Client::from_js(&dromo::DROMO, &plain(&options, "options")?)?;
        let inner = Rc::new(dromo::Dromo { client });
        let imports = DromoImports {
            inner: inner.clone(),
        }
        .into();
        Ok(Dromo { inner, imports })
    }

    /// The `/headless/imports/` endpoints.
    #[wasm_bindgen(getter = imports, unchecked_return_type = "DromoImports")]
    pub fn imports_js(&self) -> JsValue {
        self.imports.clone()
    }

    /// Create -> upload -> wait -> results, in one call. Resolves `{ import, rows? }`.
    #[wasm_bindgen(js_name = importFile)]
    pub fn import_file(&self, body: JsValue, options: JsValue) -> Promise {
        let d = self.inner.clone();
        promise(async move { d.import_file(&body, &plain(&options, "options")?).await })
    }

    /// Create with `initial_data` -> wait -> results, in one call. Resolves `{ import, rows? }`.
    #[wasm_bindgen(js_name = importRows)]
    pub fn import_rows(&self, rows: JsValue, options: JsValue) -> Promise {
        let d = self.inner.clone();
        promise(async move {
            d.import_rows(&plain(&rows, "rows")?, &plain(&options, "options")?)
                .await
        })
    }
}

#[cfg(feature = "dromo")]
impl Dromo {
    /// `imports` for Rust callers (the wasm tests).
    pub fn imports(&self) -> DromoImports {
        DromoImports {
            inner: self.inner.clone(),
        }
    }
}

#[cfg(feature = "dromo")]
/// `dromo.imports`: create, retrieve, list, upload, wait, results.
#[wasm_bindgen]
pub struct DromoImports {
    inner: Rc<dromo::Dromo>,
}

#[cfg(feature = "dromo")]
#[wasm_bindgen]
impl DromoImports {
    /// `POST /headless/imports/`: validates `params` against the documented schema first.
    pub fn create(&self, params: JsValue, opts: JsValue) -> Promise {
        let d = self.inner.clone();
        promise(async move {
            d.create(&plain(&params, "params")?, &call_options(&opts)?)
                .await
        })
    }

    /// `GET /headless/imports/{id}/`.
    pub fn retrieve(&self, id: JsValue, opts: JsValue) -> Promise {
        let d = self.inner.clone();
        promise(async move { d.retrieve(&id, &call_options(&opts)?).await })
    }

    /// `DELETE /headless/imports/{id}/`; resolves `undefined`.
    pub fn delete(&self, id: JsValue, opts: JsValue) -> Promise {
        let d = self.inner.clone();
        promise(async move { d.delete(&id, &call_options(&opts)?).await })
    }

    /// `GET /headless/imports/{id}/url/` -> the presigned result URL.
    #[wasm_bindgen(js_name = resultUrl)]
    pub fn result_url(&self, id: JsValue, opts: JsValue) -> Promise {
        let d = self.inner.clone();
        promise(async move {
            let url = d.result_url(&id, &call_options(&opts)?).await?;
            Ok(JsValue::from_str(&url))
        })
    }

    /// The cleaned result rows of a SUCCESSFUL import.
    pub fn results(&self, id: JsValue, opts: JsValue) -> Promise {
        let d = self.inner.clone();
        promise(async move { d.results(&id, &call_options(&opts)?).await })
    }

    /// `GET /headless/imports/`: await it for one page, or `for await` it for every import.
    pub fn list(&self, params: JsValue) -> JsValue {
        let owner = DromoImports {
            inner: self.inner.clone(),
        };
        paged_list(owner.into(), &params)
    }

    /// One page for `list` (internal).
    #[wasm_bindgen(js_name = _listPage)]
    pub fn list_page(&self, params: JsValue) -> Promise {
        let d = self.inner.clone();
        promise(async move { d.list_page(&plain(&params, "params")?).await })
    }

    /// PUTs `body` to the import's presigned upload URL (or the URL string given).
    pub fn upload(&self, target: JsValue, body: JsValue, opts: JsValue) -> Promise {
        let d = self.inner.clone();
        promise(async move {
            let target = plain(&target, "target")?;
            let url = dromo::upload_url_of(&target)?;
            let opts = plain(&opts, "opts")?;
            upload::to_target(&url, &target, &body, &opts, &d.client, dromo::EXPIRED_HINT).await
        })
    }

    /// Polls until SUCCESSFUL (resolves), NEEDS_REVIEW (resolves unless `waitForReview`), FAILED
    /// (`ImportFailedError`) or the deadline (`WaitTimeoutError`).
    #[wasm_bindgen(js_name = waitForCompletion)]
    pub fn wait_for_completion(&self, id: JsValue, opts: JsValue) -> Promise {
        let d = self.inner.clone();
        promise(async move {
            let opts =
                WaitOptions::from_js(&plain(&opts, "opts")?, "opts", dromo::DEFAULT_INTERVAL_MS)?;
            d.wait(&id, &opts).await
        })
    }
}

#[cfg(feature = "exa")]
/// A client for Exa's Websets Imports API.
#[wasm_bindgen]
pub struct Exa {
    inner: Rc<exa::Exa>,
    /// Made once, so `client.imports` is always the same object (and costs nothing per call).
    imports: JsValue,
}

#[cfg(feature = "exa")]
#[wasm_bindgen]
impl Exa {
    /// `new Exa({ apiKey, baseUrl?, maxRetries?, timeoutMs?, headers?, fetch?, dangerouslyAllowBrowser? })`.
    #[wasm_bindgen(constructor)]
    pub fn new(options: JsValue) -> core::result::Result<Exa, JsValue> {
        let client = Client::from_js(&exa::EXA, &plain(&options, "options")?)?;
        let inner = Rc::new(exa::Exa { client });
        let imports = ExaImports {
            inner: inner.clone(),
        }
        .into();
        Ok(Exa { inner, imports })
    }

    /// The `/v0/imports` endpoints.
    #[wasm_bindgen(getter = imports, unchecked_return_type = "ExaImports")]
    pub fn imports_js(&self) -> JsValue {
        self.imports.clone()
    }

    /// Count records and size -> create -> upload (deleting the import if the upload finally
    /// fails) -> wait. Resolves `{ import }`.
    #[wasm_bindgen(js_name = importFile)]
    pub fn import_file(&self, body: JsValue, options: JsValue) -> Promise {
        let e = self.inner.clone();
        promise(async move { e.import_file(&body, &plain(&options, "options")?).await })
    }
}

#[cfg(feature = "exa")]
impl Exa {
    /// `imports` for Rust callers (the wasm tests).
    pub fn imports(&self) -> ExaImports {
        ExaImports {
            inner: self.inner.clone(),
        }
    }
}

#[cfg(feature = "exa")]
/// `exa.imports`: create, retrieve, update, delete, list, upload, wait.
#[wasm_bindgen]
pub struct ExaImports {
    inner: Rc<exa::Exa>,
}

#[cfg(feature = "exa")]
#[wasm_bindgen]
impl ExaImports {
    /// `POST /v0/imports` with `CreateImportParameters`; resolves with `uploadUrl` and `uploadValidUntil`.
    pub fn create(&self, params: JsValue, opts: JsValue) -> Promise {
        let e = self.inner.clone();
        promise(async move {
            e.create(&plain(&params, "params")?, &call_options(&opts)?)
                .await
        })
    }

    /// `GET /v0/imports/{id}`.
    pub fn retrieve(&self, id: JsValue, opts: JsValue) -> Promise {
        let e = self.inner.clone();
        promise(async move { e.retrieve(&id, &call_options(&opts)?).await })
    }

    /// `PATCH /v0/imports/{id}` with `{ title?, metadata? }`.
    pub fn update(&self, id: JsValue, params: JsValue, opts: JsValue) -> Promise {
        let e = self.inner.clone();
        promise(async move {
            e.update(&id, &plain(&params, "params")?, &call_options(&opts)?)
                .await
        })
    }

    /// `DELETE /v0/imports/{id}`; resolves with the deleted import.
    pub fn delete(&self, id: JsValue, opts: JsValue) -> Promise {
        let e = self.inner.clone();
        promise(async move { e.delete(&id, &call_options(&opts)?).await })
    }

    /// `GET /v0/imports`: await it for one page, or `for await` it for every import.
    pub fn list(&self, params: JsValue) -> JsValue {
        let owner = ExaImports {
            inner: self.inner.clone(),
        };
        paged_list(owner.into(), &params)
    }

    /// One page for `list` (internal).
    #[wasm_bindgen(js_name = _listPage)]
    pub fn list_page(&self, params: JsValue) -> Promise {
        let e = self.inner.clone();
        promise(async move { e.list_page(&plain(&params, "params")?).await })
    }

    /// PUTs `body` to the import's `uploadUrl` (or the URL string given).
    pub fn upload(&self, target: JsValue, body: JsValue, opts: JsValue) -> Promise {
        let e = self.inner.clone();
        promise(async move {
            let target = plain(&target, "target")?;
            let opts = plain(&opts, "opts")?;
            let url = match target.as_string() {
                Some(u) => u,
                None => js::get_str(&target, "uploadUrl").ok_or_else(|| {
                    Error::invalid(
                        "target",
                        "must be an import from create (with uploadUrl) or the URL string",
                    )
                })?,
            };
            upload::to_target(&url, &target, &body, &opts, &e.client, exa::EXPIRED_HINT).await
        })
    }

    /// Polls until `completed` (resolves), `failed`/`canceled` (`ImportFailedError` with
    /// `failedReason`, `failedMessage`) or the deadline (`WaitTimeoutError`).
    #[wasm_bindgen(js_name = waitForCompletion)]
    pub fn wait_for_completion(&self, id: JsValue, opts: JsValue) -> Promise {
        let e = self.inner.clone();
        promise(async move {
            let opts =
                WaitOptions::from_js(&plain(&opts, "opts")?, "opts", exa::DEFAULT_INTERVAL_MS)?;
            e.wait(&id, &opts).await
        })
    }
}

/// Counts the RFC 4180 records of a CSV `Blob` (or bytes, or string) chunk by chunk:
/// `countCsvRecords(blob, { header = true })`. Quoted fields may hold commas, quotes and newlines.
#[wasm_bindgen(js_name = countCsvRecords)]
pub fn count_csv_records(body: JsValue, options: JsValue) -> Promise {
    promise(async move { count::from_js(&body, &plain(&options, "options")?).await })
}
