//! What a holder of a token may ask of it: the person's claims (userinfo, OIDC Core §5.3),
//! whether it is live (introspection, RFC 7662), and that it end (revocation, RFC 7009).

use super::clients::Client;
use super::grants::Mint;
use super::issuer::Issuer;
use super::tokens::RefreshRecord;
use crate::clock::Timestamp;
use crate::crypto::{Digest, Secret};
use crate::directory::groups::group_names;
use crate::store::{Store, StoreError};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// The claims of an access token this server issued — signature, issuer, audience, expiry,
/// revocation — or why it is not one (outer `Err`: the store could not say whether it was
/// revoked).
pub fn access_token_claims(
    store: &dyn Store,
    issuer: &Issuer,
    token: &str,
) -> Result<Result<Value, String>, StoreError> {
    let claims = match issuer.keys.verify(token, &issuer.url, false) {
        Ok(c) => c,
        Err(e) => return Ok(Err(e.0)),
    };
    let jti = claims["jti"].as_str().unwrap_or_default();
    if !jti.starts_with("AT.") {
        return Ok(Err("not an access token".into()));
    }
    if !issuer.audience_matches(&claims["aud"]) {
        return Ok(Err("the token is for another audience".into()));
    }
    if store.is_revoked(jti)? {
        return Ok(Err("the token was revoked".into()));
    }
    Ok(Ok(claims))
}

/// Why userinfo refuses (RFC 6750 §3.1).
#[derive(Debug, thiserror::Error)]
pub enum BearerError {
    #[error("invalid_token")]
    InvalidToken(String),
    #[error("insufficient_scope")]
    InsufficientScope(&'static str),
    #[error("the store could not answer: {0}")]
    Store(#[from] StoreError),
}

/// The claims userinfo returns for the access token `token`.
pub fn userinfo(
    store: &dyn Store,
    issuer: &Issuer,
    token: &str,
    now: Timestamp,
) -> Result<Map<String, Value>, BearerError> {
    let claims = access_token_claims(store, issuer, token)?
        .map_err(|why| BearerError::InvalidToken(format!("The access token is invalid: {why}.")))?;
    let scopes: Vec<String> = claims["scp"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if !scopes.iter().any(|s| s == "openid") {
        return Err(BearerError::InsufficientScope(
            "The access token must include the openid scope.",
        ));
    }
    let gone = |what: &str| BearerError::InvalidToken(what.to_owned());
    let uid = claims["uid"].as_str().unwrap_or_default();
    let user = store
        .user(uid)?
        .ok_or_else(|| gone("The user is no longer available."))?;
    let cid = claims["cid"].as_str().unwrap_or_default();
    let client = store
        .client(cid)?
        .ok_or_else(|| gone("The client is no longer registered."))?;
    let mint = Mint {
        store,
        issuer,
        client: &client,
        now,
    };
    let groups = group_names(store, &user.id)?;
    let mut body = Map::new();
    body.insert("sub".into(), Value::String(user.id.clone()));
    body.extend(mint.userinfo(&user, &groups, &scopes));
    Ok(body)
}

/// What introspection tells `client` of `token`: one of its own live access or refresh tokens,
/// or `{"active": false}` for anything else — never whose a token of another client is.
pub fn introspect(
    store: &dyn Store,
    issuer: &Issuer,
    client: &Client,
    token: &str,
    now: Timestamp,
) -> Result<Value, StoreError> {
    let inactive = json!({ "active": false });
    match access_token_claims(store, issuer, token)? {
        Ok(claims) if claims["cid"] != client.client_id.as_str() => return Ok(inactive),
        Ok(claims) => {
            let scope = claims["scp"].as_array().map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
            });
            let mut body = json!({
                "active": true,
                "token_type": "Bearer",
                "scope": scope,
                "client_id": claims["cid"], "username": claims["sub"], "sub": claims["sub"],
                "exp": claims["exp"], "iat": claims["iat"], "iss": claims["iss"],
                "aud": claims["aud"], "jti": claims["jti"],
            });
            if let Some(uid) = claims.get("uid") {
                body["uid"] = uid.clone();
            }
            return Ok(body);
        }
        Err(_) => {}
    }
    let digest = Secret::new(token).digest();
    let Some(r) = store.refresh(&digest)? else {
        return Ok(inactive);
    };
    let live = r.client_id == client.client_id
        && r.server == issuer.id
        && r.expires_at > now
        && !store.is_revoked(&format!("family:{}", r.family))?;
    if !live {
        return Ok(inactive);
    }
    let user = store.user(r.user_id.as_str())?;
    if user
        .as_ref()
        .is_none_or(|u| u.credential_epoch != r.credential_epoch)
    {
        return Ok(inactive);
    }
    Ok(json!({
        "active": true,
        "token_type": "refresh_token",
        "scope": r.scopes.join(" "),
        "client_id": r.client_id,
        "username": user.map(|u| u.profile.login),
        "uid": r.user_id,
        "exp": r.expires_at.millis() / 1000,
    }))
}

/// Ends `token` if it is one of `client`'s: an access token is listed as revoked until it
/// would have expired; a refresh token ends with its whole family. Anything else is ignored,
/// as RFC 7009 §2.2 asks.
pub fn revoke(
    store: &dyn Store,
    issuer: &Issuer,
    client: &Client,
    token: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    if let Ok(claims) = issuer.keys.verify(token, &issuer.url, false) {
        let jti = claims["jti"]
            .as_str()
            .filter(|_| claims["cid"] == client.client_id.as_str());
        if let Some(jti) = jti {
            let exp = claims["exp"].as_i64().unwrap_or(0) * 1000;
            store.revoke(jti, Timestamp::from_millis(exp))?;
        }
        return Ok(());
    }
    let digest = Secret::new(token).digest();
    if let Some(r) = store
        .refresh(&digest)?
        .filter(|r| r.client_id == client.client_id && r.server == issuer.id)
    {
        end_refresh_token(store, &digest, &r, now)?;
    }
    Ok(())
}

/// Ends the refresh token stored under `digest` and, with it, its whole family (the tokens
/// it was rotated into), on every node.
pub fn end_refresh_token(
    store: &dyn Store,
    digest: &Digest,
    r: &RefreshRecord,
    now: Timestamp,
) -> Result<(), StoreError> {
    store.revoke(
        &format!("family:{}", r.family),
        r.expires_at.max(now.plus(Duration::from_secs(60))),
    )?;
    store.delete_refresh(digest)
}
