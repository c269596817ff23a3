//! Feeding a body to the CSV record counter piece by piece through `readerOf`: a Blob through its
//! stream (the file is never whole in JS or wasm memory), bytes in slices. The counting itself is
//! `csv_count.rs`.

use crate::prelude::*;
use js_sys::{Function, Promise, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::AbortSignal;

use crate::csv_count::{data_records, RecordCounter};
use crate::error::{Error, Kind, Result};
use crate::js::{get, is_absent, is_plain_object};
use crate::opts::signal;
use crate::timer::check;
use crate::upload;

/// The number of CSV records in `body` (a Blob or a Uint8Array, as `upload::body` gives them), excluding the header row when
/// `header` is true. Malformed CSV (an unterminated quote) is a `ValidationError`.
pub async fn records(body: &JsValue, header: bool, signal: Option<&AbortSignal>) -> Result<u64> {
    let mut counter = RecordCounter::new();
    let mut buf: Vec<u8> = Vec::new();
    // Bytes and Blobs alike, in pieces of at most 1 MiB (wasm memory never shrinks back after
    // holding a whole in-memory Blob), with turns of the event loop: see `readerOf`.
    let reader = crate::js::reader_of(body).map_err(read_error)?;
    let read: Function = get(&reader, "read").unchecked_into();
    loop {
        if let Err(e) = check(signal) {
            let _ = get(&reader, "cancel")
                .dyn_into::<Function>()
                .map(|c| c.call0(&reader));
            return Err(e);
        }
        let step = read.call0(&reader).map_err(read_error)?;
        let step = crate::task::settled(Promise::resolve(&step))
            .await
            .map_err(read_error)?;
        if get(&step, "done").as_bool() == Some(true) {
            break;
        }
        let chunk: Uint8Array = get(&step, "value").unchecked_into();
        buf.resize(chunk.length() as usize, 0);
        chunk.copy_to(&mut buf);
        counter.feed(&buf);
    }
    let counted = counter.finish();
    if counted.malformed {
        return Err(Error::invalid(
            "body",
            "is not valid CSV: a quoted field is never closed (an odd number of \" characters)",
        ));
    }
    Ok(data_records(&counted, header))
}

/// `countCsvRecords(body, { header = true, signal? })`: an empty body has zero records.
pub async fn from_js(body: &JsValue, options: &JsValue) -> Result<JsValue> {
    if !is_absent(options) && !is_plain_object(options) {
        return Err(Error::invalid(
            "options",
            "must be an object like { header: true }",
        ));
    }
    crate::validate::only_keys(options, "options", &[&["header", "signal"]])?;
    let header = crate::opts::boolean(options, "header", "options")?.unwrap_or(true);
    // An empty file has zero records; that is an answer here, not an error.
    let data = upload::read_body(body, "body")?;
    if data.size == 0.0 {
        return Ok(JsValue::from_f64(0.0));
    }
    let n = records(&data.value, header, signal(options, "options")?.as_ref()).await?;
    Ok(JsValue::from_f64(n as f64))
}

fn read_error(cause: JsValue) -> Error {
    let mut e = Error::new(
        Kind::Validation,
        "Could not read the file (was it moved or deleted?).",
    );
    e.code = Some("read_error");
    if !cause.is_undefined() {
        e.cause = Some(cause);
    }
    e
}
