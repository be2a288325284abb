//! `POST /api/v1/authn`: primary authentication in Okta's transaction shape.

use super::AppState;
use super::error::ApiError;
use super::extract::OktaJson;
use crate::authn::{PrimaryOutcome, authenticate};
use crate::clock::Timestamp;
use crate::directory::FieldError;
use crate::paths;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(paths::AUTHN, post(primary))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuthnRequest {
    username: Option<String>,
    password: Option<String>,
}

async fn primary(
    State(state): State<AppState>,
    OktaJson(req): OktaJson<AuthnRequest>,
) -> Result<Response, ApiError> {
    let username = req.username.unwrap_or_default();
    let password = req.password.unwrap_or_default();
    let mut missing = Vec::new();
    if username.trim().is_empty() {
        missing.push(FieldError::new(
            "username",
            "The field cannot be left blank",
        ));
    }
    if password.is_empty() {
        missing.push(FieldError::new(
            "password",
            "The field cannot be left blank",
        ));
    }
    if !missing.is_empty() {
        return Err(ApiError::Validation(missing));
    }
    let now = Timestamp::now();
    let outcome = state
        .blocking(move |s| {
            authenticate(
                s.store.as_ref(),
                &s.hasher,
                &s.authn,
                now,
                &username,
                &password,
            )
        })
        .await??;
    match outcome {
        PrimaryOutcome::Success {
            user,
            session_token,
            expires_at,
        } => {
            let body = json!({
                "expiresAt": expires_at.iso8601(),
                "status": "SUCCESS",
                "sessionToken": session_token.expose(),
                "_embedded": {
                    "user": {
                        "id": user.id,
                        "passwordChanged": user.password_changed.map(|t| t.iso8601()),
                        "profile": {
                            "login": user.profile.login,
                            "firstName": user.profile.first_name,
                            "lastName": user.profile.last_name,
                            "locale": "en",
                            "timeZone": "UTC",
                        }
                    }
                }
            });
            let mut response = Json(body).into_response();
            response
                .headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            Ok(response)
        }
        PrimaryOutcome::Failed => Err(ApiError::AuthenticationFailed),
    }
}
