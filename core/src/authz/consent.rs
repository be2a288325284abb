//! Consent: a client whose consent method is REQUIRED asks the person before it receives
//! scopes marked consent REQUIRED. What they granted is remembered per user, client, server
//! and scope (Okta's grant objects), until they or an admin revoke it.

use super::{AuthServer, Consent};
use crate::clock::Timestamp;
use crate::crypto::new_id;
use crate::oauth::clients::{Client, ConsentMethod};
pub use crate::records::authz::Grant;
use crate::records::ids::{ClientId, UserId};
use crate::store::{Store, StoreError};

/// The scopes of `scopes` the person must still agree to (all of them, with `ask_again`, as for
/// `prompt=consent`).
pub fn needed(
    store: &dyn Store,
    server: &AuthServer,
    client: &Client,
    user_id: &str,
    scopes: &[String],
    ask_again: bool,
) -> Result<Vec<String>, StoreError> {
    // Okta's matrix: a TRUSTED client is asked only when it asks for it (`prompt=consent`).
    if client.consent_method != ConsentMethod::Required && !ask_again {
        return Ok(Vec::new());
    }
    let asked: Vec<&String> = scopes
        .iter()
        .filter(|s| {
            server
                .scope(s)
                .is_some_and(|x| x.consent == Consent::Required)
        })
        .collect();
    if asked.is_empty() {
        return Ok(Vec::new());
    }
    let granted: Vec<Grant> = if ask_again {
        Vec::new()
    } else {
        store
            .grants(user_id)?
            .into_iter()
            .filter(|g| g.client_id == client.client_id && g.server_id == server.id)
            .collect()
    };
    Ok(asked
        .into_iter()
        .filter(|s| !granted.iter().any(|g| &g.scope == *s))
        .cloned()
        .collect())
}

/// Records that the person agreed to `scopes` (replacing earlier grants of the same scopes).
pub fn record(
    store: &dyn Store,
    server_id: &str,
    client_id: &ClientId,
    user_id: &UserId,
    scopes: &[String],
    now: Timestamp,
) -> Result<(), StoreError> {
    let existing = store.grants(user_id.as_str())?;
    for scope in scopes {
        let already = existing
            .iter()
            .any(|g| &g.client_id == client_id && g.server_id == server_id && &g.scope == scope);
        if already {
            continue;
        }
        store.put_grant(&Grant {
            id: new_id("oag"),
            user_id: user_id.clone(),
            client_id: client_id.clone(),
            server_id: server_id.to_owned(),
            scope: scope.clone(),
            created: now,
        })?;
    }
    Ok(())
}

/// The person said yes on the consent screen: every scope of the request that needs consent
/// is remembered for this client on this server.
pub fn agree(
    store: &dyn Store,
    server: &AuthServer,
    client: &Client,
    user_id: &UserId,
    scopes: &[String],
    now: Timestamp,
) -> Result<(), StoreError> {
    let needed = needed(store, server, client, user_id.as_str(), scopes, true)?;
    let client_id = ClientId::new(client.client_id.clone());
    record(store, &server.id, &client_id, user_id, &needed, now)
}
