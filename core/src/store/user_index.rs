//! The user attribute index both backends keep beside the users, written in the same atomic
//! step as the user: one entry `(attribute, key, user id)` for every attribute a user has, so
//! that Okta's `search` finds users by any of them (and sorts by any of them) without reading
//! every user. Keys are what searches compare: text in lower case (Okta compares values without
//! case), times in Okta's ISO-8601 form (which sorts as time does).

use crate::clock::Timestamp;
use crate::records::directory::User;
use std::ops::Bound;

/// Stored with the store's meta values; an index built by other rules is rebuilt at open.
pub const VERSION_META: &str = "user_index_version";
pub const VERSION: &str = "1";

/// Keys are cut to this many bytes (on a character boundary), so an entry stays small; a
/// search re-checks every user it loads against the whole expression.
pub const MAX_KEY_BYTES: usize = 200;

/// The type every user has until user types are built (Okta's default user type).
pub const DEFAULT_USER_TYPE: &str = "oty1defaultusertype0";

/// The attributes of a user that are not in the profile, as a search names them.
pub const TOP_LEVEL: [&str; 9] = [
    "id",
    "status",
    "created",
    "activated",
    "statusChanged",
    "lastLogin",
    "lastUpdated",
    "passwordChanged",
    "type.id",
];

/// Whether a top-level attribute holds a time.
pub fn is_time(attribute: &str) -> bool {
    matches!(
        attribute,
        "created" | "activated" | "statusChanged" | "lastLogin" | "lastUpdated" | "passwordChanged"
    )
}

/// The key of a text value: lower case, without NUL (which no backend keeps), cut short.
pub fn text_key(value: &str) -> String {
    let mut key: String = value
        .chars()
        .filter(|c| *c != '\0')
        .flat_map(char::to_lowercase)
        .collect();
    if key.len() > MAX_KEY_BYTES {
        let mut end = MAX_KEY_BYTES;
        while !key.is_char_boundary(end) {
            end -= 1;
        }
        key.truncate(end);
    }
    key
}

/// The key of a time.
pub fn time_key(t: Timestamp) -> String {
    t.iso8601()
}

/// The value of `attribute` (`status`, `profile.lastName`, …) of `user` as given, if set.
pub fn value(user: &User, attribute: &str) -> Option<String> {
    let time = |t: Option<Timestamp>| t.map(time_key);
    match attribute {
        "id" => Some(user.id.clone()),
        "status" => Some(super::status_name(user.status)),
        "created" => time(Some(user.created)),
        "activated" => time(user.activated),
        "statusChanged" => time(user.status_changed),
        "lastLogin" => time(user.last_login),
        "lastUpdated" => time(Some(user.last_updated)),
        "passwordChanged" => time(user.password_changed),
        "type.id" => Some(DEFAULT_USER_TYPE.to_owned()),
        _ => {
            let name = attribute.strip_prefix("profile.")?;
            let p = &user.profile;
            match name {
                "login" => Some(p.login.clone()),
                "email" => Some(p.email.clone()),
                "firstName" => Some(p.first_name.clone()),
                "lastName" => Some(p.last_name.clone()),
                other => p.attributes.get(other).cloned(),
            }
        }
    }
}

/// The key `attribute` of `user` is indexed under, if it has one.
pub fn key(user: &User, attribute: &str) -> Option<String> {
    let v = value(user, attribute)?;
    Some(if is_time(attribute) { v } else { text_key(&v) })
}

/// Every `(attribute, key)` entry of `user`.
pub fn entries(user: &User) -> Vec<(String, String)> {
    let profile = ["login", "email", "firstName", "lastName"]
        .into_iter()
        .map(str::to_owned)
        .chain(user.profile.attributes.keys().cloned())
        .map(|name| format!("profile.{name}"));
    TOP_LEVEL
        .into_iter()
        .map(str::to_owned)
        .chain(profile)
        .filter_map(|attribute| {
            let k = key(user, &attribute)?;
            Some((attribute, k))
        })
        .collect()
}

/// Which keys of one attribute an index read wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyRange {
    Exact(String),
    Prefix(String),
    Between(Bound<String>, Bound<String>),
}

impl KeyRange {
    /// Every key (an attribute that is present).
    pub fn all() -> Self {
        Self::Between(Bound::Unbounded, Bound::Unbounded)
    }

    pub fn contains(&self, key: &str) -> bool {
        match self {
            Self::Exact(k) => key == k,
            Self::Prefix(p) => key.starts_with(p.as_str()),
            Self::Between(lo, hi) => {
                let above = match lo {
                    Bound::Included(l) => key >= l.as_str(),
                    Bound::Excluded(l) => key > l.as_str(),
                    Bound::Unbounded => true,
                };
                let below = match hi {
                    Bound::Included(h) => key <= h.as_str(),
                    Bound::Excluded(h) => key < h.as_str(),
                    Bound::Unbounded => true,
                };
                above && below
            }
        }
    }
}

/// One index entry: a user's key for the attribute read, and the user's id. Entries come in
/// `(key, id)` order; an entry is also the position a read continues after.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct IndexEntry {
    pub key: String,
    pub id: String,
}

/// Which way an index read goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ascending,
    Descending,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_ignore_case_and_stay_short() {
        assert_eq!(text_key("ÉLodie"), "élodie");
        assert_eq!(text_key("a\0b"), "ab");
        let long = "é".repeat(300);
        let k = text_key(&long);
        assert!(k.len() <= MAX_KEY_BYTES && k.chars().all(|c| c == 'é'));
    }

    #[test]
    fn ranges_hold_what_they_say() {
        assert!(KeyRange::Prefix("sm".into()).contains("smith"));
        assert!(!KeyRange::Prefix("sm".into()).contains("asmith"));
        let r = KeyRange::Between(Bound::Excluded("b".into()), Bound::Included("d".into()));
        assert!(!r.contains("b") && r.contains("c") && r.contains("d") && !r.contains("da"));
        assert!(KeyRange::all().contains(""));
    }
}
