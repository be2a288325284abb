//! Authorization-server records: servers with their scopes, claims, policies and rules; consent grants.

use crate::clock::Timestamp;
use crate::records::ids::{ClientId, UserId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Active,
    Inactive,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RotationMode {
    Auto,
    Manual,
}

/// The shape of a custom server's access tokens: Okta's JWTs, or those of RFC 9068 (the JWT
/// profile for access tokens: `typ: at+jwt`, and `client_id` and `scope` besides Okta's
/// `cid` and `scp`), which resource servers written to the standard check for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AccessTokenProfile {
    #[default]
    Okta,
    #[serde(rename = "RFC9068")]
    Rfc9068,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthServer {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub audiences: Vec<String>,
    pub status: Status,
    pub rotation_mode: RotationMode,
    #[serde(default)]
    pub access_token_profile: AccessTokenProfile,
    pub created: Timestamp,
    pub last_updated: Timestamp,
    #[serde(default)]
    pub scopes: Vec<Scope>,
    #[serde(default)]
    pub claims: Vec<Claim>,
    #[serde(default)]
    pub policies: Vec<Policy>,
    /// Bumped by every write; a write names the revision it read.
    #[serde(default)]
    pub revision: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Consent {
    /// The person is asked (when the client's consent method is REQUIRED).
    Required,
    Implicit,
    Flexible,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum MetadataPublish {
    AllClients,
    NoClients,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scope {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub description: String,
    pub consent: Consent,
    /// Granted when a request names no scope.
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    pub optional: bool,
    pub metadata_publish: MetadataPublish,
    /// The OpenID Connect scopes every server has; they cannot be changed or deleted.
    #[serde(default)]
    pub system: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ClaimType {
    /// In access tokens.
    Resource,
    /// In ID tokens and userinfo.
    Identity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ValueType {
    Expression,
    Groups,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GroupFilterType {
    StartsWith,
    Equals,
    Contains,
    Regex,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Claim {
    pub id: String,
    pub name: String,
    pub status: Status,
    pub claim_type: ClaimType,
    pub value_type: ValueType,
    /// An expression, or (GROUPS) the filter's operand.
    pub value: String,
    #[serde(default)]
    pub group_filter_type: Option<GroupFilterType>,
    /// Identity claims go into the ID token even when an access token is issued alongside.
    #[serde(default)]
    pub always_include_in_token: bool,
    /// Included only when one of these scopes is granted; empty = always.
    #[serde(default)]
    pub scopes: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub status: Status,
    /// 1 is evaluated first.
    pub priority: u32,
    #[serde(default)]
    pub system: bool,
    /// Client ids, or `ALL_CLIENTS`.
    pub clients: Vec<String>,
    #[serde(default)]
    pub rules: Vec<Rule>,
    pub created: Timestamp,
    pub last_updated: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub status: Status,
    pub priority: u32,
    #[serde(default)]
    pub system: bool,
    #[serde(default)]
    pub users_include: Vec<String>,
    #[serde(default)]
    pub users_exclude: Vec<String>,
    /// Group ids, or `EVERYONE`.
    #[serde(default)]
    pub groups_include: Vec<String>,
    #[serde(default)]
    pub groups_exclude: Vec<String>,
    pub grant_types: Vec<String>,
    /// Scope names, or `*`.
    pub scopes: Vec<String>,
    pub access_token_minutes: u32,
    /// 0: refresh tokens live as long as they keep being used within the window.
    pub refresh_token_minutes: u32,
    pub refresh_window_minutes: u32,
    pub created: Timestamp,
    pub last_updated: Timestamp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Grant {
    pub id: String,
    pub user_id: UserId,
    pub client_id: ClientId,
    pub server_id: String,
    pub scope: String,
    pub created: Timestamp,
}
