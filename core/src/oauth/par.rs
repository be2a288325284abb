//! Pushed authorization requests (RFC 9126): a client sends its authorization request straight
//! to the server, authenticated, and gets back a short-lived, one-time `request_uri` to send
//! the browser with instead. Nothing of the request travels through the browser, so nobody can
//! read or change it there.
//!
//! The authorization endpoint takes the pushed request once. When the person still has to sign
//! in or consent, the request is kept again under a new one-time reference for the way back,
//! so the browser's address never carries more than the client id and a reference.

use super::authorize::{self, AuthorizeError};
use super::clients::Client;
use super::issuer::Issuer;
use super::params::Params;
use crate::clock::Timestamp;
use crate::crypto::{Digest, new_secret};
use crate::records::ids::ClientId;
use crate::records::oauth::PushedRequest;
use crate::store::{Store, StoreError};
use std::collections::BTreeMap;
use std::time::Duration;

/// What every `request_uri` this server hands out begins with (RFC 9126 §2.2).
pub const URN: &str = "urn:ietf:params:oauth:request_uri:";
/// How long a pushed request waits for its browser.
pub const LIFETIME: Duration = Duration::from_secs(60);
/// How long a request the authorization endpoint has taken waits for the person to sign in
/// or consent.
pub const RESUME: Duration = Duration::from_secs(30 * 60);

/// What a client may not push: its credentials (checked, not kept) and a `request_uri`.
const NOT_KEPT: [&str; 3] = ["client_secret", "client_assertion", "client_assertion_type"];

/// Why a push was refused, in RFC 6749's terms (the authorization endpoint's error codes).
#[derive(Debug)]
pub enum PushError {
    Invalid {
        error: &'static str,
        description: String,
    },
    Store(StoreError),
}

fn invalid(description: &str) -> PushError {
    PushError::Invalid {
        error: "invalid_request",
        description: description.to_owned(),
    }
}

/// Checks the request `client` pushed as the authorization endpoint will check it, and keeps
/// it: the `request_uri` to send the browser with, and how many seconds it lasts.
pub fn push(
    store: &dyn Store,
    issuer: &Issuer,
    client: &Client,
    params: &Params,
    now: Timestamp,
) -> Result<(String, u64), PushError> {
    if let Some(description) = params.repeat_error() {
        return Err(invalid(&description));
    }
    if params.contains_key("request_uri") {
        return Err(invalid("A pushed request cannot name a request_uri."));
    }
    // What looks sealed would be kept as it is and fail to open later.
    if params
        .get("sessionToken")
        .is_some_and(|t| crate::crypto::at_rest::is_sealed(t))
    {
        return Err(invalid("The sessionToken is not valid."));
    }
    if params
        .get("client_id")
        .is_some_and(|id| *id != client.client_id)
    {
        return Err(invalid(
            "The client_id of the request is not the client that pushed it.",
        ));
    }
    let mut kept: BTreeMap<String, String> = params
        .iter()
        .filter(|(k, _)| !NOT_KEPT.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    kept.insert("client_id".to_owned(), client.client_id.clone());
    // Refused now, to the client, rather than later in the person's browser.
    match authorize::validate(store, issuer, &as_params(&kept)) {
        Ok(_) => {}
        Err(AuthorizeError::Page { problem }) => {
            return Err(invalid(match problem {
                proto::Problem::MissingRedirect => "The 'redirect_uri' parameter is required.",
                proto::Problem::UnregisteredRedirect => {
                    "The redirect_uri is not registered for this client."
                }
                _ => "The authorization request is not valid.",
            }));
        }
        Err(AuthorizeError::Redirect {
            error, description, ..
        }) => return Err(PushError::Invalid { error, description }),
        Err(AuthorizeError::Store(e)) => return Err(PushError::Store(e)),
    }
    let uri =
        keep(store, issuer, &client.client_id, kept, LIFETIME, now).map_err(PushError::Store)?;
    Ok((uri, LIFETIME.as_secs()))
}

/// Whether `params` name a pushed request (rather than being the request themselves).
pub fn names_pushed(params: &Params) -> bool {
    params
        .get("request_uri")
        .is_some_and(|u| u.starts_with(URN))
}

/// The pushed request `params` name, taken (it is used once); `None` when it is unknown,
/// used, expired, or was pushed by another client or to another server. Only a visit for the
/// right client at the right server spends it: anyone else who saw the reference cannot use
/// it up.
pub fn take(
    store: &dyn Store,
    issuer: &Issuer,
    params: &Params,
    now: Timestamp,
) -> Result<Option<Params>, StoreError> {
    let Some(digest) = digest_of(params) else {
        return Ok(None);
    };
    if usable(store.pushed_request(&digest)?, issuer, params, now).is_none() {
        return Ok(None);
    }
    // A record never changes once kept, so what was checked is what is taken (or nothing,
    // when another visit took it first).
    let taken = store.take_pushed_request(&digest)?;
    Ok(usable(taken, issuer, params, now))
}

/// The pushed request `params` name, left in place (the consent screen checks what it
/// continues; the authorization endpoint takes it afterwards).
pub fn peek(
    store: &dyn Store,
    issuer: &Issuer,
    params: &Params,
    now: Timestamp,
) -> Result<Option<Params>, StoreError> {
    let Some(digest) = digest_of(params) else {
        return Ok(None);
    };
    let found = store.pushed_request(&digest)?;
    Ok(usable(found, issuer, params, now))
}

/// Keeps a taken request again for the browser's way back after signing in or consenting:
/// the parameters to come back with, the client id and a new one-time `request_uri`.
pub fn resume(
    store: &dyn Store,
    issuer: &Issuer,
    client_id: &str,
    params: BTreeMap<String, String>,
    now: Timestamp,
) -> Result<BTreeMap<String, String>, StoreError> {
    let uri = keep(store, issuer, client_id, params, RESUME, now)?;
    Ok(BTreeMap::from([
        ("client_id".to_owned(), client_id.to_owned()),
        ("request_uri".to_owned(), uri),
    ]))
}

fn keep(
    store: &dyn Store,
    issuer: &Issuer,
    client_id: &str,
    params: BTreeMap<String, String>,
    life: Duration,
    now: Timestamp,
) -> Result<String, StoreError> {
    let reference = new_secret(32);
    store.put_pushed_request(
        &Digest::of(reference.expose()),
        &PushedRequest {
            server: issuer.id.clone(),
            client_id: ClientId::new(client_id),
            params,
            expires_at: now.plus(life),
        },
    )?;
    Ok(format!("{URN}{}", reference.expose()))
}

fn digest_of(params: &Params) -> Option<Digest> {
    let reference = params.get("request_uri")?.strip_prefix(URN)?;
    (!reference.is_empty()).then(|| Digest::of(reference))
}

fn usable(
    found: Option<PushedRequest>,
    issuer: &Issuer,
    params: &Params,
    now: Timestamp,
) -> Option<Params> {
    let r = found?;
    let same_client = params.get("client_id").map(String::as_str) == Some(r.client_id.as_str());
    (same_client && r.server == issuer.id && r.expires_at > now).then(|| as_params(&r.params))
}

fn as_params(map: &BTreeMap<String, String>) -> Params {
    Params::from(
        map.iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<std::collections::HashMap<_, _>>(),
    )
}
