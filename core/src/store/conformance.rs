//! What every backend must hold, written once against `dyn Store` and run for each backend:
//! the atomic primitives under many threads at once, where the outcome must be that of some
//! serial order.

use super::Store;
use crate::clock::Timestamp;
use crate::crypto::Digest;
use crate::records::authn::{Step, Transaction, TxOptions};
use crate::records::directory::{Profile, User, UserStatus};
use std::sync::{Arc, Barrier};

const THREADS: usize = 16;

pub(crate) fn user(id: &str, login: &str) -> User {
    User {
        id: id.into(),
        status: UserStatus::Active,
        created: Timestamp::from_millis(0),
        activated: None,
        status_changed: None,
        last_login: None,
        last_updated: Timestamp::from_millis(0),
        password_changed: None,
        profile: Profile {
            login: login.into(),
            email: login.into(),
            first_name: "F".into(),
            last_name: "L".into(),
            attributes: Default::default(),
        },
        password: None,
        failed_attempts: 0,
        password_history: Vec::new(),
        credential_epoch: 0,
        sessions_epoch: 0,
        link_serials: Default::default(),
    }
}

fn transaction() -> Transaction {
    Transaction {
        revision: 0,
        user_id: "00u1".into(),
        step: Step::MfaRequired,
        expires_at: Timestamp::from_millis(i64::MAX / 2),
        auth_time: Timestamp::from_millis(0),
        amr: vec!["pwd".into()],
        options: TxOptions::default(),
        enrolled_factor: false,
        enroll_skipped: false,
        warned: false,
        credential_epoch: 0,
        started_at: None,
        failed_answers: 0,
        ceremony: None,
    }
}

/// Runs `f(i)` on `THREADS` threads released at the same instant.
pub(crate) fn at_once<T: Send + 'static>(f: impl Fn(usize) -> T + Send + Sync + 'static) -> Vec<T> {
    let f = Arc::new(f);
    let start = Arc::new(Barrier::new(THREADS));
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let (f, start) = (f.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                f(i)
            })
        })
        .collect();
    threads
        .into_iter()
        .map(|t| t.join().expect("a worker panicked"))
        .collect()
}

/// Parallel increments of one user record all count (no lost update).
pub(crate) fn modify_user_loses_no_update(store: Arc<dyn Store>) {
    store.insert_user(&user("00u1", "a@x.io")).unwrap();
    let s = store.clone();
    at_once(move |_| {
        for _ in 0..50 {
            s.modify_user("00u1", &mut |u| {
                u.failed_attempts += 1;
                true
            })
            .unwrap();
        }
    });
    let u = store.user("00u1").unwrap().unwrap();
    assert_eq!(u.failed_attempts as usize, THREADS * 50);
}

/// A refused change writes nothing; a login change moves the index, and a taken login is a
/// conflict that leaves both users as they were.
pub(crate) fn modify_user_moves_the_login_index(store: Arc<dyn Store>) {
    store.insert_user(&user("00u1", "a@x.io")).unwrap();
    store.insert_user(&user("00u2", "b@x.io")).unwrap();
    let kept = store
        .modify_user("00u1", &mut |u| {
            u.failed_attempts = 9;
            false
        })
        .unwrap()
        .unwrap();
    assert_eq!(kept.failed_attempts, 0);
    assert_eq!(store.user("00u1").unwrap().unwrap().failed_attempts, 0);
    store
        .modify_user("00u1", &mut |u| {
            u.profile.login = "A2@x.io".into();
            true
        })
        .unwrap();
    assert_eq!(store.user_by_login("a2@x.io").unwrap().unwrap().id, "00u1");
    assert!(store.user_by_login("a@x.io").unwrap().is_none());
    let taken = store.modify_user("00u1", &mut |u| {
        u.profile.login = "b@x.io".into();
        true
    });
    assert!(matches!(taken, Err(super::StoreError::Conflict)));
    assert_eq!(store.user_by_login("b@x.io").unwrap().unwrap().id, "00u2");
    assert!(
        store
            .modify_user("nobody", &mut |_| true)
            .unwrap()
            .is_none()
    );
}

/// Of parallel saves from one read revision, exactly one applies; of parallel takes, one
/// gets the transaction.
pub(crate) fn a_transaction_moves_on_once_and_ends_once(store: Arc<dyn Store>) {
    let digest = Digest::of("state-token");
    store
        .save_transaction(&digest, &transaction(), None)
        .unwrap();
    assert!(
        store
            .save_transaction(&digest, &transaction(), None)
            .is_err(),
        "a new transaction cannot replace a stored one"
    );
    let s = store.clone();
    let saved = at_once(move |_| {
        s.save_transaction(&Digest::of("state-token"), &transaction(), Some(1))
            .is_ok()
    });
    assert_eq!(saved.iter().filter(|ok| **ok).count(), 1);
    assert_eq!(store.transaction(&digest).unwrap().unwrap().revision, 2);
    assert!(store.take_transaction(&digest, Some(1)).unwrap().is_none());
    let s = store.clone();
    let taken = at_once(move |_| {
        s.take_transaction(&Digest::of("state-token"), Some(2))
            .unwrap()
            .is_some()
    });
    assert_eq!(taken.iter().filter(|t| **t).count(), 1);
    assert!(store.transaction(&digest).unwrap().is_none());
    assert!(
        store
            .save_transaction(&digest, &transaction(), Some(2))
            .is_err(),
        "an ended transaction is not brought back"
    );
}

/// Single-use values: one spender each.
pub(crate) fn single_use_values_are_spent_once(store: Arc<dyn Store>) {
    let s = store.clone();
    let spent = at_once(move |_| {
        s.spend_once("assertion:c1:jti-1", Timestamp::from_millis(i64::MAX / 2))
            .unwrap()
    });
    assert_eq!(spent.iter().filter(|s| **s).count(), 1);
    assert!(store.is_revoked("assertion:c1:jti-1").unwrap());

    let record = crate::records::authn::SessionTokenRecord {
        user_id: "u".into(),
        auth_time: Timestamp::from_millis(0),
        expires_at: Timestamp::from_millis(i64::MAX / 2),
        amr: vec![],
        credential_epoch: 0,
        sessions_epoch: 0,
    };
    store
        .insert_session_token(&Digest::of("session-token"), &record)
        .unwrap();
    let s = store.clone();
    let redeemed = at_once(move |_| {
        s.take_session_token(&Digest::of("session-token"))
            .unwrap()
            .is_some()
    });
    assert_eq!(redeemed.iter().filter(|r| **r).count(), 1);

    let pushed = crate::records::oauth::PushedRequest {
        server: "org".into(),
        client_id: crate::records::ids::ClientId::new("0oa1"),
        params: [("scope".to_owned(), "openid".to_owned())].into(),
        expires_at: Timestamp::from_millis(i64::MAX / 2),
    };
    let digest = Digest::of("request-uri");
    store.put_pushed_request(&digest, &pushed).unwrap();
    assert_eq!(
        store.pushed_request(&digest).unwrap().as_ref(),
        Some(&pushed)
    );
    let s = store.clone();
    let taken = at_once(move |_| {
        s.take_pushed_request(&Digest::of("request-uri"))
            .unwrap()
            .is_some()
    });
    assert_eq!(taken.iter().filter(|t| **t).count(), 1);
    assert!(store.pushed_request(&digest).unwrap().is_none());
}

/// A write acknowledged by `flush` survives closing and reopening the store.
pub(crate) fn flushed_writes_survive_reopening(open: impl Fn() -> Arc<dyn Store>) {
    {
        let store = open();
        store.insert_user(&user("00u9", "z@x.io")).unwrap();
        store.flush().unwrap();
    }
    let store = open();
    assert_eq!(store.user_by_login("z@x.io").unwrap().unwrap().id, "00u9");
}

/// A listing's filter means the same on every backend: a case-insensitive prefix of the login,
/// email or either name (wildcard characters taken literally), a status, and id-ordered pages.
pub(crate) fn user_filters_match_prefixes_and_statuses(store: Arc<dyn Store>) {
    use super::UserFilter;
    let people = [
        ("00u1", "ada@x.io", "Ada", "Lovelace", UserStatus::Active),
        (
            "00u2",
            "grace@x.io",
            "Grace",
            "Hopper",
            UserStatus::Suspended,
        ),
        ("00u3", "alan@x.io", "Alan", "Turing", UserStatus::Active),
        (
            "00u4",
            "50%_off@x.io",
            "Percy",
            "Under_Score",
            UserStatus::Active,
        ),
        (
            "00u5",
            "adele@x.io",
            "Adele",
            "Goldberg",
            UserStatus::LockedOut,
        ),
    ];
    for (id, login, first, last, status) in people {
        let mut u = user(id, login);
        u.profile.first_name = first.into();
        u.profile.last_name = last.into();
        u.status = status;
        store.insert_user(&u).unwrap();
    }
    let ids = |after: Option<&str>, limit: usize, prefix: Option<&str>, status| {
        let filter = UserFilter {
            prefix: prefix.map(str::to_owned),
            status,
        };
        let page = store.users_page(after, limit, &filter).unwrap();
        page.into_iter().map(|u| u.id).collect::<Vec<_>>()
    };
    assert_eq!(ids(None, 10, None, None).len(), 5);
    assert_eq!(ids(None, 10, Some("AD"), None), ["00u1", "00u5"]);
    assert_eq!(ids(None, 10, Some("hop"), None), ["00u2"]);
    assert_eq!(ids(None, 10, Some("tur"), None), ["00u3"]);
    assert_eq!(
        ids(None, 10, Some("a"), Some(UserStatus::Active)),
        ["00u1", "00u3"]
    );
    assert_eq!(ids(None, 10, None, Some(UserStatus::LockedOut)), ["00u5"]);
    // Wildcards of SQL's LIKE are plain characters to a search.
    assert_eq!(ids(None, 10, Some("50%_"), None), ["00u4"]);
    assert_eq!(ids(None, 10, Some("under_"), None), ["00u4"]);
    assert!(ids(None, 10, Some("%"), None).is_empty());
    assert!(ids(None, 10, Some("_"), None).is_empty());
    // Pages follow the id order, after the last id seen.
    assert_eq!(ids(None, 2, Some("a"), None), ["00u1", "00u3"]);
    assert_eq!(ids(Some("00u3"), 2, Some("a"), None), ["00u5"]);
    assert!(ids(Some("00u5"), 2, None, None).is_empty());
    // A NUL (which PostgreSQL text cannot hold) in a search or a key finds nothing.
    assert!(ids(None, 10, Some("a\0"), None).is_empty());
    assert!(store.user("00u1\0").unwrap().is_none());
    assert!(store.user_by_login("ada@x.io\0").unwrap().is_none());
    assert!(store.client("\0").unwrap().is_none());
    assert!(store.app("\0").unwrap().is_none());
    assert!(store.group("\0").unwrap().is_none());
}

/// Parallel changes of one trusted origin all apply; a changed origin moves its index, and an
/// origin listed under another id is a conflict that changes nothing.
pub(crate) fn modify_trusted_origin_moves_the_origin_index(store: Arc<dyn Store>) {
    use crate::records::directory::OriginStatus;
    use crate::records::directory::{OriginScope, TrustedOrigin};
    let origin = |id: &str, o: &str| TrustedOrigin {
        id: id.to_owned(),
        name: id.to_owned(),
        origin: o.to_owned(),
        scopes: vec![OriginScope::Cors],
        status: OriginStatus::Active,
        created: Timestamp::from_millis(0),
        last_updated: Timestamp::from_millis(0),
    };
    store
        .insert_trusted_origin(&origin("tos1", "https://a.example"))
        .unwrap();
    store
        .insert_trusted_origin(&origin("tos2", "https://b.example"))
        .unwrap();
    let s = store.clone();
    at_once(move |i| {
        s.modify_trusted_origin("tos1", &mut |t| {
            t.name.push_str(&format!(" {i}"));
            true
        })
        .unwrap()
    });
    let named = store.trusted_origin("tos1").unwrap().unwrap().name;
    assert_eq!(named.split(' ').count(), THREADS + 1, "{named}");
    store
        .modify_trusted_origin("tos1", &mut |t| {
            t.origin = "https://c.example".into();
            true
        })
        .unwrap();
    let moved = store.trusted_origin_by_origin("https://c.example").unwrap();
    assert_eq!(moved.unwrap().id, "tos1");
    assert!(
        store
            .trusted_origin_by_origin("https://a.example")
            .unwrap()
            .is_none()
    );
    let taken = store.modify_trusted_origin("tos1", &mut |t| {
        t.origin = "https://b.example".into();
        true
    });
    assert!(matches!(taken, Err(super::StoreError::Conflict)));
    let b = store.trusted_origin_by_origin("https://b.example").unwrap();
    assert_eq!(b.unwrap().id, "tos2");
    assert_eq!(
        store.trusted_origin("tos1").unwrap().unwrap().origin,
        "https://c.example"
    );
    assert!(
        store
            .modify_trusted_origin("nobody", &mut |_| true)
            .unwrap()
            .is_none()
    );
}

/// Parallel changes of one app all apply (a PUT cannot undo a concurrent deactivation).
pub(crate) fn modify_app_loses_no_update(store: Arc<dyn Store>) {
    use crate::records::directory::{App, AppStatus};
    store
        .put_app(&App {
            id: "0oa1".into(),
            name: "oidc_client".into(),
            label: "L".into(),
            sign_on_mode: "OPENID_CONNECT".into(),
            status: AppStatus::Active,
            created: Timestamp::from_millis(0),
            last_updated: Timestamp::from_millis(0),
        })
        .unwrap();
    let s = store.clone();
    at_once(move |i| {
        s.modify_app("0oa1", &mut |a| {
            a.label.push_str(&format!(" {i}"));
            if i == 0 {
                a.status = AppStatus::Inactive;
            }
            true
        })
        .unwrap()
    });
    let app = store.app("0oa1").unwrap().unwrap();
    assert_eq!(app.label.split(' ').count(), THREADS + 1, "{}", app.label);
    assert_eq!(app.status, AppStatus::Inactive);
    assert!(store.modify_app("nobody", &mut |_| true).unwrap().is_none());
}

/// A fresh database on the server `PORTCULLIS_TEST_PG_URL` names (`cargo xtask test` starts
/// one); `None`, said aloud, when it is not set.
pub(crate) fn fresh_postgres() -> Option<super::PgSettings> {
    let Ok(admin) = std::env::var("PORTCULLIS_TEST_PG_URL") else {
        eprintln!("PORTCULLIS_TEST_PG_URL is not set: PostgreSQL conformance not run here");
        return None;
    };
    let name = format!(
        "unit_{}",
        crate::crypto::new_secret(12)
            .expose()
            .to_lowercase()
            .replace('-', "_")
    );
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let (server, _) = admin.rsplit_once('/').unwrap();
    Some(super::PgSettings {
        url: format!("{server}/{name}"),
        pool_size: 4,
        timeout: std::time::Duration::from_secs(10),
    })
}

fn log_event(uuid: &str) -> crate::records::log::LogEvent {
    crate::records::log::LogEvent {
        uuid: uuid.into(),
        published: Timestamp::from_millis(1_000),
        event_type: "test.event".into(),
        severity: "INFO".into(),
        display_message: "test".into(),
        actor: crate::records::log::LogEntity {
            id: "system".into(),
            kind: "SystemPrincipal".into(),
            alternate_id: None,
            display_name: None,
        },
        outcome: "SUCCESS".into(),
        reason: None,
        targets: Vec::new(),
        ip_address: None,
        user_agent: None,
        client_id: None,
        session_id: None,
        request_id: None,
        request_uri: None,
        api_token_id: None,
    }
}

/// Events staged for a request are stored by its user write, in that write's transaction: a
/// change that is not written leaves them staged, and a change tried several times under
/// contention stores the events of the try that was written, once.
pub(crate) fn log_events_are_stored_with_the_user_change_they_record(store: Arc<dyn Store>) {
    use super::journal;
    store.insert_user(&user("00ulog", "log@x.io")).unwrap();
    let all = |store: &dyn Store| {
        store
            .log_events(
                Timestamp::from_millis(0),
                Timestamp::from_millis(10_000),
                None,
                false,
                1000,
            )
            .unwrap()
    };
    journal::stage(log_event("declined"));
    store.modify_user("00ulog", &mut |_| false).unwrap();
    assert!(all(store.as_ref()).is_empty(), "no write, no event");
    store
        .modify_user("00ulog", &mut |u| {
            u.failed_attempts += 1;
            true
        })
        .unwrap();
    let stored = all(store.as_ref());
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].uuid, "declined");
    assert!(journal::take().is_empty(), "the write took what was staged");

    // Sixteen changes at once, each retried as others win: one event per change written.
    let s = store.clone();
    at_once(move |i| {
        s.modify_user("00ulog", &mut |u| {
            u.failed_attempts += 1;
            journal::stage_in_attempt(log_event(&format!("try-{i}-{}", u.failed_attempts)));
            true
        })
        .unwrap();
        assert!(journal::take().is_empty());
    });
    let stored = all(store.as_ref());
    assert_eq!(
        stored.len(),
        1 + THREADS,
        "{:?}",
        stored.iter().map(|e| &e.uuid).collect::<Vec<_>>()
    );
    let u = store.user("00ulog").unwrap().unwrap();
    assert_eq!(u.failed_attempts as usize, 1 + THREADS);
}

pub(crate) fn idp() -> crate::records::federation::IdentityProvider {
    use crate::records::federation::{IdentityProvider, IdpAction, IdpStatus, IdpType, MatchType};
    IdentityProvider {
        id: "0oaidp".into(),
        kind: IdpType::Oidc,
        name: "Upstream".into(),
        status: IdpStatus::Active,
        issuer: Some("https://upstream.example".into()),
        authorization_url: "https://upstream.example/authorize".into(),
        token_url: "https://upstream.example/token".into(),
        userinfo_url: None,
        jwks_url: Some("https://upstream.example/keys".into()),
        scopes: vec!["openid".into()],
        client_id: "downstream".into(),
        client_secret: "upstream-client-secret".into(),
        pkce_required: true,
        provisioning: IdpAction::Auto,
        provisioning_groups: Vec::new(),
        account_link: IdpAction::Auto,
        username_template: "idpuser.email".into(),
        match_type: MatchType::Username,
        max_clock_skew_ms: 0,
        created: Timestamp::from_millis(0),
        last_updated: Timestamp::from_millis(0),
    }
}

/// An IdP is changed without lost updates, and an upstream subject is linked to exactly one
/// account however many first sign-ins race; a link is moved on only from what it was.
pub(crate) fn idps_change_atomically_and_link_once(store: Arc<dyn Store>) {
    store.put_idp(&idp()).unwrap();
    assert_eq!(
        store.idp("0oaidp").unwrap().unwrap().client_secret,
        "upstream-client-secret"
    );
    let s = store.clone();
    at_once(move |n| {
        s.modify_idp("0oaidp", &mut |i| {
            i.scopes.push(format!("s{n}"));
            true
        })
        .unwrap()
        .unwrap();
    });
    let stored = store.idp("0oaidp").unwrap().unwrap();
    assert_eq!(stored.scopes.len(), THREADS + 1, "no update lost");
    assert_eq!(store.idps().unwrap().len(), 1);

    let s = store.clone();
    let won = at_once(move |n| {
        s.link_idp_user("0oaidp", "sub/1", &format!("00u{n}"), None)
            .unwrap()
    });
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "linked once");
    let winner = store.idp_user("0oaidp", "sub/1").unwrap().unwrap();
    let loser = if winner == "00u0" { "00u1" } else { "00u0" };
    assert!(
        !store
            .link_idp_user("0oaidp", "sub/1", "00unew", Some(loser))
            .unwrap(),
        "only from what it is"
    );
    assert!(
        store
            .link_idp_user("0oaidp", "sub/1", "00unew", Some(&winner))
            .unwrap()
    );
    assert_eq!(
        store.idp_user("0oaidp", "sub/1").unwrap().as_deref(),
        Some("00unew")
    );
    assert_eq!(store.idp_user("0oaidp", "sub/2").unwrap(), None);

    assert!(store.delete_idp("0oaidp").unwrap());
    assert!(store.idp("0oaidp").unwrap().is_none());
    assert_eq!(
        store.idp_user("0oaidp", "sub/1").unwrap(),
        None,
        "its links go with it"
    );
    assert!(!store.delete_idp("0oaidp").unwrap());
}
