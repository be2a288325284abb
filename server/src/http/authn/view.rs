//! Transactions as Okta's Authentication API shows them: `status`, `stateToken`, `expiresAt`,
//! `_embedded` (user, factors, factor, policy) and `_links` (next, prev, skip, cancel), built
//! as the typed [`AuthnTx`] the hosted pages and the widget read back.

use crate::authn::factors::{self, Factor, FactorEnrollment, FactorStatus, FactorType};
use crate::authn::flow::{self, Completed, Pending};
use crate::authn::passkeys;
use crate::authn::transaction::Step;
use crate::authn::{AuthnSettings, MfaEnrollment};
use crate::directory::{PasswordPolicy, User};
use crate::paths;
use proto::authn::{
    Activation, ActivationLinks, Age, AuthnStatus, AuthnTx, Complexity, EmbeddedUser, Expiration,
    FactorEmbedded, FactorInfo, FactorLinks, FactorProfile, Link, Policy, RecoveryQuestion,
    UserProfile,
};

/// The issuer name shown in authenticator apps.
pub(super) const ISSUER_NAME: &str = "Portcullis";

pub(in crate::http) fn link(base: &str, path: &str, method: &str) -> Link {
    Link::to(format!("{base}{path}"), method)
}

fn named_link(base: &str, name: &str, path: &str) -> Link {
    link(base, path, "POST").named(name)
}

fn embedded_user(u: &User) -> EmbeddedUser {
    EmbeddedUser {
        id: u.id.clone(),
        password_changed: u.password_changed.map(|t| t.iso8601()),
        profile: UserProfile {
            login: u.profile.login.clone(),
            first_name: u.profile.first_name.clone(),
            last_name: u.profile.last_name.clone(),
            locale: "en".to_owned(),
            time_zone: "UTC".to_owned(),
        },
        recovery_question: None,
    }
}

fn factor_profile(f: &Factor, user: &User) -> FactorProfile {
    match f.factor_type {
        FactorType::Totp => FactorProfile {
            credential_id: Some(user.profile.login.clone()),
            ..FactorProfile::default()
        },
        FactorType::Question => {
            let q = f.question().unwrap_or_default();
            FactorProfile {
                question: Some(q.to_owned()),
                question_text: Some(factors::question_text(q).unwrap_or(q).to_owned()),
                ..FactorProfile::default()
            }
        }
        FactorType::Email => FactorProfile {
            email: Some(mask_email(f.email_address().unwrap_or_default())),
            ..FactorProfile::default()
        },
        FactorType::Webauthn => {
            let (id, name) = f.passkey_profile().unwrap_or_default();
            FactorProfile {
                credential_id: Some(id.to_owned()).filter(|i| !i.is_empty()),
                authenticator_name: Some(name.to_owned()).filter(|n| !n.is_empty()),
                ..FactorProfile::default()
            }
        }
    }
}

/// `a…@example.com`: enough for the person to recognise, little for anyone else.
fn mask_email(address: &str) -> String {
    match address.split_once('@') {
        Some((local, domain)) => {
            let first: String = local.chars().take(1).collect();
            format!("{first}…@{domain}")
        }
        None => "…".to_owned(),
    }
}

fn resend_link(base: &str, template: &str, factor_id: &str) -> Vec<Link> {
    vec![link(base, &template.replace("{id}", factor_id), "POST").named("email")]
}

/// A factor as both APIs show it: id, kind, provider and profile.
pub(in crate::http) fn factor_base(f: &Factor, user: &User) -> FactorInfo {
    FactorInfo {
        id: Some(f.id.clone()),
        factor_type: f.factor_type.as_str().to_owned(),
        provider: f.provider.as_str().to_owned(),
        vendor_name: Some(f.provider.as_str().to_owned()),
        profile: Some(factor_profile(f, user)),
        ..FactorInfo::default()
    }
}

/// A factor awaiting activation: a TOTP factor's shared secret and QR code, a passkey's
/// creation options (none for other kinds).
pub(in crate::http) fn totp_activation(
    base: &str,
    f: &Factor,
    user: &User,
) -> Option<FactorEmbedded> {
    if let Some(serde_json::Value::Object(options)) = f.creation_options() {
        return Some(FactorEmbedded {
            activation: Some(Activation {
                webauthn: options,
                ..Activation::default()
            }),
            challenge: None,
        });
    }
    let secret = f.shared_secret()?;
    let qr = paths::FACTOR_QR
        .replace("{id}", &user.id)
        .replace("{fid}", &f.id)
        .replace("{token}", f.activation_token.as_deref().unwrap_or_default());
    Some(FactorEmbedded {
        activation: Some(Activation {
            time_step: Some(factors::TOTP_STEP_SECS),
            shared_secret: Some(secret.to_owned()),
            encoding: Some("base32".to_owned()),
            key_length: Some(u32::try_from(factors::TOTP_DIGITS).unwrap_or(u32::MAX)),
            links: Some(ActivationLinks {
                qrcode: Some(Link {
                    href: format!("{base}{qr}"),
                    media_type: Some("image/svg+xml".to_owned()),
                    ..Link::default()
                }),
            }),
            webauthn: serde_json::Map::new(),
        }),
        challenge: None,
    })
}

/// The response to a transition that left the transaction waiting at a step.
pub(in crate::http) fn pending(
    base: &str,
    settings: &AuthnSettings,
    policy: &PasswordPolicy,
    p: &Pending,
) -> AuthnTx {
    let mut tx = AuthnTx::new(p.tx.step.status());
    tx.state_token = Some(p.state_token.clone());
    tx.expires_at = Some(p.tx.expires_at.iso8601());
    tx.factor_result = p.factor_result.map(|r| r.as_str().to_owned());
    tx.embedded.user = Some(embedded_user(&p.user));
    tx.links.cancel = Some(link(base, paths::AUTHN_CANCEL, "POST"));
    let embedded = &mut tx.embedded;
    let links = &mut tx.links;

    match &p.tx.step {
        Step::MfaRequired => {
            embedded.factors = p
                .factors
                .iter()
                .filter(|f| f.status == FactorStatus::Active)
                .map(|f| {
                    let verify = paths::AUTHN_FACTOR_VERIFY.replace("{id}", &f.id);
                    FactorInfo {
                        links: Some(FactorLinks {
                            verify: Some(link(base, &verify, "POST")),
                            ..FactorLinks::default()
                        }),
                        ..factor_base(f, &p.user)
                    }
                })
                .collect();
            embedded.policy = Some(Policy {
                allow_remember_device: Some(false),
                remember_device_by_default: Some(false),
                remember_device_lifetime_in_minutes: Some(0),
                ..Policy::default()
            });
        }
        Step::MfaEnroll => {
            // Okta's REQUIRED is "this kind must be set up". A policy that requires some
            // factor, any, sends each as OPTIONAL with no skip link: the person picks one.
            let offering = p.enrollment != MfaEnrollment::None;
            embedded.factors = settings
                .factor_policy
                .offered(settings.email_factor)
                .map(|((kind, provider), rule)| {
                    let enrollment = match rule {
                        FactorEnrollment::Required if offering => "REQUIRED",
                        _ => "OPTIONAL",
                    };
                    let enrolled = p.factors.iter().any(|f| {
                        f.status == FactorStatus::Active
                            && f.factor_type == kind
                            && f.provider == provider
                    });
                    let questions = (kind == FactorType::Question).then(|| {
                        let q = paths::FACTOR_QUESTIONS.replace("{id}", &p.user.id);
                        link(base, &q, "GET")
                    });
                    let status = if enrolled { "ACTIVE" } else { "NOT_SETUP" };
                    FactorInfo {
                        factor_type: kind.as_str().to_owned(),
                        provider: provider.as_str().to_owned(),
                        vendor_name: Some(provider.as_str().to_owned()),
                        status: Some(status.to_owned()),
                        enrollment: Some(enrollment.to_owned()),
                        links: Some(FactorLinks {
                            enroll: Some(link(base, paths::AUTHN_FACTORS, "POST")),
                            questions,
                            ..FactorLinks::default()
                        }),
                        ..FactorInfo::default()
                    }
                })
                .collect();
        }
        Step::MfaChallenge { factor_id } if factor_id == flow::ANY_PASSKEY => {
            // Any of the person's passkeys: the challenge, and each passkey it allows.
            tx.factor_type = Some(flow::ANY_PASSKEY.to_owned());
            embedded.challenge = p.tx.ceremony.as_ref().map(passkeys::request_options);
            embedded.factors = p
                .factors
                .iter()
                .filter(|f| f.factor_type == FactorType::Webauthn)
                .filter(|f| f.status == FactorStatus::Active)
                .map(|f| factor_base(f, &p.user))
                .collect();
            let verify = paths::AUTHN_FACTOR_VERIFY.replace("{id}", flow::ANY_PASSKEY);
            links.next = Some(named_link(base, "verify", &verify));
            links.prev = Some(link(base, paths::AUTHN_PREVIOUS, "POST"));
        }
        Step::MfaChallenge { factor_id } => {
            if let Some(f) = p.factors.iter().find(|f| &f.id == factor_id) {
                let challenge = p.tx.ceremony.as_ref().map(passkeys::request_options);
                embedded.factor = Some(FactorInfo {
                    embedded: challenge.map(|c| FactorEmbedded {
                        activation: None,
                        challenge: Some(c),
                    }),
                    ..factor_base(f, &p.user)
                });
                let verify = paths::AUTHN_FACTOR_VERIFY.replace("{id}", &f.id);
                links.next = Some(named_link(base, "verify", &verify));
                if f.factor_type == FactorType::Email {
                    links.resend =
                        Some(resend_link(base, paths::AUTHN_FACTOR_VERIFY_RESEND, &f.id));
                }
            }
            links.prev = Some(link(base, paths::AUTHN_PREVIOUS, "POST"));
        }
        Step::MfaEnrollActivate { factor_id } => {
            if let Some(f) = p.factors.iter().find(|f| &f.id == factor_id) {
                let activate = paths::AUTHN_FACTOR_ACTIVATE.replace("{id}", &f.id);
                links.next = Some(named_link(base, "activate", &activate));
                if f.factor_type == FactorType::Email {
                    links.resend = Some(resend_link(
                        base,
                        paths::AUTHN_FACTOR_ACTIVATE_RESEND,
                        &f.id,
                    ));
                }
                embedded.factor = Some(FactorInfo {
                    embedded: totp_activation(base, f, &p.user),
                    ..factor_base(f, &p.user)
                });
            }
            links.prev = Some(link(base, paths::AUTHN_PREVIOUS, "POST"));
        }
        Step::Recovery { recovery_type } => {
            let question = p
                .factors
                .iter()
                .find(|f| f.factor_type == FactorType::Question && f.status == FactorStatus::Active)
                .and_then(Factor::question)
                .map(|q| factors::question_text(q).unwrap_or(q).to_owned());
            if let Some(user) = embedded.user.as_mut() {
                user.recovery_question = Some(RecoveryQuestion { question });
            }
            links.next = Some(named_link(base, "answer", paths::AUTHN_RECOVERY_ANSWER));
            tx.recovery_type = Some(recovery_type.as_str().to_owned());
        }
        Step::PasswordReset => {
            embedded.policy = Some(password_policy(policy));
            links.next = Some(named_link(
                base,
                "resetPassword",
                paths::AUTHN_RESET_PASSWORD,
            ));
            tx.recovery_type = Some("PASSWORD".to_owned());
        }
        Step::PasskeyChallenge => {}
        Step::PasswordExpired | Step::PasswordWarn => {
            let mut pol = password_policy(policy);
            if let Some(days) = p.days_to_expiry.filter(|_| p.tx.step == Step::PasswordWarn) {
                pol.expiration = Some(Expiration {
                    password_expire_days: Some(days.max(0)),
                });
            }
            embedded.policy = Some(pol);
            links.next = Some(named_link(
                base,
                "changePassword",
                paths::AUTHN_CHANGE_PASSWORD,
            ));
        }
    }
    if p.skippable {
        tx.links.skip = Some(link(base, paths::AUTHN_SKIP, "POST"));
    }
    tx
}

fn count(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn password_policy(policy: &PasswordPolicy) -> Policy {
    Policy {
        complexity: Some(Complexity {
            min_length: count(policy.min_length),
            min_lower_case: count(policy.min_lower_case),
            min_upper_case: count(policy.min_upper_case),
            min_number: count(policy.min_number),
            min_symbol: count(policy.min_symbol),
            exclude_username: policy.exclude_username,
        }),
        age: Some(Age {
            min_age_minutes: 0,
            history_count: count(policy.history_count),
        }),
        ..Policy::default()
    }
}

/// An unlock by recovery completed: no session token (Okta's shape).
pub(super) fn unlocked(user: &User) -> AuthnTx {
    let mut tx = AuthnTx::new(AuthnStatus::Success);
    tx.recovery_type = Some("UNLOCK".to_owned());
    tx.embedded.user = Some(embedded_user(user));
    tx
}

/// The SUCCESS transaction: a one-time session token and the user.
pub(super) fn success(c: &Completed) -> AuthnTx {
    let mut tx = AuthnTx::new(AuthnStatus::Success);
    tx.expires_at = Some(c.expires_at.iso8601());
    tx.session_token = Some(c.session_token.expose().to_owned());
    tx.embedded.user = Some(embedded_user(&c.user));
    tx
}

/// LOCKED_OUT, with the way out (shown only when the org opts in).
pub(super) fn locked_out(base: &str) -> AuthnTx {
    let mut tx = AuthnTx::new(AuthnStatus::LockedOut);
    tx.links.next = Some(named_link(base, "unlock", paths::AUTHN_RECOVERY_UNLOCK));
    tx
}

/// A transaction that ended without signing in.
pub(super) fn unauthenticated() -> AuthnTx {
    AuthnTx::new(AuthnStatus::Unauthenticated)
}
