//! Primary authentication: username and password in, a one-time session token (or a generic
//! failure) out, with lockout after repeated failures.
//!
//! Every path does one argon2 verification, so an unknown user, a wrong password, a locked or
//! inactive user all take the same time and give the same answer.

use super::AuthnError;
use super::session::issue_session_token;
use crate::clock::Timestamp;
use crate::crypto::{PasswordHasher, Secret};
use crate::directory::users::login_key;
use crate::directory::{User, UserStatus};
use crate::store::Store;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct AuthnSettings {
    /// Consecutive failures that lock an account out (Okta's default policy: 10).
    pub max_failed_attempts: u32,
    /// Lifetime of a one-time session token (Okta: 5 minutes).
    pub session_token_ttl: Duration,
}

impl Default for AuthnSettings {
    fn default() -> Self {
        Self {
            max_failed_attempts: 10,
            session_token_ttl: Duration::from_secs(300),
        }
    }
}

#[derive(Debug)]
pub enum PrimaryOutcome {
    /// Authenticated: the session token is returned once and stored only as a digest.
    Success {
        user: Box<User>,
        session_token: Secret,
        expires_at: Timestamp,
    },
    /// Anything else. Deliberately carries no reason: callers must not tell them apart.
    Failed,
}

/// Checks `username` and `password`. Hashing makes this slow: run it off the async runtime.
pub fn authenticate(
    store: &dyn Store,
    hasher: &PasswordHasher,
    settings: &AuthnSettings,
    now: Timestamp,
    username: &str,
    password: &str,
) -> Result<PrimaryOutcome, AuthnError> {
    let user = store.user_by_login(&login_key(username))?;
    let verified = hasher.verify(password, user.as_ref().and_then(|u| u.password.as_ref()));
    let Some(mut user) = user else {
        return Ok(PrimaryOutcome::Failed);
    };
    if user.status != UserStatus::Active {
        tracing::info!(user = %user.id, status = ?user.status, "sign-in refused: user not active");
        return Ok(PrimaryOutcome::Failed);
    }
    user.last_updated = now;
    if !verified {
        user.failed_attempts = user.failed_attempts.saturating_add(1);
        if user.failed_attempts >= settings.max_failed_attempts {
            tracing::warn!(user = %user.id, "locked out after repeated failed sign-ins");
            user.status = UserStatus::LockedOut;
            user.status_changed = Some(now);
        }
        store.update_user(&user)?;
        return Ok(PrimaryOutcome::Failed);
    }
    user.failed_attempts = 0;
    user.last_login = Some(now);
    store.update_user(&user)?;
    let (session_token, expires_at) =
        issue_session_token(store, now, &user.id, settings.session_token_ttl)?;
    Ok(PrimaryOutcome::Success {
        user: Box::new(user),
        session_token,
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::directory::users::{Activation, NewUser, create_user};
    use crate::directory::{PasswordPolicy, Profile};
    use crate::store::SledStore;

    struct Fixture {
        _dir: tempfile::TempDir,
        store: SledStore,
        hasher: PasswordHasher,
        settings: AuthnSettings,
    }

    fn fixture() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        let hasher = PasswordHasher::with_params(64, 1, 1).unwrap();
        create_user(
            &store,
            &hasher,
            &PasswordPolicy::default(),
            Timestamp::from_millis(0),
            NewUser {
                profile: Profile {
                    login: "ann@example.com".into(),
                    email: "ann@example.com".into(),
                    first_name: "Ann".into(),
                    last_name: "Lee".into(),
                },
                password: Some("Corr3ctHorse".into()),
            },
            Activation::Activate,
        )
        .unwrap();
        Fixture {
            _dir: dir,
            store,
            hasher,
            settings: AuthnSettings {
                max_failed_attempts: 3,
                ..AuthnSettings::default()
            },
        }
    }

    fn attempt(f: &Fixture, user: &str, pw: &str) -> PrimaryOutcome {
        authenticate(
            &f.store,
            &f.hasher,
            &f.settings,
            Timestamp::from_millis(1),
            user,
            pw,
        )
        .unwrap()
    }

    #[test]
    fn right_password_succeeds_case_insensitively() {
        let f = fixture();
        assert!(matches!(
            attempt(&f, "ANN@example.com", "Corr3ctHorse"),
            PrimaryOutcome::Success { .. }
        ));
    }

    #[test]
    fn unknown_user_and_wrong_password_fail_alike() {
        let f = fixture();
        assert!(matches!(
            attempt(&f, "nobody@example.com", "Corr3ctHorse"),
            PrimaryOutcome::Failed
        ));
        assert!(matches!(
            attempt(&f, "ann@example.com", "wrong"),
            PrimaryOutcome::Failed
        ));
    }

    #[test]
    fn locks_out_after_threshold_even_for_the_right_password() {
        let f = fixture();
        for _ in 0..3 {
            attempt(&f, "ann@example.com", "wrong");
        }
        let user = f.store.user_by_login("ann@example.com").unwrap().unwrap();
        assert_eq!(user.status, UserStatus::LockedOut);
        assert!(matches!(
            attempt(&f, "ann@example.com", "Corr3ctHorse"),
            PrimaryOutcome::Failed
        ));
    }

    #[test]
    fn success_resets_the_failure_count() {
        let f = fixture();
        attempt(&f, "ann@example.com", "wrong");
        attempt(&f, "ann@example.com", "wrong");
        attempt(&f, "ann@example.com", "Corr3ctHorse");
        attempt(&f, "ann@example.com", "wrong");
        let user = f.store.user_by_login("ann@example.com").unwrap().unwrap();
        assert_eq!(user.failed_attempts, 1);
        assert_eq!(user.status, UserStatus::Active);
    }
}
