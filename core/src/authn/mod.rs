//! The Authentication API core: the transaction state machine (primary authentication, MFA
//! enrollment and verification, password expiry), one-time session tokens, and the browser
//! sessions they are exchanged for. No HTTP types here; `now` is always an argument.

pub mod enroll;
pub mod factors;
pub mod federation;
pub mod flow;
pub mod passkeys;
pub mod recovery;
pub mod registration;
pub mod session;
pub mod transaction;

pub use session::{Session, SessionSettings};

use std::time::Duration;

/// Whether people must, may or may not enroll MFA factors when they sign in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MfaEnrollment {
    /// Factors are never offered at sign-in (enrolled ones are still verified).
    None,
    /// Offered when the client asks (`multiOptionalFactorEnroll`), and skippable.
    Optional,
    /// A person without an active factor must enroll one before signing in.
    Required,
}

impl MfaEnrollment {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_lowercase().as_str() {
            "none" => Some(Self::None),
            "optional" => Some(Self::Optional),
            "required" => Some(Self::Required),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AuthnSettings {
    /// Consecutive failures (password or factor) that lock an account out (Okta: 10).
    pub max_failed_attempts: u32,
    /// Lifetime of a one-time session token (Okta: 5 minutes).
    pub session_token_ttl: Duration,
    /// How long a state token lives after its last use…
    pub transaction_ttl: Duration,
    /// …and after it began, however often it is used.
    pub transaction_max_life: Duration,
    pub mfa_enrollment: MfaEnrollment,
    /// What each factor kind is at sign-in (required, optional, not allowed), where
    /// `mfa_enrollment` offers factors at all.
    pub factor_policy: factors::FactorPolicy,
    /// Mail can be delivered, so the email factor may be offered.
    pub email_factor: bool,
    /// Answer LOCKED_OUT (with an unlock link) instead of the generic failure. Off by default,
    /// as in Okta: it tells anyone that an account exists and is locked.
    pub show_lockout: bool,
}

impl Default for AuthnSettings {
    fn default() -> Self {
        Self {
            max_failed_attempts: 10,
            session_token_ttl: Duration::from_secs(300),
            transaction_ttl: Duration::from_secs(600),
            transaction_max_life: Duration::from_secs(3600),
            mfa_enrollment: MfaEnrollment::Optional,
            factor_policy: factors::FactorPolicy::default(),
            email_factor: false,
            show_lockout: false,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum AuthnError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}
