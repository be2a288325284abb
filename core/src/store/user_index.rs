//! The user attribute index both backends keep beside the users, written in the same atomic
//! step as the user: one entry `(attribute, key, user id)` for every attribute a user has, so
//! that Okta's `search` finds users by any of them (and sorts by any of them) without reading
//! every user. Keys are what searches compare: text in lower case (Okta compares values without
//! case), times in Okta's ISO-8601 form (which sorts as time does), numbers in a fixed-width
//! form that sorts as numbers do ([`number_key`]), booleans as `true` / `false`. An array
//! attribute has an entry for each distinct element.

use crate::clock::Timestamp;
use crate::records::directory::{AttrValue, User};
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

/// The key of a number: sixteen hex digits of its IEEE 754 bits, turned so that keys sort
/// as the numbers do (negative ones first). Integers beyond 2^53 are as precise as a double.
pub fn number_key(n: f64) -> String {
    let n = if n == 0.0 { 0.0 } else { n };
    let bits = n.to_bits();
    let ordered = if bits >> 63 == 0 {
        bits | (1 << 63)
    } else {
        !bits
    };
    format!("{ordered:016x}")
}

/// One value (an attribute's, or an array element's) as a search reads it: text as given, a
/// number as its key, a boolean as `true` or `false`.
fn scalar(v: &AttrValue) -> Option<String> {
    match v {
        AttrValue::String(s) => Some(s.clone()),
        AttrValue::Bool(b) => Some(b.to_string()),
        AttrValue::Number(n) => n.as_f64().map(number_key),
        _ => None,
    }
}

/// Every value of `attribute` (`status`, `profile.lastName`, …) of `user` as a search reads
/// it (several for an array, none when unset).
pub fn values(user: &User, attribute: &str) -> Vec<String> {
    match attribute.strip_prefix("profile.") {
        Some(name) if !REQUIRED.contains(&name) => match user.profile.attributes.get(name) {
            Some(AttrValue::Array(items)) => {
                let mut all: Vec<String> = items.iter().filter_map(scalar).collect();
                all.sort_unstable();
                all.dedup();
                all
            }
            Some(v) => scalar(v).into_iter().collect(),
            None => Vec::new(),
        },
        _ => value(user, attribute).into_iter().collect(),
    }
}

/// The profile attributes every user has.
const REQUIRED: [&str; 4] = ["login", "email", "firstName", "lastName"];

/// The value of `attribute` of `user` as a search reads it, if set (an array's first).
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
                _ => values(user, attribute).into_iter().next(),
            }
        }
    }
}

/// The key `attribute` of `user` is indexed under, if it has one (an array's least).
pub fn key(user: &User, attribute: &str) -> Option<String> {
    keys(user, attribute).into_iter().min()
}

/// Every key `attribute` of `user` is indexed under, distinct.
pub fn keys(user: &User, attribute: &str) -> Vec<String> {
    let mut keys: Vec<String> = values(user, attribute)
        .into_iter()
        .map(|v| if is_time(attribute) { v } else { text_key(&v) })
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// Every `(attribute, key)` entry of `user`.
pub fn entries(user: &User) -> Vec<(String, String)> {
    let profile = REQUIRED
        .into_iter()
        .map(str::to_owned)
        .chain(user.profile.attributes.keys().cloned())
        .map(|name| format!("profile.{name}"));
    TOP_LEVEL
        .into_iter()
        .map(str::to_owned)
        .chain(profile)
        .flat_map(|attribute| {
            keys(user, &attribute)
                .into_iter()
                .map(move |k| (attribute.clone(), k))
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
    fn number_keys_sort_as_numbers() {
        let mut numbers = [
            3.5,
            -1.0,
            0.0,
            -0.0,
            10.0,
            -250.25,
            2e9,
            -f64::INFINITY,
            1e-9,
        ];
        let mut keys: Vec<String> = numbers.iter().map(|n| number_key(*n)).collect();
        keys.sort();
        numbers.sort_by(f64::total_cmp);
        let sorted: Vec<String> = numbers.iter().map(|n| number_key(*n)).collect();
        assert_eq!(keys, sorted);
        assert_eq!(number_key(-0.0), number_key(0.0));
        assert!(keys.iter().all(|k| k.len() == 16 && *k == text_key(k)));
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
