//! An Authentication API transaction as the pages and the widget show it: parsed from Okta's
//! `/api/v1/authn` JSON (the server renders the hosted pages from the very same JSON), so both
//! show the same step the same way.

use serde::{Deserialize, Serialize};

/// The security questions a person may choose (Okta's keys and texts).
pub const QUESTIONS: [(&str, &str); 8] = [
    (
        "disliked_food",
        "What is the food you least liked as a child?",
    ),
    (
        "name_of_first_plush_toy",
        "What is the name of your first stuffed animal?",
    ),
    (
        "first_award",
        "What did you earn your first medal or award for?",
    ),
    (
        "favorite_security_question",
        "What is your favorite security question?",
    ),
    (
        "favorite_toy",
        "What is the toy/stuffed animal you liked the most as a kid?",
    ),
    (
        "first_computer_game",
        "What was the first computer game you played?",
    ),
    ("favorite_movie_quote", "What is your favorite movie quote?"),
    (
        "first_sports_team_mascot",
        "What was the mascot of the first sports team you played on?",
    ),
];

/// [`QUESTIONS`] as the step views take them.
pub fn question_choices() -> Vec<(String, String)> {
    QUESTIONS
        .iter()
        .map(|(k, t)| ((*k).to_owned(), (*t).to_owned()))
        .collect()
}

/// Where a transaction stands: Okta's `status` values. The server writes them, the pages and
/// the widget match on them, so a status one side does not know cannot go unnoticed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AuthnStatus {
    /// Cancelled, or never started.
    #[default]
    Unauthenticated,
    Success,
    MfaRequired,
    MfaChallenge,
    MfaEnroll,
    MfaEnrollActivate,
    PasswordExpired,
    PasswordWarn,
    PasswordReset,
    Recovery,
    RecoveryChallenge,
    LockedOut,
}

/// An Authentication API transaction (`/api/v1/authn` and the calls that move it on), exactly
/// as the server sends it and the pages and the widget read it: one type on both sides.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthnTx {
    pub status: AuthnStatus,
    /// Left out of the hosted pages (the server keeps it in an HttpOnly cookie).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor_result: Option<String>,
    /// `RECOVERY_CHALLENGE`: which factor carries the recovery (`EMAIL`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_type: Option<String>,
    /// A trusted application's recovery: the token it hands on instead of an email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_token: Option<String>,
    #[serde(
        default,
        rename = "_embedded",
        skip_serializing_if = "Embedded::is_empty"
    )]
    pub embedded: Embedded,
    #[serde(default, rename = "_links", skip_serializing_if = "Links::is_empty")]
    pub links: Links,
}

impl AuthnTx {
    pub fn new(status: AuthnStatus) -> Self {
        AuthnTx {
            status,
            ..AuthnTx::default()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Embedded {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<EmbeddedUser>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub factors: Vec<FactorInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub factor: Option<FactorInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    /// At MFA_CHALLENGE for any of the person's passkeys (`factorType` `webauthn`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<serde_json::Value>,
}

impl Embedded {
    pub fn is_empty(&self) -> bool {
        *self == Embedded::default()
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmbeddedUser {
    #[serde(default)]
    pub id: String,
    /// When the password was last set (`null` if never).
    #[serde(default)]
    pub password_changed: Option<String>,
    #[serde(default)]
    pub profile: UserProfile,
    /// Okta spells this one in snake case.
    #[serde(
        default,
        rename = "recovery_question",
        skip_serializing_if = "Option::is_none"
    )]
    pub recovery_question: Option<RecoveryQuestion>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserProfile {
    #[serde(default)]
    pub login: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub locale: String,
    #[serde(default)]
    pub time_zone: String,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecoveryQuestion {
    #[serde(default)]
    pub question: Option<String>,
}

/// A factor: in a transaction (to verify, to enroll, being activated) and in the Factors API.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FactorInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub factor_type: String,
    pub provider: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrollment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<FactorProfile>,
    #[serde(default, rename = "_embedded", skip_serializing_if = "Option::is_none")]
    pub embedded: Option<FactorEmbedded>,
    #[serde(default, rename = "_links", skip_serializing_if = "Option::is_none")]
    pub links: Option<FactorLinks>,
}

/// What a factor's profile shows: whose authenticator, which question, which (masked) address.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FactorProfile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question_text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A passkey's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub authenticator_name: Option<String>,
}

impl FactorInfo {
    pub fn is_totp(&self) -> bool {
        self.factor_type == "token:software:totp"
    }
    pub fn is_email(&self) -> bool {
        self.factor_type == "email"
    }
    pub fn is_question(&self) -> bool {
        self.factor_type == "question"
    }
    pub fn is_passkey(&self) -> bool {
        self.factor_type == "webauthn"
    }

    /// The question as it is shown (its text, else its key).
    pub fn question_text(&self) -> Option<&str> {
        let p = self.profile.as_ref()?;
        p.question_text.as_deref().or(p.question.as_deref())
    }

    /// The (masked) address an email factor sends to.
    pub fn email(&self) -> Option<&str> {
        self.profile.as_ref()?.email.as_deref()
    }

    /// The TOTP enrollment's QR code URL and shared secret.
    pub fn activation(&self) -> Option<&Activation> {
        self.embedded.as_ref()?.activation.as_ref()
    }

    /// A stable key naming the factor kind, e.g. `totp-GOOGLE`, `email`, `question`.
    pub fn kind_key(&self) -> String {
        if self.is_totp() {
            format!("totp-{}", self.provider)
        } else {
            self.factor_type.clone()
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FactorEmbedded {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activation: Option<Activation>,
    /// At MFA_CHALLENGE for a passkey: the WebAuthn request options (`challenge`, `rpId`,
    /// `allowCredentials`, `userVerification`, `timeout`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub challenge: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Activation {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_step: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shared_secret: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encoding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_length: Option<u32>,
    #[serde(default, rename = "_links", skip_serializing_if = "Option::is_none")]
    pub links: Option<ActivationLinks>,
    /// A passkey's: the WebAuthn creation options, which Okta's widget hands to
    /// `navigator.credentials.create()` whole (`challenge`, `rp`, `user`, `pubKeyCredParams`,
    /// `excludeCredentials`, `authenticatorSelection`, `attestation`, `timeout`).
    #[serde(flatten)]
    pub webauthn: serde_json::Map<String, serde_json::Value>,
}

impl Activation {
    pub fn qr_href(&self) -> Option<&str> {
        Some(self.links.as_ref()?.qrcode.as_ref()?.href.as_str())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ActivationLinks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qrcode: Option<Link>,
}

/// A HAL link: where, which methods, and for named links and images their name or type.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Link {
    pub href: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hints: Option<Hints>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hints {
    pub allow: Vec<String>,
}

impl Link {
    /// `href` that allows `method`.
    pub fn to(href: String, method: &str) -> Self {
        Link {
            href,
            hints: Some(Hints {
                allow: vec![method.to_owned()],
            }),
            ..Link::default()
        }
    }

    pub fn named(mut self, name: &str) -> Self {
        self.name = Some(name.to_owned());
        self
    }
}

/// A factor's own links: in a transaction `verify`, `enroll`, `questions`; in the Factors API
/// `self`, `user`, `activate`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FactorLinks {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enroll: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub questions: Option<Link>,
    #[serde(default, rename = "self", skip_serializing_if = "Option::is_none")]
    pub self_link: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activate: Option<Link>,
}

/// The policy a step is under: remembering the device (MFA), or what a new password needs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_remember_device: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remember_device_by_default: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remember_device_lifetime_in_minutes: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub complexity: Option<Complexity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<Age>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration: Option<Expiration>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Complexity {
    #[serde(default)]
    pub min_length: u32,
    #[serde(default)]
    pub min_lower_case: u32,
    #[serde(default)]
    pub min_upper_case: u32,
    #[serde(default)]
    pub min_number: u32,
    #[serde(default)]
    pub min_symbol: u32,
    #[serde(default)]
    pub exclude_username: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Age {
    #[serde(default)]
    pub min_age_minutes: u32,
    #[serde(default)]
    pub history_count: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Expiration {
    #[serde(default)]
    pub password_expire_days: Option<i64>,
}

/// Where the transaction can go from here.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Links {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prev: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skip: Option<Link>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resend: Option<Vec<Link>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel: Option<Link>,
}

impl Links {
    pub fn is_empty(&self) -> bool {
        *self == Links::default()
    }
}

/// What a password must have, each rule checkable as the person types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordRule {
    MinLength(u32),
    Lower,
    Upper,
    Number,
    Symbol,
    NoUsername,
}

impl PasswordRule {
    pub fn list(c: &Complexity) -> Vec<PasswordRule> {
        let mut v = vec![PasswordRule::MinLength(c.min_length)];
        if c.min_lower_case > 0 {
            v.push(PasswordRule::Lower);
        }
        if c.min_upper_case > 0 {
            v.push(PasswordRule::Upper);
        }
        if c.min_number > 0 {
            v.push(PasswordRule::Number);
        }
        if c.min_symbol > 0 {
            v.push(PasswordRule::Symbol);
        }
        if c.exclude_username {
            v.push(PasswordRule::NoUsername);
        }
        v
    }

    /// Whether `password` meets the rule (`username` for the no-username rule). The server
    /// checks again; this only guides the person.
    pub fn met(self, password: &str, username: &str) -> bool {
        match self {
            PasswordRule::MinLength(n) => password.chars().count() >= n as usize,
            PasswordRule::Lower => password.chars().any(char::is_lowercase),
            PasswordRule::Upper => password.chars().any(char::is_uppercase),
            PasswordRule::Number => password.chars().any(|c| c.is_ascii_digit()),
            PasswordRule::Symbol => password.chars().any(|c| !c.is_alphanumeric()),
            PasswordRule::NoUsername => {
                let local = username
                    .split('@')
                    .next()
                    .unwrap_or_default()
                    .to_lowercase();
                local.len() < 3 || !password.to_lowercase().contains(&local)
            }
        }
    }
}

/// Okta's rule: the login's local part, and each of its pieces split at `.` `,` `-` `_` `#`
/// `+`, may not appear in the password when three characters or longer (case-insensitive).
/// The server enforces it with this same function.
pub fn contains_username_part(password: &str, login: &str) -> bool {
    let pw = password.to_lowercase();
    let local = login.split('@').next().unwrap_or(login).to_lowercase();
    std::iter::once(local.as_str())
        .chain(local.split(['.', ',', '-', '_', '#', '+']))
        .any(|part| part.chars().count() >= 3 && pw.contains(part))
}

/// What a step form asks for: the `action` field of the hosted pages' step forms, which the
/// server and the widget both act on. One enum, so that a page, the widget and the server
/// cannot disagree on a name, and each must say what it does with every action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepAction {
    Verify,
    Enroll,
    Activate,
    Resend,
    Prev,
    Skip,
    Cancel,
    ChangePassword,
    ResetPassword,
    Answer,
}

impl StepAction {
    pub const ALL: [StepAction; 10] = [
        Self::Verify,
        Self::Enroll,
        Self::Activate,
        Self::Resend,
        Self::Prev,
        Self::Skip,
        Self::Cancel,
        Self::ChangePassword,
        Self::ResetPassword,
        Self::Answer,
    ];

    /// The value the form's hidden field carries.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Enroll => "enroll",
            Self::Activate => "activate",
            Self::Resend => "resend",
            Self::Prev => "prev",
            Self::Skip => "skip",
            Self::Cancel => "cancel",
            Self::ChangePassword => "change_password",
            Self::ResetPassword => "reset_password",
            Self::Answer => "answer",
        }
    }

    /// The action a submitted field names, if any.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_step_action_is_read_back_from_its_field_value() {
        for action in StepAction::ALL {
            assert_eq!(StepAction::parse(action.as_str()), Some(action));
        }
        let names: std::collections::HashSet<_> =
            StepAction::ALL.iter().map(|a| a.as_str()).collect();
        assert_eq!(names.len(), StepAction::ALL.len());
        assert_eq!(StepAction::parse("Verify"), None);
        assert_eq!(StepAction::parse(""), None);
    }

    #[test]
    fn parses_an_enroll_activate_response() {
        let json = r#"{"stateToken":"st","status":"MFA_ENROLL_ACTIVATE","_embedded":{"user":{"id":"00u1","profile":{"login":"a@b.c","firstName":"A"}},
          "factor":{"id":"f1","factorType":"token:software:totp","provider":"GOOGLE","profile":{"credentialId":"a@b.c"},
          "_embedded":{"activation":{"sharedSecret":"ABC","_links":{"qrcode":{"href":"http://x/qr"}}}}}},
          "_links":{"prev":{"href":"p"},"cancel":{"href":"c"}}}"#;
        let tx: AuthnTx = serde_json::from_str(json).unwrap();
        let f = tx.embedded.factor.unwrap();
        assert!(f.is_totp());
        assert_eq!(
            f.activation().and_then(Activation::qr_href),
            Some("http://x/qr")
        );
        assert!(tx.links.prev.is_some() && tx.links.skip.is_none());
    }

    #[test]
    fn a_transaction_reads_back_as_it_was_written_and_in_okta_spelling() {
        let mut tx = AuthnTx::new(AuthnStatus::MfaEnrollActivate);
        tx.state_token = Some("st".into());
        tx.links.resend = Some(vec![Link::to("http://x/r".into(), "POST").named("email")]);
        tx.embedded.user = Some(EmbeddedUser {
            id: "00u1".into(),
            recovery_question: Some(RecoveryQuestion { question: None }),
            ..EmbeddedUser::default()
        });
        let json = serde_json::to_value(&tx).unwrap();
        assert_eq!(json["status"], "MFA_ENROLL_ACTIVATE");
        assert_eq!(json["stateToken"], "st");
        assert_eq!(json["_links"]["resend"][0]["hints"]["allow"][0], "POST");
        assert_eq!(json["_links"]["resend"][0]["name"], "email");
        assert!(json["_embedded"]["user"]["recovery_question"].is_object());
        assert!(json["_embedded"]["user"]["passwordChanged"].is_null());
        assert!(json.get("sessionToken").is_none() && json["_links"].get("skip").is_none());
        assert_eq!(serde_json::from_value::<AuthnTx>(json).unwrap(), tx);

        let cancelled = serde_json::to_value(AuthnTx::new(AuthnStatus::Unauthenticated)).unwrap();
        assert_eq!(
            cancelled,
            serde_json::json!({ "status": "UNAUTHENTICATED" })
        );
        assert!(serde_json::from_str::<AuthnTx>(r#"{"status":"NO_SUCH_STATUS"}"#).is_err());
    }

    #[test]
    fn password_rules_guide_as_the_person_types() {
        let c = Complexity {
            min_length: 8,
            min_lower_case: 1,
            min_upper_case: 1,
            min_number: 1,
            min_symbol: 0,
            exclude_username: true,
        };
        let rules = PasswordRule::list(&c);
        assert_eq!(rules.len(), 5);
        let all = |p: &str| rules.iter().all(|r| r.met(p, "robin@example.com"));
        assert!(!all("short1A"));
        assert!(!all("Robin-Pass-1"));
        assert!(all("Sturdy-Gate-42"));
    }
}
