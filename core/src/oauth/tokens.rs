//! Tokens: Okta's access-token claims (`ver, jti, iss, aud, iat, exp, cid, uid, scp, sub,
//! auth_time`) and ID-token claims (`sub, iss, aud, iat, exp, auth_time, amr, nonce, at_hash,
//! c_hash, idp, jti`, plus the claims of the granted scopes), signed with the active key
//! (RS256 unless the server chose ES256 or EdDSA); and the records kept for codes and refresh
//! tokens.

use super::keys::{KeyError, SigningKey};
use crate::clock::Timestamp;
use crate::crypto::new_id;
use crate::directory::User;
pub use crate::records::oauth::{CodeRecord, RefreshRecord};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};
use sha2::{Digest as _, Sha256};
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct TokenSettings {
    pub access_ttl: Duration,
    pub id_ttl: Duration,
    pub refresh_ttl: Duration,
    pub code_ttl: Duration,
    /// After a public client's refresh token was rotated, how long reusing it still works (two
    /// tabs refreshing at once); after that a reuse revokes the whole family.
    pub refresh_grace: Duration,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(3600),
            id_ttl: Duration::from_secs(3600),
            refresh_ttl: Duration::from_secs(90 * 86_400),
            code_ttl: Duration::from_secs(300),
            refresh_grace: Duration::from_secs(30),
        }
    }
}

fn secs(t: Timestamp) -> i64 {
    t.millis() / 1000
}

/// The left half of SHA-256 of `token`, base64url: OIDC's `at_hash` and `c_hash` for RS256
/// and ES256.
pub fn half_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// `at_hash` / `c_hash` for a token signed with `alg`: the left half of the hash that `alg`
/// uses, which for Ed25519 is SHA-512 (as openid-client and oidc-provider compute it).
pub fn half_hash_for(alg: super::keys::SigningAlg, token: &str) -> String {
    match alg {
        super::keys::SigningAlg::EdDSA => {
            let digest = sha2::Sha512::digest(token.as_bytes());
            URL_SAFE_NO_PAD.encode(&digest[..32])
        }
        _ => half_hash(token),
    }
}

/// Okta's authentication context classes: what the sign-in behind a token proved.
pub const ACR_VALUES: [&str; 3] = [
    "urn:okta:loa:1fa:any",
    "urn:okta:loa:1fa:pwd",
    "urn:okta:loa:2fa:any",
];

/// The honest `acr` of a sign-in that completed `amr`: two factors (`mfa`, or a passkey, which
/// is one), a password alone, or one factor of another kind (an upstream provider's).
pub fn acr_of(amr: &[String]) -> &'static str {
    let has = |m: &str| amr.iter().any(|a| a == m);
    if has("mfa") || (has("hwk") && has("user")) {
        ACR_VALUES[2]
    } else if has("pwd") {
        ACR_VALUES[1]
    } else {
        ACR_VALUES[0]
    }
}

/// The claims that `scopes` release about `user` (ID token and userinfo).
pub fn scope_claims(user: &User, scopes: &[String], groups: &[String]) -> Map<String, Value> {
    let mut m = Map::new();
    let has = |s: &str| scopes.iter().any(|x| x == s);
    if has("profile") {
        let p = &user.profile;
        m.insert(
            "name".into(),
            json!(format!("{} {}", p.first_name, p.last_name)),
        );
        m.insert("given_name".into(), json!(p.first_name));
        m.insert("family_name".into(), json!(p.last_name));
        m.insert("preferred_username".into(), json!(p.login));
        let attr = |name: &str| p.text(name);
        for (claim, name) in [
            ("middle_name", "middleName"),
            ("nickname", "nickName"),
            ("profile", "profileUrl"),
        ] {
            if let Some(v) = attr(name) {
                m.insert(claim.into(), json!(v));
            }
        }
        m.insert("locale".into(), json!(attr("locale").unwrap_or("en_US")));
        m.insert("zoneinfo".into(), json!(attr("timezone").unwrap_or("UTC")));
        m.insert("updated_at".into(), json!(secs(user.last_updated)));
    }
    if has("phone")
        && let Some(phone) = user
            .profile
            .text("mobilePhone")
            .or_else(|| user.profile.text("primaryPhone"))
    {
        m.insert("phone_number".into(), json!(phone));
    }
    if has("address") {
        // OIDC's address claim, from Okta's address attributes (only those that are set).
        let address: Map<String, Value> = [
            ("street_address", "streetAddress"),
            ("locality", "city"),
            ("region", "state"),
            ("postal_code", "zipCode"),
            ("country", "countryCode"),
        ]
        .into_iter()
        .filter_map(|(claim, name)| {
            let v = user.profile.text(name)?;
            Some((claim.to_owned(), json!(v)))
        })
        .collect();
        if !address.is_empty() {
            m.insert("address".into(), Value::Object(address));
        }
    }
    if has("email") {
        m.insert("email".into(), json!(user.profile.email));
        m.insert("email_verified".into(), json!(true));
    }
    if has("groups") {
        m.insert(
            "groups".into(),
            json!(groups.iter().take(100).collect::<Vec<_>>()),
        );
    }
    m
}

/// Who a token is about: a person, or (client credentials) the client itself.
pub enum Principal<'a> {
    User {
        user: &'a User,
        auth_time: Timestamp,
    },
    Client,
}

/// A signed access token and what revocation and introspection need to know of it.
pub struct Issued {
    pub token: String,
    pub jti: String,
    pub expires_at: Timestamp,
}

/// What an access token states: Okta's claims plus a custom server's resource claims.
pub struct AccessFacts<'a> {
    pub issuer: &'a str,
    /// The org server's issuer, or a custom server's audience (an array when it has several).
    pub audience: &'a Value,
    pub client_id: &'a str,
    pub principal: Principal<'a>,
    pub scopes: &'a [String],
    pub extra: Map<String, Value>,
    pub ttl: Duration,
    pub profile: crate::records::authz::AccessTokenProfile,
}

pub fn access_token(
    key: &SigningKey,
    facts: AccessFacts<'_>,
    now: Timestamp,
) -> Result<Issued, KeyError> {
    let jti = format!("AT.{}", new_id("atk"));
    let exp = now.plus(facts.ttl);
    let mut claims = json!({
        "ver": 1,
        "jti": jti,
        "iss": facts.issuer,
        "aud": facts.audience,
        "iat": secs(now),
        "exp": secs(exp),
        "cid": facts.client_id,
        "scp": facts.scopes,
    });
    match facts.principal {
        Principal::User { user, auth_time } => {
            claims["uid"] = json!(user.id);
            claims["sub"] = json!(user.profile.login);
            claims["auth_time"] = json!(secs(auth_time));
        }
        Principal::Client => claims["sub"] = json!(facts.client_id),
    }
    let rfc9068 = facts.profile == crate::records::authz::AccessTokenProfile::Rfc9068;
    if rfc9068 {
        claims["client_id"] = json!(facts.client_id);
        claims["scope"] = json!(facts.scopes.join(" "));
    }
    if let Value::Object(m) = &mut claims {
        for (k, v) in facts.extra {
            m.entry(k).or_insert(v);
        }
    }
    let typ = if rfc9068 { "at+jwt" } else { "JWT" };
    Ok(Issued {
        token: key.sign_typed(&claims, typ)?,
        jti,
        expires_at: exp,
    })
}

/// What an ID token states besides the user.
pub struct IdTokenFacts<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub nonce: Option<&'a str>,
    pub auth_time: Timestamp,
    pub amr: &'a [String],
    pub scopes: &'a [String],
    pub groups: &'a [String],
    pub access_token: Option<&'a str>,
    pub code: Option<&'a str>,
    /// A custom server's identity claims.
    pub extra: Map<String, Value>,
}

pub fn id_token(
    key: &SigningKey,
    user: &User,
    facts: IdTokenFacts<'_>,
    now: Timestamp,
    ttl: Duration,
) -> Result<String, KeyError> {
    let mut claims = json!({
        "sub": user.id,
        "ver": 1,
        "iss": facts.issuer,
        "aud": facts.client_id,
        "iat": secs(now),
        "exp": secs(now.plus(ttl)),
        "jti": format!("ID.{}", new_id("idt")),
        "amr": facts.amr,
        "acr": acr_of(facts.amr),
        "idp": facts.issuer,
        "auth_time": secs(facts.auth_time),
    });
    if let Some(n) = facts.nonce {
        claims["nonce"] = json!(n);
    }
    if let Some(at) = facts.access_token {
        claims["at_hash"] = json!(half_hash_for(key.alg, at));
    }
    if let Some(c) = facts.code {
        claims["c_hash"] = json!(half_hash_for(key.alg, c));
    }
    if let Value::Object(m) = &mut claims {
        m.extend(scope_claims(user, facts.scopes, facts.groups));
        for (k, v) in facts.extra {
            m.entry(k).or_insert(v);
        }
    }
    key.sign(&claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OIDC Core's example: at_hash is the left half of SHA-256, base64url.
    #[test]
    fn half_hash_is_the_left_half_of_sha256() {
        let h = half_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y");
        assert_eq!(h.len(), 22);
        assert_eq!(h, "77QmUPtjPfzWtF2AnpK9RQ");
    }

    #[test]
    fn acr_says_what_the_sign_in_proved() {
        let amr = |a: &[&str]| a.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(acr_of(&amr(&["pwd"])), "urn:okta:loa:1fa:pwd");
        assert_eq!(acr_of(&amr(&["pwd", "otp", "mfa"])), "urn:okta:loa:2fa:any");
        assert_eq!(
            acr_of(&amr(&["hwk", "user", "mfa"])),
            "urn:okta:loa:2fa:any"
        );
        assert_eq!(acr_of(&amr(&["fed"])), "urn:okta:loa:1fa:any");
        assert_eq!(acr_of(&amr(&["fed", "otp", "mfa"])), "urn:okta:loa:2fa:any");
    }

    /// For Ed25519 the hash is SHA-512 and its left half is 32 bytes (the value computed
    /// with Python's hashlib).
    #[test]
    fn half_hash_for_eddsa_is_the_left_half_of_sha512() {
        use crate::oauth::keys::SigningAlg;
        let t = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        assert_eq!(
            half_hash_for(SigningAlg::EdDSA, t),
            "q7nS86GgvvFaZkzALLWqJYaJIKw2wCDAVfCAsm5CrBM"
        );
        assert_eq!(half_hash_for(SigningAlg::ES256, t), half_hash(t));
    }
}
