//! The token endpoint's grants. A request is parsed once into [`TokenRequest`]; the client is
//! authenticated by the method it registered; each grant checks what RFC 6749 asks of it.

use super::clients::{AuthMethod, Client, GrantType};
use super::keys::{KeyError, KeyRing};
use super::tokens::{
    CodeRecord, IdTokenFacts, Principal, RefreshRecord, TokenSettings, access_token, id_token,
};
use crate::authn::flow::{self, Ctx, FlowError, Outcome};
use crate::authn::transaction::TxOptions;
use crate::clock::Timestamp;
use crate::crypto::{Secret, new_id, new_secret};
use crate::directory::groups::group_names;
use crate::directory::{User, UserStatus};
use crate::store::{CodeUse, Store, StoreError};
use serde_json::{Value, json};
use std::collections::HashMap;

/// A token request, by `grant_type`.
#[derive(Debug)]
pub enum TokenRequest {
    AuthorizationCode {
        code: String,
        redirect_uri: Option<String>,
        code_verifier: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
        scope: Option<String>,
    },
    ClientCredentials {
        scope: Option<String>,
    },
    Password {
        username: String,
        password: String,
        scope: Option<String>,
    },
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
    #[error("server_error")]
    Store(#[from] StoreError),
    #[error("server_error")]
    Key(#[from] KeyError),
    #[error("server_error")]
    Flow(String),
}

impl TokenError {
    pub fn description(&self) -> String {
        match self {
            TokenError::InvalidRequest(d)
            | TokenError::InvalidGrant(d)
            | TokenError::UnauthorizedClient(d)
            | TokenError::InvalidScope(d) => d.clone(),
            TokenError::InvalidClient => "Client authentication failed.".into(),
            TokenError::UnsupportedGrantType => "The grant type is not supported.".into(),
            TokenError::Store(_) | TokenError::Key(_) | TokenError::Flow(_) => {
                "The server could not complete the request.".into()
            }
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
        match form(f, "grant_type") {
            Some("authorization_code") => Ok(Self::AuthorizationCode {
                code: need("code")?,
                redirect_uri: opt("redirect_uri"),
                code_verifier: opt("code_verifier"),
            }),
            Some("refresh_token") => Ok(Self::RefreshToken {
                refresh_token: need("refresh_token")?,
                scope: opt("scope"),
            }),
            Some("client_credentials") => Ok(Self::ClientCredentials {
                scope: opt("scope"),
            }),
            Some("password") => Ok(Self::Password {
                username: need("username")?,
                password: need("password")?,
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
    Basic { id: String, secret: String },
    /// `client_id` and `client_secret` in the form (`client_secret_post`).
    Post { id: String, secret: String },
    /// A public client naming itself.
    Public { id: String },
    /// A signed client assertion (`private_key_jwt`).
    Assertion { id: String, assertion: String },
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
        ) => client.secret_matches(secret),
        (
            ClientCredentials::Assertion { assertion, .. },
            AuthMethod::PrivateKeyJwt | AuthMethod::ClientSecretJwt,
        ) => match super::assertion::verify(store, &client, assertion, audiences, now) {
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
    pub keys: &'a KeyRing,
    pub issuer: &'a str,
}

impl GrantCtx<'_> {
    fn store(&self) -> &dyn Store {
        self.authn.store
    }
    fn now(&self) -> Timestamp {
        self.authn.now
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

/// Tokens for a user: access token, ID token with `openid`, refresh token with
/// `offline_access` (when the client may refresh). Returns the body, the access token's jti
/// and the refresh family.
#[allow(clippy::too_many_arguments)]
fn issue_for_user(
    ctx: &GrantCtx<'_>,
    client: &Client,
    user: &User,
    scopes: &[String],
    auth_time: Timestamp,
    amr: &[String],
    nonce: Option<&str>,
    family: Option<String>,
) -> Result<(TokenResponse, String, Option<String>), TokenError> {
    let signer = ctx.keys.signer();
    let now = ctx.now();
    let at = access_token(
        signer,
        ctx.issuer,
        &client.client_id,
        &Principal::User { user, auth_time },
        scopes,
        now,
        ctx.tokens.access_ttl,
    )?;
    let mut body = json!({
        "token_type": "Bearer",
        "expires_in": ctx.tokens.access_ttl.as_secs(),
        "access_token": at.token,
        "scope": scopes.join(" "),
    });
    if scopes.iter().any(|s| s == "openid") {
        let groups = group_names(ctx.store(), &user.id)?;
        let facts = IdTokenFacts {
            issuer: ctx.issuer,
            client_id: &client.client_id,
            nonce,
            auth_time,
            amr,
            scopes,
            groups: &groups,
            access_token: Some(&at.token),
            code: None,
        };
        body["id_token"] = json!(id_token(signer, user, &facts, now, ctx.tokens.id_ttl)?);
    }
    let mut issued_family = None;
    if scopes.iter().any(|s| s == "offline_access") && client.allows_grant(GrantType::RefreshToken)
    {
        let family = family.unwrap_or_else(|| new_id("rtf"));
        let token = new_secret(32);
        ctx.store().put_refresh(
            &token.digest(),
            &RefreshRecord {
                family: family.clone(),
                client_id: client.client_id.clone(),
                user_id: user.id.clone(),
                scopes: scopes.to_vec(),
                auth_time,
                amr: amr.to_vec(),
                expires_at: now.plus(ctx.tokens.refresh_ttl),
                rotated_at: None,
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
        ctx.now().plus(ctx.tokens.refresh_ttl),
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
            &code,
            redirect_uri.as_deref(),
            code_verifier.as_deref(),
        ),
        TokenRequest::RefreshToken {
            refresh_token,
            scope,
        } => refresh(ctx, client, &refresh_token, scope.as_deref()),
        TokenRequest::ClientCredentials { scope } => {
            client_credentials(ctx, client, scope.as_deref())
        }
        TokenRequest::Password {
            username,
            password,
            scope,
        } => password_grant(ctx, client, &username, &password, scope.as_deref()),
    }
}

fn authorization_code(
    ctx: &GrantCtx<'_>,
    client: &Client,
    code: &str,
    redirect_uri: Option<&str>,
    verifier: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    if !client.allows_grant(GrantType::AuthorizationCode) {
        return Err(TokenError::UnauthorizedClient(
            "The client may not use the authorization code grant.".into(),
        ));
    }
    let digest = Secret::new(code).digest();
    let invalid =
        || TokenError::InvalidGrant("The authorization code is invalid or has expired.".into());
    let mut record: CodeRecord = match ctx.store().use_code(&digest)? {
        CodeUse::Missing => return Err(invalid()),
        CodeUse::Replayed(r) => {
            // A code used twice was stolen or leaked: revoke what its first use issued.
            tracing::warn!(client = %r.client_id, "authorization code replayed; revoking its tokens");
            if let Some(jti) = &r.issued_jti {
                ctx.store()
                    .revoke(jti, ctx.now().plus(ctx.tokens.access_ttl))?;
            }
            if let Some(f) = &r.issued_family {
                revoke_family(ctx, f)?;
            }
            return Err(invalid());
        }
        CodeUse::Fresh(r) => r,
    };
    if record.expires_at <= ctx.now() || record.client_id != client.client_id {
        return Err(invalid());
    }
    if redirect_uri != Some(record.redirect_uri.as_str()) {
        return Err(TokenError::InvalidGrant(
            "The redirect_uri does not match the authorization request.".into(),
        ));
    }
    match (&record.challenge, verifier) {
        (Some(c), Some(v)) if c.verify(v) => {}
        (Some(_), _) => return Err(TokenError::InvalidGrant("PKCE verification failed.".into())),
        (None, Some(_)) => {
            return Err(TokenError::InvalidGrant(
                "A code_verifier was sent but no code_challenge was.".into(),
            ));
        }
        (None, None) => {}
    }
    let user = active_user(ctx.store(), &record.user_id)?;
    let (body, jti, family) = issue_for_user(
        ctx,
        client,
        &user,
        &record.scopes,
        record.auth_time,
        &record.amr,
        record.nonce.as_deref(),
        None,
    )?;
    record.issued_jti = Some(jti);
    record.issued_family = family;
    ctx.store().put_code(&digest, &record)?;
    Ok(body)
}

fn narrow(granted: &[String], requested: Option<&str>) -> Result<Vec<String>, TokenError> {
    let Some(requested) = requested else {
        return Ok(granted.to_vec());
    };
    let asked: Vec<String> = requested.split_whitespace().map(str::to_owned).collect();
    if let Some(extra) = asked.iter().find(|s| !granted.contains(s)) {
        return Err(TokenError::InvalidScope(format!(
            "The scope '{extra}' was not granted."
        )));
    }
    Ok(asked)
}

fn refresh(
    ctx: &GrantCtx<'_>,
    client: &Client,
    token: &str,
    scope: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    if !client.allows_grant(GrantType::RefreshToken) {
        return Err(TokenError::UnauthorizedClient(
            "The client may not use refresh tokens.".into(),
        ));
    }
    let invalid = || TokenError::InvalidGrant("The refresh token is invalid or expired.".into());
    let digest = Secret::new(token).digest();
    let mut record = ctx.store().refresh(&digest)?.ok_or_else(invalid)?;
    if record.expires_at <= ctx.now()
        || record.client_id != client.client_id
        || ctx
            .store()
            .is_revoked(&format!("family:{}", record.family))?
    {
        return Err(invalid());
    }
    if let Some(rotated) = record.rotated_at {
        let grace_ends = rotated.plus(ctx.tokens.refresh_grace);
        if ctx.now() > grace_ends {
            tracing::warn!(client = %client.client_id, "rotated refresh token reused; revoking the family");
            revoke_family(ctx, &record.family)?;
            return Err(invalid());
        }
    }
    let scopes = narrow(&record.scopes, scope)?;
    let user = active_user(ctx.store(), &record.user_id)?;
    if client.is_public() {
        // Rotate: this token is replaced; reusing it after the grace window revokes the family.
        if record.rotated_at.is_none() {
            record.rotated_at = Some(ctx.now());
            ctx.store().put_refresh(&digest, &record)?;
        }
        let mut scopes_with_offline = scopes.clone();
        if !scopes_with_offline.iter().any(|s| s == "offline_access") {
            scopes_with_offline.push("offline_access".into());
        }
        let (body, _, _) = issue_for_user(
            ctx,
            client,
            &user,
            &scopes_with_offline,
            record.auth_time,
            &record.amr,
            None,
            Some(record.family.clone()),
        )?;
        return Ok(body);
    }
    let without_refresh: Vec<String> = scopes
        .iter()
        .filter(|s| *s != "offline_access")
        .cloned()
        .collect();
    let (mut body, _, _) = issue_for_user(
        ctx,
        client,
        &user,
        &without_refresh,
        record.auth_time,
        &record.amr,
        None,
        None,
    )?;
    body["refresh_token"] = json!(token);
    body["scope"] = json!(scopes.join(" "));
    Ok(body)
}

fn client_credentials(
    ctx: &GrantCtx<'_>,
    client: &Client,
    scope: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    if !client.allows_grant(GrantType::ClientCredentials) || client.is_public() {
        return Err(TokenError::UnauthorizedClient(
            "The client may not use client credentials.".into(),
        ));
    }
    let scopes: Vec<String> = scope
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if let Some(s) = scopes.first() {
        // The org server has only user scopes; custom authorization servers define API scopes.
        return Err(TokenError::InvalidScope(format!(
            "The scope '{s}' is not available to client credentials on this authorization server."
        )));
    }
    let at = access_token(
        ctx.keys.signer(),
        ctx.issuer,
        &client.client_id,
        &Principal::Client,
        &scopes,
        ctx.now(),
        ctx.tokens.access_ttl,
    )?;
    Ok(json!({
        "token_type": "Bearer",
        "expires_in": ctx.tokens.access_ttl.as_secs(),
        "access_token": at.token,
        "scope": "",
    }))
}

/// Resource owner password: for trusted clients registered for it; no MFA, so a user whose
/// sign-in needs another step cannot use it.
fn password_grant(
    ctx: &GrantCtx<'_>,
    client: &Client,
    username: &str,
    password: &str,
    scope: Option<&str>,
) -> Result<TokenResponse, TokenError> {
    if !client.allows_grant(GrantType::Password) {
        return Err(TokenError::UnauthorizedClient(
            "The client may not use the password grant.".into(),
        ));
    }
    let scopes: Vec<String> = scope
        .unwrap_or("openid")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    if let Some(bad) = scopes
        .iter()
        .find(|s| !super::authorize::SCOPES.contains(&s.as_str()))
    {
        return Err(TokenError::InvalidScope(format!(
            "The scope '{bad}' is not known."
        )));
    }
    let completed = match flow::primary(&ctx.authn, username, password, TxOptions::default()) {
        Ok(Outcome::Success(c)) => c,
        Ok(Outcome::Pending(p)) => {
            flow::cancel(&ctx.authn, &p.state_token)
                .map_err(|e| TokenError::Flow(e.to_string()))?;
            return Err(TokenError::InvalidGrant(
                "This account needs another sign-in step (such as MFA); use the authorization code flow.".into(),
            ));
        }
        Ok(Outcome::LockedOut | Outcome::Unlocked(_)) | Err(FlowError::AuthenticationFailed) => {
            return Err(TokenError::InvalidGrant(
                "The credentials provided were invalid.".into(),
            ));
        }
        Err(e) => return Err(TokenError::Flow(e.to_string())),
    };
    // The one-time session token is not needed: spend it.
    let _ = crate::authn::session::redeem_session_token(
        ctx.store(),
        ctx.now(),
        completed.session_token.expose(),
    );
    let (body, _, _) = issue_for_user(
        ctx,
        client,
        &completed.user,
        &scopes,
        ctx.now(),
        &completed.amr,
        None,
        None,
    )?;
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::AuthnSettings;
    use crate::crypto::PasswordHasher;
    use crate::directory::users::{Activation, NewUser, create_user};
    use crate::directory::{PasswordPolicy, Profile};
    use crate::oauth::clients::{ApplicationType, Registration, register};
    use crate::store::SledStore;

    struct Fx {
        _dir: tempfile::TempDir,
        store: SledStore,
        hasher: PasswordHasher,
        authn: AuthnSettings,
        policy: PasswordPolicy,
        tokens: TokenSettings,
        keys: KeyRing,
        client: Client,
        user: User,
    }

    impl Fx {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let store = SledStore::open(dir.path()).unwrap();
            let hasher = PasswordHasher::with_params(64, 1, 1).unwrap();
            let t0 = Timestamp::from_millis(0);
            let user = create_user(
                &store,
                &hasher,
                &PasswordPolicy::default(),
                t0,
                NewUser {
                    profile: Profile {
                        login: "r@example.com".into(),
                        email: "r@example.com".into(),
                        first_name: "R".into(),
                        last_name: "T".into(),
                    },
                    password: Some("Passw0rd-X".into()),
                },
                Activation::Activate,
            )
            .unwrap();
            let (client, _) = register(
                Registration {
                    application_type: Some(ApplicationType::Browser),
                    redirect_uris: vec!["http://localhost/cb".into()],
                    grant_types: vec!["authorization_code".into(), "refresh_token".into()],
                    ..Registration::default()
                },
                "spa".into(),
                t0,
            )
            .unwrap();
            store.put_client(&client).unwrap();
            let keys = KeyRing::load(&store, "org", t0).unwrap();
            Self {
                _dir: dir,
                store,
                hasher,
                authn: AuthnSettings::default(),
                policy: PasswordPolicy::default(),
                tokens: TokenSettings::default(),
                keys,
                client,
                user,
            }
        }

        fn ctx(&self, secs: u64) -> GrantCtx<'_> {
            GrantCtx {
                authn: Ctx {
                    store: &self.store,
                    hasher: &self.hasher,
                    settings: &self.authn,
                    policy: &self.policy,
                    now: Timestamp::from_millis(0).plus(std::time::Duration::from_secs(secs)),
                },
                tokens: &self.tokens,
                keys: &self.keys,
                issuer: "https://id.example",
            }
        }

        fn refresh(&self, secs: u64, token: &str) -> Result<TokenResponse, TokenError> {
            exchange(
                &self.ctx(secs),
                &self.client,
                TokenRequest::RefreshToken {
                    refresh_token: token.to_owned(),
                    scope: None,
                },
            )
        }
    }

    #[test]
    fn reusing_a_rotated_refresh_token_after_the_grace_window_revokes_the_family() {
        let fx = Fx::new();
        let scopes = vec!["openid".to_owned(), "offline_access".to_owned()];
        let amr = vec!["pwd".to_owned()];
        let (first, _, _) = issue_for_user(
            &fx.ctx(0),
            &fx.client,
            &fx.user,
            &scopes,
            Timestamp::from_millis(0),
            &amr,
            None,
            None,
        )
        .unwrap();
        let r1 = first["refresh_token"].as_str().unwrap().to_owned();
        let second = fx.refresh(10, &r1).unwrap();
        let r2 = second["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(r1, r2);
        assert!(fx.refresh(30, &r1).is_ok(), "within the grace window");
        assert!(
            matches!(fx.refresh(41, &r1), Err(TokenError::InvalidGrant(_))),
            "after it"
        );
        assert!(
            matches!(fx.refresh(42, &r2), Err(TokenError::InvalidGrant(_))),
            "the whole family is revoked, the newest token too"
        );
    }

    #[test]
    fn refresh_tokens_expire_and_belong_to_their_client() {
        let fx = Fx::new();
        let scopes = vec!["offline_access".to_owned()];
        let (first, _, _) = issue_for_user(
            &fx.ctx(0),
            &fx.client,
            &fx.user,
            &scopes,
            Timestamp::from_millis(0),
            &[],
            None,
            None,
        )
        .unwrap();
        let r1 = first["refresh_token"].as_str().unwrap();
        let too_late = fx.tokens.refresh_ttl.as_secs() + 1;
        assert!(matches!(
            fx.refresh(too_late, r1),
            Err(TokenError::InvalidGrant(_))
        ));
        let mut other = fx.client.clone();
        other.client_id = "someone-else".into();
        let res = exchange(
            &fx.ctx(1),
            &other,
            TokenRequest::RefreshToken {
                refresh_token: r1.to_owned(),
                scope: None,
            },
        );
        assert!(matches!(res, Err(TokenError::InvalidGrant(_))));
    }
}
