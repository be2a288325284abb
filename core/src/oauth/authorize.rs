//! Parsing and validating an authorization request, in the order RFC 6749 §4.1.2.1 requires:
//! until the client and its exact `redirect_uri` are known, errors are shown on a page and never
//! redirected; after that they go back to the client in its response mode.

use super::clients::{Client, GrantType, ResponseType};
use super::issuer::Issuer;
use super::params::Params;
use super::pkce::{Challenge, ChallengeError};
use crate::authz::policy;
use crate::store::{Store, StoreError};
use std::collections::HashMap;

/// Scopes the org server knows.
pub const SCOPES: [&str; 7] = [
    "openid",
    "profile",
    "email",
    "address",
    "phone",
    "offline_access",
    "groups",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
    /// Okta's: an HTML page that posts the response to the opener or parent window.
    OktaPostMessage,
}

impl ResponseMode {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "query" => Some(Self::Query),
            "fragment" => Some(Self::Fragment),
            "form_post" => Some(Self::FormPost),
            "okta_post_message" => Some(Self::OktaPostMessage),
            _ => None,
        }
    }
}

/// Where and how to answer the client, once its redirect URI is trusted.
#[derive(Debug, Clone)]
pub struct Reply {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub state: Option<String>,
    /// The issuer answering (RFC 9207's `iss`): several issuers share clients here, so a
    /// client can tell which one answered and not send a code to the wrong one.
    pub issuer: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Prompt {
    pub none: bool,
    pub login: bool,
    pub consent: bool,
}

/// A request that passed validation.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    pub client: Client,
    pub reply: Reply,
    pub response_type: ResponseType,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub prompt: Prompt,
    pub max_age: Option<u64>,
    pub challenge: Option<Challenge>,
    pub login_hint: Option<String>,
    pub session_token: Option<String>,
}

#[derive(Debug)]
pub enum AuthorizeError {
    /// The client or redirect URI cannot be trusted: explain on a page, redirect nowhere.
    Page {
        problem: proto::Problem,
    },
    /// Sent back to the client (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6).
    Redirect {
        reply: Reply,
        error: &'static str,
        description: String,
    },
    Store(StoreError),
}

impl From<StoreError> for AuthorizeError {
    fn from(e: StoreError) -> Self {
        AuthorizeError::Store(e)
    }
}

fn param<'a>(p: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    p.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

pub fn validate(
    store: &dyn Store,
    issuer: &Issuer,
    p: &Params,
) -> Result<AuthorizeRequest, AuthorizeError> {
    let page = |problem: proto::Problem| AuthorizeError::Page { problem };
    // A second client_id or redirect_uri leaves no address that can be trusted with an answer.
    if matches!(p.repeated(), Some("client_id" | "redirect_uri")) {
        return Err(page(proto::Problem::RepeatedParameter));
    }
    let client_id = param(p, "client_id").ok_or_else(|| page(proto::Problem::MissingClient))?;
    let client = store
        .client(client_id)?
        .ok_or_else(|| page(proto::Problem::UnknownClient))?;
    let redirect_uri =
        param(p, "redirect_uri").ok_or_else(|| page(proto::Problem::MissingRedirect))?;
    if !client.has_redirect_uri(redirect_uri) {
        return Err(page(proto::Problem::UnregisteredRedirect));
    }
    let response_type = param(p, "response_type").and_then(ResponseType::parse);
    let state = p.get("state").cloned();
    // Until the response type is known, answer in the query (or fragment for tokens).
    let fallback_mode = match response_type {
        Some(rt) if rt.issues_tokens() => ResponseMode::Fragment,
        _ => ResponseMode::Query,
    };
    let reply_with = |mode| Reply {
        redirect_uri: redirect_uri.to_owned(),
        mode,
        state: state.clone(),
        issuer: issuer.url.clone(),
    };
    let fail = |mode, error: &'static str, description: &str| AuthorizeError::Redirect {
        reply: reply_with(mode),
        error,
        description: description.to_owned(),
    };
    if let Some(description) = p.repeat_error() {
        return Err(fail(fallback_mode, "invalid_request", &description));
    }
    let Some(response_type) = response_type else {
        return Err(fail(
            fallback_mode,
            "unsupported_response_type",
            "The response type is missing or not supported.",
        ));
    };
    let mode = match param(p, "response_mode") {
        None => fallback_mode,
        Some(m) => ResponseMode::parse(m).ok_or_else(|| {
            fail(
                fallback_mode,
                "unsupported_response_mode",
                "The response mode is not supported.",
            )
        })?,
    };
    if mode == ResponseMode::Query && !response_type.only_code() {
        return Err(fail(
            ResponseMode::Fragment,
            "unsupported_response_mode",
            "Tokens may not be returned in the query.",
        ));
    }
    let uses_code = response_type.code;
    let uses_tokens = response_type.issues_tokens();
    if !client
        .response_types
        .iter()
        .any(|r| r == response_type.as_str())
        || (uses_code && !client.allows_grant(GrantType::AuthorizationCode))
        || (uses_tokens && !uses_code && !client.allows_grant(GrantType::Implicit))
    {
        return Err(fail(
            mode,
            "unauthorized_client",
            "The client is not allowed to use this response type.",
        ));
    }
    let asked: Vec<String> = param(p, "scope")
        .unwrap_or_default()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let scopes = match &issuer.custom {
        Some(server) => policy::resolve_scopes(server, &asked)
            .map_err(|why| fail(mode, "invalid_scope", &why))?,
        None => {
            if let Some(bad) = asked.iter().find(|s| !SCOPES.contains(&s.as_str())) {
                return Err(fail(
                    mode,
                    "invalid_scope",
                    &format!("The scope '{bad}' is not known."),
                ));
            }
            if asked.is_empty() {
                return Err(fail(mode, "invalid_scope", "The request has no scope."));
            }
            asked
        }
    };
    let openid = scopes.iter().any(|s| s == "openid");
    if response_type.id_token && !openid {
        return Err(fail(
            mode,
            "invalid_scope",
            "An ID token needs the 'openid' scope.",
        ));
    }
    let nonce = p.get("nonce").cloned().filter(|n| !n.is_empty());
    if response_type.id_token && nonce.is_none() {
        return Err(fail(
            mode,
            "invalid_request",
            "The 'nonce' parameter is required for this response type.",
        ));
    }
    let challenge = match (param(p, "code_challenge"), uses_code) {
        (Some(c), true) => Some(
            Challenge::parse(c, param(p, "code_challenge_method")).map_err(|e| {
                let msg = match e {
                    ChallengeError::UnsupportedMethod => "PKCE code_challenge_method must be S256.",
                    ChallengeError::Malformed => "The PKCE code_challenge is malformed.",
                };
                fail(mode, "invalid_request", msg)
            })?,
        ),
        (None, true) if client.is_public() => {
            return Err(fail(
                mode,
                "invalid_request",
                "PKCE code challenge is required for a public client.",
            ));
        }
        _ => None,
    };
    let mut prompt = Prompt::default();
    for word in param(p, "prompt").unwrap_or_default().split_whitespace() {
        match word {
            "none" => prompt.none = true,
            "login" => prompt.login = true,
            "consent" => prompt.consent = true,
            other => {
                return Err(fail(
                    mode,
                    "invalid_request",
                    &format!("The prompt value '{other}' is not supported."),
                ));
            }
        }
    }
    if prompt.none && (prompt.login || prompt.consent) {
        return Err(fail(
            mode,
            "invalid_request",
            "prompt=none cannot be combined with other values.",
        ));
    }
    let max_age = match param(p, "max_age") {
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            fail(
                mode,
                "invalid_request",
                "max_age must be a number of seconds.",
            )
        })?),
        None => None,
    };
    Ok(AuthorizeRequest {
        client,
        reply: reply_with(mode),
        response_type,
        scopes,
        nonce,
        prompt,
        max_age,
        challenge,
        login_hint: p.get("login_hint").cloned(),
        session_token: p.get("sessionToken").cloned().filter(|t| !t.is_empty()),
    })
}
