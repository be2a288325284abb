//! OAuth records: clients, signing keys, authorization codes, refresh-token families.

use crate::clock::Timestamp;
use crate::crypto::Digest;
use crate::records::ids::{ClientId, UserId};
use serde::{Deserialize, Serialize};

/// The org authorization server's id in the store (custom servers get their own).
pub const ORG_SERVER: &str = "org";

/// A code challenge as the authorize request sent it; made only by `oauth::pkce::Challenge::parse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Challenge(pub(crate) String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplicationType {
    /// A server-side web app: confidential.
    Web,
    /// A single-page app: public, PKCE.
    Browser,
    /// A mobile or desktop app: public, PKCE.
    Native,
    /// A machine client: client credentials only.
    Service,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    ClientSecretJwt,
    PrivateKeyJwt,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GrantType {
    AuthorizationCode,
    Implicit,
    RefreshToken,
    Password,
    ClientCredentials,
}

/// Whether the person is asked before the client receives scopes that need consent (Okta's
/// `consent_method`; TRUSTED clients are never asked).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ConsentMethod {
    #[default]
    Trusted,
    Required,
}

/// The secret of a `client_secret_jwt` client, which the server must hold to check HMACs.
/// Never printed.
#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct HmacSecret(pub(crate) String);

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Client {
    pub client_id: String,
    pub client_name: String,
    pub application_type: ApplicationType,
    pub token_endpoint_auth_method: AuthMethod,
    /// SHA-256 of the secret, for the secret-based methods.
    pub secret_digest: Option<Digest>,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    /// Each entry is a space-separated combination, e.g. `code`, `id_token token`.
    pub response_types: Vec<String>,
    /// Public keys for `private_key_jwt` client assertions.
    #[serde(default)]
    pub jwks: Option<serde_json::Value>,
    /// Only for `client_secret_jwt`: HMAC needs the secret itself.
    #[serde(default)]
    pub hmac_secret: Option<HmacSecret>,
    #[serde(default)]
    pub consent_method: ConsentMethod,
    /// Its authorization requests must be pushed first (RFC 9126 §6), so that none can be
    /// forged or changed in the browser.
    #[serde(default)]
    pub require_pushed_authorization_requests: bool,
    pub created: Timestamp,
    pub last_updated: Timestamp,
}

/// The JWS algorithms an authorization server can sign with: RS256 (Okta's, the default),
/// ES256 (P-256) and EdDSA (Ed25519), each far cheaper to sign with than RSA.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningAlg {
    #[default]
    RS256,
    ES256,
    EdDSA,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [Self::RS256, Self::ES256, Self::EdDSA];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RS256 => "RS256",
            Self::ES256 => "ES256",
            Self::EdDSA => "EdDSA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A key as stored: the private key in PKCS#8 DER.
#[derive(Clone, Serialize, Deserialize)]
pub struct KeyRecord {
    pub kid: String,
    /// What the key signs with (keys from before the choice existed are RSA).
    #[serde(default)]
    pub alg: SigningAlg,
    pub pkcs8: Vec<u8>,
    pub created: Timestamp,
    /// When this key stops being published (set when a newer key replaces it).
    pub retire_at: Option<Timestamp>,
}

/// An authorization code until it is redeemed. A used code is kept (marked) until it expires,
/// so a replay can be recognised and what it issued revoked.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CodeRecord {
    /// The authorization server that issued it; only that server redeems it.
    #[serde(default = "org_server")]
    pub server: String,
    pub client_id: ClientId,
    pub redirect_uri: String,
    pub user_id: UserId,
    pub scopes: Vec<String>,
    pub nonce: Option<String>,
    pub challenge: Option<Challenge>,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
    pub expires_at: Timestamp,
    #[serde(default)]
    pub used: bool,
    /// The access token and refresh-token family the code was exchanged for.
    #[serde(default)]
    pub issued_jti: Option<String>,
    #[serde(default)]
    pub issued_family: Option<String>,
    /// The user's credential and sessions epochs when the session behind the code signed in:
    /// a password set, or the sessions ended, before the code is redeemed voids it.
    #[serde(default)]
    pub credential_epoch: u64,
    #[serde(default)]
    pub sessions_epoch: u64,
}

/// An authorization request a client pushed (RFC 9126), kept by the digest of its
/// `request_uri` until a browser brings that to the authorization endpoint, once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedRequest {
    /// The authorization server it was pushed to; only that server's endpoint takes it.
    pub server: String,
    pub client_id: ClientId,
    /// The request's parameters, as the client pushed them (its credentials left out).
    pub params: std::collections::BTreeMap<String, String>,
    pub expires_at: Timestamp,
}

/// A refresh token, stored by digest. Tokens of one login share a family: reuse of a rotated
/// token revokes the family.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefreshRecord {
    #[serde(default = "org_server")]
    pub server: String,
    pub family: String,
    pub client_id: ClientId,
    pub user_id: UserId,
    pub scopes: Vec<String>,
    pub auth_time: Timestamp,
    pub amr: Vec<String>,
    pub expires_at: Timestamp,
    /// Set when a newer token replaced this one (public clients rotate on every use).
    pub rotated_at: Option<Timestamp>,
    /// When the first token of the family was issued.
    #[serde(default)]
    pub issued: Option<Timestamp>,
    /// The grant that started the family (policy rules are evaluated for it on refresh).
    #[serde(default)]
    pub grant: Option<GrantType>,
    /// Each use moves `expires_at` to now + window, but never past `max_until`.
    #[serde(default)]
    pub window_secs: Option<u64>,
    #[serde(default)]
    pub max_until: Option<Timestamp>,
    /// The user's credential epoch when the family began: a password set since ends it.
    #[serde(default)]
    pub credential_epoch: u64,
}

fn org_server() -> String {
    ORG_SERVER.to_owned()
}
