//! The directory: users, their password policy, and the origins the org trusts.

pub mod admins;
pub mod apps;
pub mod branding;
pub mod groups;
pub mod idps;
pub mod lifecycle;
pub mod password_policy;
pub mod schema;
pub mod search;
pub mod trusted_origins;
pub mod users;

pub use password_policy::PasswordPolicy;
pub use trusted_origins::{OriginScope, TrustedOrigin};
pub use users::{Profile, User, UserStatus};

/// A validation failure of one field, reported to API clients as an Okta `errorCauses` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name: fixed for the known ones, the request's own for an unknown attribute.
    pub field: std::borrow::Cow<'static, str>,
    pub message: String,
}

impl FieldError {
    pub fn new(
        field: impl Into<std::borrow::Cow<'static, str>>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error(transparent)]
    Hash(#[from] crate::crypto::password::HashError),
}
