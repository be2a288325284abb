//! Trusted origins admin API (`SSWS` token), Okta's shape.

use super::AppState;
use super::error::ApiError;
use super::extract::{Admin, OktaJson};
use crate::clock::Timestamp;
use crate::directory::trusted_origins::{self, OriginStatus};
use crate::directory::{FieldError, OriginScope, TrustedOrigin};
use crate::paths;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::TRUSTED_ORIGINS, get(list).post(create))
        .route(paths::TRUSTED_ORIGIN, get(read).put(replace).delete(remove))
        .route(paths::TRUSTED_ORIGIN_ACTIVATE, post(activate))
        .route(paths::TRUSTED_ORIGIN_DEACTIVATE, post(deactivate))
}

fn view(t: &TrustedOrigin, base: &str) -> Value {
    let lifecycle = match t.status {
        OriginStatus::Active => ("deactivate", paths::TRUSTED_ORIGIN_DEACTIVATE),
        OriginStatus::Inactive => ("activate", paths::TRUSTED_ORIGIN_ACTIVATE),
    };
    json!({
        "id": t.id,
        "name": t.name,
        "origin": t.origin,
        "scopes": t.scopes.iter().map(|s| json!({ "type": s })).collect::<Vec<_>>(),
        "status": t.status,
        "created": t.created.iso8601(),
        "lastUpdated": t.last_updated.iso8601(),
        "_links": {
            "self": {
                "href": paths::href(base, paths::TRUSTED_ORIGIN, &t.id),
                "hints": { "allow": ["GET", "PUT", "DELETE"] },
            },
            lifecycle.0: {
                "href": paths::href(base, lifecycle.1, &t.id),
                "hints": { "allow": ["POST"] },
            },
        },
    })
}

#[derive(Deserialize)]
struct ScopeIn {
    #[serde(rename = "type")]
    kind: String,
}

#[derive(Deserialize)]
struct CreateOrigin {
    #[serde(default)]
    name: String,
    #[serde(default)]
    origin: String,
    #[serde(default)]
    scopes: Vec<ScopeIn>,
}

fn parse_scope(s: &ScopeIn) -> Result<OriginScope, ApiError> {
    match s.kind.as_str() {
        "CORS" => Ok(OriginScope::Cors),
        "REDIRECT" => Ok(OriginScope::Redirect),
        "IFRAME_EMBED" => Ok(OriginScope::IframeEmbed),
        other => Err(ApiError::Validation(vec![FieldError::new(
            "scopes",
            format!("Unknown scope type `{other}`: use CORS, REDIRECT or IFRAME_EMBED"),
        )])),
    }
}

async fn create(
    _: Admin,
    State(state): State<AppState>,
    OktaJson(body): OktaJson<CreateOrigin>,
) -> Result<Json<Value>, ApiError> {
    let scopes = body
        .scopes
        .iter()
        .map(parse_scope)
        .collect::<Result<Vec<_>, _>>()?;
    let created = trusted_origins::create(
        state.store.as_ref(),
        Timestamp::now(),
        &body.name,
        &body.origin,
        scopes,
    )?;
    state.flush().await?;
    Ok(Json(view(&created, &state.base_url)))
}

async fn list(_: Admin, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    // Inactive origins are listed too, with their status, as Okta lists them.
    let all = state.store.trusted_origins()?;
    Ok(Json(Value::Array(
        all.iter().map(|t| view(t, &state.base_url)).collect(),
    )))
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("{id} (TrustedOrigin)"))
}

/// Okta's PUT: the whole origin replaced (name, origin, scopes); status and id stay.
async fn replace(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    OktaJson(body): OktaJson<CreateOrigin>,
) -> Result<Json<Value>, ApiError> {
    let scopes = body
        .scopes
        .iter()
        .map(parse_scope)
        .collect::<Result<Vec<_>, _>>()?;
    let replaced = state
        .blocking(move |s| {
            trusted_origins::replace(
                s.store.as_ref(),
                Timestamp::now(),
                &id,
                &body.name,
                &body.origin,
                scopes,
            )
            .map(|t| t.ok_or_else(|| not_found(&id)))
        })
        .await???;
    state.flush().await?;
    Ok(Json(view(&replaced, &state.base_url)))
}

async fn set_status(
    state: &AppState,
    id: String,
    status: OriginStatus,
) -> Result<Json<Value>, ApiError> {
    let changed = state
        .blocking(move |s| {
            trusted_origins::set_status(s.store.as_ref(), Timestamp::now(), &id, status)
                .map(|t| t.ok_or_else(|| not_found(&id)))
        })
        .await???;
    state.flush().await?;
    Ok(Json(view(&changed, &state.base_url)))
}

async fn activate(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_status(&state, id, OriginStatus::Active).await
}

async fn deactivate(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_status(&state, id, OriginStatus::Inactive).await
}

async fn read(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .store
        .trusted_origin(&id)?
        .map(|t| Json(view(&t, &state.base_url)))
        .ok_or_else(|| ApiError::NotFound(format!("{id} (TrustedOrigin)")))
}

async fn remove(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if state.store.delete_trusted_origin(&id)? {
        state.flush().await?;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound(format!("{id} (TrustedOrigin)")))
    }
}
