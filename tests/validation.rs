//! Bad input is a `ValidationError` naming the offending path, before any request: the client
//! points at a closed port, so anything that did reach the network would fail differently.
#![cfg(target_arch = "wasm32")]
#![allow(clippy::disallowed_macros)] // tests never ship: formatting is fine here (see clippy.toml)

mod support;
use js_sys::{Reflect, JSON};
use support::Dromo;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use wasm_bindgen_test::*;

fn json(s: &str) -> JsValue {
    JSON::parse(s).unwrap_or_else(|_| panic!("bad test JSON: {s}"))
}

fn offline() -> Dromo {
    Dromo::new(json(r#"{"apiKey":"k","baseUrl":"http://127.0.0.1:9/api/v1","maxRetries":0,"dangerouslyAllowBrowser":true}"#)).unwrap()
}

fn prop(v: &JsValue, k: &str) -> String {
    Reflect::get(v, &k.into())
        .unwrap()
        .as_string()
        .unwrap_or_default()
}

const F: &str = r#"{"key":"a","label":"A","type":"string"}"#;

/// (create params, expected path)
fn create_cases() -> Vec<(String, &'static str)> {
    let with = |extra: &str| format!(r#"{{"schema_id":"s","original_filename":"a.csv"{extra}}}"#);
    let fields = |f: &str| format!(r#"{{"fields":[{f}],"original_filename":"a.csv"}}"#);
    vec![
        ("null".into(), "params"),
        ("[]".into(), "params"),
        (r#"{}"#.into(), "schema_id"),
        (r#"{"original_filename":"a.csv"}"#.into(), "schema_id"),
        (
            format!(r#"{{"schema_id":"s","fields":[{F}],"original_filename":"a.csv"}}"#),
            "fields",
        ),
        (r#"{"schema_id":"s"}"#.into(), "original_filename"),
        (
            r#"{"schema_id":"s","original_filename":"a.csv","initial_data":[{}]}"#.into(),
            "initial_data",
        ),
        (
            r#"{"schema_id":"","original_filename":"a.csv"}"#.into(),
            "schema_id",
        ),
        (
            r#"{"schema_id":7,"original_filename":"a.csv"}"#.into(),
            "schema_id",
        ),
        (
            r#"{"schemaId":"s","original_filename":"a.csv"}"#.into(),
            "schemaId",
        ),
        (
            r#"{"fields":[],"original_filename":"a.csv"}"#.into(),
            "fields",
        ),
        (
            r#"{"fields":{},"original_filename":"a.csv"}"#.into(),
            "fields",
        ),
        (fields(r#"{"label":"A","type":"string"}"#), "fields[0].key"),
        (fields(r#"{"key":"a","type":"string"}"#), "fields[0].label"),
        (fields(r#"{"key":"a","label":"A"}"#), "fields[0].type"),
        (
            fields(&format!(r#"{F},{{"key":"b","label":"B","type":5}}"#)),
            "fields[1].type",
        ),
        (
            fields(r#"{"key":"a","label":"A","type":"string","colour":"red"}"#),
            "fields[0].colour",
        ),
        (
            fields(r#"{"key":"a","label":"A","type":"string","alternateMatches":"x"}"#),
            "fields[0].alternateMatches",
        ),
        (
            fields(r#"{"key":"a","label":"A","type":"string","alternateMatches":[1]}"#),
            "fields[0].alternateMatches[0]",
        ),
        (
            fields(r#"{"key":"a","label":"A","type":"string","validators":["required"]}"#),
            "fields[0].validators[0]",
        ),
        (
            fields(r#"{"key":"a","label":"A","type":"string","readOnly":"yes"}"#),
            "fields[0].readOnly",
        ),
        (fields(&format!("{F},{F}")), "fields[1].key"),
        (
            with(r#","settings":{"invalidDataBehavior":"MAYBE"}"#),
            "settings.invalidDataBehavior",
        ),
        (
            with(r#","settings":{"backendSyncMode":"SOME"}"#),
            "settings.backendSyncMode",
        ),
        (
            with(r#","settings":{"maxRecords":1.5}"#),
            "settings.maxRecords",
        ),
        (
            with(r#","settings":{"unknownSetting":true}"#),
            "settings.unknownSetting",
        ),
        (with(r#","settings":[]"#), "settings"),
        (with(r#","hooks":{"rowHooks":"fn"}"#), "hooks.rowHooks"),
        (
            with(r#","hooks":{"stepHooks":[{"type":"LATER","callback":"x"}]}"#),
            "hooks.stepHooks[0].type",
        ),
        (
            with(r#","hooks":{"columnHooks":[{"fieldName":"a"}]}"#),
            "hooks.columnHooks[0].callback",
        ),
        (with(r#","hooks":{"onLoad":"x"}"#), "hooks.onLoad"),
        (
            with(r#","import_metadata":{"user":{"name":"Jeff"}}"#),
            "import_metadata.user.id",
        ),
        (
            with(r#","import_metadata":{"user":{"id":"j","age":3}}"#),
            "import_metadata.user.age",
        ),
        (with(r#","import_metadata":"me""#), "import_metadata"),
        (
            r#"{"schema_id":"s","initial_data":{"a":1}}"#.into(),
            "initial_data",
        ),
        (
            r#"{"schema_id":"s","initial_data":[1,2]}"#.into(),
            "initial_data[0]",
        ),
        (
            r#"{"schema_id":"s","initial_data":[]}"#.into(),
            "initial_data",
        ),
        (
            r#"{"schema_id":"s","original_filename":""}"#.into(),
            "original_filename",
        ),
    ]
}

async fn rejection(p: js_sys::Promise) -> JsValue {
    JsFuture::from(p).await.expect_err("must reject")
}

/// Awaits a call that must be refused as a `ValidationError` naming `path`; returns the error.
async fn refused(call: js_sys::Promise, path: &str, what: &str) -> JsValue {
    let err = rejection(call).await;
    let message = prop(&err, "message");
    assert_eq!(prop(&err, "name"), "ValidationError", "{what}: {message}");
    assert_eq!(prop(&err, "path"), path, "{what}: {message}");
    err
}

#[wasm_bindgen_test]
async fn create_params_are_checked_against_the_documented_schema() {
    let d = offline();
    for (params, path) in create_cases() {
        refused(
            d.imports().create(json(&params), JsValue::UNDEFINED),
            path,
            &params,
        )
        .await;
    }
}

#[wasm_bindgen_test]
async fn initial_data_over_15_mb_is_refused() {
    let d = offline();
    let big = "x".repeat(1000);
    let rows = js_sys::Array::new();
    for _ in 0..15_100 {
        let row = js_sys::Object::new();
        Reflect::set(&row, &"a".into(), &big.as_str().into()).unwrap();
        rows.push(&row);
    }
    let params = json(r#"{"schema_id":"s"}"#);
    Reflect::set(&params, &"initial_data".into(), &rows).unwrap();
    let err = refused(
        d.imports().create(params, JsValue::UNDEFINED),
        "initial_data",
        "15.1 MB",
    )
    .await;
    assert!(prop(&err, "message").contains("15 MB"));
}

#[wasm_bindgen_test]
async fn ids_bodies_and_options_are_checked() {
    let d = offline();
    for id in [
        json("null"),
        "".into(),
        "a/b".into(),
        "../x".into(),
        "a?b=1".into(),
        json("12"),
    ] {
        let what = format!("{id:?}");
        refused(d.imports().retrieve(id, JsValue::UNDEFINED), "id", &what).await;
    }
    for body in [json("null"), json("42"), json(r#"{"a":1}"#), "".into()] {
        let what = format!("{body:?}");
        let call = d
            .imports()
            .upload("http://127.0.0.1:9/u".into(), body, JsValue::UNDEFINED);
        refused(call, "body", &what).await;
    }
    for (opts, path) in [
        (r#"{"limit":0}"#, "limit"),
        (r#"{"limit":1001}"#, "limit"),
        (r#"{"offset":-1}"#, "offset"),
        (r#"{"limit":"2"}"#, "limit"),
    ] {
        refused(d.imports().list_page(json(opts)), path, opts).await;
    }
    let wait = d
        .imports()
        .wait_for_completion("abc".into(), json(r#"{"intervalMs":-5}"#));
    refused(wait, "opts.intervalMs", "negative interval").await;
    let file = d.import_file("a,b\n".into(), json(r#"{"schema_id":"s"}"#));
    refused(
        file,
        "options.original_filename",
        "a string body has no file name",
    )
    .await;
    let typo = d.import_file("a\n".into(), json(r#"{"schema_id":"s","onProgres":1}"#));
    refused(typo, "options.onProgres", "a misspelt option").await;
}

#[wasm_bindgen_test]
fn client_options_are_checked() {
    let cases = [
        (
            r#"{"apiKey":"k","baseUrl":"http://api.example.com/v1"}"#,
            "baseUrl",
        ),
        (r#"{"apiKey":"k","baseUrl":"ftp://x"}"#, "baseUrl"),
        (r#"{"apiKey":""}"#, "apiKey"),
        (r#"{}"#, "apiKey"),
        (r#"{"apiKey":"k","maxRetries":-1}"#, "maxRetries"),
        (r#"{"apiKey":"k","apikey":"k"}"#, "apikey"),
        (r#"{"apiKey":"k","headers":{"x":1}}"#, "headers.x"),
        // Headers fetch would refuse are refused when the client is made, not at the first call.
        (
            r#"{"apiKey":"k","headers":{"bad name":"v"}}"#,
            "headers.bad name",
        ),
        (r#"{"apiKey":"k\u0000"}"#, "apiKey"),
    ];
    for (opts, path) in cases {
        let opts = opts
            .replacen('{', r#"{"dangerouslyAllowBrowser":true,"#, 1)
            .replace(",}", "}");
        let err = Dromo::new(json(&opts)).err().expect(&opts);
        assert_eq!(
            prop(&err, "path"),
            path,
            "{opts}: {}",
            prop(&err, "message")
        );
    }
}

#[wasm_bindgen_test]
async fn per_call_headers_are_checked_before_sending() {
    let d = offline();
    let call = d.imports().retrieve(
        "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d".into(),
        json(r#"{"headers":{"bad name":"v"}}"#),
    );
    refused(call, "opts.headers.bad name", "an invalid per-call header").await;
}

#[wasm_bindgen_test]
fn a_key_in_a_browser_needs_the_explicit_opt_in() {
    let in_browser = !Reflect::get(&js_sys::global(), &"document".into())
        .unwrap()
        .is_undefined();
    let made = Dromo::new(json(r#"{"apiKey":"k"}"#));
    if in_browser {
        let err = made.err().expect("refused in a page");
        assert_eq!(prop(&err, "path"), "dangerouslyAllowBrowser");
        assert!(!prop(&err, "message").contains("\"k\""));
    } else {
        assert!(made.is_ok(), "Node is a server: keys are fine there");
    }
    // Without a key (a proxy adds it server-side) a page needs no opt-in.
    assert!(Dromo::new(json(r#"{"baseUrl":"/api/dromo"}"#)).is_ok());
}

/// (Exa create params, expected path)
fn exa_create_cases() -> Vec<(&'static str, &'static str)> {
    vec![
        (r#"{}"#, "size"),
        (r#"{"size":10,"count":1,"format":"csv"}"#, "entity"),
        (
            r#"{"size":"10","count":1,"format":"csv","entity":{"type":"company"}}"#,
            "size",
        ),
        (
            r#"{"size":50000001,"count":1,"format":"csv","entity":{"type":"company"}}"#,
            "size",
        ),
        (
            r#"{"size":0,"count":1,"format":"csv","entity":{"type":"company"}}"#,
            "size",
        ),
        (
            r#"{"size":10,"count":0,"format":"csv","entity":{"type":"company"}}"#,
            "count",
        ),
        (
            r#"{"size":10,"count":1.5,"format":"csv","entity":{"type":"company"}}"#,
            "count",
        ),
        (
            r#"{"size":10,"count":1,"format":"xlsx","entity":{"type":"company"}}"#,
            "format",
        ),
        (
            r#"{"size":10,"count":1,"format":"csv","entity":{"type":"planet"}}"#,
            "entity.type",
        ),
        (
            r#"{"size":10,"count":1,"format":"csv","entity":{"type":"custom"}}"#,
            "entity.description",
        ),
        (
            r#"{"size":10,"count":1,"format":"csv","entity":{"type":"custom","description":"x"}}"#,
            "entity.description",
        ),
        (
            r#"{"size":10,"count":1,"format":"csv","entity":{"type":"company","description":"x"}}"#,
            "entity.description",
        ),
        (
            r#"{"size":10,"count":1,"format":"csv","entity":{"type":"company"},"metadata":{"a":1}}"#,
            "metadata.a",
        ),
        (
            r#"{"size":10,"count":1,"format":"csv","entity":{"type":"company"},"csv":{"identifier":-1}}"#,
            "csv.identifier",
        ),
        (
            r#"{"size":10,"count":1,"format":"csv","entity":{"type":"company"},"csv":{"column":1}}"#,
            "csv.column",
        ),
        (
            r#"{"size":10,"count":1,"format":"csv","entity":{"type":"company"},"websetId":"w"}"#,
            "websetId",
        ),
    ]
}

fn exa_offline() -> support::Exa {
    support::Exa::new(json(
        r#"{"apiKey":"k","baseUrl":"http://127.0.0.1:9/websets","maxRetries":0,"dangerouslyAllowBrowser":true}"#,
    ))
    .unwrap()
}

#[wasm_bindgen_test]
async fn exa_create_params_are_checked_against_the_spec() {
    let exa = exa_offline();
    for (params, path) in exa_create_cases() {
        refused(
            exa.imports().create(json(params), JsValue::UNDEFINED),
            path,
            params,
        )
        .await;
    }
    let long = format!(r#"{{"metadata":{{"k":"{}"}}}}"#, "x".repeat(1001));
    for (params, path) in [
        (r#"{"name":"x"}"#, "name"),
        (r#"{"title":5}"#, "title"),
        (long.as_str(), "metadata.k"),
    ] {
        let call = exa
            .imports()
            .update("import_1".into(), json(params), JsValue::UNDEFINED);
        refused(call, path, params).await;
    }
    for (params, path) in [
        (r#"{"limit":201}"#, "limit"),
        (r#"{"cursor":""}"#, "cursor"),
        (r#"{"limit":0.5}"#, "limit"),
    ] {
        refused(exa.imports().list_page(json(params)), path, params).await;
    }
}
