//! Users admin API (`SSWS` token): create, read, unlock — Okta's paths and shapes.

use super::AppState;
use super::error::ApiError;
use super::extract::{Admin, OktaJson};
use crate::clock::Timestamp;
use crate::directory::users::{
    Activation, NewUser, create_user, expire_password as expire, find_user, unlock_user,
};
use crate::directory::{DirectoryError, FieldError, Profile, User};
use crate::paths;
use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::USERS, post(create))
        .route(paths::USER, get(read))
        .route(paths::USER_UNLOCK, post(unlock))
        .route(paths::USER_EXPIRE_PASSWORD, post(expire_password))
}

/// The user as Okta's API shows it; built field by field so the password hash stays home.
fn user_view(u: &User, base: &str) -> Value {
    let iso = |t: Option<Timestamp>| t.map(Timestamp::iso8601);
    let mut credentials = json!({ "provider": { "type": "OKTA", "name": "OKTA" } });
    if u.password.is_some() {
        credentials["password"] = json!({});
    }
    json!({
        "id": u.id,
        "status": u.status,
        "created": u.created.iso8601(),
        "activated": iso(u.activated),
        "statusChanged": iso(u.status_changed),
        "lastLogin": iso(u.last_login),
        "lastUpdated": u.last_updated.iso8601(),
        "passwordChanged": iso(u.password_changed),
        "profile": {
            "firstName": u.profile.first_name,
            "lastName": u.profile.last_name,
            "email": u.profile.email,
            "login": u.profile.login,
            "mobilePhone": null,
        },
        "credentials": credentials,
        "_links": { "self": { "href": paths::href(base, paths::USER, &u.id) } },
    })
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ProfileIn {
    login: String,
    email: String,
    first_name: String,
    last_name: String,
}

#[derive(Deserialize)]
struct PasswordIn {
    value: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct CredentialsIn {
    password: Option<PasswordIn>,
}

#[derive(Deserialize)]
struct CreateUser {
    #[serde(default)]
    profile: ProfileIn,
    #[serde(default)]
    credentials: CredentialsIn,
}

fn activation(query: &HashMap<String, String>) -> Result<Activation, ApiError> {
    match query.get("activate").map(String::as_str) {
        None | Some("true") => Ok(Activation::Activate),
        Some("false") => Ok(Activation::Stage),
        Some(_) => Err(ApiError::Validation(vec![FieldError::new(
            "activate",
            "must be true or false",
        )])),
    }
}

async fn create(
    _: Admin,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    OktaJson(body): OktaJson<CreateUser>,
) -> Result<Json<Value>, ApiError> {
    let activation = activation(&query)?;
    let new = NewUser {
        profile: Profile {
            login: body.profile.login,
            email: body.profile.email,
            first_name: body.profile.first_name,
            last_name: body.profile.last_name,
        },
        password: body.credentials.password.map(|p| p.value),
    };
    let now = Timestamp::now();
    let user = state
        .blocking(move |s| {
            let user = create_user(s.store.as_ref(), &s.hasher, &s.policy, now, new, activation)?;
            s.store.flush()?;
            Ok::<_, DirectoryError>(user)
        })
        .await??;
    Ok(Json(user_view(&user, &state.base_url)))
}

async fn read(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match find_user(state.store.as_ref(), &id) {
        Ok(user) => Ok(Json(user_view(&user, &state.base_url))),
        Err(DirectoryError::NotFound) => Err(ApiError::NotFound(format!("{id} (User)"))),
        Err(e) => Err(e.into()),
    }
}

async fn unlock(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let now = Timestamp::now();
    match unlock_user(state.store.as_ref(), now, &id) {
        Ok(_) => {
            state.blocking(|s| s.store.flush()).await??;
            Ok(Json(json!({})))
        }
        Err(DirectoryError::NotFound) => Err(ApiError::NotFound(format!("{id} (User)"))),
        Err(e) => Err(e.into()),
    }
}

/// Forces a password change at the user's next sign-in (PASSWORD_EXPIRED).
async fn expire_password(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    match expire(state.store.as_ref(), Timestamp::now(), &id) {
        Ok(user) => {
            state.blocking(|s| s.store.flush()).await??;
            Ok(Json(user_view(&user, &state.base_url)))
        }
        Err(DirectoryError::NotFound) => Err(ApiError::NotFound(format!("{id} (User)"))),
        Err(e) => Err(e.into()),
    }
}
