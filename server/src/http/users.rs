//! Users admin API (`SSWS` token): create, read, unlock — Okta's paths and shapes.

use super::AppState;
use super::error::ApiError;
use super::extract::{Admin, OktaJson};
use super::pagination::Page;
use crate::authn::recovery::{RECOVERY_TOKEN_TTL, issue_token, link_email};
use crate::authn::transaction::RecoveryType;
use crate::clock::Timestamp;
use crate::directory::lifecycle::{
    Listing, ProfileUpdate, Transition, UserQuery, delete, list as list_users, transition, update,
};
use crate::directory::search::{Dialect, Query as SearchQuery};
use crate::directory::users::{
    Activation, NewUser, create_user, expire_password as expire, find_user, unlock_user,
};
use crate::directory::{DirectoryError, FieldError, Profile, User, UserStatus};
use crate::paths;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::USERS, post(create).get(list))
        .route(
            paths::USER,
            get(read)
                .post(update_partial)
                .put(update_full)
                .delete(remove),
        )
        .route(paths::USER_ACTIVATE, post(activate))
        .route(paths::USER_DEACTIVATE, post(deactivate))
        .route(paths::USER_SUSPEND, post(suspend))
        .route(paths::USER_UNSUSPEND, post(unsuspend))
        .route(paths::USER_RESET_PASSWORD, post(reset_password))
        .route(paths::USER_UNLOCK, post(unlock))
        .route(paths::USER_EXPIRE_PASSWORD, post(expire_password))
}

/// The user as Okta's API shows it; built field by field so the password hash stays home.
pub(super) fn user_view(u: &User, base: &str) -> Value {
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
        "type": { "id": crate::store::user_index::DEFAULT_USER_TYPE },
        "profile": profile_view(&u.profile),
        "credentials": credentials,
        "_links": { "self": { "href": paths::href(base, paths::USER, &u.id) } },
    })
}

/// The profile as Okta shows it: the four required attributes and every other one that is
/// set (`mobilePhone` as `null` when not, as Okta does).
fn profile_view(p: &Profile) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("mobilePhone".into(), Value::Null);
    for (k, v) in &p.attributes {
        m.insert(k.clone(), v.clone());
    }
    m.insert("firstName".into(), json!(p.first_name));
    m.insert("lastName".into(), json!(p.last_name));
    m.insert("email".into(), json!(p.email));
    m.insert("login".into(), json!(p.login));
    Value::Object(m)
}

/// The profile attributes beyond the four named ones, as given: `null` clears one, any other
/// value sets it (the core checks it against the schema, so nothing is dropped unseen).
fn attributes_in(
    other: serde_json::Map<String, Value>,
) -> std::collections::BTreeMap<String, Option<Value>> {
    other
        .into_iter()
        .map(|(name, value)| (name, Some(value).filter(|v| !v.is_null())))
        .collect()
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
struct ProfileIn {
    login: String,
    email: String,
    first_name: String,
    last_name: String,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
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
    // Set attributes go to the core as given (it trims them and refuses undefined names).
    let attributes = attributes_in(body.profile.other)
        .into_iter()
        .filter_map(|(name, value)| Some((name, value?)))
        .collect();
    let new = NewUser {
        profile: Profile {
            login: body.profile.login,
            email: body.profile.email,
            first_name: body.profile.first_name,
            last_name: body.profile.last_name,
            attributes,
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
            state.flush().await?;
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
            state.flush().await?;
            Ok(Json(user_view(&user, &state.base_url)))
        }
        Err(DirectoryError::NotFound) => Err(ApiError::NotFound(format!("{id} (User)"))),
        Err(e) => Err(e.into()),
    }
}

/// Runs a lifecycle transition and answers with the user (or Okta's error for the status).
async fn lifecycle(state: &AppState, id: &str, t: Transition) -> Result<User, ApiError> {
    match transition(state.store.as_ref(), Timestamp::now(), id, t) {
        Ok(user) => {
            state.flush().await?;
            Ok(user)
        }
        Err(DirectoryError::NotFound) => Err(ApiError::NotFound(format!("{id} (User)"))),
        Err(e) => Err(e.into()),
    }
}

fn send_email(query: &HashMap<String, String>) -> bool {
    query.get("sendEmail").is_none_or(|v| v != "false")
}

/// Activates a staged user. Without a password they become PROVISIONED with an activation
/// token: emailed (`sendEmail=true`, the default) or returned (`sendEmail=false`).
async fn activate(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let user = lifecycle(&state, &id, Transition::Activate).await?;
    if user.status != UserStatus::Provisioned {
        return Ok(Json(json!({})));
    }
    let token = issue(&state, &user, RecoveryType::Activation).await?;
    if send_email(&query) {
        state.mailer.send_later(vec![link_email(
            &user,
            RecoveryType::Activation,
            &state.base_url,
            &token,
        )]);
        return Ok(Json(json!({})));
    }
    Ok(Json(json!({
        "activationUrl": format!("{}/signin/activate/{token}", state.base_url),
        "activationToken": token,
    })))
}

/// Puts the user into RECOVERY with a reset link: emailed, or returned (`sendEmail=false`).
async fn reset_password(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let user = lifecycle(&state, &id, Transition::ResetPassword).await?;
    let token = issue(&state, &user, RecoveryType::Password).await?;
    if send_email(&query) {
        state.mailer.send_later(vec![link_email(
            &user,
            RecoveryType::Password,
            &state.base_url,
            &token,
        )]);
        return Ok(Json(json!({})));
    }
    Ok(Json(json!({
        "resetPasswordUrl": format!("{}/signin/reset-password/{token}", state.base_url),
    })))
}

async fn issue(state: &AppState, user: &User, kind: RecoveryType) -> Result<String, ApiError> {
    let now = Timestamp::now();
    let user = user.clone();
    let ttl = match kind {
        RecoveryType::Activation => std::time::Duration::from_secs(7 * 86_400),
        _ => RECOVERY_TOKEN_TTL,
    };
    let token = state
        .blocking(move |s| issue_token(&s.ctx(now), &user, kind, ttl))
        .await??;
    Ok(token.expose().to_owned())
}

async fn deactivate(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    lifecycle(&state, &id, Transition::Deactivate).await?;
    Ok(Json(json!({})))
}

async fn suspend(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    lifecycle(&state, &id, Transition::Suspend).await?;
    Ok(Json(json!({})))
}

async fn unsuspend(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    lifecycle(&state, &id, Transition::Unsuspend).await?;
    Ok(Json(json!({})))
}

/// Okta's two-step delete: a live user is deactivated, a deactivated one deleted.
async fn remove(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    match delete(state.store.as_ref(), Timestamp::now(), &id) {
        Ok(_) => {
            state.flush().await?;
            Ok(StatusCode::NO_CONTENT)
        }
        Err(DirectoryError::NotFound) => Err(ApiError::NotFound(format!("{id} (User)"))),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UpdateUser {
    profile: UpdateProfile,
    credentials: CredentialsIn,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct UpdateProfile {
    login: Option<String>,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    #[serde(flatten)]
    other: serde_json::Map<String, Value>,
}

async fn update_partial(
    admin: Admin,
    state: State<AppState>,
    id: Path<String>,
    body: OktaJson<UpdateUser>,
) -> Result<Json<Value>, ApiError> {
    apply_update(admin, state, id, body, false).await
}

async fn update_full(
    admin: Admin,
    state: State<AppState>,
    id: Path<String>,
    body: OktaJson<UpdateUser>,
) -> Result<Json<Value>, ApiError> {
    apply_update(admin, state, id, body, true).await
}

/// `POST /users/{id}` sets the fields given; `PUT` replaces the profile.
async fn apply_update(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    OktaJson(body): OktaJson<UpdateUser>,
    replace: bool,
) -> Result<Json<Value>, ApiError> {
    let change = ProfileUpdate {
        login: body.profile.login,
        email: body.profile.email,
        first_name: body.profile.first_name,
        last_name: body.profile.last_name,
        attributes: attributes_in(body.profile.other),
        password: body.credentials.password.map(|p| p.value),
    };
    let now = Timestamp::now();
    let target = id.clone();
    let result = state
        .blocking(move |s| {
            let user = update(
                s.store.as_ref(),
                &s.hasher,
                &s.policy,
                now,
                &target,
                change,
                replace,
            )?;
            s.store.flush()?;
            Ok::<_, DirectoryError>(user)
        })
        .await?;
    match result {
        Ok(user) => Ok(Json(user_view(&user, &state.base_url))),
        Err(DirectoryError::NotFound) => Err(ApiError::NotFound(format!("{id} (User)"))),
        Err(e) => Err(e.into()),
    }
}

/// `GET /api/v1/users?search=&sortBy=&sortOrder=` or `?filter=` or `?q=`, with `limit` and
/// `after`, paged with `Link` headers.
async fn list(
    _: Admin,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let page = Page::parse(&query)?;
    let given = |name: &str| super::pagination::param(&query, name);
    let listing = match (given("search"), given("filter"), given("q")) {
        (Some(search), None, None) => {
            let custom = crate::directory::schema::load(state.store.as_ref())?.custom;
            Listing::Search(SearchQuery::parse_declared(
                search,
                Dialect::Search,
                given("sortBy"),
                given("sortOrder"),
                &custom,
            )?)
        }
        (None, Some(filter), None) => {
            Listing::Search(SearchQuery::parse(filter, Dialect::Filter, None, None)?)
        }
        (None, None, Some(q)) => Listing::Prefix(q.to_owned()),
        (None, None, None) => Listing::All,
        _ => {
            return Err(ApiError::InvalidSearch(
                "Give one of search, filter and q, not several".into(),
            ));
        }
    };
    let q = UserQuery {
        listing,
        after: page.after.clone(),
        limit: page.limit,
    };
    let (users, next) = list_users(state.store.as_ref(), &q)?;
    let items = users
        .iter()
        .map(|u| user_view(u, &state.base_url))
        .collect();
    Ok(page.respond(
        &state.base_url,
        paths::USERS,
        &query,
        items,
        next.as_deref(),
    ))
}
