//! Admin roles (`/api/v1/users/{id}/roles`) and named API tokens (`/api/v1/api-tokens`), in
//! Okta's shapes. Both are a super admin's to change; the decisions are in
//! `directory::admins`.

use super::AppState;
use super::error::ApiError;
use super::extract::{Admin, OktaJson, SuperAdmin, admin_authority};
use crate::clock::Timestamp;
use crate::directory::DirectoryError;
use crate::directory::admins::{TOKEN_WINDOW_NAME, assign_role};
use crate::directory::users::find_user;
use crate::paths;
use crate::records::directory::{ApiToken, RoleAssignment};
use crate::store::StoreError;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::USER_ROLES, get(list_roles).post(assign))
        .route(paths::USER_ROLE, get(read_role).delete(unassign))
        .route(paths::API_TOKENS, get(list_tokens))
        .route(
            paths::API_TOKEN_CURRENT,
            axum::routing::delete(revoke_current),
        )
        .route(paths::API_TOKEN, get(read_token).delete(revoke))
}

fn role_view(r: &RoleAssignment, base: &str) -> Value {
    let created = r.created.iso8601();
    json!({
        "id": r.id,
        "label": r.role.label(),
        "type": r.role.as_str(),
        "status": "ACTIVE",
        "created": created,
        "lastUpdated": created,
        "assignmentType": "USER",
        "_links": { "assignee": { "href": paths::href(base, paths::USER, &r.user_id) } },
    })
}

fn token_view(t: &ApiToken, base: &str) -> Value {
    json!({
        "id": t.id,
        "name": t.name,
        "userId": t.user_id,
        "clientName": t.client_name,
        "tokenWindow": TOKEN_WINDOW_NAME,
        "network": { "connection": "ANYWHERE" },
        "created": t.created.iso8601(),
        "lastUpdated": t.last_updated.iso8601(),
        "lastUsed": t.last_used.map(Timestamp::iso8601),
        "expiresAt": t.expires_at.iso8601(),
        "_links": {
            "self": {
                "href": paths::href(base, paths::API_TOKEN, &t.id),
                "hints": { "allow": ["GET", "DELETE"] },
            },
            "user": { "href": paths::href(base, paths::USER, &t.user_id) },
        },
    })
}

/// The user of the path (id or login), or Okta's 404 naming it.
fn user_id(state: &AppState, id: &str) -> Result<String, ApiError> {
    match find_user(state.store.as_ref(), id) {
        Ok(u) => Ok(u.id),
        Err(DirectoryError::NotFound) => Err(ApiError::NotFound(format!("{id} (User)"))),
        Err(e) => Err(e.into()),
    }
}

async fn list_roles(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = user_id(&state, &id)?;
    let roles = state.store.roles(&user)?;
    Ok(Json(Value::Array(
        roles
            .iter()
            .map(|r| role_view(r, &state.base_url))
            .collect(),
    )))
}

#[derive(Deserialize)]
struct AssignBody {
    #[serde(rename = "type")]
    role: String,
}

/// `POST /api/v1/users/{id}/roles {"type": "ORG_ADMIN"}` → 201, or 409 E0000090 when held.
async fn assign(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    OktaJson(body): OktaJson<AssignBody>,
) -> Result<Response, ApiError> {
    let user = user_id(&state, &id)?;
    let assigned = state
        .blocking(move |s| assign_role(s.store.as_ref(), &user, &body.role, Timestamp::now()))
        .await?;
    match assigned {
        Ok(r) => Ok((StatusCode::CREATED, Json(role_view(&r, &state.base_url))).into_response()),
        Err(DirectoryError::Store(StoreError::Conflict)) => Err(ApiError::RoleAssigned),
        Err(DirectoryError::NotFound) => Err(ApiError::NotFound(format!("{id} (User)"))),
        Err(e) => Err(e.into()),
    }
}

async fn read_role(
    _: Admin,
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let user = user_id(&state, &id)?;
    state
        .store
        .roles(&user)?
        .iter()
        .find(|r| r.id == rid)
        .map(|r| Json(role_view(r, &state.base_url)))
        .ok_or_else(|| ApiError::NotFound(format!("{rid} (Role assignment)")))
}

async fn unassign(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let user = user_id(&state, &id)?;
    let removed = state
        .blocking(move |s| s.store.delete_role(&user, &rid))
        .await??;
    if removed {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("role assignment".into()))
    }
}

async fn list_tokens(
    _: SuperAdmin,
    State(state): State<AppState>,
) -> Result<Json<Value>, ApiError> {
    let tokens = state.store.api_tokens()?;
    Ok(Json(Value::Array(
        tokens
            .iter()
            .map(|t| token_view(t, &state.base_url))
            .collect(),
    )))
}

async fn read_token(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .store
        .api_token(&id)?
        .map(|t| Json(token_view(&t, &state.base_url)))
        .ok_or_else(|| ApiError::NotFound(format!("{id} (ApiToken)")))
}

async fn revoke(
    _: SuperAdmin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let gone = state
        .blocking(move |s| s.store.delete_api_token(&id))
        .await??;
    if gone {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound("api token".into()))
    }
}

/// `DELETE /api/v1/api-tokens/current`: a named token revokes itself, whatever its role.
async fn revoke_current(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let authority = admin_authority(&headers, &state)?.ok_or(ApiError::InvalidToken)?;
    // The bootstrap token lives in the settings: it is changed there, not here.
    let id = authority.token_id.ok_or(ApiError::Forbidden)?;
    state
        .blocking(move |s| s.store.delete_api_token(&id))
        .await??;
    Ok(StatusCode::NO_CONTENT)
}
