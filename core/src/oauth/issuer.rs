//! Which authorization server a request is for: the org server (`/oauth2/v1/*`, issuer = the
//! base URL) or a custom one (`/oauth2/{id}/v1/*`, issuer = `{base}/oauth2/{id}`). Each has its
//! own keys, so a token of one never verifies at another.

use super::ORG_SERVER;
use super::authorize::SCOPES;
use super::keys::KeyRing;
use crate::authz::AuthServer;
use serde_json::{Value, json};
use std::sync::Arc;

pub struct Issuer {
    /// `org`, or the custom server's id.
    pub id: String,
    /// The `iss` of its tokens.
    pub url: String,
    /// Where its endpoints live: `{base}/oauth2` or `{base}/oauth2/{id}`.
    prefix: String,
    pub keys: Arc<KeyRing>,
    /// The custom server's configuration, read once for this request.
    pub custom: Option<AuthServer>,
    audience: Value,
}

impl Issuer {
    pub fn org(base: &str, keys: Arc<KeyRing>) -> Self {
        Self {
            id: ORG_SERVER.to_owned(),
            url: base.to_owned(),
            prefix: format!("{base}/oauth2"),
            keys,
            custom: None,
            audience: json!(base),
        }
    }

    pub fn custom(base: &str, server: AuthServer, keys: Arc<KeyRing>) -> Self {
        let url = format!("{base}/oauth2/{}", server.id);
        let audience = match server.audiences.as_slice() {
            [one] => json!(one),
            many => json!(many),
        };
        Self {
            id: server.id.clone(),
            prefix: url.clone(),
            url,
            keys,
            custom: Some(server),
            audience,
        }
    }

    /// The `aud` of its access tokens.
    pub fn audience(&self) -> &Value {
        &self.audience
    }

    /// Whether a token's `aud` is this server's audience.
    pub fn audience_matches(&self, aud: &Value) -> bool {
        let mine: Vec<&str> = match &self.audience {
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            v => v.as_str().into_iter().collect(),
        };
        match aud {
            Value::String(s) => mine.contains(&s.as_str()),
            Value::Array(a) => a
                .iter()
                .filter_map(Value::as_str)
                .any(|s| mine.contains(&s)),
            _ => false,
        }
    }

    /// The absolute URL of endpoint `name` (`token`, `keys`…).
    pub fn endpoint(&self, name: &str) -> String {
        format!("{}/v1/{name}", self.prefix)
    }

    /// The scopes discovery lists.
    pub fn published_scopes(&self) -> Vec<String> {
        match &self.custom {
            None => SCOPES.iter().map(|s| (*s).to_owned()).collect(),
            Some(s) => s
                .scopes
                .iter()
                .filter(|x| x.metadata_publish == crate::authz::MetadataPublish::AllClients)
                .map(|x| x.name.clone())
                .collect(),
        }
    }
}
