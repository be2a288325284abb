//! The storage seam. The cores talk to `dyn Store`; sled is the embedded default and a shared
//! database can implement the same trait to serve several nodes.

mod codec;
#[cfg(test)]
pub(crate) mod conformance;
pub mod durability;
pub mod journal;
pub mod migrate;
mod packed_set;
mod pg_store;
pub mod sealing;
mod sled_store;
pub mod user_index;

pub use durability::GroupCommit;
pub use pg_store::{PgSettings, PgStore};
pub use sled_store::{DEFAULT_CACHE_BYTES, SledStore};

use crate::clock::Timestamp;
use crate::crypto::Digest;
use crate::records::authn::Factor;
use crate::records::authn::RecoveryTokenRecord;
use crate::records::authn::Session;
use crate::records::authn::SessionTokenRecord;
use crate::records::authn::Transaction;
use crate::records::authz::AuthServer;
use crate::records::authz::Grant;
use crate::records::directory::App;
use crate::records::directory::Group;
use crate::records::directory::{ApiToken, RoleAssignment};
use crate::records::directory::{TrustedOrigin, User, UserStatus};
use crate::records::federation::IdentityProvider;
use crate::records::log::LogEvent;
use crate::records::oauth::Client;
use crate::records::oauth::KeyRecord;
use crate::records::oauth::{CodeRecord, PushedRequest, RefreshRecord};

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
    /// The backend cannot be reached or did not answer in time; the same call may work later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
}

/// Every repository the cores use. Methods are synchronous and quick except `flush`.
pub trait Store: Send + Sync + 'static {
    /// Inserts a new user; `Conflict` when the login (case-insensitive) is taken.
    fn insert_user(&self, user: &User) -> Result<(), StoreError>;
    /// Changes user `id` atomically: `change` edits the record as it is now and returns whether
    /// to write it. When another write got there first, `change` runs again on the newer record,
    /// so it must decide from the record alone. A changed login moves the login index in the
    /// same step (`Conflict` when the new one is taken). Returns the user as stored (`None`:
    /// no such user).
    fn modify_user(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut User) -> bool,
    ) -> Result<Option<User>, StoreError>;
    fn user(&self, id: &str) -> Result<Option<User>, StoreError>;
    /// By login key (see `directory::users::login_key`).
    fn user_by_login(&self, login_key: &str) -> Result<Option<User>, StoreError>;
    /// Up to `limit` users matching `filter`, in id order, after the id `after` (exclusive).
    fn users_page(
        &self,
        after: Option<&str>,
        limit: usize,
        filter: &UserFilter,
    ) -> Result<Vec<User>, StoreError>;
    /// Entries of the user attribute index (see [`user_index`]) for `attribute` whose key is
    /// in `range`, in `direction`, after `from` (exclusive; `None`: from the first), at most
    /// `limit`.
    fn user_index(
        &self,
        attribute: &str,
        range: &user_index::KeyRange,
        from: Option<&user_index::IndexEntry>,
        direction: user_index::Direction,
        limit: usize,
    ) -> Result<Vec<user_index::IndexEntry>, StoreError>;
    /// Those of `ids` whose `attribute` has index key `key`, in the order of `ids`.
    fn user_index_members(
        &self,
        attribute: &str,
        key: &str,
        ids: &[String],
    ) -> Result<Vec<String>, StoreError>;
    /// Ids of the users whose index holds every `(attribute, key)` of `all` (at least one), in
    /// id order after `after`, at most `limit`: an `and` of exact values, answered together.
    fn user_index_all(
        &self,
        all: &[(String, String)],
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
    /// The users of `ids` that exist, in the order of `ids`.
    fn users_by_ids(&self, ids: &[String]) -> Result<Vec<User>, StoreError>;
    /// Deletes a user, their login index entry, factors, roles and API tokens.
    fn delete_user(&self, user: &User) -> Result<(), StoreError>;

    fn insert_session_token(
        &self,
        digest: &Digest,
        record: &SessionTokenRecord,
    ) -> Result<(), StoreError>;
    /// Removes and returns the record atomically, so a token is redeemed at most once.
    fn take_session_token(&self, digest: &Digest)
    -> Result<Option<SessionTokenRecord>, StoreError>;

    /// Saves an authentication transaction under the digest of its state token, with revision
    /// `expected + 1` (1 when new), and returns that revision. `expected` is the revision the
    /// caller read (`None`: it must not exist yet); `Conflict` when another request moved the
    /// transaction on (or ended it) since.
    fn save_transaction(
        &self,
        digest: &Digest,
        tx: &Transaction,
        expected: Option<u64>,
    ) -> Result<u64, StoreError>;
    fn transaction(&self, digest: &Digest) -> Result<Option<Transaction>, StoreError>;
    /// Removes and returns the transaction atomically (completion and cancel), only while its
    /// revision is `expected` (`None`: whatever it is). A transaction ends once.
    fn take_transaction(
        &self,
        digest: &Digest,
        expected: Option<u64>,
    ) -> Result<Option<Transaction>, StoreError>;

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
    /// Changes a factor atomically (see `modify_user`): a passcode is spent once.
    fn modify_factor(
        &self,
        user_id: &str,
        factor_id: &str,
        change: &mut dyn FnMut(&mut Factor) -> bool,
    ) -> Result<Option<Factor>, StoreError>;
    fn factor(&self, user_id: &str, factor_id: &str) -> Result<Option<Factor>, StoreError>;
    /// Every factor of the user, oldest first.
    fn factors(&self, user_id: &str) -> Result<Vec<Factor>, StoreError>;
    fn delete_factor(&self, user_id: &str, factor_id: &str) -> Result<bool, StoreError>;

    /// Sessions, by the digest of their cookie secret, and indexed by their public id.
    fn insert_session(&self, digest: &Digest, session: &Session) -> Result<(), StoreError>;
    /// Changes a session atomically (see `modify_user`); a deleted session stays deleted.
    fn modify_session(
        &self,
        digest: &Digest,
        change: &mut dyn FnMut(&mut Session) -> bool,
    ) -> Result<Option<Session>, StoreError>;
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
    /// Changes an app atomically (see `modify_user`).
    fn modify_app(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut App) -> bool,
    ) -> Result<Option<App>, StoreError>;
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
    /// Changes a trusted origin atomically (see `modify_user`); `Conflict` when a changed
    /// origin is already listed under another id.
    fn modify_trusted_origin(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut TrustedOrigin) -> bool,
    ) -> Result<Option<TrustedOrigin>, StoreError>;

    /// Admin roles, kept per user; `Conflict` when the user already holds the role.
    fn insert_role(&self, assignment: &RoleAssignment) -> Result<(), StoreError>;
    /// Every role of the user.
    fn roles(&self, user_id: &str) -> Result<Vec<RoleAssignment>, StoreError>;
    /// Removes assignment `id` of the user; `false` when there was none.
    fn delete_role(&self, user_id: &str, id: &str) -> Result<bool, StoreError>;

    /// Named admin API tokens, by id, and found by the digest of their value.
    fn insert_api_token(&self, token: &ApiToken) -> Result<(), StoreError>;
    fn api_token(&self, id: &str) -> Result<Option<ApiToken>, StoreError>;
    fn api_token_by_digest(&self, digest: &Digest) -> Result<Option<ApiToken>, StoreError>;
    fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError>;
    /// Changes a token atomically (see `modify_user`); a revoked token stays revoked.
    fn modify_api_token(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut ApiToken) -> bool,
    ) -> Result<Option<ApiToken>, StoreError>;
    /// Revokes a token; `false` when there was none.
    fn delete_api_token(&self, id: &str) -> Result<bool, StoreError>;

    /// Upstream identity providers. `put_idp` creates or replaces one whole (the client
    /// secret sealed); `delete_idp` also forgets the accounts linked to it.
    fn put_idp(&self, idp: &IdentityProvider) -> Result<(), StoreError>;
    fn idp(&self, id: &str) -> Result<Option<IdentityProvider>, StoreError>;
    fn idps(&self) -> Result<Vec<IdentityProvider>, StoreError>;
    /// Changes an IdP atomically (see `modify_user`).
    fn modify_idp(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut IdentityProvider) -> bool,
    ) -> Result<Option<IdentityProvider>, StoreError>;
    fn delete_idp(&self, id: &str) -> Result<bool, StoreError>;
    /// Links the upstream's subject `external_id` at `idp_id` to `user_id`, atomically: only
    /// while the link is unset (`replacing: None`) or still points at `replacing` (a link to a
    /// deleted account being moved on). `false` when another request linked it first.
    fn link_idp_user(
        &self,
        idp_id: &str,
        external_id: &str,
        user_id: &str,
        replacing: Option<&str>,
    ) -> Result<bool, StoreError>;
    /// The account the upstream's subject is linked to.
    fn idp_user(&self, idp_id: &str, external_id: &str) -> Result<Option<String>, StoreError>;

    /// Appends System Log events that no other write carried. The append need not be durable
    /// when it returns (the next flush or commit makes it so): an answer that carries only
    /// log events does not wait for the disk.
    fn append_log(&self, events: &[LogEvent]) -> Result<(), StoreError>;
    /// Up to `limit` events published in `[since, until)`, in time order (`descending`:
    /// newest first), after the event whose cursor (`LogEvent::cursor`) is `after`.
    fn log_events(
        &self,
        since: Timestamp,
        until: Timestamp,
        after: Option<&str>,
        descending: bool,
        limit: usize,
    ) -> Result<Vec<LogEvent>, StoreError>;
    /// Deletes the events published before `before` (retention); returns how many.
    fn sweep_log(&self, before: Timestamp) -> Result<usize, StoreError>;

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

    /// Pushed authorization requests, by the digest of their `request_uri`. `take` removes
    /// and returns one atomically, so a `request_uri` is used once; `pushed_request` only
    /// reads it (the consent screen checks what it continues).
    fn put_pushed_request(
        &self,
        digest: &Digest,
        request: &PushedRequest,
    ) -> Result<(), StoreError>;
    fn pushed_request(&self, digest: &Digest) -> Result<Option<PushedRequest>, StoreError>;
    fn take_pushed_request(&self, digest: &Digest) -> Result<Option<PushedRequest>, StoreError>;

    /// Refresh tokens, by digest.
    fn put_refresh(&self, digest: &Digest, record: &RefreshRecord) -> Result<(), StoreError>;
    fn refresh(&self, digest: &Digest) -> Result<Option<RefreshRecord>, StoreError>;
    /// Changes a refresh token atomically (see `modify_user`); a revoked one stays revoked.
    fn modify_refresh(
        &self,
        digest: &Digest,
        change: &mut dyn FnMut(&mut RefreshRecord) -> bool,
    ) -> Result<Option<RefreshRecord>, StoreError>;
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
    /// Records `key` as spent until `until`, unless it already was: `true` for the one caller
    /// that spent it (a client assertion's `jti`), `false` for every other.
    fn spend_once(&self, key: &str, until: Timestamp) -> Result<bool, StoreError>;

    /// Small named values of the store itself (e.g. whether the demo org was seeded).
    fn meta(&self, key: &str) -> Result<Option<String>, StoreError>;
    fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError>;
    /// Changes meta value `key` atomically (see `modify_user`): `change` gets the value as it
    /// is (`None`: unset) and returns the new one, or `None` to leave it. Returns the value as
    /// stored.
    fn modify_meta(
        &self,
        key: &str,
        change: &mut dyn FnMut(Option<&str>) -> Option<String>,
    ) -> Result<Option<String>, StoreError>;

    /// Deletes records whose lifetime ended before `now`; returns how many.
    fn sweep_expired(&self, now: Timestamp) -> Result<usize, StoreError>;
    /// Makes every write so far durable. Blocks on disk I/O (on sled, shared with every other
    /// write waiting at that moment).
    fn flush(&self) -> Result<(), StoreError>;
    /// How this store makes acknowledged writes durable: `Some` when writes return before they
    /// are on disk and a response must wait for the group commit; `None` when every write is
    /// durable when it returns.
    fn group_commit(&self) -> Option<&GroupCommit>;
    /// Whether the store answers now (readiness).
    fn check(&self) -> Result<(), StoreError>;

    /// Tells every node sharing this store, this one included, that what `topic` names changed
    /// (a key ring, the brand), so that each drops its copy at once.
    fn announce(&self, topic: &str) -> Result<(), StoreError>;
    /// Calls `listener` with every topic announced, by any node, from a thread of the store's.
    /// After a lost connection it is called with [`ANY_TOPIC`]: anything may have changed.
    fn listen(&self, listener: Listener) -> Result<(), StoreError>;
    /// Takes or renews the lease `name` for `holder` until `until`, unless another holder's
    /// lease is still running at `now`: a cluster-wide job (the sweeper, key rotation) runs on
    /// the one node holding it. Always granted where one node owns the store.
    fn lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError>;
    /// Whether several nodes may share this store (a database), or one node owns it (sled).
    fn is_shared(&self) -> bool;
    /// Counts one hit for `key` in the window starting at `window` (ms) and returns the count
    /// so far, across every node; `None` where one node owns the store and counts in memory.
    fn count_hit(&self, key: &str, window: i64) -> Result<Option<u32>, StoreError>;

    /// Hands every stored record to `sink`, in an order `migrate::import` can write them in
    /// (users before what belongs to them), for moving the org to another store.
    fn export(
        &self,
        sink: &mut dyn FnMut(migrate::Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
}

/// The time and uuid of a log cursor `{published}_{uuid}`.
pub fn log_position(cursor: &str) -> Option<(i64, &str)> {
    let (ms, uuid) = cursor.split_once('_')?;
    Some((ms.parse().ok()?, uuid))
}

/// Receives announced topics (see [`Store::listen`]).
pub type Listener = Box<dyn Fn(&str) + Send + Sync>;

/// The topic a listener hears when it may have missed announcements.
pub const ANY_TOPIC: &str = "*";

/// Which users a listing wants, as plain data so that each backend answers it its own way:
/// sled reads the users in id order, PostgreSQL uses its indexes on the same keys.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// A prefix of the login, email, first or last name, compared in lower case.
    pub prefix: Option<String>,
    pub status: Option<UserStatus>,
}

impl UserFilter {
    pub fn all() -> Self {
        Self::default()
    }

    pub fn matches(&self, user: &User) -> bool {
        let status_ok = self.status.is_none_or(|s| user.status == s);
        let prefix_ok = self.prefix.as_deref().is_none_or(|p| {
            let p = p.to_lowercase();
            search_keys(user).iter().any(|k| k.starts_with(&p))
        });
        status_ok && prefix_ok
    }
}

/// The lower-cased login, email, first and last name: what a prefix search looks in.
pub fn search_keys(user: &User) -> [String; 4] {
    [
        crate::records::directory::login_key(&user.profile.login),
        user.profile.email.to_lowercase(),
        user.profile.first_name.to_lowercase(),
        user.profile.last_name.to_lowercase(),
    ]
}

/// Okta's name for a status (`ACTIVE`, `LOCKED_OUT`, …), as stored and filtered on.
pub fn status_name(status: UserStatus) -> String {
    serde_json::to_value(status)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Changes a record atomically through one of the store's `modify_*` primitives, with a
/// closure that may refuse: `change` returns `Err` to leave the record as it is (the error is
/// returned), or `Ok(t)` to write it. Returns the stored record and `t`; `None` when there
/// was no record.
pub fn update<R, T, E: From<StoreError>>(
    modify: impl FnOnce(&mut dyn FnMut(&mut R) -> bool) -> Result<Option<R>, StoreError>,
    mut change: impl FnMut(&mut R) -> Result<T, E>,
) -> Result<Option<(R, T)>, E> {
    let mut decided = None;
    let stored = modify(&mut |r| {
        let d = change(r);
        let write = d.is_ok();
        decided = Some(d);
        write
    })?;
    match (stored, decided) {
        (Some(r), Some(Ok(t))) => Ok(Some((r, t))),
        (Some(_), Some(Err(e))) => Err(e),
        _ => Ok(None),
    }
}

/// A sled store in a fresh temporary directory, for unit tests (the directory goes when the
/// returned guard is dropped).
#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(crate) fn temp_store() -> (tempfile::TempDir, SledStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = SledStore::open(dir.path()).unwrap();
    (dir, store)
}
