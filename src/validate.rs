//! Declarative shape checks over plain JS values, giving `ValidationError`s that name the path.
//!
//! Providers describe their documented schemas as tables of `(key, Shape)`; unknown keys are
//! rejected (the documented `additionalProperties: false`), with a hint when the key is a near miss
//! such as `schemaId` for `schema_id`.

use crate::prelude::*;
use crate::text::is_whole;
use js_sys::Array;
use wasm_bindgen::JsValue;

use crate::error::{Error, Result};
use crate::js::{get, is_plain_object, keys, type_name};

/// The shape a value must have.
#[derive(Clone, Copy)]
pub enum Shape {
    Str,
    /// A string with at least one non-space character.
    NonEmptyStr,
    Bool,
    /// Any finite number.
    Number,
    Int,
    Object,
    /// Any JSON array.
    Array,
    StrArray,
    ObjArray,
    OneOf(&'static [&'static str]),
    /// An object checked against a nested table; the slice lists required keys.
    Struct(&'static [(&'static str, Shape)], &'static [&'static str]),
    /// An array of such objects.
    StructArray(&'static [(&'static str, Shape)], &'static [&'static str]),
    /// `null` or the inner shape.
    Nullable(&'static Shape),
    /// A string, or an array starting with a string (Dromo's `[type, options]` field types).
    TypeSpec,
}

/// `path[i]` for array items.
pub fn index(path: &str, i: usize) -> String {
    [path, "[", &crate::text::uint(i as u64), "]"].concat()
}

fn child(path: &str, key: &str) -> String {
    crate::opts::join(path, key)
}

pub fn check(v: &JsValue, shape: Shape, path: &str) -> Result<()> {
    let bad = |what: &str| {
        Err(Error::invalid(
            path,
            ["must be ", what, ", got ", type_name(v)].concat(),
        ))
    };
    match shape {
        Shape::Str => {
            if !v.is_string() {
                return bad("a string");
            }
        }
        Shape::NonEmptyStr => match v.as_string() {
            Some(s) if !s.trim().is_empty() => {}
            Some(_) => return Err(Error::invalid(path, "must not be empty")),
            None => return bad("a non-empty string"),
        },
        Shape::Bool => {
            if v.as_bool().is_none() {
                return bad("a boolean");
            }
        }
        Shape::Number => match v.as_f64() {
            Some(n) if n.is_finite() => {}
            _ => return bad("a number"),
        },
        Shape::Int => match v.as_f64() {
            Some(n) if is_whole(n) => {}
            _ => return bad("an integer"),
        },
        Shape::Object => {
            if !is_plain_object(v) {
                return bad("an object");
            }
        }
        Shape::Array => {
            if !crate::js::is_array(v) {
                return bad("an array");
            }
        }
        Shape::StrArray => each(v, path, |item, p| check(item, Shape::Str, p))?,
        Shape::ObjArray => each(v, path, |item, p| check(item, Shape::Object, p))?,
        Shape::OneOf(options) => match v.as_string() {
            Some(s) if options.contains(&s.as_str()) => {}
            _ => {
                return Err(Error::invalid(
                    path,
                    [
                        "must be one of ",
                        &options.join(", "),
                        ", got ",
                        &describe(v),
                    ]
                    .concat(),
                ))
            }
        },
        Shape::Struct(fields, required) => check_struct(v, fields, required, path)?,
        Shape::StructArray(fields, required) => {
            each(v, path, |item, p| check_struct(item, fields, required, p))?
        }
        Shape::Nullable(inner) => {
            if !v.is_null() {
                check(v, *inner, path)?;
            }
        }
        Shape::TypeSpec => {
            let ok = v.is_string() || (crate::js::is_array(v) && Array::from(v).get(0).is_string());
            if !ok {
                return bad("a type name string or an array [type, options]");
            }
        }
    }
    Ok(())
}

fn each(v: &JsValue, path: &str, f: impl Fn(&JsValue, &str) -> Result<()>) -> Result<()> {
    if !crate::js::is_array(v) {
        return Err(Error::invalid(
            path,
            ["must be an array, got ", type_name(v)].concat(),
        ));
    }
    for (i, item) in Array::from(v).iter().enumerate() {
        f(&item, &index(path, i))?;
    }
    Ok(())
}

/// Checks an object against a table: required keys present, known keys well-shaped, no others.
/// `undefined` values count as absent (so `{ title: undefined }` is fine).
pub fn check_struct(
    v: &JsValue,
    fields: &[(&str, Shape)],
    required: &[&str],
    path: &str,
) -> Result<()> {
    if !is_plain_object(v) {
        return Err(Error::invalid(
            path,
            ["must be an object, got ", type_name(v)].concat(),
        ));
    }
    for k in keys(v) {
        let value = get(v, &k);
        if value.is_undefined() {
            continue;
        }
        match fields.iter().find(|(name, _)| *name == k) {
            Some((_, shape)) => check(&value, *shape, &child(path, &k))?,
            None => {
                let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
                return Err(unknown_key(path, &k, &names));
            }
        }
    }
    for r in required {
        if get(v, r).is_undefined() {
            return Err(Error::invalid(child(path, r), "is required"));
        }
    }
    Ok(())
}

/// Refuses the first key of `obj` that is in none of `groups`, with a did-you-mean. One function
/// for every options object (client, call, wait, rate limit, entity): one copy in the wasm.
pub fn only_keys(obj: &JsValue, path: &str, groups: &[&[&str]]) -> Result<()> {
    let known = |k: &str| groups.iter().any(|g| g.contains(&k));
    match keys(obj).into_iter().find(|k| !known(k)) {
        Some(k) => Err(unknown_key(path, &k, &groups.concat())),
        None => Ok(()),
    }
}

/// "is not a known key", with a did-you-mean for a slip of case, underscores or a letter or two.
pub fn unknown_key(path: &str, key: &str, known: &[&str]) -> Error {
    let hint = match known.iter().find(|k| slip_of(key, k)) {
        Some(k) => [" (did you mean `", k, "`?)"].concat(),
        None => [" (expected one of: ", &known.join(", "), ")"].concat(),
    };
    Error::invalid(child(path, key), ["is not a known key", &hint].concat())
}

/// Whether `typed` is likely a slip for `known`: the same once case, `_` and `-` are ignored, or
/// differing only in one stretch that is two neighbours swapped (`singal`) or at most one letter
/// (two for keys of 6 or more) changed, added or left out (`timeout` for `timeoutMs`).
pub fn slip_of(typed: &str, known: &str) -> bool {
    let squash = |s: &str| s.replace(['_', '-'], "").to_ascii_lowercase();
    let (a, b) = (squash(typed), squash(known));
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let same = |x: &[u8], y: &[u8]| x.iter().zip(y).take_while(|(p, q)| p == q).count();
    let head = same(a, b);
    let (a, b) = (&a[head..], &b[head..]);
    let tail = a
        .iter()
        .rev()
        .zip(b.iter().rev())
        .take_while(|(p, q)| p == q)
        .count();
    let (a, b) = (&a[..a.len() - tail], &b[..b.len() - tail]);
    let most = if known.len() >= 6 { 2 } else { 1 };
    let swapped = a.len() == 2 && b.len() == 2 && a[0] == b[1] && a[1] == b[0];
    swapped || a.len().max(b.len()) <= most
}

fn describe(v: &JsValue) -> String {
    match v.as_string() {
        Some(s) => crate::text::quote(&s),
        None => type_name(v).to_string(),
    }
}

/// Checks the options of a one-call flow (`importFile`, `importRows`): every key is a create param
/// or a flow option, and `wait` is a boolean. `hint` says what the object should hold.
pub fn check_flow_options(
    options: &JsValue,
    params: &[(&str, Shape)],
    flow: &[&str],
    hint: &str,
) -> Result<()> {
    if !is_plain_object(options) {
        return Err(Error::invalid("options", hint));
    }
    let names: Vec<&str> = params.iter().map(|(n, _)| *n).collect();
    only_keys(options, "options", &[&names, flow])?;
    for k in ["wait", "rows"] {
        let v = get(options, k);
        if !v.is_undefined() && !v.is_null() && v.as_bool().is_none() {
            return Err(Error::invalid(
                ["options.", k].concat(),
                "must be a boolean",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::slip_of;

    #[test]
    fn slips_are_told_apart_from_other_keys() {
        for (typed, known) in [
            ("singal", "signal"),
            ("Signal", "signal"),
            ("interval_ms", "intervalMs"),
            ("intervalMS", "intervalMs"),
            ("timeout", "timeoutMs"),
            ("offest", "offset"),
            ("curser", "cursor"),
            ("schemaId", "schema_id"),
            ("onProgres", "onProgress"),
        ] {
            assert!(slip_of(typed, known), "{typed} for {known}");
        }
        for (typed, known) in [
            ("limit", "wait"),
            ("title", "hooks"),
            ("cursor", "count"),
            ("abc", "signal"),
            ("fields", "settings"),
        ] {
            assert!(!slip_of(typed, known), "{typed} is not {known}");
        }
    }
}
