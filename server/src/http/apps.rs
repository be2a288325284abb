//! Apps admin API (`SSWS`): apps and their user and group assignments, Okta's paths and shapes.

use super::AppState;
use super::error::ApiError;
use super::extract::{Admin, OktaJson};
use super::pagination::Page;
use crate::clock::Timestamp;
use crate::directory::apps::{self, App, AppStatus};
use crate::directory::search::listing_expr;
use crate::oauth::clients::{Client, Registration};
use crate::paths;
use axum::extract::Query;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::APPS, get(list).post(create))
        .route(paths::APP, get(read).put(replace).delete(remove))
        .route(paths::APP_ACTIVATE, post(activate))
        .route(paths::APP_DEACTIVATE, post(deactivate))
        .route(paths::APP_USERS, get(users).post(assign_user))
        .route(paths::APP_USER, get(user_assignment).delete(unassign_user))
        .route(paths::APP_GROUPS, get(groups))
        .route(
            paths::APP_GROUP,
            axum::routing::put(assign_group).delete(unassign_group),
        )
}

/// An app as Okta shows it; an OIDC app with its `settings.oauthClient` and
/// `credentials.oauthClient` (the secret only when it was just made: only its digest is kept).
fn view(a: &App, base: &str, client: Option<&Client>, secret: Option<&str>) -> Value {
    let mut v = json!({
        "id": a.id,
        "name": a.name,
        "label": a.label,
        "status": a.status,
        "signOnMode": a.sign_on_mode,
        "created": a.created.iso8601(),
        "lastUpdated": a.last_updated.iso8601(),
        "_links": {
            "self": { "href": paths::href(base, paths::APP, &a.id) },
            "users": { "href": paths::href(base, paths::APP_USERS, &a.id) },
            "groups": { "href": paths::href(base, paths::APP_GROUPS, &a.id) },
        },
    });
    if let Some(client) = client {
        let mut credentials = json!({
            "client_id": client.client_id,
            "token_endpoint_auth_method": client.token_endpoint_auth_method,
        });
        if let Some(secret) = secret {
            credentials["client_secret"] = json!(secret);
        }
        v["credentials"] = json!({ "oauthClient": credentials });
        v["settings"] = json!({ "oauthClient": {
            "redirect_uris": client.redirect_uris,
            "post_logout_redirect_uris": client.post_logout_redirect_uris,
            "grant_types": client.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
            "response_types": client.response_types,
            "application_type": client.application_type,
            "consent_method": client.consent_method,
            "require_pushed_authorization_requests": client.require_pushed_authorization_requests,
        }});
    }
    v
}

/// An app and, for an OIDC app, its OAuth client.
fn app_view(state: &AppState, a: &App) -> Result<Value, ApiError> {
    let client = state.store.client(&a.id)?;
    Ok(view(a, &state.base_url, client.as_ref(), None))
}

fn assignment_view(base: &str, app_id: &str, user_id: &str) -> Value {
    json!({
        "id": user_id,
        "scope": "USER",
        "status": "ACTIVE",
        "_links": {
            "app": { "href": paths::href(base, paths::APP, app_id) },
            "user": { "href": paths::href(base, paths::USER, user_id) },
        },
    })
}

fn app_or_404(state: &AppState, id: &str) -> Result<App, ApiError> {
    state
        .store
        .app(id)?
        .ok_or_else(|| ApiError::NotFound(format!("{id} (App)")))
}

#[derive(Deserialize, Default, Clone)]
#[serde(default, rename_all = "camelCase")]
struct CreateApp {
    name: String,
    label: String,
    sign_on_mode: String,
    credentials: AppCredentials,
    settings: AppSettings,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default, rename_all = "camelCase")]
struct AppCredentials {
    oauth_client: Option<OAuthCredentials>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct OAuthCredentials {
    token_endpoint_auth_method: Option<crate::oauth::clients::AuthMethod>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default, rename_all = "camelCase")]
struct AppSettings {
    oauth_client: Option<OAuthSettings>,
}

/// Okta's `settings.oauthClient` of an OIDC app.
#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct OAuthSettings {
    redirect_uris: Vec<String>,
    post_logout_redirect_uris: Vec<String>,
    grant_types: Vec<String>,
    response_types: Vec<String>,
    application_type: Option<crate::oauth::clients::ApplicationType>,
    consent_method: Option<crate::oauth::clients::ConsentMethod>,
    require_pushed_authorization_requests: Option<bool>,
}

/// The OAuth client registration an app body describes, if it is an OIDC app.
fn registration(body: &CreateApp) -> Option<Registration> {
    let s = body.settings.oauth_client.clone()?;
    Some(Registration {
        client_name: Some(body.label.clone()),
        application_type: s.application_type,
        token_endpoint_auth_method: body
            .credentials
            .oauth_client
            .as_ref()
            .and_then(|c| c.token_endpoint_auth_method),
        redirect_uris: s.redirect_uris,
        post_logout_redirect_uris: s.post_logout_redirect_uris,
        grant_types: s.grant_types,
        response_types: s.response_types,
        consent_method: s.consent_method,
        require_pushed_authorization_requests: s.require_pushed_authorization_requests,
        ..Default::default()
    })
}

/// Okta's PUT: the app's label (and, for an OIDC app, its whole `settings.oauthClient`)
/// replaced; its id, status, assignments and the client's secret stay.
async fn replace(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    OktaJson(body): OktaJson<CreateApp>,
) -> Result<Json<Value>, ApiError> {
    app_or_404(&state, &id)?;
    if body.label.trim().is_empty() {
        return Err(ApiError::Validation(vec![
            crate::directory::FieldError::new("label", "The field cannot be left blank"),
        ]));
    }
    let now = Timestamp::now();
    let old = state.store.client(&id)?;
    let replaced = match (old, registration(&body)) {
        (Some(old), Some(registration)) => Some(
            crate::oauth::clients::replace(&old, registration, now)
                .map_err(ApiError::Validation)?,
        ),
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            return Err(ApiError::Validation(vec![
                crate::directory::FieldError::new(
                    "settings",
                    "settings.oauthClient: an OIDC app keeps it and another app cannot gain it",
                ),
            ]));
        }
    };
    if let Some((client, _)) = &replaced {
        state.store.put_client(client)?;
    }
    // Only the label is this request's: a lifecycle change made meanwhile stays.
    let app = state
        .store
        .modify_app(&id, &mut |a| {
            a.label.clone_from(&body.label);
            a.last_updated = now;
            true
        })?
        .ok_or_else(|| ApiError::NotFound(format!("{id} (App)")))?;
    state.flush().await?;
    let (client, secret) = match &replaced {
        Some((c, s)) => (Some(c), s.as_deref()),
        None => (None, None),
    };
    Ok(Json(view(&app, &state.base_url, client, secret)))
}

/// Creates an app. An OIDC app (`settings.oauthClient`) is also an OAuth client whose
/// `client_id` is the app's id; only people assigned to it (directly or through a group) may
/// sign in to it. The secret of a confidential client is in this response only.
async fn create(
    _: Admin,
    State(state): State<AppState>,
    OktaJson(body): OktaJson<CreateApp>,
) -> Result<Json<Value>, ApiError> {
    let now = Timestamp::now();
    let id = crate::crypto::new_id("0oa");
    let client = match registration(&body) {
        Some(registration) => Some(
            crate::oauth::clients::register(registration, id.clone(), now)
                .map_err(ApiError::Validation)?,
        ),
        None => None,
    };
    let name = if body.name.is_empty() && client.is_some() {
        "oidc_client".to_owned()
    } else {
        body.name
    };
    let app = apps::create_with_id(
        state.store.as_ref(),
        now,
        id,
        &name,
        &body.label,
        &body.sign_on_mode,
    )?;
    let out = match &client {
        Some((client, secret)) => {
            state.store.put_client(client)?;
            view(&app, &state.base_url, Some(client), secret.as_deref())
        }
        None => view(&app, &state.base_url, None, None),
    };
    state.flush().await?;
    Ok(Json(out))
}

async fn list(
    _: Admin,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let page = Page::parse(&query)?;
    // Okta's `search`, `filter` (`status eq "ACTIVE"`, `name eq "oidc_client"`) and `q` (a
    // prefix of the name or label).
    let given = |name: &str| super::pagination::param(&query, name);
    let expr = listing_expr(given("search"), given("filter"), &apps::SEARCH_NAMES)?;
    let q = given("q").map(str::to_lowercase);
    let all = state.store.apps()?;
    // Who the apps are assigned to, for the `user.id` and `group.id` the expression names.
    let assigned = match &expr {
        Some((e, _)) => apps::Assignments::of(state.store.as_ref(), e, &all)?,
        None => apps::Assignments::default(),
    };
    let matching: Vec<App> = all
        .into_iter()
        .filter(|a| {
            expr.as_ref().is_none_or(|(e, exact)| {
                e.holds(
                    &|name| assigned.attribute(a, name),
                    &apps::SEARCH_NAMES,
                    *exact,
                )
            })
        })
        .filter(|a| {
            q.as_deref().is_none_or(|q| {
                a.label.to_lowercase().starts_with(q) || a.name.to_lowercase().starts_with(q)
            })
        })
        .collect();
    let (apps, next) = page.slice(matching, |a| a.id.as_str());
    let items = apps
        .iter()
        .map(|a| app_view(&state, a))
        .collect::<Result<_, _>>()?;
    Ok(page.respond(&state.base_url, paths::APPS, &query, items, next.as_deref()))
}

async fn read(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(app_view(&state, &app_or_404(&state, &id)?)?))
}

async fn set_status(
    state: &AppState,
    id: &str,
    status: AppStatus,
) -> Result<Json<Value>, ApiError> {
    let now = Timestamp::now();
    let changed = state.store.modify_app(id, &mut |a| {
        a.status = status;
        a.last_updated = now;
        true
    })?;
    if changed.is_none() {
        return Err(ApiError::NotFound(format!("{id} (App)")));
    }
    state.flush().await?;
    Ok(Json(json!({})))
}

async fn activate(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_status(&state, &id, AppStatus::Active).await
}

async fn deactivate(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_status(&state, &id, AppStatus::Inactive).await
}

/// Okta deletes only inactive apps.
async fn remove(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let app = app_or_404(&state, &id)?;
    if app.status == AppStatus::Active {
        return Err(ApiError::Validation(vec![
            crate::directory::FieldError::new("status", "Deactivate the app before deleting it"),
        ]));
    }
    // An OIDC app's client goes first: without its app record it would serve everyone.
    state.store.delete_client(&id)?;
    state.store.delete_app(&id)?;
    state.flush().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn users(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app_or_404(&state, &id)?;
    let users = state.store.app_users(&id)?;
    Ok(Json(Value::Array(
        users
            .iter()
            .map(|u| assignment_view(&state.base_url, &id, u))
            .collect(),
    )))
}

#[derive(Deserialize)]
struct AssignUser {
    id: String,
}

/// `POST /apps/{id}/users {id}`: assigns the user to the app.
async fn assign_user(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    OktaJson(body): OktaJson<AssignUser>,
) -> Result<Json<Value>, ApiError> {
    app_or_404(&state, &id)?;
    state
        .store
        .user(&body.id)?
        .ok_or_else(|| ApiError::NotFound(format!("{} (User)", body.id)))?;
    state.store.assign_app_user(&id, &body.id, true)?;
    state.flush().await?;
    Ok(Json(assignment_view(&state.base_url, &id, &body.id)))
}

async fn user_assignment(
    _: Admin,
    State(state): State<AppState>,
    Path((id, uid)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    app_or_404(&state, &id)?;
    if !state.store.app_user_assigned(&id, &uid)? {
        return Err(ApiError::NotFound(format!("{uid} (AppUser)")));
    }
    Ok(Json(assignment_view(&state.base_url, &id, &uid)))
}

async fn unassign_user(
    _: Admin,
    State(state): State<AppState>,
    Path((id, uid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app_or_404(&state, &id)?;
    state.store.assign_app_user(&id, &uid, false)?;
    state.flush().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn groups(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    app_or_404(&state, &id)?;
    let groups = state.store.app_groups(&id)?;
    Ok(Json(Value::Array(
        groups
            .iter()
            .map(|g| json!({ "id": g, "priority": 0, "_links": { "group": { "href": paths::href(&state.base_url, paths::GROUP, g) } } }))
            .collect(),
    )))
}

async fn assign_group(
    _: Admin,
    State(state): State<AppState>,
    Path((id, gid)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    app_or_404(&state, &id)?;
    state
        .store
        .group(&gid)?
        .ok_or_else(|| ApiError::NotFound(format!("{gid} (UserGroup)")))?;
    state.store.assign_app_group(&id, &gid, true)?;
    state.flush().await?;
    Ok(Json(json!({ "id": gid, "priority": 0 })))
}

async fn unassign_group(
    _: Admin,
    State(state): State<AppState>,
    Path((id, gid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    app_or_404(&state, &id)?;
    state.store.assign_app_group(&id, &gid, false)?;
    state.flush().await?;
    Ok(StatusCode::NO_CONTENT)
}
