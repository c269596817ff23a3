//! Small helpers for reading and building plain JS values.
//!
//! Params and wire objects stay JS objects end to end (no serde round trip): the wire shape the user
//! passes is the wire shape that is sent, and the wasm stays small.

use core::cell::RefCell;

use js_sys::{Function, Object, Reflect};
use wasm_bindgen::prelude::*;

use crate::prelude::*;

/// A JS function the package hands the core once (`setup`) and the core reads later. std's
/// `thread_local!` is not there in the shipped (`no_std`) build; a static cell serves instead.
pub struct Slot(RefCell<Option<Function>>);

// SAFETY: a JS value only exists in the wasm build, which is single-threaded: the crate installs
// its heap only without the `atomics` target feature and refuses to build with it (lib.rs). No two
// threads can reach a `Slot`, and `set`/`get` hold the borrow for no longer than the call.
unsafe impl Sync for Slot {}

impl Slot {
    /// An empty slot.
    pub const fn new() -> Self {
        Slot(RefCell::new(None))
    }

    /// Puts `f` in the slot, replacing what was there.
    pub fn set(&self, f: Function) {
        *self.0.borrow_mut() = Some(f);
    }

    /// What the slot holds.
    pub fn get(&self) -> Option<Function> {
        self.0.borrow().clone()
    }
}

#[wasm_bindgen(module = "/src/js/plain.js")]
extern "C" {
    /// A plain copy of a caller's argument; throws `[path, message]` (see plain.js).
    #[wasm_bindgen(catch, js_name = plain)]
    fn plain_copy(v: &JsValue, path: &str) -> Result<JsValue, JsValue>;
    /// `[value, size, name]` of a body to upload or count; throws a message.
    #[wasm_bindgen(catch, js_name = bodyOf)]
    pub fn body_of(v: &JsValue) -> Result<js_sys::Array, JsValue>;
    /// A reader over a body's bytes (a Blob, through `Blob.prototype.stream`, or bytes) in
    /// pieces of at most 1 MiB, paced so that timers still run.
    #[wasm_bindgen(catch, js_name = readerOf)]
    pub fn reader_of(body: &JsValue) -> Result<JsValue, JsValue>;
}

/// The caller's argument as plain data the core can read safely: every getter and Proxy trap
/// runs once, here, and a value that throws becomes a `ValidationError` naming where. Every
/// exported method passes its object arguments through this before looking at them.
pub fn plain(v: &JsValue, path: &str) -> crate::error::Result<JsValue> {
    plain_copy(v, path).map_err(|e| {
        let e = js_sys::Array::from(&e);
        crate::error::Error::invalid(
            e.get(0).as_string().unwrap_or_else(|| path.to_string()),
            e.get(1).as_string().unwrap_or_default(),
        )
    })
}

#[wasm_bindgen]
extern "C" {
    /// `JSON.parse` of a JS string, without copying it through wasm memory (js-sys's takes `&str`).
    #[wasm_bindgen(js_namespace = JSON, js_name = parse, catch)]
    pub fn json_parse(text: &JsValue) -> Result<JsValue, JsValue>;
}

/// `obj[key]`, or `undefined` when `obj` is not an object.
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub fn set(obj: &Object, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// `null` and `undefined` both mean "not given" in options.
pub fn is_absent(v: &JsValue) -> bool {
    v.is_undefined() || v.is_null()
}

/// A non-null, non-array object.
pub fn is_plain_object(v: &JsValue) -> bool {
    v.is_object() && !js_sys::Array::is_array(v)
}

/// An array. Only objects are asked: a function is never a Proxy we copied (`plain` keeps
/// functions as they are), and `Array.isArray` throws on a revoked one.
pub fn is_array(v: &JsValue) -> bool {
    v.is_object() && js_sys::Array::is_array(v)
}

/// Own enumerable keys of an object.
pub fn keys(obj: &JsValue) -> Vec<String> {
    if !obj.is_object() {
        return Vec::new();
    }
    Object::keys(obj.unchecked_ref::<Object>())
        .iter()
        .filter_map(|k| k.as_string())
        .collect()
}

pub fn get_str(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string()
}

/// A shallow copy of `obj` without `omit` keys and without `undefined` values.
pub fn copy_without(obj: &JsValue, omit: &[&str]) -> Object {
    let out = Object::new();
    for k in keys(obj) {
        if omit.contains(&k.as_str()) {
            continue;
        }
        let v = get(obj, &k);
        if !v.is_undefined() {
            set(&out, &k, &v);
        }
    }
    out
}

/// A short human description of a JS value's type, for error messages.
pub fn type_name(v: &JsValue) -> &'static str {
    if v.is_undefined() {
        "undefined"
    } else if v.is_null() {
        "null"
    } else if is_array(v) {
        "an array"
    } else if v.is_string() {
        "a string"
    } else if v.as_f64().is_some() {
        "a number"
    } else if v.as_bool().is_some() {
        "a boolean"
    } else if v.is_function() {
        "a function"
    } else {
        "an object"
    }
}
