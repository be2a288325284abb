//! The user schema API (`/api/v1/meta/schemas/user/default`): Okta's JSON Schema document of
//! the base attributes and the org's custom ones; `POST` changes custom attributes (a
//! property set to `null` is removed). The rules are in `directory::schema`.

use super::AppState;
use super::error::ApiError;
use super::extract::{Admin, OktaJson};
use crate::clock::Timestamp;
use crate::directory::FieldError;
use crate::directory::schema::{self, AttrKind, CustomAttribute, REQUIRED_BASE, UserSchema};
use crate::directory::users::STANDARD_ATTRIBUTES;
use crate::paths;
use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(paths::USER_SCHEMA, get(read).post(change))
}

/// Only the default user type's schema exists.
fn default_only(id: &str) -> Result<(), ApiError> {
    if id == "default" {
        Ok(())
    } else {
        Err(ApiError::NotFound(format!("{id} (UserSchema)")))
    }
}

fn permissions() -> Value {
    json!([{ "principal": "SELF", "action": "READ_WRITE" }])
}

/// Okta's `enum` and its `oneOf` twin.
fn enum_view(v: &mut Value, values: &[Value]) {
    v["enum"] = json!(values);
    v["oneOf"] = Value::Array(
        values
            .iter()
            .map(|x| json!({ "const": x, "title": x.as_str().map_or_else(|| x.to_string(), str::to_owned) }))
            .collect(),
    );
}

fn custom_view(a: &CustomAttribute) -> Value {
    let mut v = json!({
        "title": a.title,
        "description": a.description,
        "type": a.kind.as_str(),
        "required": a.required,
        "mutability": "READ_WRITE",
        "scope": "NONE",
        "permissions": permissions(),
        "master": { "type": "PROFILE_MASTER" },
    });
    if let Some(min) = a.min_length {
        v["minLength"] = json!(min);
    }
    if let Some(max) = a.max_length {
        v["maxLength"] = json!(max);
    }
    if let Some(min) = &a.minimum {
        v["minimum"] = json!(min);
    }
    if let Some(max) = &a.maximum {
        v["maximum"] = json!(max);
    }
    if a.kind == AttrKind::Array {
        // An array's element type and allowed values sit in `items`, as Okta writes them.
        let mut items = json!({ "type": a.scalar().as_str() });
        if let Some(values) = &a.allowed {
            enum_view(&mut items, values);
        }
        v["items"] = items;
        v["union"] = json!("DISABLE");
    } else if let Some(values) = &a.allowed {
        enum_view(&mut v, values);
    }
    v
}

fn view(s: &UserSchema, base: &str) -> Value {
    let mut base_props = Map::new();
    for name in REQUIRED_BASE {
        base_props.insert(
            name.to_owned(),
            json!({ "title": name, "type": "string", "required": true, "mutability": "READ_WRITE",
                    "scope": "NONE", "permissions": permissions() }),
        );
    }
    for name in STANDARD_ATTRIBUTES {
        base_props.insert(
            name.to_owned(),
            json!({ "title": name, "type": "string", "required": false, "mutability": "READ_WRITE",
                    "scope": "NONE", "permissions": permissions() }),
        );
    }
    let custom: Map<String, Value> = s
        .custom
        .iter()
        .map(|(k, a)| (k.clone(), custom_view(a)))
        .collect();
    let required: Vec<&String> = s
        .custom
        .iter()
        .filter(|(_, a)| a.required)
        .map(|(k, _)| k)
        .collect();
    let updated = s.last_updated.map(Timestamp::iso8601);
    json!({
        "id": format!("{base}/meta/schemas/user/default"),
        "$schema": "http://json-schema.org/draft-04/schema#",
        "name": "user",
        "title": "Default Okta User",
        "created": updated,
        "lastUpdated": updated,
        "type": "object",
        "definitions": {
            "base": { "id": "#base", "type": "object", "required": REQUIRED_BASE, "properties": base_props },
            "custom": { "id": "#custom", "type": "object", "required": required, "properties": custom },
        },
        "properties": { "profile": { "allOf": [
            { "$ref": "#/definitions/base" }, { "$ref": "#/definitions/custom" },
        ] } },
        "_links": { "self": { "href": format!("{base}{}", paths::USER_SCHEMA.replace("{id}", "default")) } },
    })
}

async fn read(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    default_only(&id)?;
    Ok(Json(view(
        &schema::load(state.store.as_ref())?,
        &state.base_url,
    )))
}

/// What a custom property's declaration says beside its types and allowed values.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Plain {
    #[serde(default)]
    title: String,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    required: bool,
    #[serde(default)]
    min_length: Option<u32>,
    #[serde(default)]
    max_length: Option<u32>,
    #[serde(default)]
    minimum: Option<serde_json::Number>,
    #[serde(default)]
    maximum: Option<serde_json::Number>,
}

/// One custom property of the request: its declaration, or `None` to remove it. An array's
/// element type and allowed values come in `items` (`"items": {"type": "integer"}`).
fn declaration(name: &str, v: &Value) -> Result<Option<CustomAttribute>, FieldError> {
    if v.is_null() {
        return Ok(None);
    }
    let bad = |msg: String| FieldError::new(name.to_owned(), msg);
    let kind_of = |v: &Value| match v.get("type") {
        None | Some(Value::Null) => Ok(AttrKind::String),
        Some(Value::String(t)) => AttrKind::parse(t).ok_or_else(|| {
            bad(format!(
                "Unknown type {t}: use string, boolean, integer, number or array"
            ))
        }),
        Some(_) => Err(bad("type must be a string".into())),
    };
    let kind = kind_of(v)?;
    let items = match v.get("items") {
        None | Some(Value::Null) => None,
        Some(items) => Some(kind_of(items)?),
    };
    let allowed = match v.get("enum").or_else(|| v.pointer("/items/enum")) {
        None | Some(Value::Null) => None,
        Some(Value::Array(values)) => Some(values.clone()),
        Some(_) => return Err(bad("enum must be an array".into())),
    };
    let plain: Plain =
        serde_json::from_value(v.clone()).map_err(|e| bad(format!("Invalid property: {e}")))?;
    Ok(Some(CustomAttribute {
        title: plain.title.trim().to_owned(),
        description: plain.description,
        kind,
        items,
        required: plain.required,
        min_length: plain.min_length,
        max_length: plain.max_length,
        minimum: plain.minimum,
        maximum: plain.maximum,
        allowed,
    }))
}

/// `POST /api/v1/meta/schemas/user/default`: a partial update of the custom attributes.
async fn change(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    OktaJson(body): OktaJson<Value>,
) -> Result<Json<Value>, ApiError> {
    default_only(&id)?;
    // Base properties are fixed: naming one that is not a base property is an error, and
    // what is sent for the real ones (a whole document read back, say) is not applied.
    if let Some(base) = body
        .pointer("/definitions/base/properties")
        .and_then(Value::as_object)
    {
        let unknown: Vec<FieldError> = base
            .keys()
            .filter(|k| !schema::is_base(k))
            .map(|k| FieldError::new(k.clone(), "Not a base property; declare it under custom"))
            .collect();
        if !unknown.is_empty() {
            return Err(ApiError::Validation(unknown));
        }
    }
    let custom = body
        .pointer("/definitions/custom/properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut changes = BTreeMap::new();
    let mut errs = Vec::new();
    for (name, v) in &custom {
        match declaration(name, v) {
            Ok(d) => {
                changes.insert(name.clone(), d);
            }
            Err(e) => errs.push(e),
        }
    }
    if !errs.is_empty() {
        return Err(ApiError::Validation(errs));
    }
    let updated = state
        .blocking(move |s| schema::update(s.store.as_ref(), changes, Timestamp::now()))
        .await??;
    Ok(Json(view(&updated, &state.base_url)))
}
