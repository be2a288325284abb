//! Authentication records: sessions, session tokens, transactions, recovery tokens, factors.

use crate::clock::Timestamp;
use crate::crypto::PasswordHash;
use serde::{Deserialize, Serialize};

/// What a session token stands for until it is redeemed, once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionTokenRecord {
    pub user_id: String,
    pub auth_time: Timestamp,
    pub expires_at: Timestamp,
    /// Authentication methods used (`pwd`, later `otp`, `mfa` …).
    pub amr: Vec<String>,
    /// The user's credential epoch when they signed in (see `User::credential_epoch`).
    #[serde(default)]
    pub credential_epoch: u64,
    /// The user's sessions epoch when they signed in (see `User::sessions_epoch`).
    #[serde(default)]
    pub sessions_epoch: u64,
}

/// A signed-in browser. The cookie holds a secret; the store holds its digest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    pub user_id: String,
    pub created: Timestamp,
    pub expires_at: Timestamp,
    pub max_expires_at: Timestamp,
    pub last_password_verification: Timestamp,
    pub amr: Vec<String>,
    /// The user's credential epoch the session began under: a password set since ends it.
    #[serde(default)]
    pub credential_epoch: u64,
    /// The user's sessions epoch the session began under: an admin ending them all ends it.
    #[serde(default)]
    pub sessions_epoch: u64,
}

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
    /// A passkey sign-in: the browser was challenged, nobody is known yet (`user_id` is
    /// empty until the answer names them).
    PasskeyChallenge,
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
    /// A WebAuthn challenge issued at MFA_CHALLENGE (or for a passkey sign-in), until answered.
    #[serde(default)]
    pub ceremony: Option<WebauthnCeremony>,
}

/// Transactions stored before revisions existed count as stored once.
fn stored_before_revisions() -> u64 {
    1
}

/// What a factor verification that did not complete the step reports (`factorResult`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorResult {
    /// The code was already used; wait for the next one.
    PasscodeReplayed,
    /// A code is on its way; waiting for it to be entered.
    Waiting,
}

/// What a recovery token stands for until it is used, once.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RecoveryTokenRecord {
    pub user_id: String,
    pub recovery_type: RecoveryType,
    pub expires_at: Timestamp,
    /// The user's credential epoch when the link was sent: a password set since voids it.
    #[serde(default)]
    pub credential_epoch: u64,
    /// Which link of its kind this is: a newer one of the same kind voids it.
    #[serde(default)]
    pub serial: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FactorType {
    #[serde(rename = "token:software:totp")]
    Totp,
    #[serde(rename = "question")]
    Question,
    #[serde(rename = "email")]
    Email,
    /// A passkey or security key (WebAuthn).
    #[serde(rename = "webauthn")]
    Webauthn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Provider {
    Okta,
    Google,
    Fido,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FactorStatus {
    PendingActivation,
    Active,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum FactorSecret {
    Totp {
        /// Base32 (RFC 4648, no padding), as shown to the person for manual entry.
        shared_secret: String,
        /// The last time step accepted; codes of this step or earlier are replays.
        last_step: Option<u64>,
    },
    Question {
        question: String,
        /// argon2id of the normalised answer (trimmed, lower case).
        answer: PasswordHash,
    },
    Email {
        address: String,
        /// The code last sent, as a digest bound to the factor, until used or expired.
        code: Option<(crate::crypto::Digest, Timestamp)>,
    },
    /// A WebAuthn credential, bound to the relying party (a host) it was created for.
    Webauthn {
        rp_id: String,
        /// The page's origin the credential was created on.
        origin: String,
        /// The credential's id, base64url without padding (empty until activated).
        credential_id: String,
        /// The public key, counter and flags, as `webauthn-rs` stores a credential (JSON);
        /// empty until activated.
        credential: String,
        /// While the factor awaits activation: the creation ceremony, whose challenge the
        /// browser's answer must carry.
        registration: Option<WebauthnCeremony>,
        /// What the person or the authenticator calls it.
        authenticator_name: String,
    },
}

/// A WebAuthn ceremony waiting for the browser's answer: where it runs, what the browser was
/// asked (`options`, JSON, shown again when the step is shown again) and the state that
/// checks the answer (`webauthn-rs`'s, JSON). Its challenge is good once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebauthnCeremony {
    pub rp_id: String,
    pub origin: String,
    pub options: String,
    pub state: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Factor {
    pub id: String,
    pub user_id: String,
    pub factor_type: FactorType,
    pub provider: Provider,
    pub status: FactorStatus,
    pub created: Timestamp,
    pub last_updated: Timestamp,
    pub secret: FactorSecret,
    /// While a TOTP factor awaits activation: the capability in its QR image's URL, so that
    /// the URL an `<img>` loads carries neither the state token nor the secret.
    #[serde(default)]
    pub activation_token: Option<String>,
}
