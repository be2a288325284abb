//! The org authorization server's protocol endpoints: authorize (sessions, prompt, response
//! modes), token (grants, client authentication), userinfo, introspect, revoke and logout.

use super::AppState;
use super::extract::{ClientAddr, cookie};
use super::oauth::Server;
use super::oauth_error::{Challenge, OAuthError};
use super::pages::{
    FormFlow, SESSION_COOKIE, csrf_matches, expired_session_cookie, render_form, safe_continue,
    session_cookie,
};
use super::rate_limit::{Attempt, Bucket};
use crate::authn::session::{end_session, exchange_session_token, find_session, use_session};
use crate::authz::consent;
use crate::clock::Timestamp;
use crate::crypto::{Secret, new_secret};
use crate::directory::OriginScope;
use crate::directory::trusted_origins::is_trusted;
use crate::oauth::authorization::{self, Answer, AuthorizeCtx, Decision, SignedIn};
use crate::oauth::authorize::{self, AuthorizeError, AuthorizeRequest, Reply};
use crate::oauth::grants::{self, ClientCredentials, GrantCtx, TokenError, TokenRequest};
use crate::oauth::issuer::Issuer;
use crate::oauth::par;
use crate::oauth::params::Params;
use crate::oauth::response::{Delivery, deliver, form_post_page, origin_of, post_message_page};
use crate::oauth::token_info::{self, BearerError};
use crate::paths;
use crate::records::ids::UserId;
use app::{ConsentRequest, ConsentScope, Notice, PageState, Problem, View};
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

/// Browser navigations: authorize, consent and logout, for the org and custom servers.
pub(super) fn navigation_routes() -> Router<AppState> {
    Router::new()
        .route(
            paths::OAUTH_AUTHORIZE,
            get(authorize_get).post(authorize_post),
        )
        .route(paths::AS_AUTHORIZE, get(authorize_get).post(authorize_post))
        .route(paths::OAUTH_LOGOUT, get(logout).post(logout_confirmed))
        .route(paths::AS_LOGOUT, get(logout).post(logout_confirmed))
        .route(paths::CONSENT, post(consent_answer))
}

/// Called by scripts on trusted origins (CORS is added by the caller).
pub(super) fn api_routes() -> Router<AppState> {
    Router::new()
        .route(paths::OAUTH_TOKEN, post(token))
        .route(paths::AS_TOKEN, post(token))
        .route(paths::OAUTH_USERINFO, get(userinfo).post(userinfo))
        .route(paths::AS_USERINFO, get(userinfo).post(userinfo))
        .route(paths::OAUTH_INTROSPECT, post(introspect))
        .route(paths::AS_INTROSPECT, post(introspect))
        .route(paths::OAUTH_REVOKE, post(revoke))
        .route(paths::AS_REVOKE, post(revoke))
}

pub(super) fn no_store(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

/// The error page for `problem`, in the language the browser asks for.
async fn error_page(state: &AppState, headers: &HeaderMap, problem: Problem) -> Response {
    super::pages::problem_page(state, headers, problem, StatusCode::BAD_REQUEST).await
}

/// The store could not answer: a page that says so, 503.
async fn unavailable_page(state: &AppState, headers: &HeaderMap, detail: &str) -> Response {
    tracing::error!(%detail, "authorization request failed: the store is unavailable");
    super::pages::problem_page(
        state,
        headers,
        Problem::Internal,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await
}

/// Sends `fields` to the client as its response mode asks.
fn respond(state: &AppState, reply: &Reply, fields: Vec<(String, String)>) -> Response {
    let nonce = new_secret(18).expose().to_owned();
    let response = match deliver(reply, fields) {
        Delivery::Redirect(url) => Redirect::to(&url).into_response(),
        Delivery::FormPost { action, fields } => {
            let mut r = Html(form_post_page(&action, &fields, &nonce)).into_response();
            let csp = format!(
                "default-src 'none'; script-src 'nonce-{nonce}'; form-action {}; frame-ancestors 'none'",
                origin_of(&action)
            );
            if let Ok(v) = HeaderValue::from_str(&csp) {
                r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
            }
            r
        }
        Delivery::PostMessage {
            target_origin,
            fields,
        } => {
            // The page may be framed only by the client's own origin, and only if the org
            // trusts it; elsewhere it loads nowhere and the caller times out.
            let framer = if is_trusted(state.store.as_ref(), &target_origin, OriginScope::Cors)
                || is_trusted(
                    state.store.as_ref(),
                    &target_origin,
                    OriginScope::IframeEmbed,
                ) {
                target_origin.clone()
            } else {
                "'none'".to_owned()
            };
            let mut r = Html(post_message_page(&target_origin, &fields, &nonce)).into_response();
            let csp =
                format!("default-src 'none'; script-src 'nonce-{nonce}'; frame-ancestors {framer}");
            if let Ok(v) = HeaderValue::from_str(&csp) {
                r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
            }
            r
        }
    };
    no_store(response)
}

/// An error for the client at its redirect URI (built where the authorization answers are).
fn error_fields(error: &'static str, description: &str) -> Vec<(String, String)> {
    Answer::Refused {
        error,
        description: description.to_owned(),
    }
    .into_fields()
}

async fn authorize_get(
    State(state): State<AppState>,
    Server(issuer): Server,
    uri: Uri,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let params = Params::parse(query.unwrap_or_default().as_bytes());
    authorize(state, issuer, uri, headers, params).await
}

async fn authorize_post(
    State(state): State<AppState>,
    Server(issuer): Server,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    authorize(state, issuer, uri, headers, Params::parse(&body)).await
}

async fn authorize(
    state: AppState,
    issuer: Arc<Issuer>,
    uri: Uri,
    headers: HeaderMap,
    params: Params,
) -> Response {
    let now = Timestamp::now();
    // A pushed request (RFC 9126): the parameters it was pushed with, taken once, stand in for
    // the query's.
    let pushed = par::names_pushed(&params);
    let params = if pushed {
        let (asked, from) = (params, Arc::clone(&issuer));
        let taken = state
            .blocking(move |s| par::take(s.store.as_ref(), &from, &asked, now))
            .await;
        match taken {
            Ok(Ok(Some(p))) => p,
            Ok(Ok(None)) => return error_page(&state, &headers, Problem::RequestExpired).await,
            Ok(Err(e)) => return unavailable_page(&state, &headers, &e.to_string()).await,
            Err(e) => return unavailable_page(&state, &headers, &e.to_string()).await,
        }
    } else {
        params
    };
    let req = match authorize::validate(state.store.as_ref(), &issuer, &params) {
        Ok(r) => r,
        Err(AuthorizeError::Page { problem }) => {
            return error_page(&state, &headers, problem).await;
        }
        Err(AuthorizeError::Redirect {
            reply,
            error,
            description,
        }) => {
            return respond(&state, &reply, error_fields(error, &description));
        }
        Err(AuthorizeError::Store(e)) => {
            tracing::error!(error = %e, "authorize failed");
            return error_page(&state, &headers, Problem::Internal).await;
        }
    };
    if req.client.require_pushed_authorization_requests && !pushed {
        return respond(
            &state,
            &req.reply,
            error_fields(
                "invalid_request",
                "This client must push its authorization requests first (RFC 9126).",
            ),
        );
    }
    // Sessions and codes are written (and flushed) on the blocking pool, in one hop.
    let sid = cookie(&headers, SESSION_COOKIE).map(str::to_owned);
    let (decider, asked) = (Arc::clone(&issuer), req.clone());
    let decided = state
        .blocking(move |s| {
            let (fresh, signed_in) = sign_in_of(s, &asked, sid.as_deref(), now)?;
            let ctx = AuthorizeCtx {
                store: s.store.as_ref(),
                issuer: &decider,
                tokens: &s.tokens,
                now,
            };
            Ok::<_, String>((fresh, authorization::decide(&ctx, &asked, signed_in)))
        })
        .await
        .map_err(|e| e.to_string())
        .and_then(|r| r);
    let (fresh, decision) = match decided {
        Ok(d) => d,
        Err(message) => {
            tracing::error!(error = %message, "finding the sign-in failed");
            return error_page(&state, &headers, Problem::Internal).await;
        }
    };
    let mut response = match decision {
        // The way back leaves out what will have been answered: `prompt` (by the sign-in or
        // the consent), the spent `sessionToken`, and `idp` (the provider is where the
        // person goes now).
        Ok(Decision::SignIn) => {
            let dropped = ["prompt", "sessionToken", "idp"];
            match way_back(&state, &issuer, &req, &params, &dropped, pushed, now).await {
                Ok(back) => login_redirect(&uri, &params, &back, &req),
                Err(e) => unavailable_page(&state, &headers, &e).await,
            }
        }
        Ok(Decision::AskConsent(scopes)) => {
            let dropped = ["prompt", "sessionToken"];
            match way_back(&state, &issuer, &req, &params, &dropped, pushed, now).await {
                Ok(back) => {
                    consent_page(&state, &issuer, &req, &uri, &back, &headers, scopes).await
                }
                Err(e) => unavailable_page(&state, &headers, &e).await,
            }
        }
        Ok(Decision::Answer(answer)) => respond(&state, &req.reply, answer.into_fields()),
        Err(e) => {
            tracing::error!(error = %e, detail = %e.description(), "issuing the authorization response failed");
            respond(&state, &req.reply, Answer::failed(&e).into_fields())
        }
    };
    if let Some(secret) = fresh {
        let c = session_cookie(&state, secret.expose());
        response.headers_mut().append(header::SET_COOKIE, c);
    }
    response
}

/// The sign-in a request can use: one made just now from its `sessionToken` (whose cookie the
/// response must set), or the browser's.
fn sign_in_of(
    s: &super::Services,
    req: &AuthorizeRequest,
    sid: Option<&str>,
    now: Timestamp,
) -> Result<(Option<Secret>, SignedIn), String> {
    let store = s.store.as_ref();
    if let Some(token) = &req.session_token {
        return Ok(
            match exchange_session_token(store, &s.sessions, now, token)
                .map_err(|e| e.to_string())?
            {
                Some((secret, session)) => (Some(secret), SignedIn::JustNow(session)),
                None => (None, SignedIn::Nobody),
            },
        );
    }
    let Some(sid) = sid else {
        return Ok((None, SignedIn::Nobody));
    };
    let session = use_session(store, &s.sessions, now, sid).map_err(|e| e.to_string())?;
    Ok((None, session.map_or(SignedIn::Nobody, SignedIn::Earlier)))
}

/// The parameters the browser comes back to the authorization endpoint with, after signing in
/// or consenting: the request's without `dropped`, or for a pushed request a new one-time
/// reference to them (`par::resume`), so they stay off the browser's address bar.
async fn way_back(
    state: &AppState,
    issuer: &Arc<Issuer>,
    req: &AuthorizeRequest,
    params: &HashMap<String, String>,
    dropped: &[&str],
    pushed: bool,
    now: Timestamp,
) -> Result<BTreeMap<String, String>, String> {
    let kept: BTreeMap<String, String> = params
        .iter()
        .filter(|(k, _)| !dropped.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !pushed {
        return Ok(kept);
    }
    let (issuer, client) = (Arc::clone(issuer), req.client.client_id.clone());
    state
        .blocking(move |s| par::resume(s.store.as_ref(), &issuer, &client, kept, now))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| e.to_string())
}

/// To the sign-in page, which returns here with `back` once the person has signed in.
fn login_redirect(
    uri: &Uri,
    params: &HashMap<String, String>,
    back: &BTreeMap<String, String>,
    req: &AuthorizeRequest,
) -> Response {
    let back = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(back)
        .finish();
    let from = format!("{}?{back}", uri.path());
    let mut login = url::form_urlencoded::Serializer::new(String::new());
    login.append_pair("fromURI", &from);
    // `idp`: straight to that identity provider instead of the sign-in page (Okta's).
    if let Some(idp) = params
        .get("idp")
        .filter(|i| !i.is_empty() && i.chars().all(|c| c.is_ascii_alphanumeric()))
    {
        let to = paths::SSO_IDP.replace("{id}", idp);
        return no_store(Redirect::to(&format!("{to}?{}", login.finish())).into_response());
    }
    if req.prompt.login || req.max_age.is_some() {
        login.append_pair("reauth", "1");
    }
    if let Some(hint) = req.login_hint.as_deref().filter(|h| !h.is_empty()) {
        login.append_pair("login_hint", hint);
    }
    no_store(Redirect::to(&format!("{}?{}", paths::LOGIN, login.finish())).into_response())
}

/// Client authentication for introspect and revoke (assertions may name the token endpoint or
/// the issuer as their audience).
fn authenticate(
    s: &super::Services,
    issuer: &Issuer,
    creds: &ClientCredentials,
) -> Result<crate::oauth::clients::Client, TokenError> {
    let token_url = issuer.endpoint("token");
    grants::authenticate_client(
        s.store.as_ref(),
        creds,
        &[token_url.as_str(), issuer.url.as_str()],
        Timestamp::now(),
    )
}

/// A client's form to a JSON endpoint (token, revoke, par): its parameters (none repeated),
/// the credentials it presents, and whether it used HTTP Basic (a refusal must challenge it);
/// or the refusal, in RFC 6749's format.
pub(super) fn client_form(
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(Params, ClientCredentials, bool), OAuthError> {
    let form = Params::parse(body);
    let basic = headers.contains_key(header::AUTHORIZATION);
    if let Some(d) = form.repeat_error() {
        return Err(OAuthError::token(&TokenError::InvalidRequest(d), basic));
    }
    match client_credentials(headers, &form) {
        Ok(creds) => Ok((form, creds, basic)),
        Err(e) => Err(OAuthError::token(&e, basic)),
    }
}

/// The client's credentials from HTTP Basic or the form (RFC 6749 §2.3.1).
fn client_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<ClientCredentials, TokenError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    if let Some(b64) = basic {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or(TokenError::InvalidClient)?;
        let unescape = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        // okta-auth-js names a public client as `Basic base64(client_id)`, without a colon;
        // Okta takes that as the client naming itself (it must then be a public client).
        let Some((id, secret)) = decoded.split_once(':') else {
            return Ok(ClientCredentials::Public {
                id: unescape(&decoded),
            });
        };
        return Ok(ClientCredentials::Basic {
            id: unescape(id),
            secret: Secret::new(unescape(secret)),
        });
    }
    if let Some(assertion) = form.get("client_assertion").filter(|v| !v.is_empty()) {
        if form.get("client_assertion_type").map(String::as_str)
            != Some(crate::oauth::assertion::ASSERTION_TYPE)
        {
            return Err(TokenError::InvalidClient);
        }
        let claimed =
            crate::oauth::assertion::claimed_client(assertion).ok_or(TokenError::InvalidClient)?;
        if form.get("client_id").is_some_and(|id| *id != claimed) {
            return Err(TokenError::InvalidClient);
        }
        return Ok(ClientCredentials::Assertion {
            id: claimed,
            assertion: Secret::new(assertion.as_str()),
        });
    }
    let id = form
        .get("client_id")
        .filter(|v| !v.is_empty())
        .cloned()
        .ok_or(TokenError::InvalidClient)?;
    Ok(match form.get("client_secret").filter(|v| !v.is_empty()) {
        Some(secret) => ClientCredentials::Post {
            id,
            secret: Secret::new(secret.as_str()),
        },
        None => ClientCredentials::Public { id },
    })
}

async fn token(
    State(state): State<AppState>,
    Server(issuer): Server,
    ClientAddr(addr): ClientAddr,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, creds, basic) = match client_form(&headers, &body) {
        Ok(parsed) => parsed,
        Err(refused) => return refused.into_response(),
    };
    let request = match TokenRequest::parse(&form) {
        Ok(r) => r,
        Err(e) => return OAuthError::token(&e, basic).into_response(),
    };
    let now = Timestamp::now();
    // A password grant is a password check like any other: the same limits apply.
    if let TokenRequest::Password { username, .. } = &request {
        let (login, from) = (username.clone(), addr.clone());
        let quotas = match (state.rate_limit(move |l| {
            [
                l.check(Bucket::Ip, &from, now),
                l.check_user(Attempt::SignIn, &login, &from, now),
            ]
        }))
        .await
        {
            Ok(q) => q,
            // Under /oauth2/ in RFC 6749's format, as every other answer of this endpoint.
            Err(e) => {
                return OAuthError::token(&TokenError::Flow(e.to_string()), basic).into_response();
            }
        };
        if let Some(over) = quotas.into_iter().find(|q| !q.allowed) {
            return over.exceeded();
        }
    }
    let result = state
        .blocking(move |s| {
            let token_url = issuer.endpoint("token");
            let client = grants::authenticate_client(
                s.store.as_ref(),
                &creds,
                &[token_url.as_str(), issuer.url.as_str()],
                now,
            )?;
            let ctx = GrantCtx {
                authn: s.ctx(now),
                tokens: &s.tokens,
                issuer: &issuer,
            };
            let grant = request.grant_type_name();
            let exchanged = grants::exchange(&ctx, &client, request);
            note_grant(&issuer, &client, grant, exchanged.as_ref().err());
            let body = exchanged?;
            s.store.flush()?;
            Ok::<_, TokenError>(body)
        })
        .await;
    match result {
        Ok(Ok(body)) => no_store(Json(body).into_response()),
        Ok(Err(e)) => OAuthError::token(&e, basic).into_response(),
        Err(e) => OAuthError::token(&TokenError::Flow(e.to_string()), basic).into_response(),
    }
}

/// Records a token request in the System Log: the org server's and a custom server's events
/// are named apart, as Okta's are.
fn note_grant(
    issuer: &crate::oauth::issuer::Issuer,
    client: &crate::oauth::clients::Client,
    grant: &str,
    failed: Option<&TokenError>,
) {
    let event_type = if issuer.custom.is_some() {
        "app.oauth2.as.token.grant"
    } else {
        "app.oauth2.token.grant"
    };
    let actor = crate::audit::LogEntity {
        id: client.client_id.clone(),
        kind: "PublicClientApp".into(),
        alternate_id: Some(client.client_id.clone()),
        display_name: Some(client.client_name.clone()),
    };
    let outcome = if failed.is_some() {
        "FAILURE"
    } else {
        "SUCCESS"
    };
    let mut e = crate::audit::event(event_type, "OAuth2 token grant request", actor, outcome);
    e.reason = failed.map(ToString::to_string);
    e.client_id = Some(client.client_id.clone());
    e.targets = vec![crate::audit::LogEntity {
        id: issuer.id.clone(),
        kind: "AuthorizationServer".into(),
        alternate_id: Some(issuer.url.clone()),
        display_name: Some(grant.to_owned()),
    }];
    crate::audit::note(e);
}

/// OIDC Core §5.3. The access token comes in the `Authorization` header or, for a POST, as
/// the form's `access_token` (RFC 6750 §2.2) — never in the query, where logs keep it.
async fn userinfo(
    State(state): State<AppState>,
    Server(issuer): Server,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let from_header = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_owned());
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    let from_body = || {
        let form = Params::parse(&body);
        form.get("access_token").filter(|t| !t.is_empty()).cloned()
    };
    let token = match from_header {
        // RFC 6750 §2: one method per request.
        Some(_) if is_form && from_body().is_some() => {
            return OAuthError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "The access token was sent in more than one way.",
            )
            .into_response();
        }
        Some(t) => Some(t),
        None if is_form => from_body(),
        None => None,
    };
    let Some(token) = token else {
        let mut r = no_store(StatusCode::UNAUTHORIZED.into_response());
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"portcullis\""),
        );
        return r;
    };
    let answer = state
        .blocking(move |s| {
            token_info::userinfo(s.store.as_ref(), &issuer, &token, Timestamp::now())
        })
        .await;
    match answer {
        Ok(Ok(claims)) => no_store(Json(Value::Object(claims)).into_response()),
        Ok(Err(BearerError::InvalidToken(why))) => {
            OAuthError::new(StatusCode::UNAUTHORIZED, "invalid_token", &why)
                .with(Challenge::Bearer)
                .into_response()
        }
        Ok(Err(BearerError::InsufficientScope(why))) => {
            OAuthError::new(StatusCode::FORBIDDEN, "insufficient_scope", why)
                .with(Challenge::Bearer)
                .into_response()
        }
        Ok(Err(BearerError::Store(e))) => {
            OAuthError::token(&TokenError::Store(e), false).into_response()
        }
        Err(e) => OAuthError::token(&TokenError::Flow(e.to_string()), false).into_response(),
    }
}

/// RFC 7662. The caller must be a registered client (public clients name themselves).
async fn introspect(
    State(state): State<AppState>,
    Server(issuer): Server,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut form = Params::parse(&body);
    let query = Params::parse(query.unwrap_or_default().as_bytes());
    if let Some(id) = query.get("client_id") {
        form.add_missing("client_id", id);
    }
    let basic = headers.contains_key(header::AUTHORIZATION);
    if let Some(d) = form.repeat_error().or_else(|| query.repeat_error()) {
        return OAuthError::token(&TokenError::InvalidRequest(d), basic).into_response();
    }
    let creds = match client_credentials(&headers, &form) {
        Ok(c) => c,
        Err(e) => return OAuthError::token(&e, basic).into_response(),
    };
    let Some(token) = form.get("token").filter(|t| !t.is_empty()).cloned() else {
        return OAuthError::token(
            &TokenError::InvalidRequest("The 'token' parameter is required.".into()),
            basic,
        )
        .into_response();
    };
    // One hop to the blocking pool for every store read; a store that cannot answer is a
    // 503, never a token reported inactive by mistake.
    let answer = state
        .blocking(move |s| introspection(s, &issuer, &creds, &token))
        .await;
    match answer {
        Ok(Ok(body)) => no_store(Json(body).into_response()),
        Ok(Err(e)) => OAuthError::token(&e, basic).into_response(),
        Err(e) => OAuthError::token(&TokenError::Flow(e.to_string()), basic).into_response(),
    }
}

/// What introspection says of `token` to the client `creds` authenticate.
fn introspection(
    s: &super::Services,
    issuer: &Issuer,
    creds: &ClientCredentials,
    token: &str,
) -> Result<Value, TokenError> {
    let client = authenticate(s, issuer, creds)?;
    Ok(token_info::introspect(
        s.store.as_ref(),
        issuer,
        &client,
        token,
        Timestamp::now(),
    )?)
}

/// RFC 7009: always 200 for a token the client may revoke, known or not.
async fn revoke(
    State(state): State<AppState>,
    Server(issuer): Server,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (form, creds, basic) = match client_form(&headers, &body) {
        Ok(parsed) => parsed,
        Err(refused) => return refused.into_response(),
    };
    let token = form.get("token").filter(|t| !t.is_empty()).cloned();
    // Client authentication and the revocation's writes (and flush) on the blocking pool.
    let outcome = state
        .blocking(move |s| {
            let client = authenticate(s, &issuer, &creds)?;
            let token = token.ok_or_else(|| {
                TokenError::InvalidRequest("The 'token' parameter is required.".into())
            })?;
            token_info::revoke(s.store.as_ref(), &issuer, &client, &token, Timestamp::now())?;
            Ok::<_, TokenError>(())
        })
        .await;
    match outcome {
        Ok(Ok(())) => no_store(StatusCode::OK.into_response()),
        Ok(Err(e)) => OAuthError::token(&e, basic).into_response(),
        Err(e) => OAuthError::token(&TokenError::Flow(e.to_string()), basic).into_response(),
    }
}

/// RP-initiated logout: ends the session, then returns to a registered post-logout URI. The
/// hint must name the person signed in here: any ID token of this issuer (an old one, the
/// caller's own) would otherwise sign out whoever opens the link, so for anyone else the
/// person is asked first, with a form that only this site can submit.
async fn logout(
    State(state): State<AppState>,
    Server(issuer): Server,
    headers: HeaderMap,
    uri: Uri,
    RawQuery(query): RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let q = Params::parse(query.as_bytes());
    let (subject, target) = match logout_request(&state, &issuer, &q) {
        Ok(found) => found,
        Err(problem) => return error_page(&state, &headers, problem).await,
    };
    let session = match cookie(&headers, SESSION_COOKIE) {
        Some(sid) => find_session(state.store.as_ref(), Timestamp::now(), sid),
        None => Ok(None),
    };
    match session {
        Ok(Some(s)) if s.user_id != subject => {
            let mut page = super::pages::base_page(&state, &headers, &uri, View::Continue);
            page.notice = Notice::ConfirmSignOut;
            let flow = FormFlow::Logout(&query);
            render_form(&state, &headers, uri.path(), flow, page, StatusCode::OK).await
        }
        Ok(_) => sign_out_to(&state, &headers, &target),
        Err(e) => {
            tracing::error!(error = %e, "reading the session at logout failed");
            error_page(&state, &headers, Problem::Internal).await
        }
    }
}

/// The confirmation of a logout that named someone else: the person pressed the button.
async fn logout_confirmed(
    State(state): State<AppState>,
    Server(issuer): Server,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let form = Params::parse(&body);
    let csrf = form.get(app::fields::CSRF).map(String::as_str);
    let query = query.unwrap_or_default();
    if !csrf_matches(
        &state,
        &headers,
        csrf.unwrap_or_default(),
        FormFlow::Logout(&query),
    ) {
        return error_page(&state, &headers, Problem::FormExpired).await;
    }
    let q = Params::parse(query.as_bytes());
    match logout_request(&state, &issuer, &q) {
        Ok((_, target)) => sign_out_to(&state, &headers, &target),
        Err(problem) => error_page(&state, &headers, problem).await,
    }
}

/// The subject of a logout request's verified `id_token_hint` (expired ones count: the
/// point is who, not whether still valid) and where to send the browser afterwards.
fn logout_request(
    state: &AppState,
    issuer: &Issuer,
    q: &Params,
) -> Result<(String, String), Problem> {
    if q.repeated().is_some() {
        return Err(Problem::RepeatedParameter);
    }
    let hint = q.get("id_token_hint").filter(|h| !h.is_empty());
    let hint = hint.ok_or(Problem::LogoutHintMissing)?;
    let claims = issuer
        .keys
        .verify(hint, &issuer.url, true)
        .map_err(|_| Problem::LogoutUnverified)?;
    let subject = claims["sub"].as_str().unwrap_or_default().to_owned();
    let client_id = claims["aud"].as_str().unwrap_or_default();
    let Some(uri) = q.get("post_logout_redirect_uri").filter(|u| !u.is_empty()) else {
        return Ok((subject, paths::SIGNED_OUT.to_owned()));
    };
    let client = state.store.client(client_id).ok().flatten();
    if !client.is_some_and(|c| c.post_logout_redirect_uris.iter().any(|r| r == uri)) {
        return Err(Problem::UnregisteredRedirect);
    }
    let mut target = uri.clone();
    if let Some(s) = q.get("state") {
        let sep = if target.contains('?') { '&' } else { '?' };
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        ser.append_pair("state", s);
        target = format!("{target}{sep}{}", ser.finish());
    }
    Ok((subject, target))
}

/// Ends the browser's session (if any) and sends it to `target`.
fn sign_out_to(state: &AppState, headers: &HeaderMap, target: &str) -> Response {
    let ended = cookie(headers, SESSION_COOKIE).map(|sid| end_session(state.store.as_ref(), sid));
    if let Some(Err(e)) = ended {
        tracing::error!(error = %e, "ending a session at logout failed");
    }
    let mut r = no_store(Redirect::to(target).into_response());
    r.headers_mut()
        .append(header::SET_COOKIE, expired_session_cookie(state));
    r
}

/// The authorization request to come back to after consent: its path and `back` (see
/// `way_back`).
fn resume_request(uri: &Uri, back: &BTreeMap<String, String>) -> String {
    let q = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(back)
        .finish();
    format!("{}?{q}", uri.path())
}

/// Asks the person to agree to `scopes` for the requesting client.
async fn consent_page(
    state: &AppState,
    issuer: &Issuer,
    req: &AuthorizeRequest,
    uri: &Uri,
    back: &BTreeMap<String, String>,
    headers: &HeaderMap,
    scopes: Vec<String>,
) -> Response {
    let described = scopes
        .iter()
        .map(|name| {
            let scope = issuer.custom.as_ref().and_then(|s| s.scope(name));
            ConsentScope {
                name: name.clone(),
                label: scope.map_or(name.as_str(), |s| s.label()).to_owned(),
                description: scope.map(|s| s.description.clone()).unwrap_or_default(),
            }
        })
        .collect();
    let page = super::pages::base_page(state, headers, uri, View::Consent);
    let request = resume_request(uri, back);
    let flow = FormFlow::Consent(&request);
    let page = PageState {
        consent: Some(ConsentRequest {
            client_name: req.client.client_name.clone(),
            scopes: described,
            request: request.clone(),
        }),
        ..page
    };
    no_store(render_form(state, headers, uri.path(), flow, page, StatusCode::OK).await)
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct ConsentForm {
    csrf: String,
    request: String,
    decision: String,
}

/// The server id an authorization request's path names (`None`: the org server).
fn server_of(path: &str) -> Option<Option<String>> {
    if path == paths::OAUTH_AUTHORIZE {
        return Some(None);
    }
    let id = path
        .strip_prefix("/oauth2/")?
        .strip_suffix("/v1/authorize")?;
    (!id.is_empty() && !id.contains('/')).then(|| Some(id.to_owned()))
}

/// The person's answer on the consent screen: a yes is remembered and the authorization request
/// continues; a no goes back to the client as `access_denied`.
async fn consent_answer(
    State(state): State<AppState>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<ConsentForm>,
) -> Response {
    if !csrf_matches(
        &state,
        &headers,
        &form.csrf,
        FormFlow::Consent(&form.request),
    ) {
        return error_page(&state, &headers, Problem::ConsentExpired).await;
    }
    let Some((path, query)) = safe_continue(&form.request)
        .as_deref()
        .and_then(|r| r.split_once('?'))
        .map(|(p, q)| (p.to_owned(), q.to_owned()))
    else {
        return error_page(&state, &headers, Problem::ConsentInvalid).await;
    };
    let issuer = match server_of(&path) {
        Some(id) => match state.issuer(id.as_deref()).await {
            Ok(found) => found,
            Err(e) => {
                tracing::error!(error = %e, "loading the authorization server failed");
                return error_page(&state, &headers, Problem::Internal).await;
            }
        },
        None => None,
    };
    let Some(issuer) = issuer else {
        return error_page(&state, &headers, Problem::ConsentInvalid).await;
    };
    let now = Timestamp::now();
    let mut params = Params::parse(query.as_bytes());
    // The way back of a pushed request names it; what is agreed to is what it holds.
    if par::names_pushed(&params) {
        params = match par::peek(state.store.as_ref(), &issuer, &params, now) {
            Ok(Some(p)) => p,
            Ok(None) => return error_page(&state, &headers, Problem::RequestExpired).await,
            Err(e) => return unavailable_page(&state, &headers, &e.to_string()).await,
        };
    }
    let req = match authorize::validate(state.store.as_ref(), &issuer, &params) {
        Ok(r) => r,
        Err(_) => return error_page(&state, &headers, Problem::ConsentInvalid).await,
    };
    let session = cookie(&headers, SESSION_COOKIE)
        .and_then(|sid| use_session(state.store.as_ref(), &state.sessions, now, sid).ok())
        .flatten();
    let Some(session) = session else {
        return error_page(&state, &headers, Problem::SignedOutMeanwhile).await;
    };
    if form.decision != "allow" {
        return respond(
            &state,
            &req.reply,
            error_fields(
                "access_denied",
                "The resource owner or authorization server denied the request.",
            ),
        );
    }
    // Recorded and flushed on the blocking pool: a disk flush must not stall the async workers.
    let recorded = match issuer.custom.clone() {
        Some(server) => {
            let (client, user, scopes) = (
                req.client.clone(),
                session.user_id.clone(),
                req.scopes.clone(),
            );
            state
                .blocking(move |s| {
                    let store = s.store.as_ref();
                    consent::agree(store, &server, &client, &UserId::new(user), &scopes, now)?;
                    store.flush()
                })
                .await
                .map_err(|e| crate::store::StoreError::Backend(e.to_string()))
                .and_then(|r| r)
        }
        None => Ok(()),
    };
    if let Err(e) = recorded {
        tracing::error!(error = %e, "recording consent failed");
        return error_page(&state, &headers, Problem::Internal).await;
    }
    no_store(Redirect::to(&format!("{path}?{query}")).into_response())
}
