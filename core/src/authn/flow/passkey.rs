//! The transaction's passkey steps: activating a passkey at MFA_ENROLL_ACTIVATE, verifying one
//! at MFA_REQUIRED → MFA_CHALLENGE → done, and signing in with one and no password.

use super::{Ctx, FlowError, Outcome, advance, begin_with, load, park, record_failure, save};
use crate::audit;
use crate::authn::enroll;
use crate::authn::factors::{Factor, FactorStatus, FactorType};
use crate::authn::passkeys::{self, Assertion, Attestation, RelyingParty};
use crate::authn::transaction::{Step, Transaction, TxOptions};
use crate::crypto::{Secret, new_secret};
use crate::directory::{User, UserStatus};

/// What a verified passkey adds: proof of the key and of the person (user verification is
/// required), which together are MFA.
pub(super) const PASSKEY_AMR: [&str; 3] = ["hwk", "user", "mfa"];

/// `factors/webauthn/verify`: any of the person's passkeys (Okta's verification by type).
pub const ANY_PASSKEY: &str = "webauthn";

/// Activates the passkey being enrolled with the browser's answer.
pub fn activate_passkey(
    ctx: &Ctx<'_>,
    state_token: &str,
    factor_id: &str,
    answer: &Attestation,
) -> Result<Outcome, FlowError> {
    let (mut tx, user) = load(ctx, state_token)?;
    if tx.step
        != (Step::MfaEnrollActivate {
            factor_id: factor_id.to_owned(),
        })
    {
        return Err(FlowError::WrongState);
    }
    match enroll::activate_passkey(ctx, &user.id, factor_id, answer) {
        Ok(_) => {
            tx.enrolled_factor = true;
            for m in PASSKEY_AMR {
                tx.add_amr(m);
            }
            tx.step = Step::MfaEnroll;
            advance(ctx, state_token.to_owned(), tx, user)
        }
        Err(e) => {
            save(ctx, state_token, &mut tx)?;
            Err(e)
        }
    }
}

/// Whether `factor_ref` (a factor id, or [`ANY_PASSKEY`]) names a passkey of the person
/// signing in: the edge asks before choosing between a passcode and a passkey verification.
pub fn is_passkey(ctx: &Ctx<'_>, state_token: &str, factor_ref: &str) -> Result<bool, FlowError> {
    if factor_ref == ANY_PASSKEY {
        return Ok(true);
    }
    let (tx, _) = load(ctx, state_token)?;
    Ok(ctx
        .store
        .factor(&tx.user_id, factor_ref)?
        .is_some_and(|f| f.factor_type == FactorType::Webauthn))
}

/// The active passkeys `factor_ref` names.
fn candidates(ctx: &Ctx<'_>, user: &User, factor_ref: &str) -> Result<Vec<Factor>, FlowError> {
    let found: Vec<_> = ctx
        .store
        .factors(&user.id)?
        .into_iter()
        .filter(|f| f.factor_type == FactorType::Webauthn && f.status == FactorStatus::Active)
        .filter(|f| factor_ref == ANY_PASSKEY || f.id == factor_ref)
        .collect();
    if found.is_empty() {
        return Err(FlowError::FactorNotFound);
    }
    Ok(found)
}

/// Verifies a passkey at MFA_REQUIRED: without an answer, challenges the browser (for the
/// passkeys created at `rp`) and waits at MFA_CHALLENGE; with one, checks it against that
/// challenge. The challenge is good once: the step that accepts it ends the transaction, or a
/// wrong answer clears it.
pub fn verify_passkey(
    ctx: &Ctx<'_>,
    state_token: &str,
    factor_ref: &str,
    rp: &RelyingParty,
    answer: Option<&Assertion>,
) -> Result<Outcome, FlowError> {
    let (mut tx, user) = load(ctx, state_token)?;
    let challenged = match &tx.step {
        Step::MfaRequired => false,
        Step::MfaChallenge { factor_id } if factor_id == factor_ref => true,
        _ => return Err(FlowError::WrongState),
    };
    let candidates = candidates(ctx, &user, factor_ref)?;
    let Some(answer) = answer else {
        let here: Vec<&Factor> = candidates
            .iter()
            .filter(|f| f.rp_id() == Some(rp.id.as_str()))
            .collect();
        if here.is_empty() {
            // Its passkeys were made for another site: none can answer here.
            return Err(FlowError::FactorNotFound);
        }
        tx.ceremony = Some(passkeys::challenge(rp, &here)?);
        tx.step = Step::MfaChallenge {
            factor_id: factor_ref.to_owned(),
        };
        return park(ctx, state_token, tx, user, None);
    };
    let ceremony = match (challenged, tx.ceremony.take()) {
        (true, Some(c)) => c,
        _ => return Err(FlowError::WrongState),
    };
    let verified = passkeys::check(&ceremony, &candidates, answer)
        .and_then(|(factor, result)| passkeys::record_use(ctx.store, factor, &result, ctx.now));
    match verified {
        Ok(factor) => {
            mfa_event(&user, &factor, "SUCCESS");
            for m in PASSKEY_AMR {
                tx.add_amr(m);
            }
            advance(ctx, state_token.to_owned(), tx, user)
        }
        Err(FlowError::InvalidPasscode) => {
            if let Some(f) = candidates.first() {
                mfa_event(&user, f, "FAILURE");
            }
            refuse(ctx, state_token, tx, &user)
        }
        Err(e) => Err(e),
    }
}

/// A wrong answer: it counts toward lockout, and the challenge it answered is spent.
fn refuse(
    ctx: &Ctx<'_>,
    state_token: &str,
    mut tx: Transaction,
    user: &User,
) -> Result<Outcome, FlowError> {
    let user = record_failure(ctx, &user.id)?;
    if user.status == UserStatus::LockedOut {
        ctx.store
            .take_transaction(&Secret::new(state_token).digest(), None)?;
    } else {
        tx.ceremony = None;
        save(ctx, state_token, &mut tx)?;
    }
    Err(FlowError::InvalidPasscode)
}

fn mfa_event(user: &User, factor: &Factor, outcome: &str) {
    let mut e = audit::event(
        "user.authentication.auth_via_mfa",
        "Authentication of user via MFA",
        audit::user(user),
        outcome,
    );
    e.reason = (outcome == "FAILURE").then(|| "INVALID_CREDENTIALS".to_owned());
    e.targets = vec![audit::LogEntity {
        id: factor.id.clone(),
        kind: "AuthenticatorEnrollment".into(),
        alternate_id: None,
        display_name: Some(factor.factor_type.as_str().to_owned()),
    }];
    audit::note(e);
}

/// A passkey sign-in begins: a challenge for any discoverable credential at `rp`, kept under a
/// new state token. Nobody is named yet, so nothing here tells whether an account exists.
pub fn start_passkey_sign_in(
    ctx: &Ctx<'_>,
    rp: &RelyingParty,
) -> Result<(String, Transaction), FlowError> {
    let mut tx = Transaction {
        revision: 0,
        user_id: String::new(),
        step: Step::PasskeyChallenge,
        expires_at: ctx.now,
        auth_time: ctx.now,
        amr: Vec::new(),
        options: TxOptions::default(),
        enrolled_factor: false,
        enroll_skipped: false,
        warned: false,
        credential_epoch: 0,
        started_at: Some(ctx.now),
        failed_answers: 0,
        ceremony: Some(passkeys::challenge(rp, &[])?),
    };
    let token = new_secret(32).expose().to_owned();
    save(ctx, &token, &mut tx)?;
    Ok((token, tx))
}

/// The browser's answer to a passkey sign-in's challenge: the user its credential names, if
/// the passkey is theirs, active and verified, goes on to the rest of the sign-in (password
/// expiry aside, as after any sign-in without a password). The challenge is spent first, in
/// one atomic take: a second answer to it finds nothing. Every refusal is the same
/// `AuthenticationFailed`.
pub fn finish_passkey_sign_in(
    ctx: &Ctx<'_>,
    state_token: &str,
    answer: &Assertion,
    options: TxOptions,
) -> Result<Outcome, FlowError> {
    let digest = Secret::new(state_token).digest();
    let tx = ctx
        .store
        .transaction(&digest)?
        .filter(|tx| tx.step == Step::PasskeyChallenge && tx.expires_at > ctx.now)
        .ok_or(FlowError::InvalidToken)?;
    let expected = tx.stored_revision();
    if ctx.store.take_transaction(&digest, expected)?.is_none() {
        return Err(FlowError::InvalidToken);
    }
    let ceremony = tx.ceremony.ok_or(FlowError::InvalidToken)?;
    let failed = |reason: &str| {
        let mut e = audit::event(
            "user.session.start",
            "User login to Okta",
            audit::unknown_user(&answer.user_id().unwrap_or_default()),
            "FAILURE",
        );
        e.reason = Some(reason.to_owned());
        audit::note(e);
        FlowError::AuthenticationFailed
    };
    let user = answer
        .user_id()
        .map(|id| ctx.store.user(&id))
        .transpose()?
        .flatten()
        .filter(|u| matches!(u.status, UserStatus::Active | UserStatus::PasswordExpired))
        .ok_or_else(|| failed("UNKNOWN_USER"))?;
    let factors: Vec<Factor> = ctx
        .store
        .factors(&user.id)?
        .into_iter()
        .filter(|f| f.factor_type == FactorType::Webauthn)
        .collect();
    let factor = match passkeys::check(&ceremony, &factors, answer)
        .and_then(|(factor, result)| passkeys::record_use(ctx.store, factor, &result, ctx.now))
    {
        Ok(f) => f,
        Err(FlowError::InvalidPasscode | FlowError::FactorNotFound) => {
            return Err(failed("INVALID_CREDENTIALS"));
        }
        Err(e) => return Err(e),
    };
    let mut e = audit::event(
        "user.session.start",
        "User login to Okta",
        audit::user(&user),
        "SUCCESS",
    );
    e.targets = vec![audit::LogEntity {
        id: factor.id.clone(),
        kind: "AuthenticatorEnrollment".into(),
        alternate_id: None,
        display_name: Some("webauthn".to_owned()),
    }];
    audit::note(e);
    let amr = PASSKEY_AMR.iter().map(|m| (*m).to_owned()).collect();
    begin_with(ctx, user, amr, options)
}
