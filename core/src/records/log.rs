//! System Log events as stored: Okta's `LogEvent`, with the parts Portcullis fills.

use crate::clock::Timestamp;
use serde::{Deserialize, Serialize};

/// Who did something or what it was done to (`actor`, `target[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntity {
    pub id: String,
    /// Okta's `type`: `User`, `PublicClientApp`, `AppInstance`, `SystemPrincipal`, …
    pub kind: String,
    pub alternate_id: Option<String>,
    pub display_name: Option<String>,
}

/// One event. The cores fill what happened; the edge adds the request's context, the id and
/// the time as it writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEvent {
    pub uuid: String,
    pub published: Timestamp,
    /// e.g. `user.session.start`.
    pub event_type: String,
    /// `INFO`, `WARN`, …
    pub severity: String,
    pub display_message: String,
    pub actor: LogEntity,
    /// `SUCCESS`, `FAILURE`, `ALLOW`, `DENY`, …
    pub outcome: String,
    pub reason: Option<String>,
    pub targets: Vec<LogEntity>,
    /// The client's address and user agent, and the OAuth client when there is one.
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub client_id: Option<String>,
    /// `authenticationContext.externalSessionId`.
    pub session_id: Option<String>,
    /// `transaction.id`: one per request.
    pub request_id: Option<String>,
    /// `debugContext.debugData.requestUri`.
    pub request_uri: Option<String>,
    /// `transaction.detail.requestApiTokenId`: the named API token a request used.
    pub api_token_id: Option<String>,
}

impl LogEvent {
    /// The position of the event in the log (and a page's cursor): `{published}_{uuid}`.
    pub fn cursor(&self) -> String {
        format!("{}_{}", self.published.millis(), self.uuid)
    }
}
