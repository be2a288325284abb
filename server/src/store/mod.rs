//! The storage seam. The cores talk to `dyn Store`; sled is the embedded default and a shared
//! database can implement the same trait to serve several nodes.

mod codec;
mod sled_store;

pub use sled_store::SledStore;

use crate::authn::Session;
use crate::authn::factors::Factor;
use crate::authn::recovery::RecoveryTokenRecord;
use crate::authn::session::SessionTokenRecord;
use crate::authn::transaction::Transaction;
use crate::authz::AuthServer;
use crate::authz::consent::Grant;
use crate::clock::Timestamp;
use crate::crypto::Digest;
use crate::directory::apps::App;
use crate::directory::groups::Group;
use crate::directory::{TrustedOrigin, User};
use crate::oauth::clients::Client;
use crate::oauth::keys::KeyRecord;
use crate::oauth::tokens::{CodeRecord, RefreshRecord};

/// What redeeming an authorization code found.
#[derive(Debug)]
pub enum CodeUse {
    /// First use: the code is now marked used.
    Fresh(CodeRecord),
    /// Used before: a replay.
    Replayed(CodeRecord),
    Missing,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique key (a login, an origin) is already taken.
    #[error("conflict on a unique key")]
    Conflict,
    #[error("a stored record could not be read: {0}")]
    Corrupt(String),
    #[error("storage backend: {0}")]
    Backend(String),
}

/// Every repository the cores use. Methods are synchronous and quick except `flush`.
pub trait Store: Send + Sync + 'static {
    /// Inserts a new user; `Conflict` when the login (case-insensitive) is taken.
    fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    /// Replaces an existing user record (the login must not change here).
    fn update_user(&self, user: &User) -> Result<(), StoreError>;
    fn user(&self, id: &str) -> Result<Option<User>, StoreError>;
    /// By login key (see `directory::users::login_key`).
    fn user_by_login(&self, login_key: &str) -> Result<Option<User>, StoreError>;
    /// Replaces a user whose login changed, moving the login index atomically; `Conflict` when
    /// the new login is taken.
    fn update_user_login(&self, user: &User, old_login_key: &str) -> Result<(), StoreError>;
    /// Up to `limit` users matching `keep`, in id order, after the id `after` (exclusive).
    fn users_page(
        &self,
        after: Option<&str>,
        limit: usize,
        keep: &dyn Fn(&User) -> bool,
    ) -> Result<Vec<User>, StoreError>;
    /// Deletes a user, their login index entry and their factors.
    fn delete_user(&self, user: &User) -> Result<(), StoreError>;

    fn insert_session_token(
        &self,
        digest: &Digest,
        record: &SessionTokenRecord,
    ) -> Result<(), StoreError>;
    /// Removes and returns the record atomically, so a token is redeemed at most once.
    fn take_session_token(&self, digest: &Digest)
    -> Result<Option<SessionTokenRecord>, StoreError>;

    /// Authentication transactions, by the digest of their state token.
    fn put_transaction(&self, digest: &Digest, tx: &Transaction) -> Result<(), StoreError>;
    fn transaction(&self, digest: &Digest) -> Result<Option<Transaction>, StoreError>;
    /// Removes and returns the transaction atomically (completion and cancel).
    fn take_transaction(&self, digest: &Digest) -> Result<Option<Transaction>, StoreError>;

    /// One-time recovery tokens, by digest.
    fn put_recovery_token(
        &self,
        digest: &Digest,
        record: &RecoveryTokenRecord,
    ) -> Result<(), StoreError>;
    /// Removes and returns the record atomically, so a recovery link works once.
    fn take_recovery_token(
        &self,
        digest: &Digest,
    ) -> Result<Option<RecoveryTokenRecord>, StoreError>;

    /// MFA factors, kept per user.
    fn put_factor(&self, factor: &Factor) -> Result<(), StoreError>;
    fn factor(&self, user_id: &str, factor_id: &str) -> Result<Option<Factor>, StoreError>;
    /// Every factor of the user, oldest first.
    fn factors(&self, user_id: &str) -> Result<Vec<Factor>, StoreError>;
    fn delete_factor(&self, user_id: &str, factor_id: &str) -> Result<bool, StoreError>;

    /// Sessions, by the digest of their cookie secret, and indexed by their public id.
    fn insert_session(&self, digest: &Digest, session: &Session) -> Result<(), StoreError>;
    fn update_session(&self, digest: &Digest, session: &Session) -> Result<(), StoreError>;
    fn session(&self, digest: &Digest) -> Result<Option<Session>, StoreError>;
    fn session_by_id(&self, id: &str) -> Result<Option<(Digest, Session)>, StoreError>;
    fn delete_session(&self, digest: &Digest) -> Result<(), StoreError>;

    /// Inserts a group; `Conflict` when the name (case-insensitive) is taken.
    fn insert_group(&self, group: &Group) -> Result<(), StoreError>;
    /// Replaces a group, moving its name index when the name changed.
    fn update_group(&self, group: &Group, old_name_key: &str) -> Result<(), StoreError>;
    fn group(&self, id: &str) -> Result<Option<Group>, StoreError>;
    fn groups(&self) -> Result<Vec<Group>, StoreError>;
    /// Deletes a group and its memberships; `false` when there was none.
    fn delete_group(&self, id: &str) -> Result<bool, StoreError>;
    fn set_membership(&self, group_id: &str, user_id: &str, member: bool)
    -> Result<(), StoreError>;
    fn members_of(&self, group_id: &str) -> Result<Vec<String>, StoreError>;
    fn groups_of(&self, user_id: &str) -> Result<Vec<String>, StoreError>;

    fn put_app(&self, app: &App) -> Result<(), StoreError>;
    fn app(&self, id: &str) -> Result<Option<App>, StoreError>;
    fn apps(&self) -> Result<Vec<App>, StoreError>;
    /// Deletes an app and its assignments; `false` when there was none.
    fn delete_app(&self, id: &str) -> Result<bool, StoreError>;
    fn assign_app_user(
        &self,
        app_id: &str,
        user_id: &str,
        assigned: bool,
    ) -> Result<(), StoreError>;
    fn app_user_assigned(&self, app_id: &str, user_id: &str) -> Result<bool, StoreError>;
    fn app_users(&self, app_id: &str) -> Result<Vec<String>, StoreError>;
    fn assign_app_group(
        &self,
        app_id: &str,
        group_id: &str,
        assigned: bool,
    ) -> Result<(), StoreError>;
    fn app_groups(&self, app_id: &str) -> Result<Vec<String>, StoreError>;

    /// Inserts a trusted origin; `Conflict` when the origin is already listed.
    fn insert_trusted_origin(&self, origin: &TrustedOrigin) -> Result<(), StoreError>;
    fn trusted_origin(&self, id: &str) -> Result<Option<TrustedOrigin>, StoreError>;
    fn trusted_origin_by_origin(&self, origin: &str) -> Result<Option<TrustedOrigin>, StoreError>;
    fn trusted_origins(&self) -> Result<Vec<TrustedOrigin>, StoreError>;
    fn delete_trusted_origin(&self, id: &str) -> Result<bool, StoreError>;

    /// Signing keys of authorization server `server`.
    fn signing_keys(&self, server: &str) -> Result<Vec<KeyRecord>, StoreError>;
    fn put_signing_key(&self, server: &str, key: &KeyRecord) -> Result<(), StoreError>;

    /// OAuth clients, by client id.
    fn put_client(&self, client: &Client) -> Result<(), StoreError>;
    fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError>;
    fn clients(&self) -> Result<Vec<Client>, StoreError>;
    fn delete_client(&self, client_id: &str) -> Result<bool, StoreError>;

    /// Authorization codes, by digest.
    fn put_code(&self, digest: &Digest, code: &CodeRecord) -> Result<(), StoreError>;
    /// Marks the code used, atomically, and says whether it already was.
    fn use_code(&self, digest: &Digest) -> Result<CodeUse, StoreError>;

    /// Refresh tokens, by digest.
    fn put_refresh(&self, digest: &Digest, record: &RefreshRecord) -> Result<(), StoreError>;
    fn refresh(&self, digest: &Digest) -> Result<Option<RefreshRecord>, StoreError>;
    fn delete_refresh(&self, digest: &Digest) -> Result<(), StoreError>;
    /// Every refresh token `keep` selects (admin listing; a scan).
    fn refresh_tokens_where(
        &self,
        keep: &dyn Fn(&RefreshRecord) -> bool,
    ) -> Result<Vec<(Digest, RefreshRecord)>, StoreError>;

    /// Custom authorization servers, with their scopes, claims and policies.
    fn auth_servers(&self) -> Result<Vec<AuthServer>, StoreError>;
    fn auth_server(&self, id: &str) -> Result<Option<AuthServer>, StoreError>;
    /// Saves `server` with its revision bumped. `expected` is the revision the caller read
    /// (`None`: the server must not exist yet); `Conflict` when someone else wrote since.
    fn save_auth_server(
        &self,
        server: &AuthServer,
        expected: Option<u64>,
    ) -> Result<(), StoreError>;
    /// Deletes a server and its signing keys; `false` when there was none.
    fn delete_auth_server(&self, id: &str) -> Result<bool, StoreError>;

    /// Consent grants, kept per user.
    fn put_grant(&self, grant: &Grant) -> Result<(), StoreError>;
    fn grants(&self, user_id: &str) -> Result<Vec<Grant>, StoreError>;
    fn delete_grant(&self, user_id: &str, grant_id: &str) -> Result<bool, StoreError>;

    /// Revoked access-token ids (`jti`) and refresh-token families, kept until `until`.
    fn revoke(&self, key: &str, until: Timestamp) -> Result<(), StoreError>;
    fn is_revoked(&self, key: &str) -> Result<bool, StoreError>;

    /// Small named values of the store itself (e.g. whether the demo org was seeded).
    fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Deletes records whose lifetime ended before `now`; returns how many.
    fn sweep_expired(&self, now: Timestamp) -> Result<usize, StoreError>;
    /// Makes every write so far durable. Blocks on disk I/O.
    fn flush(&self) -> Result<(), StoreError>;
}
