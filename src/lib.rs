//! headless-imports: run headless file imports against Dromo (and Exa Websets) from browsers and
//! Node. This file is the only wasm-bindgen boundary: `Core`, one provider's configured client,
//! whose one method `call(op, a, b, c)` runs an operation; `setup`; and `countCsvRecords`.
//! Everything below it is plain Rust. The classes users call are `pkg/clients.js`, and the
//! TypeScript contract they see is `pkg/index.d.ts`.

// The shipped wasm (built without the `std` feature) links no std: see `panic` below.
#![cfg_attr(all(target_arch = "wasm32", not(feature = "std")), no_std)]
// A one-provider build (`--no-default-features --features exa`, for the `headless-imports/exa`
// entry) leaves some shared helpers unused; the default build, which lint checks, uses them all.
#![cfg_attr(
    not(all(feature = "dromo", feature = "exa")),
    allow(dead_code, unused_imports)
)]
// clippy.toml refuses the formatting macros in what ships; tests (native, never shipped) use them.
#![cfg_attr(test, allow(clippy::disallowed_macros))]

extern crate alloc;

// The small allocator needs a single thread (see its `Sync`); a threaded build keeps dlmalloc.
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
mod heap;
#[cfg(all(target_arch = "wasm32", target_feature = "atomics"))]
compile_error!("headless-imports is single-threaded: build without the `atomics` target feature");
mod client;
mod count;
mod csv_count;
#[cfg(feature = "dromo")]
mod dromo;
mod error;
#[cfg(feature = "exa")]
mod exa;
mod http;
#[cfg(feature = "server")]
mod journal;
mod js;
mod json_split;
mod limit;
mod limit_rule;
#[cfg(feature = "server")]
mod limit_store;
mod opts;
mod page;
mod poll;
mod redact;
mod retry;
mod rows;
#[cfg(all(feature = "dromo", feature = "server"))]
mod schemas;
#[cfg(feature = "server")]
mod signature;
mod status;
mod task;
mod text;
mod timer;
mod upload;
mod url;
mod validate;
#[cfg(feature = "server")]
mod wake;
#[cfg(feature = "server")]
mod webhooks;

/// What std's prelude adds to core's, for modules of a crate whose shipped build is `no_std`.
mod prelude {
    pub use alloc::boxed::Box;
    pub use alloc::string::{String, ToString};
    pub use alloc::vec::Vec;
}

use alloc::boxed::Box;
use alloc::rc::Rc;
use core::future::Future;

use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

use client::Client;
use error::{Error, Result};
use js::plain;

/// Operation codes of `Core::call`, in step with `OP` in `pkg/clients.js`. Each provider's
/// `call` says what its arguments are.
pub mod op {
    pub const IMPORT_FILE: u8 = 1;
    pub const IMPORT_ROWS: u8 = 2;
    pub const CREATE: u8 = 3;
    pub const RETRIEVE: u8 = 4;
    pub const UPDATE: u8 = 5;
    pub const DELETE: u8 = 6;
    pub const RESULT_URL: u8 = 7;
    pub const RESULTS: u8 = 8;
    pub const LIST_PAGE: u8 = 9;
    pub const UPLOAD: u8 = 10;
    pub const WAIT: u8 = 11;
    /// `dromo.imports.rows`: `(id, opts, { sink, stop })`, see `rows::Sink::Stream`.
    pub const ROWS: u8 = 12;
    /// `dromo.schemas` (the `server` build only): list, create, retrieve, update, delete.
    pub const SCHEMA_LIST: u8 = 13;
    pub const SCHEMA_CREATE: u8 = 14;
    pub const SCHEMA_RETRIEVE: u8 = 15;
    pub const SCHEMA_UPDATE: u8 = 16;
    pub const SCHEMA_DELETE: u8 = 17;
    /// `client.webhooks.unwrap` (the `server` build only): `(body, headers, { secret, options })`.
    pub const WEBHOOK_UNWRAP: u8 = 18;
    /// `exa.webhooks` (the `server` build only): create, retrieve, update, delete, one list page.
    pub const WEBHOOK_CREATE: u8 = 19;
    pub const WEBHOOK_RETRIEVE: u8 = 20;
    pub const WEBHOOK_UPDATE: u8 = 21;
    pub const WEBHOOK_DELETE: u8 = 22;
    pub const WEBHOOK_LIST_PAGE: u8 = 23;
    /// A handler received `(event)`, already unwrapped: wakes the client's waits for its import;
    /// resolves whether the event is new.
    pub const WEBHOOK_RECEIVED: u8 = 24;
    /// `importFiles` with a journal (the `server` build only): what to do next for one file,
    /// `(records, seen, { known, now })`, see `journal::decide`.
    pub const JOURNAL_NEXT: u8 = 25;
    /// `importFiles` (the `server` build only): checks its options and files before any request,
    /// as `importFile` would each, and says what a journal is written for, `(options, [{ name,
    /// size }]) -> { provider, baseUrl, params }`.
    pub const FILES_CHECK: u8 = 26;
}

/// Provider codes of `Core::new`, in step with `pkg/clients.js`.
pub const DROMO: u8 = 0;
/// See [`DROMO`].
pub const EXA: u8 = 1;

/// Gives the core what it needs from the JS side: `makeError(name, message, props)` (the error
/// classes live in `pkg/errors.js`), and in Node the streaming uploader (`nodePut`).
#[wasm_bindgen]
pub fn setup(make_error: Function, node_put: Option<Function>) {
    error::set_maker(make_error);
    if let Some(f) = node_put {
        upload::set_node_uploader(f);
    }
}

/// A configured client of one provider. `pkg/clients.js` wraps it in the `Dromo` and `Exa`
/// classes users call: one exported method for every operation keeps the wasm's per-method glue
/// (~450 bytes each) to one.
#[wasm_bindgen]
pub struct Core {
    api: Rc<Api>,
}

enum Api {
    #[cfg(feature = "dromo")]
    Dromo(dromo::Dromo),
    #[cfg(feature = "exa")]
    Exa(exa::Exa),
}

#[wasm_bindgen]
impl Core {
    /// `new Core(provider, options)`: validates the client options (`ValidationError` if wrong).
    #[wasm_bindgen(constructor)]
    pub fn new(provider: u8, options: JsValue) -> core::result::Result<Core, JsValue> {
        let raw = options;
        let options = plain(&raw, "options")?;
        #[cfg(feature = "server")]
        crate::limit_store::keep_original(&raw, &options);
        let api = match provider {
            #[cfg(feature = "dromo")]
            DROMO => Api::Dromo(dromo::Dromo {
                client: Client::from_js(&dromo::DROMO, &options)?,
                #[cfg(feature = "server")]
                made: Default::default(),
            }),
            #[cfg(feature = "exa")]
            EXA => Api::Exa(exa::Exa {
                client: Client::from_js(&exa::EXA, &options)?,
            }),
            _ => return Err(Error::invalid("provider", "is not in this build").into()),
        };
        Ok(Core { api: Rc::new(api) })
    }

    /// Runs operation `op` (see [`op`]) with up to three arguments; resolves its result or
    /// rejects with one of the error classes.
    pub fn call(&self, op: u8, a: JsValue, b: JsValue, c: JsValue) -> Promise {
        let api = self.api.clone();
        promise(async move {
            match &*api {
                #[cfg(feature = "dromo")]
                Api::Dromo(d) => d.call(op, a, b, c).await,
                #[cfg(feature = "exa")]
                Api::Exa(e) => e.call(op, a, b, c).await,
            }
        })
    }
}

/// The error for an operation code a provider does not have (a mismatched `clients.js`).
pub(crate) fn unknown_op(op: u8) -> Error {
    Error::invalid(
        "op",
        [
            "is not an operation of this client: ",
            &text::uint(op.into()),
        ]
        .concat(),
    )
}

/// Runs a Rust future as a JS promise, turning our errors into the JS error classes. The one
/// `future_to_promise` instance: boxed first, so its executor glue (1-3 KB of wasm per future
/// type) is not monomorphised per operation.
fn promise(f: impl Future<Output = Result<JsValue>> + 'static) -> Promise {
    task::spawn(Box::pin(async move { f.await.map_err(JsValue::from) }))
}

/// Counts the RFC 4180 records of a CSV `Blob` (or bytes, or string) chunk by chunk:
/// `countCsvRecords(blob, { header = true })`. Quoted fields may hold commas, quotes and newlines.
#[cfg(feature = "exa")]
#[wasm_bindgen(js_name = countCsvRecords)]
pub fn count_csv_records(body: JsValue, options: JsValue) -> Promise {
    promise(async move { count::from_js(&body, &plain(&options, "options")?).await })
}

/// Without std (the shipped wasm) a panic traps: the JS caller sees a `RuntimeError: unreachable`.
/// Nothing here is meant to panic (bad input is a `ValidationError`); std's handler would only add
/// a message for the console, at the price of its formatting machinery in every download.
#[cfg(all(target_arch = "wasm32", not(feature = "std")))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}
