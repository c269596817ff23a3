//! Request bodies of `POST /v0/imports` (`CreateImportParameters`) and `PATCH /v0/imports/{id}`
//! (`UpdateImport`), checked the way a NestJS `ValidationPipe` with `forbidNonWhitelisted` would:
//! every problem is collected, unknown properties are refused, and `null` is not "absent".

use serde_json::{Map, Value};

/// The documented ceiling for `size` (50 MB).
pub const MAX_SIZE: f64 = 50_000_000.0;
pub const MAX_METADATA_VALUE_CHARS: usize = 1000;
pub const ENTITY_TYPES: [&str; 5] = ["company", "person", "article", "research_paper", "custom"];

#[derive(Debug, Clone, PartialEq)]
pub struct CreateImport {
    /// Bytes the file will have. A number, so a fractional value is accepted here and can never match.
    pub size: f64,
    pub count: u64,
    /// `{type}` or `{type: "custom", description}`, echoed back as sent.
    pub entity: Value,
    pub title: Option<String>,
    pub metadata: Map<String, Value>,
    /// `csv.identifier`: the column holding the entity's key. Kept as a number: any value at least the
    /// column count fails the import with `missing_identifier`.
    pub identifier: Option<f64>,
}

impl CreateImport {
    pub fn entity_type(&self) -> &str {
        self.entity
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct UpdateImport {
    pub title: Option<String>,
    pub metadata: Option<Map<String, Value>>,
}

/// Collected validation messages (NestJS/class-validator wording).
#[derive(Default)]
struct Problems(Vec<String>);

impl Problems {
    fn push(&mut self, message: impl Into<String>) {
        self.0.push(message.into());
    }

    fn unknown_keys(&mut self, obj: &Map<String, Value>, known: &[&str], prefix: &str) {
        for key in obj.keys() {
            if !known.contains(&key.as_str()) {
                self.push(format!("property {prefix}{key} should not exist"));
            }
        }
    }

    fn finish<T>(self, value: T) -> Result<T, Vec<String>> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self.0)
        }
    }
}

/// A JSON number that is mathematically an integer (`3` or `3.0`, as JSON Schema's `integer` has it).
fn integral(v: &Value) -> Option<f64> {
    v.as_f64().filter(|f| f.fract() == 0.0 && f.is_finite())
}

fn string_metadata(v: &Value, name: &str, problems: &mut Problems) -> Option<Map<String, Value>> {
    let Some(obj) = v.as_object() else {
        problems.push(format!("{name} must be an object"));
        return None;
    };
    let mut ok = true;
    for (key, value) in obj {
        match value.as_str() {
            None => {
                ok = false;
                problems.push(format!("{name}.{key} must be a string"));
            }
            Some(s) if s.chars().count() > MAX_METADATA_VALUE_CHARS => {
                ok = false;
                problems.push(format!(
                    "{name}.{key} must be shorter than or equal to {MAX_METADATA_VALUE_CHARS} characters"
                ));
            }
            Some(_) => {}
        }
    }
    ok.then(|| obj.clone())
}

fn entity(v: &Value, problems: &mut Problems) -> Option<Value> {
    let Some(obj) = v.as_object() else {
        problems.push("entity must be an object");
        return None;
    };
    let kind = obj.get("type").and_then(Value::as_str);
    let Some(kind) = kind.filter(|k| ENTITY_TYPES.contains(k)) else {
        problems.push(format!(
            "entity.type must be one of the following values: {}",
            ENTITY_TYPES.join(", ")
        ));
        return None;
    };
    if kind != "custom" {
        let before = problems.0.len();
        problems.unknown_keys(obj, &["type"], "entity.");
        return (problems.0.len() == before).then(|| serde_json::json!({ "type": kind }));
    }
    let before = problems.0.len();
    problems.unknown_keys(obj, &["type", "description"], "entity.");
    match obj.get("description") {
        None => problems.push("entity.description should not be empty when entity.type is custom"),
        Some(Value::String(d)) => {
            let n = d.chars().count();
            if n < 2 {
                problems.push("entity.description must be longer than or equal to 2 characters");
            } else if n > 200 {
                problems.push("entity.description must be shorter than or equal to 200 characters");
            }
        }
        Some(_) => problems.push("entity.description must be a string"),
    }
    (problems.0.len() == before)
        .then(|| serde_json::json!({ "type": "custom", "description": obj["description"] }))
}

/// Validates a `CreateImportParameters` body; `Err` holds every problem found.
pub fn parse_create(body: &Value) -> Result<CreateImport, Vec<String>> {
    let Some(obj) = body.as_object() else {
        return Err(vec!["The request body must be a JSON object".into()]);
    };
    let mut problems = Problems::default();
    problems.unknown_keys(
        obj,
        &[
            "size", "count", "format", "entity", "title", "metadata", "csv",
        ],
        "",
    );

    let size = match obj.get("size") {
        None => {
            problems.push("size should not be empty");
            None
        }
        Some(v) => match v.as_f64() {
            None => {
                problems.push("size must be a number");
                None
            }
            Some(s) if s <= 0.0 => {
                problems.push("size must be greater than 0");
                None
            }
            Some(s) if s > MAX_SIZE => {
                problems.push("size must not be greater than 50000000");
                None
            }
            Some(s) => Some(s),
        },
    };

    let count = match obj.get("count") {
        None => {
            problems.push("count should not be empty");
            None
        }
        Some(v) if !v.is_number() => {
            problems.push("count must be a number");
            None
        }
        Some(v) => match integral(v) {
            None => {
                problems.push("count must be an integer number");
                None
            }
            Some(c) if c < 1.0 => {
                problems.push("count must not be less than 1");
                None
            }
            Some(c) => Some(c as u64),
        },
    };

    match obj.get("format") {
        None => problems.push("format should not be empty"),
        Some(Value::String(f)) if f == "csv" => {}
        Some(_) => problems.push("format must be one of the following values: csv"),
    }

    let entity = match obj.get("entity") {
        None => {
            problems.push("entity should not be empty");
            None
        }
        Some(v) => entity(v, &mut problems),
    };

    let title = match obj.get("title") {
        None => None,
        Some(Value::String(t)) => Some(t.clone()),
        Some(_) => {
            problems.push("title must be a string");
            None
        }
    };

    let metadata = obj
        .get("metadata")
        .and_then(|v| string_metadata(v, "metadata", &mut problems))
        .unwrap_or_default();

    let mut identifier = None;
    match obj.get("csv") {
        None => {}
        Some(Value::Object(csv)) => {
            problems.unknown_keys(csv, &["identifier"], "csv.");
            match csv.get("identifier") {
                None => {}
                Some(v) if !v.is_number() => {
                    problems.push("csv.identifier must be an integer number")
                }
                Some(v) => match integral(v) {
                    None => problems.push("csv.identifier must be an integer number"),
                    Some(i) if i < 0.0 => problems.push("csv.identifier must not be less than 0"),
                    Some(i) => identifier = Some(i),
                },
            }
        }
        Some(_) => problems.push("csv must be an object"),
    }

    let (Some(size), Some(count), Some(entity)) = (size, count, entity) else {
        return Err(problems.0);
    };
    problems.finish(CreateImport {
        size,
        count,
        entity,
        title,
        metadata,
        identifier,
    })
}

/// Validates an `UpdateImport` body. `metadata` replaces the stored metadata wholesale.
pub fn parse_update(body: &Value) -> Result<UpdateImport, Vec<String>> {
    let Some(obj) = body.as_object() else {
        return Err(vec!["The request body must be a JSON object".into()]);
    };
    let mut problems = Problems::default();
    problems.unknown_keys(obj, &["title", "metadata"], "");
    let mut update = UpdateImport::default();
    match obj.get("title") {
        None => {}
        Some(Value::String(t)) => update.title = Some(t.clone()),
        Some(_) => problems.push("title must be a string"),
    }
    if let Some(v) = obj.get("metadata") {
        update.metadata = string_metadata(v, "metadata", &mut problems);
    }
    problems.finish(update)
}

/// Every `EventType` in the spec. The emulator only ever sends `import.created` and
/// `import.completed`, but a webhook may subscribe to any of them, as on Exa.
pub const EVENT_TYPES: [&str; 19] = [
    "webset.created",
    "webset.deleted",
    "webset.paused",
    "webset.idle",
    "webset.search.created",
    "webset.search.canceled",
    "webset.search.completed",
    "webset.search.updated",
    "import.created",
    "import.completed",
    "webset.item.created",
    "webset.item.enriched",
    "monitor.created",
    "monitor.updated",
    "monitor.deleted",
    "monitor.run.created",
    "monitor.run.completed",
    "webset.export.created",
    "webset.export.completed",
];

/// `CreateWebhookParameters` / `UpdateWebhookParameters`: every field optional here; `required`
/// says which must be present (all of `url` and `events` on create, none on update).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WebhookParams {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub metadata: Option<Map<String, Value>>,
}

/// Validates a webhook create (`required`) or update body. `url` must also pass `check_url`
/// (the emulator's loopback rule); its message is reported like any other problem.
pub fn parse_webhook(
    body: &Value,
    required: bool,
    check_url: impl Fn(&str) -> Result<(), String>,
) -> Result<WebhookParams, Vec<String>> {
    let Some(obj) = body.as_object() else {
        return Err(vec!["The request body must be a JSON object".into()]);
    };
    let mut problems = Problems::default();
    problems.unknown_keys(obj, &["url", "events", "metadata"], "");
    let mut params = WebhookParams::default();
    match obj.get("url") {
        None if required => problems.push("url should not be empty"),
        None => {}
        Some(Value::String(u)) => match check_url(u) {
            Ok(()) => params.url = Some(u.clone()),
            Err(m) => problems.push(m),
        },
        Some(_) => problems.push("url must be a URL address"),
    }
    match obj.get("events") {
        None if required => problems.push("events should not be empty"),
        None => {}
        Some(Value::Array(items)) => {
            let mut ok = true;
            if items.is_empty() {
                ok = false;
                problems.push("events must contain at least 1 elements");
            }
            if items.len() > EVENT_TYPES.len() {
                ok = false;
                problems.push(format!(
                    "events must contain no more than {} elements",
                    EVENT_TYPES.len()
                ));
            }
            if items
                .iter()
                .any(|e| !e.as_str().is_some_and(|e| EVENT_TYPES.contains(&e)))
            {
                ok = false;
                problems.push(format!(
                    "each value in events must be one of the following values: {}",
                    EVENT_TYPES.join(", ")
                ));
            }
            if ok {
                params.events = Some(
                    items
                        .iter()
                        .filter_map(|e| e.as_str().map(str::to_string))
                        .collect(),
                );
            }
        }
        Some(_) => problems.push("events must be an array"),
    }
    if let Some(v) = obj.get("metadata") {
        params.metadata = string_metadata(v, "metadata", &mut problems);
    }
    problems.finish(params)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ok() -> Value {
        json!({"size": 10, "count": 1, "format": "csv", "entity": {"type": "company"}})
    }

    fn with(key: &str, value: Value) -> Value {
        let mut v = ok();
        v[key] = value;
        v
    }

    fn problems(body: Value) -> Vec<String> {
        parse_create(&body).expect_err("invalid")
    }

    #[test]
    fn accepts_the_minimal_and_the_full_body() {
        let c = parse_create(&ok()).unwrap();
        assert_eq!((c.size, c.count, c.entity_type()), (10.0, 1, "company"));
        assert_eq!(c.title, None);
        assert!(c.metadata.is_empty());
        let full = json!({
            "size": 50_000_000, "count": 3.0, "format": "csv",
            "entity": {"type": "custom", "description": "VC funds"},
            "title": "t", "metadata": {"k": "v"}, "csv": {"identifier": 2}
        });
        let c = parse_create(&full).unwrap();
        assert_eq!(c.count, 3);
        assert_eq!(c.identifier, Some(2.0));
        assert_eq!(
            c.entity,
            json!({"type": "custom", "description": "VC funds"})
        );
        assert!(parse_create(&with("csv", json!({}))).is_ok());
    }

    #[test]
    fn rejects_each_class() {
        assert_eq!(
            problems(json!({})),
            [
                "size should not be empty",
                "count should not be empty",
                "format should not be empty",
                "entity should not be empty"
            ]
        );
        assert_eq!(
            problems(with("size", json!("10"))),
            ["size must be a number"]
        );
        assert_eq!(
            problems(with("size", json!(0))),
            ["size must be greater than 0"]
        );
        assert_eq!(
            problems(with("size", json!(50_000_001))),
            ["size must not be greater than 50000000"]
        );
        assert_eq!(
            problems(with("count", json!(1.5))),
            ["count must be an integer number"]
        );
        assert_eq!(
            problems(with("count", json!(0))),
            ["count must not be less than 1"]
        );
        assert_eq!(
            problems(with("format", json!("tsv"))),
            ["format must be one of the following values: csv"]
        );
        assert!(problems(with("entity", json!({"type": "place"})))[0].starts_with("entity.type"));
        assert_eq!(
            problems(with(
                "entity",
                json!({"type": "custom", "description": "x"})
            )),
            ["entity.description must be longer than or equal to 2 characters"]
        );
        assert_eq!(
            problems(with(
                "entity",
                json!({"type": "custom", "description": "x".repeat(201)})
            )),
            ["entity.description must be shorter than or equal to 200 characters"]
        );
        assert_eq!(
            problems(with(
                "entity",
                json!({"type": "person", "description": "people"})
            )),
            ["property entity.description should not exist"]
        );
        assert_eq!(
            problems(with("title", json!(null))),
            ["title must be a string"]
        );
        assert_eq!(
            problems(with("metadata", json!({"a": 1}))),
            ["metadata.a must be a string"]
        );
        assert_eq!(
            problems(with("metadata", json!({"a": "x".repeat(1001)}))),
            ["metadata.a must be shorter than or equal to 1000 characters"]
        );
        assert_eq!(
            problems(with("csv", json!({"identifier": -1}))),
            ["csv.identifier must not be less than 0"]
        );
        assert_eq!(
            problems(with("csv", json!({"identifier": "0"}))),
            ["csv.identifier must be an integer number"]
        );
        assert_eq!(
            problems(with("extra", json!(1))),
            ["property extra should not exist"]
        );
        assert!(parse_create(&json!([])).is_err());
    }

    #[test]
    fn update_bodies() {
        assert_eq!(parse_update(&json!({})).unwrap(), UpdateImport::default());
        let u = parse_update(&json!({"title": "x", "metadata": {"a": "b"}})).unwrap();
        assert_eq!(u.title.as_deref(), Some("x"));
        assert!(parse_update(&json!({"name": "x"})).is_err());
        assert!(parse_update(&json!({"metadata": {"a": 1}})).is_err());
        assert!(parse_update(&json!({"metadata": {"a": "x".repeat(1001)}})).is_err());
        assert!(parse_update(&json!({"title": 3})).is_err());
    }
}
