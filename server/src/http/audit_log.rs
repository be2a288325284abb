//! The System Log at the edge: the events a request noted are completed with its context
//! (address, user agent, request id and path, the API token used) and written before it
//! answers; every successful admin change is recorded by its route; `GET /api/v1/logs` reads
//! the log as Okta's does, polling included.

use super::AppState;
use super::error::ApiError;
use super::extract::{Admin, KnownAuthority, admin_authority, client_addr};
use crate::audit::{self, LogEntity, LogEvent, LogQuery};
use crate::clock::Timestamp;
use crate::directory::FieldError;
use crate::directory::admins::Authority;
use crate::paths;
use axum::extract::{MatchedPath, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Writes the events no user write carried, off the request path: one writer thread appends
/// what arrives, many requests' events at a time, and tells each request the number of the
/// write that holds its events, so that its answer waits for that write to be durable (one
/// group commit serves the events and the request's own writes). [`LogSink::drain`] waits
/// until everything sent so far is written (a read of the log, and shutdown, call it).
pub struct LogSink {
    jobs: std::sync::mpsc::SyncSender<SinkJob>,
}

/// The events an answer does not wait for (see [`complete`]).
const TOKEN_GRANTS: [&str; 2] = ["app.oauth2.token.grant", "app.oauth2.as.token.grant"];

/// What the writer answers a request: the number of the write holding its events.
type Written = Result<u64, String>;

enum SinkJob {
    Events(Vec<LogEvent>, tokio::sync::oneshot::Sender<Written>),
    Drained(std::sync::mpsc::SyncSender<()>),
}

impl LogSink {
    /// Starts the writer. It holds the store only while it writes, so that a server that is
    /// dropped lets go of its store at once (sled's lock).
    pub fn start(store: &std::sync::Arc<dyn crate::store::Store>) -> std::io::Result<Self> {
        let store = std::sync::Arc::downgrade(store);
        let (jobs, queue) = std::sync::mpsc::sync_channel::<SinkJob>(4096);
        std::thread::Builder::new()
            .name("system-log".into())
            .spawn(move || {
                while let Ok(first) = queue.recv() {
                    let mut batch = Vec::new();
                    let mut waiting = Vec::new();
                    let mut acks = Vec::new();
                    let mut take = |job: SinkJob| match job {
                        SinkJob::Events(e, reply) => {
                            batch.extend(e);
                            waiting.push(reply);
                        }
                        SinkJob::Drained(ack) => acks.push(ack),
                    };
                    take(first);
                    while let Ok(more) = queue.try_recv() {
                        take(more);
                    }
                    let written = if batch.is_empty() {
                        Ok(0)
                    } else {
                        match store.upgrade() {
                            Some(store) => match store.append_log(&batch) {
                                Ok(()) => Ok(crate::store::durability::take_thread()),
                                Err(e) => {
                                    tracing::error!(error = %e, events = batch.len(), "cannot write System Log events");
                                    Err(e.to_string())
                                }
                            },
                            None => Err("the store closed before the events were written".into()),
                        }
                    };
                    for reply in waiting {
                        let _ = reply.send(written.clone());
                    }
                    for ack in acks {
                        let _ = ack.send(());
                    }
                }
            })?;
        Ok(Self { jobs })
    }

    /// Hands `events` to the writer without waiting for the write (when it is behind, waits
    /// for room: never drops them).
    fn send(&self, events: Vec<LogEvent>) {
        let (reply, _) = tokio::sync::oneshot::channel();
        match self.jobs.try_send(SinkJob::Events(events, reply)) {
            Ok(()) => {}
            Err(std::sync::mpsc::TrySendError::Full(job)) => {
                let _ = self.jobs.send(job);
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                tracing::error!("the System Log writer has stopped");
            }
        }
    }

    /// Hands `events` to the writer (when it is behind, waits for room: never drops them) and
    /// waits until they are written; returns the number of the write that holds them.
    async fn write(&self, events: Vec<LogEvent>) -> Written {
        let (reply, written) = tokio::sync::oneshot::channel();
        match self.jobs.try_send(SinkJob::Events(events, reply)) {
            Ok(()) => {}
            // Rare (4096 requests' events waiting): the writer empties the queue in batches.
            Err(std::sync::mpsc::TrySendError::Full(job)) => {
                let jobs = self.jobs.clone();
                let sent = tokio::task::spawn_blocking(move || jobs.send(job).is_ok()).await;
                if !matches!(sent, Ok(true)) {
                    return Err("the System Log writer has stopped".into());
                }
            }
            Err(std::sync::mpsc::TrySendError::Disconnected(_)) => {
                return Err("the System Log writer has stopped".into());
            }
        }
        written
            .await
            .unwrap_or_else(|_| Err("the System Log writer has stopped".into()))
    }

    /// Waits until every event sent before the call is written.
    pub fn drain(&self) {
        let (ack, done) = std::sync::mpsc::sync_channel(1);
        if self.jobs.send(SinkJob::Drained(ack)).is_ok() {
            let _ = done.recv_timeout(std::time::Duration::from_secs(10));
        }
    }
}

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(paths::LOGS, get(list))
}

/// Serves the request as an `audit::RequestContext` (address, user agent, path, a request
/// id), so that the events it notes say where they happened, then has the [`LogSink`] write
/// what no user write took before it answers.
pub(super) async fn complete(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let context = audit::RequestContext {
        ip_address: Some(client_addr(request.extensions())),
        user_agent: request
            .headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        request_uri: Some(super::redact::loggable(request.uri())),
        request_id: Some(crate::crypto::new_id("req")),
    };
    let path = request.uri().path().to_owned();
    let (response, left) = audit::within(context, next.run(request)).await;
    if left.is_empty() {
        return response;
    }
    // Token grants, by far the most frequent events, are written in the writer's next batch
    // without the answer waiting: waiting measured 19% of sled's and 45% of PostgreSQL's
    // client-credentials throughput, and a crash loses only events, never a token's record.
    if left
        .iter()
        .all(|e| TOKEN_GRANTS.contains(&e.event_type.as_str()))
    {
        state.log_sink.send(left);
        return response;
    }
    // Any other answer waits for its events (the durable acknowledgement around this layer
    // waits for the write that holds them): an acknowledged change is in the log after a crash.
    match state.log_sink.write(left).await {
        Ok(seq) => {
            crate::store::durability::note(seq);
            response
        }
        Err(why) => super::durable::unavailable(&path, &format!("the System Log: {why}")),
    }
}

/// The System Log's name for an admin change, by method and route.
fn admin_event(method: &Method, route: &str) -> (&'static str, &'static str) {
    let m = method.as_str();
    match (m, route) {
        ("POST", "/api/v1/users") => ("user.lifecycle.create", "Create Okta user"),
        ("POST" | "PUT", "/api/v1/users/{id}") => (
            "user.account.update_profile",
            "Update user profile for Okta",
        ),
        ("DELETE", "/api/v1/users/{id}") => ("user.lifecycle.delete.initiated", "Delete Okta user"),
        ("POST", "/api/v1/users/{id}/lifecycle/activate") => {
            ("user.lifecycle.activate", "Activate Okta user")
        }
        ("POST", "/api/v1/users/{id}/lifecycle/deactivate") => {
            ("user.lifecycle.deactivate", "Deactivate Okta user")
        }
        ("POST", "/api/v1/users/{id}/lifecycle/suspend") => {
            ("user.lifecycle.suspend", "Suspend Okta user")
        }
        ("POST", "/api/v1/users/{id}/lifecycle/unsuspend") => {
            ("user.lifecycle.unsuspend", "Unsuspend Okta user")
        }
        ("POST", "/api/v1/users/{id}/lifecycle/unlock") => {
            ("user.account.unlock_by_admin", "An admin unlocked a user")
        }
        ("POST", "/api/v1/users/{id}/lifecycle/reset_password") => (
            "user.account.reset_password",
            "Reset password for Okta user",
        ),
        ("POST", "/api/v1/users/{id}/lifecycle/expire_password") => (
            "user.account.expire_password",
            "Expire password for Okta user",
        ),
        ("POST", "/api/v1/users/{id}/lifecycle/reset_factors") => {
            ("user.mfa.factor.reset_all", "Reset all factors for user")
        }
        ("DELETE", "/api/v1/users/{id}/sessions") => ("user.session.clear", "Clear user session"),
        ("POST", "/api/v1/users/{id}/roles") => {
            ("user.account.privilege.grant", "Grant user privilege")
        }
        ("DELETE", "/api/v1/users/{id}/roles/{rid}") => {
            ("user.account.privilege.revoke", "Revoke user privilege")
        }
        ("DELETE", "/api/v1/api-tokens/{id}" | "/api/v1/api-tokens/current") => {
            ("system.api_token.revoke", "Revoke API token")
        }
        ("POST", "/api/v1/groups") => ("group.lifecycle.create", "Create Okta group"),
        ("PUT", "/api/v1/groups/{id}") => ("group.profile.update", "Update Okta group"),
        ("DELETE", "/api/v1/groups/{id}") => ("group.lifecycle.delete", "Delete Okta group"),
        ("PUT", "/api/v1/groups/{id}/users/{uid}") => {
            ("group.user_membership.add", "Add user to group membership")
        }
        ("DELETE", "/api/v1/groups/{id}/users/{uid}") => (
            "group.user_membership.remove",
            "Remove user from group membership",
        ),
        ("POST", "/api/v1/apps") => ("application.lifecycle.create", "Add application"),
        ("PUT", "/api/v1/apps/{id}") => ("application.lifecycle.update", "Update application"),
        ("DELETE", "/api/v1/apps/{id}") => ("application.lifecycle.delete", "Delete application"),
        ("POST", "/api/v1/apps/{id}/lifecycle/activate") => {
            ("application.lifecycle.activate", "Activate application")
        }
        ("POST", "/api/v1/apps/{id}/lifecycle/deactivate") => {
            ("application.lifecycle.deactivate", "Deactivate application")
        }
        ("POST" | "PUT", "/api/v1/apps/{id}/users" | "/api/v1/apps/{id}/users/{uid}") => (
            "application.user_membership.add",
            "Add user to application membership",
        ),
        ("PUT", "/api/v1/apps/{id}/groups/{gid}") => (
            "application.group_membership.add",
            "Add assigned group to application",
        ),
        ("DELETE", "/api/v1/apps/{id}/groups/{gid}") => (
            "application.group_membership.remove",
            "Remove assigned group from application",
        ),
        ("DELETE", "/api/v1/apps/{id}/users/{uid}") => (
            "application.user_membership.remove",
            "Remove user from application membership",
        ),
        _ => ("system.admin.write", "An admin changed the org"),
    }
}

/// The targets a route names: each `{…}` segment of the path, with the kind its name implies.
fn targets(route: &str, path: &str) -> Vec<LogEntity> {
    let kind_of = |segment_before: &str| match segment_before {
        "users" => "User",
        "groups" => "UserGroup",
        "apps" => "AppInstance",
        "roles" => "Role",
        "api-tokens" => "Token",
        "trustedOrigins" => "TrustedOrigin",
        "authorizationServers" => "AuthorizationServer",
        _ => "Resource",
    };
    let parts: Vec<&str> = path.split('/').collect();
    route
        .split('/')
        .enumerate()
        .filter(|(_, s)| s.starts_with('{'))
        .filter_map(|(i, _)| {
            let id = parts.get(i)?;
            let before = route.split('/').nth(i.checked_sub(1)?)?;
            Some(LogEntity {
                id: (*id).to_owned(),
                kind: kind_of(before).to_owned(),
                alternate_id: None,
                display_name: None,
            })
        })
        .collect()
}

/// Who acts with `authority`: its owner, or Portcullis for the bootstrap token.
fn actor(state: &AppState, authority: Option<&Authority>) -> LogEntity {
    match authority.and_then(|a| a.user_id.as_deref()) {
        Some(id) => match state.store.user(id) {
            Ok(Some(u)) => audit::user(&u),
            _ => audit::unknown_user(id),
        },
        None => audit::system(),
    }
}

/// Records every successful admin change (a route layer, so the route is known).
pub(super) async fn admin_writes(
    State(state): State<AppState>,
    route: Option<MatchedPath>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().clone();
    if matches!(method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(request).await;
    }
    let route = route.map(|r| r.as_str().to_owned()).unwrap_or_default();
    let path = request.uri().path().to_owned();
    // Before the change: a token that revokes itself is gone afterwards. The handler's
    // extractor reads it from here rather than looking the token up again.
    // (A failed lookup is left to the extractor, which answers it as an outage.)
    let looked_up = admin_authority(request.headers(), &state);
    let mut request = request;
    if let Ok(found) = &looked_up {
        request
            .extensions_mut()
            .insert(KnownAuthority(found.clone()));
    }
    let authority = looked_up.ok().flatten();
    let (event_type, message) = admin_event(&method, &route);
    let mut event = audit::event(
        event_type,
        message,
        actor(&state, authority.as_ref()),
        "SUCCESS",
    );
    event.targets = targets(&route, &path);
    event.api_token_id = authority.and_then(|a| a.token_id);
    // Noted before the change, so that a user write stores it in its own transaction; dropped
    // when the change fails.
    let staged = (!event.targets.is_empty()).then(|| audit::note(event.clone()));
    let mut response = next.run(request).await;
    if !response.status().is_success() {
        if let Some(uuid) = staged {
            crate::store::journal::discard(&uuid);
        }
        return response;
    }
    if staged.is_some() {
        return response;
    }
    // A creation (`POST` on a collection) names what it made by the id in its answer.
    let collection = route
        .rsplit('/')
        .next()
        .is_some_and(|last| !last.starts_with('{'));
    if method == Method::POST && collection && event.targets.is_empty() {
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 4 * 1024 * 1024)
            .await
            .unwrap_or_default();
        if let Some(id) = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v.get("id").and_then(Value::as_str).map(str::to_owned))
        {
            event.targets = targets(&format!("{route}/{{id}}"), &format!("{path}/{id}"));
        }
        response = Response::from_parts(parts, axum::body::Body::from(bytes));
    }
    audit::note(event);
    response
}

fn entity_view(e: &LogEntity) -> Value {
    json!({
        "id": e.id,
        "type": e.kind,
        "alternateId": e.alternate_id,
        "displayName": e.display_name,
        "detailEntry": null,
    })
}

/// One event in Okta's `LogEvent` shape.
fn view(e: &LogEvent) -> Value {
    let ip_version = e
        .ip_address
        .as_deref()
        .map(|ip| if ip.contains(':') { "V6" } else { "V4" });
    let mut detail = serde_json::Map::new();
    if let Some(t) = &e.api_token_id {
        detail.insert("requestApiTokenId".into(), json!(t));
    }
    json!({
        "uuid": e.uuid,
        "published": e.published.iso8601(),
        "eventType": e.event_type,
        "version": "0",
        "severity": e.severity,
        "legacyEventType": null,
        "displayMessage": e.display_message,
        "actor": entity_view(&e.actor),
        "client": {
            "id": e.client_id,
            "userAgent": e.user_agent.as_ref().map(|ua| json!({ "rawUserAgent": ua, "os": null, "browser": null })),
            "zone": "null",
            "device": null,
            "ipAddress": e.ip_address,
            "geographicalContext": null,
        },
        "device": null,
        "authenticationContext": {
            "authenticationProvider": null,
            "credentialProvider": null,
            "credentialType": null,
            "issuer": null,
            "interface": null,
            "authenticationStep": 0,
            "externalSessionId": e.session_id,
        },
        "outcome": { "result": e.outcome, "reason": e.reason },
        "target": e.targets.iter().map(entity_view).collect::<Vec<_>>(),
        "transaction": { "type": "WEB", "id": e.request_id, "detail": detail },
        "debugContext": { "debugData": { "requestId": e.request_id, "requestUri": e.request_uri } },
        "request": { "ipChain": e.ip_address.as_ref().map(|ip| vec![json!({
            "ip": ip, "version": ip_version, "source": null, "geographicalContext": null,
        })]).unwrap_or_default() },
        "securityContext": { "asNumber": null, "asOrg": null, "isp": null, "domain": null, "isProxy": null },
    })
}

fn invalid(field: &'static str, message: &str) -> ApiError {
    ApiError::Validation(vec![FieldError::new(field, message)])
}

/// A time parameter in RFC 3339.
fn time_param(
    query: &HashMap<String, String>,
    name: &'static str,
) -> Result<Option<Timestamp>, ApiError> {
    let Some(text) = query.get(name).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    Timestamp::parse_rfc3339(text).map(Some).ok_or_else(|| {
        invalid(
            name,
            "The date format in your query is not recognized. Please enter dates using ISO8601 string format.",
        )
    })
}

/// `GET /api/v1/logs?since&until&after&filter&q&sortOrder&limit`. A polling request (no
/// `until`, ascending) always has a `next` link, even on an empty page, as Okta's does.
async fn list(
    _: Admin,
    State(state): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, ApiError> {
    let now = Timestamp::now();
    let until = time_param(&query, "until")?;
    let polling_until = until.is_none();
    let until = until.unwrap_or(now.plus(std::time::Duration::from_secs(1)));
    let since = time_param(&query, "since")?
        .unwrap_or(Timestamp::from_millis(until.millis() - 7 * 86_400_000));
    let descending = match query.get("sortOrder").map(String::as_str) {
        None | Some("ASCENDING") => false,
        Some("DESCENDING") => true,
        Some(_) => {
            return Err(invalid(
                "sortOrder",
                "sortOrder must be ASCENDING or DESCENDING",
            ));
        }
    };
    let limit = match query.get("limit") {
        Some(l) => l
            .parse::<usize>()
            .ok()
            .filter(|n| *n <= 1000)
            .ok_or_else(|| invalid("limit", "limit must be a number from 0 to 1000"))?,
        None => 100,
    };
    let filter = match query.get("filter").filter(|f| !f.is_empty()) {
        Some(f) => Some(audit::parse_filter(f).map_err(|e| ApiError::InvalidLogFilter(e.0))?),
        None => None,
    };
    let keywords = match query.get("q") {
        Some(q) => audit::parse_keywords(q).map_err(|e| invalid("q", &e.0))?,
        None => Vec::new(),
    };
    let after = query.get("after").filter(|a| !a.is_empty()).cloned();
    let read = LogQuery {
        since,
        until,
        after: after.clone(),
        filter,
        keywords,
        descending,
        limit,
    };
    let (events, more) = state
        .blocking(move |s| {
            // What this node's requests noted so far is read back too.
            s.log_sink.drain();
            audit::query(s.store.as_ref(), &read)
        })
        .await??;
    let polling = polling_until && !descending;
    let next_after = events.last().map(LogEvent::cursor).or(after);
    let link = |after: Option<&str>| {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        let mut kept: Vec<(&String, &String)> = query
            .iter()
            .filter(|(k, _)| k.as_str() != "after" && !(after.is_some() && k.as_str() == "since"))
            .collect();
        kept.sort();
        for (k, v) in kept {
            ser.append_pair(k, v);
        }
        if let Some(a) = after {
            ser.append_pair("after", a);
        }
        format!("{}{}?{}", state.base_url, paths::LOGS, ser.finish())
    };
    let mut response = Json(Value::Array(events.iter().map(view).collect())).into_response();
    let headers: &mut HeaderMap = response.headers_mut();
    let self_link = link(query.get("after").map(String::as_str));
    if let Ok(v) = HeaderValue::from_str(&format!("<{self_link}>; rel=\"self\"")) {
        headers.append(header::LINK, v);
    }
    if more || polling {
        let next = link(next_after.as_deref());
        if let Ok(v) = HeaderValue::from_str(&format!("<{next}>; rel=\"next\"")) {
            headers.append(header::LINK, v);
        }
    }
    Ok(response)
}
