//! Dromo's Saved Schema API (`/schemas/`): list, create, retrieve, update and delete the schemas
//! imports name by `schema_id`. These calls manage an organisation's configuration with the
//! backend key, from a server, so they are only in the `server` build (the one Node loads): a
//! browser download does not carry them.
//!
//! A schema is checked before any request by the very tables `imports.create` checks an inline
//! schema with (`dromo::FIELD`, `SETTINGS`, `HOOKS`): one table, two users.

use crate::prelude::*;
use js_sys::{JsString, Object};
use wasm_bindgen::JsValue;

use crate::client::Client;
use crate::dromo::{check_fields, stringify, HOOKS, SETTINGS};
use crate::error::{Error, Kind, Result};
use crate::js::{get, get_str, is_absent, plain, set};
use crate::op;
use crate::opts::call_options;
use crate::retry::Op;
use crate::text::quote;
use crate::url::check_id;
use crate::validate::{check_struct, Shape};

/// `ImportSchema` as the saved schema guide documents it. `id` is Dromo's: see `schema_body`.
const SCHEMA: &[(&str, Shape)] = &[
    ("id", Shape::NonEmptyStr),
    ("name", Shape::NonEmptyStr),
    ("fields", Shape::Array),
    ("settings", Shape::Struct(SETTINGS, &[])),
    ("hooks", Shape::Struct(HOOKS, &[])),
];

/// Runs a `dromo.schemas` operation (`op::SCHEMA_*`); arguments as `pkg/clients.js` passes them.
pub async fn call(client: &Client, op: u8, a: JsValue, b: JsValue, c: JsValue) -> Result<JsValue> {
    match op {
        op::SCHEMA_LIST => {
            let list = client
                .request("GET", "/schemas/", None, &call_options(&a)?, Op::Read)
                .await?;
            if !crate::js::is_array(&list) {
                return Err(not_a_list(list));
            }
            Ok(list)
        }
        op::SCHEMA_CREATE => {
            let body = schema_body(&plain(&a, "schema")?, None)?;
            // The definition is the data: after an answer that may have been lost, a second POST
            // could make a second schema (or meet the unique name), so only retry what proves the
            // server did nothing.
            let opts = call_options(&b)?;
            client
                .request("POST", "/schemas/", Some(&body), &opts, Op::CreateWithData)
                .await
        }
        op::SCHEMA_RETRIEVE => {
            let path = schema_path(&a)?;
            client
                .request("GET", &path, None, &call_options(&b)?, Op::Read)
                .await
        }
        op::SCHEMA_UPDATE => {
            let path = schema_path(&a)?;
            let body = schema_body(&plain(&b, "schema")?, a.as_string().as_deref())?;
            // A PUT replaces the whole schema: sent twice, it leaves the same schema.
            client
                .request("PUT", &path, Some(&body), &call_options(&c)?, Op::Read)
                .await
        }
        op::SCHEMA_DELETE => {
            let path = schema_path(&a)?;
            client.delete(&path, &call_options(&b)?).await?;
            Ok(JsValue::UNDEFINED)
        }
        _ => Err(crate::unknown_op(op)),
    }
}

/// `/schemas/{id}/`; the id must be one safe path segment.
fn schema_path(id: &JsValue) -> Result<String> {
    let id = id
        .as_string()
        .ok_or_else(|| Error::invalid("id", "must be a string (the schema's id)"))?;
    check_id(&id).map_err(|why| Error::invalid("id", why))?;
    Ok(["/schemas/", &id, "/"].concat())
}

/// Checks a schema (a `plain` copy) and returns the JSON body to send. `updating` is the id of
/// the schema being replaced: its own `id` may ride along (a retrieved schema passed back after
/// an edit), but no other. A create must not carry one: Dromo assigns it.
fn schema_body(schema: &JsValue, updating: Option<&str>) -> Result<JsString> {
    check_struct(schema, SCHEMA, &["name", "fields"], "schema")?;
    check_fields(&get(schema, "fields"), "schema.fields")?;
    if let Some(id) = get_str(schema, "id") {
        match updating {
            None => {
                return Err(Error::invalid(
                    "schema.id",
                    "is assigned by Dromo: leave it out (to change a saved schema, use schemas.update(id, schema))",
                ))
            }
            Some(target) if target != id => {
                return Err(Error::invalid(
                    "schema.id",
                    [
                        "is ",
                        &quote(&id),
                        " but the schema being updated is ",
                        &quote(target),
                    ]
                    .concat(),
                ))
            }
            Some(_) => {}
        }
    }
    // The guide lists `settings` as required; an empty object is what a schema without any
    // means, so the body is valid whichever way Dromo reads it.
    if is_absent(&get(schema, "settings")) {
        set(&Object::from(schema.clone()), "settings", &Object::new());
    }
    stringify(schema, "schema")
}

/// `GET /schemas/` answers a plain array; anything else is not the documented API.
#[inline(never)]
fn not_a_list(body: JsValue) -> Error {
    let mut e = Error::new(Kind::Api, "GET /schemas/ did not answer a list of schemas.");
    e.code = Some("invalid_response");
    e.body = Some(body);
    e
}
