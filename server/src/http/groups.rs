//! Groups admin API (`SSWS`): CRUD and members, Okta's paths and shapes. `profile.mfaEnrollment`
//! (`NONE | OPTIONAL | REQUIRED`) is a Portcullis extension: the strictest of org and groups
//! applies at sign-in.

use super::AppState;
use super::error::ApiError;
use super::extract::{Admin, OktaJson};
use super::pagination::Page;
use crate::clock::Timestamp;
use crate::directory::groups::{self, Group, GroupInput, GroupMfa};
use crate::directory::search::listing_expr;
use crate::directory::users::find_user;
use crate::directory::{DirectoryError, FieldError};
use crate::paths;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::GROUPS, get(list).post(create))
        .route(paths::GROUP, get(read).put(replace).delete(remove))
        .route(paths::GROUP_USERS, get(members))
        .route(paths::GROUP_USER, put(add_member).delete(remove_member))
        .route(paths::USER_GROUPS, get(groups_of_user))
}

pub(super) fn view(g: &Group, base: &str) -> Value {
    let mut profile = json!({ "name": g.name, "description": g.description });
    if let Some(level) = g.mfa_enrollment {
        profile["mfaEnrollment"] = json!(level);
    }
    json!({
        "id": g.id,
        "created": g.created.iso8601(),
        "lastUpdated": g.last_updated.iso8601(),
        "lastMembershipUpdated": g.last_membership_updated.iso8601(),
        "objectClass": ["okta:user_group"],
        "type": "OKTA_GROUP",
        "profile": profile,
        "_links": {
            "self": { "href": paths::href(base, paths::GROUP, &g.id) },
            "users": { "href": paths::href(base, paths::GROUP_USERS, &g.id) },
        },
    })
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ProfileIn {
    name: String,
    description: String,
    mfa_enrollment: Option<String>,
}

#[derive(Deserialize)]
struct GroupBody {
    #[serde(default)]
    profile: ProfileIn,
}

fn input(body: GroupBody) -> Result<GroupInput, ApiError> {
    let mfa = match body.profile.mfa_enrollment.as_deref() {
        None => None,
        Some(v) => Some(GroupMfa::parse(v).ok_or_else(|| {
            ApiError::Validation(vec![FieldError::new(
                "mfaEnrollment",
                "must be NONE, OPTIONAL or REQUIRED",
            )])
        })?),
    };
    Ok(GroupInput {
        name: body.profile.name,
        description: body.profile.description,
        mfa_enrollment: mfa,
    })
}

fn not_found(id: &str, kind: &str) -> ApiError {
    ApiError::NotFound(format!("{id} ({kind})"))
}

async fn create(
    _: Admin,
    State(state): State<AppState>,
    OktaJson(body): OktaJson<GroupBody>,
) -> Result<Json<Value>, ApiError> {
    let group = groups::create(state.store.as_ref(), Timestamp::now(), input(body)?)?;
    state.flush().await?;
    Ok(Json(view(&group, &state.base_url)))
}

/// `GET /api/v1/groups?q=` (a prefix of the name).
async fn list(
    _: Admin,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let page = Page::parse(&query)?;
    let given = |name: &str| super::pagination::param(&query, name);
    let q = given("q").map(str::to_lowercase);
    let expr = listing_expr(given("search"), given("filter"), &groups::SEARCH_NAMES)?;
    let mut all = state.store.groups()?;
    all.retain(|g| {
        q.as_deref()
            .is_none_or(|q| g.name.to_lowercase().starts_with(q))
            && expr.as_ref().is_none_or(|(e, exact)| {
                e.holds(&|a| groups::attribute(g, a), &groups::SEARCH_NAMES, *exact)
            })
    });
    let (groups, next) = page.slice(all, |g| g.id.as_str());
    let items = groups.iter().map(|g| view(g, &state.base_url)).collect();
    Ok(page.respond(
        &state.base_url,
        paths::GROUPS,
        &query,
        items,
        next.as_deref(),
    ))
}

async fn read(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let group = state
        .store
        .group(&id)?
        .ok_or_else(|| not_found(&id, "UserGroup"))?;
    Ok(Json(view(&group, &state.base_url)))
}

async fn replace(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    OktaJson(body): OktaJson<GroupBody>,
) -> Result<Json<Value>, ApiError> {
    match groups::update(state.store.as_ref(), Timestamp::now(), &id, input(body)?) {
        Ok(group) => {
            state.flush().await?;
            Ok(Json(view(&group, &state.base_url)))
        }
        Err(DirectoryError::NotFound) => Err(not_found(&id, "UserGroup")),
        Err(e) => Err(e.into()),
    }
}

async fn remove(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.store.delete_group(&id)? {
        return Err(not_found(&id, "UserGroup"));
    }
    state.flush().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn members(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    state
        .store
        .group(&id)?
        .ok_or_else(|| not_found(&id, "UserGroup"))?;
    let mut users = Vec::new();
    for uid in state.store.members_of(&id)? {
        if let Some(u) = state.store.user(&uid)? {
            users.push(super::users::user_view(&u, &state.base_url));
        }
    }
    Ok(Json(Value::Array(users)))
}

async fn membership(
    state: &AppState,
    gid: &str,
    uid: &str,
    member: bool,
) -> Result<StatusCode, ApiError> {
    match groups::set_member(state.store.as_ref(), Timestamp::now(), gid, uid, member) {
        Ok(()) => {
            state.flush().await?;
            Ok(StatusCode::NO_CONTENT)
        }
        Err(DirectoryError::NotFound) => {
            Err(not_found(&format!("{gid}/{uid}"), "UserGroup or User"))
        }
        Err(e) => Err(e.into()),
    }
}

async fn add_member(
    _: Admin,
    State(state): State<AppState>,
    Path((gid, uid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    membership(&state, &gid, &uid, true).await
}

async fn remove_member(
    _: Admin,
    State(state): State<AppState>,
    Path((gid, uid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    membership(&state, &gid, &uid, false).await
}

async fn groups_of_user(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = find_user(state.store.as_ref(), &id).map_err(|e| match e {
        DirectoryError::NotFound => not_found(&id, "User"),
        other => other.into(),
    })?;
    let mut out = Vec::new();
    for gid in state.store.groups_of(&user.id)? {
        if let Some(g) = state.store.group(&gid)? {
            out.push(view(&g, &state.base_url));
        }
    }
    Ok(Json(Value::Array(out)))
}
