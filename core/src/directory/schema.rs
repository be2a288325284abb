//! The default user schema (Okta's `/api/v1/meta/schemas/user/default`): Okta's base
//! attributes, fixed, and the custom attributes an org declares, which profiles may then hold.
//! Custom values are of the declared JSON type (text, boolean, integer, number, or an array of
//! text, integers or numbers), checked against the declaration (required, length, range,
//! allowed values).

use super::users::STANDARD_ATTRIBUTES;
use super::{DirectoryError, FieldError};
use crate::clock::Timestamp;
pub use crate::records::directory::{AttrKind, AttrValue, CustomAttribute, UserSchema};
use crate::store::{Store, StoreError};
use std::collections::BTreeMap;

/// Where the schema is kept (one value among the store's meta values).
const META_KEY: &str = "user_schema";

/// The four attributes every profile has, beside [`STANDARD_ATTRIBUTES`].
pub const REQUIRED_BASE: [&str; 4] = ["login", "email", "firstName", "lastName"];

/// The schema as stored (no custom attribute when none was declared).
pub fn load(store: &dyn Store) -> Result<UserSchema, StoreError> {
    match store.meta(META_KEY)? {
        Some(text) => serde_json::from_str(&text)
            .map_err(|e| StoreError::Corrupt(format!("the user schema: {e}"))),
        None => Ok(UserSchema::default()),
    }
}

/// Whether `name` is a base attribute of every profile.
pub fn is_base(name: &str) -> bool {
    REQUIRED_BASE.contains(&name) || STANDARD_ATTRIBUTES.contains(&name)
}

/// Whether a profile may hold attribute `name` (beside the four every profile has).
pub fn declares(schema: &UserSchema, name: &str) -> bool {
    STANDARD_ATTRIBUTES.contains(&name) || schema.custom.contains_key(name)
}

/// Whether a held value of attribute `name` is of a type the schema declares now (a value
/// kept from before the attribute was removed and declared again with another type is not;
/// one a stricter declaration would refuse still is, and is reported when next written).
pub fn holds(schema: &UserSchema, name: &str, value: &AttrValue) -> bool {
    match (schema.custom.get(name), value) {
        (Some(a), AttrValue::Array(items)) => {
            a.kind == AttrKind::Array && items.iter().all(|v| is_of(a.scalar(), v))
        }
        (Some(a), v) => a.kind != AttrKind::Array && is_of(a.kind, v),
        (None, _) => STANDARD_ATTRIBUTES.contains(&name),
    }
}

fn check_declaration(name: &str, a: &CustomAttribute) -> Vec<FieldError> {
    let mut errs = Vec::new();
    let mut chars = name.chars();
    let well_formed = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 100;
    if !well_formed {
        errs.push(FieldError::new(
            name.to_owned(),
            "A property name starts with a letter and has only letters, digits and _",
        ));
    }
    if is_base(name) {
        errs.push(FieldError::new(
            name.to_owned(),
            "A custom property cannot redefine a base property",
        ));
    }
    if a.title.trim().is_empty() {
        errs.push(FieldError::new(name.to_owned(), "A property needs a title"));
    }
    if let (Some(min), Some(max)) = (a.min_length, a.max_length)
        && min > max
    {
        errs.push(FieldError::new(
            name.to_owned(),
            "minLength must not exceed maxLength",
        ));
    }
    let text = a.scalar() == AttrKind::String;
    if !text && (a.min_length.is_some() || a.max_length.is_some()) {
        errs.push(FieldError::new(
            name.to_owned(),
            "minLength and maxLength are for string properties",
        ));
    }
    let numeric = matches!(a.scalar(), AttrKind::Integer | AttrKind::Number);
    if !numeric && (a.minimum.is_some() || a.maximum.is_some()) {
        errs.push(FieldError::new(
            name.to_owned(),
            "minimum and maximum are for integer and number properties",
        ));
    }
    if let (Some(min), Some(max)) = (number(&a.minimum), number(&a.maximum))
        && min > max
    {
        errs.push(FieldError::new(
            name.to_owned(),
            "minimum must not exceed maximum",
        ));
    }
    match (a.kind, a.items) {
        (AttrKind::Array, Some(AttrKind::Array | AttrKind::Boolean)) => errs.push(FieldError::new(
            name.to_owned(),
            "An array holds strings, integers or numbers",
        )),
        (AttrKind::Array, _) | (_, None) => {}
        (_, Some(_)) => errs.push(FieldError::new(
            name.to_owned(),
            "items is for array properties",
        )),
    }
    match &a.allowed {
        Some(values) if values.is_empty() => errs.push(FieldError::new(
            name.to_owned(),
            "enum must list at least one value",
        )),
        Some(_) if a.kind == AttrKind::Boolean => errs.push(FieldError::new(
            name.to_owned(),
            "enum is not for boolean properties",
        )),
        Some(values) if !values.iter().all(|v| is_of(a.scalar(), v)) => {
            errs.push(FieldError::new(
                name.to_owned(),
                format!("Each enum value must be of type {}", a.scalar().as_str()),
            ));
        }
        _ => {}
    }
    errs
}

fn number(n: &Option<serde_json::Number>) -> Option<f64> {
    n.as_ref().and_then(serde_json::Number::as_f64)
}

/// Whether `v` is a single value of type `kind` (an integer is also a number).
fn is_of(kind: AttrKind, v: &AttrValue) -> bool {
    match kind {
        AttrKind::String => v.is_string(),
        AttrKind::Boolean => v.is_boolean(),
        AttrKind::Integer => v.is_i64() || v.is_u64(),
        AttrKind::Number => v.is_number(),
        AttrKind::Array => false,
    }
}

/// Declares, replaces (`Some`) or removes (`None`) custom attributes, atomically (two admins
/// changing different attributes at once both keep their change). Values users already hold
/// for a removed attribute stay stored but are no longer shown or searchable.
pub fn update(
    store: &dyn Store,
    changes: BTreeMap<String, Option<CustomAttribute>>,
    now: Timestamp,
) -> Result<UserSchema, DirectoryError> {
    let errs: Vec<FieldError> = changes
        .iter()
        .filter_map(|(name, a)| a.as_ref().map(|a| check_declaration(name, a)))
        .flatten()
        .collect();
    if !errs.is_empty() {
        return Err(DirectoryError::Invalid(errs));
    }
    let mut failed = None;
    let mut refused = Vec::new();
    let stored = store.modify_meta(META_KEY, &mut |current| {
        let mut schema: UserSchema = match current.map(serde_json::from_str).transpose() {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => {
                failed = Some(StoreError::Corrupt(format!("the user schema: {e}")));
                return None;
            }
        };
        // Values already held were checked against the type they were written under.
        refused = changes
            .iter()
            .filter_map(|(name, a)| {
                let (old, new) = (schema.custom.get(name)?, a.as_ref()?);
                let changed = (old.kind, old.scalar()) != (new.kind, new.scalar());
                changed.then(|| {
                    FieldError::new(
                        name.clone(),
                        "The type of a property cannot change; remove it and declare it again",
                    )
                })
            })
            .collect();
        if !refused.is_empty() {
            return None;
        }
        for (name, a) in &changes {
            match a {
                Some(a) => schema.custom.insert(name.clone(), a.clone()),
                None => schema.custom.remove(name),
            };
        }
        schema.last_updated = Some(now);
        serde_json::to_string(&schema).ok()
    })?;
    if let Some(e) = failed {
        return Err(e.into());
    }
    if !refused.is_empty() {
        return Err(DirectoryError::Invalid(refused));
    }
    let text = stored.ok_or_else(|| StoreError::Backend("the schema was not written".into()))?;
    serde_json::from_str(&text)
        .map_err(|e| DirectoryError::Store(StoreError::Corrupt(format!("the user schema: {e}"))))
}

/// What is wrong with `value` for custom attribute `name`, if anything.
pub fn check_value(name: &str, a: &CustomAttribute, value: &AttrValue) -> Option<FieldError> {
    match (a.kind, value) {
        (AttrKind::Array, AttrValue::Array(items)) => items
            .iter()
            .find_map(|v| check_scalar(name, a, a.scalar(), v)),
        (AttrKind::Array, _) => Some(FieldError::new(
            name.to_owned(),
            format!("Must be an array of {} values", a.scalar().as_str()),
        )),
        (kind, v) => check_scalar(name, a, kind, v),
    }
}

/// What is wrong with one value (an attribute's or an array element's) of type `kind`.
fn check_scalar(
    name: &str,
    a: &CustomAttribute,
    kind: AttrKind,
    value: &AttrValue,
) -> Option<FieldError> {
    let wrong = |msg: String| Some(FieldError::new(name.to_owned(), msg));
    if !is_of(kind, value) {
        return wrong(format!("Must be of type {}", kind.as_str()));
    }
    if let Some(text) = value.as_str() {
        let len = u32::try_from(text.chars().count()).unwrap_or(u32::MAX);
        if let Some(min) = a.min_length.filter(|m| len < *m) {
            return wrong(format!("Must be at least {min} characters"));
        }
        if let Some(max) = a.max_length.filter(|m| len > *m) {
            return wrong(format!("Must be at most {max} characters"));
        }
    }
    if let Some(n) = value.as_f64() {
        if let Some(min) = number(&a.minimum).filter(|m| n < *m) {
            return wrong(format!("Must be at least {min}"));
        }
        if let Some(max) = number(&a.maximum).filter(|m| n > *m) {
            return wrong(format!("Must be at most {max}"));
        }
    }
    if let Some(allowed) = a.allowed.as_ref().filter(|v| !v.contains(value)) {
        let listed: Vec<String> = allowed
            .iter()
            .map(|v| match v {
                AttrValue::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect();
        return wrong(format!("Must be one of {}", listed.join(", ")));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(title: &str) -> CustomAttribute {
        CustomAttribute {
            max_length: Some(5),
            ..CustomAttribute::text(title)
        }
    }

    #[test]
    fn declarations_are_checked_and_concurrent_changes_all_land() {
        let (_dir, store) = crate::store::temp_store();
        let bad = update(
            &store,
            [
                ("title".to_owned(), Some(attr("Title"))),
                ("9lives".to_owned(), Some(attr("Nine"))),
                ("blank".to_owned(), Some(attr(" "))),
            ]
            .into(),
            Timestamp::from_millis(1),
        );
        match bad {
            Err(DirectoryError::Invalid(errs)) => assert_eq!(errs.len(), 3, "{errs:?}"),
            other => panic!("{other:?}"),
        }
        let store = std::sync::Arc::new(store);
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let store = store.clone();
                std::thread::spawn(move || {
                    update(
                        store.as_ref(),
                        [(format!("attr{i}"), Some(attr("A")))].into(),
                        Timestamp::from_millis(2),
                    )
                    .unwrap();
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(load(store.as_ref()).unwrap().custom.len(), 8);
        let a = attr("A");
        assert!(check_value("x", &a, &"abcde".into()).is_none());
        assert!(check_value("x", &a, &"abcdef".into()).is_some());
    }

    #[test]
    fn typed_values_are_checked_against_their_declaration() {
        use serde_json::json;
        let typed = |kind, items| CustomAttribute {
            kind,
            items,
            ..CustomAttribute::text("T")
        };
        let age = CustomAttribute {
            minimum: Some(0.into()),
            maximum: Some(150.into()),
            ..typed(AttrKind::Integer, None)
        };
        assert!(check_value("age", &age, &json!(42)).is_none());
        assert!(check_value("age", &age, &json!(151)).is_some());
        assert!(check_value("age", &age, &json!(4.5)).is_some());
        assert!(check_value("age", &age, &json!("42")).is_some());
        let flag = typed(AttrKind::Boolean, None);
        assert!(check_value("f", &flag, &json!(true)).is_none());
        assert!(check_value("f", &flag, &json!("true")).is_some());
        let score = typed(AttrKind::Number, None);
        assert!(check_value("s", &score, &json!(4.5)).is_none());
        assert!(check_value("s", &score, &json!(4)).is_none());
        let tags = CustomAttribute {
            allowed: Some(vec![json!("a"), json!("b")]),
            ..typed(AttrKind::Array, None)
        };
        assert!(check_value("t", &tags, &json!(["a", "b"])).is_none());
        assert!(check_value("t", &tags, &json!(["a", "c"])).is_some());
        assert!(check_value("t", &tags, &json!("a")).is_some());
        let ints = typed(AttrKind::Array, Some(AttrKind::Integer));
        assert!(check_value("n", &ints, &json!([1, 2])).is_none());
        assert!(check_value("n", &ints, &json!([1, "2"])).is_some());
        // Declarations: ranges on text, lengths on numbers, nested arrays are refused.
        for bad in [
            CustomAttribute {
                minimum: Some(1.into()),
                ..CustomAttribute::text("T")
            },
            CustomAttribute {
                max_length: Some(3),
                ..typed(AttrKind::Integer, None)
            },
            typed(AttrKind::Array, Some(AttrKind::Array)),
            typed(AttrKind::String, Some(AttrKind::Integer)),
            CustomAttribute {
                allowed: Some(vec![json!("x")]),
                ..typed(AttrKind::Integer, None)
            },
        ] {
            assert!(!check_declaration("p", &bad).is_empty(), "{bad:?}");
        }
        assert!(check_declaration("p", &age).is_empty());
    }
}
