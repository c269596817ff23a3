//! The library through its exported API, against the local emulator, in Node and in headless
//! Chromium (the same file: `WASM_BINDGEN_USE_BROWSER=1` selects the browser). Real HTTP, real
//! CORS, real presigned URLs. `scripts/test.sh` starts the emulator and passes its address in
//! `HI_EMULATOR_API` at compile time.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::disallowed_macros)] // tests never ship: formatting is fine here (see clippy.toml)

mod support;
use js_sys::{Array, Function, Object, Promise, Reflect, JSON};
use support::Dromo;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

const API: &str = match option_env!("HI_EMULATOR_API") {
    Some(a) => a,
    None => "http://127.0.0.1:18080/api/v1",
};
const KEY: &str = "test-dromo-key";
const CONTACTS: &str = "4eefe3fe-7181-4562-aa28-8cfe1c5bdf1b";

fn json(s: &str) -> JsValue {
    JSON::parse(s).expect("test JSON")
}

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap()
}

fn str_of(v: &JsValue, k: &str) -> String {
    get(v, k).as_string().unwrap_or_default()
}

fn client() -> Dromo {
    Dromo::new(json(&format!(
        r#"{{"apiKey":"{KEY}","baseUrl":"{API}","dangerouslyAllowBrowser":true}}"#
    )))
    .unwrap_or_else(|e| panic!("client: {:?}", e))
}

fn csv_file(name: &str, text: &str) -> JsValue {
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&Array::of1(&text.into()), &{
        let o = web_sys::BlobPropertyBag::new();
        o.set_type("text/csv");
        o
    })
    .unwrap();
    // A File where the platform has one (browsers, Node 20): importFile takes the name from it.
    let file_ctor = get(&js_sys::global(), "File");
    match file_ctor.dyn_ref::<Function>() {
        Some(f) => Reflect::construct(f, &Array::of2(&Array::of1(&blob), &name.into())).unwrap(),
        None => blob.into(),
    }
}

async fn settle(p: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(p).await
}

fn class_of(err: &JsValue) -> String {
    str_of(err, "name")
}

/// The options object of importFile, with a fast poll interval (the emulator runs on a scaled clock).
fn opts(extra: &str) -> JsValue {
    json(&format!(
        r#"{{"schema_id":"{CONTACTS}","timeoutMs":20000{extra}}}"#
    ))
}

const GOOD: &str = "First Name,Last Name,Email Address,Age\nAda,Lovelace,ada@example.com,36\nAlan,Turing,alan@example.com,41\n";

#[wasm_bindgen_test]
async fn a_file_imports_end_to_end_with_progress_and_statuses() {
    let d = client();
    let seen = Array::new();
    let progress = Array::new();
    let o = opts("");
    let seen2 = seen.clone();
    let on_status = Closure::<dyn FnMut(JsValue)>::new(move |imp: JsValue| {
        seen2.push(&get(&imp, "status"));
    });
    let progress2 = progress.clone();
    let on_progress = Closure::<dyn FnMut(JsValue)>::new(move |p: JsValue| {
        progress2.push(&get(&p, "loaded"));
    });
    Reflect::set(&o, &"onStatus".into(), on_status.as_ref()).unwrap();
    Reflect::set(&o, &"onProgress".into(), on_progress.as_ref()).unwrap();
    let out = settle(d.import_file(csv_file("contacts.csv", GOOD), o))
        .await
        .expect("import");
    let imp = get(&out, "import");
    assert_eq!(str_of(&imp, "status"), "SUCCESSFUL");
    assert_eq!(str_of(&imp, "original_filename"), "contacts.csv");
    let rows = Array::from(&get(&out, "rows"));
    assert_eq!(rows.length(), 2);
    assert_eq!(str_of(&rows.get(0), "email"), "ada@example.com");
    assert_eq!(str_of(&rows.get(1), "first_name"), "Alan");
    // Statuses arrive in order, each once, ending at SUCCESSFUL.
    let seen: Vec<String> = seen.iter().filter_map(|s| s.as_string()).collect();
    assert_eq!(
        seen.last().map(String::as_str),
        Some("SUCCESSFUL"),
        "{seen:?}"
    );
    let mut dedup = seen.clone();
    dedup.dedup();
    assert_eq!(dedup, seen);
    // Progress is monotonic and ends at the byte size.
    let loaded: Vec<f64> = progress.iter().filter_map(|v| v.as_f64()).collect();
    assert!(!loaded.is_empty());
    assert!(loaded.windows(2).all(|w| w[0] <= w[1]), "{loaded:?}");
    assert_eq!(*loaded.last().unwrap(), GOOD.len() as f64);
}

#[wasm_bindgen_test]
async fn rows_import_with_an_inline_schema() {
    let d = client();
    let rows = json(
        r#"[{"product":"widget1","transaction":"foo123"},{"product":"widget2","transaction":"foo456"}]"#,
    );
    let o = json(
        r#"{"fields":[{"key":"product","label":"Product","type":"string"},{"key":"transaction","label":"Transaction","type":"string","validators":[{"validate":"unique"}]}]}"#,
    );
    let out = settle(d.import_rows(rows, o)).await.expect("importRows");
    assert_eq!(str_of(&get(&out, "import"), "status"), "SUCCESSFUL");
    let rows = Array::from(&get(&out, "rows"));
    assert_eq!(rows.length(), 2);
    assert_eq!(str_of(&rows.get(1), "transaction"), "foo456");
}

#[wasm_bindgen_test]
async fn an_invalid_email_stops_at_needs_review_with_a_review_url() {
    let d = client();
    let csv = "First Name,Last Name,Email Address\nAda,Lovelace,not-an-email\n";
    let err = settle(d.import_file(csv_file("bad.csv", csv), opts("")))
        .await
        .expect_err("rejects at review");
    assert_eq!(class_of(&err), "NeedsReviewError");
    let imp = get(&err, "import");
    assert_eq!(str_of(&imp, "status"), "NEEDS_REVIEW");
    assert!(str_of(&imp, "review_url").starts_with("http"));
    assert_eq!(str_of(&err, "reviewUrl"), str_of(&imp, "review_url"));
}

#[wasm_bindgen_test]
async fn an_empty_data_file_fails_with_the_import_attached() {
    let d = client();
    let err = settle(d.import_file(
        csv_file("empty.csv", "First Name,Email Address\n"),
        opts(""),
    ))
    .await
    .expect_err("FAILED rejects");
    assert_eq!(class_of(&err), "ImportFailedError");
    assert_eq!(str_of(&get(&err, "import"), "status"), "FAILED");
    assert!(!str_of(&get(&err, "import"), "id").is_empty());
}

#[wasm_bindgen_test]
async fn a_wrong_key_is_an_authentication_error_with_a_request_id() {
    let d = Dromo::new(json(&format!(
        r#"{{"apiKey":"wrong-key-123","baseUrl":"{API}","dangerouslyAllowBrowser":true}}"#
    )))
    .unwrap();
    let err = settle(d.imports().retrieve("abc".into(), JsValue::UNDEFINED))
        .await
        .expect_err("401");
    assert_eq!(class_of(&err), "AuthenticationError");
    assert_eq!(get(&err, "status").as_f64(), Some(401.0));
    assert!(str_of(&err, "requestId").starts_with("req_"));
    assert!(!str_of(&err, "message").contains("wrong-key-123"));
}

#[wasm_bindgen_test]
async fn an_unknown_schema_is_not_found() {
    let d = client();
    let p =
        json(r#"{"schema_id":"00000000-0000-4000-8000-000000000000","original_filename":"a.csv"}"#);
    let err = settle(d.imports().create(p, JsValue::UNDEFINED))
        .await
        .expect_err("404");
    assert_eq!(class_of(&err), "NotFoundError");
}

#[wasm_bindgen_test]
async fn bad_params_are_rejected_before_any_request() {
    // An unreachable base URL: a request would be a connection error, not a validation error.
    let d = Dromo::new(json(
        r#"{"apiKey":"k","baseUrl":"http://127.0.0.1:9/api/v1","dangerouslyAllowBrowser":true}"#,
    ))
    .unwrap();
    let cases = [
        (
            r#"{"schema_id":"x","fields":[{"key":"a","label":"A","type":"string"}],"original_filename":"a.csv"}"#,
            "fields",
        ),
        (
            r#"{"fields":[{"key":"a","label":"A","type":"string"},{"key":"b","type":"string"}],"original_filename":"a.csv"}"#,
            "fields[1].label",
        ),
        (
            r#"{"schema_id":"x","original_filename":"a.csv","settings":{"invalidDataBehavior":"MAYBE"}}"#,
            "settings.invalidDataBehavior",
        ),
        (r#"{"schema_id":"x"}"#, "original_filename"),
    ];
    for (params, path) in cases {
        let err = settle(d.imports().create(json(params), JsValue::UNDEFINED))
            .await
            .expect_err(params);
        assert_eq!(class_of(&err), "ValidationError", "{params}");
        assert_eq!(str_of(&err, "path"), path, "{params}");
    }
}

#[wasm_bindgen_test]
async fn a_tampered_upload_url_is_an_upload_error_without_the_signature() {
    let d = client();
    let p = json(&format!(
        r#"{{"schema_id":"{CONTACTS}","original_filename":"a.csv"}}"#
    ));
    let imp = settle(d.imports().create(p, JsValue::UNDEFINED))
        .await
        .expect("create");
    let url = str_of(&imp, "upload");
    let sig = url.split("X-Amz-Signature=").nth(1).unwrap().to_string();
    let tampered = url.replace(&sig, &"0".repeat(sig.len()));
    let err = settle(
        d.imports()
            .upload(tampered.into(), "a,b\n1,2\n".into(), JsValue::UNDEFINED),
    )
    .await
    .expect_err("403");
    assert_eq!(class_of(&err), "UploadError");
    assert_eq!(str_of(&err, "s3Code"), "SignatureDoesNotMatch");
    assert_eq!(get(&err, "expired").as_bool(), Some(false));
    assert!(!str_of(&err, "message").contains("0000000000"));
    // The real URL still works: the import was not spoiled by the failed attempt.
    settle(d.imports().upload(imp, GOOD.into(), JsValue::UNDEFINED))
        .await
        .expect("upload");
}

#[wasm_bindgen_test]
async fn list_walks_pages_by_offset() {
    let d = client();
    for _ in 0..3 {
        let p = json(&format!(
            r#"{{"schema_id":"{CONTACTS}","original_filename":"p.csv"}}"#
        ));
        settle(d.imports().create(p, JsValue::UNDEFINED))
            .await
            .expect("create");
    }
    let first = settle(d.imports().list_page(json(r#"{"limit":2}"#)))
        .await
        .expect("page");
    let page = get(&first, "page");
    let count = get(&page, "count").as_f64().unwrap();
    assert!(count >= 3.0, "{count}");
    assert_eq!(Array::from(&get(&first, "items")).length(), 2);
    assert_eq!(get(&get(&first, "next"), "offset").as_f64(), Some(2.0));
    // (`list()`'s await/for-await sugar is pkg/paged.js, tested by tests/js/js-layer.test.js.)
}

#[wasm_bindgen_test]
async fn aborting_a_wait_rejects_promptly_and_keeps_the_id() {
    let d = client();
    let p = json(&format!(
        r#"{{"schema_id":"{CONTACTS}","original_filename":"a.csv"}}"#
    ));
    // Never uploaded: the import stays AWAITING_UPLOAD and the wait would run until timeoutMs.
    let imp = settle(d.imports().create(p, JsValue::UNDEFINED))
        .await
        .expect("create");
    let ctrl = web_sys::AbortController::new().unwrap();
    let o = Object::new();
    Reflect::set(&o, &"signal".into(), &ctrl.signal()).unwrap();
    Reflect::set(&o, &"intervalMs".into(), &60_000.into()).unwrap();
    let wait = d.imports().wait_for_completion(get(&imp, "id"), o.into());
    let c2 = ctrl.clone();
    let _t = Closure::once_into_js(move || c2.abort());
    let set_timeout: Function = get(&js_sys::global(), "setTimeout").unchecked_into();
    set_timeout.call2(&JsValue::NULL, &_t, &50.into()).unwrap();
    let started = js_sys::Date::now();
    let err = settle(wait).await.expect_err("aborted");
    assert_eq!(class_of(&err), "APIUserAbortError");
    assert_eq!(str_of(&get(&err, "import"), "id"), str_of(&imp, "id"));
    assert!(
        js_sys::Date::now() - started < 30_000.0,
        "did not wait for the 60 s interval"
    );
}

/// Installs the emulator's fault plan (`body`), or clears it (`None`). Through the global `fetch`
/// rather than an `inline_js` module: one more module on the test page was one more parallel
/// request to wasm-bindgen-test-runner's file server, whose few reader threads then sat on
/// Chromium's idle keep-alive connections while the last module's request went unread: the page
/// never loaded (see scripts/wasm-browser-runner.sh).
async fn faults(url: &str, body: Option<String>) -> Result<(), JsValue> {
    let init = Object::new();
    let method = if body.is_some() { "POST" } else { "DELETE" };
    Reflect::set(&init, &"method".into(), &method.into())?;
    if let Some(body) = body {
        Reflect::set(&init, &"body".into(), &body.into())?;
    }
    let fetch: Function = get(&js_sys::global(), "fetch").unchecked_into();
    let answer = settle(
        fetch
            .call2(&JsValue::NULL, &url.into(), &init)?
            .unchecked_into(),
    )
    .await?;
    match get(&answer, "ok").as_bool() {
        Some(true) => Ok(()),
        _ => Err(format!("faults: {:?}", get(&answer, "status").as_f64()).into()),
    }
}

#[wasm_bindgen_test]
async fn an_upload_whose_storage_goes_silent_is_given_up_and_retried() {
    // The storage reads the first PUT's first bytes, then nothing for a minute, and never answers
    // it. XMLHttpRequest (Chromium) and fetch (Node: no XMLHttpRequest, no Node uploader here)
    // used to wait for ever; the attempt is now given up after the client's timeoutMs without a
    // sign of life (fetch: plus the body's time at a slow link's rate) and retried.
    let control = API.replace("/api/v1", "/_emulator/faults");
    let plan = r#"{"seed":1,"rules":[{"route":"storage.put","kind":"stall_mid_upload","bytes":10,"ms":60000,"count":1}]}"#;
    faults(&control, Some(plan.into()))
        .await
        .expect("fault plan");
    let d = Dromo::new(json(&format!(
        r#"{{"apiKey":"{KEY}","baseUrl":"{API}","dangerouslyAllowBrowser":true,"timeoutMs":1000}}"#
    )))
    .unwrap();
    let started = js_sys::Date::now();
    let out = settle(d.import_file(csv_file("silent.csv", GOOD), opts(r#","rows":false"#))).await;
    let took = js_sys::Date::now() - started;
    faults(&control, None).await.expect("faults cleared");
    let out = out.unwrap_or_else(|e| panic!("import: {}", str_of(&e, "message")));
    assert_eq!(str_of(&get(&out, "import"), "status"), "SUCCESSFUL");
    assert!(took < 20_000.0, "{took} ms");
}
