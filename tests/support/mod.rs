//! The clients as `pkg/clients.js` builds them over `Core`, for the wasm suites: each method is
//! one `Core::call` with its operation code, exactly as the JS classes do.
#![allow(dead_code)]

use headless_imports::{op, Core};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::*;

const NONE: JsValue = JsValue::UNDEFINED;

// What pkg/clients.js hands the core at start-up, minus the classes (those are pkg/errors.js,
// tested by tests/js/): errors here are plain Errors with the class's name and properties.
#[wasm_bindgen(
    inline_js = "export function maker() { return (name, message, props) => Object.assign(new Error(message), props, { name }); }"
)]
extern "C" {
    fn maker() -> Function;
}

/// `setup`, as every package entry does before anything else.
pub fn ready() {
    headless_imports::setup(maker(), None);
}

/// `new Dromo(options)`.
pub struct Dromo(Core);

impl Dromo {
    pub fn new(options: JsValue) -> Result<Dromo, JsValue> {
        ready();
        Core::new(headless_imports::DROMO, options).map(Dromo)
    }
    /// `dromo.imports` (the same operations, as in JS).
    pub fn imports(&self) -> &Dromo {
        self
    }
    pub fn import_file(&self, body: JsValue, options: JsValue) -> Promise {
        self.0.call(op::IMPORT_FILE, body, options, NONE)
    }
    pub fn import_rows(&self, rows: JsValue, options: JsValue) -> Promise {
        self.0.call(op::IMPORT_ROWS, rows, options, NONE)
    }
    pub fn create(&self, params: JsValue, opts: JsValue) -> Promise {
        self.0.call(op::CREATE, params, opts, NONE)
    }
    pub fn retrieve(&self, id: JsValue, opts: JsValue) -> Promise {
        self.0.call(op::RETRIEVE, id, opts, NONE)
    }
    pub fn list_page(&self, params: JsValue) -> Promise {
        self.0.call(op::LIST_PAGE, params, NONE, NONE)
    }
    pub fn upload(&self, target: JsValue, body: JsValue, opts: JsValue) -> Promise {
        self.0.call(op::UPLOAD, target, body, opts)
    }
    pub fn wait_for_completion(&self, id: JsValue, opts: JsValue) -> Promise {
        self.0.call(op::WAIT, id, opts, NONE)
    }
}

/// `new Exa(options)`.
pub struct Exa(Core);

impl Exa {
    pub fn new(options: JsValue) -> Result<Exa, JsValue> {
        ready();
        Core::new(headless_imports::EXA, options).map(Exa)
    }
    pub fn imports(&self) -> &Exa {
        self
    }
    pub fn import_file(&self, body: JsValue, options: JsValue) -> Promise {
        self.0.call(op::IMPORT_FILE, body, options, NONE)
    }
    pub fn create(&self, params: JsValue, opts: JsValue) -> Promise {
        self.0.call(op::CREATE, params, opts, NONE)
    }
    pub fn retrieve(&self, id: JsValue, opts: JsValue) -> Promise {
        self.0.call(op::RETRIEVE, id, opts, NONE)
    }
    pub fn update(&self, id: JsValue, params: JsValue, opts: JsValue) -> Promise {
        self.0.call(op::UPDATE, id, params, opts)
    }
    pub fn list_page(&self, params: JsValue) -> Promise {
        self.0.call(op::LIST_PAGE, params, NONE, NONE)
    }
}
