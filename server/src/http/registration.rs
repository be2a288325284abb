//! Self-service registration's API, in the shape Okta's classic widget (`features.registration`)
//! and the Portcullis widget use: `GET /api/v1/registration/form` describes the form (Okta's
//! `policyId` and `profileSchema`), `POST /api/v1/registration/{policyId}/register` takes a
//! `userProfile`. Both are 404 unless the org allows registration. The answer to a sign-up is
//! the same whether or not the address has an account (the emails differ; see
//! `authn::registration`), and no `activationToken` is returned: the address is proven by the
//! emailed link, never by the caller.

use super::AppState;
use super::error::ApiError;
use super::extract::{ClientAddr, OktaJson};
use super::rate_limit::Attempt;
use crate::authn::registration::{self, SignUp};
use crate::clock::Timestamp;
use crate::directory::schema;
use crate::directory::{DirectoryError, FieldError};
use crate::paths;
use app::RegisterField;
use app::components::register::label_of;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Map, Value, json};

/// The one registration policy's id (Okta's orgs have one per user profile policy).
const POLICY_ID: &str = "rstDefaultRegistration";

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::REGISTRATION_FORM, get(form))
        .route(paths::REGISTRATION_REGISTER, post(register))
}

/// The attributes the form asks for beside the email and names, as the schema types them
/// (shared with the hosted page).
pub(super) async fn form_fields(state: &AppState) -> Result<Vec<RegisterField>, ApiError> {
    let names = state.registration.attributes.clone();
    let schema = state
        .blocking(move |s| schema::load(s.store.as_ref()))
        .await??;
    Ok(names
        .into_iter()
        .map(|name| {
            let custom = schema.custom.get(&name);
            let title = custom
                .map(|a| a.title.clone())
                .filter(|t| !t.trim().is_empty())
                .unwrap_or_else(|| label_of(&name));
            RegisterField {
                title,
                kind: custom.map_or("string", |a| a.scalar().as_str()).to_owned(),
                required: custom.is_some_and(|a| a.required),
                name,
            }
        })
        .collect())
}

fn enabled(state: &AppState) -> Result<(), ApiError> {
    if state.registration.enabled {
        Ok(())
    } else {
        Err(ApiError::NotFound("registration".into()))
    }
}

async fn form(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    enabled(&state)?;
    let extra = form_fields(&state).await?;
    let mut properties = Map::new();
    properties.insert(
        "email".into(),
        json!({ "type": "string", "format": "email", "title": "Email", "maxLength": 100 }),
    );
    properties.insert(
        "firstName".into(),
        json!({ "type": "string", "title": "First name", "maxLength": 50 }),
    );
    properties.insert(
        "lastName".into(),
        json!({ "type": "string", "title": "Last name", "maxLength": 50 }),
    );
    let mut required = vec!["email".to_owned(), "firstName".into(), "lastName".into()];
    let mut order = required.clone();
    for f in extra {
        properties.insert(f.name.clone(), json!({ "type": f.kind, "title": f.title }));
        if f.required {
            required.push(f.name.clone());
        }
        order.push(f.name);
    }
    Ok(Json(json!({
        "policyId": POLICY_ID,
        "profileSchema": { "properties": properties, "required": required, "fieldOrder": order },
    })))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RegisterBody {
    #[serde(default)]
    user_profile: Map<String, Value>,
    /// Okta's widget sends it; an emailed link has nowhere to take it.
    #[serde(default)]
    #[allow(dead_code)]
    relay_state: Option<Value>,
}

async fn register(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    Path(policy_id): Path<String>,
    OktaJson(body): OktaJson<RegisterBody>,
) -> Result<Response, ApiError> {
    enabled(&state)?;
    if policy_id != POLICY_ID {
        return Err(ApiError::NotFound(format!("{policy_id} (Policy)")));
    }
    let mut profile = body.user_profile;
    let mut text = |name: &str| match profile.remove(name) {
        Some(Value::String(s)) => Ok(s),
        None | Some(Value::Null) => Ok(String::new()),
        Some(_) => Err(FieldError::new(name.to_owned(), "must be text")),
    };
    let (email, first_name, last_name) = (text("email"), text("firstName"), text("lastName"));
    let settings = state.registration.clone();
    let attributes = settings
        .attributes
        .iter()
        .filter_map(|a| Some((a.clone(), profile.remove(a)?)))
        .filter(|(_, v)| !v.is_null())
        .collect();
    let mut errors: Vec<FieldError> = [&email, &first_name, &last_name]
        .into_iter()
        .filter_map(|r| r.as_ref().err().cloned())
        .collect();
    errors.extend(profile.keys().map(|k| {
        let why = if k == "password" {
            "is chosen from the emailed link, not sent with the sign-up"
        } else {
            "is not a field of the registration form"
        };
        FieldError::new(k.clone(), why)
    }));
    if !errors.is_empty() {
        return Err(ApiError::Validation(errors));
    }
    let sign_up = SignUp {
        email: email.unwrap_or_default(),
        first_name: first_name.unwrap_or_default(),
        last_name: last_name.unwrap_or_default(),
        attributes,
    };
    let now = Timestamp::now();
    let (login, from) = (sign_up.email.clone(), addr);
    let quota = state
        .rate_limit(move |l| l.check_user(Attempt::Recovery, &login, &from, now))
        .await?;
    if !quota.allowed {
        return Ok(quota.exceeded());
    }
    let done = state
        .blocking(move |s| registration::register(&s.ctx(now), &settings, &s.base_url, sign_up))
        .await?;
    match done {
        Ok(signed_up) => {
            state.mailer.send_later(vec![signed_up.email]);
            Ok(Json(json!({})).into_response())
        }
        // The profile's own problems; `login` is the email the person typed.
        Err(DirectoryError::Invalid(errs)) => Err(ApiError::Validation(
            errs.into_iter()
                .map(|mut e| {
                    if e.field == "login" {
                        e.field = "email".into();
                    }
                    e
                })
                .collect(),
        )),
        Err(e) => Err(e.into()),
    }
}
