//! Okta-style cursor pagination for admin lists: `limit` (1–200) and `after` (the last id of
//! the previous page) in, a JSON array with `Link: <…>; rel="self"` and `rel="next"` out.

use super::error::ApiError;
use crate::directory::FieldError;
use axum::Json;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use std::collections::HashMap;

pub(super) const MAX_PAGE: usize = 200;

/// A listing's query parameter `name`, when given and not empty.
pub(super) fn param<'a>(query: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    query
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

#[derive(Debug, Clone)]
pub(super) struct Page {
    pub(super) limit: usize,
    pub(super) after: Option<String>,
}

impl Page {
    pub(super) fn parse(query: &HashMap<String, String>) -> Result<Self, ApiError> {
        let limit = match query.get("limit") {
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| (1..=MAX_PAGE).contains(n))
                .ok_or_else(|| {
                    ApiError::Validation(vec![FieldError::new(
                        "limit",
                        "must be a number from 1 to 200",
                    )])
                })?,
            None => MAX_PAGE,
        };
        Ok(Self {
            limit,
            after: query.get("after").cloned().filter(|a| !a.is_empty()),
        })
    }

    /// This page of `items` (sorted here by id), and the cursor of the next page if any.
    pub(super) fn slice<T>(
        &self,
        mut items: Vec<T>,
        id: impl Fn(&T) -> &str,
    ) -> (Vec<T>, Option<String>) {
        items.sort_by(|a, b| id(a).cmp(id(b)));
        let start = self
            .after
            .as_deref()
            .map_or(0, |after| items.partition_point(|i| id(i) <= after));
        let mut page: Vec<T> = items.into_iter().skip(start).take(self.limit + 1).collect();
        let more = page.len() > self.limit;
        page.truncate(self.limit);
        let next = page.last().filter(|_| more).map(|last| id(last).to_owned());
        (page, next)
    }

    /// The JSON array with its `Link` headers; other query parameters are kept in the links.
    pub(super) fn respond(
        &self,
        base: &str,
        path: &str,
        query: &HashMap<String, String>,
        items: Vec<Value>,
        next_after: Option<&str>,
    ) -> Response {
        let mut kept: Vec<(&String, &String)> = query
            .iter()
            .filter(|(k, _)| k.as_str() != "after" && k.as_str() != "limit")
            .collect();
        kept.sort();
        let url = |after: Option<&str>| {
            let mut ser = url::form_urlencoded::Serializer::new(String::new());
            ser.append_pair("limit", &self.limit.to_string());
            for (k, v) in &kept {
                ser.append_pair(k, v);
            }
            if let Some(a) = after {
                ser.append_pair("after", a);
            }
            format!("{base}{path}?{}", ser.finish())
        };
        let mut links = vec![format!("<{}>; rel=\"self\"", url(self.after.as_deref()))];
        if let Some(next) = next_after {
            links.push(format!("<{}>; rel=\"next\"", url(Some(next))));
        }
        let mut response = Json(Value::Array(items)).into_response();
        for l in links {
            if let Ok(v) = HeaderValue::from_str(&l) {
                response.headers_mut().append(header::LINK, v);
            }
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_after_the_cursor_and_says_if_more_follow() {
        let page = Page {
            limit: 2,
            after: None,
        };
        let ids = vec!["c", "a", "e", "b", "d"];
        let (first, next) = page.slice(ids.clone(), |s| s);
        assert_eq!((first, next.as_deref()), (vec!["a", "b"], Some("b")));
        let page = Page {
            limit: 2,
            after: Some("d".into()),
        };
        let (last, next) = page.slice(ids, |s| s);
        assert_eq!((last, next), (vec!["e"], None));
    }

    #[test]
    fn rejects_limits_out_of_range() {
        for bad in ["0", "201", "x"] {
            let q = HashMap::from([("limit".to_owned(), bad.to_owned())]);
            assert!(Page::parse(&q).is_err(), "{bad}");
        }
    }
}
