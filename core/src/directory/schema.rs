//! The default user schema (Okta's `/api/v1/meta/schemas/user/default`): Okta's base
//! attributes, fixed, and the custom attributes an org declares, which profiles may then hold.
//! Custom values are text, checked against the declaration (required, length, allowed values).

use super::users::STANDARD_ATTRIBUTES;
use super::{DirectoryError, FieldError};
use crate::clock::Timestamp;
pub use crate::records::directory::{CustomAttribute, UserSchema};
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
    if a.allowed.as_ref().is_some_and(Vec::is_empty) {
        errs.push(FieldError::new(
            name.to_owned(),
            "enum must list at least one value",
        ));
    }
    errs
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
    let stored = store.modify_meta(META_KEY, &mut |current| {
        let mut schema: UserSchema = match current.map(serde_json::from_str).transpose() {
            Ok(s) => s.unwrap_or_default(),
            Err(e) => {
                failed = Some(StoreError::Corrupt(format!("the user schema: {e}")));
                return None;
            }
        };
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
    let text = stored.ok_or_else(|| StoreError::Backend("the schema was not written".into()))?;
    serde_json::from_str(&text)
        .map_err(|e| DirectoryError::Store(StoreError::Corrupt(format!("the user schema: {e}"))))
}

/// What is wrong with `value` for custom attribute `name`, if anything.
pub fn check_value(name: &str, a: &CustomAttribute, value: &str) -> Option<FieldError> {
    let len = u32::try_from(value.chars().count()).unwrap_or(u32::MAX);
    if let Some(min) = a.min_length.filter(|m| len < *m) {
        return Some(FieldError::new(
            name.to_owned(),
            format!("Must be at least {min} characters"),
        ));
    }
    if let Some(max) = a.max_length.filter(|m| len > *m) {
        return Some(FieldError::new(
            name.to_owned(),
            format!("Must be at most {max} characters"),
        ));
    }
    if let Some(allowed) = a.allowed.as_ref().filter(|v| !v.iter().any(|x| x == value)) {
        return Some(FieldError::new(
            name.to_owned(),
            format!("Must be one of {}", allowed.join(", ")),
        ));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(title: &str) -> CustomAttribute {
        CustomAttribute {
            title: title.into(),
            description: None,
            required: false,
            min_length: None,
            max_length: Some(5),
            allowed: None,
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
        assert!(check_value("x", &a, "abcde").is_none());
        assert!(check_value("x", &a, "abcdef").is_some());
    }
}
