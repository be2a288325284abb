//! Self-service registration: a person signs up with their email address and names (and the
//! attributes the org asks for), and the account becomes theirs only once they prove the
//! address. The account is created PROVISIONED, without a password, and an activation link
//! is emailed; the link leads to choosing a password under the password policy (the same step
//! an admin's activation email leads to), which makes the account ACTIVE and signs them in.
//! Nobody can claim an address they cannot read, and no password is kept for one.
//!
//! An address that already has an account gets the same answer on the page and, instead of a
//! link, an email saying so: the form tells nobody which addresses have accounts. An account
//! still waiting for its link (PROVISIONED) gets a fresh link instead, so a lost or expired
//! email does not lock the person out of their own address.

use super::flow::Ctx;
use super::recovery::{issue_token, link_email};
use super::transaction::RecoveryType;
use crate::audit;
use crate::directory::schema;
use crate::directory::users::{Activation, NewUser, Profile, create_user};
use crate::directory::{DirectoryError, FieldError};
use crate::mail::Email;
use crate::records::directory::{AttrKind, AttrValue, UserSchema, UserStatus, name_key};
use std::collections::BTreeMap;
use std::time::Duration;

/// How long a sign-up's activation link works.
pub const LINK_TTL: Duration = Duration::from_secs(24 * 3600);

/// What an org allows (the `self_service_registration`, `registration_attributes` and
/// `registration_groups` settings).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RegistrationSettings {
    pub enabled: bool,
    /// Profile attributes the form asks for beside the email and names.
    pub attributes: Vec<String>,
    /// Groups, by name, a new account joins.
    pub groups: Vec<String>,
}

/// What a person filled in.
#[derive(Debug, Clone, Default)]
pub struct SignUp {
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// Values of [`RegistrationSettings::attributes`] (others are ignored): JSON from the
    /// API, text from the page (read as the schema's type: `42` for an integer attribute).
    pub attributes: BTreeMap<String, AttrValue>,
}

/// What signing up did: the email to send either way, the new account's id when there is one.
#[derive(Debug)]
pub struct SignedUp {
    pub email: Email,
    pub user_id: Option<String>,
}

/// Creates the account (PROVISIONED, in the configured groups) and its activation email, or,
/// when the address already has an account, the email that says so. A profile that does not
/// pass the schema is an error naming the fields (that says nothing about other accounts).
pub fn register(
    ctx: &Ctx<'_>,
    settings: &RegistrationSettings,
    base_url: &str,
    form: SignUp,
) -> Result<SignedUp, DirectoryError> {
    let email = form.email.trim().to_owned();
    let schema = schema::load(ctx.store)?;
    let attributes = settings
        .attributes
        .iter()
        .filter_map(|name| {
            let value = typed(&schema, name, form.attributes.get(name)?)?;
            Some((name.clone(), value))
        })
        .collect();
    let new = NewUser {
        profile: Profile {
            login: email.clone(),
            email: email.clone(),
            first_name: form.first_name,
            last_name: form.last_name,
            attributes,
        },
        password: None,
    };
    match create_user(
        ctx.store,
        ctx.hasher,
        ctx.policy,
        ctx.now,
        new,
        Activation::Activate,
    ) {
        Ok(user) => {
            audit::note(audit::event(
                "user.lifecycle.create",
                "Create Okta user (self-service registration)",
                audit::user(&user),
                "SUCCESS",
            ));
            join_groups(ctx, settings, &user.id)?;
            let token = issue_token(ctx, &user, RecoveryType::Activation, LINK_TTL)?;
            Ok(SignedUp {
                email: link_email(&user, RecoveryType::Activation, base_url, token.expose()),
                user_id: Some(user.id),
            })
        }
        Err(DirectoryError::Invalid(errs)) if is_taken(&errs) => {
            let existing = ctx
                .store
                .user_by_login(&crate::records::directory::login_key(&email))?;
            let email = match existing {
                // Signed up before and never used the link (lost, expired): a fresh one, to
                // the address on the account, so the person is not stuck.
                Some(user) if user.status == UserStatus::Provisioned => {
                    let token = issue_token(ctx, &user, RecoveryType::Activation, LINK_TTL)?;
                    link_email(&user, RecoveryType::Activation, base_url, token.expose())
                }
                Some(user) => already_registered(&user.profile.email, base_url),
                None => already_registered(&email, base_url),
            };
            Ok(SignedUp {
                email,
                user_id: None,
            })
        }
        Err(e) => Err(e),
    }
}

/// A filled-in value as the schema types attribute `name`; `None` for an empty field. Text
/// that does not read as the type is kept as text, for the schema check to name the field.
fn typed(schema: &UserSchema, name: &str, value: &AttrValue) -> Option<AttrValue> {
    let AttrValue::String(text) = value else {
        return Some(value.clone());
    };
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let kind = schema.custom.get(name).map(|a| a.kind);
    let read = match kind {
        Some(AttrKind::Integer) => text.parse::<i64>().ok().map(AttrValue::from),
        Some(AttrKind::Number) => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(AttrValue::Number),
        Some(AttrKind::Boolean) => match text {
            "true" | "on" | "yes" => Some(AttrValue::Bool(true)),
            "false" | "off" | "no" => Some(AttrValue::Bool(false)),
            _ => None,
        },
        _ => None,
    };
    Some(read.unwrap_or_else(|| AttrValue::String(text.to_owned())))
}

/// Whether the only thing wrong is that the login is taken.
fn is_taken(errs: &[FieldError]) -> bool {
    errs.len() == 1 && errs[0].field == "login" && errs[0].message.contains("already exists")
}

fn join_groups(
    ctx: &Ctx<'_>,
    settings: &RegistrationSettings,
    user_id: &str,
) -> Result<(), DirectoryError> {
    if settings.groups.is_empty() {
        return Ok(());
    }
    let wanted: Vec<String> = settings.groups.iter().map(|g| name_key(g)).collect();
    let groups = ctx.store.groups()?;
    for name in &wanted {
        match groups.iter().find(|g| name_key(&g.name) == *name) {
            Some(g) => ctx.store.set_membership(&g.id, user_id, true)?,
            None => {
                tracing::warn!(group = %name, "registration_groups names a group that does not exist")
            }
        }
    }
    Ok(())
}

/// The email an address that already has an account gets when someone signs up with it.
pub fn already_registered(to: &str, base_url: &str) -> Email {
    Email {
        to: to.to_owned(),
        subject: "You already have an account".to_owned(),
        body: format!(
            "Hello,\n\nSomeone (perhaps you) tried to sign up with this email address, which \
             already has an account. Sign in here:\n\n{base_url}{login}\n\n\
             If you forgot your password, you can reset it from there. If it was not you, you \
             can ignore this email: nothing changed.\n",
            login = crate::paths::LOGIN,
        ),
    }
}
