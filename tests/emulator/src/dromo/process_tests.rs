//! Processing rules, driven through the same schema compiler the API uses.

use serde_json::{json, Map, Value};

use super::*;
use crate::dromo::schema;

fn plan(fields: Value, settings: Value) -> Plan {
    let fields = schema::compile_fields(&fields, "fields").expect("valid fields");
    let settings = schema::validate_settings(&settings).expect("valid settings");
    schema::plan(fields, &settings)
}

fn contacts() -> Plan {
    let saved = schema::builtin();
    let c = saved.iter().find(|s| s.name == "contacts").unwrap();
    schema::plan(c.fields.clone(), &c.settings)
}

struct Run {
    outcome: Outcome,
    rows: Option<Value>,
    _dir: tempfile::TempDir,
}

fn run_bytes(plan: &Plan, bytes: &[u8]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.csv");
    std::fs::write(&input, bytes).unwrap();
    finish(plan, Input::Csv(input), dir)
}

fn run_rows(plan: &Plan, rows: Value) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<Map<String, Value>> = serde_json::from_value(rows).unwrap();
    finish(plan, Input::Rows(rows), dir)
}

fn finish(plan: &Plan, input: Input, dir: tempfile::TempDir) -> Run {
    let out = dir.path().join("out.json");
    let outcome = run(plan, input, &out);
    let rows = outcome
        .result
        .as_ref()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).expect("result is JSON"));
    Run {
        outcome,
        rows,
        _dir: dir,
    }
}

fn first_message(o: &Outcome) -> String {
    o.errors.as_ref().unwrap()[0]["message"]
        .as_str()
        .unwrap()
        .to_string()
}

#[test]
fn maps_headers_by_key_label_and_alternate_matches_with_bom() {
    let r = run_bytes(
        &contacts(),
        b"\xEF\xBB\xBF Given Name ,LAST NAME,Email Address,age,extra\r\nAda,Lovelace,ada@example.com,36,x\r\n",
    );
    assert_eq!(r.outcome.verdict, Verdict::Successful);
    assert_eq!(
        r.rows.unwrap(),
        json!([{"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "age": 36}])
    );
    let meta = r.outcome.metadata.unwrap();
    assert_eq!(meta["mapped_columns"][" Given Name "], "first_name");
    assert!(meta["mapped_columns"].get("extra").is_none());
    assert_eq!(meta["num_data_rows"], 1);
}

#[test]
fn quoted_fields_may_hold_commas_and_newlines() {
    let r = run_bytes(
        &contacts(),
        b"first_name,email\n\"Smith, \"\"Jo\"\"\nJr\",jo@example.com\n",
    );
    assert_eq!(r.outcome.verdict, Verdict::Successful);
    let rows = r.rows.unwrap();
    assert_eq!(rows[0]["first_name"], "Smith, \"Jo\"\nJr");
    assert_eq!(
        rows[0]["last_name"],
        Value::Null,
        "unmapped optional field is null"
    );
    assert_eq!(rows[0]["age"], Value::Null);
}

#[test]
fn invalid_values_block_submit_by_default() {
    let r = run_bytes(
        &contacts(),
        b"email,age\na@example.com,old\nnot-an-email,3\na@example.com,4\n,5\n",
    );
    assert_eq!(r.outcome.verdict, Verdict::NeedsReview);
    let errors = r.outcome.errors.clone().unwrap();
    let summary: Vec<(u64, &str)> = errors
        .iter()
        .map(|e| (e["row"].as_u64().unwrap(), e["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        vec![(1, "age"), (2, "email"), (3, "email"), (4, "email")]
    );
    assert!(errors[2]["message"].as_str().unwrap().contains("row 1"));
    assert_eq!(r.outcome.metadata.unwrap()["num_invalid_rows"], 4);
    // The stored result is what a reviewer accepting everything would submit: raw values kept.
    assert_eq!(r.rows.unwrap()[0]["age"], "old");
}

#[test]
fn behaviours_for_invalid_rows() {
    let csv = b"email,age\na@example.com,1\nbad,2\nb@example.com,x\n";
    let with = |behavior: &str| {
        let mut p = contacts();
        p.behavior = Behavior::parse(behavior).unwrap();
        run_bytes(&p, csv)
    };
    let keep = with("INCLUDE_INVALID_ROWS");
    assert_eq!(keep.outcome.verdict, Verdict::Successful);
    assert!(keep.outcome.errors.is_none());
    let rows = keep.rows.unwrap();
    assert_eq!(rows.as_array().unwrap().len(), 3);
    assert_eq!(rows[1]["email"], Value::Null, "invalid value dropped");
    assert_eq!(rows[2]["age"], Value::Null);

    let raw = with("INCLUDE_INVALID_ROWS_AND_VALUES").rows.unwrap();
    assert_eq!(raw[1]["email"], "bad");
    assert_eq!(raw[2]["age"], "x");

    let removed = with("REMOVE_INVALID_ROWS");
    assert_eq!(removed.outcome.verdict, Verdict::Successful);
    assert_eq!(
        removed.rows.unwrap(),
        json!([{"first_name": null, "last_name": null, "email": "a@example.com", "age": 1}])
    );
    assert_eq!(removed.outcome.metadata.unwrap()["num_data_rows"], 1);
}

#[test]
fn allow_invalid_submit_means_include_invalid_rows() {
    let p = plan(
        json!([{"key": "n", "type": "number", "label": "N"}]),
        json!({"allowInvalidSubmit": true}),
    );
    assert_eq!(p.behavior, Behavior::IncludeInvalidRows);
    let r = run_bytes(&p, b"n\nx\n");
    assert_eq!(r.outcome.verdict, Verdict::Successful);
}

#[test]
fn missing_required_column_needs_review() {
    let r = run_bytes(&contacts(), b"first_name,age\nAda,3\n");
    assert_eq!(r.outcome.verdict, Verdict::NeedsReview);
    let errors = r.outcome.errors.unwrap();
    assert_eq!(errors[0]["field"], "email");
    assert!(errors[0].get("row").is_none());

    let p = plan(
        json!([{"key": "a", "type": "string", "label": "A", "requireMapping": true}, {"key": "b", "type": "string", "label": "B"}]),
        json!({"invalidDataBehavior": "INCLUDE_INVALID_ROWS"}),
    );
    assert_eq!(
        run_bytes(&p, b"b\n1\n").outcome.verdict,
        Verdict::NeedsReview
    );
    assert_eq!(
        run_bytes(&p, b"a\n1\n").outcome.verdict,
        Verdict::Successful
    );
}

#[test]
fn failures() {
    let c = contacts();
    let cases: [(&[u8], &str); 5] = [
        (b"", "empty"),
        (b"\n\n", "empty"),
        (b"email,age\n", "no data rows"),
        (b"email,age\na@b.co,1,extra\n", "columns"),
        (b"email,age\n\xff\xfe,1\n", "UTF-8"),
    ];
    for (bytes, needle) in cases {
        let r = run_bytes(&c, bytes);
        assert_eq!(r.outcome.verdict, Verdict::Failed, "{needle}");
        assert!(r.outcome.result.is_none());
        assert!(r.outcome.metadata.is_none());
        let m = first_message(&r.outcome);
        assert!(m.contains(needle), "{m:?} should mention {needle}");
    }
}

#[test]
fn max_records() {
    let p = plan(
        json!([{"key": "a", "type": "string", "label": "A"}]),
        json!({"maxRecords": 2}),
    );
    assert_eq!(
        run_bytes(&p, b"a\n1\n2\n").outcome.verdict,
        Verdict::Successful
    );
    let r = run_bytes(&p, b"a\n1\n2\n3\n");
    assert_eq!(r.outcome.verdict, Verdict::Failed);
    assert!(first_message(&r.outcome).contains("maxRecords"));
    let r = run_rows(&p, json!([{"a": 1}, {"a": 2}, {"a": 3}]));
    assert_eq!(r.outcome.verdict, Verdict::Failed);
}

#[test]
fn types_coerce_and_reject() {
    let p = plan(
        json!([
            {"key": "n", "type": "number", "label": "N"},
            {"key": "c", "type": "checkbox", "label": "C"},
            {"key": "s", "type": ["select", {"options": [{"label": "Red", "value": "r"}, {"label": "Blue", "value": "b"}]}], "label": "S"},
            {"key": "d", "type": "date", "label": "D"},
            {"key": "e", "type": "email", "label": "E"},
            {"key": "t", "type": "mystery", "label": "T"}
        ]),
        json!({"invalidDataBehavior": "INCLUDE_INVALID_ROWS"}),
    );
    let r = run_bytes(
        &p,
        b"n,c,s,d,e,t\n 1.5 ,YES,blue,2024-02-29,x@y.org, keep \n-7,0,R,,,\n",
    );
    assert_eq!(r.outcome.verdict, Verdict::Successful);
    assert_eq!(
        r.rows.unwrap(),
        json!([
            {"n": 1.5, "c": true, "s": "b", "d": "2024-02-29", "e": "x@y.org", "t": " keep "},
            {"n": -7, "c": false, "s": "r", "d": null, "e": null, "t": ""}
        ])
    );
    let r = run_bytes(
        &p,
        b"n,c,s,d,e,t\nNaN,maybe,green,2023-02-29,a@b@c.d,\ninf,2,x,2024-1-01,a@b,\n1e3,,,,@b.co,\n",
    );
    let meta = r.outcome.metadata.unwrap();
    assert_eq!(meta["num_invalid_rows"], 3);
    assert_eq!(meta["num_errors"], 11);
    let rows = r.rows.unwrap();
    assert_eq!(rows[2]["n"], 1000.0);
    assert_eq!(rows[0]["s"], Value::Null);
}

#[test]
fn validators_regex_length_unique_case_insensitive_and_messages() {
    let p = plan(
        json!([
            {"key": "code", "type": "string", "label": "Code", "validators": [
                {"validate": "regex_match", "regex": "^[A-Z]{3}$", "errorMessage": "three capitals"},
                {"validate": "unique_case_insensitive"}
            ]},
            {"key": "name", "type": "string", "label": "Name", "validators": [{"validate": "length", "min": 2, "max": 4}]},
            {"key": "n", "type": "number", "label": "N", "invalidValueMessage": "numbers only"}
        ]),
        json!({}),
    );
    let r = run_bytes(&p, b"code,name,n\nABC,ab,1\nabc,abcde,x\nAB1,,2\n");
    assert_eq!(r.outcome.verdict, Verdict::NeedsReview);
    let messages: Vec<String> = r
        .outcome
        .errors
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{}:{}:{}",
                e["row"],
                e["field"],
                e["message"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        messages,
        vec![
            "2:\"code\":three capitals",
            "2:\"name\":Must be between 2 and 4 characters long.",
            "2:\"n\":numbers only",
            "3:\"code\":three capitals",
        ]
    );
    let r = run_bytes(&p, b"code,name\nABC,ab\nABC,cd\n");
    assert!(first_message(&r.outcome).contains("Duplicate"));
}

#[test]
fn initial_data_rows_by_key_or_label() {
    let r = run_rows(
        &contacts(),
        json!([
            {"first_name": "Zeph", "Email Address": "z@example.com", "age": 40, "ignored": 1},
            {"email": "y@example.com", "AGE": "41", "last_name": null}
        ]),
    );
    assert_eq!(r.outcome.verdict, Verdict::Successful);
    assert_eq!(
        r.rows.unwrap(),
        json!([
            {"first_name": "Zeph", "last_name": null, "email": "z@example.com", "age": 40},
            {"first_name": null, "last_name": null, "email": "y@example.com", "age": 41}
        ])
    );
    let r = run_rows(&contacts(), json!([{"first_name": "no email"}]));
    assert_eq!(r.outcome.verdict, Verdict::NeedsReview);
    let r = run_rows(&contacts(), json!([]));
    assert_eq!(r.outcome.verdict, Verdict::Failed);
}

#[test]
fn error_list_is_capped() {
    let p = plan(
        json!([{"key": "n", "type": "number", "label": "N"}]),
        json!({}),
    );
    let mut csv = String::from("n\n");
    for _ in 0..250 {
        csv.push_str("x\n");
    }
    let r = run_bytes(&p, csv.as_bytes());
    assert_eq!(r.outcome.errors.unwrap().len(), MAX_REPORTED_ERRORS);
    assert_eq!(r.outcome.metadata.unwrap()["num_errors"], 250);
}

#[test]
fn the_file_name_decides_how_the_file_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::write(
        &input,
        b"First Name\tLast Name\tEmail Address\tAge\nAda\t\"Love\tlace\"\tada@example.com\t36\n",
    )
    .unwrap();
    let tsv = finish(
        &contacts(),
        Input::file(input.clone(), Some("People.TSV")),
        dir,
    );
    assert_eq!(tsv.outcome.verdict, Verdict::Successful);
    assert_eq!(
        tsv.rows.unwrap(),
        json!([{"first_name": "Ada", "last_name": "Love\tlace", "email": "ada@example.com", "age": 36}])
    );
    let dir = tempfile::tempdir().unwrap();
    for (name, says) in [
        ("rows.json", "Unsupported file type .json"),
        ("q3.xlsm", "Unsupported file type .xlsm"),
        ("q3.ods", "Unsupported file type .ods"),
    ] {
        let run = finish(
            &contacts(),
            Input::file(dir.path().join("x"), Some(name)),
            tempfile::tempdir().unwrap(),
        );
        assert_eq!(run.outcome.verdict, Verdict::Failed);
        assert!(first_message(&run.outcome).contains(says), "{name}");
    }
    assert!(matches!(Input::file(input.clone(), None), Input::Csv(_)));
    assert!(matches!(
        Input::file(input, Some("Q3.XLS")),
        Input::Sheet(_)
    ));
}

/// Runs `bytes` as an upload named `name`, the way the API hands files over.
fn run_named(plan: &Plan, name: &str, bytes: &[u8]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("upload");
    std::fs::write(&input, bytes).unwrap();
    finish(plan, Input::file(input, Some(name)), dir)
}

/// A real .xlsx from rust_xlsxwriter; `fill` writes the first worksheet.
fn xlsx(fill: impl FnOnce(&mut rust_xlsxwriter::Worksheet)) -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    fill(book.add_worksheet());
    book.save_to_buffer().unwrap()
}

#[test]
fn xlsx_cells_read_as_a_spreadsheet_user_types_them() {
    use rust_xlsxwriter::{ExcelDateTime, Format};
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let stamp = Format::new().set_num_format("yyyy-mm-dd hh:mm:ss");
    let clock = Format::new().set_num_format("hh:mm");
    let yellow = Format::new().set_background_color("FFFF00");
    let bytes = xlsx(|ws| {
        // The table starts at B3: the first row with a value is the header, wherever it is.
        let header = ["Name", "Count", "Ratio", "Active", "Born", "At", "Note"];
        for (c, h) in header.iter().enumerate() {
            ws.write_string(2, 1 + c as u16, *h).unwrap();
        }
        ws.write_string(3, 1, "Ada").unwrap();
        ws.write_number(3, 2, 36).unwrap();
        ws.write_number(3, 3, 0.1 + 0.2).unwrap();
        ws.write_boolean(3, 4, true).unwrap();
        let born = ExcelDateTime::from_ymd(1990, 12, 10).unwrap();
        ws.write_datetime_with_format(3, 5, &born, &date).unwrap();
        let at = ExcelDateTime::from_ymd(2024, 2, 29)
            .unwrap()
            .and_hms(13, 45, 30)
            .unwrap();
        ws.write_datetime_with_format(3, 6, &at, &stamp).unwrap();
        ws.write_blank(3, 7, &yellow).unwrap(); // formatted but empty
                                                // A row with nothing in it (only formatting) is skipped, as a blank CSV line is.
        ws.write_blank(4, 1, &yellow).unwrap();
        ws.write_string(5, 1, " Alan ").unwrap();
        ws.write_number(5, 2, -7.0).unwrap();
        ws.write_number(5, 3, 1.5e-7).unwrap();
        ws.write_boolean(5, 4, false).unwrap();
        let noon = ExcelDateTime::from_hms(12, 30, 0).unwrap();
        ws.write_datetime_with_format(5, 6, &noon, &clock).unwrap();
        ws.write_string(5, 7, "x").unwrap(); // Born (column F) is missing: empty
    });
    let keys = ["name", "count", "ratio", "active", "born", "at", "note"];
    let fields: Vec<Value> = keys
        .iter()
        .map(|k| json!({"key": k, "label": k, "type": "string"}))
        .collect();
    let p = plan(Value::Array(fields), json!({}));
    let r = run_named(&p, "Q3 report.XLSX", &bytes);
    assert_eq!(r.outcome.verdict, Verdict::Successful, "{:?}", r.outcome);
    assert_eq!(
        r.rows.unwrap(),
        json!([
            {"name": "Ada", "count": "36", "ratio": "0.3", "active": "true", "born": "1990-12-10",
             "at": "2024-02-29T13:45:30", "note": ""},
            {"name": " Alan ", "count": "-7", "ratio": "0.00000015", "active": "false", "born": "",
             "at": "12:30:00", "note": "x"}
        ])
    );
    let meta = r.outcome.metadata.unwrap();
    assert_eq!(meta["num_input_rows"], 2);
    assert_eq!(meta["mapped_columns"]["Born"], "born");
}

#[test]
fn xlsx_rows_go_through_the_same_checks_as_csv() {
    let bytes = xlsx(|ws| {
        for (c, h) in ["First Name", "Email Address", "Age"].iter().enumerate() {
            ws.write_string(0, c as u16, *h).unwrap();
        }
        ws.write_string(1, 0, "Ada").unwrap();
        ws.write_string(1, 1, "ada@example.com").unwrap();
        ws.write_number(1, 2, 36).unwrap();
        ws.write_string(2, 0, "Bob").unwrap();
        ws.write_string(2, 1, "not-an-email").unwrap();
        ws.write_string(2, 2, "old").unwrap();
    });
    let r = run_named(&contacts(), "people.xlsx", &bytes);
    assert_eq!(r.outcome.verdict, Verdict::NeedsReview);
    let fields: Vec<&str> = r
        .outcome
        .errors
        .as_ref()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["email", "age"]);
    assert_eq!(
        r.rows.unwrap()[0],
        json!({"first_name": "Ada", "last_name": null, "email": "ada@example.com", "age": 36})
    );
    // A legacy name on an XLSX body: the bytes decide the reader, as Excel opens it.
    let mut p = contacts();
    p.behavior = Behavior::RemoveInvalidRows;
    let r = run_named(&p, "people.xls", &bytes);
    assert_eq!(r.outcome.verdict, Verdict::Successful);
    assert_eq!(r.outcome.metadata.unwrap()["num_data_rows"], 1);
    p.max_records = Some(1);
    let r = run_named(&p, "people.xlsx", &bytes);
    assert!(first_message(&r.outcome).contains("maxRecords"));
}

#[test]
fn broken_spreadsheets_fail_with_a_message() {
    let good = xlsx(|ws| {
        ws.write_string(0, 0, "email").unwrap();
        ws.write_string(1, 0, "a@b.co").unwrap();
    });
    let header_only = xlsx(|ws| {
        ws.write_string(0, 0, "email").unwrap();
    });
    let blank = xlsx(|_| {});
    let cases: [(&str, &[u8], &str); 7] = [
        (
            "q3.xlsx",
            b"email,age
a@b.co,1
",
            "not an XLSX or XLS spreadsheet",
        ),
        (
            "q3.xlsx",
            &good[..good.len() / 2],
            "could not be read as an XLSX spreadsheet",
        ),
        (
            "q3.xlsx",
            b"PK\x03\x04 not a zip at all",
            "could not be read as an XLSX spreadsheet",
        ),
        (
            "q3.xls",
            b"\xD0\xCF\x11\xE0 not a compound file",
            "could not be read as an XLS spreadsheet",
        ),
        ("q3.xlsx", b"", "empty"),
        ("q3.xlsx", &header_only, "no data rows"),
        ("q3.xlsx", &blank, "first worksheet is empty"),
    ];
    for (name, bytes, needle) in cases {
        let r = run_named(&contacts(), name, bytes);
        assert_eq!(r.outcome.verdict, Verdict::Failed, "{needle}");
        assert!(r.outcome.result.is_none());
        let m = first_message(&r.outcome);
        assert!(m.contains(needle), "{m:?} should mention {needle}");
    }
}

#[test]
fn numbers_print_as_excel_shows_them() {
    for (f, text) in [
        (36.0, "36"),
        (-0.0, "0"),
        (0.1 + 0.2, "0.3"),
        (1.0 / 3.0, "0.333333333333333"),
        (1e21, "1000000000000000000000"),
        (123_456_789_012_345_678.0, "123456789012346000"),
        (2.5e-10, "0.00000000025"),
    ] {
        assert_eq!(number_text(f), text, "{f}");
    }
    assert_eq!(duration_text(1.5), "36:00:00");
    assert_eq!(duration_text(-1.0 / 86_400.0), "-0:00:01");
}
