//! One-time session tokens (the `sessionToken` of a SUCCESS transaction) and the browser
//! sessions they are exchanged for (the `sid` cookie).

use super::AuthnError;
use crate::clock::Timestamp;
use crate::crypto::{Digest, Secret, new_id, new_secret};
pub use crate::records::authn::{Session, SessionTokenRecord};
use crate::store::Store;
use std::time::Duration;

pub fn issue_session_token(
    store: &dyn Store,
    now: Timestamp,
    user: &crate::directory::User,
    auth_time: Timestamp,
    amr: &[String],
    ttl: Duration,
) -> Result<(Secret, Timestamp), AuthnError> {
    let token = new_secret(32);
    let expires_at = now.plus(ttl);
    store.insert_session_token(
        &token.digest(),
        &SessionTokenRecord {
            user_id: user.id.clone(),
            auth_time,
            expires_at,
            amr: amr.to_vec(),
            credential_epoch: user.credential_epoch,
            sessions_epoch: user.sessions_epoch,
        },
    )?;
    Ok((token, expires_at))
}

/// Redeems a session token: it is removed whatever happens next, and an expired one is absent.
pub fn redeem_session_token(
    store: &dyn Store,
    now: Timestamp,
    token: &str,
) -> Result<Option<SessionTokenRecord>, AuthnError> {
    let record = store.take_session_token(&Secret::new(token).digest())?;
    Ok(record.filter(|r| r.expires_at > now))
}

#[derive(Debug, Clone)]
pub struct SessionSettings {
    /// A session ends this long after it was last used.
    pub idle: Duration,
    /// …and this long after it began, however often it is used.
    pub max: Duration,
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(2 * 3600),
            max: Duration::from_secs(24 * 3600),
        }
    }
}

/// Starts a session for a redeemed session token; returns the cookie secret with it.
pub fn start_session(
    store: &dyn Store,
    settings: &SessionSettings,
    now: Timestamp,
    token: SessionTokenRecord,
) -> Result<(Secret, Session), AuthnError> {
    let secret = new_secret(32);
    let max_expires_at = now.plus(settings.max);
    let session = Session {
        id: new_id("102"),
        user_id: token.user_id,
        created: now,
        expires_at: now.plus(settings.idle).min(max_expires_at),
        max_expires_at,
        last_password_verification: token.auth_time,
        amr: token.amr,
        credential_epoch: token.credential_epoch,
        sessions_epoch: token.sessions_epoch,
    };
    store.insert_session(&secret.digest(), &session)?;
    Ok((secret, session))
}

/// Redeems a one-time session token and starts a session for it: the cookie secret and the
/// session, or `None` for an unknown, spent or expired token.
pub fn exchange_session_token(
    store: &dyn Store,
    settings: &SessionSettings,
    now: Timestamp,
    token: &str,
) -> Result<Option<(Secret, Session)>, AuthnError> {
    match redeem_session_token(store, now, token)? {
        // A token issued before the user was deactivated or suspended opens nothing.
        Some(record)
            if user_may_use(
                store,
                &record.user_id,
                record.credential_epoch,
                record.sessions_epoch,
            )? =>
        {
            start_session(store, settings, now, record).map(Some)
        }
        Some(_) | None => Ok(None),
    }
}

/// The live session behind a cookie value, if any.
pub fn find_session(
    store: &dyn Store,
    now: Timestamp,
    cookie: &str,
) -> Result<Option<Session>, AuthnError> {
    let session = store.session(&Secret::new(cookie).digest())?;
    let Some(session) = session.filter(|s| s.expires_at > now) else {
        return Ok(None);
    };
    let usable = user_may_use(
        store,
        &session.user_id,
        session.credential_epoch,
        session.sessions_epoch,
    )?;
    Ok(usable.then_some(session))
}

/// The live session behind a cookie, as a request that uses it sees it: its idle lifetime is
/// extended (never past the maximum) once less than half of it is left, so an active person
/// stays signed in and an idle one is signed out.
pub fn use_session(
    store: &dyn Store,
    settings: &SessionSettings,
    now: Timestamp,
    cookie: &str,
) -> Result<Option<Session>, AuthnError> {
    let Some(session) = find_session(store, now, cookie)? else {
        return Ok(None);
    };
    let left = session.expires_at.millis() - now.millis();
    let half_idle = i64::try_from(settings.idle.as_millis() / 2).unwrap_or(i64::MAX);
    if left >= half_idle || session.expires_at >= session.max_expires_at {
        return Ok(Some(session));
    }
    let digest = Secret::new(cookie).digest();
    refresh_session(store, settings, now, &digest, session).map(Some)
}

/// A session only works while its user is active, has not had a password set since it began,
/// and an admin has not ended their sessions since: suspending or deactivating someone,
/// resetting their password, or ending their sessions ends them at once, on every node.
fn user_may_use(
    store: &dyn Store,
    user_id: &str,
    credential_epoch: u64,
    sessions_epoch: u64,
) -> Result<bool, AuthnError> {
    use crate::directory::UserStatus;
    Ok(store.user(user_id)?.is_some_and(|u| {
        matches!(u.status, UserStatus::Active | UserStatus::PasswordExpired)
            && u.credential_epoch == credential_epoch
            && u.sessions_epoch == sessions_epoch
    }))
}

/// Ends every session and unspent session token of a user (Okta's
/// `DELETE /api/v1/users/{id}/sessions`); with `tokens`, their refresh tokens too. `false`
/// when there is no such user.
pub fn end_user_sessions(
    store: &dyn Store,
    now: Timestamp,
    user_id: &str,
    tokens: bool,
) -> Result<bool, AuthnError> {
    let bumped = store.modify_user(user_id, &mut |u| {
        u.sessions_epoch += 1;
        true
    })?;
    if bumped.is_none() {
        return Ok(false);
    }
    if tokens {
        for (digest, r) in store.refresh_tokens_where(&|r| r.user_id == user_id)? {
            crate::oauth::token_info::end_refresh_token(store, &digest, &r, now)?;
        }
    }
    Ok(true)
}

pub fn end_session(store: &dyn Store, cookie: &str) -> Result<(), AuthnError> {
    store.delete_session(&Secret::new(cookie).digest())?;
    Ok(())
}

/// A live session by its public id (the Sessions API), with the digest it is stored under.
pub fn find_session_by_id(
    store: &dyn Store,
    now: Timestamp,
    id: &str,
) -> Result<Option<(Digest, Session)>, AuthnError> {
    match store.session_by_id(id)?.filter(|(_, s)| s.expires_at > now) {
        Some((d, s)) if user_may_use(store, &s.user_id, s.credential_epoch, s.sessions_epoch)? => {
            Ok(Some((d, s)))
        }
        _ => Ok(None),
    }
}

/// Extends a live session's idle lifetime, never past its maximum.
pub fn refresh_session(
    store: &dyn Store,
    settings: &SessionSettings,
    now: Timestamp,
    digest: &Digest,
    session: Session,
) -> Result<Session, AuthnError> {
    let idle = settings.idle;
    let slid = store.modify_session(digest, &mut |s| {
        s.expires_at = now.plus(idle).min(s.max_expires_at);
        true
    })?;
    // Ended meanwhile (sign-out, an admin): it stays ended; the caller's copy has expired.
    Ok(slid.unwrap_or(Session {
        expires_at: now,
        ..session
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_token_is_single_use_and_expires() {
        let (_dir, store) = crate::store::temp_store();
        let t0 = Timestamp::from_millis(1_000);
        let pwd = ["pwd".to_owned()];
        let ttl = Duration::from_secs(300);
        let user = crate::store::conformance::user("00u1", "a@x.io");
        let (tok, _) = issue_session_token(&store, t0, &user, t0, &pwd, ttl).unwrap();
        let r = redeem_session_token(&store, t0, tok.expose()).unwrap();
        assert_eq!(r.unwrap().user_id, "00u1");
        assert!(
            redeem_session_token(&store, t0, tok.expose())
                .unwrap()
                .is_none()
        );

        let (late, _) = issue_session_token(&store, t0, &user, t0, &pwd, ttl).unwrap();
        let after = t0.plus(Duration::from_secs(301));
        assert!(
            redeem_session_token(&store, after, late.expose())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn session_found_by_cookie_until_it_expires_or_ends() {
        use crate::directory::lifecycle::{Transition, transition};
        use crate::directory::users::{Activation, NewUser, create_user};
        let (_dir, store) = crate::store::temp_store();
        let t0 = Timestamp::from_millis(0);
        let user = create_user(
            &store,
            &crate::crypto::PasswordHasher::with_params(64, 1, 1).unwrap(),
            &crate::directory::PasswordPolicy::default(),
            t0,
            NewUser {
                profile: crate::directory::Profile {
                    login: "s@example.com".into(),
                    email: "s@example.com".into(),
                    first_name: "S".into(),
                    last_name: "T".into(),
                    attributes: Default::default(),
                },
                password: Some("Passw0rd-X".into()),
            },
            Activation::Activate,
        )
        .unwrap();
        let token = SessionTokenRecord {
            user_id: user.id.clone(),
            auth_time: t0,
            expires_at: t0.plus(Duration::from_secs(300)),
            amr: vec!["pwd".into()],
            credential_epoch: 0,
            sessions_epoch: 0,
        };
        let settings = SessionSettings::default();
        let (cookie, s) = start_session(&store, &settings, t0, token).unwrap();
        let found = find_session(&store, t0, cookie.expose()).unwrap();
        assert_eq!(found.unwrap().id, s.id);
        let later = t0.plus(settings.idle);
        assert!(
            find_session(&store, later, cookie.expose())
                .unwrap()
                .is_none()
        );

        // Using the session past half its idle time extends it, up to the maximum.
        let late = t0.plus(settings.idle / 2 + Duration::from_secs(60));
        let used = use_session(&store, &settings, late, cookie.expose())
            .unwrap()
            .unwrap();
        assert_eq!(used.expires_at, late.plus(settings.idle));
        let near_max = t0.plus(settings.max - Duration::from_secs(60));
        let mut s2 = used.clone();
        s2.expires_at = near_max.plus(Duration::from_secs(30));
        store
            .modify_session(&cookie.digest(), &mut |s| {
                *s = s2.clone();
                true
            })
            .unwrap();
        let capped = use_session(&store, &settings, near_max, cookie.expose())
            .unwrap()
            .unwrap();
        assert_eq!(capped.expires_at, capped.max_expires_at);

        // A suspended user's session cannot be used.
        transition(&store, t0, &user.id, Transition::Suspend).unwrap();
        assert!(find_session(&store, t0, cookie.expose()).unwrap().is_none());
        transition(&store, t0, &user.id, Transition::Unsuspend).unwrap();
        assert!(find_session(&store, t0, cookie.expose()).unwrap().is_some());
        end_session(&store, cookie.expose()).unwrap();
        assert!(find_session(&store, t0, cookie.expose()).unwrap().is_none());
    }
}
