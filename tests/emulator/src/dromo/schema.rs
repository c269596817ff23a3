//! Dromo schemas: saved ones (built in, from `--schemas`, or made through the Saved Schema API), and
//! validation of the schema parts of a request (`fields`, `settings`, `hooks`, `import_metadata`) as
//! the OpenAPI document states them.

use std::collections::HashSet;

use regex::Regex;
use serde_json::{Map, Value};

use super::cells::{Field, FieldType, Rule, SelectOption, Validator};
use super::process::{Behavior, Plan};

/// A saved schema, as in the `--schemas` file and the Saved Schema API: `{id, name, fields, settings, hooks}`.
#[derive(Debug, Clone)]
pub struct SavedSchema {
    pub id: String,
    pub name: String,
    pub fields: Vec<Field>,
    /// `fields` as given, for the API to answer with: the compiled form drops what processing ignores.
    pub fields_json: Value,
    pub settings: Map<String, Value>,
    pub hooks: Map<String, Value>,
}

impl SavedSchema {
    /// The `ImportSchema` the Saved Schema API answers with.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "fields": self.fields_json,
            "settings": self.settings,
            "hooks": self.hooks,
        })
    }
}

/// The schemas every emulator knows without `--schemas`; the same file is shipped for editing.
pub const BUILTIN_JSON: &str = include_str!("../../schemas.json");

pub fn builtin() -> Vec<SavedSchema> {
    parse_schemas(BUILTIN_JSON).expect("schemas.json is valid")
}

/// Parses and validates a schemas file, with the same rules as inline schemas, so a typo fails at
/// start-up rather than as a puzzling NEEDS_REVIEW later.
pub fn parse_schemas(text: &str) -> Result<Vec<SavedSchema>, String> {
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
    let Value::Array(items) = doc else {
        return Err("expected an array of {id, name, fields, settings, hooks}".into());
    };
    let mut out = Vec::new();
    let mut ids = HashSet::new();
    let mut names = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let where_ = |m: String| format!("schema {i}: {m}");
        let id = item
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| where_("\"id\" must be a non-empty string".into()))?;
        if !ids.insert(id.to_string()) {
            return Err(where_(format!("duplicate id {id}")));
        }
        let name = item.get("name").and_then(Value::as_str).unwrap_or(id);
        // Dromo keeps names unique in an organisation; the Saved Schema API refuses a duplicate.
        if !names.insert(name.to_string()) {
            return Err(where_(format!("duplicate name {name:?}")));
        }
        let fields_json = item.get("fields").cloned().unwrap_or(Value::Null);
        let fields = compile_fields(&fields_json, "fields").map_err(|e| where_(e.join("; ")))?;
        let settings = validate_settings(item.get("settings").unwrap_or(&Value::Null))
            .map_err(|e| where_(e.join("; ")))?;
        let hooks = validate_hooks(item.get("hooks").unwrap_or(&Value::Null))
            .map_err(|e| where_(e.join("; ")))?;
        out.push(SavedSchema {
            id: id.to_string(),
            name: name.to_string(),
            fields,
            fields_json,
            settings,
            hooks,
        });
    }
    Ok(out)
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "str",
        Value::Array(_) => "list",
        Value::Object(_) => "dict",
    }
}

const FIELD_KEYS: &[&str] = &[
    "key",
    "type",
    "label",
    "description",
    "alternateMatches",
    "validators",
    "invalidValueMessage",
    "readOnly",
    "hidden",
    "requireMapping",
    "manyToOne",
];

pub(super) fn unexpected(obj: &Map<String, Value>, allowed: &[&str]) -> Option<String> {
    let extra: Vec<String> = obj
        .keys()
        .filter(|k| !allowed.contains(&k.as_str()))
        .map(|k| format!("'{k}'"))
        .collect();
    (!extra.is_empty()).then(|| {
        format!(
            "Additional properties are not allowed ({} {} unexpected)",
            extra.join(", "),
            if extra.len() == 1 { "was" } else { "were" }
        )
    })
}

/// Validates a `fields` array and compiles it for processing. Messages follow jsonschema's wording,
/// prefixed with the item's position (`fields[2]: ...`).
pub fn compile_fields(value: &Value, name: &str) -> Result<Vec<Field>, Vec<String>> {
    let Value::Array(items) = value else {
        return Err(vec![format!(
            "Expected a list of items but got type \"{}\".",
            type_name(value)
        )]);
    };
    if items.is_empty() {
        return Err(vec!["This list may not be empty.".into()]);
    }
    let mut errors = Vec::new();
    let mut fields = Vec::new();
    let mut keys = HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let mut err = |m: String| errors.push(format!("{name}[{i}]: {m}"));
        let Value::Object(obj) = item else {
            err(format!("{item} is not of type 'object'"));
            continue;
        };
        if let Some(m) = unexpected(obj, FIELD_KEYS) {
            err(m);
        }
        for required in ["key", "type", "label"] {
            if !obj.contains_key(required) {
                err(format!("'{required}' is a required property"));
            }
        }
        let string_of = |k: &str, err: &mut dyn FnMut(String)| -> Option<String> {
            match obj.get(k) {
                None => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(v) => {
                    err(format!("{k}: {v} is not of type 'string'"));
                    None
                }
            }
        };
        let key = string_of("key", &mut err);
        let label = string_of("label", &mut err);
        string_of("description", &mut err);
        let invalid_value_message = string_of("invalidValueMessage", &mut err);
        if let Some(k) = &key {
            if k.is_empty() {
                err("key: must not be empty".into());
            } else if !keys.insert(k.clone()) {
                err(format!("key: duplicate field key '{k}'"));
            }
        }
        for flag in ["readOnly", "hidden", "requireMapping", "manyToOne"] {
            if let Some(v) = obj.get(flag).filter(|v| !v.is_boolean()) {
                err(format!("{flag}: {v} is not of type 'boolean'"));
            }
        }
        let mut alternate_matches = Vec::new();
        match obj.get("alternateMatches") {
            None => {}
            Some(Value::Array(a)) if a.iter().all(Value::is_string) => {
                alternate_matches = a
                    .iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect();
            }
            Some(v) => err(format!("alternateMatches: {v} is not a list of strings")),
        }
        let kind = match obj.get("type") {
            None => None,
            Some(t) => match compile_type(t) {
                Ok(k) => Some(k),
                Err(m) => {
                    err(format!("type: {m}"));
                    None
                }
            },
        };
        let validators = match obj.get("validators") {
            None => Vec::new(),
            Some(v) => compile_validators(v).unwrap_or_else(|m| {
                err(format!("validators: {m}"));
                Vec::new()
            }),
        };
        if let (Some(key), Some(label), Some(kind)) = (key, label, kind) {
            fields.push(Field {
                key,
                label,
                alternate_matches,
                kind,
                validators,
                require_mapping: obj.get("requireMapping") == Some(&Value::Bool(true)),
                invalid_value_message,
            });
        }
    }
    if errors.is_empty() {
        Ok(fields)
    } else {
        Err(errors)
    }
}

/// `"email"` or `["select", {"options": [...]}]`; unknown type names are processed as text.
fn compile_type(t: &Value) -> Result<FieldType, String> {
    let (name, options) = match t {
        Value::String(s) => (s.as_str(), None),
        Value::Array(a) => match a.first() {
            Some(Value::String(s)) => (s.as_str(), a.get(1)),
            _ => return Err("an array type must start with the type name".into()),
        },
        other => return Err(format!("{other} is not of type 'string', 'array'")),
    };
    Ok(match name {
        "number" => FieldType::Number,
        "email" => FieldType::Email,
        "checkbox" => FieldType::Checkbox,
        "date" => FieldType::Date,
        "select" => FieldType::Select(compile_options(options)?),
        _ => FieldType::Text,
    })
}

fn compile_options(options: Option<&Value>) -> Result<Vec<SelectOption>, String> {
    // The brief form is {"options": [...]}; Dromo's field reference calls it selectOptions.
    let list = options
        .and_then(|o| o.get("options").or_else(|| o.get("selectOptions")))
        .and_then(Value::as_array)
        .ok_or("a select needs [\"select\", {\"options\": [{\"label\", \"value\"}, ...]}]")?;
    list.iter()
        .map(|o| {
            let value = o.get("value").cloned().ok_or("each option needs a value")?;
            let label = match o.get("label") {
                Some(Value::String(s)) => s.clone(),
                None => match &value {
                    Value::String(s) => s.clone(),
                    v => v.to_string(),
                },
                Some(_) => return Err("an option label must be a string".to_string()),
            };
            Ok(SelectOption { label, value })
        })
        .collect()
}

/// Supported rules: required, unique, unique_case_insensitive, regex_match, regex_exclude, length.
/// Other `validate` names are accepted and ignored: they exist in Dromo but need data we don't have.
fn compile_validators(v: &Value) -> Result<Vec<Validator>, String> {
    let Value::Array(items) = v else {
        return Err(format!("{v} is not of type 'array'"));
    };
    let mut out = Vec::new();
    for item in items {
        let Some(obj) = item.as_object() else {
            return Err(format!("{item} is not of type 'object'"));
        };
        let Some(name) = obj.get("validate").and_then(Value::as_str) else {
            return Err("each validator needs a \"validate\" string".into());
        };
        let message = obj
            .get("errorMessage")
            .and_then(Value::as_str)
            .map(String::from);
        let regex = || -> Result<Regex, String> {
            let src = obj
                .get("regex")
                .and_then(Value::as_str)
                .ok_or(format!("{name} needs a \"regex\" string"))?;
            Regex::new(src).map_err(|e| format!("invalid regex {src:?}: {e}"))
        };
        let bound = |k: &str| -> Result<Option<usize>, String> {
            match obj.get(k) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(|n| Some(n as usize))
                    .ok_or(format!("length {k} must be a non-negative integer")),
            }
        };
        let rule = match name {
            "required" => Rule::Required,
            "unique" => Rule::Unique {
                case_insensitive: false,
            },
            "unique_case_insensitive" => Rule::Unique {
                case_insensitive: true,
            },
            "regex_match" => Rule::RegexMatch(regex()?),
            "regex_exclude" => Rule::RegexExclude(regex()?),
            "length" => Rule::Length {
                min: bound("min")?,
                max: bound("max")?,
            },
            _ => continue,
        };
        out.push(Validator { rule, message });
    }
    Ok(out)
}

#[derive(Clone, Copy)]
enum Kind {
    Str,
    Bool,
    Int,
    Object,
    Array,
    NullableStr,
    NullableInt,
    NullableArray,
    Enum(&'static [&'static str]),
}

const SETTINGS: &[(&str, Kind)] = &[
    ("importIdentifier", Kind::Str),
    ("title", Kind::Str),
    ("allowInvalidSubmit", Kind::Bool),
    (
        "invalidDataBehavior",
        Kind::Enum(&[
            "BLOCK_SUBMIT",
            "INCLUDE_INVALID_ROWS",
            "REMOVE_INVALID_ROWS",
            "INCLUDE_INVALID_ROWS_AND_VALUES",
        ]),
    ),
    ("backendSync", Kind::Bool),
    (
        "backendSyncMode",
        Kind::Enum(&["DISABLED", "FULL_DATA", "MAPPINGS_ONLY"]),
    ),
    ("manualInputDisabled", Kind::Bool),
    ("manualInputOnly", Kind::Bool),
    ("allowCustomFields", Kind::Bool),
    ("passThroughUnmappedColumns", Kind::Bool),
    ("maxRecords", Kind::NullableInt),
    ("developmentMode", Kind::Bool),
    ("displayEncoding", Kind::Bool),
    ("styleOverrides", Kind::Object),
    ("maxFileSize", Kind::Int),
    ("webhookUrl", Kind::NullableStr),
    ("needsReviewWebhookUrl", Kind::NullableStr),
    ("initialData", Kind::NullableArray),
];

fn check_kind(key: &str, v: &Value, kind: Kind) -> Option<String> {
    let ok = match kind {
        Kind::Str => v.is_string(),
        Kind::Bool => v.is_boolean(),
        Kind::Int => v.is_i64() || v.is_u64(),
        Kind::Object => v.is_object(),
        Kind::Array => v.is_array(),
        Kind::NullableStr => v.is_null() || v.is_string(),
        Kind::NullableInt => v.is_null() || v.is_i64() || v.is_u64(),
        Kind::NullableArray => v.is_null() || v.is_array(),
        Kind::Enum(options) => {
            return v
                .as_str()
                .filter(|s| options.contains(s))
                .is_none()
                .then(|| format!("{key}: {v} is not one of {options:?}"));
        }
    };
    (!ok).then(|| format!("{key}: {v} has the wrong type"))
}

fn check_object(
    value: &Value,
    spec: &[(&str, Kind)],
    errors: &mut Vec<String>,
) -> Option<Map<String, Value>> {
    let Value::Object(obj) = value else {
        errors.push(format!(
            "Expected a dictionary of items but got type \"{}\".",
            type_name(value)
        ));
        return None;
    };
    let names: Vec<&str> = spec.iter().map(|(k, _)| *k).collect();
    if let Some(m) = unexpected(obj, &names) {
        errors.push(m);
    }
    for (key, kind) in spec {
        if let Some(m) = obj.get(*key).and_then(|v| check_kind(key, v, *kind)) {
            errors.push(m);
        }
    }
    Some(obj.clone())
}

/// `settings` with `additionalProperties: false` and the documented types.
pub fn validate_settings(value: &Value) -> Result<Map<String, Value>, Vec<String>> {
    if value.is_null() {
        return Ok(Map::new());
    }
    let mut errors = Vec::new();
    let obj = check_object(value, SETTINGS, &mut errors);
    match obj {
        Some(obj) if errors.is_empty() => Ok(obj),
        _ => Err(errors),
    }
}

/// `hooks`: validated and stored, never run (there is no JavaScript engine here).
pub fn validate_hooks(value: &Value) -> Result<Map<String, Value>, Vec<String>> {
    if value.is_null() {
        return Ok(Map::new());
    }
    let mut errors = Vec::new();
    let spec = [
        ("rowHooks", Kind::Array),
        ("bulkRowHooks", Kind::Array),
        ("rowDeleteHooks", Kind::Array),
        ("beforeFinishCallback", Kind::Str),
        ("columnHooks", Kind::Array),
        ("stepHooks", Kind::Array),
    ];
    let Some(obj) = check_object(value, &spec, &mut errors) else {
        return Err(errors);
    };
    for list in ["rowHooks", "bulkRowHooks", "rowDeleteHooks"] {
        if let Some(Value::Array(a)) = obj.get(list) {
            if !a.iter().all(Value::is_string) {
                errors.push(format!("{list}: every item must be a string"));
            }
        }
    }
    let items = |name: &str, spec: &[(&str, Kind)], errors: &mut Vec<String>| {
        if let Some(Value::Array(a)) = obj.get(name) {
            for (i, item) in a.iter().enumerate() {
                let mut inner = Vec::new();
                if let Some(o) = check_object(item, spec, &mut inner) {
                    for (k, _) in spec {
                        if !o.contains_key(*k) {
                            inner.push(format!("'{k}' is a required property"));
                        }
                    }
                }
                errors.extend(inner.into_iter().map(|m| format!("{name}[{i}]: {m}")));
            }
        }
    };
    items(
        "columnHooks",
        &[("fieldName", Kind::Str), ("callback", Kind::Str)],
        &mut errors,
    );
    items(
        "stepHooks",
        &[
            (
                "type",
                Kind::Enum(&["UPLOAD_STEP", "REVIEW_STEP", "REVIEW_STEP_POST_HOOKS"]),
            ),
            ("callback", Kind::Str),
        ],
        &mut errors,
    );
    if errors.is_empty() {
        Ok(obj)
    } else {
        Err(errors)
    }
}

/// `import_metadata`: `null` or `{user: null | {id, name, email, companyId, companyName}}`.
pub fn validate_import_metadata(value: &Value) -> Result<(), Vec<String>> {
    let user = match value {
        Value::Null => return Ok(()),
        Value::Object(o) => o.get("user").unwrap_or(&Value::Null),
        other => {
            return Err(vec![format!(
                "Expected a dictionary of items but got type \"{}\".",
                type_name(other)
            )])
        }
    };
    if user.is_null() {
        return Ok(());
    }
    let mut errors = Vec::new();
    let spec = [
        ("id", Kind::Str),
        ("name", Kind::Str),
        ("email", Kind::Str),
        ("companyId", Kind::Str),
        ("companyName", Kind::Str),
    ];
    if let Some(obj) = check_object(user, &spec, &mut errors) {
        if !obj.contains_key("id") {
            errors.push("'id' is a required property".into());
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors.into_iter().map(|m| format!("user: {m}")).collect())
    }
}

/// The processing plan for a merged schema. `allowInvalidSubmit: true` (the older setting) means
/// "include invalid rows" unless `invalidDataBehavior` says otherwise.
pub fn plan(fields: Vec<Field>, settings: &Map<String, Value>) -> Plan {
    let behavior = settings
        .get("invalidDataBehavior")
        .and_then(Value::as_str)
        .and_then(Behavior::parse)
        .unwrap_or(
            if settings.get("allowInvalidSubmit") == Some(&Value::Bool(true)) {
                Behavior::IncludeInvalidRows
            } else {
                Behavior::BlockSubmit
            },
        );
    Plan {
        fields,
        behavior,
        max_records: settings
            .get("maxRecords")
            .and_then(Value::as_i64)
            .map(|n| n.max(0) as u64),
    }
}
