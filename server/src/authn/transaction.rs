//! The authentication transaction: what is stored under a state token between the steps of a
//! sign-in, and the step it stands at.
//!
//! ```text
//!  primary auth (username, password)
//!      │ wrong/unknown/inactive ──▶ 401 E0000004 (all alike)
//!      ▼
//!  ┌─ has an active factor, MFA not yet done ─────────▶ MFA_REQUIRED ──verify──┐
//!  │         (email: verify without a code sends one ──▶ MFA_CHALLENGE ──verify──┤, prev back)
//!  ├─ policy needs enrollment ─▶ MFA_ENROLL ──enroll(totp)──▶ MFA_ENROLL_ACTIVATE
//!  │                              │  ▲ prev                  │ activate(passCode)
//!  │                              │  └───────────────────────┘
//!  │                              ├─enroll(question) ─────────────────────────┤
//!  │                              └─skip (optional enrollment only) ──────────┤
//!  ├─ password expired ─────────▶ PASSWORD_EXPIRED ──change_password─────────┤
//!  ├─ expiring, warning asked for ▶ PASSWORD_WARN ──change_password | skip────┤
//!  └─ nothing left ─────────────────────────────────────────────────▶ SUCCESS ◀┘
//!                                                   (one-time sessionToken)
//!  cancel: any step ──▶ gone.   Each request slides the token's expiry.
//!
//!  recovery (forgot password | unlock), by username and EMAIL:
//!      ──▶ RECOVERY_CHALLENGE (always the same answer; an email only for a real account)
//!  emailed recoveryToken (one-time) ──▶ RECOVERY (if a security question is set) ──answer──┐
//!      password: ──▶ PASSWORD_RESET ──reset_password──▶ on as after primary auth    ◀──┤
//!      unlock:   ──▶ SUCCESS (recoveryType UNLOCK, no session)                     ◀──┘
//! ```
//! After every completed step the next one is worked out afresh by [`super::flow`], from the
//! transaction's flags and the user's factors, in the order above.

use crate::clock::Timestamp;
use serde::{Deserialize, Serialize};

/// The step a pending transaction waits at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Step {
    MfaEnroll,
    MfaEnrollActivate {
        factor_id: String,
    },
    MfaRequired,
    /// A code was sent for this factor; waiting for it.
    MfaChallenge {
        factor_id: String,
    },
    PasswordExpired,
    PasswordWarn,
    /// Recovery by emailed token, waiting for the security question's answer.
    Recovery {
        recovery_type: RecoveryType,
    },
    /// Recovery proven; waiting for the new password.
    PasswordReset,
}

/// What a recovery is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RecoveryType {
    Password,
    Unlock,
    /// A provisioned user's activation: they choose their first password.
    Activation,
}

impl RecoveryType {
    pub fn as_str(self) -> &'static str {
        match self {
            RecoveryType::Password => "PASSWORD",
            RecoveryType::Unlock => "UNLOCK",
            RecoveryType::Activation => "ACTIVATION",
        }
    }
}

impl Step {
    /// The Okta `status` of a transaction at this step.
    pub fn status(&self) -> &'static str {
        match self {
            Step::MfaEnroll => "MFA_ENROLL",
            Step::MfaEnrollActivate { .. } => "MFA_ENROLL_ACTIVATE",
            Step::MfaRequired => "MFA_REQUIRED",
            Step::MfaChallenge { .. } => "MFA_CHALLENGE",
            Step::PasswordExpired => "PASSWORD_EXPIRED",
            Step::PasswordWarn => "PASSWORD_WARN",
            Step::Recovery { .. } => "RECOVERY",
            Step::PasswordReset => "PASSWORD_RESET",
        }
    }
}

/// Options given with primary authentication (Okta's `options` object).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxOptions {
    /// Offer enrollment in optional factors, with a way to skip.
    pub multi_optional_factor_enroll: bool,
    /// Stop at PASSWORD_WARN when the password is about to expire.
    pub warn_before_password_expired: bool,
}

/// A sign-in in progress, stored under the digest of its state token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Transaction {
    /// Bumped by each save, so a step applies only to the transaction it read; 0 until first
    /// stored.
    #[serde(default = "stored_before_revisions")]
    pub revision: u64,
    pub user_id: String,
    pub step: Step,
    /// Slides forward with each request.
    pub expires_at: Timestamp,
    /// When the password was verified.
    pub auth_time: Timestamp,
    /// Authentication methods completed so far (`pwd`, `otp`, `kba`, `mfa`).
    pub amr: Vec<String>,
    pub options: TxOptions,
    /// A factor was enrolled and proven in this transaction: that satisfies MFA for it.
    #[serde(default)]
    pub enrolled_factor: bool,
    /// The person skipped optional enrollment.
    #[serde(default)]
    pub enroll_skipped: bool,
    /// The person dealt with (skipped or heeded) the expiry warning.
    #[serde(default)]
    pub warned: bool,
    /// The user's credential epoch the transaction began under: a password set since
    /// (other than by this transaction) ends it.
    #[serde(default)]
    pub credential_epoch: u64,
    /// When it began; it lives at most `AuthnSettings::transaction_max_life` from then.
    /// (Transactions stored before this existed count from their next step.)
    #[serde(default)]
    pub started_at: Option<Timestamp>,
    /// Wrong answers to the security question in this recovery (bounded even for a
    /// locked-out account, whose failures do not count toward lockout).
    #[serde(default)]
    pub failed_answers: u32,
}

/// Transactions stored before revisions existed count as stored once.
fn stored_before_revisions() -> u64 {
    1
}

impl Transaction {
    /// The revision a save or take must find in the store (`None`: never stored).
    pub fn stored_revision(&self) -> Option<u64> {
        (self.revision > 0).then_some(self.revision)
    }

    pub fn mfa_done(&self) -> bool {
        self.enrolled_factor || self.amr.iter().any(|m| m == "mfa")
    }

    pub fn add_amr(&mut self, method: &str) {
        if !self.amr.iter().any(|m| m == method) {
            self.amr.push(method.to_owned());
        }
    }
}

/// What a factor verification that did not complete the step reports (`factorResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorResult {
    /// The code was already used; wait for the next one.
    PasscodeReplayed,
    /// A code is on its way; waiting for it to be entered.
    Waiting,
}

impl FactorResult {
    pub fn as_str(self) -> &'static str {
        match self {
            FactorResult::PasscodeReplayed => "PASSCODE_REPLAYED",
            FactorResult::Waiting => "WAITING",
        }
    }
}
