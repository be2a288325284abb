//! Sessions API: the admin side (`SSWS`: create from a session token, read, refresh, end by
//! id) and the browser side (`/sessions/me`, by the `sid` cookie, CORS with credentials for
//! trusted origins, as okta-auth-js `session.get/exists/refresh/close` use it).

use super::AppState;
use super::error::ApiError;
use super::extract::{Admin, OktaJson, cookie};
use super::pages::{SESSION_COOKIE, expired_session_cookie};
use crate::authn::Session;
use crate::authn::session::{
    end_user_sessions, exchange_session_token, find_session, find_session_by_id, refresh_session,
    use_session,
};
use crate::clock::Timestamp;
use crate::crypto::Secret;
use crate::directory::FieldError;
use crate::paths;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

/// `/sessions/me`: for browsers on trusted origins (the caller adds CORS).
pub(super) fn browser_routes() -> Router<AppState> {
    Router::new()
        .route(paths::SESSION_ME, get(me).delete(close_me))
        .route(paths::SESSION_ME_REFRESH, post(refresh_me))
}

pub(super) fn admin_routes() -> Router<AppState> {
    Router::new()
        .route(paths::SESSIONS, post(create))
        .route(paths::SESSION, get(read).delete(close))
        .route(
            paths::USER_SESSIONS,
            axum::routing::delete(close_users_sessions),
        )
        .route(paths::SESSION_REFRESH, post(refresh))
}

/// Okta's session object. `me` selects the `/sessions/me` links.
fn view(state: &AppState, s: &Session, me: bool) -> Value {
    let base = &state.base_url;
    let user = state.store.user(&s.user_id).ok().flatten();
    let (self_href, refresh_href) = if me {
        (
            format!("{base}{}", paths::SESSION_ME),
            format!("{base}{}", paths::SESSION_ME_REFRESH),
        )
    } else {
        (
            paths::href(base, paths::SESSION, &s.id),
            paths::href(base, paths::SESSION_REFRESH, &s.id),
        )
    };
    let mfa = s.amr.iter().any(|m| m == "mfa");
    json!({
        "id": s.id,
        "userId": s.user_id,
        "login": user.as_ref().map(|u| u.profile.login.clone()),
        "createdAt": s.created.iso8601(),
        "expiresAt": s.expires_at.iso8601(),
        "status": "ACTIVE",
        "lastPasswordVerification": s.last_password_verification.iso8601(),
        "lastFactorVerification": mfa.then(|| s.last_password_verification.iso8601()),
        "amr": s.amr,
        "idp": { "id": "portcullis", "type": "OKTA" },
        "mfaActive": mfa,
        "_links": {
            "self": { "href": self_href, "hints": { "allow": ["GET", "DELETE"] } },
            "refresh": { "href": refresh_href, "hints": { "allow": ["POST"] } },
            "user": {
                "name": user.as_ref().map(|u| format!("{} {}", u.profile.first_name, u.profile.last_name)),
                "href": paths::href(base, paths::USER, &s.user_id),
                "hints": { "allow": ["GET"] },
            },
        },
    })
}

fn not_found(what: &str) -> ApiError {
    ApiError::NotFound(format!("{what} (Session)"))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateSession {
    session_token: Option<String>,
}

/// `POST /api/v1/sessions {sessionToken}`: redeems the one-time token for a session.
async fn create(
    _: Admin,
    State(state): State<AppState>,
    OktaJson(body): OktaJson<CreateSession>,
) -> Result<Json<Value>, ApiError> {
    let token = body
        .session_token
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Validation(vec![FieldError::new(
                "sessionToken",
                "The field cannot be left blank",
            )])
        })?;
    let now = Timestamp::now();
    let started = state
        .blocking(move |s| exchange_session_token(s.store.as_ref(), &s.sessions, now, &token))
        .await??;
    let (_, session) = started.ok_or(ApiError::AuthenticationFailed)?;
    Ok(Json(view(&state, &session, false)))
}

async fn read(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let (_, session) = find_session_by_id(state.store.as_ref(), Timestamp::now(), &id)?
        .ok_or_else(|| not_found(&id))?;
    Ok(Json(view(&state, &session, false)))
}

async fn refresh(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let now = Timestamp::now();
    let (digest, session) =
        find_session_by_id(state.store.as_ref(), now, &id)?.ok_or_else(|| not_found(&id))?;
    let session = refresh_session(state.store.as_ref(), &state.sessions, now, &digest, session)?;
    Ok(Json(view(&state, &session, false)))
}

async fn close(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let (digest, _) = find_session_by_id(state.store.as_ref(), Timestamp::now(), &id)?
        .ok_or_else(|| not_found(&id))?;
    state.store.delete_session(&digest)?;
    Ok(StatusCode::NO_CONTENT)
}

/// The browser's own session, from its `sid` cookie.
fn my_session(state: &AppState, headers: &HeaderMap, now: Timestamp) -> Result<Session, ApiError> {
    let sid = cookie(headers, SESSION_COOKIE).ok_or_else(|| not_found("me"))?;
    find_session(state.store.as_ref(), now, sid)?.ok_or_else(|| not_found("me"))
}

async fn me(State(state): State<AppState>, headers: HeaderMap) -> Result<Json<Value>, ApiError> {
    let sid = cookie(&headers, SESSION_COOKIE).ok_or_else(|| not_found("me"))?;
    let session = use_session(state.store.as_ref(), &state.sessions, Timestamp::now(), sid)?
        .ok_or_else(|| not_found("me"))?;
    Ok(Json(view(&state, &session, true)))
}

async fn refresh_me(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let now = Timestamp::now();
    let session = my_session(&state, &headers, now)?;
    let digest = cookie(&headers, SESSION_COOKIE)
        .map(|c| Secret::new(c).digest())
        .ok_or_else(|| not_found("me"))?;
    let session = refresh_session(state.store.as_ref(), &state.sessions, now, &digest, session)?;
    Ok(Json(view(&state, &session, true)))
}

async fn close_me(State(state): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    my_session(&state, &headers, Timestamp::now())?;
    if let Some(sid) = cookie(&headers, SESSION_COOKIE) {
        state.store.delete_session(&Secret::new(sid).digest())?;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, expired_session_cookie(&state));
    Ok(response)
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct EndSessions {
    oauth_tokens: bool,
}

/// `DELETE /api/v1/users/{id}/sessions[?oauthTokens=true]`: what an admin does for a
/// compromised account. Every session ends on every node; with `oauthTokens`, the person's
/// refresh tokens are revoked as well (access tokens, self-contained, run out on their own).
async fn close_users_sessions(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    axum::extract::Query(q): axum::extract::Query<EndSessions>,
) -> Result<StatusCode, ApiError> {
    let user = id.clone();
    let ended = state
        .blocking(move |s| {
            end_user_sessions(s.store.as_ref(), Timestamp::now(), &user, q.oauth_tokens)
        })
        .await??;
    if !ended {
        return Err(ApiError::NotFound(format!("{id} (User)")));
    }
    state.flush().await?;
    Ok(StatusCode::NO_CONTENT)
}
