//! Extractors that turn bad input into Okta errors instead of axum's plain-text rejections.

use super::AppState;
use super::error::ApiError;
use crate::clock::Timestamp;
use crate::directory::admins::{self, Authority, Need};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, header};
use serde::de::DeserializeOwned;

/// A JSON body; anything else is `400 E0000003`.
pub(super) struct OktaJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for OktaJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            Err(rejection) => Err(ApiError::MalformedBody(rejection.body_text())),
        }
    }
}

/// An admin request authenticated by `Authorization: SSWS <token>` whose token may do what the
/// method asks: reading (`GET`, `HEAD`) takes any admin role, anything else an org or super
/// admin. A missing or unknown token is `401 E0000011`, too weak a role `403 E0000006`.
pub(super) struct Admin;

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let need = if matches!(parts.method, Method::GET | Method::HEAD) {
            Need::Read
        } else {
            Need::Write
        };
        authorised(parts, state, need).map(|_| Admin)
    }
}

/// An admin request from a super admin: giving roles and managing API tokens.
pub(super) struct SuperAdmin;

impl FromRequestParts<AppState> for SuperAdmin {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        authorised(parts, state, Need::Manage).map(|_| SuperAdmin)
    }
}

/// What the request's admin token may do, as a layer before the handler already found it
/// (the System Log's record of an admin change), so that it is looked up once.
#[derive(Clone)]
pub(super) struct KnownAuthority(pub(super) Option<Authority>);

/// The authority of the request's admin token, if it may do what `need` says.
fn authorised(parts: &Parts, state: &AppState, need: Need) -> Result<Authority, ApiError> {
    let known = parts
        .extensions
        .get::<KnownAuthority>()
        .map(|k| k.0.clone());
    let authority = match known {
        Some(a) => a,
        None => admin_authority(&parts.headers, state)?,
    }
    .ok_or(ApiError::InvalidToken)?;
    if authority.may(need) {
        Ok(authority)
    } else {
        Err(ApiError::Forbidden)
    }
}

/// What the request's admin token may do: `Authorization: SSWS <token>`, or `SSWS<token>` as
/// Okta's Python SDK sends it (Okta accepts both). `None` without a token that works.
pub(super) fn admin_authority(
    headers: &axum::http::HeaderMap,
    state: &AppState,
) -> Result<Option<Authority>, ApiError> {
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("SSWS"))
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let Some(token) = presented else {
        return Ok(None);
    };
    Ok(admins::authenticate(
        state.store.as_ref(),
        token,
        state.admin_token.as_ref(),
        Timestamp::now(),
    )?)
}

/// Whether the request carries an admin token that may change the org (a trusted caller of
/// the Authentication API, e.g. recovery on someone's behalf).
pub(super) fn is_admin(headers: &axum::http::HeaderMap, state: &AppState) -> bool {
    admin_authority(headers, state)
        .ok()
        .flatten()
        .is_some_and(|a| a.may(Need::Write))
}

/// The value of cookie `name` in the request's `Cookie` headers.
pub(super) fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
}

/// Whether the client asked for JSON (a script) rather than a page (a plain form post).
pub(super) fn wants_json(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"))
}

/// The address a request came from (the TCP peer), as the rate limits count it.
pub(super) struct ClientAddr(pub String);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(client_addr(&parts.extensions)))
    }
}

pub(super) fn client_addr(extensions: &axum::http::Extensions) -> String {
    extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    #[test]
    fn finds_a_cookie_among_several_headers() {
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("a=1; sid=abc"));
        h.append(header::COOKIE, HeaderValue::from_static("pc_csrf=\"x y\""));
        assert_eq!(cookie(&h, "sid"), Some("abc"));
        assert_eq!(cookie(&h, "pc_csrf"), Some("x y"));
        assert_eq!(cookie(&h, "none"), None);
    }
}
