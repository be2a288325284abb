//! Enrolling and activating factors, shared by the sign-in transaction (MFA_ENROLL) and the
//! admin Factors API: what is offered, what a request must carry, what is stored.

use super::factors::{self, Check, Factor, FactorSecret, FactorStatus, FactorType, Provider};
use super::flow::{Ctx, FlowError};
use crate::directory::{FieldError, User};
use crate::mail::Email;

/// What a request asks to enroll (Okta's `{factorType, provider, profile}`).
#[derive(Debug, Clone)]
pub struct EnrollRequest {
    pub factor_type: String,
    pub provider: String,
    pub question: Option<String>,
    pub answer: Option<String>,
    /// For the email factor: the address (the profile's email when absent).
    pub email: Option<String>,
    /// For a passkey: the page asking (no passkey can be enrolled without one).
    pub rp: Option<super::passkeys::RelyingParty>,
}

/// A stored new factor, and the email carrying its first code, if it has one.
#[derive(Debug)]
pub struct Enrolled {
    pub factor: Factor,
    pub email: Option<Email>,
}

/// The email carrying a one-time code.
pub fn code_email(user: &User, factor: &Factor, code: &str) -> Email {
    Email {
        to: factor
            .email_address()
            .unwrap_or(&user.profile.email)
            .to_owned(),
        subject: "Your sign-in code".to_owned(),
        body: format!(
            "Hello {},\n\nYour verification code is {code}. It works once, for the next {} minutes.\n\n\
             If you are not signing in right now, someone may know your password: change it.\n",
            user.profile.first_name,
            factors::EMAIL_CODE_TTL.as_secs() / 60
        ),
    }
}

/// The error for a factor kind that cannot be enrolled here.
pub fn not_offered(req: &EnrollRequest) -> FlowError {
    FlowError::Invalid(vec![FieldError::new(
        "factorType",
        format!(
            "Factor type {} with provider {} is not offered",
            req.factor_type, req.provider
        ),
    )])
}

/// Validates `req` and stores the new factor for `user`: TOTP and email wait for activation
/// (replacing any factor already waiting), a security question is active at once.
pub fn enroll(ctx: &Ctx<'_>, user: &User, req: &EnrollRequest) -> Result<Enrolled, FlowError> {
    let kind = FactorType::parse(&req.factor_type)
        .zip(Provider::parse(&req.provider))
        .filter(|k| factors::enrollable(ctx.settings.email_factor).any(|e| e == *k))
        .ok_or_else(|| not_offered(req))?;
    let existing = ctx.store.factors(&user.id)?;
    // A person may have several passkeys (a laptop, a phone, a security key).
    if kind.0 != FactorType::Webauthn
        && existing
            .iter()
            .any(|f| f.status == FactorStatus::Active && (f.factor_type, f.provider) == kind)
    {
        return Err(FlowError::Invalid(vec![FieldError::new(
            "factorType",
            "A factor of this type is already set up",
        )]));
    }
    let (factor, email) = match kind.0 {
        FactorType::Totp => (factors::new_totp(&user.id, kind.1, ctx.now), None),
        FactorType::Webauthn => {
            let rp = req.rp.as_ref().ok_or_else(|| not_offered(req))?;
            (
                super::passkeys::new_factor(rp, user, &existing, ctx.now)?,
                None,
            )
        }
        FactorType::Email => {
            let address = req
                .email
                .clone()
                .filter(|e| !e.trim().is_empty())
                .unwrap_or_else(|| user.profile.email.clone());
            if !address.contains('@') || address.chars().any(char::is_whitespace) {
                return Err(FlowError::Invalid(vec![FieldError::new(
                    "email",
                    "Enter a valid email address",
                )]));
            }
            let mut factor = factors::new_email(&user.id, address.trim(), ctx.now);
            let code = factor.issue_code(ctx.now).ok_or(FlowError::WrongState)?;
            let email = code_email(user, &factor, &code);
            (factor, Some(email))
        }
        FactorType::Question => {
            let question = req.question.as_deref().unwrap_or_default();
            let answer = req.answer.as_deref().unwrap_or_default();
            let mut errs = Vec::new();
            if factors::question_text(question).is_none() {
                errs.push(FieldError::new(
                    "question",
                    "Choose one of the offered questions",
                ));
            }
            if answer.trim().chars().count() < 4 {
                errs.push(FieldError::new(
                    "answer",
                    "The answer must be at least 4 characters",
                ));
            }
            if !errs.is_empty() {
                return Err(FlowError::Invalid(errs));
            }
            (
                factors::new_question(ctx.hasher, &user.id, question, answer, ctx.now)?,
                None,
            )
        }
    };
    if factor.status == FactorStatus::PendingActivation {
        for stale in existing
            .iter()
            .filter(|f| f.status == FactorStatus::PendingActivation)
        {
            ctx.store.delete_factor(&user.id, &stale.id)?;
        }
    }
    ctx.store.put_factor(&factor)?;
    Ok(Enrolled { factor, email })
}

/// Activates a pending factor with its first code.
pub fn activate(
    ctx: &Ctx<'_>,
    user_id: &str,
    factor_id: &str,
    pass_code: &str,
) -> Result<Factor, FlowError> {
    let factor = ctx
        .store
        .factor(user_id, factor_id)?
        .filter(|f| f.status == FactorStatus::PendingActivation)
        .ok_or(FlowError::FactorNotFound)?;
    match factors::spend(ctx.store, ctx.hasher, &factor, pass_code, ctx.now, true)? {
        Some((factor, Check::Valid(_))) => Ok(factor),
        Some((_, Check::Replayed | Check::Invalid)) => Err(FlowError::InvalidPasscode),
        None => Err(FlowError::FactorNotFound),
    }
}

/// Activates a pending passkey with the browser's answer to its creation ceremony. The
/// challenge is spent in the same atomic step: of two answers to one ceremony, one activates.
pub fn activate_passkey(
    ctx: &Ctx<'_>,
    user_id: &str,
    factor_id: &str,
    answer: &super::passkeys::Attestation,
) -> Result<Factor, FlowError> {
    let factor = ctx
        .store
        .factor(user_id, factor_id)?
        .filter(|f| f.status == FactorStatus::PendingActivation)
        .filter(|f| f.factor_type == FactorType::Webauthn)
        .ok_or(FlowError::FactorNotFound)?;
    let secret = super::passkeys::register(&factor, answer)?;
    let ceremony = |s: &FactorSecret| match s {
        FactorSecret::Webauthn { registration, .. } => registration.clone(),
        _ => None,
    };
    let answered = ceremony(&factor.secret);
    let (factor, ()) = crate::store::update(
        |c| ctx.store.modify_factor(user_id, factor_id, c),
        |f: &mut Factor| {
            // Another answer activated it (or a new enrollment replaced it) meanwhile.
            if f.status != FactorStatus::PendingActivation || ceremony(&f.secret) != answered {
                return Err(FlowError::InvalidPasscode);
            }
            f.secret = secret.clone();
            f.status = FactorStatus::Active;
            f.last_updated = ctx.now;
            Ok(())
        },
    )?
    .ok_or(FlowError::FactorNotFound)?;
    Ok(factor)
}
