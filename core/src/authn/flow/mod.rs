//! The transitions of the authentication transaction (see [`super::transaction`] for the map).
//! Each takes the store and `now`, loads the transaction by its state token, checks the step
//! allows the request, and either stores the next step or completes with a session token.

pub use super::enroll::EnrollRequest;
use super::enroll::{self, Enrolled, code_email};
use super::factors::{self, Check, Factor, FactorEnrollment, FactorStatus, FactorType, Provider};
use super::session::issue_session_token;
use super::transaction::{FactorResult, Step, Transaction, TxOptions};
use super::{AuthnSettings, MfaEnrollment};
use crate::audit;
use crate::clock::Timestamp;
use crate::crypto::{PasswordHasher, Secret, new_secret};
use crate::directory::users::{PasswordChange, login_key};
use crate::directory::{FieldError, PasswordPolicy, User, UserStatus};
use crate::mail::Email;
use crate::store::{Store, StoreError};
pub use passkey::{
    ANY_PASSKEY, activate_passkey, finish_passkey_sign_in, is_passkey, start_passkey_sign_in,
    verify_passkey,
};
use std::time::Duration;

/// What the transitions need besides their input.
pub struct Ctx<'a> {
    pub store: &'a dyn Store,
    pub hasher: &'a PasswordHasher,
    pub settings: &'a AuthnSettings,
    pub policy: &'a PasswordPolicy,
    pub now: Timestamp,
}

/// A transaction waiting at a step, with what the response shows about it.
#[derive(Debug)]
pub struct Pending {
    pub state_token: String,
    pub tx: Transaction,
    pub user: User,
    pub factors: Vec<Factor>,
    pub factor_result: Option<FactorResult>,
    /// Whether `skip` is allowed at this step.
    pub skippable: bool,
    /// Days until the password expires, when the policy expires passwords.
    pub days_to_expiry: Option<i64>,
    /// Mail this step sends (emailed codes); the edge delivers it.
    pub outbox: Vec<Email>,
    /// The MFA enrollment policy that applies to this user.
    pub enrollment: MfaEnrollment,
}

#[derive(Debug)]
pub struct Completed {
    pub session_token: Secret,
    pub expires_at: Timestamp,
    pub user: User,
    pub amr: Vec<String>,
}

#[derive(Debug)]
pub enum Outcome {
    Pending(Box<Pending>),
    Success(Box<Completed>),
    /// An unlock by recovery completed: the account is usable again, no session is made.
    Unlocked(Box<User>),
    /// The account is locked (only when `show_lockout` is on; else the generic failure).
    LockedOut,
}

#[derive(Debug, thiserror::Error)]
pub enum FlowError {
    /// Wrong or unknown credentials, or an inactive user: one answer for all (E0000004).
    #[error("authentication failed")]
    AuthenticationFailed,
    /// The state token is unknown or expired (E0000011).
    #[error("invalid state token")]
    InvalidToken,
    /// The request is not allowed at the transaction's step (E0000079).
    #[error("not allowed in the current state")]
    WrongState,
    /// Wrong passcode or answer (E0000068).
    #[error("invalid passcode or answer")]
    InvalidPasscode,
    #[error("factor not found")]
    FactorNotFound,
    /// The recovery question's answer is wrong (E0000087).
    #[error("wrong recovery answer")]
    WrongAnswer,
    #[error("validation failed")]
    Invalid(Vec<FieldError>),
    /// A new password was refused (E0000014), with the reasons.
    #[error("password update refused")]
    PasswordRefused(Vec<FieldError>),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Hash(#[from] crate::crypto::password::HashError),
}

impl From<super::AuthnError> for FlowError {
    fn from(e: super::AuthnError) -> Self {
        match e {
            super::AuthnError::Store(e) => FlowError::Store(e),
        }
    }
}

/// Primary authentication. Every path does one argon2 verification (see `PasswordHasher`).
pub fn primary(
    ctx: &Ctx<'_>,
    username: &str,
    password: &str,
    options: TxOptions,
) -> Result<Outcome, FlowError> {
    let user = ctx.store.user_by_login(&login_key(username))?;
    let verified = ctx
        .hasher
        .verify(password, user.as_ref().and_then(|u| u.password.as_ref()))?;
    let failed = |actor: audit::LogEntity, reason: &str| {
        let mut e = audit::event("user.session.start", "User login to Okta", actor, "FAILURE");
        e.reason = Some(reason.to_owned());
        audit::note(e);
    };
    let Some(user) = user else {
        failed(audit::unknown_user(username), "UNKNOWN_USER");
        return Err(FlowError::AuthenticationFailed);
    };
    if user.status == UserStatus::LockedOut {
        failed(audit::user(&user), "LOCKED_OUT");
        if ctx.settings.show_lockout {
            return Ok(Outcome::LockedOut);
        }
    }
    if !matches!(
        user.status,
        UserStatus::Active | UserStatus::PasswordExpired
    ) {
        tracing::info!(user = %user.id, status = ?user.status, "sign-in refused: user not active");
        if user.status != UserStatus::LockedOut {
            failed(audit::user(&user), "NOT_ACTIVATED");
        }
        return Err(FlowError::AuthenticationFailed);
    }
    if !verified {
        failed(audit::user(&user), "INVALID_CREDENTIALS");
        let user = record_failure(ctx, &user.id)?;
        if user.status == UserStatus::LockedOut && ctx.settings.show_lockout {
            return Ok(Outcome::LockedOut);
        }
        return Err(FlowError::AuthenticationFailed);
    }
    audit::note(audit::event(
        "user.session.start",
        "User login to Okta",
        audit::user(&user),
        "SUCCESS",
    ));
    begin(ctx, user, "pwd", options)
}

/// A sign-in an upstream identity provider vouched for (`authn::federation`): the same
/// transaction as after a password, with `fed` as its method, so MFA and enrollment apply.
pub fn federated(ctx: &Ctx<'_>, user: User, options: TxOptions) -> Result<Outcome, FlowError> {
    begin(ctx, user, "fed", options)
}

/// A new transaction for `user`, whose first factor (`method`, its `amr`) is done now: on to
/// whatever step comes next.
fn begin(
    ctx: &Ctx<'_>,
    user: User,
    method: &str,
    options: TxOptions,
) -> Result<Outcome, FlowError> {
    begin_with(ctx, user, vec![method.to_owned()], options)
}

/// `begin`, with the methods the first step proved (a passkey proves two).
fn begin_with(
    ctx: &Ctx<'_>,
    user: User,
    amr: Vec<String>,
    options: TxOptions,
) -> Result<Outcome, FlowError> {
    let tx = Transaction {
        revision: 0,
        user_id: user.id.clone(),
        step: Step::MfaRequired,
        expires_at: ctx.now,
        auth_time: ctx.now,
        amr,
        options,
        enrolled_factor: false,
        enroll_skipped: false,
        warned: false,
        credential_epoch: user.credential_epoch,
        started_at: Some(ctx.now),
        failed_answers: 0,
        ceremony: None,
    };
    advance(ctx, new_secret(32).expose().to_owned(), tx, user)
}

/// Counts a failed password or factor, atomically on the stored record (parallel failures all
/// count); at the threshold an active account locks. Returns the user as stored.
pub(super) fn record_failure(ctx: &Ctx<'_>, user_id: &str) -> Result<User, FlowError> {
    let max = ctx.settings.max_failed_attempts;
    let (user, ()) = crate::store::update(
        |c| ctx.store.modify_user(user_id, c),
        |u: &mut User| {
            u.failed_attempts = u.failed_attempts.saturating_add(1);
            u.last_updated = ctx.now;
            if u.failed_attempts >= max
                && matches!(u.status, UserStatus::Active | UserStatus::PasswordExpired)
            {
                tracing::warn!(user = %u.id, "locked out after repeated failed sign-ins");
                u.status = UserStatus::LockedOut;
                u.status_changed = Some(ctx.now);
                // Stored with the lockout itself, in the same write.
                audit::note_in_attempt(audit::event(
                    "user.account.lock",
                    "Max sign in attempts exceeded",
                    audit::user(u),
                    "SUCCESS",
                ));
            }
            Ok::<_, FlowError>(())
        },
    )?
    .ok_or(FlowError::AuthenticationFailed)?;
    Ok(user)
}

/// `POST /authn {stateToken}`: the transaction as it stands.
pub fn resume(ctx: &Ctx<'_>, state_token: &str) -> Result<Outcome, FlowError> {
    let (tx, user) = load(ctx, state_token)?;
    park(ctx, state_token, tx, user, None)
}

pub fn cancel(ctx: &Ctx<'_>, state_token: &str) -> Result<(), FlowError> {
    let digest = Secret::new(state_token).digest();
    match ctx.store.take_transaction(&digest, None)? {
        Some(tx) if tx.expires_at > ctx.now => Ok(()),
        _ => Err(FlowError::InvalidToken),
    }
}

/// Verifies an enrolled factor at MFA_REQUIRED (or MFA_CHALLENGE for the factor challenged).
/// An email factor without a code sends one and waits at MFA_CHALLENGE.
pub fn verify_factor(
    ctx: &Ctx<'_>,
    state_token: &str,
    factor_id: &str,
    input: Option<&str>,
) -> Result<Outcome, FlowError> {
    let (mut tx, user) = load(ctx, state_token)?;
    let allowed = match &tx.step {
        Step::MfaRequired => true,
        Step::MfaChallenge {
            factor_id: challenged,
        } => challenged == factor_id,
        _ => false,
    };
    if !allowed {
        return Err(FlowError::WrongState);
    }
    let factor = ctx
        .store
        .factor(&user.id, factor_id)?
        .filter(|f| f.status == FactorStatus::Active)
        .ok_or(FlowError::FactorNotFound)?;
    let Some(input) = input.filter(|i| !i.trim().is_empty()) else {
        if factor.factor_type != FactorType::Email {
            return Err(FlowError::Invalid(vec![FieldError::new(
                "passCode",
                "The field cannot be left blank",
            )]));
        }
        return challenge(ctx, state_token, tx, user, factor);
    };
    let (_, check) = factors::spend(ctx.store, ctx.hasher, &factor, input, ctx.now, false)?
        .ok_or(FlowError::FactorNotFound)?;
    let mfa_event = |user: &User, outcome: &str| {
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
    };
    match check {
        Check::Valid(_) => {
            mfa_event(&user, "SUCCESS");
            tx.add_amr(factor.factor_type.amr());
            tx.add_amr("mfa");
            advance(ctx, state_token.to_owned(), tx, user)
        }
        Check::Replayed => park(
            ctx,
            state_token,
            tx,
            user,
            Some(FactorResult::PasscodeReplayed),
        ),
        Check::Invalid => {
            mfa_event(&user, "FAILURE");
            let user = record_failure(ctx, &user.id)?;
            if user.status == UserStatus::LockedOut {
                ctx.store
                    .take_transaction(&Secret::new(state_token).digest(), None)?;
            } else {
                save(ctx, state_token, &mut tx)?;
            }
            Err(FlowError::InvalidPasscode)
        }
    }
}

/// Sends a fresh code for an email factor: a new code replaces the old, atomically on the
/// stored factor. Returns the factor as stored and the code to mail.
fn issue_code(ctx: &Ctx<'_>, factor: &Factor) -> Result<(Factor, String), FlowError> {
    let (factor, code) = crate::store::update(
        |c| ctx.store.modify_factor(&factor.user_id, &factor.id, c),
        |f: &mut Factor| f.issue_code(ctx.now).ok_or(FlowError::WrongState),
    )?
    .ok_or(FlowError::FactorNotFound)?;
    Ok((factor, code))
}

/// Sends a fresh code for an email factor and waits at MFA_CHALLENGE.
fn challenge(
    ctx: &Ctx<'_>,
    state_token: &str,
    mut tx: Transaction,
    user: User,
    factor: Factor,
) -> Result<Outcome, FlowError> {
    let (factor, code) = issue_code(ctx, &factor)?;
    let email = code_email(&user, &factor, &code);
    tx.step = Step::MfaChallenge {
        factor_id: factor.id,
    };
    park_with(
        ctx,
        state_token,
        tx,
        user,
        Some(FactorResult::Waiting),
        vec![email],
    )
}

/// `…/verify/resend` at MFA_CHALLENGE, or `…/lifecycle/resend` while an email factor awaits
/// activation: a new code replaces the old.
pub fn resend(ctx: &Ctx<'_>, state_token: &str, factor_id: &str) -> Result<Outcome, FlowError> {
    let (tx, user) = load(ctx, state_token)?;
    let pending = match &tx.step {
        Step::MfaChallenge { factor_id: f } if f == factor_id => FactorStatus::Active,
        Step::MfaEnrollActivate { factor_id: f } if f == factor_id => {
            FactorStatus::PendingActivation
        }
        _ => return Err(FlowError::WrongState),
    };
    let factor = ctx
        .store
        .factor(&user.id, factor_id)?
        .filter(|f| f.status == pending && f.factor_type == FactorType::Email)
        .ok_or(FlowError::FactorNotFound)?;
    let (factor, code) = issue_code(ctx, &factor)?;
    let email = code_email(&user, &factor, &code);
    park_with(
        ctx,
        state_token,
        tx,
        user,
        Some(FactorResult::Waiting),
        vec![email],
    )
}

/// Enrolls a factor at MFA_ENROLL: TOTP waits for activation, a question is active at once.
pub fn enroll_factor(
    ctx: &Ctx<'_>,
    state_token: &str,
    req: &EnrollRequest,
) -> Result<Outcome, FlowError> {
    let (mut tx, user) = load(ctx, state_token)?;
    if tx.step != Step::MfaEnroll {
        return Err(FlowError::WrongState);
    }
    // What the policy does not allow at sign-in is not offered here (an admin may still
    // enroll it through the Factors API).
    let kind = FactorType::parse(&req.factor_type).zip(Provider::parse(&req.provider));
    if kind.is_some_and(|k| ctx.settings.factor_policy.of(k) == FactorEnrollment::NotAllowed) {
        return Err(enroll::not_offered(req));
    }
    let Enrolled { factor, email } = enroll::enroll(ctx, &user, req)?;
    if factor.status == FactorStatus::Active {
        tx.enrolled_factor = true;
        return advance(ctx, state_token.to_owned(), tx, user);
    }
    tx.step = Step::MfaEnrollActivate {
        factor_id: factor.id,
    };
    let waiting = email.as_ref().map(|_| FactorResult::Waiting);
    park_with(
        ctx,
        state_token,
        tx,
        user,
        waiting,
        email.into_iter().collect(),
    )
}

/// Activates the TOTP factor being enrolled, with a first code from the authenticator.
pub fn activate_factor(
    ctx: &Ctx<'_>,
    state_token: &str,
    factor_id: &str,
    pass_code: &str,
) -> Result<Outcome, FlowError> {
    let (mut tx, user) = load(ctx, state_token)?;
    if tx.step
        != (Step::MfaEnrollActivate {
            factor_id: factor_id.to_owned(),
        })
    {
        return Err(FlowError::WrongState);
    }
    match enroll::activate(ctx, &user.id, factor_id, pass_code) {
        Ok(factor) => {
            tx.enrolled_factor = true;
            tx.add_amr(factor.factor_type.amr());
            tx.add_amr("mfa");
            // Back to the list when more optional factors are offered; else onwards.
            tx.step = Step::MfaEnroll;
            advance(ctx, state_token.to_owned(), tx, user)
        }
        Err(e) => {
            save(ctx, state_token, &mut tx)?;
            Err(e)
        }
    }
}

/// `POST /authn/previous`: from activation back to the factor list (the pending factor goes),
/// or from a challenge back to the choice of factor.
pub fn previous(ctx: &Ctx<'_>, state_token: &str) -> Result<Outcome, FlowError> {
    let (mut tx, user) = load(ctx, state_token)?;
    match &tx.step {
        Step::MfaEnrollActivate { factor_id } => {
            ctx.store.delete_factor(&user.id, factor_id)?;
            tx.step = Step::MfaEnroll;
        }
        Step::MfaChallenge { .. } => tx.step = Step::MfaRequired,
        _ => return Err(FlowError::WrongState),
    }
    park(ctx, state_token, tx, user, None)
}

/// `POST /authn/skip`: past optional enrollment, or past the expiry warning.
pub fn skip(ctx: &Ctx<'_>, state_token: &str) -> Result<Outcome, FlowError> {
    let (mut tx, user) = load(ctx, state_token)?;
    match tx.step {
        Step::MfaEnroll if enrollment_skippable(ctx, &tx, &ctx.store.factors(&user.id)?) => {
            tx.enroll_skipped = true;
        }
        Step::PasswordWarn => tx.warned = true,
        _ => return Err(FlowError::WrongState),
    }
    advance(ctx, state_token.to_owned(), tx, user)
}

/// Changes an expired (or expiring) password.
pub fn change_password(
    ctx: &Ctx<'_>,
    state_token: &str,
    old: &str,
    new: &str,
) -> Result<Outcome, FlowError> {
    let (mut tx, user) = load(ctx, state_token)?;
    if !matches!(tx.step, Step::PasswordExpired | Step::PasswordWarn) {
        return Err(FlowError::WrongState);
    }
    if !ctx.hasher.verify(old, user.password.as_ref())? {
        save(ctx, state_token, &mut tx)?;
        return Err(FlowError::PasswordRefused(vec![FieldError::new(
            "oldPassword",
            "Old password is not correct",
        )]));
    }
    let change = match PasswordChange::prepare(&user, ctx.hasher, ctx.policy, new, ctx.now) {
        Ok(c) => c,
        Err(e) => {
            save(ctx, state_token, &mut tx)?;
            return Err(refused(e));
        }
    };
    let user = set_new_password(ctx, &user.id, &change, |u| {
        if u.status == UserStatus::PasswordExpired {
            u.status = UserStatus::Active;
            u.status_changed = Some(ctx.now);
        }
    })?;
    // This transaction set the password: it goes on under the new epoch.
    tx.credential_epoch = user.credential_epoch;
    tx.warned = true;
    advance(ctx, state_token.to_owned(), tx, user)
}

/// Applies a prepared password change (and `also`) to the stored user in one atomic step. When
/// the password changed meanwhile (an admin reset it), the step is refused: the new one was
/// checked against a history that no longer holds.
pub(super) fn set_new_password(
    ctx: &Ctx<'_>,
    user_id: &str,
    change: &PasswordChange,
    also: impl Fn(&mut User),
) -> Result<User, FlowError> {
    let (user, ()) = crate::store::update(
        |c| ctx.store.modify_user(user_id, c),
        |u: &mut User| {
            if !change.apply(u) {
                return Err(FlowError::WrongState);
            }
            also(u);
            Ok(())
        },
    )?
    .ok_or(FlowError::InvalidToken)?;
    Ok(user)
}

/// A password the policy refused, as the transaction reports it (E0000014).
pub(super) fn refused(e: crate::directory::DirectoryError) -> FlowError {
    match e {
        crate::directory::DirectoryError::Invalid(fields) => FlowError::PasswordRefused(fields),
        crate::directory::DirectoryError::Store(e) => FlowError::Store(e),
        crate::directory::DirectoryError::Hash(e) => FlowError::Hash(e),
        crate::directory::DirectoryError::NotFound => FlowError::InvalidToken,
    }
}

/// Loads the live transaction for `state_token` and its user. A locked-out user may continue
/// only a recovery (which is how they get back in).
pub(super) fn load(ctx: &Ctx<'_>, state_token: &str) -> Result<(Transaction, User), FlowError> {
    let max_life = ctx.settings.transaction_max_life;
    let tx = ctx
        .store
        .transaction(&Secret::new(state_token).digest())?
        .filter(|tx| tx.expires_at > ctx.now)
        .filter(|tx| tx.started_at.is_none_or(|t| ctx.now < t.plus(max_life)))
        .ok_or(FlowError::InvalidToken)?;
    let recovering = matches!(tx.step, Step::Recovery { .. } | Step::PasswordReset);
    let user = ctx
        .store
        .user(&tx.user_id)?
        .filter(|u| match u.status {
            UserStatus::Active | UserStatus::PasswordExpired => true,
            UserStatus::LockedOut | UserStatus::Recovery | UserStatus::Provisioned => recovering,
            _ => false,
        })
        // Begun under a password that has been replaced since: over.
        .filter(|u| u.credential_epoch == tx.credential_epoch)
        .ok_or(FlowError::InvalidToken)?;
    Ok((tx, user))
}

/// Stores the transaction's next step (its expiry slid), only if no other request moved it on
/// since it was read: of two parallel steps on one state token, one applies and the other is
/// refused as it would have been after the first.
pub(super) fn save(
    ctx: &Ctx<'_>,
    state_token: &str,
    tx: &mut Transaction,
) -> Result<(), FlowError> {
    let started = *tx.started_at.get_or_insert(ctx.now);
    tx.expires_at = ctx
        .now
        .plus(ctx.settings.transaction_ttl)
        .min(started.plus(ctx.settings.transaction_max_life));
    let digest = Secret::new(state_token).digest();
    let expected = tx.stored_revision();
    match ctx.store.save_transaction(&digest, tx, expected) {
        Ok(saved) => {
            tx.revision = saved;
            Ok(())
        }
        Err(StoreError::Conflict) => Err(moved_on(ctx, &digest)),
        Err(e) => Err(e.into()),
    }
}

/// Why a step lost the race for its transaction: it ended (`InvalidToken`) or is at another
/// step now (`WrongState`).
fn moved_on(ctx: &Ctx<'_>, digest: &crate::crypto::Digest) -> FlowError {
    match ctx.store.transaction(digest) {
        Ok(Some(_)) => FlowError::WrongState,
        Ok(None) => FlowError::InvalidToken,
        Err(e) => e.into(),
    }
}

/// Stores `tx` as it is and reports it pending.
pub(super) fn park(
    ctx: &Ctx<'_>,
    state_token: &str,
    tx: Transaction,
    user: User,
    factor_result: Option<FactorResult>,
) -> Result<Outcome, FlowError> {
    park_with(ctx, state_token, tx, user, factor_result, Vec::new())
}

/// `park`, with mail for the edge to send.
fn park_with(
    ctx: &Ctx<'_>,
    state_token: &str,
    mut tx: Transaction,
    user: User,
    factor_result: Option<FactorResult>,
    outbox: Vec<Email>,
) -> Result<Outcome, FlowError> {
    save(ctx, state_token, &mut tx)?;
    let factors = ctx.store.factors(&user.id)?;
    let skippable = match tx.step {
        Step::MfaEnroll => enrollment_skippable(ctx, &tx, &factors),
        Step::PasswordWarn => true,
        _ => false,
    };
    let days_to_expiry = days_to_expiry(ctx, &user);
    let tx_user_id = tx.user_id.clone();
    Ok(Outcome::Pending(Box::new(Pending {
        state_token: state_token.to_owned(),
        tx,
        user,
        factors,
        factor_result,
        skippable,
        days_to_expiry,
        outbox,
        enrollment: enrollment_for(ctx, &tx_user_id),
    })))
}

fn enrollment_skippable(ctx: &Ctx<'_>, tx: &Transaction, factors: &[Factor]) -> bool {
    let has_active = factors.iter().any(|f| f.status == FactorStatus::Active);
    let missing = missing_required(ctx, factors);
    match enrollment_for(ctx, &tx.user_id) {
        MfaEnrollment::Required => !missing && has_active && tx.mfa_done(),
        MfaEnrollment::Optional => !missing,
        MfaEnrollment::None => true,
    }
}

/// The kinds of `factors` that are active.
fn active_kinds(factors: &[Factor]) -> Vec<(FactorType, Provider)> {
    factors
        .iter()
        .filter(|f| f.status == FactorStatus::Active)
        .map(|f| (f.factor_type, f.provider))
        .collect()
}

/// Whether a kind the factor policy requires is not set up yet.
fn missing_required(ctx: &Ctx<'_>, factors: &[Factor]) -> bool {
    let active = active_kinds(factors);
    ctx.settings
        .factor_policy
        .offered(ctx.settings.email_factor)
        .any(|(kind, rule)| rule == FactorEnrollment::Required && !active.contains(&kind))
}

/// The MFA enrollment policy for this user: the org's, tightened by their groups'.
pub(super) fn enrollment_for(ctx: &Ctx<'_>, user_id: &str) -> MfaEnrollment {
    crate::directory::groups::effective_mfa(ctx.store, ctx.settings.mfa_enrollment, user_id)
        .unwrap_or_else(|e| {
            tracing::error!(error = %e, "reading group MFA policies failed; requiring MFA");
            MfaEnrollment::Required
        })
}

/// Whether the factor list must (or may) be shown now.
fn needs_enrollment(ctx: &Ctx<'_>, tx: &Transaction, factors: &[Factor]) -> bool {
    let active = active_kinds(factors);
    let more_offered = ctx
        .settings
        .factor_policy
        .offered(ctx.settings.email_factor)
        .any(|(kind, _)| !active.contains(&kind));
    match enrollment_for(ctx, &tx.user_id) {
        MfaEnrollment::None => false,
        // Each kind the policy requires, whether or not another factor is set up.
        MfaEnrollment::Required | MfaEnrollment::Optional if missing_required(ctx, factors) => true,
        MfaEnrollment::Required if active.is_empty() => true,
        MfaEnrollment::Required | MfaEnrollment::Optional => {
            tx.options.multi_optional_factor_enroll && more_offered && !tx.enroll_skipped
        }
    }
}

/// Days until the password expires under the policy, if it expires at all.
fn days_to_expiry(ctx: &Ctx<'_>, user: &User) -> Option<i64> {
    let max_age = ctx.policy.max_age_days?;
    let changed = user.password_changed.unwrap_or(user.created);
    let expires = changed.plus(Duration::from_secs(u64::from(max_age) * 86_400));
    Some((expires.millis() - ctx.now.millis()).div_euclid(86_400_000))
}

/// Works out the next step after a completed one, and stores it or completes the sign-in.
pub(super) fn advance(
    ctx: &Ctx<'_>,
    state_token: String,
    mut tx: Transaction,
    user: User,
) -> Result<Outcome, FlowError> {
    let factors = ctx.store.factors(&user.id)?;
    let has_active = factors.iter().any(|f| f.status == FactorStatus::Active);
    // A password's expiry does not concern a sign-in without it: through an identity provider
    // or with a passkey alone.
    let by_password = !matches!(tx.amr.first().map(String::as_str), Some("fed" | "hwk"));
    let to_expiry = days_to_expiry(ctx, &user).filter(|_| by_password);
    let next = if has_active && !tx.mfa_done() {
        Some(Step::MfaRequired)
    } else if needs_enrollment(ctx, &tx, &factors) {
        Some(Step::MfaEnroll)
    } else if (by_password && user.status == UserStatus::PasswordExpired)
        || to_expiry.is_some_and(|d| d < 0)
    {
        Some(Step::PasswordExpired)
    } else if tx.options.warn_before_password_expired
        && !tx.warned
        && to_expiry.is_some_and(|d| d < i64::from(ctx.policy.expire_warn_days))
    {
        Some(Step::PasswordWarn)
    } else {
        None
    };
    if let Some(step) = next {
        tx.step = step;
        return park(ctx, &state_token, tx, user, None);
    }
    end(ctx, &state_token, &tx)?;
    // The status is checked again at the moment of the write: an admin who deactivated or
    // suspended the user while this sign-in was hashing or waiting for MFA wins.
    let (user, ()) = crate::store::update(
        |c| ctx.store.modify_user(&user.id, c),
        |u: &mut User| {
            if !matches!(u.status, UserStatus::Active | UserStatus::PasswordExpired) {
                return Err(FlowError::AuthenticationFailed);
            }
            // A password set since this sign-in began (an admin's reset) ends it.
            if u.credential_epoch != tx.credential_epoch {
                return Err(FlowError::InvalidToken);
            }
            u.failed_attempts = 0;
            u.last_login = Some(ctx.now);
            u.last_updated = ctx.now;
            Ok(())
        },
    )?
    .ok_or(FlowError::AuthenticationFailed)?;
    let (session_token, expires_at) = issue_session_token(
        ctx.store,
        ctx.now,
        &user,
        tx.auth_time,
        &tx.amr,
        ctx.settings.session_token_ttl,
    )?;
    Ok(Outcome::Success(Box::new(Completed {
        session_token,
        expires_at,
        user,
        amr: tx.amr,
    })))
}

/// Ends a stored transaction as it was read: one request completes it; any other that read
/// the same revision is refused.
pub(super) fn end(ctx: &Ctx<'_>, state_token: &str, tx: &Transaction) -> Result<(), FlowError> {
    let Some(expected) = tx.stored_revision() else {
        return Ok(());
    };
    let digest = Secret::new(state_token).digest();
    match ctx.store.take_transaction(&digest, Some(expected))? {
        Some(_) => Ok(()),
        None => Err(moved_on(ctx, &digest)),
    }
}

mod passkey;
#[cfg(test)]
mod tests;
