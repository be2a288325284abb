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

pub use crate::records::authn::{FactorResult, RecoveryType, Step, Transaction, TxOptions};
use proto::authn::AuthnStatus;

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
    pub fn status(&self) -> AuthnStatus {
        match self {
            Step::MfaEnroll => AuthnStatus::MfaEnroll,
            Step::MfaEnrollActivate { .. } => AuthnStatus::MfaEnrollActivate,
            Step::MfaRequired => AuthnStatus::MfaRequired,
            Step::MfaChallenge { .. } => AuthnStatus::MfaChallenge,
            Step::PasswordExpired => AuthnStatus::PasswordExpired,
            Step::PasswordWarn => AuthnStatus::PasswordWarn,
            Step::Recovery { .. } => AuthnStatus::Recovery,
            Step::PasswordReset => AuthnStatus::PasswordReset,
            // Never shown as a transaction: nobody is signed in to it yet.
            Step::PasskeyChallenge => AuthnStatus::Unauthenticated,
        }
    }
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

impl FactorResult {
    pub fn as_str(self) -> &'static str {
        match self {
            FactorResult::PasscodeReplayed => "PASSCODE_REPLAYED",
            FactorResult::Waiting => "WAITING",
        }
    }
}
