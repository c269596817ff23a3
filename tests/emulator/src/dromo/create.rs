//! The body of `POST /headless/imports/`, checked the way Dromo's API documents it, with errors in
//! Django REST framework's shape: `{"<field>": ["message", ...]}`, all problems at once.

use serde_json::{Map, Value};

use super::cells::Field;
use super::schema;

pub enum SchemaChoice {
    Saved(String),
    Inline(Vec<Field>),
}

pub enum Source {
    File(String),
    Rows(Vec<Map<String, Value>>),
}

pub struct CreateRequest {
    pub schema: SchemaChoice,
    pub settings: Map<String, Value>,
    pub hooks: Map<String, Value>,
    pub source: Source,
    /// As sent (`null` when absent): Dromo shows it in its dashboard, never in API answers.
    pub import_metadata: Value,
}

/// DRF's validation error body, built up field by field (the Saved Schema API uses it too).
#[derive(Default)]
pub(super) struct Errors(Map<String, Value>);

impl Errors {
    pub(super) fn add(&mut self, field: &str, message: impl Into<String>) {
        let entry = self
            .0
            .entry(field.to_string())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(list) = entry {
            list.push(Value::String(message.into()));
        }
    }

    pub(super) fn extend(&mut self, field: &str, messages: Vec<String>) {
        for m in messages {
            self.add(field, m);
        }
    }

    pub(super) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(super) fn into_value(self) -> Value {
        Value::Object(self.0)
    }
}

/// The body as a JSON object, or DRF's answer to anything else.
pub(super) fn expect_object(body: &Value) -> Result<&Map<String, Value>, Value> {
    let got = match body {
        Value::Object(o) => return Ok(o),
        Value::Array(_) => "list",
        Value::String(_) => "str",
        Value::Number(_) => "int",
        Value::Bool(_) => "bool",
        Value::Null => "NoneType",
    };
    let mut errors = Errors::default();
    errors.add(
        "non_field_errors",
        format!("Invalid data. Expected a dictionary, but got {got}."),
    );
    Err(errors.into_value())
}

/// Present and not null; `null` counts as absent only where the API documents the field as nullable.
fn given<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    body.get(key).filter(|v| !v.is_null())
}

pub(super) fn string_field(
    body: &Map<String, Value>,
    key: &str,
    errors: &mut Errors,
) -> Option<String> {
    match body.get(key)? {
        Value::String(s) if s.trim().is_empty() => {
            errors.add(key, "This field may not be blank.");
            None
        }
        Value::String(s) => Some(s.clone()),
        Value::Null => {
            errors.add(key, "This field may not be null.");
            None
        }
        _ => {
            errors.add(key, "Not a valid string.");
            None
        }
    }
}

pub fn parse(body: &Value) -> Result<CreateRequest, Value> {
    let body = expect_object(body)?;
    let mut errors = Errors::default();

    let schema_id = string_field(body, "schema_id", &mut errors);
    let fields = match body.get("fields") {
        None => None,
        Some(Value::Null) => {
            errors.add("fields", "This field may not be null.");
            None
        }
        Some(v) => match schema::compile_fields(v, "fields") {
            Ok(f) => Some(f),
            Err(m) => {
                errors.extend("fields", m);
                None
            }
        },
    };
    if body.contains_key("schema_id") == body.contains_key("fields") {
        errors.add(
            "non_field_errors",
            "Provide exactly one of schema_id or fields.",
        );
    }

    let mut settings = Map::new();
    match body.get("settings") {
        None => {}
        Some(Value::Null) => errors.add("settings", "This field may not be null."),
        Some(v) => match schema::validate_settings(v) {
            Ok(s) => settings = s,
            Err(m) => errors.extend("settings", m),
        },
    }
    let mut hooks = Map::new();
    match body.get("hooks") {
        None => {}
        Some(Value::Null) => errors.add("hooks", "This field may not be null."),
        Some(v) => match schema::validate_hooks(v) {
            Ok(h) => hooks = h,
            Err(m) => errors.extend("hooks", m),
        },
    }
    if let Some(meta) = body.get("import_metadata") {
        if let Err(m) = schema::validate_import_metadata(meta) {
            errors.extend("import_metadata", m);
        }
    }

    let filename = match given(body, "original_filename") {
        None => None,
        Some(_) => string_field(body, "original_filename", &mut errors),
    };
    let rows = match given(body, "initial_data") {
        None => None,
        Some(Value::Array(items)) => {
            let mut rows = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                match item {
                    Value::Object(o) => rows.push(o.clone()),
                    _ => errors.add(
                        "initial_data",
                        format!(
                            "Item {i} is not an object: rows must be objects keyed by field key."
                        ),
                    ),
                }
            }
            Some(rows)
        }
        Some(_) => {
            errors.add(
                "initial_data",
                "Expected a list of items but got a different type.",
            );
            None
        }
    };
    let has_file = given(body, "original_filename").is_some();
    let has_rows = given(body, "initial_data").is_some();
    if has_file == has_rows {
        errors.add(
            "non_field_errors",
            "Provide exactly one of original_filename or initial_data.",
        );
    }

    if !errors.0.is_empty() {
        return Err(Value::Object(errors.0));
    }
    let schema = match (schema_id, fields) {
        (Some(id), None) => SchemaChoice::Saved(id),
        (None, Some(f)) => SchemaChoice::Inline(f),
        _ => unreachable!("checked above"),
    };
    let source = match (filename, rows) {
        (Some(f), None) => Source::File(f),
        (None, Some(r)) => Source::Rows(r),
        _ => unreachable!("checked above"),
    };
    Ok(CreateRequest {
        schema,
        settings,
        hooks,
        source,
        import_metadata: body.get("import_metadata").cloned().unwrap_or(Value::Null),
    })
}
