//! End-to-end processing: status transitions and the three outcomes, through upload and download.

mod common;

use common::*;
use headless_imports_emulator::Config;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

async fn upload_csv(env: &Env, schema: Value, csv: &[u8]) -> String {
    upload_named(env, schema, "data.csv", csv).await
}

async fn upload_named(env: &Env, schema: Value, name: &str, bytes: &[u8]) -> String {
    let mut body = schema;
    body["original_filename"] = json!(name);
    let import = env.create_ok(body).await;
    let id = import["id"].as_str().unwrap().to_string();
    let r = env
        .put(import["upload"].as_str().unwrap(), bytes.to_vec())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    id
}

/// tests/fixtures/contacts.xlsx, the spreadsheet the JS suite uploads (tests/js/dromo.test.js):
/// written by rust_xlsxwriter with a fixed creation time, so the same writer makes the same bytes.
const XLSX_FIXTURE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../fixtures/contacts.xlsx");

fn contacts_xlsx() -> Vec<u8> {
    use rust_xlsxwriter::{DocProperties, ExcelDateTime, Format, Workbook};
    let mut book = Workbook::new();
    let created = ExcelDateTime::from_ymd(2026, 1, 1).unwrap();
    book.set_properties(&DocProperties::new().set_creation_datetime(&created));
    let ws = book.add_worksheet();
    for (c, h) in ["First Name", "Last Name", "Email Address", "Age", "Joined"]
        .iter()
        .enumerate()
    {
        ws.write_string(0, c as u16, *h).unwrap();
    }
    let date = Format::new().set_num_format("yyyy-mm-dd");
    for (r, (first, last, email, age, joined)) in [
        (
            "Ada",
            "Lovelace",
            "ada@example.com",
            Some(36.0),
            (2024, 2, 29),
        ),
        ("Alan", "", "alan@example.com", None, (1999, 12, 31)),
    ]
    .into_iter()
    .enumerate()
    {
        let r = r as u32 + 1;
        ws.write_string(r, 0, first).unwrap();
        if !last.is_empty() {
            ws.write_string(r, 1, last).unwrap();
        }
        ws.write_string(r, 2, email).unwrap();
        if let Some(age) = age {
            ws.write_number(r, 3, age).unwrap();
        }
        let (y, m, d) = joined;
        let joined = ExcelDateTime::from_ymd(y, m, d).unwrap();
        ws.write_datetime_with_format(r, 4, &joined, &date).unwrap();
    }
    book.save_to_buffer().unwrap()
}

/// The committed fixture is what `contacts_xlsx` writes; `HI_UPDATE_FIXTURES=1` rewrites it (after a
/// rust_xlsxwriter upgrade changes its bytes, say).
#[test]
fn the_js_suite_xlsx_fixture_is_current() {
    let bytes = contacts_xlsx();
    if std::env::var_os("HI_UPDATE_FIXTURES").is_some() {
        std::fs::write(XLSX_FIXTURE, &bytes).unwrap();
    }
    let committed = std::fs::read(XLSX_FIXTURE).unwrap_or_default();
    assert!(
        committed == bytes,
        "{XLSX_FIXTURE} is stale: rerun with HI_UPDATE_FIXTURES=1 and commit it"
    );
}

#[tokio::test]
async fn xlsx_upload_imports_its_first_worksheet() {
    let env = start(config()).await;
    let id = upload_named(
        &env,
        json!({"schema_id": CONTACTS}),
        "Contacts.XLSX",
        &contacts_xlsx(),
    )
    .await;
    let done = env.wait_final(&id).await;
    assert_eq!(done["status"], "SUCCESSFUL", "{done}");
    assert_eq!(done["original_filename"], "Contacts.XLSX");
    assert_eq!(
        env.results(&id).await,
        json!([
            {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "age": 36},
            {"first_name": "Alan", "last_name": "", "email": "alan@example.com", "age": null}
        ])
    );
    env.shutdown().await;
}

#[tokio::test]
async fn a_broken_xlsx_fails_with_a_message() {
    let env = start(config()).await;
    let xlsx = contacts_xlsx();
    for (bytes, needle) in [
        (
            &b"First Name,Email Address\nAda,ada@example.com\n"[..],
            "not an XLSX or XLS spreadsheet",
        ),
        (
            &xlsx[..xlsx.len() - 100],
            "could not be read as an XLSX spreadsheet",
        ),
    ] {
        let id = upload_named(&env, json!({"schema_id": CONTACTS}), "q3.xlsx", bytes).await;
        let done = env.wait_final(&id).await;
        assert_eq!(done["status"], "FAILED", "{needle}: {done}");
        let message = done["import_errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message}");
        assert_eq!(done["result_metadata"], Value::Null);
    }
    env.shutdown().await;
}

#[tokio::test]
async fn successful_import_goes_pending_running_successful() {
    // 1 s * 0.5: RUNNING after ~500 ms, final after ~1 s; wide enough to observe each state.
    let env = start(Config {
        time_scale: 0.5,
        ..config()
    })
    .await;
    let id = upload_csv(
        &env,
        json!({"schema_id": CONTACTS}),
        b"First Name,Last Name,Email Address,Age\nAda,Lovelace,ada@example.com,36\nAlan,Turing,alan@example.com,\n",
    )
    .await;
    let r = env
        .send(env.authed(Method::GET, &format!("/headless/imports/{id}/")))
        .await;
    assert_eq!(r.json()["status"], "PENDING");
    let running = env.wait_for(&id, |s| s != "PENDING").await;
    assert_eq!(running["status"], "RUNNING");
    let done = env.wait_final(&id).await;
    assert_eq!(done["status"], "SUCCESSFUL");
    assert_eq!(done["import_errors"], Value::Null);
    assert_eq!(done["result_metadata"]["num_data_rows"], 2);
    assert_ne!(done["modified_date"], done["created_date"]);
    assert_eq!(
        env.results(&id).await,
        json!([
            {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "age": 36},
            {"first_name": "Alan", "last_name": "Turing", "email": "alan@example.com", "age": null}
        ])
    );
    env.shutdown().await;
}

#[tokio::test]
async fn invalid_rows_need_review_until_reviewed() {
    let env = start(config()).await;
    let id = upload_csv(
        &env,
        json!({"schema_id": CONTACTS}),
        b"email,age\nada@example.com,36\nnot-an-email,x\nada@example.com,1\n",
    )
    .await;
    let done = env.wait_final(&id).await;
    assert_eq!(done["status"], "NEEDS_REVIEW", "{done}");
    let errors = done["import_errors"].as_array().unwrap();
    assert_eq!(errors.len(), 3);
    assert_eq!(errors[0]["row"], 2);
    assert_eq!(errors[0]["field"], "email");
    assert!(errors[0]["message"].is_string());
    assert_eq!(done["result_metadata"]["num_invalid_rows"], 2);
    assert_eq!(
        done["review_url"],
        format!("{}/headless/{id}/", env.emu.api_origin())
    );
    let r = env
        .send(env.authed(Method::GET, &format!("/headless/imports/{id}/url/")))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json()["detail"],
        "Import results are not available (status NEEDS_REVIEW)."
    );
    let page = env
        .send(env.http.get(done["review_url"].as_str().unwrap()))
        .await;
    assert_eq!(page.status, StatusCode::OK);

    let r = env
        .send(
            env.http
                .post(env.control(&format!("/dromo/imports/{id}/review"))),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json()["status"], "SUCCESSFUL");
    let rows = env.results(&id).await;
    assert_eq!(rows.as_array().unwrap().len(), 3);
    assert_eq!(rows[1]["email"], "not-an-email");
    env.shutdown().await;
}

#[tokio::test]
async fn unmapped_required_column_needs_review() {
    let env = start(config()).await;
    let id = upload_csv(
        &env,
        json!({"schema_id": PRODUCTS, "settings": {"invalidDataBehavior": "INCLUDE_INVALID_ROWS"}}),
        b"Transaction ID,colour\nt1,red\n",
    )
    .await;
    let done = env.wait_final(&id).await;
    assert_eq!(done["status"], "NEEDS_REVIEW");
    assert_eq!(done["import_errors"][0]["field"], "product");
    env.shutdown().await;
}

#[tokio::test]
async fn broken_files_fail() {
    let env = start(config()).await;
    let cases: [(&[u8], &str); 4] = [
        (b"", "empty"),
        (b"email,age\n", "no data rows"),
        (b"email,age\na@b.co,1\nc@d.co\n", "columns"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\xff\xfe", "UTF-8"),
    ];
    for (csv, needle) in cases {
        let id = upload_csv(&env, json!({"schema_id": CONTACTS}), csv).await;
        let done = env.wait_final(&id).await;
        assert_eq!(done["status"], "FAILED", "{needle}: {done}");
        let message = done["import_errors"][0]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{message}");
        assert_eq!(done["result_metadata"], Value::Null);
        let r = env
            .send(env.authed(Method::GET, &format!("/headless/imports/{id}/url/")))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST);
    }
    let id = upload_csv(
        &env,
        json!({"schema_id": PRODUCTS, "settings": {"maxRecords": 1}}),
        b"product\na\nb\n",
    )
    .await;
    let done = env.wait_final(&id).await;
    assert_eq!(done["status"], "FAILED");
    env.shutdown().await;
}

#[tokio::test]
async fn forced_unknown_status_is_kept() {
    let env = start(Config {
        time_scale: 0.2,
        ..config()
    })
    .await;
    let id = upload_csv(&env, json!({"schema_id": PRODUCTS}), b"product\na\n").await;
    let r = env
        .send(
            env.http
                .post(env.control(&format!("/dromo/imports/{id}/status")))
                .json(&json!({"status": "CANCELED"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let r = env
        .send(env.authed(Method::GET, &format!("/headless/imports/{id}/")))
        .await;
    assert_eq!(r.json()["status"], "CANCELED");
    env.shutdown().await;
}
