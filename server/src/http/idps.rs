//! Identity providers admin API (`SSWS` token), Okta's shape: `/api/v1/idps` with its
//! lifecycle. The client secret is taken, sealed at rest and never returned.

use super::AppState;
use super::error::ApiError;
use super::extract::{Admin, OktaJson};
use super::federation;
use super::pagination::{Page, param};
use crate::clock::Timestamp;
use crate::directory::FieldError;
use crate::directory::idps::{
    self, IdentityProvider, IdpAction, IdpSpec, IdpStatus, IdpType, MatchType,
};
use crate::paths;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::IDPS, get(list).post(create))
        .route(paths::IDP, get(read).put(replace).delete(remove))
        .route(paths::IDP_ACTIVATE, post(activate))
        .route(paths::IDP_DEACTIVATE, post(deactivate))
}

fn type_name(kind: IdpType) -> &'static str {
    match kind {
        IdpType::Oidc => "OIDC",
        IdpType::Google => "GOOGLE",
        IdpType::Microsoft => "MICROSOFT",
        IdpType::Github => "GITHUB",
    }
}

fn action_name(action: IdpAction) -> &'static str {
    match action {
        IdpAction::Auto => "AUTO",
        IdpAction::Disabled => "DISABLED",
    }
}

fn endpoint(url: Option<&str>, binding: &str) -> Value {
    url.map_or(Value::Null, |u| json!({ "url": u, "binding": binding }))
}

fn view(i: &IdentityProvider, base: &str) -> Value {
    let lifecycle = match i.status {
        IdpStatus::Active => ("deactivate", paths::IDP_DEACTIVATE),
        IdpStatus::Inactive => ("activate", paths::IDP_ACTIVATE),
    };
    let mut endpoints = serde_json::Map::new();
    for (name, url, binding) in [
        (
            "authorization",
            Some(i.authorization_url.as_str()),
            "HTTP-REDIRECT",
        ),
        ("token", Some(i.token_url.as_str()), "HTTP-POST"),
        ("userInfo", i.userinfo_url.as_deref(), "HTTP-REDIRECT"),
        ("jwks", i.jwks_url.as_deref(), "HTTP-REDIRECT"),
    ] {
        if url.is_some() {
            endpoints.insert(name.into(), endpoint(url, binding));
        }
    }
    let groups = if i.provisioning_groups.is_empty() {
        json!({ "action": "NONE" })
    } else {
        json!({ "action": "ASSIGN", "assignments": i.provisioning_groups })
    };
    let match_type = match i.match_type {
        MatchType::Username => "USERNAME",
        MatchType::Email => "EMAIL",
        MatchType::UsernameOrEmail => "USERNAME_OR_EMAIL",
    };
    json!({
        "id": i.id,
        "type": type_name(i.kind),
        "name": i.name,
        "status": i.status,
        "issuerMode": "ORG_URL",
        "created": i.created.iso8601(),
        "lastUpdated": i.last_updated.iso8601(),
        "protocol": {
            "type": if i.kind == IdpType::Github { "OAUTH2" } else { "OIDC" },
            "endpoints": endpoints,
            "scopes": i.scopes,
            "issuer": i.issuer.as_deref().map(|u| json!({ "url": u })),
            "credentials": { "client": {
                "client_id": i.client_id,
                "pkce_required": i.pkce_required,
            } },
        },
        "policy": {
            "provisioning": {
                "action": action_name(i.provisioning),
                "profileMaster": false,
                "groups": groups,
                "conditions": {
                    "deprovisioned": { "action": "NONE" },
                    "suspended": { "action": "NONE" },
                },
            },
            "accountLink": { "action": action_name(i.account_link), "filter": null },
            "subject": {
                "userNameTemplate": { "template": i.username_template },
                "filter": null,
                "matchType": match_type,
                "matchAttribute": null,
            },
            "maxClockSkew": i.max_clock_skew_ms,
        },
        "_links": {
            "self": {
                "href": paths::href(base, paths::IDP, &i.id),
                "hints": { "allow": ["GET", "PUT", "DELETE"] },
            },
            lifecycle.0: {
                "href": paths::href(base, lifecycle.1, &i.id),
                "hints": { "allow": ["POST"] },
            },
            "authorize": {
                "href": format!(
                    "{base}{}?idp={}&client_id={{clientId}}&response_type={{responseType}}&response_mode={{responseMode}}&scope={{scopes}}&redirect_uri={{redirectUri}}&state={{state}}&nonce={{nonce}}",
                    paths::OAUTH_AUTHORIZE, i.id
                ),
                "templated": true,
                "hints": { "allow": ["GET"] },
            },
            "clientRedirectUri": {
                "href": format!("{base}{}", paths::IDP_CALLBACK),
                "hints": { "allow": ["POST"] },
            },
        },
    })
}

/// Reads Okta's JSON into a spec, refusing unknown types and actions by field.
fn spec(body: &Value) -> Result<IdpSpec, ApiError> {
    let at = |path: &[&str]| path.iter().try_fold(body, |v, k| v.get(k));
    let text = |path: &[&str]| at(path).and_then(Value::as_str).map(str::to_owned);
    let mut errs = Vec::new();
    let kind = match text(&["type"]).as_deref() {
        Some("OIDC") => IdpType::Oidc,
        Some("GOOGLE") => IdpType::Google,
        Some("MICROSOFT") => IdpType::Microsoft,
        Some("GITHUB") => IdpType::Github,
        other => {
            errs.push(FieldError::new(
                "type",
                format!(
                    "Unsupported type {}: use OIDC, GOOGLE, MICROSOFT or GITHUB",
                    other.unwrap_or("(none)")
                ),
            ));
            IdpType::Oidc
        }
    };
    let mut action = |path: &[&str], field: &'static str| match text(path).as_deref() {
        None | Some("AUTO") => IdpAction::Auto,
        Some("DISABLED") => IdpAction::Disabled,
        Some(other) => {
            errs.push(FieldError::new(
                field,
                format!("Unsupported action {other}: use AUTO or DISABLED"),
            ));
            IdpAction::Auto
        }
    };
    let provisioning = action(
        &["policy", "provisioning", "action"],
        "policy.provisioning.action",
    );
    let account_link = action(
        &["policy", "accountLink", "action"],
        "policy.accountLink.action",
    );
    let match_type = match text(&["policy", "subject", "matchType"]).as_deref() {
        None | Some("USERNAME") => MatchType::Username,
        Some("EMAIL") => MatchType::Email,
        Some("USERNAME_OR_EMAIL") => MatchType::UsernameOrEmail,
        Some(other) => {
            errs.push(FieldError::new(
                "policy.subject.matchType",
                format!("Unsupported matchType {other}: use USERNAME, EMAIL or USERNAME_OR_EMAIL"),
            ));
            MatchType::Username
        }
    };
    let strings = |path: &[&str]| -> Vec<String> {
        at(path)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    let client = |key: &str| text(&["protocol", "credentials", "client", key]);
    // Okta's docs print it as the string "true"; its field table says boolean.
    let pkce_required = match at(&["protocol", "credentials", "client", "pkce_required"]) {
        Some(Value::Bool(b)) => *b,
        Some(Value::String(s)) => s == "true",
        _ => true,
    };
    let max_clock_skew_ms = at(&["policy", "maxClockSkew"])
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if !errs.is_empty() {
        return Err(ApiError::Validation(errs));
    }
    let endpoint = |name: &str| text(&["protocol", "endpoints", name, "url"]);
    Ok(IdpSpec {
        kind,
        name: text(&["name"]).unwrap_or_default(),
        issuer: text(&["protocol", "issuer", "url"]),
        authorization_url: endpoint("authorization"),
        token_url: endpoint("token"),
        userinfo_url: endpoint("userInfo"),
        jwks_url: endpoint("jwks"),
        scopes: strings(&["protocol", "scopes"]),
        client_id: client("client_id").unwrap_or_default(),
        client_secret: client("client_secret"),
        pkce_required,
        provisioning,
        provisioning_groups: strings(&["policy", "provisioning", "groups", "assignments"]),
        account_link,
        username_template: text(&["policy", "subject", "userNameTemplate", "template"]),
        match_type,
        max_clock_skew_ms,
    })
}

/// OpenID Connect Discovery: a generic provider given only its issuer gets the endpoints it
/// does not name from `{issuer}/.well-known/openid-configuration`, read once when the admin
/// saves it (so a sign-in never waits on it). The document must name the same issuer.
async fn discover(spec: &mut IdpSpec) -> Result<(), ApiError> {
    let missing = spec.authorization_url.is_none()
        || spec.token_url.is_none()
        || spec.jwks_url.is_none()
        || spec.userinfo_url.is_none();
    let Some(issuer) = spec
        .issuer
        .clone()
        .filter(|_| spec.kind == IdpType::Oidc && missing)
    else {
        return Ok(());
    };
    let refused =
        |why: String| ApiError::Validation(vec![FieldError::new("protocol.issuer.url", why)]);
    if !idps::endpoint_ok(&issuer) {
        // The checks that follow say what is wrong with it.
        return Ok(());
    }
    let url = format!(
        "{}/.well-known/openid-configuration",
        issuer.trim_end_matches('/')
    );
    let sent = federation::http()
        .get(&url)
        .header("Accept", "application/json")
        .send()
        .await
        .map_err(|e| {
            refused(format!(
                "The provider's discovery document could not be read: {e}"
            ))
        })?;
    let doc = federation::json_of(sent, "the discovery document")
        .await
        .map_err(|e| {
            refused(format!(
                "The provider's discovery document could not be read: {}",
                e.0
            ))
        })?;
    if doc.get("issuer").and_then(Value::as_str) != Some(issuer.as_str()) {
        return Err(refused(format!(
            "The discovery document at {url} is for another issuer"
        )));
    }
    let named = |key: &str| doc.get(key).and_then(Value::as_str).map(str::to_owned);
    spec.authorization_url = spec
        .authorization_url
        .take()
        .or_else(|| named("authorization_endpoint"));
    spec.token_url = spec.token_url.take().or_else(|| named("token_endpoint"));
    spec.jwks_url = spec.jwks_url.take().or_else(|| named("jwks_uri"));
    spec.userinfo_url = spec
        .userinfo_url
        .take()
        .or_else(|| named("userinfo_endpoint"));
    Ok(())
}

fn not_found(id: &str) -> ApiError {
    ApiError::NotFound(format!("{id} (IdentityProvider)"))
}

async fn create(
    _: Admin,
    State(state): State<AppState>,
    OktaJson(body): OktaJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let mut spec = spec(&body)?;
    discover(&mut spec).await?;
    let created = state
        .blocking(move |s| idps::create(s.store.as_ref(), Timestamp::now(), spec))
        .await??;
    state.flush().await?;
    Ok(Json(view(&created, &state.base_url)))
}

async fn list(
    _: Admin,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let page = Page::parse(&query)?;
    let q = param(&query, "q").map(str::to_lowercase);
    let kind = param(&query, "type").map(str::to_owned);
    let mut all = state.blocking(|s| s.store.idps()).await??;
    all.retain(|i| {
        q.as_deref()
            .is_none_or(|q| i.name.to_lowercase().starts_with(q))
            && kind.as_deref().is_none_or(|k| type_name(i.kind) == k)
    });
    let (items, next) = page.slice(all, |i| i.id.as_str());
    let items = items.iter().map(|i| view(i, &state.base_url)).collect();
    Ok(page.respond(&state.base_url, paths::IDPS, &query, items, next.as_deref()))
}

async fn read(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let found = state
        .blocking({
            let id = id.clone();
            move |s| s.store.idp(&id)
        })
        .await??;
    found
        .map(|i| Json(view(&i, &state.base_url)))
        .ok_or_else(|| not_found(&id))
}

/// Okta's PUT: the whole provider replaced; the id, status and creation time stay, and so
/// does the secret when none is sent.
async fn replace(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    OktaJson(body): OktaJson<Value>,
) -> Result<Json<Value>, ApiError> {
    let mut spec = spec(&body)?;
    discover(&mut spec).await?;
    let replaced = state
        .blocking(move |s| {
            idps::replace(s.store.as_ref(), Timestamp::now(), &id, spec)
                .map(|i| i.ok_or_else(|| not_found(&id)))
        })
        .await???;
    state.flush().await?;
    Ok(Json(view(&replaced, &state.base_url)))
}

async fn set_status(
    state: &AppState,
    id: String,
    status: IdpStatus,
) -> Result<Json<Value>, ApiError> {
    let changed = state
        .blocking(move |s| {
            idps::set_status(s.store.as_ref(), Timestamp::now(), &id, status)
                .map(|i| i.ok_or_else(|| not_found(&id)))
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
    set_status(&state, id, IdpStatus::Active).await
}

async fn deactivate(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    set_status(&state, id, IdpStatus::Inactive).await
}

async fn remove(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let deleted = state
        .blocking({
            let id = id.clone();
            move |s| s.store.delete_idp(&id)
        })
        .await??;
    if deleted {
        state.flush().await?;
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(not_found(&id))
    }
}
