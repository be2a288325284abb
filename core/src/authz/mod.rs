//! API Access Management: custom authorization servers, each with its own issuer, audience,
//! signing keys, scopes, claims and access policies. No HTTP types here.
//!
//! A server is kept as one record (scopes, claims and policies inside it), written with an
//! expected revision so concurrent admin edits never overwrite each other; token requests read
//! it once and evaluate everything against that snapshot.

pub mod claims;
pub mod consent;
pub mod edit;
pub mod expr;
pub mod policy;
pub mod servers;

pub use crate::records::authz::{
    AccessTokenProfile, AuthServer, Claim, ClaimType, Consent, GroupFilterType, MetadataPublish,
    Policy, RotationMode, Rule, Scope, Status, ValueType,
};

/// The custom server every org has.
pub const DEFAULT_SERVER: &str = "default";

impl AuthServer {
    pub fn is_active(&self) -> bool {
        self.status == Status::Active
    }

    pub fn scope(&self, name: &str) -> Option<&Scope> {
        self.scopes.iter().find(|s| s.name == name)
    }
}

impl Scope {
    /// How the consent screen names the scope.
    pub fn label(&self) -> &str {
        self.display_name
            .as_deref()
            .filter(|d| !d.is_empty())
            .unwrap_or(&self.name)
    }
}

impl GroupFilterType {
    pub fn filter(self) -> expr::GroupFilter {
        match self {
            Self::StartsWith => expr::GroupFilter::StartsWith,
            Self::Equals => expr::GroupFilter::Equals,
            Self::Contains => expr::GroupFilter::Contains,
            Self::Regex => expr::GroupFilter::Regex,
        }
    }
}

/// Who an access policy or rule applies to: `ALL_CLIENTS`, `EVERYONE` or `*` match anything.
pub const ALL_CLIENTS: &str = "ALL_CLIENTS";
pub const EVERYONE: &str = "EVERYONE";
pub const ANY_SCOPE: &str = "*";
