//! The one map from failures to responses: Okta's error body
//! `{errorCode, errorSummary, errorLink, errorId, errorCauses}` with the matching status.

use crate::directory::{DirectoryError, FieldError};
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// E0000004: wrong credentials, unknown user, locked or inactive user — all alike.
    #[error("authentication failed")]
    AuthenticationFailed,
    /// E0000011: a missing or wrong API token or state token.
    #[error("invalid token")]
    InvalidToken,
    /// E0000007: `what` names the resource, e.g. `00u123 (User)`.
    #[error("not found: {0}")]
    NotFound(String),
    /// E0000001 with one cause per field.
    #[error("validation failed")]
    Validation(Vec<FieldError>),
    /// E0000003: the body is not the JSON the endpoint takes.
    #[error("malformed body: {0}")]
    MalformedBody(String),
    /// E0000079: the transaction's state does not allow this request.
    #[error("wrong state")]
    WrongState,
    /// E0000068: a wrong passcode or answer.
    #[error("invalid passcode")]
    InvalidPasscode,
    /// E0000014: a new password was refused, with the reasons.
    #[error("credentials refused")]
    CredentialsRefused(Vec<FieldError>),
    /// E0000087: the recovery question's answer is wrong.
    #[error("wrong recovery answer")]
    WrongRecoveryAnswer,
    /// E0000095: a trusted caller asked to recover an unknown user.
    #[error("recovery not allowed")]
    RecoveryNotAllowed,
    /// E0000047: too many requests (the caller adds the `X-Rate-Limit-*` headers).
    #[error("rate limited")]
    RateLimited,
    /// E0000031: a `search` or `filter` expression (or its sort or cursor) was refused; the
    /// cause says why.
    #[error("invalid search: {0}")]
    InvalidSearch(String),
    /// 400 E0000053: a System Log `filter` that cannot be read; the cause says why.
    #[error("invalid log filter: {0}")]
    InvalidLogFilter(String),
    /// 403 E0000006: the admin token works but its owner's role does not allow this.
    #[error("forbidden")]
    Forbidden,
    /// 409 E0000090: the user holds this role already.
    #[error("role already assigned")]
    RoleAssigned,
    /// E0000022: the path exists but not for this method.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// 503 E0000010: the store cannot take or keep writes right now (logged in full,
    /// reported without detail); the caller may try again.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// E0000009: logged in full, reported without detail.
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Cause {
    error_summary: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OktaErrorBody {
    error_code: &'static str,
    error_summary: String,
    error_link: &'static str,
    error_id: String,
    error_causes: Vec<Cause>,
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str, String, Vec<Cause>) {
        match self {
            ApiError::AuthenticationFailed => (
                StatusCode::UNAUTHORIZED,
                "E0000004",
                "Authentication failed".into(),
                vec![],
            ),
            ApiError::InvalidToken => (
                StatusCode::UNAUTHORIZED,
                "E0000011",
                "Invalid token provided".into(),
                vec![],
            ),
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "E0000007",
                format!("Not found: Resource not found: {what}"),
                vec![],
            ),
            ApiError::Validation(fields) => (
                StatusCode::BAD_REQUEST,
                "E0000001",
                format!(
                    "Api validation failed: {}",
                    fields.first().map_or("request", |f| &f.field)
                ),
                fields
                    .iter()
                    .map(|f| Cause {
                        error_summary: format!("{}: {}", f.field, f.message),
                    })
                    .collect(),
            ),
            ApiError::MalformedBody(reason) => (
                StatusCode::BAD_REQUEST,
                "E0000003",
                "The request body was not well-formed.".into(),
                vec![Cause {
                    error_summary: reason.clone(),
                }],
            ),
            ApiError::WrongState => (
                StatusCode::FORBIDDEN,
                "E0000079",
                "This operation is not allowed in the current authentication state.".into(),
                vec![],
            ),
            ApiError::InvalidPasscode => (
                StatusCode::FORBIDDEN,
                "E0000068",
                "Invalid Passcode/Answer".into(),
                vec![Cause {
                    error_summary: "Your passcode doesn't match our records. Please try again."
                        .into(),
                }],
            ),
            ApiError::CredentialsRefused(fields) => (
                StatusCode::FORBIDDEN,
                "E0000014",
                "Update of credentials failed".into(),
                fields
                    .iter()
                    .map(|f| Cause {
                        error_summary: format!("{}: {}", f.field, f.message),
                    })
                    .collect(),
            ),
            ApiError::WrongRecoveryAnswer => (
                StatusCode::FORBIDDEN,
                "E0000087",
                "The recovery question answer did not match our records.".into(),
                vec![],
            ),
            ApiError::RecoveryNotAllowed => (
                StatusCode::FORBIDDEN,
                "E0000095",
                "Recovery not allowed for unknown user.".into(),
                vec![],
            ),
            ApiError::RateLimited => (
                StatusCode::TOO_MANY_REQUESTS,
                "E0000047",
                "API call exceeded rate limit due to too many requests.".into(),
                vec![],
            ),
            ApiError::InvalidSearch(why) => (
                StatusCode::BAD_REQUEST,
                "E0000031",
                "Invalid search criteria.".into(),
                vec![Cause {
                    error_summary: why.clone(),
                }],
            ),
            ApiError::InvalidLogFilter(why) => (
                StatusCode::BAD_REQUEST,
                "E0000053",
                "Invalid filter".into(),
                vec![Cause {
                    error_summary: why.clone(),
                }],
            ),
            ApiError::Forbidden => (
                StatusCode::FORBIDDEN,
                "E0000006",
                "You do not have permission to perform the requested action".into(),
                vec![],
            ),
            ApiError::RoleAssigned => (
                StatusCode::CONFLICT,
                "E0000090",
                "Duplicate role assignment exception".into(),
                vec![],
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "E0000022",
                "The endpoint does not support the provided HTTP method".into(),
                vec![],
            ),
            ApiError::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "E0000010",
                "Service is temporarily unavailable. Please try again later.".into(),
                vec![],
            ),
            ApiError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "E0000009",
                "Internal Server Error".into(),
                vec![],
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(detail) | ApiError::Unavailable(detail) = &self {
            tracing::error!(%detail, "request failed");
        }
        let (status, code, summary, causes) = self.parts();
        let body = OktaErrorBody {
            error_code: code,
            error_summary: summary,
            error_link: code,
            error_id: crate::crypto::new_id("oae"),
            error_causes: causes,
        };
        let mut response = (status, Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}

impl From<crate::directory::search::SearchError> for ApiError {
    fn from(e: crate::directory::search::SearchError) -> Self {
        ApiError::InvalidSearch(e.0)
    }
}

impl From<DirectoryError> for ApiError {
    fn from(e: DirectoryError) -> Self {
        match e {
            DirectoryError::Invalid(fields) => ApiError::Validation(fields),
            DirectoryError::NotFound => ApiError::NotFound("resource".into()),
            DirectoryError::Store(e) => e.into(),
            DirectoryError::Hash(e) => e.into(),
        }
    }
}

/// A full hashing queue is answered like a rate limit (429 E0000047): try again shortly.
impl From<crate::crypto::password::HashError> for ApiError {
    fn from(e: crate::crypto::password::HashError) -> Self {
        match e {
            crate::crypto::password::HashError::Busy => ApiError::RateLimited,
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        match e {
            crate::store::StoreError::Unavailable(why) => ApiError::Unavailable(why),
            e => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<crate::authn::AuthnError> for ApiError {
    fn from(e: crate::authn::AuthnError) -> Self {
        ApiError::Internal(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_first_field_and_lists_causes() {
        let (status, code, summary, causes) = ApiError::Validation(vec![
            FieldError::new("login", "taken"),
            FieldError::new("email", "bad"),
        ])
        .parts();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(code, "E0000001");
        assert_eq!(summary, "Api validation failed: login");
        assert_eq!(causes[1].error_summary, "email: bad");
    }

    #[test]
    fn internal_detail_is_not_sent() {
        let (_, code, summary, causes) = ApiError::Internal("disk on fire".into()).parts();
        assert_eq!(code, "E0000009");
        assert!(!summary.contains("disk"));
        assert!(causes.is_empty());
    }
}
