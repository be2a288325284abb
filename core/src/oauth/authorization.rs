//! What a valid authorization request comes to once the browser's sign-in is known: a sign-in
//! first, a question of consent, or the answer for the client — a code, tokens, or an error in
//! RFC 6749 §4.1.2.1's terms. The edge only renders the decision.

use super::authorize::AuthorizeRequest;
use super::clients::GrantType;
use super::grants::{self, Mint, TokenError};
use super::issuer::Issuer;
use super::tokens::{CodeRecord, IdTokenFacts, TokenSettings};
use crate::authn::Session;
use crate::authz::consent;
use crate::clock::Timestamp;
use crate::crypto::new_secret;
use crate::directory::groups::group_names;
use crate::records::ids::{ClientId, UserId};
use crate::store::{Store, StoreError};

/// Who the request comes from.
pub enum SignedIn {
    /// Signed in by this very request's `sessionToken`: no reason to ask again.
    JustNow(Session),
    /// The browser's session from an earlier sign-in.
    Earlier(Session),
    Nobody,
}

/// What the edge does with the request.
#[derive(Debug)]
pub enum Decision {
    /// Send the person to the sign-in page, which returns to the request.
    SignIn,
    /// Ask the person to agree to these scopes first.
    AskConsent(Vec<String>),
    /// Answer the client at its redirect URI.
    Answer(Answer),
}

/// The response parameters for the client.
#[derive(Debug)]
pub enum Answer {
    /// The code and/or tokens the response type asks for.
    Granted(Vec<(String, String)>),
    /// An error code and its description.
    Refused {
        error: &'static str,
        description: String,
    },
}

impl Answer {
    fn refused(error: &'static str, description: &str) -> Decision {
        Decision::Answer(Answer::Refused {
            error,
            description: description.to_owned(),
        })
    }

    /// When the server itself failed: `temporarily_unavailable` when the store may answer
    /// again soon, `server_error` otherwise.
    pub fn failed(e: &TokenError) -> Self {
        let error = match e {
            TokenError::Store(StoreError::Unavailable(_)) | TokenError::Busy => {
                "temporarily_unavailable"
            }
            _ => "server_error",
        };
        Answer::Refused {
            error,
            description: "The server could not complete the request.".to_owned(),
        }
    }

    /// The fields of the response, whichever it is.
    pub fn into_fields(self) -> Vec<(String, String)> {
        match self {
            Answer::Granted(fields) => fields,
            Answer::Refused { error, description } => vec![
                ("error".to_owned(), error.to_owned()),
                ("error_description".to_owned(), description),
            ],
        }
    }
}

/// What deciding needs besides the request.
pub struct AuthorizeCtx<'a> {
    pub store: &'a dyn Store,
    pub issuer: &'a Issuer,
    pub tokens: &'a TokenSettings,
    pub now: Timestamp,
}

/// `prompt` and `max_age` first, then the access policy, consent, and the code and tokens.
pub fn decide(
    ctx: &AuthorizeCtx<'_>,
    req: &AuthorizeRequest,
    signed_in: SignedIn,
) -> Result<Decision, TokenError> {
    let session = match signed_in {
        SignedIn::JustNow(s) => s,
        SignedIn::Earlier(s) if !needs_sign_in_again(req, &s, ctx.now) => s,
        SignedIn::Earlier(_) | SignedIn::Nobody if req.prompt.none => {
            return Ok(Answer::refused(
                "login_required",
                "The client specified not to prompt, but the user is not logged in.",
            ));
        }
        SignedIn::Earlier(_) | SignedIn::Nobody => return Ok(Decision::SignIn),
    };
    match issue(ctx, req, &session)? {
        Issue::Denied(why) => Ok(Answer::refused("access_denied", &why)),
        Issue::AskConsent(_) if req.prompt.none => Ok(Answer::refused(
            "consent_required",
            "The client specified not to prompt, but the user has not consented to the requested scopes.",
        )),
        Issue::AskConsent(scopes) => Ok(Decision::AskConsent(scopes)),
        Issue::Granted(fields) => Ok(Decision::Answer(Answer::Granted(fields))),
    }
}

/// `prompt=login`, or a `max_age` the last password check is older than.
fn needs_sign_in_again(req: &AuthorizeRequest, s: &Session, now: Timestamp) -> bool {
    let too_old = req.max_age.is_some_and(|max| {
        let age_ms = now.millis() - s.last_password_verification.millis();
        age_ms > i64::try_from(max.saturating_mul(1000)).unwrap_or(i64::MAX)
    });
    req.prompt.login || too_old
}

enum Issue {
    Granted(Vec<(String, String)>),
    /// No access policy rule allows it (custom servers), or the person is not assigned.
    Denied(String),
    AskConsent(Vec<String>),
}

/// Makes what the response type asks for — a code, tokens, or both — once the server's access
/// policy and the person's consent allow it.
fn issue(
    ctx: &AuthorizeCtx<'_>,
    req: &AuthorizeRequest,
    session: &Session,
) -> Result<Issue, TokenError> {
    let store = ctx.store;
    let user = store
        .user(&session.user_id)?
        .ok_or_else(|| TokenError::Flow("the session's user is gone".into()))?;
    let grant = if req.response_type.code {
        GrantType::AuthorizationCode
    } else {
        GrantType::Implicit
    };
    let life = match grants::decide(
        store,
        ctx.issuer,
        ctx.tokens,
        &req.client,
        grant,
        Some(&user),
        &req.scopes,
    ) {
        Ok(l) => l,
        Err(TokenError::AccessDenied(why)) => return Ok(Issue::Denied(why)),
        Err(e) => return Err(e),
    };
    if let Some(server) = &ctx.issuer.custom {
        let needed = consent::needed(
            store,
            server,
            &req.client,
            &user.id,
            &req.scopes,
            req.prompt.consent,
        )?;
        if !needed.is_empty() {
            return Ok(Issue::AskConsent(needed));
        }
    }
    let mut fields = Vec::new();
    let mut code_value = None;
    if req.response_type.code {
        let code = new_secret(32);
        store.put_code(
            &code.digest(),
            &CodeRecord {
                server: ctx.issuer.id.clone(),
                client_id: ClientId::new(req.client.client_id.clone()),
                redirect_uri: req.reply.redirect_uri.clone(),
                user_id: UserId::new(user.id.clone()),
                scopes: req.scopes.clone(),
                nonce: req.nonce.clone(),
                challenge: req.challenge.clone(),
                auth_time: session.last_password_verification,
                amr: session.amr.clone(),
                expires_at: ctx.now.plus(ctx.tokens.code_ttl),
                used: false,
                issued_jti: None,
                issued_family: None,
                credential_epoch: session.credential_epoch,
                sessions_epoch: session.sessions_epoch,
            },
        )?;
        fields.push(("code".to_owned(), code.expose().to_owned()));
        code_value = Some(code.expose().to_owned());
    }
    let mint = Mint {
        store,
        issuer: ctx.issuer,
        client: &req.client,
        now: ctx.now,
    };
    // A store that cannot list the groups fails the request: a token without its groups claim
    // would be wrong, not smaller.
    let groups = group_names(store, &user.id)?;
    let mut access = None;
    if req.response_type.token {
        let at = mint.access(
            Some((&user, session.last_password_verification)),
            &groups,
            &req.scopes,
            life.access,
        )?;
        fields.push(("access_token".into(), at.token.clone()));
        fields.push(("token_type".into(), "Bearer".into()));
        fields.push(("expires_in".into(), life.access.as_secs().to_string()));
        fields.push(("scope".into(), req.scopes.join(" ")));
        access = Some(at.token);
    }
    if req.response_type.id_token {
        let facts = IdTokenFacts {
            issuer: &ctx.issuer.url,
            client_id: &req.client.client_id,
            nonce: req.nonce.as_deref(),
            auth_time: session.last_password_verification,
            amr: &session.amr,
            scopes: &req.scopes,
            groups: &groups,
            access_token: access.as_deref(),
            code: code_value.as_deref(),
            extra: serde_json::Map::new(),
        };
        fields.push((
            "id_token".into(),
            mint.id_token(&user, facts, ctx.tokens.id_ttl)?,
        ));
    }
    Ok(Issue::Granted(fields))
}
