//! Upstream identity providers (Okta's IdPs): where a person may sign in instead of with a
//! password here, and what happens to them when they come back.

use crate::clock::Timestamp;
use serde::{Deserialize, Serialize};

/// Okta's IdP types Portcullis speaks to: a generic OpenID provider, and presets whose
/// endpoints are known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IdpType {
    Oidc,
    Google,
    Microsoft,
    Github,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IdpStatus {
    Active,
    Inactive,
}

/// Okta's `policy.provisioning.action` and `policy.accountLink.action`: automatic, or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum IdpAction {
    Auto,
    Disabled,
}

/// Okta's `policy.subject.matchType`: which local attribute the upstream username is matched
/// against when linking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MatchType {
    Username,
    Email,
    UsernameOrEmail,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IdentityProvider {
    pub id: String,
    pub kind: IdpType,
    pub name: String,
    pub status: IdpStatus,
    /// The upstream's issuer (`iss` of its ID tokens); none for an OAuth 2.0-only preset.
    pub issuer: Option<String>,
    pub authorization_url: String,
    pub token_url: String,
    pub userinfo_url: Option<String>,
    pub jwks_url: Option<String>,
    pub scopes: Vec<String>,
    pub client_id: String,
    /// Sealed at rest (`store::sealing`).
    pub client_secret: String,
    pub pkce_required: bool,
    /// Create an account for someone the upstream vouches for who has none here.
    pub provisioning: IdpAction,
    /// Groups (ids) such an account is put into.
    pub provisioning_groups: Vec<String>,
    /// Link to an existing account whose attribute matches (see `match_type`).
    pub account_link: IdpAction,
    /// Okta EL over `idpuser.*` that makes the username, e.g. `idpuser.email`.
    pub username_template: String,
    pub match_type: MatchType,
    /// How far the upstream's clock may be from ours, in milliseconds.
    pub max_clock_skew_ms: i64,
    pub created: Timestamp,
    pub last_updated: Timestamp,
}
