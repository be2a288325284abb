//! The pushed authorization request endpoint (RFC 9126), for the org and custom servers: the
//! client authenticates as at the token endpoint, the request is checked as the authorization
//! endpoint will check it, and the answer is a one-time `request_uri` (`oauth::par`).

use super::AppState;
use super::oauth::Server;
use super::oauth_error::OAuthError;
use super::oauth_flow::{client_form, no_store};
use crate::clock::Timestamp;
use crate::oauth::grants::{self, TokenError};
use crate::oauth::par::{self, PushError};
use crate::paths;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::json;

/// A pushed request is kept until used: bodies are small, and pushes count against the
/// per-address limit like sign-ins (a public client needs no secret to push).
const MAX_BODY: usize = 32 * 1024;

pub(super) fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .route(paths::OAUTH_PAR, post(push))
        .route(paths::AS_PAR, post(push))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::rate_limit::per_ip,
        ))
}

async fn push(
    State(state): State<AppState>,
    Server(issuer): Server,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, creds, basic) = match client_form(&headers, &body) {
        Ok(parsed) => parsed,
        Err(refused) => return refused.into_response(),
    };
    let now = Timestamp::now();
    let pushed = state
        .blocking(move |s| {
            let store = s.store.as_ref();
            // An assertion may name this endpoint, the token endpoint or the issuer
            // (RFC 9126 §2).
            let audiences = [
                issuer.endpoint("par"),
                issuer.endpoint("token"),
                issuer.url.clone(),
            ];
            let audiences: Vec<&str> = audiences.iter().map(String::as_str).collect();
            let client = grants::authenticate_client(store, &creds, &audiences, now)
                .map_err(Refusal::Client)?;
            par::push(store, &issuer, &client, &form, now).map_err(Refusal::Request)
        })
        .await;
    match pushed {
        Ok(Ok((request_uri, expires_in))) => no_store(
            (
                StatusCode::CREATED,
                Json(json!({ "request_uri": request_uri, "expires_in": expires_in })),
            )
                .into_response(),
        ),
        Ok(Err(Refusal::Client(e))) => OAuthError::token(&e, basic).into_response(),
        Ok(Err(Refusal::Request(PushError::Invalid { error, description }))) => {
            OAuthError::new(StatusCode::BAD_REQUEST, error, description).into_response()
        }
        Ok(Err(Refusal::Request(PushError::Store(e)))) => {
            OAuthError::token(&TokenError::Store(e), basic).into_response()
        }
        Err(e) => OAuthError::token(&TokenError::Flow(e.to_string()), basic).into_response(),
    }
}

enum Refusal {
    Client(TokenError),
    Request(PushError),
}
