//! One cell against one field: type coercion and validators, and the few shapes both share.
//! Kept free of I/O so the rules can be read (and tested) on their own.

use std::collections::HashMap;

use regex::Regex;
use serde_json::Value;

#[derive(Debug, Clone)]
pub enum FieldType {
    Text,
    Number,
    Email,
    Checkbox,
    Select(Vec<SelectOption>),
    Date,
}

#[derive(Debug, Clone)]
pub struct SelectOption {
    pub label: String,
    pub value: Value,
}

#[derive(Debug, Clone)]
pub enum Rule {
    Required,
    Unique {
        case_insensitive: bool,
    },
    RegexMatch(Regex),
    RegexExclude(Regex),
    Length {
        min: Option<usize>,
        max: Option<usize>,
    },
}

#[derive(Debug, Clone)]
pub struct Validator {
    pub rule: Rule,
    /// The schema's `errorMessage`, shown instead of the default.
    pub message: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Field {
    pub key: String,
    pub label: String,
    pub alternate_matches: Vec<String>,
    pub kind: FieldType,
    pub validators: Vec<Validator>,
    pub require_mapping: bool,
    pub invalid_value_message: Option<String>,
}

impl Field {
    pub fn required(&self) -> Option<&Validator> {
        self.validators
            .iter()
            .find(|v| matches!(v.rule, Rule::Required))
    }

    /// A file without a column for such a field cannot be imported unattended.
    pub fn must_be_mapped(&self) -> bool {
        self.require_mapping || self.required().is_some()
    }
}

/// A result cell; borrowed where possible so the hot path does not allocate per cell.
pub enum Out<'a> {
    Null,
    Str(&'a str),
    Json(Value),
}

/// Why a cell is invalid; rendered to text only if it makes it into the (capped) error list.
pub enum Invalid<'a> {
    Custom(&'a str),
    Fixed(&'static str),
    Required,
    Duplicate(u64),
    Length(Option<usize>, Option<usize>),
    Select,
}

impl Invalid<'_> {
    pub fn message(&self, field: &Field) -> String {
        match self {
            Invalid::Custom(m) => m.to_string(),
            Invalid::Fixed(m) => m.to_string(),
            Invalid::Required => format!("{} is required.", field.label),
            Invalid::Duplicate(first) => format!("Duplicate value (first seen in row {first})."),
            Invalid::Length(min, max) => match (min, max) {
                (Some(a), Some(b)) => format!("Must be between {a} and {b} characters long."),
                (Some(a), None) => format!("Must be at least {a} characters long."),
                (_, Some(b)) => format!("Must be at most {b} characters long."),
                (None, None) => "Invalid length.".to_string(),
            },
            Invalid::Select => match &field.kind {
                FieldType::Select(options) => {
                    let labels: Vec<&str> = options.iter().map(|o| o.label.as_str()).collect();
                    format!("Must be one of: {}.", labels.join(", "))
                }
                _ => "Not one of the allowed options.".to_string(),
            },
        }
    }
}

/// One cell: the output value, or why it is invalid. Empty (or blank) means "no value": only
/// `required` can fail on it, and it comes out as `""` for text fields, `null` otherwise.
pub fn check_cell<'a>(
    field: &'a Field,
    raw: Option<&'a str>,
    seen: &mut HashMap<String, u64>,
    row: u64,
) -> Result<Out<'a>, Invalid<'a>> {
    let text = raw.map(str::trim).unwrap_or("");
    if text.is_empty() {
        if let Some(v) = field.required() {
            return Err(v
                .message
                .as_deref()
                .map_or(Invalid::Required, Invalid::Custom));
        }
        return Ok(match (&field.kind, raw) {
            (FieldType::Text, Some(raw)) => Out::Str(raw),
            _ => Out::Null,
        });
    }
    let typed = coerce(&field.kind, raw.unwrap_or(""), text).map_err(|default| {
        field
            .invalid_value_message
            .as_deref()
            .map_or(default, Invalid::Custom)
    })?;
    for v in &field.validators {
        let failure = match &v.rule {
            Rule::Required => None,
            Rule::Unique { case_insensitive } => {
                let folded;
                let key = if *case_insensitive {
                    folded = text.to_lowercase();
                    folded.as_str()
                } else {
                    text
                };
                match seen.get(key) {
                    Some(first) => Some(Invalid::Duplicate(*first)),
                    None => {
                        seen.insert(key.to_string(), row);
                        None
                    }
                }
            }
            Rule::RegexMatch(re) => (!re.is_match(text))
                .then_some(Invalid::Fixed("Does not match the required pattern.")),
            Rule::RegexExclude(re) => re
                .is_match(text)
                .then_some(Invalid::Fixed("Matches a disallowed pattern.")),
            Rule::Length { min, max } => {
                let n = text.chars().count();
                (min.is_some_and(|m| n < m) || max.is_some_and(|m| n > m))
                    .then_some(Invalid::Length(*min, *max))
            }
        };
        if let Some(default) = failure {
            return Err(v.message.as_deref().map_or(default, Invalid::Custom));
        }
    }
    Ok(typed)
}

/// Type coercion on the trimmed text; text fields keep the raw cell verbatim.
fn coerce<'a>(kind: &'a FieldType, raw: &'a str, text: &'a str) -> Result<Out<'a>, Invalid<'a>> {
    match kind {
        FieldType::Text => Ok(Out::Str(raw)),
        FieldType::Number => parse_number(text)
            .map(Out::Json)
            .ok_or(Invalid::Fixed("Must be a number.")),
        FieldType::Email => is_email(text)
            .then_some(Out::Str(text))
            .ok_or(Invalid::Fixed("Must be a valid email address.")),
        FieldType::Checkbox => {
            const TRUE: [&str; 3] = ["true", "yes", "1"];
            const FALSE: [&str; 3] = ["false", "no", "0"];
            if TRUE.iter().any(|t| t.eq_ignore_ascii_case(text)) {
                Ok(Out::Json(Value::Bool(true)))
            } else if FALSE.iter().any(|f| f.eq_ignore_ascii_case(text)) {
                Ok(Out::Json(Value::Bool(false)))
            } else {
                Err(Invalid::Fixed("Must be true or false."))
            }
        }
        FieldType::Select(options) => {
            let wanted = text.to_lowercase();
            options
                .iter()
                .find(|o| {
                    value_text(&o.value).to_lowercase() == wanted
                        || o.label.to_lowercase() == wanted
                })
                .map(|o| Out::Json(o.value.clone()))
                .ok_or(Invalid::Select)
        }
        FieldType::Date => is_date(text)
            .then_some(Out::Str(text))
            .ok_or(Invalid::Fixed("Must be a date in YYYY-MM-DD format.")),
    }
}

/// Integers stay integers in the JSON (`30`, not `30.0`); anything else finite becomes a float.
fn parse_number(text: &str) -> Option<Value> {
    if let Ok(i) = text.parse::<i64>() {
        return Some(Value::from(i));
    }
    let f = text.parse::<f64>().ok().filter(|f| f.is_finite())?;
    serde_json::Number::from_f64(f).map(Value::Number)
}

fn is_email(text: &str) -> bool {
    let mut parts = text.split('@');
    let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !local.is_empty()
        && !text.bytes().any(|b| b.is_ascii_whitespace())
        && domain
            .split_once('.')
            .is_some_and(|(host, _)| !host.is_empty())
        && !domain.ends_with('.')
}

fn is_date(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 10
        || b[4] != b'-'
        || b[7] != b'-'
        || !b
            .iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
    {
        return false;
    }
    let num = |r: std::ops::Range<usize>| text[r].parse::<u32>().unwrap_or(0);
    let (year, month, day) = (num(0..4) as i32, num(5..7), num(8..10));
    let Ok(month) = time::Month::try_from(month as u8) else {
        return false;
    };
    time::Date::from_calendar_date(year, month, day as u8).is_ok()
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}
