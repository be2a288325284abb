use super::*;
use crate::clock::Timestamp;
use crate::records::directory::UserStatus;
use crate::store::conformance::{at_once, fresh_postgres, user};
use std::sync::Arc;

#[test]
fn searches_agree_with_reading_every_user_on_sled() {
    let (_dir, store) = crate::store::temp_store();
    searches_agree_with_reading_every_user(Arc::new(store));
}

#[test]
fn searches_agree_with_reading_every_user_on_postgres() {
    if let Some(settings) = fresh_postgres() {
        let store = crate::store::PgStore::open(&settings).unwrap();
        searches_agree_with_reading_every_user(Arc::new(store));
    }
}

fn probes(text: &str) -> Option<Vec<Probe>> {
    parse::parse(text, Dialect::Search, &USERS, &|_| None)
        .unwrap()
        .probes()
        .map(|(_, p)| p)
}

#[test]
fn an_and_reads_its_narrowest_term_and_an_or_reads_every_term() {
    assert_eq!(
        probes(r#"status eq "ACTIVE" and profile.email eq "a@b.c""#),
        Some(vec![Probe::new(
            "profile.email",
            KeyRange::Exact("a@b.c".into())
        )])
    );
    assert_eq!(
        probes(r#"profile.lastName sw "sm" or id eq "00u1""#),
        Some(vec![
            Probe::new("profile.lastName", KeyRange::Prefix("sm".into())),
            Probe::new("id", KeyRange::Exact("00u1".into())),
        ])
    );
    // Nothing narrows a `not`, a `co`, or an `or` with either in it: those read every user.
    assert_eq!(probes(r#"not status eq "ACTIVE""#), None);
    assert_eq!(
        probes(r#"profile.email co "x" or status eq "ACTIVE""#),
        None
    );
    assert!(probes(r#"profile.email co "x" and status eq "ACTIVE""#).is_some());
}

#[test]
fn sorted_cursors_round_trip() {
    for c in [
        Cursor {
            key: Some("smith\nthe second".into()),
            id: "00u1".into(),
        },
        Cursor {
            key: None,
            id: "00u2".into(),
        },
    ] {
        assert_eq!(Cursor::decode(&c.encode()), Some(c));
    }
    assert_eq!(Cursor::decode("not base64!"), None);
}

#[test]
fn sort_parameters_are_checked() {
    assert!(
        Query::parse(
            "id pr",
            Dialect::Search,
            Some("profile.lastName"),
            Some("DESC")
        )
        .is_ok()
    );
    assert!(Query::parse("id pr", Dialect::Search, Some("profile.shoeSize"), None).is_err());
    assert!(Query::parse("id pr", Dialect::Search, Some("id"), Some("sideways")).is_err());
}

/// Searches answered through the user index find exactly the users the expression matches,
/// page by page and in order, after users were changed, renamed and deleted; and many
/// concurrent changes of one user leave one index entry per attribute.
fn searches_agree_with_reading_every_user(store: Arc<dyn Store>) {
    let departments = ["Engineering", "Sales", "engineering", "Support"];
    for n in 0..40u32 {
        let mut u = user(&format!("00u{n:03}"), &format!("p{n}@x.io"));
        u.profile.first_name = ["Ada", "Alan", "Grace", "Ádám"][n as usize % 4].into();
        u.profile.last_name = format!("Name{}", n % 7);
        u.created = Timestamp::from_millis(1_600_000_000_000 + i64::from(n) * 86_400_000);
        u.last_updated = u.created;
        if n % 3 != 0 {
            u.profile
                .attributes
                .insert("department".into(), departments[n as usize % 4].into());
        }
        if n % 5 == 0 {
            u.status = UserStatus::Suspended;
        }
        store.insert_user(&u).unwrap();
    }
    // Renamed, moved and deleted users must leave no stale entry behind.
    store
        .modify_user("00u001", &mut |u| {
            u.profile.login = "renamed@x.io".into();
            u.profile
                .attributes
                .insert("department".into(), "Legal".into());
            true
        })
        .unwrap();
    let gone = store.user("00u002").unwrap().unwrap();
    store.delete_user(&gone).unwrap();
    let everyone: Vec<User> = store.users_page(None, 1000, &UserFilter::all()).unwrap();
    assert_eq!(everyone.len(), 39);

    for (text, dialect, sort) in [
        (
            r#"profile.department eq "ENGINEERING""#,
            Dialect::Search,
            None,
        ),
        (
            r#"profile.lastName eq "Name3" or status eq "SUSPENDED""#,
            Dialect::Filter,
            None,
        ),
        (r#"profile.department eq "Legal""#, Dialect::Search, None),
        (
            r#"status eq "ACTIVE" and profile.department eq "ENGINEERING" and profile.lastName sw "name""#,
            Dialect::Search,
            None,
        ),
        (
            r#"profile.firstName eq "Ada" and status eq "ACTIVE""#,
            Dialect::Filter,
            None,
        ),
        (r#"profile.login eq "RENAMED@x.io""#, Dialect::Search, None),
        (
            r#"profile.firstName sw "a" and status eq "ACTIVE""#,
            Dialect::Search,
            None,
        ),
        (r#"profile.firstName sw "ád""#, Dialect::Search, None),
        (
            r#"created ge "2020-10-01T00:00:00.000Z" and created lt "2020-10-08T00:00:00.000Z""#,
            Dialect::Search,
            None,
        ),
        (
            r#"profile.department eq "sales" or profile.lastName eq "name3""#,
            Dialect::Search,
            None,
        ),
        (
            r#"not (profile.department pr) or status eq "SUSPENDED""#,
            Dialect::Search,
            None,
        ),
        (r#"profile.lastName co "ME4""#, Dialect::Search, None),
        (
            "profile.department pr",
            Dialect::Search,
            Some(("profile.department", "desc")),
        ),
        (
            r#"status eq "ACTIVE""#,
            Dialect::Search,
            Some(("profile.department", "asc")),
        ),
        (
            r#"profile.lastName sw "NAME" and not (profile.lastName eq "name0")"#,
            Dialect::Search,
            Some(("profile.lastName", "asc")),
        ),
        (
            r#"id gt "00u010""#,
            Dialect::Search,
            Some(("created", "desc")),
        ),
    ] {
        let query = Query::parse(text, dialect, sort.map(|s| s.0), sort.map(|s| s.1)).unwrap();
        let mut expected: Vec<&User> = everyone
            .iter()
            .filter(|u| query.expr.matches(u, dialect == Dialect::Filter))
            .collect();
        if let Some((attribute, order)) = sort {
            let key = |u: &User| crate::store::user_index::key(u, attribute);
            expected.sort_by(|a, b| match (key(a), key(b)) {
                (Some(x), Some(y)) if order == "desc" => (y, &b.id).cmp(&(x, &a.id)),
                (Some(x), Some(y)) => (x, &a.id).cmp(&(y, &b.id)),
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (None, None) => a.id.cmp(&b.id),
            });
        }
        let expected: Vec<&str> = expected.iter().map(|u| u.id.as_str()).collect();
        assert!(!expected.is_empty(), "{text} matches someone");
        assert!(expected.len() < everyone.len(), "{text} leaves someone out");
        // With the usual caps, and with caps so small that every way of reading is taken.
        // (And between: candidates known, but too many to sort here.)
        let tiny = Caps {
            candidates: 3,
            sort: 3,
            batch: 2,
        };
        let between = Caps {
            candidates: 1000,
            sort: 3,
            batch: 2,
        };
        for caps in [Caps::default(), tiny, between] {
            let (mut got, mut after) = (Vec::new(), None);
            loop {
                let (page, next) = run_with(store.as_ref(), &query, after.as_deref(), 4, caps)
                    .unwrap()
                    .unwrap();
                assert!(page.len() <= 4);
                got.extend(page.into_iter().map(|u| u.id));
                match next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            assert_eq!(got, expected, "{text} sorted by {sort:?} with {caps:?}");
        }
    }

    for gone in [
        r#"profile.login eq "p1@x.io""#,
        r#"id eq "00u002""#,
        r#"profile.login sw "p2@""#,
    ] {
        let query = Query::parse(gone, Dialect::Search, None, None).unwrap();
        let (page, _) = run(store.as_ref(), &query, None, 10).unwrap().unwrap();
        assert!(page.is_empty(), "{gone} finds no one");
    }

    // Concurrent changes of one user: the index holds the department of the last write only.
    let s = store.clone();
    at_once(move |i| {
        s.modify_user("00u004", &mut |u| {
            u.profile
                .attributes
                .insert("department".into(), format!("Team{i}").into());
            true
        })
        .unwrap();
    });
    let stored = store.user("00u004").unwrap().unwrap();
    let entries: Vec<String> = store
        .user_index(
            "profile.department",
            &KeyRange::all(),
            None,
            Direction::Ascending,
            1000,
        )
        .unwrap()
        .into_iter()
        .filter(|e| e.id == "00u004")
        .map(|e| e.key)
        .collect();
    assert_eq!(
        entries,
        vec![stored.profile.text("department").unwrap().to_lowercase()]
    );
}
