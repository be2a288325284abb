//! Authorization servers' HTTP surface: discovery and JWKS (org and custom), the extractor that
//! picks the server from the path, and client registration.

use super::AppState;
use super::error::ApiError;
use super::extract::{Admin, OktaJson};
use crate::clock::Timestamp;
use crate::crypto::new_id;
use crate::oauth::clients::{self, Client, Registration};
use crate::oauth::issuer::Issuer;
use crate::paths;
use axum::extract::{FromRequestParts, Path, RawPathParams, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{Value, json};
use std::sync::Arc;

/// Discovery and keys: public and cacheable (the caller adds `cors::public()`).
pub(super) fn public_routes() -> Router<AppState> {
    Router::new()
        .route(paths::OIDC_DISCOVERY, get(discovery))
        .route(paths::OAUTH_DISCOVERY, get(discovery))
        .route(paths::OAUTH_KEYS, get(keys))
        .route(paths::AS_OIDC_DISCOVERY, get(discovery))
        .route(paths::AS_OAUTH_DISCOVERY, get(discovery))
        .route(paths::AS_KEYS, get(keys))
}

pub(super) fn admin_routes() -> Router<AppState> {
    Router::new()
        .route(paths::OAUTH_CLIENTS, get(list_clients).post(register))
        .route(
            paths::OAUTH_CLIENT,
            get(read_client).put(update_client).delete(delete_client),
        )
        .route(paths::OAUTH_CLIENT_NEW_SECRET, post(new_secret))
}

/// The authorization server a request's path names: the org server for `/oauth2/v1/*`, custom
/// server `{server}` for `/oauth2/{server}/v1/*`. Unknown and inactive servers are 404s.
pub(super) struct Server(pub Arc<Issuer>);

impl FromRequestParts<AppState> for Server {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        // No `{server}` in the route: the org server. A `{server}` that does not decode (not
        // UTF-8) names no server at all.
        let id = match RawPathParams::from_request_parts(parts, state).await {
            Ok(p) => p
                .iter()
                .find(|(k, _)| *k == "server")
                .map(|(_, v)| v.to_owned()),
            Err(_) => {
                return Err(ApiError::NotFound("(AuthorizationServer)".into()).into_response());
            }
        };
        match state.issuer(id.as_deref()).await {
            Ok(Some(issuer)) => Ok(Server(Arc::new(issuer))),
            // A person's browser sent here (authorize, logout) gets a page, not JSON.
            Ok(None) if is_navigation(parts.uri.path()) => {
                let mut page = super::pages::base_page(
                    state,
                    &parts.headers,
                    &axum::http::Uri::from_static("/"),
                    app::View::Error,
                );
                page.problem = Some(app::Problem::UnknownServer);
                Err(
                    super::pages::render(state, "/error", page, axum::http::StatusCode::NOT_FOUND)
                        .await,
                )
            }
            Ok(None) => Err(ApiError::NotFound(format!(
                "{} (AuthorizationServer)",
                id.unwrap_or_default()
            ))
            .into_response()),
            Err(e) => Err(e.into_response()),
        }
    }
}

/// The endpoints a browser navigates to (the rest are called by scripts and servers).
fn is_navigation(path: &str) -> bool {
    path.ends_with("/v1/authorize") || path.ends_with("/v1/logout")
}

fn public_json(body: Value, max_age: u32) -> Response {
    let mut r = Json(body).into_response();
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&format!("max-age={max_age}, must-revalidate")) {
        h.insert(header::CACHE_CONTROL, v);
    }
    r
}

/// The metadata document of `issuer`; registration is always the org's.
pub(super) fn metadata(base: &str, issuer: &Issuer) -> Value {
    let at = |name: &str| issuer.endpoint(name);
    let mut claims = vec![
        "iss",
        "ver",
        "sub",
        "aud",
        "iat",
        "exp",
        "jti",
        "auth_time",
        "amr",
        "acr",
        "idp",
        "nonce",
        "name",
        "given_name",
        "family_name",
        "email",
        "email_verified",
        "preferred_username",
        "locale",
        "zoneinfo",
        "updated_at",
        "at_hash",
        "c_hash",
    ];
    if issuer.custom.is_none() {
        claims.push("groups");
    }
    let mut claims: Vec<String> = claims.into_iter().map(str::to_owned).collect();
    if let Some(server) = &issuer.custom {
        for c in &server.claims {
            if !claims.contains(&c.name) {
                claims.push(c.name.clone());
            }
        }
    }
    json!({
        "issuer": issuer.url,
        "authorization_endpoint": at("authorize"),
        "token_endpoint": at("token"),
        "userinfo_endpoint": at("userinfo"),
        "registration_endpoint": format!("{base}{}", paths::OAUTH_CLIENTS),
        "jwks_uri": at("keys"),
        "introspection_endpoint": at("introspect"),
        "revocation_endpoint": at("revoke"),
        "end_session_endpoint": at("logout"),
        "pushed_authorization_request_endpoint": at("par"),
        "require_pushed_authorization_requests": false,
        "response_types_supported": ["code", "id_token", "code id_token", "code token", "id_token token", "code id_token token"],
        "response_modes_supported": ["query", "fragment", "form_post", "okta_post_message"],
        "grant_types_supported": ["authorization_code", "implicit", "refresh_token", "password", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [issuer.keys.signer().alg.as_str()],
        "scopes_supported": issuer.published_scopes(),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "client_secret_jwt", "private_key_jwt", "none"],
        "claims_supported": claims,
        "code_challenge_methods_supported": ["S256"],
        "authorization_response_iss_parameter_supported": true,
        "request_parameter_supported": false,
        // Only the `request_uri`s of pushed requests, not request objects fetched by URL.
        "request_uri_parameter_supported": false,
        "claims_parameter_supported": false,
        "acr_values_supported": crate::oauth::tokens::ACR_VALUES,
    })
}

async fn discovery(State(state): State<AppState>, Server(issuer): Server) -> Response {
    public_json(metadata(&state.base_url, &issuer), 3600)
}

async fn keys(Server(issuer): Server) -> Response {
    // Short caching, so relying parties pick up a rotated key promptly.
    public_json(issuer.keys.jwks(), 300)
}

/// RFC 7591's response: the registered metadata (and the secret, when just created).
fn client_view(base: &str, c: &Client, secret: Option<&str>) -> Value {
    let mut v = json!({
        "client_id": c.client_id,
        "client_id_issued_at": c.created.millis() / 1000,
        "client_name": c.client_name,
        "application_type": c.application_type,
        "token_endpoint_auth_method": c.token_endpoint_auth_method,
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "grant_types": c.grant_types.iter().map(|g| g.as_str()).collect::<Vec<_>>(),
        "response_types": c.response_types,
        "consent_method": c.consent_method,
        "require_pushed_authorization_requests": c.require_pushed_authorization_requests,
        "_links": {
            "self": { "href": paths::href(base, paths::OAUTH_CLIENT, &c.client_id) },
            "newSecret": { "href": paths::href(base, paths::OAUTH_CLIENT_NEW_SECRET, &c.client_id) },
        },
    });
    if let Some(jwks) = &c.jwks {
        v["jwks"] = jwks.clone();
    }
    if let Some(s) = secret {
        v["client_secret"] = json!(s);
        v["client_secret_expires_at"] = json!(0);
    }
    v
}

fn registration_error(fields: Vec<crate::directory::FieldError>) -> Response {
    // RFC 7591 §3.2.2: errors in the OAuth format.
    let (error, field) = match fields.first() {
        Some(f) if f.field == "redirect_uris" => ("invalid_redirect_uri", f),
        Some(f) => ("invalid_client_metadata", f),
        None => return StatusCode::BAD_REQUEST.into_response(),
    };
    let description = fields
        .iter()
        .map(|f| format!("{}: {}", f.field, f.message))
        .collect::<Vec<_>>()
        .join("; ");
    let _ = field;
    super::oauth_error::OAuthError::new(StatusCode::BAD_REQUEST, error, description).into_response()
}

async fn register(
    _: Admin,
    State(state): State<AppState>,
    OktaJson(req): OktaJson<Registration>,
) -> Result<Response, ApiError> {
    let (client, secret) = match clients::register(req, new_id("0oa"), Timestamp::now()) {
        Ok(ok) => ok,
        Err(fields) => return Ok(registration_error(fields)),
    };
    state.store.put_client(&client)?;
    state.flush().await?;
    let mut r = (
        StatusCode::CREATED,
        Json(client_view(&state.base_url, &client, secret.as_deref())),
    )
        .into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

async fn list_clients(_: Admin, State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let all = state.store.clients()?;
    Ok(Json(Value::Array(
        all.iter()
            .map(|c| client_view(&state.base_url, c, None))
            .collect(),
    )))
}

fn client_or_404(state: &AppState, id: &str) -> Result<Client, ApiError> {
    state
        .store
        .client(id)?
        .ok_or_else(|| ApiError::NotFound(format!("{id} (Client)")))
}

async fn read_client(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(client_view(
        &state.base_url,
        &client_or_404(&state, &id)?,
        None,
    )))
}

/// Replaces the client's metadata (RFC 7592 §2.2): what the request leaves out takes its
/// registration default, except what a client is (its application type and how it
/// authenticates), which stays unless the request names another. The id and secret stay:
/// a `client_secret_jwt` client keeps the secret it signs with, and only a client that
/// newly needs one is given one (in this answer, once).
async fn update_client(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    OktaJson(req): OktaJson<Registration>,
) -> Result<Response, ApiError> {
    let old = client_or_404(&state, &id)?;
    if req
        .client_name
        .as_deref()
        .is_none_or(|n| n.trim().is_empty())
    {
        return Ok(registration_error(vec![crate::directory::FieldError::new(
            "client_name",
            "Replacing a client needs its whole metadata, client_name included",
        )]));
    }
    let (client, issued) = match clients::replace(&old, req, Timestamp::now()) {
        Ok(ok) => ok,
        Err(fields) => return Ok(registration_error(fields)),
    };
    state.store.put_client(&client)?;
    state.flush().await?;
    let mut r = Json(client_view(&state.base_url, &client, issued.as_deref())).into_response();
    if issued.is_some() {
        r.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    Ok(r)
}

async fn delete_client(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.store.delete_client(&id)? {
        return Err(ApiError::NotFound(format!("{id} (Client)")));
    }
    state.flush().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A new secret for a confidential client; the old one stops working at once.
async fn new_secret(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let mut client = client_or_404(&state, &id)?;
    let Some(secret) = clients::new_client_secret(&mut client, Timestamp::now()) else {
        return Ok(registration_error(vec![crate::directory::FieldError::new(
            "token_endpoint_auth_method",
            "A public client has no secret",
        )]));
    };
    state.store.put_client(&client)?;
    state.flush().await?;
    let mut r = Json(client_view(&state.base_url, &client, Some(&secret))).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}
