//! An OAuth request's parameters, from a query string or a form body. RFC 6749 §3.1: a
//! parameter must not appear more than once, so a repeat is kept aside for the endpoint to
//! refuse (`redirect_uri=evil&redirect_uri=good` must not get a code for either).

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::ops::Deref;

#[derive(Debug, Clone, Default)]
pub struct Params {
    values: HashMap<String, String>,
    /// Names given more than once, in the order first repeated.
    repeated: Vec<String>,
}

impl Params {
    /// Parses `application/x-www-form-urlencoded` text (a query string or a form body).
    pub fn parse(encoded: &[u8]) -> Self {
        let mut params = Self::default();
        for (name, value) in url::form_urlencoded::parse(encoded).into_owned() {
            match params.values.entry(name) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                Entry::Occupied(taken) if !params.repeated.contains(taken.key()) => {
                    params.repeated.push(taken.key().clone());
                }
                Entry::Occupied(_) => {}
            }
        }
        params
    }

    /// The first parameter given more than once, if any.
    pub fn repeated(&self) -> Option<&str> {
        self.repeated.first().map(String::as_str)
    }

    /// RFC 6749's answer to a repeat, for endpoints that answer `invalid_request`.
    pub fn repeat_error(&self) -> Option<String> {
        self.repeated()
            .map(|name| format!("The '{name}' parameter was given more than once."))
    }

    /// Adds a parameter the request carried elsewhere (a query beside a form body) unless the
    /// body has it; a different value there counts as a repeat.
    pub fn add_missing(&mut self, name: &str, value: &str) {
        match self.values.get(name) {
            None => {
                self.values.insert(name.to_owned(), value.to_owned());
            }
            Some(v) if v != value && !self.repeated.iter().any(|r| r == name) => {
                self.repeated.push(name.to_owned());
            }
            Some(_) => {}
        }
    }
}

impl Deref for Params {
    type Target = HashMap<String, String>;
    fn deref(&self) -> &Self::Target {
        &self.values
    }
}

impl From<HashMap<String, String>> for Params {
    fn from(values: HashMap<String, String>) -> Self {
        Self {
            values,
            repeated: Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_name_is_kept_aside_and_single_ones_are_read() {
        let p = Params::parse(b"redirect_uri=evil&client_id=c&redirect_uri=good&state=s&state=t");
        assert_eq!(p.repeated(), Some("redirect_uri"));
        assert_eq!(p.get("client_id").map(String::as_str), Some("c"));
        assert!(p.repeat_error().unwrap().contains("'redirect_uri'"));
        let single = Params::parse(b"a=1&b=2&c=");
        assert_eq!(single.repeated(), None);
        assert_eq!(single.len(), 3);
        // The same name twice counts even when both are empty.
        assert_eq!(Params::parse(b"scope=&scope=").repeated(), Some("scope"));
    }

    #[test]
    fn a_value_from_elsewhere_fills_a_gap_and_a_conflict_is_a_repeat() {
        let mut p = Params::parse(b"token=t");
        p.add_missing("client_id", "c");
        assert_eq!(p.get("client_id").map(String::as_str), Some("c"));
        p.add_missing("client_id", "c");
        assert_eq!(p.repeated(), None);
        p.add_missing("client_id", "other");
        assert_eq!(p.repeated(), Some("client_id"));
    }
}
