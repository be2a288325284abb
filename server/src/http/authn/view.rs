//! Transactions as Okta's Authentication API shows them: `status`, `stateToken`, `expiresAt`,
//! `_embedded` (user, factors, factor, policy) and `_links` (next, prev, skip, cancel).

use crate::authn::factors::{self, Factor, FactorStatus, FactorType};
use crate::authn::flow::{Completed, Pending};
use crate::authn::transaction::Step;
use crate::authn::{AuthnSettings, MfaEnrollment};
use crate::directory::{PasswordPolicy, User};
use crate::paths;
use serde_json::{Map, Value, json};

/// The issuer name shown in authenticator apps.
pub(super) const ISSUER_NAME: &str = "Portcullis";

pub(in crate::http) fn link(base: &str, path: &str, method: &str) -> Value {
    json!({ "href": format!("{base}{path}"), "hints": { "allow": [method] } })
}

fn named_link(base: &str, name: &str, path: &str) -> Value {
    let mut l = link(base, path, "POST");
    l["name"] = json!(name);
    l
}

fn embedded_user(u: &User) -> Value {
    json!({
        "id": u.id,
        "passwordChanged": u.password_changed.map(|t| t.iso8601()),
        "profile": {
            "login": u.profile.login,
            "firstName": u.profile.first_name,
            "lastName": u.profile.last_name,
            "locale": "en",
            "timeZone": "UTC",
        }
    })
}

fn factor_profile(f: &Factor, user: &User) -> Value {
    match f.factor_type {
        FactorType::Totp => json!({ "credentialId": user.profile.login }),
        FactorType::Question => {
            let q = f.question().unwrap_or_default();
            json!({ "question": q, "questionText": factors::question_text(q).unwrap_or(q) })
        }
        FactorType::Email => json!({ "email": mask_email(f.email_address().unwrap_or_default()) }),
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

fn resend_link(base: &str, template: &str, factor_id: &str) -> Value {
    let mut l = link(base, &template.replace("{id}", factor_id), "POST");
    l["name"] = json!("email");
    json!([l])
}

pub(in crate::http) fn factor_base(f: &Factor, user: &User) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(f.id));
    m.insert("factorType".into(), json!(f.factor_type));
    m.insert("provider".into(), json!(f.provider));
    m.insert("vendorName".into(), json!(f.provider));
    m.insert("profile".into(), factor_profile(f, user));
    m
}

/// The response to a transition that left the transaction waiting at a step.
pub(in crate::http) fn pending(
    base: &str,
    settings: &AuthnSettings,
    policy: &PasswordPolicy,
    p: &Pending,
) -> Value {
    let mut embedded = Map::new();
    embedded.insert("user".into(), embedded_user(&p.user));
    let mut links = Map::new();
    links.insert("cancel".into(), link(base, paths::AUTHN_CANCEL, "POST"));

    match &p.tx.step {
        Step::MfaRequired => {
            let list: Vec<Value> = p
                .factors
                .iter()
                .filter(|f| f.status == FactorStatus::Active)
                .map(|f| {
                    let mut m = factor_base(f, &p.user);
                    let verify = paths::AUTHN_FACTOR_VERIFY.replace("{id}", &f.id);
                    m.insert(
                        "_links".into(),
                        json!({ "verify": link(base, &verify, "POST") }),
                    );
                    Value::Object(m)
                })
                .collect();
            embedded.insert("factors".into(), Value::Array(list));
            embedded.insert(
                "policy".into(),
                json!({
                    "allowRememberDevice": false,
                    "rememberDeviceByDefault": false,
                    "rememberDeviceLifetimeInMinutes": 0,
                }),
            );
        }
        Step::MfaEnroll => {
            let enrollment = match p.enrollment {
                MfaEnrollment::Required => "REQUIRED",
                MfaEnrollment::Optional | MfaEnrollment::None => "OPTIONAL",
            };
            let list: Vec<Value> = factors::enrollable(settings.email_factor)
                .map(|(kind, provider)| {
                    let enrolled = p.factors.iter().any(|f| {
                        f.status == FactorStatus::Active
                            && f.factor_type == kind
                            && f.provider == provider
                    });
                    let mut l = json!({ "enroll": link(base, paths::AUTHN_FACTORS, "POST") });
                    if kind == FactorType::Question {
                        let q = paths::FACTOR_QUESTIONS.replace("{id}", &p.user.id);
                        l["questions"] = link(base, &q, "GET");
                    }
                    json!({
                        "factorType": kind,
                        "provider": provider,
                        "vendorName": provider,
                        "status": if enrolled { "ACTIVE" } else { "NOT_SETUP" },
                        "enrollment": enrollment,
                        "_links": l,
                    })
                })
                .collect();
            embedded.insert("factors".into(), Value::Array(list));
        }
        Step::MfaChallenge { factor_id } => {
            if let Some(f) = p.factors.iter().find(|f| &f.id == factor_id) {
                embedded.insert("factor".into(), Value::Object(factor_base(f, &p.user)));
                let verify = paths::AUTHN_FACTOR_VERIFY.replace("{id}", &f.id);
                links.insert("next".into(), named_link(base, "verify", &verify));
                links.insert(
                    "resend".into(),
                    resend_link(base, paths::AUTHN_FACTOR_VERIFY_RESEND, &f.id),
                );
            }
            links.insert("prev".into(), link(base, paths::AUTHN_PREVIOUS, "POST"));
        }
        Step::MfaEnrollActivate { factor_id }
            if p.factors
                .iter()
                .any(|f| &f.id == factor_id && f.factor_type == FactorType::Email) =>
        {
            if let Some(f) = p.factors.iter().find(|f| &f.id == factor_id) {
                embedded.insert("factor".into(), Value::Object(factor_base(f, &p.user)));
                let activate = paths::AUTHN_FACTOR_ACTIVATE.replace("{id}", &f.id);
                links.insert("next".into(), named_link(base, "activate", &activate));
                links.insert(
                    "resend".into(),
                    resend_link(base, paths::AUTHN_FACTOR_ACTIVATE_RESEND, &f.id),
                );
            }
            links.insert("prev".into(), link(base, paths::AUTHN_PREVIOUS, "POST"));
        }
        Step::MfaEnrollActivate { factor_id } => {
            if let Some(f) = p.factors.iter().find(|f| &f.id == factor_id) {
                let mut m = factor_base(f, &p.user);
                let qr = paths::FACTOR_QR
                    .replace("{id}", &p.user.id)
                    .replace("{fid}", &f.id)
                    .replace("{token}", f.activation_token.as_deref().unwrap_or_default());
                m.insert(
                    "_embedded".into(),
                    json!({
                        "activation": {
                            "timeStep": factors::TOTP_STEP_SECS,
                            "sharedSecret": f.shared_secret(),
                            "encoding": "base32",
                            "keyLength": factors::TOTP_DIGITS,
                            "_links": {
                                "qrcode": { "href": format!("{base}{qr}"), "type": "image/svg+xml" }
                            }
                        }
                    }),
                );
                embedded.insert("factor".into(), Value::Object(m));
                let activate = paths::AUTHN_FACTOR_ACTIVATE.replace("{id}", &f.id);
                links.insert("next".into(), named_link(base, "activate", &activate));
            }
            links.insert("prev".into(), link(base, paths::AUTHN_PREVIOUS, "POST"));
        }
        Step::Recovery { .. } => {
            let question = p
                .factors
                .iter()
                .find(|f| f.factor_type == FactorType::Question && f.status == FactorStatus::Active)
                .and_then(Factor::question)
                .map(|q| factors::question_text(q).unwrap_or(q));
            if let Some(user) = embedded.get_mut("user") {
                user["recovery_question"] = json!({ "question": question });
            }
            links.insert(
                "next".into(),
                named_link(base, "answer", paths::AUTHN_RECOVERY_ANSWER),
            );
        }
        Step::PasswordReset => {
            embedded.insert("policy".into(), password_policy(policy));
            links.insert(
                "next".into(),
                named_link(base, "resetPassword", paths::AUTHN_RESET_PASSWORD),
            );
        }
        Step::PasswordExpired | Step::PasswordWarn => {
            let mut pol = password_policy(policy);
            if let Some(days) = p.days_to_expiry.filter(|_| p.tx.step == Step::PasswordWarn) {
                pol["expiration"] = json!({ "passwordExpireDays": days.max(0) });
            }
            embedded.insert("policy".into(), pol);
            links.insert(
                "next".into(),
                named_link(base, "changePassword", paths::AUTHN_CHANGE_PASSWORD),
            );
        }
    }
    if p.skippable {
        links.insert("skip".into(), link(base, paths::AUTHN_SKIP, "POST"));
    }

    let mut body = json!({
        "stateToken": p.state_token,
        "expiresAt": p.tx.expires_at.iso8601(),
        "status": p.tx.step.status(),
        "_embedded": embedded,
        "_links": links,
    });
    if let Some(result) = p.factor_result {
        body["factorResult"] = json!(result.as_str());
    }
    match p.tx.step {
        Step::Recovery { recovery_type } => body["recoveryType"] = json!(recovery_type.as_str()),
        Step::PasswordReset => body["recoveryType"] = json!("PASSWORD"),
        _ => {}
    }
    body
}

fn password_policy(policy: &PasswordPolicy) -> Value {
    json!({
        "complexity": {
            "minLength": policy.min_length,
            "minLowerCase": policy.min_lower_case,
            "minUpperCase": policy.min_upper_case,
            "minNumber": policy.min_number,
            "minSymbol": policy.min_symbol,
            "excludeUsername": policy.exclude_username,
        },
        "age": { "minAgeMinutes": 0, "historyCount": policy.history_count },
    })
}

/// An unlock by recovery completed: no session token (Okta's shape).
pub(super) fn unlocked(user: &User) -> Value {
    json!({
        "status": "SUCCESS",
        "recoveryType": "UNLOCK",
        "_embedded": { "user": embedded_user(user) },
    })
}

/// The SUCCESS transaction: a one-time session token and the user.
pub(super) fn success(c: &Completed) -> Value {
    json!({
        "expiresAt": c.expires_at.iso8601(),
        "status": "SUCCESS",
        "sessionToken": c.session_token.expose(),
        "_embedded": { "user": embedded_user(&c.user) },
    })
}

/// LOCKED_OUT, with the way out (shown only when the org opts in).
pub(super) fn locked_out(base: &str) -> Value {
    json!({
        "status": "LOCKED_OUT",
        "_links": { "next": named_link(base, "unlock", paths::AUTHN_RECOVERY_UNLOCK) },
    })
}
