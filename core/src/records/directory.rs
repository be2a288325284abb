//! Directory records: users, apps, groups, trusted origins, and the keys they are indexed by.

use crate::clock::Timestamp;
use crate::crypto::PasswordHash;
use serde::{Deserialize, Serialize};

/// Okta's user statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UserStatus {
    Staged,
    Provisioned,
    Active,
    Recovery,
    PasswordExpired,
    LockedOut,
    Suspended,
    Deprovisioned,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub login: String,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// The other attributes that are set, by their Okta names, stored beside the four above
    /// as Okta shows them: Okta's standard ones (`title`, `mobilePhone`, `locale`…) hold
    /// text; a custom one holds what its declaration's type says.
    #[serde(flatten)]
    pub attributes: std::collections::BTreeMap<String, AttrValue>,
}

/// A profile attribute's value as JSON has it: a string, a boolean, a number, or an array of
/// one of these (what the schema declares; [`AttrKind`]).
pub type AttrValue = serde_json::Value;

impl Profile {
    /// The value of a text attribute, if it is set.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.attributes.get(name)?.as_str()
    }
}

/// A stored user. The password hash lives here but API views are built field by field
/// (`http::users`), so it is never sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub status: UserStatus,
    pub created: Timestamp,
    pub activated: Option<Timestamp>,
    pub status_changed: Option<Timestamp>,
    pub last_login: Option<Timestamp>,
    pub last_updated: Timestamp,
    pub password_changed: Option<Timestamp>,
    pub profile: Profile,
    pub password: Option<PasswordHash>,
    /// Consecutive failed sign-ins since the last success; reaching the threshold locks out.
    #[serde(default)]
    pub failed_attempts: u32,
    /// Hashes of earlier passwords, newest first, for the policy's history rule.
    #[serde(default)]
    pub password_history: Vec<PasswordHash>,
    /// Counts password changes. Sessions, refresh tokens, authentication transactions and
    /// emailed links remember the value they began under and stop working once it moves on:
    /// setting a password ends everything begun with the old one, on every node at once.
    #[serde(default)]
    pub credential_epoch: u64,
    /// Counts an admin's "end this person's sessions" (`DELETE /api/v1/users/{id}/sessions`):
    /// sessions and session tokens begun under an older value stop working; tokens do not.
    #[serde(default)]
    pub sessions_epoch: u64,
    /// The newest emailed link of each kind: an older one of the same kind no longer works.
    #[serde(default)]
    pub link_serials: LinkSerials,
}

/// How many links of each kind were issued to a user; a link is valid only while it is the
/// newest of its kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkSerials {
    pub reset: u64,
    pub unlock: u64,
    pub activation: u64,
}

/// The key under which a login is indexed: logins are case-insensitive.
pub fn login_key(login: &str) -> String {
    login.trim().to_lowercase()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AppStatus {
    Active,
    Inactive,
}

impl AppStatus {
    /// Okta's name, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Inactive => "INACTIVE",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct App {
    pub id: String,
    /// Okta's app template name, e.g. `oidc_client` or `bookmark`.
    pub name: String,
    pub label: String,
    /// Okta's `signOnMode`, e.g. `OPENID_CONNECT`, `BOOKMARK`.
    pub sign_on_mode: String,
    pub status: AppStatus,
    pub created: Timestamp,
    pub last_updated: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum GroupMfa {
    None,
    Optional,
    Required,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub description: String,
    pub created: Timestamp,
    pub last_updated: Timestamp,
    pub last_membership_updated: Timestamp,
    #[serde(default)]
    pub mfa_enrollment: Option<GroupMfa>,
}

/// Group names are unique, case-insensitively.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OriginScope {
    Cors,
    Redirect,
    IframeEmbed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OriginStatus {
    Active,
    Inactive,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrustedOrigin {
    pub id: String,
    pub name: String,
    /// Normalised `scheme://host[:port]`, lower case, default port omitted.
    pub origin: String,
    pub scopes: Vec<OriginScope>,
    pub status: OriginStatus,
    pub created: Timestamp,
    pub last_updated: Timestamp,
}

/// An admin role (Okta's role types that Portcullis grants): what a user, and every API token
/// they own, may do through the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AdminRole {
    /// Reads everything, changes nothing.
    ReadOnlyAdmin,
    /// Reads and changes everything but admin roles and API tokens.
    OrgAdmin,
    /// Everything, roles and API tokens included.
    SuperAdmin,
}

impl AdminRole {
    pub const ALL: [AdminRole; 3] = [Self::SuperAdmin, Self::OrgAdmin, Self::ReadOnlyAdmin];

    /// Okta's name, as stored and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::SuperAdmin => "SUPER_ADMIN",
            Self::OrgAdmin => "ORG_ADMIN",
            Self::ReadOnlyAdmin => "READ_ONLY_ADMIN",
        }
    }

    /// Okta's label.
    pub fn label(self) -> &'static str {
        match self {
            Self::SuperAdmin => "Super Administrator",
            Self::OrgAdmin => "Organizational Administrator",
            Self::ReadOnlyAdmin => "Read-only Administrator",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

/// A role given to a user (`/api/v1/users/{id}/roles`); a user holds each role at most once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleAssignment {
    /// `ra…`
    pub id: String,
    pub user_id: String,
    pub role: AdminRole,
    pub created: Timestamp,
}

/// A named admin API token (`Authorization: SSWS …`). Only the digest of its value is kept;
/// it acts with its owner's roles as they are at each request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiToken {
    /// `00T…`
    pub id: String,
    pub name: String,
    pub digest: crate::crypto::Digest,
    /// The owner.
    pub user_id: String,
    pub client_name: String,
    pub created: Timestamp,
    pub last_updated: Timestamp,
    /// When a request last used it (kept to the minute).
    pub last_used: Option<Timestamp>,
    /// Thirty days after creation or the last use, as Okta's tokens.
    pub expires_at: Timestamp,
}

/// The JSON Schema types Okta's user schema gives a custom attribute.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AttrKind {
    #[default]
    String,
    Boolean,
    Integer,
    Number,
    Array,
}

impl AttrKind {
    /// The name on the wire (`"type": "integer"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::String => "string",
            Self::Boolean => "boolean",
            Self::Integer => "integer",
            Self::Number => "number",
            Self::Array => "array",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [
            Self::String,
            Self::Boolean,
            Self::Integer,
            Self::Number,
            Self::Array,
        ]
        .into_iter()
        .find(|k| k.as_str() == name)
    }
}

/// A custom user profile attribute declared through the schema API
/// (`/api/v1/meta/schemas/user/default`). Declarations from before types were kept read as
/// text attributes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomAttribute {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default, rename = "type")]
    pub kind: AttrKind,
    /// The type of an array's elements (a string, integer or number; text when not given).
    #[serde(default)]
    pub items: Option<AttrKind>,
    /// Every user must have it (checked when a profile is created or replaced).
    #[serde(default)]
    pub required: bool,
    /// Text: the fewest and most characters.
    #[serde(default)]
    pub min_length: Option<u32>,
    #[serde(default)]
    pub max_length: Option<u32>,
    /// Integers and numbers: the smallest and largest value.
    #[serde(default)]
    pub minimum: Option<serde_json::Number>,
    #[serde(default)]
    pub maximum: Option<serde_json::Number>,
    /// The only values allowed (of an array: for each element), when given.
    #[serde(default, rename = "enum")]
    pub allowed: Option<Vec<AttrValue>>,
}

impl CustomAttribute {
    /// A text attribute with nothing else declared.
    pub fn text(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            description: None,
            kind: AttrKind::String,
            items: None,
            required: false,
            min_length: None,
            max_length: None,
            minimum: None,
            maximum: None,
            allowed: None,
        }
    }

    /// The type of each value: an array's elements, or the attribute's own.
    pub fn scalar(&self) -> AttrKind {
        match self.kind {
            AttrKind::Array => self.items.unwrap_or(AttrKind::String),
            k => k,
        }
    }
}

/// The custom part of the default user schema.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserSchema {
    pub custom: std::collections::BTreeMap<String, CustomAttribute>,
    pub last_updated: Option<Timestamp>,
}
