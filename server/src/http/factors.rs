//! Factors admin API (`SSWS`): list, enroll, activate and remove a user's factors, and
//! `reset_factors` for someone who lost their device — Okta's paths and shapes.

use super::AppState;
use super::authn::view::{factor_base, link, totp_activation};
use super::error::ApiError;
use super::extract::{Admin, OktaJson};
use crate::authn::enroll::{self, EnrollRequest};
use crate::authn::factors::{Factor, FactorStatus};
use crate::clock::Timestamp;
use crate::directory::User;
use crate::directory::users::find_user;
use crate::paths;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use proto::authn::{FactorInfo, FactorLinks};
use serde::Deserialize;
use serde_json::{Value, json};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::USER_FACTORS, get(list).post(create))
        .route(paths::USER_FACTOR, get(read).delete(remove))
        .route(paths::USER_FACTOR_ACTIVATE, post(activate))
        .route(paths::USER_RESET_FACTORS, post(reset))
}

fn view(base: &str, f: &Factor, user: &User) -> FactorInfo {
    let self_path = paths::USER_FACTOR
        .replace("{id}", &user.id)
        .replace("{fid}", &f.id);
    let mut links = FactorLinks {
        self_link: Some(link(base, &self_path, "GET")),
        user: Some(link(base, &paths::USER.replace("{id}", &user.id), "GET")),
        ..FactorLinks::default()
    };
    let mut embedded = None;
    if f.status == FactorStatus::PendingActivation {
        let activate = paths::USER_FACTOR_ACTIVATE
            .replace("{id}", &user.id)
            .replace("{fid}", &f.id);
        links.activate = Some(link(base, &activate, "POST"));
        embedded = totp_activation(base, f, user);
    }
    FactorInfo {
        status: Some(f.status.as_str().to_owned()),
        created: Some(f.created.iso8601()),
        last_updated: Some(f.last_updated.iso8601()),
        embedded,
        links: Some(links),
        ..factor_base(f, user)
    }
}

fn user_or_404(state: &AppState, id: &str) -> Result<User, ApiError> {
    find_user(state.store.as_ref(), id).map_err(|e| match e {
        crate::directory::DirectoryError::NotFound => ApiError::NotFound(format!("{id} (User)")),
        other => other.into(),
    })
}

fn factor_or_404(state: &AppState, user: &User, fid: &str) -> Result<Factor, ApiError> {
    state
        .store
        .factor(&user.id, fid)?
        .ok_or_else(|| ApiError::NotFound(format!("{fid} (UserFactor)")))
}

async fn list(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Vec<FactorInfo>>, ApiError> {
    let user = user_or_404(&state, &id)?;
    let all = state.store.factors(&user.id)?;
    Ok(Json(
        all.iter()
            .map(|f| view(&state.base_url, f, &user))
            .collect(),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ProfileIn {
    question: Option<String>,
    answer: Option<String>,
    email: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateFactor {
    #[serde(default)]
    factor_type: String,
    #[serde(default)]
    provider: String,
    #[serde(default)]
    profile: ProfileIn,
}

/// Enrolls a factor for the user; TOTP and email come back PENDING_ACTIVATION.
async fn create(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    OktaJson(body): OktaJson<CreateFactor>,
) -> Result<Json<FactorInfo>, ApiError> {
    let user = user_or_404(&state, &id)?;
    let req = EnrollRequest {
        factor_type: body.factor_type,
        provider: body.provider,
        question: body.profile.question,
        answer: body.profile.answer,
        email: body.profile.email,
        // A passkey is made in a browser, during sign-in: not offered here.
        rp: None,
    };
    let now = Timestamp::now();
    let for_user = user.clone();
    let enrolled = state
        .blocking(move |s| enroll::enroll(&s.ctx(now), &for_user, &req))
        .await??;
    state
        .mailer
        .send_later(enrolled.email.into_iter().collect());
    state.flush().await?;
    Ok(Json(view(&state.base_url, &enrolled.factor, &user)))
}

async fn read(
    _: Admin,
    State(state): State<AppState>,
    Path((id, fid)): Path<(String, String)>,
) -> Result<Json<FactorInfo>, ApiError> {
    let user = user_or_404(&state, &id)?;
    let factor = factor_or_404(&state, &user, &fid)?;
    Ok(Json(view(&state.base_url, &factor, &user)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ActivateBody {
    pass_code: Option<String>,
}

async fn activate(
    _: Admin,
    State(state): State<AppState>,
    Path((id, fid)): Path<(String, String)>,
    OktaJson(body): OktaJson<ActivateBody>,
) -> Result<Json<FactorInfo>, ApiError> {
    let user = user_or_404(&state, &id)?;
    let code = body.pass_code.unwrap_or_default();
    let now = Timestamp::now();
    let user_id = user.id.clone();
    let factor = state
        .blocking(move |s| enroll::activate(&s.ctx(now), &user_id, &fid, &code))
        .await??;
    state.flush().await?;
    Ok(Json(view(&state.base_url, &factor, &user)))
}

async fn remove(
    _: Admin,
    State(state): State<AppState>,
    Path((id, fid)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let user = user_or_404(&state, &id)?;
    if !state.store.delete_factor(&user.id, &fid)? {
        return Err(ApiError::NotFound(format!("{fid} (UserFactor)")));
    }
    state.flush().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Removes every factor, so the person enrolls again at the next sign-in.
async fn reset(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = user_or_404(&state, &id)?;
    for f in state.store.factors(&user.id)? {
        state.store.delete_factor(&user.id, &f.id)?;
    }
    state.flush().await?;
    Ok(Json(json!({})))
}
