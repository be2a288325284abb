//! MFA factors (the record is in `records`): enrollment, and how a passcode or answer is checked.
//!
//! TOTP follows RFC 6238 (SHA-1, 6 digits, 30 s steps) and accepts one step of clock skew either
//! way. The last accepted step is remembered, so a code is good once: a replay is reported as
//! such, never accepted.

use crate::clock::Timestamp;
use crate::crypto::password::HashError;
use crate::crypto::{PasswordHasher, new_id};
pub use crate::records::authn::{Factor, FactorSecret, FactorStatus, FactorType, Provider};
use subtle::ConstantTimeEq;

impl FactorType {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "token:software:totp",
            Self::Question => "question",
            Self::Email => "email",
            Self::Webauthn => "webauthn",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Totp, Self::Question, Self::Email, Self::Webauthn]
            .into_iter()
            .find(|t| t.as_str() == s)
    }

    /// The `amr` value a verification adds (RFC 8176).
    pub fn amr(self) -> &'static str {
        match self {
            Self::Totp => "otp",
            Self::Question => "kba",
            Self::Email => "email",
            // Proof of a hardware-bound key (RFC 8176); verified, so `user` is added too.
            Self::Webauthn => "hwk",
        }
    }
}

impl Provider {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Okta => "OKTA",
            Self::Google => "GOOGLE",
            Self::Fido => "FIDO",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Okta, Self::Google, Self::Fido]
            .into_iter()
            .find(|p| p.as_str() == s)
    }
}

impl FactorStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::PendingActivation => "PENDING_ACTIVATION",
            Self::Active => "ACTIVE",
        }
    }
}

/// The factor kinds offered for enrollment, in the order they are listed. Email is offered
/// only where mail can be delivered (see `enrollable`).
pub const ENROLLABLE: [(FactorType, Provider); 5] = [
    (FactorType::Totp, Provider::Okta),
    (FactorType::Totp, Provider::Google),
    (FactorType::Question, Provider::Okta),
    (FactorType::Email, Provider::Okta),
    (FactorType::Webauthn, Provider::Fido),
];

/// The kinds offered here: all of [`ENROLLABLE`], less email when no mail can be sent.
pub fn enrollable(email_available: bool) -> impl Iterator<Item = (FactorType, Provider)> {
    ENROLLABLE
        .into_iter()
        .filter(move |(t, _)| *t != FactorType::Email || email_available)
}

/// What an MFA enrollment policy says of one factor kind at sign-in (Okta's
/// `settings.factors.{key}.enroll.self`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactorEnrollment {
    /// Everyone must set it up before signing in.
    Required,
    /// Offered; setting it up may be skipped.
    Optional,
    /// Not offered at sign-in (an admin may still enroll it through the Factors API).
    NotAllowed,
}

impl FactorEnrollment {
    pub fn parse(s: &str) -> Option<Self> {
        match s.trim().to_ascii_uppercase().as_str() {
            "REQUIRED" => Some(Self::Required),
            "OPTIONAL" => Some(Self::Optional),
            "NOT_ALLOWED" => Some(Self::NotAllowed),
            _ => None,
        }
    }
}

/// Okta's policy key of a factor kind (`okta_otp`, `google_otp`, `okta_question`,
/// `okta_email`, `fido_webauthn`).
pub fn policy_key((factor_type, provider): (FactorType, Provider)) -> &'static str {
    match (factor_type, provider) {
        (FactorType::Totp, Provider::Google) => "google_otp",
        (FactorType::Totp, Provider::Okta | Provider::Fido) => "okta_otp",
        (FactorType::Question, _) => "okta_question",
        (FactorType::Email, _) => "okta_email",
        (FactorType::Webauthn, _) => "fido_webauthn",
    }
}

/// The MFA enrollment policy per factor kind: each kind it does not name is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FactorPolicy {
    rules: Vec<((FactorType, Provider), FactorEnrollment)>,
}

impl FactorPolicy {
    /// From `(policy key, rule)` pairs such as `("okta_otp", "REQUIRED")`; the error names
    /// what is not understood.
    pub fn parse<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, String> {
        let mut rules = Vec::new();
        for (key, rule) in pairs {
            let kind = ENROLLABLE
                .into_iter()
                .find(|k| policy_key(*k) == key.trim())
                .ok_or_else(|| {
                    let known: Vec<_> = ENROLLABLE.into_iter().map(policy_key).collect();
                    format!("unknown factor `{key}` (known: {})", known.join(", "))
                })?;
            let rule = FactorEnrollment::parse(rule).ok_or_else(|| {
                format!("`{key}` must be REQUIRED, OPTIONAL or NOT_ALLOWED, not `{rule}`")
            })?;
            rules.retain(|(k, _)| *k != kind);
            rules.push((kind, rule));
        }
        Ok(Self { rules })
    }

    /// What the policy says of `kind`.
    pub fn of(&self, kind: (FactorType, Provider)) -> FactorEnrollment {
        self.rules
            .iter()
            .find(|(k, _)| *k == kind)
            .map_or(FactorEnrollment::Optional, |(_, rule)| *rule)
    }

    /// The kinds offered at sign-in, in order, each with what the policy says of it.
    pub fn offered(
        &self,
        email_available: bool,
    ) -> impl Iterator<Item = ((FactorType, Provider), FactorEnrollment)> + '_ {
        enrollable(email_available)
            .map(|kind| (kind, self.of(kind)))
            .filter(|(_, rule)| *rule != FactorEnrollment::NotAllowed)
    }
}

/// How long an emailed code works.
pub const EMAIL_CODE_TTL: std::time::Duration = std::time::Duration::from_secs(300);

/// What a presented code or answer turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Right; for TOTP, the step that matched (to be remembered).
    Valid(Option<u64>),
    /// A TOTP code already used.
    Replayed,
    Invalid,
}

pub const TOTP_STEP_SECS: u64 = 30;
pub const TOTP_DIGITS: usize = 6;

/// A new pending TOTP factor with a fresh 160-bit secret.
pub fn new_totp(user_id: &str, provider: Provider, now: Timestamp) -> Factor {
    let mut raw = [0u8; 20];
    argon2::password_hash::rand_core::RngCore::fill_bytes(
        &mut argon2::password_hash::rand_core::OsRng,
        &mut raw,
    );
    Factor {
        id: new_id("uft"),
        user_id: user_id.to_owned(),
        factor_type: FactorType::Totp,
        provider,
        status: FactorStatus::PendingActivation,
        created: now,
        last_updated: now,
        secret: FactorSecret::Totp {
            shared_secret: base32_encode(&raw),
            last_step: None,
        },
        activation_token: Some(crate::crypto::new_secret(24).expose().to_owned()),
    }
}

/// A new, immediately active security-question factor.
pub fn new_question(
    hasher: &PasswordHasher,
    user_id: &str,
    question: &str,
    answer: &str,
    now: Timestamp,
) -> Result<Factor, crate::crypto::password::HashError> {
    Ok(Factor {
        id: new_id("ufs"),
        user_id: user_id.to_owned(),
        factor_type: FactorType::Question,
        provider: Provider::Okta,
        status: FactorStatus::Active,
        created: now,
        last_updated: now,
        secret: FactorSecret::Question {
            question: question.to_owned(),
            answer: hasher.hash(&normalize_answer(answer))?,
        },
        activation_token: None,
    })
}

/// A new pending email factor for `address`.
pub fn new_email(user_id: &str, address: &str, now: Timestamp) -> Factor {
    Factor {
        id: new_id("emf"),
        user_id: user_id.to_owned(),
        factor_type: FactorType::Email,
        provider: Provider::Okta,
        status: FactorStatus::PendingActivation,
        created: now,
        last_updated: now,
        secret: FactorSecret::Email {
            address: address.to_owned(),
            code: None,
        },
        activation_token: None,
    }
}

fn code_digest(factor_id: &str, code: &str) -> crate::crypto::Digest {
    crate::crypto::Digest::of(&format!("{factor_id}:{}", code.trim()))
}

fn normalize_answer(answer: &str) -> String {
    answer.trim().to_lowercase()
}

impl Factor {
    /// Checks a TOTP passcode or a question's answer at `now`.
    /// Checks `input` against the factor. Only a security question hashes (and can find the
    /// hashing pool busy).
    pub fn check(
        &self,
        hasher: &PasswordHasher,
        input: &str,
        now: Timestamp,
    ) -> Result<Check, HashError> {
        Ok(match &self.secret {
            FactorSecret::Totp {
                shared_secret,
                last_step,
            } => check_totp(shared_secret, input, now, *last_step),
            FactorSecret::Question { answer, .. } => {
                if hasher.verify(&normalize_answer(input), Some(answer))? {
                    Check::Valid(None)
                } else {
                    Check::Invalid
                }
            }
            FactorSecret::Email { code, .. } => match code {
                Some((digest, expires))
                    if *expires > now && digest.ct_eq(&code_digest(&self.id, input)) =>
                {
                    Check::Valid(None)
                }
                _ => Check::Invalid,
            },
            // A passkey answers a ceremony (`authn::passkeys`), never a typed code.
            FactorSecret::Webauthn { .. } => Check::Invalid,
        })
    }

    /// Makes a new 6-digit code for an email factor (replacing any earlier one) and returns it.
    pub fn issue_code(&mut self, now: Timestamp) -> Option<String> {
        let FactorSecret::Email { code, .. } = &mut self.secret else {
            return None;
        };
        let mut raw = [0u8; 4];
        argon2::password_hash::rand_core::RngCore::fill_bytes(
            &mut argon2::password_hash::rand_core::OsRng,
            &mut raw,
        );
        let fresh = format!("{:06}", u32::from_le_bytes(raw) % 1_000_000);
        *code = Some((code_digest(&self.id, &fresh), now.plus(EMAIL_CODE_TTL)));
        self.last_updated = now;
        Some(fresh)
    }

    pub fn email_address(&self) -> Option<&str> {
        match &self.secret {
            FactorSecret::Email { address, .. } => Some(address),
            _ => None,
        }
    }

    /// Remembers the step of an accepted TOTP code.
    pub fn record_use(&mut self, step: Option<u64>, now: Timestamp) {
        match (&mut self.secret, step) {
            (FactorSecret::Totp { last_step, .. }, Some(step)) => *last_step = Some(step),
            // An emailed code is good once.
            (FactorSecret::Email { code, .. }, _) => *code = None,
            _ => {}
        }
        self.last_updated = now;
    }

    /// The `otpauth://` URI an authenticator app reads from the QR code.
    pub fn otpauth_uri(&self, issuer: &str, account: &str) -> Option<String> {
        let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        self.shared_secret().map(|secret| {
            format!(
                "otpauth://totp/{}:{}?secret={secret}&issuer={}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP_SECS}",
                enc(issuer),
                enc(account),
                enc(issuer)
            )
        })
    }

    pub fn shared_secret(&self) -> Option<&str> {
        match &self.secret {
            FactorSecret::Totp { shared_secret, .. } => Some(shared_secret),
            _ => None,
        }
    }

    pub fn question(&self) -> Option<&str> {
        match &self.secret {
            FactorSecret::Question { question, .. } => Some(question),
            _ => None,
        }
    }
}

/// Checks `input` against `factor` and, when it is right, spends it in one atomic step on the
/// record as stored: of several requests with the same passcode (or a TOTP time step), one
/// succeeds and the others see a replay (TOTP) or a used code (email). With `activate`, the
/// factor becomes active in the same step. The slow check (a question's argon2 hash) runs
/// before, the quick ones again inside the step. `None` when the factor is gone.
pub fn spend(
    store: &dyn crate::store::Store,
    hasher: &PasswordHasher,
    factor: &Factor,
    input: &str,
    now: Timestamp,
    activate: bool,
) -> Result<Option<(Factor, Check)>, super::flow::FlowError> {
    let first = factor.check(hasher, input, now)?;
    if !matches!(first, Check::Valid(_)) {
        return Ok(Some((factor.clone(), first)));
    }
    let mut outcome = first;
    let stored = store.modify_factor(&factor.user_id, &factor.id, &mut |f| {
        outcome = match f.factor_type {
            FactorType::Question => Check::Valid(None),
            // These compare digests and never hash.
            FactorType::Totp | FactorType::Email | FactorType::Webauthn => {
                f.check(hasher, input, now).unwrap_or(Check::Invalid)
            }
        };
        let Check::Valid(step) = outcome else {
            return false;
        };
        f.record_use(step, now);
        if activate {
            f.status = FactorStatus::Active;
            f.activation_token = None;
        }
        true
    })?;
    Ok(stored.map(|f| (f, outcome)))
}

/// The TOTP code for time step `step`.
pub fn totp_code(secret_base32: &str, step: u64) -> Option<String> {
    let key = base32_decode(secret_base32)?;
    let totp = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        TOTP_DIGITS,
        0,
        TOTP_STEP_SECS,
        key,
    );
    Some(totp.generate(step * TOTP_STEP_SECS))
}

fn check_totp(secret: &str, code: &str, now: Timestamp, last_step: Option<u64>) -> Check {
    let code = code.trim();
    if code.len() != TOTP_DIGITS || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Check::Invalid;
    }
    let current = u64::try_from(now.millis() / 1000).unwrap_or(0) / TOTP_STEP_SECS;
    let mut matched = None;
    // Check every candidate step so the time taken does not depend on which one matched.
    for step in [current.saturating_sub(1), current, current + 1] {
        let Some(expected) = totp_code(secret, step) else {
            return Check::Invalid;
        };
        if bool::from(expected.as_bytes().ct_eq(code.as_bytes())) {
            matched = Some(step);
        }
    }
    match (matched, last_step) {
        (Some(step), Some(last)) if step <= last => Check::Replayed,
        (Some(step), _) => Check::Valid(Some(step)),
        (None, _) => Check::Invalid,
    }
}

/// Base32 (RFC 4648, no padding), the encoding authenticator apps expect.
pub fn base32_encode(data: &[u8]) -> String {
    match totp_rs::Secret::Raw(data.to_vec()).to_encoded() {
        totp_rs::Secret::Encoded(s) => s,
        totp_rs::Secret::Raw(_) => String::new(),
    }
}

pub fn base32_decode(s: &str) -> Option<Vec<u8>> {
    totp_rs::Secret::Encoded(s.trim().to_uppercase())
        .to_bytes()
        .ok()
}

/// The security questions offered (Okta's keys and texts; shared with the pages and widget).
pub const QUESTIONS: [(&str, &str); 8] = proto::authn::QUESTIONS;

pub fn question_text(key: &str) -> Option<&'static str> {
    QUESTIONS.iter().find(|(k, _)| *k == key).map(|(_, t)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 key "12345678901234567890", truncated to 6 digits.
    #[test]
    fn matches_the_rfc_6238_vectors() {
        let secret = base32_encode(b"12345678901234567890");
        assert_eq!(totp_code(&secret, 59 / 30).unwrap(), "287082");
        assert_eq!(totp_code(&secret, 1_111_111_109 / 30).unwrap(), "081804");
        assert_eq!(totp_code(&secret, 1_234_567_890 / 30).unwrap(), "005924");
    }

    #[test]
    fn secrets_are_160_bits_of_unpadded_base32() {
        let f = new_totp("u", Provider::Okta, Timestamp::from_millis(0));
        let secret = f.shared_secret().unwrap();
        assert_eq!(secret.len(), 32);
        assert_eq!(base32_decode(secret).unwrap().len(), 20);
        assert!(base32_decode("not base32!").is_none());
    }

    #[test]
    fn accepts_one_step_of_skew_and_no_more() {
        let f = new_totp("u", Provider::Okta, Timestamp::from_millis(0));
        let secret = f.shared_secret().unwrap().to_owned();
        let now = Timestamp::from_millis(1_700_000_000_000);
        let step = 1_700_000_000 / 30;
        for (s, ok) in [
            (step - 2, false),
            (step - 1, true),
            (step, true),
            (step + 1, true),
            (step + 2, false),
        ] {
            let code = totp_code(&secret, s).unwrap();
            let expected = if ok {
                Check::Valid(Some(s))
            } else {
                Check::Invalid
            };
            assert_eq!(check_totp(&secret, &code, now, None), expected, "step {s}");
        }
    }

    #[test]
    fn a_code_is_accepted_once() {
        let hasher = PasswordHasher::with_params(64, 1, 1).unwrap();
        let mut f = new_totp("u", Provider::Google, Timestamp::from_millis(0));
        let now = Timestamp::from_millis(1_700_000_000_000);
        let code = totp_code(f.shared_secret().unwrap(), 1_700_000_000 / 30).unwrap();
        let Check::Valid(step) = f.check(&hasher, &code, now).unwrap() else {
            panic!("first use must be valid")
        };
        f.record_use(step, now);
        assert_eq!(f.check(&hasher, &code, now).unwrap(), Check::Replayed);
        // An older code from the skew window is a replay too, not a second chance.
        let older = totp_code(f.shared_secret().unwrap(), 1_700_000_000 / 30 - 1).unwrap();
        assert_eq!(f.check(&hasher, &older, now).unwrap(), Check::Replayed);
    }

    #[test]
    fn rejects_malformed_codes() {
        let f = new_totp("u", Provider::Okta, Timestamp::from_millis(0));
        let hasher = PasswordHasher::with_params(64, 1, 1).unwrap();
        for bad in ["", "12345", "1234567", "abcdef", "12 456"] {
            assert_eq!(
                f.check(&hasher, bad, Timestamp::from_millis(0)).unwrap(),
                Check::Invalid,
                "{bad}"
            );
        }
    }

    #[test]
    fn an_emailed_code_works_once_and_expires() {
        let hasher = PasswordHasher::with_params(64, 1, 1).unwrap();
        let t0 = Timestamp::from_millis(1_000);
        let mut f = new_email("u", "ann@example.com", t0);
        assert_eq!(
            f.check(&hasher, "000000", t0).unwrap(),
            Check::Invalid,
            "no code sent yet"
        );
        let code = f.issue_code(t0).unwrap();
        assert_eq!(code.len(), 6);
        assert_eq!(f.check(&hasher, &code, t0).unwrap(), Check::Valid(None));
        f.record_use(None, t0);
        assert_eq!(f.check(&hasher, &code, t0).unwrap(), Check::Invalid, "used");
        let code = f.issue_code(t0).unwrap();
        assert_eq!(
            f.check(&hasher, &code, t0.plus(EMAIL_CODE_TTL)).unwrap(),
            Check::Invalid,
            "expired"
        );
        let newer = f.issue_code(t0).unwrap();
        if newer != code {
            assert_eq!(
                f.check(&hasher, &code, t0).unwrap(),
                Check::Invalid,
                "replaced"
            );
        }
    }

    #[test]
    fn email_is_offered_only_when_mail_can_be_sent() {
        assert!(enrollable(true).any(|(t, _)| t == FactorType::Email));
        assert!(!enrollable(false).any(|(t, _)| t == FactorType::Email));
    }

    #[test]
    fn a_factor_policy_is_read_by_okta_keys_and_leaves_the_rest_optional() {
        let policy =
            FactorPolicy::parse([("okta_otp", "required"), ("google_otp", "NOT_ALLOWED")]).unwrap();
        assert_eq!(
            policy.of((FactorType::Totp, Provider::Okta)),
            FactorEnrollment::Required
        );
        assert_eq!(
            policy.of((FactorType::Question, Provider::Okta)),
            FactorEnrollment::Optional
        );
        let offered: Vec<_> = policy.offered(true).map(|(k, _)| policy_key(k)).collect();
        assert_eq!(
            offered,
            ["okta_otp", "okta_question", "okta_email", "fido_webauthn"]
        );
        let unknown = FactorPolicy::parse([("okta_sms", "REQUIRED")]).unwrap_err();
        assert!(
            unknown.contains("okta_sms") && unknown.contains("okta_question"),
            "{unknown}"
        );
        let bad = FactorPolicy::parse([("okta_otp", "sometimes")]).unwrap_err();
        assert!(bad.contains("NOT_ALLOWED"), "{bad}");
    }

    #[test]
    fn question_answers_compare_case_insensitively() {
        let hasher = PasswordHasher::with_params(64, 1, 1).unwrap();
        let f = new_question(
            &hasher,
            "u",
            "disliked_food",
            "  Brussels Sprouts ",
            Timestamp::from_millis(0),
        )
        .unwrap();
        assert_eq!(
            f.check(&hasher, "brussels sprouts", Timestamp::from_millis(0))
                .unwrap(),
            Check::Valid(None)
        );
        assert_eq!(
            f.check(&hasher, "broccoli", Timestamp::from_millis(0))
                .unwrap(),
            Check::Invalid
        );
    }
}
