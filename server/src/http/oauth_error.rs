//! Every OAuth error the JSON endpoints answer, built in one place: RFC 6749 §5.2's body
//! (`error`, `error_description`), the status, `Cache-Control: no-store`, and the header the
//! error calls for — a Basic or Bearer challenge (RFC 6750 §3), `Retry-After` for a 503.

use crate::oauth::grants::TokenError;
use crate::store::StoreError;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// What `WWW-Authenticate` says, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Challenge {
    None,
    /// The client tried HTTP Basic and failed.
    Basic,
    /// A bearer token was refused; the error is repeated in the challenge.
    Bearer,
}

#[derive(Debug)]
pub(super) struct OAuthError {
    pub(super) status: StatusCode,
    /// The RFC 6749 error code.
    pub(super) error: String,
    pub(super) description: String,
    pub(super) challenge: Challenge,
}

impl OAuthError {
    pub(super) fn new(
        status: StatusCode,
        error: impl Into<String>,
        description: impl Into<String>,
    ) -> Self {
        Self {
            status,
            error: error.into(),
            description: description.into(),
            challenge: Challenge::None,
        }
    }

    pub(super) fn with(mut self, challenge: Challenge) -> Self {
        self.challenge = challenge;
        self
    }

    /// The store or the hashing pool cannot answer now: 503, try again in a second.
    pub(super) fn unavailable(detail: &str) -> Self {
        tracing::error!(%detail, "request failed: the store is unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "The server is temporarily unavailable. Please try again later.",
        )
    }

    /// A token endpoint error (also introspection's and revocation's); `basic` is whether the
    /// client authenticated with HTTP Basic, which a failure must then challenge.
    pub(super) fn token(e: &TokenError, basic: bool) -> Self {
        let status = match e {
            TokenError::InvalidClient => StatusCode::UNAUTHORIZED,
            TokenError::Store(StoreError::Unavailable(why)) => return Self::unavailable(why),
            TokenError::Busy => return Self::unavailable("hashing at capacity"),
            TokenError::Store(_) | TokenError::Key(_) | TokenError::Flow(_) => {
                tracing::error!(error = ?e, "token request failed");
                StatusCode::INTERNAL_SERVER_ERROR
            }
            _ => StatusCode::BAD_REQUEST,
        };
        let challenge = if basic && matches!(e, TokenError::InvalidClient) {
            Challenge::Basic
        } else {
            Challenge::None
        };
        // `TokenError`'s `Display` is its RFC 6749 error code.
        Self::new(status, e.to_string(), e.description()).with(challenge)
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let challenge = match self.challenge {
            Challenge::None => None,
            Challenge::Basic => Some(HeaderValue::from_static("Basic realm=\"portcullis\"")),
            Challenge::Bearer => HeaderValue::from_str(&format!(
                "Bearer error=\"{}\", error_description=\"{}\"",
                self.error,
                self.description.replace('"', "'")
            ))
            .ok(),
        };
        let mut r = (
            self.status,
            Json(json!({ "error": self.error, "error_description": self.description })),
        )
            .into_response();
        let h = r.headers_mut();
        if let Some(v) = challenge {
            h.insert(header::WWW_AUTHENTICATE, v);
        }
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_error_carries_its_status_and_headers() {
        let r = OAuthError::token(&TokenError::InvalidClient, true).into_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"portcullis\""
        );
        let r = OAuthError::token(&TokenError::InvalidClient, false).into_response();
        assert!(!r.headers().contains_key(header::WWW_AUTHENTICATE));
        let r = OAuthError::token(&TokenError::Busy, false).into_response();
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        let r = OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_token", "It \"expired\".")
            .with(Challenge::Bearer)
            .into_response();
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\", error_description=\"It 'expired'.\""
        );
        assert_eq!(r.headers()[header::CACHE_CONTROL], "no-store");
    }
}
