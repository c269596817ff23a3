//! The Saved Schema API (`/api/v1/schemas/`): CRUD, validation, auth, 405s, redirects, the store that
//! imports read, reset, and fault injection on its routes.

mod common;

use common::*;
use headless_imports_emulator::dromo::schema::parse_schemas;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

fn is_uuid_v4(s: &str) -> bool {
    s.len() == 36
        && s.as_bytes()[14] == b'4'
        && s.chars().enumerate().all(|(i, c)| {
            if [8, 13, 18, 23].contains(&i) {
                c == '-'
            } else {
                c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
            }
        })
}

fn schema_body(name: &str) -> Value {
    json!({
        "name": name,
        "fields": [
            {"key": "sku", "type": "string", "label": "SKU", "validators": [{"validate": "required"}]},
            {"key": "qty", "type": "number", "label": "Quantity"}
        ],
        "settings": {"invalidDataBehavior": "INCLUDE_INVALID_ROWS"},
        "hooks": {"rowHooks": ["(record) => record"]}
    })
}

impl Env {
    async fn schema_send(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let mut req = self.authed(method, path);
        if let Some(b) = body {
            req = req.json(b);
        }
        self.send(req).await
    }

    async fn list_schemas(&self) -> Vec<Value> {
        let r = self.schema_send(Method::GET, "/schemas/", None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        r.json().as_array().expect("a plain array").clone()
    }

    async fn create_schema(&self, body: &Value) -> Value {
        let r = self
            .schema_send(Method::POST, "/schemas/", Some(body))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json()
    }
}

fn names(list: &[Value]) -> Vec<&str> {
    list.iter().map(|s| s["name"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn saved_schema_round_trip() {
    let env = start(config()).await;
    let seeded = env.list_schemas().await;
    assert_eq!(names(&seeded), ["contacts", "products"]);
    assert_eq!(seeded[0]["id"], CONTACTS);
    let keys: Vec<&str> = seeded[0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["id", "name", "fields", "settings", "hooks"]);
    // Fields come back as they were given, not in the emulator's compiled form.
    assert_eq!(
        seeded[0]["fields"][0],
        json!({"key": "first_name", "type": "string", "label": "First Name", "alternateMatches": ["first", "given name"]})
    );

    // The server assigns the id; one in the body is read-only and ignored.
    let mut body = schema_body("inventory");
    body["id"] = json!(CONTACTS);
    let created = env.create_schema(&body).await;
    let id = created["id"].as_str().unwrap().to_string();
    assert!(is_uuid_v4(&id), "{id}");
    assert_ne!(id, CONTACTS);
    body["id"] = json!(id);
    assert_eq!(created, body);
    assert_eq!(
        names(&env.list_schemas().await),
        ["contacts", "products", "inventory"]
    );
    let path = format!("/schemas/{id}/");
    let got = env.schema_send(Method::GET, &path, None).await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.json(), created);

    // PUT replaces everything: absent hooks become {}, and the id stays.
    let replacement = json!({
        "name": "stock",
        "fields": [{"key": "code", "type": "string", "label": "Code"}],
        "settings": {}
    });
    let put = env
        .schema_send(Method::PUT, &path, Some(&replacement))
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    let expected = json!({
        "id": id,
        "name": "stock",
        "fields": [{"key": "code", "type": "string", "label": "Code"}],
        "settings": {},
        "hooks": {}
    });
    assert_eq!(put.json(), expected);
    assert_eq!(
        env.schema_send(Method::GET, &path, None).await.json(),
        expected
    );
    assert_eq!(
        names(&env.list_schemas().await),
        ["contacts", "products", "stock"]
    );

    let del = env.schema_send(Method::DELETE, &path, None).await;
    assert_eq!(del.status, StatusCode::NO_CONTENT);
    assert_eq!(del.text, "");
    for method in [Method::GET, Method::DELETE] {
        let r = env.schema_send(method, &path, None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        assert_eq!(r.json(), json!({"detail": "Not found."}));
    }
    // An unknown id is 404 before the body is looked at, as DRF fetches the object first.
    let r = env
        .send(
            env.authed(Method::PUT, &path)
                .header("content-type", "application/json")
                .body("{not json"),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json(), json!({"detail": "Not found."}));
    assert_eq!(names(&env.list_schemas().await), ["contacts", "products"]);
    env.shutdown().await;
}

#[tokio::test]
async fn duplicate_names_are_400_on_create_and_update() {
    let env = start(config()).await;
    let taken = json!({"name": ["import schema with this name already exists."]});
    for name in ["contacts", "  contacts "] {
        let r = env
            .schema_send(Method::POST, "/schemas/", Some(&schema_body(name)))
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{name:?}: {}", r.text);
        assert_eq!(r.json(), taken);
    }
    let mine = env.create_schema(&schema_body(" mine ")).await;
    assert_eq!(
        mine["name"], "mine",
        "names are trimmed, as DRF's CharField does"
    );
    let path = format!("/schemas/{}/", mine["id"].as_str().unwrap());
    let r = env
        .schema_send(Method::PUT, &path, Some(&schema_body("products")))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.json(), taken);
    // Its own name is not a clash.
    let r = env
        .schema_send(Method::PUT, &path, Some(&schema_body("mine")))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = env
        .schema_send(
            Method::PUT,
            &format!("/schemas/{PRODUCTS}/"),
            Some(&schema_body("products")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(env.list_schemas().await.len(), 3);
    env.shutdown().await;
}

#[tokio::test]
async fn invalid_schema_bodies_are_400_in_drf_shape() {
    let env = start(config()).await;
    let with = |key: &str, value: Value| {
        let mut b = schema_body("x");
        b[key] = value;
        b
    };
    let without = |key: &str| {
        let mut b = schema_body("x");
        b.as_object_mut().unwrap().remove(key);
        b
    };
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            with("colour", json!("red")),
            "non_field_errors",
            "'colour' was unexpected",
        ),
        (without("name"), "name", "This field is required."),
        (with("name", json!("  ")), "name", "may not be blank"),
        (with("name", json!(null)), "name", "may not be null"),
        (with("name", json!(7)), "name", "Not a valid string."),
        (without("fields"), "fields", "This field is required."),
        (with("fields", json!(null)), "fields", "may not be null"),
        (with("fields", json!([])), "fields", "may not be empty"),
        (
            with("fields", json!([{"key": "a", "type": "string"}])),
            "fields",
            "fields[0]: 'label' is a required property",
        ),
        (
            with(
                "fields",
                json!([{"key": "a", "type": "string", "label": "A", "colour": 1}]),
            ),
            "fields",
            "'colour' was unexpected",
        ),
        (
            with(
                "fields",
                json!([{"key": "a", "type": "string", "label": "A", "validators": [{"validate": "regex_match", "regex": "("}]}]),
            ),
            "fields",
            "invalid regex",
        ),
        (without("settings"), "settings", "This field is required."),
        (with("settings", json!(null)), "settings", "may not be null"),
        (
            with("settings", json!({"colour": 1})),
            "settings",
            "'colour' was unexpected",
        ),
        (
            with("settings", json!({"invalidDataBehavior": "SOMETIMES"})),
            "settings",
            "invalidDataBehavior",
        ),
        (with("hooks", json!(null)), "hooks", "may not be null"),
        (
            with("hooks", json!({"onStart": "x"})),
            "hooks",
            "'onStart' was unexpected",
        ),
        (
            with(
                "hooks",
                json!({"stepHooks": [{"type": "NOPE", "callback": "x"}]}),
            ),
            "hooks",
            "stepHooks[0]",
        ),
        (json!([1]), "non_field_errors", "Expected a dictionary"),
    ];
    let put_path = format!("/schemas/{PRODUCTS}/");
    for (body, key, needle) in cases {
        for (method, path) in [(Method::POST, "/schemas/"), (Method::PUT, &put_path)] {
            let r = env.schema_send(method.clone(), path, Some(&body)).await;
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "{method} {body}: {}",
                r.text
            );
            let errors = r.json();
            let messages = errors[key]
                .as_array()
                .unwrap_or_else(|| panic!("{method} {body}: no {key} in {errors}"));
            assert!(
                messages
                    .iter()
                    .any(|m| m.as_str().unwrap().contains(needle)),
                "{method} {body}: {errors} should mention {needle}"
            );
        }
    }
    // All problems at once.
    let r = env
        .schema_send(
            Method::POST,
            "/schemas/",
            Some(&json!({"name": "contacts"})),
        )
        .await;
    let errors = r.json();
    let mut keys: Vec<&str> = errors
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort();
    assert_eq!(keys, ["fields", "name", "settings"], "{errors}");

    for path in ["/schemas/", put_path.as_str()] {
        let method = if path == "/schemas/" {
            Method::POST
        } else {
            Method::PUT
        };
        let r = env
            .send(
                env.authed(method.clone(), path)
                    .header("content-type", "application/json")
                    .body("{not json"),
            )
            .await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{method}");
        assert!(r.json()["detail"]
            .as_str()
            .unwrap()
            .starts_with("JSON parse error"));
        let r = env
            .send(
                env.authed(method, path)
                    .header("content-type", "text/plain")
                    .body("{}"),
            )
            .await;
        assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    }
    // Nothing was stored or changed.
    let list = env.list_schemas().await;
    assert_eq!(names(&list), ["contacts", "products"]);
    assert_eq!(list[1]["fields"][0]["key"], "product");
    env.shutdown().await;
}

#[tokio::test]
async fn schema_routes_need_the_key_and_a_known_method() {
    let env = start(config()).await;
    let item = format!("/schemas/{CONTACTS}/");
    for (method, path) in [
        (Method::GET, "/schemas/"),
        (Method::POST, "/schemas/"),
        (Method::GET, item.as_str()),
        (Method::PUT, item.as_str()),
        (Method::DELETE, item.as_str()),
    ] {
        for key in [None, Some("wrong-key")] {
            let mut req = env
                .http
                .request(method.clone(), env.api(path))
                .json(&schema_body("x"));
            if let Some(k) = key {
                req = req.header("X-Dromo-License-Key", k);
            }
            let r = env.send(req).await;
            assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
            assert_eq!(
                r.json(),
                json!({"detail": "Invalid or missing backend license key."})
            );
        }
    }
    assert_eq!(
        env.list_schemas().await.len(),
        2,
        "nothing deleted or added"
    );

    for (method, path, allow) in [
        (Method::PUT, "/schemas/", "GET, POST, HEAD, OPTIONS"),
        (Method::DELETE, "/schemas/", "GET, POST, HEAD, OPTIONS"),
        (
            Method::PATCH,
            item.as_str(),
            "GET, PUT, DELETE, HEAD, OPTIONS",
        ),
        (
            Method::POST,
            item.as_str(),
            "GET, PUT, DELETE, HEAD, OPTIONS",
        ),
    ] {
        let r = env
            .schema_send(method.clone(), path, Some(&json!({"name": "y"})))
            .await;
        assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_eq!(r.header("allow"), Some(allow));
        assert_eq!(
            r.json(),
            json!({"detail": format!("Method \"{method}\" not allowed.")})
        );
    }
    let stats = env.send(env.http.get(env.control("/stats"))).await.json();
    assert_eq!(stats["requests"]["dromo.schema_list"], 3);
    assert_eq!(stats["requests"]["dromo.schema_create"], 2);
    assert_eq!(stats["requests"]["dromo.schema_get"], 2);
    assert_eq!(stats["requests"]["dromo.schema_update"], 2);
    assert_eq!(stats["requests"]["dromo.schema_delete"], 2);
    assert_eq!(stats["requests"]["dromo.other"], 4);
    env.shutdown().await;
}

#[tokio::test]
async fn schema_paths_without_trailing_slash_redirect() {
    let env = start(config()).await;
    for (path, location) in [
        ("/schemas", "/api/v1/schemas/".to_string()),
        (
            &format!("/schemas/{CONTACTS}") as &str,
            format!("/api/v1/schemas/{CONTACTS}/"),
        ),
    ] {
        for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
            let r = env.send(env.authed(method.clone(), path)).await;
            assert_eq!(r.status, StatusCode::MOVED_PERMANENTLY, "{method} {path}");
            assert_eq!(r.header("location"), Some(location.as_str()));
        }
    }
    let r = env.send(env.authed(Method::GET, "/schemas/a/b")).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The redirect deleted nothing.
    assert_eq!(env.list_schemas().await.len(), 2);
    env.shutdown().await;
}

#[tokio::test]
async fn imports_read_the_schema_store_as_it_is_now() {
    let env = start(config()).await;
    let created = env.create_schema(&schema_body("inventory")).await;
    let id = created["id"].as_str().unwrap().to_string();
    let import = env
        .create_ok(json!({"schema_id": id, "initial_data": [{"sku": "A1", "qty": 3}]}))
        .await;
    assert_eq!(import["schema_id"], id);
    let first = import["id"].as_str().unwrap().to_string();
    let inspected = env.inspect(&first).await;
    assert_eq!(inspected["fields"], json!(["sku", "qty"]));
    assert_eq!(
        inspected["settings"],
        json!({"invalidDataBehavior": "INCLUDE_INVALID_ROWS"})
    );
    assert_eq!(env.wait_final(&first).await["status"], "SUCCESSFUL");
    assert_eq!(env.results(&first).await, json!([{"sku": "A1", "qty": 3}]));

    // Replaced: the next import uses the new fields and settings (the first keeps its own).
    let path = format!("/schemas/{id}/");
    let replacement = json!({
        "name": "inventory",
        "fields": [
            {"key": "code", "type": "string", "label": "Code"},
            {"key": "price", "type": "number", "label": "Price"}
        ],
        "settings": {"invalidDataBehavior": "REMOVE_INVALID_ROWS"}
    });
    let r = env
        .schema_send(Method::PUT, &path, Some(&replacement))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let second = env
        .create_ok(json!({
            "schema_id": id,
            "initial_data": [{"code": "B2", "price": 9.5}, {"code": "C3", "price": "free"}]
        }))
        .await;
    let second = second["id"].as_str().unwrap().to_string();
    let inspected = env.inspect(&second).await;
    assert_eq!(inspected["fields"], json!(["code", "price"]));
    assert_eq!(inspected["hooks"], json!({}));
    assert_eq!(env.wait_final(&second).await["status"], "SUCCESSFUL");
    assert_eq!(
        env.results(&second).await,
        json!([{"code": "B2", "price": 9.5}])
    );
    assert_eq!(env.inspect(&first).await["fields"], json!(["sku", "qty"]));

    // Deleted: an import against it is the usual unknown-schema 404; existing imports stay.
    for schema in [id.as_str(), CONTACTS] {
        let r = env
            .schema_send(Method::DELETE, &format!("/schemas/{schema}/"), None)
            .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        let r = env
            .create(json!({"schema_id": schema, "original_filename": "a.csv"}))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{schema}");
        assert_eq!(r.json(), json!({"detail": "No schema found with that id"}));
    }
    let r = env
        .send(env.authed(Method::GET, &format!("/headless/imports/{first}/")))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    env.shutdown().await;
}

#[tokio::test]
async fn reset_restores_the_seeded_schemas() {
    let env = start(config()).await;
    let seeded = env.list_schemas().await;
    env.create_schema(&schema_body("inventory")).await;
    let r = env
        .schema_send(
            Method::PUT,
            &format!("/schemas/{PRODUCTS}/"),
            Some(&schema_body("goods")),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = env
        .schema_send(Method::DELETE, &format!("/schemas/{CONTACTS}/"), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(names(&env.list_schemas().await), ["goods", "inventory"]);

    let r = env.send(env.http.post(env.control("/reset"))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(env.list_schemas().await, seeded);
    // And imports see the seeded versions again.
    let import = env
        .create_ok(json!({"schema_id": CONTACTS, "original_filename": "a.csv"}))
        .await;
    assert_eq!(
        env.inspect(import["id"].as_str().unwrap()).await["fields"],
        json!(["first_name", "last_name", "email", "age"])
    );
    env.shutdown().await;
}

#[tokio::test]
async fn schema_routes_take_faults() {
    let env = start(config()).await;
    let plan = json!({"rules": [
        {"route": "dromo.schema_create", "kind": "reset_after", "count": 1},
        {"route": "dromo.schema_delete", "kind": "status", "status": 503, "count": 1},
        {"route": "dromo.schema_update", "kind": "status", "status": 502, "after": true, "count": 1}
    ]});
    let r = env
        .send(env.http.post(env.control("/faults")).json(&plan))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // reset_after: created, but the answer (and so the id) is lost.
    let err = env
        .authed(Method::POST, "/schemas/")
        .json(&schema_body("lost"))
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_status() && !err.is_timeout(), "{err:?}");
    assert_eq!(
        names(&env.list_schemas().await),
        ["contacts", "products", "lost"]
    );

    // status before: nothing deleted.
    let path = format!("/schemas/{CONTACTS}/");
    let r = env.schema_send(Method::DELETE, &path, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        r.json(),
        json!({"detail": "Service Unavailable (injected fault)"})
    );
    assert_eq!(
        env.schema_send(Method::GET, &path, None).await.status,
        StatusCode::OK
    );

    // status after: replaced, then a 502.
    let r = env
        .schema_send(Method::PUT, &path, Some(&schema_body("renamed")))
        .await;
    assert_eq!(r.status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        env.schema_send(Method::GET, &path, None).await.json()["name"],
        "renamed"
    );

    let counters = env.send(env.http.get(env.control("/faults"))).await.json();
    assert_eq!(counters["rules"][0]["hidden"], json!({"201": 1}));
    assert_eq!(counters["rules"][2]["hidden"], json!({"200": 1}));
    assert_eq!(counters["injected"], 3);
    env.shutdown().await;
}

#[test]
fn a_schemas_file_with_a_duplicate_name_is_refused() {
    let field = json!([{"key": "a", "type": "string", "label": "A"}]);
    let file = json!([
        {"id": "one", "name": "same", "fields": field},
        {"id": "two", "name": "same", "fields": field}
    ]);
    let err = parse_schemas(&file.to_string()).unwrap_err();
    assert_eq!(err, "schema 1: duplicate name \"same\"");
}
