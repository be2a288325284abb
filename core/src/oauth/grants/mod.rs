//! The token endpoint's grants. A request is parsed once into [`TokenRequest`]; the client is
//! authenticated by the method it registered; each grant checks what RFC 6749 asks of it.

use super::clients::{AuthMethod, Client, GrantType};
use super::issuer::Issuer;
use super::keys::KeyError;
use super::tokens::{
    AccessFacts, CodeRecord, IdTokenFacts, Issued, Principal, RefreshRecord, TokenSettings,
    access_token, id_token, scope_claims,
};
use crate::authn::flow::{self, Ctx, FlowError, Outcome};
use crate::authn::transaction::TxOptions;
use crate::authz::ClaimType;
use crate::authz::claims::{self, ClaimInputs};
use crate::authz::policy::{self, AccessRequest};
use crate::clock::Timestamp;
use crate::crypto::{Secret, new_id, new_secret};
use crate::directory::groups::group_names;
use crate::directory::{User, UserStatus};
use crate::records::ids::{ClientId, UserId};
use crate::store::{CodeUse, Store, StoreError};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::time::Duration;

mod authorization_code;
mod client_credentials;
mod password;
mod refresh;
#[cfg(test)]
mod tests;

use authorization_code::authorization_code;
use client_credentials::client_credentials;
use password::password_grant;
use refresh::refresh;

/// A token request, by `grant_type`. What would let someone else use the grant is a
/// [`Secret`], so `Debug` (and any log line built from it) cannot show it.
#[derive(Debug)]
pub enum TokenRequest {
    AuthorizationCode {
        code: Secret,
        redirect_uri: Option<String>,
        code_verifier: Option<Secret>,
    },
    RefreshToken {
        refresh_token: Secret,
        scope: Option<String>,
    },
    ClientCredentials {
        scope: Option<String>,
    },
    Password {
        username: String,
        password: Secret,
        scope: Option<String>,
    },
}

impl TokenRequest {
    /// The `grant_type` this request is.
    pub fn grant_type_name(&self) -> &'static str {
        match self {
            Self::AuthorizationCode { .. } => "authorization_code",
            Self::RefreshToken { .. } => "refresh_token",
            Self::ClientCredentials { .. } => "client_credentials",
            Self::Password { .. } => "password",
        }
    }
}

/// RFC 6749 §5.2. `Display` is the error code.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("invalid_request")]
    InvalidRequest(String),
    #[error("invalid_client")]
    InvalidClient,
    #[error("invalid_grant")]
    InvalidGrant(String),
    #[error("unauthorized_client")]
    UnauthorizedClient(String),
    #[error("unsupported_grant_type")]
    UnsupportedGrantType,
    #[error("invalid_scope")]
    InvalidScope(String),
    /// No access policy rule of a custom server allows the request.
    #[error("access_denied")]
    AccessDenied(String),
    #[error("server_error")]
    Store(#[from] StoreError),
    #[error("server_error")]
    Key(#[from] KeyError),
    #[error("server_error")]
    Flow(String),
    /// Every password-hashing thread is busy (the password grant): try again shortly.
    #[error("temporarily_unavailable")]
    Busy,
}

impl TokenError {
    pub fn description(&self) -> String {
        match self {
            TokenError::InvalidRequest(d)
            | TokenError::InvalidGrant(d)
            | TokenError::UnauthorizedClient(d)
            | TokenError::InvalidScope(d)
            | TokenError::AccessDenied(d) => d.clone(),
            TokenError::InvalidClient => "Client authentication failed.".into(),
            TokenError::UnsupportedGrantType => "The grant type is not supported.".into(),
            TokenError::Store(_) | TokenError::Key(_) | TokenError::Flow(_) => {
                "The server could not complete the request.".into()
            }
            TokenError::Busy => "The server is busy. Please try again shortly.".into(),
        }
    }
}

fn form<'a>(f: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    f.get(k).map(String::as_str).filter(|v| !v.is_empty())
}

impl TokenRequest {
    pub fn parse(f: &HashMap<String, String>) -> Result<Self, TokenError> {
        let need = |k: &str| {
            form(f, k).map(str::to_owned).ok_or_else(|| {
                TokenError::InvalidRequest(format!("The '{k}' parameter is required."))
            })
        };
        let opt = |k: &str| form(f, k).map(str::to_owned);
        let secret = |k: &str| need(k).map(Secret::new);
        match form(f, "grant_type") {
            Some("authorization_code") => Ok(Self::AuthorizationCode {
                code: secret("code")?,
                redirect_uri: opt("redirect_uri"),
                code_verifier: opt("code_verifier").map(Secret::new),
            }),
            Some("refresh_token") => Ok(Self::RefreshToken {
                refresh_token: secret("refresh_token")?,
                scope: opt("scope"),
            }),
            Some("client_credentials") => Ok(Self::ClientCredentials {
                scope: opt("scope"),
            }),
            Some("password") => Ok(Self::Password {
                username: need("username")?,
                password: secret("password")?,
                scope: opt("scope"),
            }),
            Some(_) => Err(TokenError::UnsupportedGrantType),
            None => Err(TokenError::InvalidRequest(
                "The 'grant_type' parameter is required.".into(),
            )),
        }
    }
}

/// How the client presented itself.
#[derive(Debug, Clone)]
pub enum ClientCredentials {
    /// HTTP Basic (`client_secret_basic`).
    Basic { id: String, secret: Secret },
    /// `client_id` and `client_secret` in the form (`client_secret_post`).
    Post { id: String, secret: Secret },
    /// A public client naming itself.
    Public { id: String },
    /// A signed client assertion (`private_key_jwt`, `client_secret_jwt`).
    Assertion { id: String, assertion: Secret },
}

/// Authenticates the client. A client with a secret may present it in the Authorization header
/// or in the form (`client_secret_basic` and `client_secret_post` are equally safe, and client
/// libraries differ in their default); a public client may not present one, and a client with
/// a secret may not leave it out.
pub fn authenticate_client(
    store: &dyn Store,
    creds: &ClientCredentials,
    audiences: &[&str],
    now: Timestamp,
) -> Result<Client, TokenError> {
    let id = match creds {
        ClientCredentials::Basic { id, .. }
        | ClientCredentials::Post { id, .. }
        | ClientCredentials::Public { id }
        | ClientCredentials::Assertion { id, .. } => id,
    };
    let client = store.client(id)?.ok_or(TokenError::InvalidClient)?;
    let ok = match (creds, client.token_endpoint_auth_method) {
        (
            ClientCredentials::Basic { secret, .. } | ClientCredentials::Post { secret, .. },
            AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost,
        ) => client.secret_matches(secret.expose()),
        (
            ClientCredentials::Assertion { assertion, .. },
            AuthMethod::PrivateKeyJwt | AuthMethod::ClientSecretJwt,
        ) => match super::assertion::verify(store, &client, assertion.expose(), audiences, now) {
            Ok(()) => true,
            Err(super::assertion::AssertionError::Store(e)) => return Err(e.into()),
            Err(e) => {
                tracing::info!(client = %client.client_id, error = %e, "client assertion refused");
                false
            }
        },
        (ClientCredentials::Public { .. }, AuthMethod::None) => true,
        _ => false,
    };
    if ok {
        Ok(client)
    } else {
        Err(TokenError::InvalidClient)
    }
}

/// What grants need besides the request.
pub struct GrantCtx<'a> {
    pub authn: Ctx<'a>,
    pub tokens: &'a TokenSettings,
    pub issuer: &'a Issuer,
}

impl GrantCtx<'_> {
    fn store(&self) -> &dyn Store {
        self.authn.store
    }
    fn now(&self) -> Timestamp {
        self.authn.now
    }
    fn mint<'c>(&'c self, client: &'c Client) -> Mint<'c> {
        Mint {
            store: self.store(),
            issuer: self.issuer,
            client,
            now: self.now(),
        }
    }
}

/// The successful response body (RFC 6749 §5.1).
pub type TokenResponse = Value;

fn active_user(store: &dyn Store, id: &str) -> Result<User, TokenError> {
    store
        .user(id)?
        .filter(|u| matches!(u.status, UserStatus::Active | UserStatus::PasswordExpired))
        .ok_or_else(|| TokenError::InvalidGrant("The user is no longer active.".into()))
}

/// How long what a grant issues lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lifetimes {
    pub access: Duration,
    pub refresh_window: Duration,
    pub refresh_max: Option<Duration>,
}

/// The org server's settings, or what the first matching rule of a custom server's access
/// policies sets; no matching rule is `access_denied`.
pub fn decide(
    store: &dyn Store,
    issuer: &Issuer,
    tokens: &TokenSettings,
    client: &Client,
    grant: GrantType,
    user: Option<&User>,
    scopes: &[String],
) -> Result<Lifetimes, TokenError> {
    // A client that is an app (created through the Apps API) serves only the people assigned
    // to it, and only while it is active.
    if let Some(app) = store.app(&client.client_id)? {
        if app.status != crate::directory::apps::AppStatus::Active {
            return Err(TokenError::AccessDenied(
                "The client application is not active.".into(),
            ));
        }
        if let Some(u) = user {
            let assigned = crate::directory::apps::is_assigned(store, &app.id, &u.id)
                .map_err(|e| TokenError::Flow(e.to_string()))?;
            if !assigned {
                return Err(TokenError::AccessDenied(
                    "User is not assigned to the client application.".into(),
                ));
            }
        }
    }
    let Some(server) = &issuer.custom else {
        return Ok(Lifetimes {
            access: tokens.access_ttl,
            refresh_window: tokens.refresh_ttl,
            refresh_max: Some(tokens.refresh_ttl),
        });
    };
    let groups = match user {
        Some(u) => store.groups_of(&u.id)?,
        None => Vec::new(),
    };
    let request = AccessRequest {
        client_id: &client.client_id,
        grant,
        user: user.map(|u| (u.id.as_str(), groups.as_slice())),
        scopes,
    };
    let decision = policy::evaluate(server, &request).ok_or_else(|| {
        tracing::info!(server = %server.id, client = %client.client_id, grant = grant.as_str(), "no access policy rule matched");
        TokenError::AccessDenied(policy::DENIED.into())
    })?;
    Ok(Lifetimes {
        access: decision.access_ttl,
        refresh_window: decision.refresh_window,
        refresh_max: decision.refresh_max,
    })
}

/// Signs tokens for one client at one authorization server, adding the server's custom claims.
pub struct Mint<'a> {
    pub store: &'a dyn Store,
    pub issuer: &'a Issuer,
    pub client: &'a Client,
    pub now: Timestamp,
}

impl Mint<'_> {
    fn claims(
        &self,
        kind: ClaimType,
        user: Option<&User>,
        groups: &[String],
        scopes: &[String],
        only_always: bool,
    ) -> Map<String, Value> {
        let Some(server) = &self.issuer.custom else {
            return Map::new();
        };
        let inputs = ClaimInputs {
            user,
            groups,
            client_id: &self.client.client_id,
            client_name: &self.client.client_name,
            scopes,
        };
        claims::evaluate(server, kind, &inputs, only_always)
    }

    /// An access token for `user` (signed in at `auth_time`), or for the client itself.
    pub fn access(
        &self,
        user: Option<(&User, Timestamp)>,
        groups: &[String],
        scopes: &[String],
        ttl: Duration,
    ) -> Result<Issued, KeyError> {
        let extra = self.claims(
            ClaimType::Resource,
            user.map(|(u, _)| u),
            groups,
            scopes,
            false,
        );
        let principal = match user {
            Some((user, auth_time)) => Principal::User { user, auth_time },
            None => Principal::Client,
        };
        access_token(
            self.issuer.keys.signer(),
            AccessFacts {
                issuer: &self.issuer.url,
                audience: self.issuer.audience(),
                client_id: &self.client.client_id,
                principal,
                scopes,
                extra,
                ttl,
                profile: self
                    .issuer
                    .custom
                    .as_ref()
                    .map(|s| s.access_token_profile)
                    .unwrap_or_default(),
            },
            self.now,
        )
    }

    /// An ID token; `facts.extra` gets the server's identity claims (only those marked
    /// `alwaysIncludeInToken` when an access token is issued alongside).
    pub fn id_token(
        &self,
        user: &User,
        mut facts: IdTokenFacts<'_>,
        ttl: Duration,
    ) -> Result<String, KeyError> {
        facts.extra = self.claims(
            ClaimType::Identity,
            Some(user),
            facts.groups,
            facts.scopes,
            facts.access_token.is_some(),
        );
        id_token(self.issuer.keys.signer(), user, facts, self.now, ttl)
    }

    /// Userinfo's claims beyond `sub`: the scopes' standard claims and every identity claim.
    pub fn userinfo(
        &self,
        user: &User,
        groups: &[String],
        scopes: &[String],
    ) -> Map<String, Value> {
        let mut m = scope_claims(user, scopes, groups);
        for (k, v) in self.claims(ClaimType::Identity, Some(user), groups, scopes, false) {
            m.entry(k).or_insert(v);
        }
        m
    }
}

/// A sign-in being turned into tokens.
struct UserGrant<'a> {
    user: &'a User,
    scopes: &'a [String],
    auth_time: Timestamp,
    amr: &'a [String],
    nonce: Option<&'a str>,
    /// The refresh family to continue (rotation), if any.
    family: Option<String>,
    /// The grant that started it: rules are evaluated for it again on refresh.
    grant: GrantType,
    /// A family's end, carried over on rotation.
    max_until: Option<Timestamp>,
    /// The scopes policy rules are matched against, when not `scopes` (a confidential
    /// client's refresh issues without `offline_access` but was granted with it).
    rule_scopes: Option<&'a [String]>,
}

/// Tokens for a user: access token, ID token with `openid`, refresh token with
/// `offline_access` (when the client may refresh). Returns the body, the access token's jti
/// and the refresh family.
fn issue_for_user(
    ctx: &GrantCtx<'_>,
    client: &Client,
    g: UserGrant<'_>,
) -> Result<(TokenResponse, String, Option<String>), TokenError> {
    let now = ctx.now();
    let life = decide(
        ctx.store(),
        ctx.issuer,
        ctx.tokens,
        client,
        g.grant,
        Some(g.user),
        g.rule_scopes.unwrap_or(g.scopes),
    )?;
    let mint = ctx.mint(client);
    let groups = group_names(ctx.store(), &g.user.id)?;
    let at = mint.access(Some((g.user, g.auth_time)), &groups, g.scopes, life.access)?;
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": life.access.as_secs(),
        "access_token": at.token,
        "scope": g.scopes.join(" "),
    });
    if g.scopes.iter().any(|s| s == "openid") {
        let facts = IdTokenFacts {
            issuer: &ctx.issuer.url,
            client_id: &client.client_id,
            nonce: g.nonce,
            auth_time: g.auth_time,
            amr: g.amr,
            scopes: g.scopes,
            groups: &groups,
            access_token: Some(&at.token),
            code: None,
            extra: Map::new(),
        };
        body["id_token"] = json!(mint.id_token(g.user, facts, ctx.tokens.id_ttl)?);
    }
    let mut issued_family = None;
    if g.scopes.iter().any(|s| s == "offline_access")
        && client.allows_grant(GrantType::RefreshToken)
    {
        let family = g.family.unwrap_or_else(|| new_id("rtf"));
        let max_until = g
            .max_until
            .or_else(|| life.refresh_max.map(|m| now.plus(m)));
        let token = new_secret(32);
        let window_end = now.plus(life.refresh_window);
        ctx.store().put_refresh(
            &token.digest(),
            &RefreshRecord {
                server: ctx.issuer.id.clone(),
                family: family.clone(),
                client_id: ClientId::new(client.client_id.clone()),
                user_id: UserId::new(g.user.id.clone()),
                scopes: g.scopes.to_vec(),
                auth_time: g.auth_time,
                amr: g.amr.to_vec(),
                expires_at: max_until.map_or(window_end, |m| m.min(window_end)),
                rotated_at: None,
                issued: Some(now),
                grant: Some(g.grant),
                window_secs: Some(life.refresh_window.as_secs()),
                max_until,
                credential_epoch: g.user.credential_epoch,
            },
        )?;
        body["refresh_token"] = json!(token.expose());
        issued_family = Some(family);
    }
    Ok((body, at.jti, issued_family))
}

fn revoke_family(ctx: &GrantCtx<'_>, family: &str) -> Result<(), StoreError> {
    ctx.store().revoke(
        &format!("family:{family}"),
        ctx.now().plus(
            ctx.tokens
                .refresh_ttl
                .max(Duration::from_secs(5 * 365 * 86_400)),
        ),
    )
}

pub fn exchange(
    ctx: &GrantCtx<'_>,
    client: &Client,
    req: TokenRequest,
) -> Result<TokenResponse, TokenError> {
    match req {
        TokenRequest::AuthorizationCode {
            code,
            redirect_uri,
            code_verifier,
        } => authorization_code(
            ctx,
            client,
            code.expose(),
            redirect_uri.as_deref(),
            code_verifier.as_ref().map(Secret::expose),
        ),
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => refresh(ctx, client, refresh_token.expose(), scope.as_deref()),
        TokenRequest::ClientCredentials { scope } => {
            client_credentials(ctx, client, scope.as_deref())
        }
        TokenRequest::Password {
            username,
            password,
            scope,
        } => password_grant(ctx, client, &username, password.expose(), scope.as_deref()),
    }
}

/// Splits a `scope` parameter into names.
fn words(scope: Option<&str>) -> Vec<String> {
    scope
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}
