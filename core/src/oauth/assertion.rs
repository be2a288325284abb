//! JWT client authentication (RFC 7523 §2.2, OIDC Core §9): `private_key_jwt`, signed with the
//! client's private key and checked against its registered public keys, and
//! `client_secret_jwt`, an HMAC with the client's secret. Either way the audience, expiry and a
//! single-use `jti` are checked.

use super::clients::Client;
use crate::clock::Timestamp;
use crate::store::{Store, StoreError};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::Value;

pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Parses a registered JWK set: public RSA or EC signing keys only.
pub fn parse_jwks(set: &Value) -> Result<JwkSet, String> {
    let parsed: JwkSet =
        serde_json::from_value(set.clone()).map_err(|e| format!("not a JWK set: {e}"))?;
    if parsed.keys.is_empty() {
        return Err("the JWK set has no keys".into());
    }
    for k in &parsed.keys {
        if DecodingKey::from_jwk(k).is_err() {
            return Err("every key must be a public RSA or EC signing key".into());
        }
    }
    Ok(parsed)
}

#[derive(Debug, thiserror::Error)]
pub enum AssertionError {
    #[error("the client assertion is invalid: {0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The client id an assertion claims to come from (`iss`), read before verification to find
/// the client's keys.
pub fn claimed_client(assertion: &str) -> Option<String> {
    let payload = assertion.split('.').nth(1)?;
    let bytes =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    v["iss"].as_str().map(str::to_owned)
}

/// Verifies `assertion` for `client`; its `aud` must be one of `audiences` (the token endpoint
/// URL or the issuer).
pub fn verify(
    store: &dyn Store,
    client: &Client,
    assertion: &str,
    audiences: &[&str],
    now: Timestamp,
) -> Result<(), AssertionError> {
    let bad = |why: &str| AssertionError::Invalid(why.to_owned());
    let header = jsonwebtoken::decode_header(assertion).map_err(|e| bad(&e.to_string()))?;
    let keys: Vec<DecodingKey> = match (&client.hmac_secret, &client.jwks) {
        (Some(secret), _) => {
            if !matches!(
                header.alg,
                Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512
            ) {
                return Err(bad(
                    "client_secret_jwt assertions use HS256, HS384 or HS512",
                ));
            }
            vec![DecodingKey::from_secret(secret.expose().as_bytes())]
        }
        (None, Some(set)) => {
            if !matches!(
                header.alg,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::ES256
                    | Algorithm::ES384
                    | Algorithm::PS256
            ) {
                return Err(bad("unsupported algorithm"));
            }
            let set = parse_jwks(set).map_err(|e| bad(&e))?;
            set.keys
                .iter()
                .filter(|k| header.kid.is_none() || k.common.key_id == header.kid)
                .filter_map(|k| DecodingKey::from_jwk(k).ok())
                .collect()
        }
        (None, None) => return Err(bad("the client has no registered keys")),
    };
    let mut v = Validation::new(header.alg);
    v.set_audience(audiences);
    v.set_issuer(&[client.client_id.as_str()]);
    v.sub = Some(client.client_id.clone());
    v.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
    v.leeway = 30;
    let claims = keys
        .iter()
        .find_map(|key| jsonwebtoken::decode::<Value>(assertion, key, &v).ok())
        .ok_or_else(|| bad("no registered key verifies it, or its claims do not fit"))?
        .claims;
    let exp = claims["exp"].as_i64().unwrap_or(0);
    if exp > now.millis() / 1000 + 3600 {
        return Err(bad("it may live at most an hour"));
    }
    let jti = claims["jti"]
        .as_str()
        .ok_or_else(|| bad("a jti is required"))?;
    let key = format!("assertion:{}:{jti}", client.client_id);
    // One atomic insert-if-absent: of parallel requests with one assertion, one gets through.
    if !store.spend_once(&key, Timestamp::from_millis((exp + 60) * 1000))? {
        return Err(bad("its jti was used before"));
    }
    Ok(())
}
