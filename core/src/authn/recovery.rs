//! Self-service recovery by email: forgotten password and account unlock.
//!
//! Starting a recovery answers the same for every username, and mails a one-time recovery token
//! only when the account exists and can be recovered. The token (one hour, single use) opens a
//! transaction at RECOVERY (security question) or straight at the next step.

use super::factors::{Check, FactorStatus, FactorType};
use super::flow::{
    Ctx, FlowError, Outcome, advance, end, load, park, record_failure, refused, save,
    set_new_password,
};
use super::transaction::{RecoveryType, Step, Transaction, TxOptions};
use crate::crypto::{Secret, new_secret};
use crate::directory::users::{LinkSerials, PasswordChange, clear_lockout, login_key};
use crate::directory::{User, UserStatus};
use crate::mail::Email;
pub use crate::records::authn::RecoveryTokenRecord;
use crate::store::StoreError;
use std::time::Duration;

/// How long an emailed recovery link works.
pub const RECOVERY_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// Wrong security answers one recovery allows before its link must be asked for again.
pub const MAX_WRONG_ANSWERS: u32 = 5;

/// The counter of the links of `kind` among a user's `serials`.
fn serial_of(serials: &mut LinkSerials, kind: RecoveryType) -> &mut u64 {
    match kind {
        RecoveryType::Password => &mut serials.reset,
        RecoveryType::Unlock => &mut serials.unlock,
        RecoveryType::Activation => &mut serials.activation,
    }
}

/// Whether `record` is still the newest link of its kind, sent under the current password.
fn still_current(record: &RecoveryTokenRecord, user: &User) -> bool {
    let mut serials = user.link_serials;
    record.credential_epoch == user.credential_epoch
        && *serial_of(&mut serials, record.recovery_type) == record.serial
}

/// What starting a recovery produced. The HTTP answer never depends on it, except for trusted
/// (admin-authenticated) callers, who are given the token instead of an email being sent.
#[derive(Debug, Default)]
pub struct Started {
    pub emails: Vec<Email>,
    pub token: Option<String>,
}

fn recoverable(user: &User, kind: RecoveryType) -> bool {
    match kind {
        RecoveryType::Password => matches!(
            user.status,
            UserStatus::Active
                | UserStatus::PasswordExpired
                | UserStatus::LockedOut
                | UserStatus::Recovery
        ),
        RecoveryType::Unlock => user.status == UserStatus::LockedOut,
        RecoveryType::Activation => user.status == UserStatus::Provisioned,
    }
}

/// Stores a one-time token of `kind` for `user` and returns it (also for admin lifecycle calls:
/// `activate` and `reset_password`).
pub fn issue_token(
    ctx: &Ctx<'_>,
    user: &User,
    kind: RecoveryType,
    ttl: Duration,
) -> Result<Secret, StoreError> {
    let token = new_secret(32);
    // This link becomes the newest of its kind, atomically on the stored record.
    let mut issued = None;
    ctx.store.modify_user(&user.id, &mut |u| {
        let serial = serial_of(&mut u.link_serials, kind);
        *serial += 1;
        issued = Some((*serial, u.credential_epoch));
        true
    })?;
    let Some((serial, credential_epoch)) = issued else {
        return Err(StoreError::Corrupt(format!("user {} vanished", user.id)));
    };
    ctx.store.put_recovery_token(
        &token.digest(),
        &RecoveryTokenRecord {
            user_id: user.id.clone(),
            recovery_type: kind,
            expires_at: ctx.now.plus(ttl),
            credential_epoch,
            serial,
        },
    )?;
    Ok(token)
}

/// The email with a recovery (or activation) link, for `user`.
pub fn link_email(user: &User, kind: RecoveryType, base_url: &str, token: &str) -> Email {
    let (path, subject, action) = match kind {
        RecoveryType::Password => (
            "reset-password",
            "Reset your password",
            "reset your password",
        ),
        RecoveryType::Unlock => ("user-unlock", "Unlock your account", "unlock your account"),
        RecoveryType::Activation => ("activate", "Activate your account", "activate your account"),
    };
    Email {
        to: user.profile.email.clone(),
        subject: subject.to_owned(),
        body: format!(
            "Hello {first},\n\nA request was made to {action} for {login}.\n\
             Use this link soon; it works once:\n\n\
             {base_url}/signin/{path}/{token}\n\n\
             If you did not ask for this, you can ignore this email: nothing changes until the link is used.\n",
            first = user.profile.first_name,
            login = user.profile.login,
        ),
    }
}

/// `POST /authn/recovery/{password,unlock}` with factorType EMAIL. `base_url` builds the link;
/// `deliver` says whether to mail it (public callers) or return it (trusted callers).
pub fn start(
    ctx: &Ctx<'_>,
    username: &str,
    kind: RecoveryType,
    base_url: &str,
    deliver: bool,
) -> Result<Started, FlowError> {
    let Some(user) = ctx.store.user_by_login(&login_key(username))? else {
        return Ok(Started::default());
    };
    if !recoverable(&user, kind) {
        tracing::info!(user = %user.id, kind = kind.as_str(), "recovery not started: not applicable");
        return Ok(Started::default());
    }
    let token = issue_token(ctx, &user, kind, RECOVERY_TOKEN_TTL)?;
    if !deliver {
        return Ok(Started {
            emails: vec![],
            token: Some(token.expose().to_owned()),
        });
    }
    Ok(Started {
        emails: vec![link_email(&user, kind, base_url, token.expose())],
        token: None,
    })
}

/// Which tokens an endpoint redeems: `/authn/recovery/token` recovery links, `/authn {token}`
/// activation links.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUse {
    Recovery,
    Activation,
}

/// Spends a recovery or activation token and opens its transaction. A token presented at the
/// wrong endpoint is refused and stays unspent.
pub fn verify_token(
    ctx: &Ctx<'_>,
    recovery_token: &str,
    usage: TokenUse,
) -> Result<Outcome, FlowError> {
    let digest = Secret::new(recovery_token).digest();
    let record = ctx
        .store
        .take_recovery_token(&digest)?
        .filter(|r| r.expires_at > ctx.now)
        .ok_or(FlowError::InvalidToken)?;
    let fits = match usage {
        TokenUse::Activation => record.recovery_type == RecoveryType::Activation,
        TokenUse::Recovery => record.recovery_type != RecoveryType::Activation,
    };
    if !fits {
        ctx.store.put_recovery_token(&digest, &record)?;
        return Err(FlowError::InvalidToken);
    }
    let user = ctx
        .store
        .user(&record.user_id)?
        .filter(|u| recoverable(u, record.recovery_type) && still_current(&record, u))
        .ok_or(FlowError::InvalidToken)?;
    let has_question = ctx
        .store
        .factors(&user.id)?
        .iter()
        .any(|f| f.factor_type == FactorType::Question && f.status == FactorStatus::Active);
    let tx = Transaction {
        revision: 0,
        user_id: user.id.clone(),
        step: Step::Recovery {
            recovery_type: record.recovery_type,
        },
        expires_at: ctx.now,
        auth_time: ctx.now,
        amr: vec![],
        options: TxOptions::default(),
        enrolled_factor: false,
        enroll_skipped: false,
        warned: false,
        credential_epoch: user.credential_epoch,
        started_at: Some(ctx.now),
        failed_answers: 0,
        ceremony: None,
    };
    let state_token = new_secret(32).expose().to_owned();
    if has_question && record.recovery_type != RecoveryType::Activation {
        return park(ctx, &state_token, tx, user, None);
    }
    proven(ctx, state_token, tx, user, record.recovery_type)
}

/// `POST /authn/recovery/answer`: the security question's answer.
pub fn answer(ctx: &Ctx<'_>, state_token: &str, answer: &str) -> Result<Outcome, FlowError> {
    let (mut tx, user) = load(ctx, state_token)?;
    let Step::Recovery { recovery_type } = tx.step else {
        return Err(FlowError::WrongState);
    };
    let question = ctx
        .store
        .factors(&user.id)?
        .into_iter()
        .find(|f| f.factor_type == FactorType::Question && f.status == FactorStatus::Active)
        .ok_or(FlowError::WrongState)?;
    if question.check(ctx.hasher, answer, ctx.now)? != Check::Valid(None) {
        // A locked-out account is still recoverable; don't let this count lock it further.
        if user.status != UserStatus::LockedOut {
            record_failure(ctx, &user.id)?;
        }
        // Either way the link's holder gets a few tries, then needs a new link.
        tx.failed_answers += 1;
        if tx.failed_answers >= MAX_WRONG_ANSWERS {
            end(ctx, state_token, &tx)?;
            return Err(FlowError::InvalidToken);
        }
        save(ctx, state_token, &mut tx)?;
        return Err(FlowError::WrongAnswer);
    }
    proven(ctx, state_token.to_owned(), tx, user, recovery_type)
}

/// The person proved they own the account: unlock now, or ask for the new password.
fn proven(
    ctx: &Ctx<'_>,
    state_token: String,
    mut tx: Transaction,
    user: User,
    kind: RecoveryType,
) -> Result<Outcome, FlowError> {
    match kind {
        RecoveryType::Unlock => {
            end(ctx, &state_token, &tx)?;
            let (user, ()) = crate::directory::users::modify(ctx.store, &user.id, |u| {
                clear_lockout(u, ctx.now);
                Ok(())
            })
            .map_err(refused)?;
            Ok(Outcome::Unlocked(Box::new(user)))
        }
        RecoveryType::Password | RecoveryType::Activation => {
            tx.step = Step::PasswordReset;
            park(ctx, &state_token, tx, user, None)
        }
    }
}

/// `POST /authn/credentials/reset_password` at PASSWORD_RESET.
pub fn reset_password(ctx: &Ctx<'_>, state_token: &str, new: &str) -> Result<Outcome, FlowError> {
    let (mut tx, user) = load(ctx, state_token)?;
    if tx.step != Step::PasswordReset {
        return Err(FlowError::WrongState);
    }
    let change =
        PasswordChange::prepare(&user, ctx.hasher, ctx.policy, new, ctx.now).map_err(refused)?;
    let user = set_new_password(ctx, &user.id, &change, |u| {
        if matches!(
            u.status,
            UserStatus::PasswordExpired | UserStatus::Recovery | UserStatus::Provisioned
        ) {
            u.status = UserStatus::Active;
            u.status_changed = Some(ctx.now);
            u.activated.get_or_insert(ctx.now);
        }
        // Owning the mailbox is what an unlock asks for too.
        clear_lockout(u, ctx.now);
    })?;
    tx.credential_epoch = user.credential_epoch;
    tx.amr = vec!["pwd".to_owned()];
    tx.auth_time = ctx.now;
    tx.warned = true;
    advance(ctx, state_token.to_owned(), tx, user)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::AuthnSettings;
    use crate::clock::Timestamp;
    use crate::crypto::PasswordHasher;
    use crate::directory::users::{Activation, NewUser, create_user};
    use crate::directory::{PasswordPolicy, Profile};
    use crate::store::{SledStore, Store};

    struct Fx {
        _dir: tempfile::TempDir,
        store: SledStore,
        hasher: PasswordHasher,
        settings: AuthnSettings,
        policy: PasswordPolicy,
    }

    impl Fx {
        fn new() -> Self {
            let (dir, store) = crate::store::temp_store();
            let hasher = PasswordHasher::with_params(64, 1, 1).unwrap();
            let policy = PasswordPolicy::default();
            create_user(
                &store,
                &hasher,
                &policy,
                Timestamp::from_millis(0),
                NewUser {
                    profile: Profile {
                        login: "ann@example.com".into(),
                        email: "ann.mail@example.com".into(),
                        first_name: "Ann".into(),
                        last_name: "Lee".into(),
                        attributes: Default::default(),
                    },
                    password: Some("Corr3ct-Horse".into()),
                },
                Activation::Activate,
            )
            .unwrap();
            Self {
                _dir: dir,
                store,
                hasher,
                settings: AuthnSettings::default(),
                policy,
            }
        }

        fn ctx(&self, ms: i64) -> Ctx<'_> {
            Ctx {
                store: &self.store,
                hasher: &self.hasher,
                settings: &self.settings,
                policy: &self.policy,
                now: Timestamp::from_millis(ms),
            }
        }
    }

    fn token_in(email: &Email) -> String {
        email.body.split("/signin/reset-password/").nth(1).unwrap()[..43].to_owned()
    }

    #[test]
    fn the_email_goes_to_the_profile_address_with_a_link() {
        let fx = Fx::new();
        let started = start(
            &fx.ctx(0),
            "ANN@example.com",
            RecoveryType::Password,
            "https://id.example",
            true,
        )
        .unwrap();
        assert_eq!(started.emails.len(), 1);
        assert_eq!(started.emails[0].to, "ann.mail@example.com");
        assert!(
            started.emails[0]
                .body
                .contains("https://id.example/signin/reset-password/")
        );
        assert!(started.token.is_none());
    }

    #[test]
    fn a_link_expires_after_an_hour() {
        let fx = Fx::new();
        let started = start(
            &fx.ctx(0),
            "ann@example.com",
            RecoveryType::Password,
            "",
            true,
        )
        .unwrap();
        let token = token_in(&started.emails[0]);
        let late = i64::try_from(RECOVERY_TOKEN_TTL.as_millis()).unwrap() + 1;
        assert!(matches!(
            verify_token(&fx.ctx(late), &token, TokenUse::Recovery),
            Err(FlowError::InvalidToken)
        ));
    }

    #[test]
    fn unlock_is_only_mailed_to_locked_accounts() {
        let fx = Fx::new();
        let started = start(
            &fx.ctx(0),
            "ann@example.com",
            RecoveryType::Unlock,
            "",
            true,
        )
        .unwrap();
        assert!(started.emails.is_empty());
        let unknown = start(
            &fx.ctx(0),
            "who@example.com",
            RecoveryType::Password,
            "",
            true,
        )
        .unwrap();
        assert!(unknown.emails.is_empty() && unknown.token.is_none());
        assert!(fx.store.user_by_login("ann@example.com").unwrap().is_some());
    }
}
