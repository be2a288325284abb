//! Authorization-server admin API (`SSWS`), Okta's paths and shapes: servers and their
//! lifecycle, signing keys and rotation, scopes, claims, access policies and rules, refresh
//! tokens per client; and users' consent grants.

use super::AppState;
use super::error::ApiError;
use super::extract::{Admin, OktaJson};
use crate::authz::edit::{self, PolicyInput, RuleInput};
use crate::authz::servers::{self, ClaimInput, ScopeInput};
use crate::authz::{
    AuthServer, Claim, ClaimType, Consent, GroupFilterType, MetadataPublish, Policy, Rule, Scope,
    Status, ValueType,
};
use crate::clock::Timestamp;
use crate::crypto::new_id;
use crate::directory::users::find_user;
use crate::directory::{DirectoryError, FieldError};
use crate::oauth::keys::{KeyRing, SigningAlg};
use crate::oauth::tokens::RefreshRecord;
use crate::paths;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(paths::AUTH_SERVERS, get(list_servers).post(create_server))
        .route(
            paths::AUTH_SERVER,
            get(read_server).put(replace_server).delete(delete_server),
        )
        .route(paths::AUTH_SERVER_ACTIVATE, post(activate_server))
        .route(paths::AUTH_SERVER_DEACTIVATE, post(deactivate_server))
        .route(paths::AUTH_SERVER_KEYS, get(list_keys))
        .route(paths::AUTH_SERVER_ROTATE, post(rotate_keys))
        .merge(items::<Scope>(
            paths::AUTH_SERVER_SCOPES,
            paths::AUTH_SERVER_SCOPE,
        ))
        .merge(items::<Claim>(
            paths::AUTH_SERVER_CLAIMS,
            paths::AUTH_SERVER_CLAIM,
        ))
        .merge(items::<Policy>(
            paths::AUTH_SERVER_POLICIES,
            paths::AUTH_SERVER_POLICY,
        ))
        .route(paths::AUTH_SERVER_POLICY_ACTIVATE, post(activate_policy))
        .route(
            paths::AUTH_SERVER_POLICY_DEACTIVATE,
            post(deactivate_policy),
        )
        .merge(items::<Rule>(
            paths::AUTH_SERVER_RULES,
            paths::AUTH_SERVER_RULE,
        ))
        .route(paths::AUTH_SERVER_RULE_ACTIVATE, post(activate_rule))
        .route(paths::AUTH_SERVER_RULE_DEACTIVATE, post(deactivate_rule))
        .route(
            paths::AUTH_SERVER_CLIENT_TOKENS,
            get(list_tokens).delete(revoke_tokens),
        )
        .route(
            paths::AUTH_SERVER_CLIENT_TOKEN,
            get(read_token).delete(revoke_token),
        )
        .route(paths::USER_GRANTS, get(list_grants).delete(revoke_grants))
        .route(paths::USER_GRANT, get(read_grant).delete(revoke_grant))
}

fn not_found(id: &str, kind: &str) -> ApiError {
    ApiError::NotFound(format!("{id} ({kind})"))
}

/// A change to server `id`: 404 names the server when it is the server that is missing,
/// `item` (e.g. `0ps1 (Policy)`) when the change reports `NotFound`.
async fn change<T: Send + 'static>(
    state: &AppState,
    id: &str,
    item: &str,
    f: impl FnMut(&mut AuthServer) -> Result<T, DirectoryError> + Send + 'static,
) -> Result<(T, AuthServer), ApiError> {
    if state.store.auth_server(id)?.is_none() {
        return Err(not_found(id, "AuthorizationServer"));
    }
    let owned = id.to_owned();
    let result = state
        .blocking(move |s| servers::update(s.store.as_ref(), &owned, Timestamp::now(), f))
        .await?;
    match result {
        Ok(out) => {
            state.flush().await?;
            Ok(out)
        }
        Err(DirectoryError::NotFound) => Err(ApiError::NotFound(item.to_owned())),
        Err(e) => Err(e.into()),
    }
}

fn server_or_404(state: &AppState, id: &str) -> Result<AuthServer, ApiError> {
    state
        .store
        .auth_server(id)?
        .ok_or_else(|| not_found(id, "AuthorizationServer"))
}

fn issuer_of(base: &str, id: &str) -> String {
    format!("{base}/oauth2/{id}")
}

fn server_view(base: &str, s: &AuthServer, ring: &KeyRing, rotate_days: u64) -> Value {
    let me = paths::href(base, paths::AUTH_SERVER, &s.id);
    let issuer = issuer_of(base, &s.id);
    let since = ring.active_since();
    json!({
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "audiences": s.audiences,
        "issuer": issuer,
        "issuerMode": "ORG_URL",
        "accessTokenProfile": s.access_token_profile,
        "status": s.status,
        "created": s.created.iso8601(),
        "lastUpdated": s.last_updated.iso8601(),
        "credentials": { "signing": {
            "rotationMode": s.rotation_mode,
            "lastRotated": since.iso8601(),
            "nextRotation": since.plus(Duration::from_secs(rotate_days * 86_400)).iso8601(),
            "kid": ring.signer().kid,
            "use": "sig",
            // Portcullis's: what the server signs with (Okta's servers sign RS256 only).
            "alg": ring.signer().alg.as_str(),
        }},
        "_links": {
            "self": { "href": me },
            "scopes": { "href": format!("{me}/scopes") },
            "claims": { "href": format!("{me}/claims") },
            "policies": { "href": format!("{me}/policies") },
            "rotateKey": { "href": format!("{me}/credentials/lifecycle/keyRotate"), "hints": { "allow": ["POST"] } },
            "metadata": [
                { "href": format!("{issuer}/.well-known/openid-configuration") },
                { "href": format!("{issuer}/.well-known/oauth-authorization-server") },
            ],
        },
    })
}

async fn view_with_keys(state: &AppState, s: &AuthServer) -> Result<Value, ApiError> {
    let ring = state.ring(&s.id).await?;
    Ok(server_view(
        &state.base_url,
        s,
        &ring,
        u64::from(state.key_rotation_days),
    ))
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct Signing {
    rotation_mode: Option<crate::authz::RotationMode>,
    alg: Option<String>,
}

impl Signing {
    /// The algorithm asked for, if any; an unknown one is Okta's validation error.
    fn alg(&self) -> Result<Option<SigningAlg>, ApiError> {
        self.alg
            .as_deref()
            .map(|a| {
                SigningAlg::parse(a).ok_or_else(|| {
                    ApiError::Validation(vec![crate::directory::FieldError::new(
                        "credentials.signing.alg",
                        "credentials.signing.alg: must be one of RS256, ES256, EdDSA",
                    )])
                })
            })
            .transpose()
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Credentials {
    signing: Signing,
}

#[derive(Deserialize, Default)]
#[serde(default)]
#[serde(rename_all = "camelCase")]
struct ServerBody {
    name: String,
    description: String,
    audiences: Vec<String>,
    credentials: Credentials,
    /// Portcullis's: `RFC9068` for access tokens in the JWT profile (`typ: at+jwt`).
    access_token_profile: Option<crate::authz::AccessTokenProfile>,
}

async fn list_servers(
    _: Admin,
    State(state): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let prefix = q.get("q").map(|s| s.to_lowercase());
    let mut out = Vec::new();
    for s in state.store.auth_servers()? {
        if prefix
            .as_deref()
            .is_none_or(|p| s.name.to_lowercase().starts_with(p))
        {
            out.push(view_with_keys(&state, &s).await?);
        }
    }
    Ok(Json(Value::Array(out)))
}

async fn create_server(
    _: Admin,
    State(state): State<AppState>,
    OktaJson(body): OktaJson<ServerBody>,
) -> Result<Json<Value>, ApiError> {
    let mut server = servers::new_server(
        new_id("aus"),
        body.name,
        body.description,
        body.audiences,
        Timestamp::now(),
    )?;
    if let Some(mode) = body.credentials.signing.rotation_mode {
        server.rotation_mode = mode;
    }
    if let Some(profile) = body.access_token_profile {
        server.access_token_profile = profile;
    }
    // The server's first key is of the algorithm asked for, made before the server exists,
    // so no request can make an RS256 one first.
    if let Some(alg) = body.credentials.signing.alg()? {
        let id = server.id.clone();
        let ring = state
            .blocking(move |s| KeyRing::load_or_make(s.store.as_ref(), &id, alg, Timestamp::now()))
            .await?
            .map_err(|e| ApiError::Internal(e.to_string()))?;
        state.set_ring(&server.id, Some(Arc::new(ring)));
    }
    state.store.save_auth_server(&server, None)?;
    let view = view_with_keys(&state, &server).await?;
    state.flush().await?;
    Ok(Json(view))
}

async fn read_server(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let s = server_or_404(&state, &id)?;
    Ok(Json(view_with_keys(&state, &s).await?))
}

async fn replace_server(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
    OktaJson(body): OktaJson<ServerBody>,
) -> Result<Json<Value>, ApiError> {
    servers::check_server(&body.name, &body.audiences)?;
    let alg = body.credentials.signing.alg()?;
    let ((), s) = change(&state, &id, "", move |s| {
        s.name.clone_from(&body.name);
        s.description.clone_from(&body.description);
        s.audiences.clone_from(&body.audiences);
        if let Some(mode) = body.credentials.signing.rotation_mode {
            s.rotation_mode = mode;
        }
        if let Some(profile) = body.access_token_profile {
            s.access_token_profile = profile;
        }
        Ok(())
    })
    .await?;
    if let Some(alg) = alg {
        sign_with(&state, &id, alg).await?;
    }
    Ok(Json(view_with_keys(&state, &s).await?))
}

/// Makes the server sign with `alg` from now on: a rotation to a key of it, unless its active
/// key already is one. Tokens signed before keep verifying until they expire.
async fn sign_with(state: &AppState, id: &str, alg: SigningAlg) -> Result<(), ApiError> {
    if state.ring(id).await?.signer().alg == alg {
        return Ok(());
    }
    let owned = id.to_owned();
    let ring = state
        .blocking(move |s| {
            KeyRing::rotate_to(
                s.store.as_ref(),
                &owned,
                alg,
                Timestamp::now(),
                crate::keep_rotated_keys(&s.tokens),
            )
        })
        .await?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    state.set_ring(id, Some(Arc::new(ring)));
    state.announce(&super::keys_topic(id));
    Ok(())
}

async fn delete_server(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    if !state.store.delete_auth_server(&id)? {
        return Err(not_found(&id, "AuthorizationServer"));
    }
    state.set_ring(&id, None);
    state.announce(&super::keys_topic(&id));
    state.flush().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn set_server_status(
    state: &AppState,
    id: &str,
    status: Status,
) -> Result<StatusCode, ApiError> {
    change(state, id, "", move |s| {
        s.status = status;
        Ok(())
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn activate_server(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_server_status(&state, &id, Status::Active).await
}

async fn deactivate_server(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_server_status(&state, &id, Status::Inactive).await
}

async fn list_keys(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    server_or_404(&state, &id)?;
    Ok(Json(Value::Array(
        state.ring(&id).await?.keys_with_status(),
    )))
}

/// A new active key now; the old one keeps verifying until tokens it signed have expired.
async fn rotate_keys(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    server_or_404(&state, &id)?;
    let owned = id.clone();
    let ring = state
        .blocking(move |s| {
            KeyRing::rotate(
                s.store.as_ref(),
                &owned,
                Timestamp::now(),
                crate::keep_rotated_keys(&s.tokens),
            )
        })
        .await?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    let keys = ring.keys_with_status();
    state.set_ring(&id, Some(Arc::new(ring)));
    state.announce(&super::keys_topic(&id));
    Ok(Json(Value::Array(keys)))
}

// --- Scopes, claims, policies and rules: one set of handlers ---

/// The path of an item inside an authorization server: `{id}` the server, `{item}` a scope,
/// claim or policy (or, under `/rules`, the rule's policy), `{rule}` a rule.
#[derive(Deserialize)]
struct Loc {
    id: String,
    item: Option<String>,
    rule: Option<String>,
}

/// What an edit of an item may need besides the server: the store (a rule's people and
/// clients are checked), the rule's policy, and the time.
struct Edit {
    store: Arc<dyn crate::store::Store>,
    policy: String,
    now: Timestamp,
}

/// A kind of item kept inside its authorization server and changed under the server's
/// compare-and-swap (`change`): scopes, claims, policies and rules. The core's `edit`
/// functions hold the rules; this says how each kind is read from a request and shown.
trait Item: Sized + Send + 'static {
    /// Okta's name for the kind, as a 404 names it.
    const KIND: &'static str;
    const ID_PREFIX: &'static str;
    type Body: serde::de::DeserializeOwned + Send + 'static;
    type Input: Clone + Send + 'static;

    fn input(state: &AppState, body: Self::Body) -> Result<Self::Input, ApiError>;
    fn id(&self) -> &str;
    fn view(&self, base: &str, loc: &Loc) -> Value;
    /// The items at `loc` in listing order (`q`: a name prefix, where the kind supports it).
    fn listed<'a>(s: &'a AuthServer, loc: &Loc, q: Option<&str>)
    -> Result<Vec<&'a Self>, ApiError>;
    fn add(
        e: &Edit,
        s: &mut AuthServer,
        id: String,
        input: Self::Input,
    ) -> Result<Self, DirectoryError>;
    fn replace(
        e: &Edit,
        s: &mut AuthServer,
        id: &str,
        input: Self::Input,
    ) -> Result<Self, DirectoryError>;
    fn delete(e: &Edit, s: &mut AuthServer, id: &str) -> Result<(), DirectoryError>;

    /// The id of the one item `loc` names.
    fn item_id(loc: &Loc) -> &str {
        loc.item.as_deref().unwrap_or_default()
    }
    /// What a `NotFound` from `add` means: the item's parent, if it has one.
    fn parent(_loc: &Loc) -> String {
        String::new()
    }
}

/// List and create at `collection`; read, replace and delete at `one`.
fn items<K: Item>(collection: &'static str, one: &'static str) -> Router<AppState> {
    Router::new()
        .route(collection, get(list_items::<K>).post(create_item::<K>))
        .route(
            one,
            get(read_item::<K>)
                .put(replace_item::<K>)
                .delete(delete_item::<K>),
        )
}

fn edit_at(state: &AppState, loc: &Loc) -> Edit {
    Edit {
        store: state.store.clone(),
        policy: loc.item.clone().unwrap_or_default(),
        now: Timestamp::now(),
    }
}

async fn list_items<K: Item>(
    _: Admin,
    State(state): State<AppState>,
    Path(loc): Path<Loc>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
    let s = server_or_404(&state, &loc.id)?;
    let items = K::listed(&s, &loc, q.get("q").map(String::as_str))?;
    Ok(Json(Value::Array(
        items
            .into_iter()
            .map(|x| x.view(&state.base_url, &loc))
            .collect(),
    )))
}

async fn create_item<K: Item>(
    _: Admin,
    State(state): State<AppState>,
    Path(loc): Path<Loc>,
    OktaJson(body): OktaJson<K::Body>,
) -> Result<Json<Value>, ApiError> {
    let input = K::input(&state, body)?;
    let (edit, item_id) = (edit_at(&state, &loc), new_id(K::ID_PREFIX));
    let (item, _) = change(&state, &loc.id, &K::parent(&loc), move |s| {
        K::add(&edit, s, item_id.clone(), input.clone())
    })
    .await?;
    Ok(Json(item.view(&state.base_url, &loc)))
}

async fn read_item<K: Item>(
    _: Admin,
    State(state): State<AppState>,
    Path(loc): Path<Loc>,
) -> Result<Json<Value>, ApiError> {
    let s = server_or_404(&state, &loc.id)?;
    let id = K::item_id(&loc);
    let item = K::listed(&s, &loc, None)?
        .into_iter()
        .find(|x| x.id() == id)
        .ok_or_else(|| not_found(id, K::KIND))?;
    Ok(Json(item.view(&state.base_url, &loc)))
}

async fn replace_item<K: Item>(
    _: Admin,
    State(state): State<AppState>,
    Path(loc): Path<Loc>,
    OktaJson(body): OktaJson<K::Body>,
) -> Result<Json<Value>, ApiError> {
    let input = K::input(&state, body)?;
    let (edit, id) = (edit_at(&state, &loc), K::item_id(&loc).to_owned());
    let what = format!("{id} ({})", K::KIND);
    let (item, _) = change(&state, &loc.id, &what, move |s| {
        K::replace(&edit, s, &id, input.clone())
    })
    .await?;
    Ok(Json(item.view(&state.base_url, &loc)))
}

async fn delete_item<K: Item>(
    _: Admin,
    State(state): State<AppState>,
    Path(loc): Path<Loc>,
) -> Result<StatusCode, ApiError> {
    let (edit, id) = (edit_at(&state, &loc), K::item_id(&loc).to_owned());
    let what = format!("{id} ({})", K::KIND);
    change(&state, &loc.id, &what, move |s| K::delete(&edit, s, &id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- Scopes ---

fn scope_view(base: &str, server: &str, s: &Scope) -> Value {
    let me = format!(
        "{}/{}",
        paths::href(base, paths::AUTH_SERVER_SCOPES, server),
        s.id
    );
    json!({
        "id": s.id,
        "name": s.name,
        "displayName": s.display_name,
        "description": s.description,
        "system": s.system,
        "default": s.default,
        "optional": s.optional,
        "consent": s.consent,
        "metadataPublish": s.metadata_publish,
        "_links": { "self": { "href": me } },
    })
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ScopeBody {
    name: String,
    display_name: Option<String>,
    description: String,
    consent: Option<Consent>,
    default: bool,
    optional: bool,
    metadata_publish: Option<MetadataPublish>,
}

impl ScopeBody {
    fn input(self) -> ScopeInput {
        ScopeInput {
            name: self.name,
            display_name: self.display_name,
            description: self.description,
            consent: self.consent.unwrap_or(Consent::Implicit),
            default: self.default,
            optional: self.optional,
            metadata_publish: self.metadata_publish.unwrap_or(MetadataPublish::NoClients),
        }
    }
}

impl Item for Scope {
    const KIND: &'static str = "OAuth2Scope";
    const ID_PREFIX: &'static str = "scp";
    type Body = ScopeBody;
    type Input = ScopeInput;

    fn input(_: &AppState, body: ScopeBody) -> Result<ScopeInput, ApiError> {
        Ok(body.input())
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn view(&self, base: &str, loc: &Loc) -> Value {
        scope_view(base, &loc.id, self)
    }
    fn listed<'a>(s: &'a AuthServer, _: &Loc, q: Option<&str>) -> Result<Vec<&'a Self>, ApiError> {
        Ok(s.scopes
            .iter()
            .filter(|x| q.is_none_or(|p| x.name.starts_with(p)))
            .collect())
    }
    fn add(
        _: &Edit,
        s: &mut AuthServer,
        id: String,
        input: ScopeInput,
    ) -> Result<Self, DirectoryError> {
        edit::add_scope(s, id, input)
    }
    fn replace(
        _: &Edit,
        s: &mut AuthServer,
        id: &str,
        input: ScopeInput,
    ) -> Result<Self, DirectoryError> {
        edit::replace_scope(s, id, input)
    }
    fn delete(_: &Edit, s: &mut AuthServer, id: &str) -> Result<(), DirectoryError> {
        edit::delete_scope(s, id)
    }
}

// --- Claims ---

fn claim_view(base: &str, server: &str, c: &Claim) -> Value {
    let me = format!(
        "{}/{}",
        paths::href(base, paths::AUTH_SERVER_CLAIMS, server),
        c.id
    );
    let mut v = json!({
        "id": c.id,
        "name": c.name,
        "status": c.status,
        "claimType": c.claim_type,
        "valueType": c.value_type,
        "value": c.value,
        "alwaysIncludeInToken": c.always_include_in_token,
        "conditions": { "scopes": c.scopes },
        "system": false,
        "_links": { "self": { "href": me } },
    });
    if let Some(f) = c.group_filter_type {
        v["group_filter_type"] = json!(f);
    }
    v
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct ClaimConditions {
    scopes: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct ClaimBody {
    name: String,
    status: Option<Status>,
    claim_type: Option<ClaimType>,
    value_type: Option<ValueType>,
    value: String,
    #[serde(rename = "group_filter_type")]
    group_filter_type: Option<GroupFilterType>,
    always_include_in_token: Option<bool>,
    conditions: ClaimConditions,
}

impl ClaimBody {
    fn input(self) -> Result<ClaimInput, ApiError> {
        let claim_type = self.claim_type.ok_or_else(|| {
            ApiError::Validation(vec![FieldError::new(
                "claimType",
                "claimType: RESOURCE or IDENTITY is required",
            )])
        })?;
        let value_type = self.value_type.unwrap_or(ValueType::Expression);
        Ok(ClaimInput {
            name: self.name,
            status: self.status.unwrap_or(Status::Active),
            claim_type,
            value_type,
            value: self.value,
            group_filter_type: self.group_filter_type,
            always_include_in_token: self.always_include_in_token.unwrap_or(true),
            scopes: self.conditions.scopes,
        })
    }
}

impl Item for Claim {
    const KIND: &'static str = "OAuth2Claim";
    const ID_PREFIX: &'static str = "ocl";
    type Body = ClaimBody;
    type Input = ClaimInput;

    fn input(_: &AppState, body: ClaimBody) -> Result<ClaimInput, ApiError> {
        body.input()
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn view(&self, base: &str, loc: &Loc) -> Value {
        claim_view(base, &loc.id, self)
    }
    fn listed<'a>(s: &'a AuthServer, _: &Loc, _: Option<&str>) -> Result<Vec<&'a Self>, ApiError> {
        Ok(s.claims.iter().collect())
    }
    fn add(
        _: &Edit,
        s: &mut AuthServer,
        id: String,
        input: ClaimInput,
    ) -> Result<Self, DirectoryError> {
        edit::add_claim(s, id, input)
    }
    fn replace(
        _: &Edit,
        s: &mut AuthServer,
        id: &str,
        input: ClaimInput,
    ) -> Result<Self, DirectoryError> {
        edit::replace_claim(s, id, input)
    }
    fn delete(_: &Edit, s: &mut AuthServer, id: &str) -> Result<(), DirectoryError> {
        edit::delete_claim(s, id)
    }
}

// --- Policies ---

fn policy_view(base: &str, server: &str, p: &Policy) -> Value {
    let me = format!(
        "{}/{}",
        paths::href(base, paths::AUTH_SERVER_POLICIES, server),
        p.id
    );
    json!({
        "id": p.id,
        "type": "OAUTH_AUTHORIZATION_POLICY",
        "status": p.status,
        "name": p.name,
        "description": p.description,
        "priority": p.priority,
        "system": p.system,
        "conditions": { "clients": { "include": p.clients } },
        "created": p.created.iso8601(),
        "lastUpdated": p.last_updated.iso8601(),
        "_links": {
            "self": { "href": me },
            "rules": { "href": format!("{me}/rules") },
        },
    })
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct Include {
    include: Vec<String>,
    exclude: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PolicyConditions {
    clients: Include,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct PolicyBody {
    name: String,
    description: String,
    status: Option<Status>,
    priority: Option<u32>,
    conditions: PolicyConditions,
}

impl PolicyBody {
    fn input(self) -> PolicyInput {
        PolicyInput {
            name: self.name,
            description: self.description,
            status: self.status,
            priority: self.priority,
            clients: self.conditions.clients.include,
        }
    }
}

impl Item for Policy {
    const KIND: &'static str = "Policy";
    const ID_PREFIX: &'static str = "00p";
    type Body = PolicyBody;
    type Input = PolicyInput;

    fn input(state: &AppState, body: PolicyBody) -> Result<PolicyInput, ApiError> {
        let input = body.input();
        servers::check_policy(state.store.as_ref(), &input.name, &input.clients)?;
        Ok(input)
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn view(&self, base: &str, loc: &Loc) -> Value {
        policy_view(base, &loc.id, self)
    }
    fn listed<'a>(s: &'a AuthServer, _: &Loc, _: Option<&str>) -> Result<Vec<&'a Self>, ApiError> {
        let mut ps: Vec<&Policy> = s.policies.iter().collect();
        ps.sort_by_key(|p| p.priority);
        Ok(ps)
    }
    fn add(
        e: &Edit,
        s: &mut AuthServer,
        id: String,
        input: PolicyInput,
    ) -> Result<Self, DirectoryError> {
        edit::add_policy(s, id, input, e.now)
    }
    fn replace(
        e: &Edit,
        s: &mut AuthServer,
        id: &str,
        input: PolicyInput,
    ) -> Result<Self, DirectoryError> {
        edit::replace_policy(s, id, input, e.now)
    }
    fn delete(_: &Edit, s: &mut AuthServer, id: &str) -> Result<(), DirectoryError> {
        edit::delete_policy(s, id)
    }
}

async fn set_policy_status(
    state: &AppState,
    id: &str,
    item: String,
    status: Status,
) -> Result<StatusCode, ApiError> {
    let what = format!("{item} (Policy)");
    change(state, id, &what, move |s| {
        edit::set_policy_status(s, &item, status)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn activate_policy(
    _: Admin,
    State(state): State<AppState>,
    Path((id, item)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    set_policy_status(&state, &id, item, Status::Active).await
}

async fn deactivate_policy(
    _: Admin,
    State(state): State<AppState>,
    Path((id, item)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    set_policy_status(&state, &id, item, Status::Inactive).await
}

// --- Rules ---

fn rule_view(base: &str, server: &str, policy: &str, r: &Rule) -> Value {
    let me = format!(
        "{}/{policy}/rules/{}",
        paths::href(base, paths::AUTH_SERVER_POLICIES, server),
        r.id
    );
    json!({
        "id": r.id,
        "type": "RESOURCE_ACCESS",
        "status": r.status,
        "name": r.name,
        "priority": r.priority,
        "system": r.system,
        "conditions": {
            "people": {
                "users": { "include": r.users_include, "exclude": r.users_exclude },
                "groups": { "include": r.groups_include, "exclude": r.groups_exclude },
            },
            "grantTypes": { "include": r.grant_types },
            "scopes": { "include": r.scopes },
        },
        "actions": { "token": {
            "accessTokenLifetimeMinutes": r.access_token_minutes,
            "refreshTokenLifetimeMinutes": r.refresh_token_minutes,
            "refreshTokenWindowMinutes": r.refresh_window_minutes,
        }},
        "created": r.created.iso8601(),
        "lastUpdated": r.last_updated.iso8601(),
        "_links": { "self": { "href": me } },
    })
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct People {
    users: Include,
    groups: Include,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default, rename_all = "camelCase")]
struct RuleConditions {
    people: People,
    grant_types: Include,
    scopes: Include,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default, rename_all = "camelCase")]
struct TokenActions {
    access_token_lifetime_minutes: Option<u32>,
    refresh_token_lifetime_minutes: Option<u32>,
    refresh_token_window_minutes: Option<u32>,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct RuleActions {
    token: TokenActions,
}

#[derive(Deserialize, Default, Clone)]
#[serde(default)]
struct RuleBody {
    name: String,
    status: Option<Status>,
    priority: Option<u32>,
    conditions: RuleConditions,
    actions: RuleActions,
}

impl RuleBody {
    fn input(self) -> RuleInput {
        let c = self.conditions;
        let t = self.actions.token;
        RuleInput {
            name: self.name,
            status: self.status,
            priority: self.priority,
            users_include: c.people.users.include,
            users_exclude: c.people.users.exclude,
            groups_include: c.people.groups.include,
            groups_exclude: c.people.groups.exclude,
            grant_types: c.grant_types.include,
            scopes: c.scopes.include,
            access_token_minutes: t.access_token_lifetime_minutes,
            refresh_token_minutes: t.refresh_token_lifetime_minutes,
            refresh_window_minutes: t.refresh_token_window_minutes,
        }
    }
}

impl Item for Rule {
    const KIND: &'static str = "PolicyRule";
    const ID_PREFIX: &'static str = "0pr";
    type Body = RuleBody;
    type Input = RuleInput;

    fn input(_: &AppState, body: RuleBody) -> Result<RuleInput, ApiError> {
        Ok(body.input())
    }
    fn id(&self) -> &str {
        &self.id
    }
    fn view(&self, base: &str, loc: &Loc) -> Value {
        rule_view(base, &loc.id, loc.item.as_deref().unwrap_or_default(), self)
    }
    fn listed<'a>(
        s: &'a AuthServer,
        loc: &Loc,
        _: Option<&str>,
    ) -> Result<Vec<&'a Self>, ApiError> {
        let policy = loc.item.as_deref().unwrap_or_default();
        let p = s
            .policies
            .iter()
            .find(|p| p.id == policy)
            .ok_or_else(|| not_found(policy, "Policy"))?;
        let mut rules: Vec<&Rule> = p.rules.iter().collect();
        rules.sort_by_key(|r| r.priority);
        Ok(rules)
    }
    fn add(
        e: &Edit,
        s: &mut AuthServer,
        id: String,
        input: RuleInput,
    ) -> Result<Self, DirectoryError> {
        edit::add_rule(e.store.as_ref(), s, &e.policy, id, input, e.now)
    }
    fn replace(
        e: &Edit,
        s: &mut AuthServer,
        id: &str,
        input: RuleInput,
    ) -> Result<Self, DirectoryError> {
        edit::replace_rule(e.store.as_ref(), s, &e.policy, id, input, e.now)
    }
    fn delete(e: &Edit, s: &mut AuthServer, id: &str) -> Result<(), DirectoryError> {
        edit::delete_rule(s, &e.policy, id)
    }
    fn item_id(loc: &Loc) -> &str {
        loc.rule.as_deref().unwrap_or_default()
    }
    fn parent(loc: &Loc) -> String {
        format!("{} (Policy)", loc.item.as_deref().unwrap_or_default())
    }
}

async fn set_rule_status(
    state: &AppState,
    id: &str,
    policy: String,
    rule: String,
    status: Status,
) -> Result<StatusCode, ApiError> {
    let what = format!("{rule} (PolicyRule)");
    change(state, id, &what, move |s| {
        edit::set_rule_status(s, &policy, &rule, status)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn activate_rule(
    _: Admin,
    State(state): State<AppState>,
    Path((id, item, rule)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    set_rule_status(&state, &id, item, rule, Status::Active).await
}

async fn deactivate_rule(
    _: Admin,
    State(state): State<AppState>,
    Path((id, item, rule)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    set_rule_status(&state, &id, item, rule, Status::Inactive).await
}

// --- Refresh tokens per client ---

/// One refresh-token family as Okta shows a token: the newest live token of the family.
fn token_view(base: &str, server: &str, r: &RefreshRecord) -> Value {
    let issuer = issuer_of(base, server);
    let me = format!(
        "{base}/api/v1/authorizationServers/{server}/clients/{}/tokens/{}",
        r.client_id, r.family
    );
    json!({
        "id": r.family,
        "status": "ACTIVE",
        "created": r.issued.unwrap_or(r.auth_time).iso8601(),
        "lastUpdated": r.issued.unwrap_or(r.auth_time).iso8601(),
        "expiresAt": r.expires_at.iso8601(),
        "issuer": issuer,
        "clientId": r.client_id,
        "userId": r.user_id,
        "scopes": r.scopes,
        "_links": { "self": { "href": me } },
    })
}

/// The live token families of `client` at `server`, newest token of each.
fn families(
    state: &AppState,
    server: &str,
    client: &str,
    family: Option<&str>,
) -> Result<Vec<RefreshRecord>, ApiError> {
    let now = Timestamp::now();
    let found = state.store.refresh_tokens_where(&|r| {
        r.server == server
            && r.client_id == client
            && r.rotated_at.is_none()
            && r.expires_at > now
            && family.is_none_or(|f| r.family == f)
    })?;
    let mut out: Vec<RefreshRecord> = Vec::new();
    for (_, r) in found {
        if state.store.is_revoked(&format!("family:{}", r.family))? {
            continue;
        }
        if !out.iter().any(|x| x.family == r.family) {
            out.push(r);
        }
    }
    out.sort_by_key(|r| r.issued);
    Ok(out)
}

async fn list_tokens(
    _: Admin,
    State(state): State<AppState>,
    Path((id, client)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    server_or_404(&state, &id)?;
    let all = families(&state, &id, &client, None)?;
    Ok(Json(Value::Array(
        all.iter()
            .map(|r| token_view(&state.base_url, &id, r))
            .collect(),
    )))
}

async fn read_token(
    _: Admin,
    State(state): State<AppState>,
    Path((id, client, token)): Path<(String, String, String)>,
) -> Result<Json<Value>, ApiError> {
    server_or_404(&state, &id)?;
    let found = families(&state, &id, &client, Some(&token))?;
    let r = found
        .first()
        .ok_or_else(|| not_found(&token, "OAuth2RefreshToken"))?;
    Ok(Json(token_view(&state.base_url, &id, r)))
}

fn revoke_family(state: &AppState, family: &str) -> Result<(), ApiError> {
    let until = Timestamp::now().plus(Duration::from_secs(5 * 365 * 86_400));
    state.store.revoke(&format!("family:{family}"), until)?;
    Ok(())
}

async fn revoke_tokens(
    _: Admin,
    State(state): State<AppState>,
    Path((id, client)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    server_or_404(&state, &id)?;
    for r in families(&state, &id, &client, None)? {
        revoke_family(&state, &r.family)?;
    }
    state.flush().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke_token(
    _: Admin,
    State(state): State<AppState>,
    Path((id, client, token)): Path<(String, String, String)>,
) -> Result<StatusCode, ApiError> {
    server_or_404(&state, &id)?;
    if families(&state, &id, &client, Some(&token))?.is_empty() {
        return Err(not_found(&token, "OAuth2RefreshToken"));
    }
    revoke_family(&state, &token)?;
    state.flush().await?;
    Ok(StatusCode::NO_CONTENT)
}

// --- Users' consent grants ---

fn grant_view(state: &AppState, g: &crate::authz::consent::Grant, scope_id: Option<&str>) -> Value {
    let base = &state.base_url;
    json!({
        "id": g.id,
        "status": "ACTIVE",
        "created": g.created.iso8601(),
        "lastUpdated": g.created.iso8601(),
        "issuer": issuer_of(base, &g.server_id),
        "clientId": g.client_id,
        "userId": g.user_id,
        "scopeId": scope_id,
        "source": "END_USER",
        "_embedded": { "scope": { "id": scope_id, "name": g.scope } },
        "_links": {
            "self": { "href": format!("{base}/api/v1/users/{}/grants/{}", g.user_id, g.id) },
        },
    })
}

fn grants_view(
    state: &AppState,
    user_id: &str,
    only: Option<&str>,
) -> Result<Vec<Value>, ApiError> {
    let mut servers_seen: HashMap<String, Option<AuthServer>> = HashMap::new();
    let mut out = Vec::new();
    for g in state.store.grants(user_id)? {
        if only.is_some_and(|id| id != g.id) {
            continue;
        }
        if !servers_seen.contains_key(&g.server_id) {
            let s = state.store.auth_server(&g.server_id)?;
            servers_seen.insert(g.server_id.clone(), s);
        }
        let scope_id = servers_seen
            .get(&g.server_id)
            .and_then(|s| s.as_ref())
            .and_then(|s| s.scope(&g.scope))
            .map(|s| s.id.clone());
        out.push(grant_view(state, &g, scope_id.as_deref()));
    }
    Ok(out)
}

fn user_or_404(state: &AppState, id: &str) -> Result<crate::directory::User, ApiError> {
    find_user(state.store.as_ref(), id).map_err(|e| match e {
        DirectoryError::NotFound => not_found(id, "User"),
        other => other.into(),
    })
}

async fn list_grants(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let user = user_or_404(&state, &id)?;
    Ok(Json(Value::Array(grants_view(&state, &user.id, None)?)))
}

async fn read_grant(
    _: Admin,
    State(state): State<AppState>,
    Path((id, item)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let user = user_or_404(&state, &id)?;
    grants_view(&state, &user.id, Some(&item))?
        .pop()
        .map(Json)
        .ok_or_else(|| not_found(&item, "OAuth2ScopeConsentGrant"))
}

/// Revoking consent also ends the refresh tokens the client got for that user at that server:
/// without consent, it may not keep the access.
fn revoke_consented_tokens(
    state: &AppState,
    g: &crate::authz::consent::Grant,
) -> Result<(), ApiError> {
    let found = state.store.refresh_tokens_where(&|r| {
        r.user_id == g.user_id && r.client_id == g.client_id && r.server == g.server_id
    })?;
    for (_, r) in found {
        revoke_family(state, &r.family)?;
    }
    Ok(())
}

async fn revoke_grants(
    _: Admin,
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let user = user_or_404(&state, &id)?;
    for g in state.store.grants(&user.id)? {
        state.store.delete_grant(&user.id, &g.id)?;
        revoke_consented_tokens(&state, &g)?;
    }
    state.flush().await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn revoke_grant(
    _: Admin,
    State(state): State<AppState>,
    Path((id, item)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let user = user_or_404(&state, &id)?;
    let grant = state
        .store
        .grants(&user.id)?
        .into_iter()
        .find(|g| g.id == item)
        .ok_or_else(|| not_found(&item, "OAuth2ScopeConsentGrant"))?;
    state.store.delete_grant(&user.id, &item)?;
    revoke_consented_tokens(&state, &grant)?;
    state.flush().await?;
    Ok(StatusCode::NO_CONTENT)
}
