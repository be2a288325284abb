//! The System Log: what happened, as Okta's `LogEvent`s. A core notes an event where it
//! decides something worth recording (a sign-in, its failure, a lockout), placed in the request
//! the edge describes ([`within`]). The store's next user write stores the noted events in its
//! own transaction (`store::journal`), so the event and what it records are kept together;
//! the edge has what no write took written (and durable) before the request answers, token
//! grants excepted (see `http::audit_log::complete`). `query` reads the log as
//! Okta's `/api/v1/logs` does.

use crate::clock::Timestamp;
use crate::directory::search::{self, Dialect, Expr, SearchError, Vocabulary};
use crate::records::directory::User;
pub use crate::records::log::{LogEntity, LogEvent};
use crate::store::{Store, StoreError, journal};
use std::cell::RefCell;

/// The request an event happens in, as the edge knows it.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub request_uri: Option<String>,
    pub request_id: Option<String>,
}

tokio::task_local! {
    static CONTEXT: RequestContext;
}

thread_local! {
    static THREAD_CONTEXT: RefCell<Option<RequestContext>> = const { RefCell::new(None) };
}

/// The request being served, in its task or in a blocking closure it runs.
pub fn current_context() -> Option<RequestContext> {
    CONTEXT
        .try_with(Clone::clone)
        .ok()
        .or_else(|| THREAD_CONTEXT.with(|c| c.borrow().clone()))
}

/// Runs `f` as the request `context`; returns its output and the events no write took.
pub async fn within<F: Future>(context: RequestContext, f: F) -> (F::Output, Vec<LogEvent>) {
    CONTEXT.scope(context, journal::scoped(f)).await
}

/// Runs `f` on this thread as the request `context` (a blocking closure of a request).
pub fn with_thread_context<T>(context: Option<RequestContext>, f: impl FnOnce() -> T) -> T {
    THREAD_CONTEXT.with(|c| *c.borrow_mut() = context);
    let out = f();
    THREAD_CONTEXT.with(|c| *c.borrow_mut() = None);
    out
}

/// Names, dates and places `event` in the current request.
fn complete(mut event: LogEvent) -> LogEvent {
    if event.uuid.is_empty() {
        event.uuid = crate::crypto::new_uuid();
    }
    if event.published.millis() == 0 {
        event.published = Timestamp::now();
    }
    if let Some(c) = current_context() {
        event.ip_address = event.ip_address.or(c.ip_address);
        event.user_agent = event.user_agent.or(c.user_agent);
        event.request_uri = event.request_uri.or(c.request_uri);
        event.request_id = event.request_id.or(c.request_id);
    }
    event
}

/// Notes `event` for the request: the next user write stores it in its own transaction, or
/// the edge appends it before the request answers. Returns its uuid.
pub fn note(event: LogEvent) -> String {
    let event = complete(event);
    let uuid = event.uuid.clone();
    journal::stage(event);
    uuid
}

/// Notes `event` from inside a change being tried: kept only if that try is written.
pub fn note_in_attempt(event: LogEvent) {
    journal::stage_in_attempt(complete(event));
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
