//! Durable acknowledgement at the edge: a response that acknowledges writes (a `stateToken`,
//! a session cookie, tokens, an admin change) leaves only once those writes are durable. On
//! sled that is one group commit shared by every request waiting at that moment; a store
//! whose writes are durable on return needs no wait.

use super::AppState;
use super::error::ApiError;
use crate::store::durability;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// Runs the request, then waits for the writes it made to be durable before answering.
pub async fn acknowledge(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let (response, wrote) = durability::tracked(next.run(request)).await;
    let Some(commit) = state.store.group_commit() else {
        return response;
    };
    match commit.wait_async(wrote).await {
        Ok(()) => response,
        Err(e) => unavailable(&path, &e.to_string()),
    }
}

/// The answer when the store cannot take or keep writes, in the format of the surface asked:
/// RFC 6749's `temporarily_unavailable` under `/oauth2/`, Okta's error body under `/api/`,
/// plain words for a browser.
pub fn unavailable(path: &str, detail: &str) -> Response {
    if path.starts_with("/api/") {
        return ApiError::Unavailable(detail.to_owned()).into_response();
    }
    if path.starts_with("/oauth2/") {
        return super::oauth_error::OAuthError::unavailable(detail).into_response();
    }
    tracing::error!(%detail, path, "request failed: the store is unavailable");
    let mut response = (
        StatusCode::SERVICE_UNAVAILABLE,
        "Sign-in is unavailable for a moment. Please try again shortly.\n",
    )
        .into_response();
    let headers = response.headers_mut();
    headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
