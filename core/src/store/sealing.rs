//! Which fields of which records are secrets: sealed on their way into a store and opened on
//! their way out (`crypto::at_rest`), so that the data directory, PostgreSQL's tables and
//! their backups hold no TOTP seed, `client_secret_jwt` secret or private signing key in the
//! clear. The cores see plain records; a store without a keyring stores them as they are.

use super::StoreError;
use crate::crypto::at_rest::{Keyring, is_sealed};
use crate::records::authn::{Factor, FactorSecret};
use crate::records::federation::IdentityProvider;
use crate::records::oauth::Client;
use crate::records::oauth::KeyRecord;
use std::sync::Arc;

/// The keyring a store seals with, if the operator configured one.
pub type Sealer = Option<Arc<Keyring>>;

/// A record that may hold secrets. Records without any keep the default (nothing to do).
pub trait Secrets: Clone {
    /// Seals every secret field not sealed yet.
    fn seal(&mut self, _: &Keyring) {}
    /// Opens every sealed field; a plain (older) value stays as it is.
    fn open(&mut self, _: Option<&Keyring>) -> Result<(), StoreError> {
        Ok(())
    }
}

/// `record` as it is to be stored.
pub fn sealed<T: Secrets>(record: &T, sealer: &Sealer) -> T {
    let mut copy = record.clone();
    if let Some(k) = sealer {
        copy.seal(k);
    }
    copy
}

/// `record` as it was stored, opened.
pub fn opened<T: Secrets>(mut record: T, sealer: &Sealer) -> Result<T, StoreError> {
    record.open(sealer.as_deref())?;
    Ok(record)
}

fn open_text(
    value: &mut String,
    k: Option<&Keyring>,
    what: &str,
    whose: &str,
) -> Result<(), StoreError> {
    if !is_sealed(value) {
        return Ok(());
    }
    let k = k.ok_or_else(|| corrupt(crate::crypto::at_rest::SealError::NoKey))?;
    let plain = k.open(value, what, whose).map_err(corrupt)?;
    *value = String::from_utf8(plain)
        .map_err(|_| StoreError::Corrupt("a sealed secret is not text".into()))?;
    Ok(())
}

fn seal_text(value: &mut String, k: &Keyring, what: &str, whose: &str) {
    if !is_sealed(value) {
        *value = k.seal(value.as_bytes(), what, whose);
    }
}

fn corrupt(e: crate::crypto::at_rest::SealError) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl Secrets for Factor {
    fn seal(&mut self, k: &Keyring) {
        let whose = format!("{}/{}", self.user_id, self.id);
        if let FactorSecret::Totp { shared_secret, .. } = &mut self.secret {
            seal_text(shared_secret, k, "totp", &whose);
        }
    }

    fn open(&mut self, k: Option<&Keyring>) -> Result<(), StoreError> {
        let whose = format!("{}/{}", self.user_id, self.id);
        if let FactorSecret::Totp { shared_secret, .. } = &mut self.secret {
            open_text(shared_secret, k, "totp", &whose)?;
        }
        Ok(())
    }
}

impl Secrets for Client {
    fn seal(&mut self, k: &Keyring) {
        if let Some(secret) = &mut self.hmac_secret {
            seal_text(&mut secret.0, k, "client-secret", &self.client_id);
        }
    }

    fn open(&mut self, k: Option<&Keyring>) -> Result<(), StoreError> {
        if let Some(secret) = &mut self.hmac_secret {
            open_text(&mut secret.0, k, "client-secret", &self.client_id)?;
        }
        Ok(())
    }
}

/// A pushed request may carry a one-time `sessionToken` for the few seconds it waits.
impl Secrets for crate::records::oauth::PushedRequest {
    fn seal(&mut self, k: &Keyring) {
        if let Some(token) = self.params.get_mut("sessionToken") {
            seal_text(token, k, "pushed-session-token", self.client_id.as_str());
        }
    }

    fn open(&mut self, k: Option<&Keyring>) -> Result<(), StoreError> {
        match self.params.get_mut("sessionToken") {
            Some(token) => open_text(token, k, "pushed-session-token", self.client_id.as_str()),
            None => Ok(()),
        }
    }
}

impl Secrets for IdentityProvider {
    fn seal(&mut self, k: &Keyring) {
        seal_text(&mut self.client_secret, k, "idp-client-secret", &self.id);
    }

    fn open(&mut self, k: Option<&Keyring>) -> Result<(), StoreError> {
        open_text(&mut self.client_secret, k, "idp-client-secret", &self.id)
    }
}

/// A private key is DER; sealed, its bytes are the sealed text.
impl Secrets for KeyRecord {
    fn seal(&mut self, k: &Keyring) {
        let looks_sealed = std::str::from_utf8(&self.pkcs8).is_ok_and(is_sealed);
        if !looks_sealed {
            self.pkcs8 = k.seal(&self.pkcs8, "signing-key", &self.kid).into_bytes();
        }
    }

    fn open(&mut self, k: Option<&Keyring>) -> Result<(), StoreError> {
        let Some(text) = std::str::from_utf8(&self.pkcs8)
            .ok()
            .filter(|t| is_sealed(t))
        else {
            return Ok(());
        };
        let k = k.ok_or_else(|| corrupt(crate::crypto::at_rest::SealError::NoKey))?;
        self.pkcs8 = k.open(text, "signing-key", &self.kid).map_err(corrupt)?;
        Ok(())
    }
}

impl Secrets for crate::records::directory::User {}
impl Secrets for crate::records::directory::TrustedOrigin {}
impl Secrets for crate::records::directory::App {}
impl Secrets for crate::records::directory::ApiToken {}
impl Secrets for crate::records::authn::Session {}
impl Secrets for crate::records::oauth::RefreshRecord {}

/// The meta entry naming the key that sealed the store's secrets.
const SEALED_WITH: &str = "secrets_sealed_with";

/// Why the store's secrets cannot be used with the keys given.
#[derive(Debug, thiserror::Error)]
pub enum SealingError {
    #[error(
        "the secrets in this store are encrypted (key {0}) and no master key is set: set \
         `master_key` (PORTCULLIS_MASTER_KEY) or `master_key_file` (PORTCULLIS_MASTER_KEY_FILE)"
    )]
    KeyMissing(String),
    #[error(
        "the secrets in this store are encrypted with key {0}, which is neither `master_key` \
         nor one of `previous_master_keys`"
    )]
    WrongKey(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Checks the store's secrets against the keys given, at start: refuses keys that cannot open
/// them, and seals anew under the current key whatever is plain or sealed under an earlier
/// one (a first key, or a rotation). Returns how many records were sealed anew.
pub fn prepare(store: &dyn super::Store, sealer: &Sealer) -> Result<usize, SealingError> {
    let marker = store.meta(SEALED_WITH)?;
    let Some(keyring) = sealer else {
        if let Some(id) = marker {
            return Err(SealingError::KeyMissing(id));
        }
        tracing::warn!(
            "no master_key is set: TOTP seeds, client secrets (of clients and IdPs) and signing keys are stored unencrypted"
        );
        return Ok(0);
    };
    match &marker {
        Some(id) if id == keyring.current_id() => return Ok(0),
        Some(id) if !keyring.knows(id) => return Err(SealingError::WrongKey(id.clone())),
        Some(_) => {}
        // Named before the first record is sealed: a start that stops halfway is not taken
        // for an unencrypted store afterwards.
        None => store.set_meta(SEALED_WITH, keyring.current_id())?,
    }
    let mut resealed = 0;
    for client in store.clients()? {
        store.put_client(&client)?;
        resealed += 1;
    }
    for idp in store.idps()? {
        store.put_idp(&idp)?;
        resealed += 1;
    }
    let servers = std::iter::once(crate::records::oauth::ORG_SERVER.to_owned())
        .chain(store.auth_servers()?.into_iter().map(|s| s.id));
    for server in servers {
        for key in store.signing_keys(&server)? {
            store.put_signing_key(&server, &key)?;
            resealed += 1;
        }
    }
    let all = super::UserFilter::all();
    let mut after: Option<String> = None;
    loop {
        let page = store.users_page(after.as_deref(), 500, &all)?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for user in &page {
            for factor in store.factors(&user.id)? {
                // Written back as it is stored now (compare-and-swap), so a code used
                // meanwhile on another node is not forgotten.
                if matches!(factor.secret, FactorSecret::Totp { .. }) {
                    store.modify_factor(&user.id, &factor.id, &mut |_| true)?;
                    resealed += 1;
                }
            }
        }
    }
    store.set_meta(SEALED_WITH, keyring.current_id())?;
    store.flush()?;
    tracing::info!(
        resealed,
        key = keyring.current_id(),
        "secrets sealed under the master key"
    );
    Ok(resealed)
}
