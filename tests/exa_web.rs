//! Exa imports through the exported API in Node and headless Chromium (XHR upload, Blob stream
//! counting, CORS with the `x-api-key` header) against the emulator's Exa API.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::disallowed_macros)] // tests never ship: formatting is fine here (see clippy.toml)

mod support;
use headless_imports::count_csv_records;
use js_sys::{Array, Function, Reflect, JSON};
use support::Exa;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

const API: &str = match option_env!("HI_EMULATOR_API") {
    Some(a) => a,
    None => "http://127.0.0.1:18080/api/v1",
};

fn base() -> String {
    API.replace("/api/v1", "/websets")
}

fn json(s: &str) -> JsValue {
    JSON::parse(s).expect("test JSON")
}

fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap()
}

fn client(key: &str) -> Exa {
    let opts = format!(
        r#"{{"apiKey":"{key}","baseUrl":"{}","dangerouslyAllowBrowser":true}}"#,
        base()
    );
    Exa::new(json(&opts)).unwrap_or_else(|e| panic!("client: {e:?}"))
}

fn file(text: &str) -> JsValue {
    let blob = web_sys::Blob::new_with_str_sequence(&Array::of1(&text.into())).unwrap();
    match get(&js_sys::global(), "File").dyn_ref::<Function>() {
        Some(f) => {
            Reflect::construct(f, &Array::of2(&Array::of1(&blob), &"leads.csv".into())).unwrap()
        }
        None => blob.into(),
    }
}

const LEADS: &str = "website,name\r\nhttps://a.example,\"A, \"\"quoted\"\"\"\r\nhttps://b.example,\"multi\nline\"\r\n";

#[wasm_bindgen_test]
async fn counting_reads_the_blob_stream() {
    support::ready();
    let n = JsFuture::from(count_csv_records(file(LEADS), JsValue::UNDEFINED))
        .await
        .unwrap();
    assert_eq!(n.as_f64(), Some(2.0));
    let n = JsFuture::from(count_csv_records(file(LEADS), json(r#"{"header":false}"#)))
        .await
        .unwrap();
    assert_eq!(n.as_f64(), Some(3.0));
}

#[wasm_bindgen_test]
async fn a_file_imports_end_to_end() {
    let exa = client("test-exa-key");
    let opts = json(r#"{"entity":{"type":"company"},"title":"browser"}"#);
    let out = JsFuture::from(exa.import_file(file(LEADS), opts))
        .await
        .expect("importFile");
    let imp = get(&out, "import");
    assert_eq!(
        get(&imp, "status").as_string().as_deref(),
        Some("completed")
    );
    assert_eq!(get(&imp, "count").as_f64(), Some(2.0));
}

#[wasm_bindgen_test]
async fn a_wrong_key_is_an_authentication_error() {
    let err = JsFuture::from(
        client("nope-nope-nope")
            .imports()
            .retrieve("import_x".into(), JsValue::UNDEFINED),
    )
    .await
    .expect_err("401");
    assert_eq!(
        get(&err, "name").as_string().as_deref(),
        Some("AuthenticationError")
    );
    assert!(get(&err, "requestId")
        .as_string()
        .is_some_and(|r| r.starts_with("req_")));
}
