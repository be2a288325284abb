//! The System Log: what happened, as Okta's `LogEvent`s. A core notes an event where it
//! decides something worth recording (a sign-in, its failure, a lockout); the edge, which knows
//! the request (address, user agent, request id, the API token used), completes every event the
//! request noted and writes them before it answers. `query` reads the log as Okta's
//! `/api/v1/logs` does.

use crate::clock::Timestamp;
use crate::directory::search::{self, Dialect, Expr, SearchError, Vocabulary};
use crate::records::directory::User;
pub use crate::records::log::{LogEntity, LogEvent};
use crate::store::{Store, StoreError};
use std::cell::RefCell;

tokio::task_local! {
    static TASK_EVENTS: RefCell<Vec<LogEvent>>;
}

thread_local! {
    static THREAD_EVENTS: RefCell<Vec<LogEvent>> = const { RefCell::new(Vec::new()) };
}

/// Notes `event` for the current request (its task, or the blocking closure it runs).
pub fn note(event: LogEvent) {
    let mut event = Some(event);
    let in_task = TASK_EVENTS.try_with(|e| {
        if let Some(ev) = event.take() {
            e.borrow_mut().push(ev);
        }
    });
    if in_task.is_err()
        && let Some(ev) = event
    {
        THREAD_EVENTS.with(|e| e.borrow_mut().push(ev));
    }
}

/// The events noted on this thread since the last call (for the blocking pool), cleared.
pub fn take_thread() -> Vec<LogEvent> {
    THREAD_EVENTS.with(|e| std::mem::take(&mut *e.borrow_mut()))
}

/// Adds events a blocking closure noted to the current request.
pub fn extend(events: Vec<LogEvent>) {
    for e in events {
        note(e);
    }
}

/// Runs `f` with its own list of noted events; returns its output and the events.
pub async fn recorded<F: Future>(f: F) -> (F::Output, Vec<LogEvent>) {
    TASK_EVENTS
        .scope(RefCell::new(Vec::new()), async {
            let out = f.await;
            let events = TASK_EVENTS.with(|e| std::mem::take(&mut *e.borrow_mut()));
            (out, events)
        })
        .await
}

/// An event of `event_type` by `actor`, with `outcome` (`SUCCESS`, `FAILURE`, …); the edge
/// fills the rest.
pub fn event(event_type: &str, display_message: &str, actor: LogEntity, outcome: &str) -> LogEvent {
    LogEvent {
        uuid: String::new(),
        published: Timestamp::from_millis(0),
        event_type: event_type.to_owned(),
        severity: if outcome == "SUCCESS" || outcome == "ALLOW" {
            "INFO"
        } else {
            "WARN"
        }
        .to_owned(),
        display_message: display_message.to_owned(),
        actor,
        outcome: outcome.to_owned(),
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

/// A user as an actor or target.
pub fn user(u: &User) -> LogEntity {
    LogEntity {
        id: u.id.clone(),
        kind: "User".into(),
        alternate_id: Some(u.profile.login.clone()),
        display_name: Some(
            format!("{} {}", u.profile.first_name, u.profile.last_name)
                .trim()
                .to_owned(),
        ),
    }
}

/// Someone who named a login that no user has (a failed sign-in).
pub fn unknown_user(login: &str) -> LogEntity {
    LogEntity {
        id: "unknown".into(),
        kind: "User".into(),
        alternate_id: Some(login.to_owned()),
        display_name: Some("Unknown".into()),
    }
}

/// Portcullis itself (an automatic change) or the bootstrap token.
pub fn system() -> LogEntity {
    LogEntity {
        id: "system".into(),
        kind: "SystemPrincipal".into(),
        alternate_id: Some("system@portcullis".into()),
        display_name: Some("Portcullis".into()),
    }
}

/// What a log `filter` may name: Okta's fields of a LogEvent that Portcullis fills.
pub const FILTER_NAMES: Vocabulary = Vocabulary {
    knows: |attribute, _| FIELDS.contains(&attribute),
    is_time: |_| false,
    contains: |_| true,
};

const FIELDS: [&str; 17] = [
    "uuid",
    "eventType",
    "severity",
    "displayMessage",
    "actor.id",
    "actor.type",
    "actor.alternateId",
    "actor.displayName",
    "target.id",
    "target.type",
    "target.alternateId",
    "target.displayName",
    "outcome.result",
    "outcome.reason",
    "client.ipAddress",
    "authenticationContext.externalSessionId",
    "transaction.id",
];

/// The value of field `name` of `event`, reading target `target` for `target.*`.
fn field(event: &LogEvent, name: &str, target: Option<&LogEntity>) -> Option<String> {
    let entity = |e: &LogEntity, part: &str| match part {
        "id" => Some(e.id.clone()),
        "type" => Some(e.kind.clone()),
        "alternateId" => e.alternate_id.clone(),
        "displayName" => e.display_name.clone(),
        _ => None,
    };
    if let Some(part) = name.strip_prefix("actor.") {
        return entity(&event.actor, part);
    }
    if let Some(part) = name.strip_prefix("target.") {
        return entity(target?, part);
    }
    match name {
        "uuid" => Some(event.uuid.clone()),
        "eventType" => Some(event.event_type.clone()),
        "severity" => Some(event.severity.clone()),
        "displayMessage" => Some(event.display_message.clone()),
        "outcome.result" => Some(event.outcome.clone()),
        "outcome.reason" => event.reason.clone(),
        "client.ipAddress" => event.ip_address.clone(),
        "authenticationContext.externalSessionId" => event.session_id.clone(),
        "transaction.id" => event.request_id.clone(),
        _ => None,
    }
}

/// Whether `event` matches `expr`; `target.*` matches when any one target does (as SCIM
/// matches arrays).
fn holds(expr: &Expr, event: &LogEvent) -> bool {
    let with = |target: Option<&LogEntity>| {
        expr.holds(&|name| field(event, name, target), &FILTER_NAMES, false)
    };
    if event.targets.is_empty() {
        with(None)
    } else {
        event.targets.iter().any(|t| with(Some(t)))
    }
}

/// Whether every keyword of Okta's `q` is in the event (case-insensitive).
fn has_keywords(event: &LogEvent, keywords: &[String]) -> bool {
    let mut text = format!(
        "{} {} {} {} {} {} {}",
        event.event_type,
        event.display_message,
        event.actor.id,
        event.actor.alternate_id.as_deref().unwrap_or_default(),
        event.actor.display_name.as_deref().unwrap_or_default(),
        event.outcome,
        event.reason.as_deref().unwrap_or_default(),
    );
    for t in &event.targets {
        text.push(' ');
        text.push_str(&t.id);
        text.push(' ');
        text.push_str(t.alternate_id.as_deref().unwrap_or_default());
        text.push(' ');
        text.push_str(t.display_name.as_deref().unwrap_or_default());
    }
    if let Some(ip) = &event.ip_address {
        text.push(' ');
        text.push_str(ip);
    }
    let text = text.to_lowercase();
    keywords.iter().all(|k| text.contains(k.as_str()))
}

/// What a read of the log asks for.
#[derive(Debug, Clone)]
pub struct LogQuery {
    /// Events published at or after this time…
    pub since: Timestamp,
    /// …and before this one.
    pub until: Timestamp,
    /// Continue after this cursor (an earlier page's last event).
    pub after: Option<String>,
    pub filter: Option<Expr>,
    /// Okta's `q`: keywords, all of which must appear.
    pub keywords: Vec<String>,
    pub descending: bool,
    pub limit: usize,
}

/// Parses Okta's log `filter` (any field of [`FILTER_NAMES`], every operator but `ne`).
pub fn parse_filter(text: &str) -> Result<Expr, SearchError> {
    search::parse_with(text, Dialect::Search, &FILTER_NAMES)
}

/// Okta's `q`: at most ten keywords of at most 40 characters each.
pub fn parse_keywords(q: &str) -> Result<Vec<String>, SearchError> {
    let words: Vec<String> = q.split_whitespace().map(str::to_lowercase).collect();
    if words.len() > 10 || words.iter().any(|w| w.chars().count() > 40) {
        return Err(SearchError(
            "q takes at most 10 keywords of at most 40 characters".into(),
        ));
    }
    Ok(words)
}

/// The page of events `query` asks for, in order, and whether more may follow.
pub fn query(store: &dyn Store, query: &LogQuery) -> Result<(Vec<LogEvent>, bool), StoreError> {
    let mut out = Vec::new();
    let mut after = query.after.clone();
    loop {
        let batch = store.log_events(
            query.since,
            query.until,
            after.as_deref(),
            query.descending,
            500,
        )?;
        let full = batch.len() == 500;
        after = batch.last().map(LogEvent::cursor);
        for event in batch {
            let keep = query.filter.as_ref().is_none_or(|f| holds(f, &event))
                && has_keywords(&event, &query.keywords);
            if keep {
                if out.len() == query.limit {
                    return Ok((out, true));
                }
                out.push(event);
            }
        }
        if !full {
            return Ok((out, false));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance::user as a_user;

    fn at(ms: i64, kind: &str, who: &User, outcome: &str) -> LogEvent {
        let mut e = event(kind, "test", user(who), outcome);
        e.uuid = format!("u{ms}");
        e.published = Timestamp::from_millis(ms);
        e.targets = vec![user(who)];
        e
    }

    #[test]
    fn the_log_reads_back_in_order_filtered_and_paged_on_sled() {
        let (_dir, store) = crate::store::temp_store();
        reads_back_in_order_filtered_and_paged(&store);
    }

    #[test]
    fn the_log_reads_back_in_order_filtered_and_paged_on_postgres() {
        if let Some(settings) = crate::store::conformance::fresh_postgres() {
            let store = crate::store::PgStore::open(&settings).unwrap();
            reads_back_in_order_filtered_and_paged(&store);
        }
    }

    fn reads_back_in_order_filtered_and_paged(store: &dyn Store) {
        let (ann, bob) = (a_user("00uann", "ann@x.io"), a_user("00ubob", "bob@x.io"));
        let events = [
            at(1000, "user.session.start", &ann, "SUCCESS"),
            at(2000, "user.session.start", &bob, "FAILURE"),
            at(3000, "user.account.lock", &bob, "SUCCESS"),
            at(4000, "user.session.start", &ann, "SUCCESS"),
        ];
        store.append_log(&events).unwrap();
        let read = |q: LogQuery| query(store, &q).unwrap();
        let base = LogQuery {
            since: Timestamp::from_millis(0),
            until: Timestamp::from_millis(10_000),
            after: None,
            filter: None,
            keywords: Vec::new(),
            descending: false,
            limit: 100,
        };
        let ids = |(events, _): (Vec<LogEvent>, bool)| -> Vec<String> {
            events.into_iter().map(|e| e.uuid).collect()
        };
        assert_eq!(
            ids(read(base.clone())),
            ["u1000", "u2000", "u3000", "u4000"]
        );
        assert_eq!(
            ids(read(LogQuery {
                descending: true,
                ..base.clone()
            })),
            ["u4000", "u3000", "u2000", "u1000"]
        );
        let failures = LogQuery {
            filter: Some(
                parse_filter(
                    r#"eventType eq "user.session.start" and outcome.result eq "FAILURE""#,
                )
                .unwrap(),
            ),
            ..base.clone()
        };
        assert_eq!(ids(read(failures)), ["u2000"]);
        let bob_target = LogQuery {
            filter: Some(parse_filter(r#"target.alternateId eq "bob@x.io""#).unwrap()),
            ..base.clone()
        };
        assert_eq!(ids(read(bob_target)), ["u2000", "u3000"]);
        let words = LogQuery {
            keywords: parse_keywords("LOCK bob").unwrap(),
            ..base.clone()
        };
        assert_eq!(ids(read(words)), ["u3000"]);
        // Two a page, then the rest after the cursor; a window leaves out what is outside.
        let (page, more) = read(LogQuery {
            limit: 2,
            ..base.clone()
        });
        assert!(more);
        let rest = read(LogQuery {
            after: Some(page[1].cursor()),
            ..base.clone()
        });
        assert_eq!(ids(rest), ["u3000", "u4000"]);
        let window = read(LogQuery {
            since: Timestamp::from_millis(2000),
            until: Timestamp::from_millis(4000),
            ..base.clone()
        });
        assert_eq!(ids(window), ["u2000", "u3000"]);
        assert!(parse_filter(r#"eventType ne "x""#).is_err());
        assert!(parse_keywords(&"x ".repeat(11)).is_err());
        // Retention: what is older goes.
        assert_eq!(store.sweep_log(Timestamp::from_millis(2500)).unwrap(), 2);
        assert_eq!(ids(read(base)), ["u3000", "u4000"]);
    }
}
