//! The embedded store: one sled database, one tree per kind of record.

use super::CodeUse;
use super::codec::{decode, encode};
use super::migrate::Record;
use super::packed_set::{self, Hints, Order, PackedSet};
use super::sealing::{Sealer, Secrets, opened, sealed};
use super::user_index::{self, Direction, IndexEntry, KeyRange};
use super::{GroupCommit, Store, StoreError, UserFilter};
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
use crate::records::directory::login_key;
use crate::records::directory::{ApiToken, RoleAssignment};
use crate::records::directory::{Group, name_key};
use crate::records::directory::{TrustedOrigin, User};
use crate::records::federation::IdentityProvider;
use crate::records::log::LogEvent;
use crate::records::oauth::Client;
use crate::records::oauth::KeyRecord;
use crate::records::oauth::{CodeRecord, PushedRequest, RefreshRecord};
use serde::Serialize;
use serde::de::DeserializeOwned;
use sled::transaction::{ConflictableTransactionError, TransactionError, TransactionalTree};
use sled::{Transactional, Tree};
use std::cell::RefCell;
use std::path::Path;

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        StoreError::Backend(e.to_string())
    }
}

fn tx_error(e: TransactionError<StoreError>) -> StoreError {
    match e {
        TransactionError::Abort(e) => e,
        TransactionError::Storage(e) => e.into(),
    }
}

pub struct SledStore {
    /// Seals the secrets in records on their way in (see `store::sealing`).
    sealer: Sealer,
    /// One node owns an embedded store, so announcements go to this process's listeners.
    listeners: std::sync::RwLock<Vec<super::Listener>>,
    /// Makes acknowledged writes durable, one flush for every write waiting at that moment.
    commit: GroupCommit,
    users: Tree,
    users_by_login: Tree,
    /// `{attribute}\0{key}\0{user_id}`: the user attribute index (see `store::user_index`),
    /// packed into blocks (see `store::packed_set`).
    user_index: PackedSet,
    session_tokens: Tree,
    sessions: Tree,
    sessions_by_id: Tree,
    transactions: Tree,
    recovery_tokens: Tree,
    factors: Tree,
    groups: Tree,
    groups_by_name: Tree,
    /// `{group_id}/{user_id}` and `{user_id}/{group_id}`: memberships both ways.
    group_members: Tree,
    user_groups: Tree,
    apps: Tree,
    /// `{app_id}/{user_id}` and `{app_id}/{group_id}`.
    app_users: Tree,
    app_groups: Tree,
    signing_keys: Tree,
    clients: Tree,
    auth_codes: Tree,
    pushed_requests: Tree,
    refresh_tokens: Tree,
    revoked: Tree,
    trusted_origins: Tree,
    trusted_origins_by_origin: Tree,
    meta: Tree,
    /// `{user_id}/{ROLE}`: a user holds each role once.
    roles: Tree,
    api_tokens: Tree,
    idps: Tree,
    /// `{idp_id}/{external_id}` → the linked user's id.
    idp_links: Tree,
    /// Digest of a token's value → its id.
    api_tokens_by_digest: Tree,
    /// `{published:016}_{uuid}`: the System Log in time order.
    log: Tree,
    auth_servers: Tree,
    /// `{user_id}/{grant_id}`.
    grants: Tree,
}

/// sled's page cache when no setting says otherwise (sled's own default is 1 GiB).
pub const DEFAULT_CACHE_BYTES: u64 = 16 * 1024 * 1024;

impl SledStore {
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        Self::open_with_cache(dir, DEFAULT_CACHE_BYTES)
    }

    /// Seals secrets with `sealer` from now on (and opens what it sealed).
    pub fn sealing_with(self, sealer: Sealer) -> Self {
        Self { sealer, ..self }
    }

    /// Opens the store with a page cache of at most `cache_bytes`, which bounds its memory.
    pub fn open_with_cache(dir: &Path, cache_bytes: u64) -> Result<Self, StoreError> {
        let db = sled::Config::new()
            .path(dir)
            .cache_capacity(cache_bytes)
            .open()?;
        let flushing = db.clone();
        let commit =
            GroupCommit::start(move || flushing.flush().map(|_| ()).map_err(|e| e.to_string()))?;
        let store = Self {
            sealer: None,
            listeners: std::sync::RwLock::default(),
            commit,
            users: db.open_tree("users")?,
            users_by_login: db.open_tree("users_by_login")?,
            user_index: PackedSet::new(db.open_tree("user_index")?),
            session_tokens: db.open_tree("session_tokens")?,
            sessions: db.open_tree("sessions")?,
            sessions_by_id: db.open_tree("sessions_by_id")?,
            transactions: db.open_tree("authn_transactions")?,
            recovery_tokens: db.open_tree("recovery_tokens")?,
            factors: db.open_tree("factors")?,
            groups: db.open_tree("groups")?,
            groups_by_name: db.open_tree("groups_by_name")?,
            group_members: db.open_tree("group_members")?,
            user_groups: db.open_tree("user_groups")?,
            apps: db.open_tree("apps")?,
            app_users: db.open_tree("app_users")?,
            app_groups: db.open_tree("app_groups")?,
            signing_keys: db.open_tree("signing_keys")?,
            clients: db.open_tree("clients")?,
            auth_codes: db.open_tree("auth_codes")?,
            pushed_requests: db.open_tree("pushed_requests")?,
            refresh_tokens: db.open_tree("refresh_tokens")?,
            revoked: db.open_tree("revoked")?,
            trusted_origins: db.open_tree("trusted_origins")?,
            trusted_origins_by_origin: db.open_tree("trusted_origins_by_origin")?,
            meta: db.open_tree("meta")?,
            roles: db.open_tree("admin_roles")?,
            api_tokens: db.open_tree("api_tokens")?,
            idps: db.open_tree("idps")?,
            idp_links: db.open_tree("idp_links")?,
            api_tokens_by_digest: db.open_tree("api_tokens_by_digest")?,
            log: db.open_tree("system_log")?,
            auth_servers: db.open_tree("auth_servers")?,
            grants: db.open_tree("consent_grants")?,
        };
        store.build_user_index()?;
        Ok(store)
    }

    /// Builds the user index from the users when it was built by other rules (or not at all:
    /// a store from before the index), so that searches see every user. Attributes are taken a few at a time, in order, so that what is sorted in
    /// memory at once stays near [`REBUILD_BATCH`] entries however many users there are.
    fn build_user_index(&self) -> Result<(), StoreError> {
        self.build_user_index_in(REBUILD_BATCH)
    }

    fn build_user_index_in(&self, batch_entries: usize) -> Result<(), StoreError> {
        let version = user_index::VERSION.as_bytes();
        if self.meta.get(user_index::VERSION_META)?.as_deref() == Some(version) {
            return Ok(());
        }
        let started = std::time::Instant::now();
        tracing::info!("building the user index");
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        let mut users = 0usize;
        self.each_user(&mut |user| {
            users += 1;
            for (attribute, _) in user_index::entries(user) {
                *counts.entry(attribute).or_default() += 1;
            }
        })?;
        let mut builder = self.user_index.rebuild()?;
        let mut attributes = counts.into_iter().peekable();
        while attributes.peek().is_some() {
            let mut batch = std::collections::HashSet::new();
            let mut size = 0;
            while let Some((attribute, count)) = attributes.peek() {
                if size > 0 && size + count > batch_entries {
                    break;
                }
                size += count;
                batch.insert(attribute.clone());
                attributes.next();
            }
            let mut members = Vec::with_capacity(size);
            self.each_user(&mut |user| {
                for (attribute, key) in user_index::entries(user) {
                    if batch.contains(&attribute) {
                        members.push(index_entry_key(&attribute, &key, &user.id));
                    }
                }
            })?;
            members.sort_unstable();
            for member in members {
                builder.push(member)?;
            }
        }
        let blocks = builder.finish()?;
        self.meta.insert(user_index::VERSION_META, version)?;
        self.flush()?;
        tracing::info!(
            seconds = started.elapsed().as_secs(),
            users,
            blocks,
            "built the user index"
        );
        Ok(())
    }

    fn each_user(&self, visit: &mut dyn FnMut(&User)) -> Result<(), StoreError> {
        for item in self.users.iter() {
            let (_, v) = item?;
            visit(&decode(&v)?);
        }
        Ok(())
    }

    /// Runs `write`, a transaction that changes user index entries, until it commits: each run
    /// that finds a block moved (another write split it) runs again with the blocks found anew.
    /// `members` are the entries the write is expected to change, located before the first run.
    fn reindexing<T>(
        &self,
        members: &[Vec<u8>],
        write: impl Fn(&Hints) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let hints = Hints::default();
        hints.locate(&self.user_index, members.iter().map(Vec::as_slice))?;
        for _ in 0..1000 {
            match write(&hints) {
                Err(_) if hints.locate(&self.user_index, [])? => continue,
                done => return done,
            }
        }
        Err(StoreError::Backend(
            "the user index kept changing under a write".into(),
        ))
    }

    /// Counts a completed write for the group commit.
    fn wrote(&self) {
        self.commit.wrote();
    }

    /// `result`, counting a write when it succeeded.
    fn wrote_if<T>(&self, result: Result<T, StoreError>) -> Result<T, StoreError> {
        if result.is_ok() {
            self.wrote();
        }
        result
    }
}

/// Changes the record under `key` with compare-and-swap: read, change, write only if nobody
/// wrote in between, else read again. `None` when there is no record.
fn modify<T: Serialize + DeserializeOwned + Secrets>(
    tree: &Tree,
    key: &[u8],
    change: &mut dyn FnMut(&mut T) -> bool,
    sealer: &Sealer,
) -> Result<Option<T>, StoreError> {
    loop {
        let Some(current) = tree.get(key)? else {
            return Ok(None);
        };
        let mut record: T = opened(decode(&current)?, sealer)?;
        if !change(&mut record) {
            return Ok(Some(opened(decode(&current)?, sealer)?));
        }
        let next = encode(&sealed(&record, sealer))?;
        if tree
            .compare_and_swap(key, Some(&current), Some(next))?
            .is_ok()
        {
            return Ok(Some(record));
        }
    }
}

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

/// Makes an exported record of a digest key and its stored value.
type MakeRecord = fn(Digest, &[u8]) -> Result<Record, StoreError>;

/// Hands `sink` one record for each entry of a tree keyed by digests.
fn export_digests(
    tree: &Tree,
    sink: &mut dyn FnMut(Record) -> Result<(), StoreError>,
    make: MakeRecord,
) -> Result<(), StoreError> {
    for item in tree.iter() {
        let (k, v) = item?;
        let digest =
            Digest::from_slice(&k).ok_or_else(|| StoreError::Corrupt("a digest key".into()))?;
        sink(make(digest, &v)?)?;
    }
    Ok(())
}

/// The two ids of a `{a}/{b}` key.
fn pair(key: &[u8]) -> Result<(String, String), StoreError> {
    let key = String::from_utf8_lossy(key);
    key.split_once('/')
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .ok_or_else(|| StoreError::Corrupt(format!("a two-part key without '/': {key}")))
}

/// Factors are keyed `{user_id}/{factor_id}`, so one user's are a prefix scan.
fn factor_key(user_id: &str, factor_id: &str) -> String {
    format!("{user_id}/{factor_id}")
}

fn get<T: DeserializeOwned>(tree: &Tree, key: impl AsRef<[u8]>) -> Result<Option<T>, StoreError> {
    tree.get(key)?.map(|v| decode(&v)).transpose()
}

/// Inserts `value` under `key` in `records` and `key` under `unique` in `index`, atomically,
/// unless `unique` is already indexed.
fn insert_indexed(
    records: &Tree,
    index: &Tree,
    key: &str,
    unique: &str,
    value: Vec<u8>,
) -> Result<(), StoreError> {
    (records, index)
        .transaction(|(records, index)| {
            if index.get(unique)?.is_some() {
                return Err(ConflictableTransactionError::Abort(StoreError::Conflict));
            }
            index.insert(unique, key.as_bytes())?;
            records.insert(key, value.clone())?;
            Ok(())
        })
        .map_err(tx_error)
}

/// Deletes every record of `tree` whose `expires_at(record)` is before `now`.
fn sweep<T: DeserializeOwned>(
    tree: &Tree,
    now: Timestamp,
    expires_at: impl Fn(&T) -> Timestamp,
) -> Result<usize, StoreError> {
    let mut removed = 0;
    for item in tree.iter() {
        let (key, value) = item?;
        let expired = match decode::<T>(&value) {
            Ok(record) => expires_at(&record) <= now,
            Err(e) => {
                tracing::warn!(tree = ?String::from_utf8_lossy(&tree.name()), error = %e, "removing unreadable record");
                true
            }
        };
        if expired {
            tree.remove(key)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Removes every `{a}/{b}` key whose `b` is `b` (assignments of a deleted user or group).
fn remove_with_suffix(tree: &Tree, b: &str) -> Result<(), StoreError> {
    let suffix = format!("/{b}");
    for key in tree.iter().keys() {
        let key = key?;
        if key.ends_with(suffix.as_bytes()) {
            tree.remove(key)?;
        }
    }
    Ok(())
}

/// Adds or removes a presence-only key.
fn toggle(tree: &Tree, key: &str, present: bool) -> Result<(), StoreError> {
    if present {
        tree.insert(key.as_bytes(), &[][..])?;
    } else {
        tree.remove(key.as_bytes())?;
    }
    Ok(())
}

/// The `b`s of keys `{a}/{b}` under prefix `a`.
fn second_parts(tree: &Tree, a: &str) -> Result<Vec<String>, StoreError> {
    let prefix = format!("{a}/");
    tree.scan_prefix(prefix.as_bytes())
        .keys()
        .map(|k| {
            let k = k?;
            Ok(String::from_utf8_lossy(&k[prefix.len()..]).into_owned())
        })
        .collect()
}

/// Removes index entries whose record is gone (after a sweep of `records`).
fn sweep_dangling(index: &Tree, records: &Tree) -> Result<usize, StoreError> {
    let mut removed = 0;
    for item in index.iter() {
        let (key, target) = item?;
        if !records.contains_key(&target)? {
            index.remove(key)?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// The index key of a token digest (hex, so that it is text like the other index keys).
fn digest_hex(digest: &Digest) -> String {
    crate::crypto::hex(digest.as_bytes())
}

/// The sled key of a log position: times zero-padded so that keys sort as time does.
fn log_key(published: i64, uuid: &str) -> Vec<u8> {
    format!("{published:016}_{uuid}").into_bytes()
}

/// Appends System Log events inside a transaction (see `store::journal`).
fn log_in(
    log: &TransactionalTree,
    events: &[LogEvent],
) -> Result<(), ConflictableTransactionError<StoreError>> {
    for e in events {
        log.insert(
            log_key(e.published.millis(), &e.uuid),
            encode(e).map_err(abort)?,
        )?;
    }
    Ok(())
}

/// The sled key of one user index entry.
fn index_entry_key(attribute: &str, key: &str, id: &str) -> Vec<u8> {
    format!("{attribute}\0{key}\0{id}").into_bytes()
}

/// What to rebuild the packed user index from at most at once, in entries.
const REBUILD_BATCH: usize = 2_000_000;

/// The index entries of `entries`, as stored.
fn members(id: &str, entries: &[(String, String)]) -> Vec<Vec<u8>> {
    entries
        .iter()
        .map(|(attribute, key)| index_entry_key(attribute, key, id))
        .collect()
}

/// Moves a user's index entries from `old` to `new`, inside the transaction writing the user.
fn reindex(
    index: &TransactionalTree,
    hints: &Hints,
    id: &str,
    old: &[(String, String)],
    new: &[(String, String)],
) -> Result<(), ConflictableTransactionError<StoreError>> {
    let changes: Vec<(Vec<u8>, bool)> = old
        .iter()
        .filter(|e| !new.contains(e))
        .map(|(attribute, key)| (index_entry_key(attribute, key, id), false))
        .chain(
            new.iter()
                .filter(|e| !old.contains(e))
                .map(|(attribute, key)| (index_entry_key(attribute, key, id), true)),
        )
        .collect();
    packed_set::apply(index, hints, &changes)
}

/// The first key after every key that starts with `prefix`, if any.
fn successor(mut prefix: Vec<u8>) -> Option<Vec<u8>> {
    while let Some(last) = prefix.pop() {
        if last < u8::MAX {
            prefix.push(last + 1);
            return Some(prefix);
        }
    }
    None
}

impl Store for SledStore {
    fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let value = encode(user)?;
        let login = login_key(&user.profile.login);
        let entries = user_index::entries(user);
        let events = super::journal::peek();
        let inserted = self.reindexing(&members(&user.id, &entries), |hints| {
            (
                &self.users,
                &self.users_by_login,
                self.user_index.tree(),
                &self.log,
            )
                .transaction(|(users, logins, index, log)| {
                    if logins.get(login.as_bytes())?.is_some() {
                        return Err(abort(StoreError::Conflict));
                    }
                    logins.insert(login.as_bytes(), user.id.as_bytes())?;
                    users.insert(user.id.as_bytes(), value.clone())?;
                    reindex(index, hints, &user.id, &[], &entries)?;
                    log_in(log, &events)?;
                    Ok(())
                })
                .map_err(tx_error)
        });
        if inserted.is_ok() {
            super::journal::committed();
        }
        self.wrote_if(inserted)
    }

    fn modify_user(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut User) -> bool,
    ) -> Result<Option<User>, StoreError> {
        // sled may run a transaction more than once; the closure is borrowed for each run.
        let change = RefCell::new(change);
        // The entries the user has now are the ones a change moves from.
        let expected = match get::<User>(&self.users, id)? {
            Some(user) => members(id, &user_index::entries(&user)),
            None => Vec::new(),
        };
        let stored = self.reindexing(&expected, |hints| {
            (
                &self.users,
                &self.users_by_login,
                self.user_index.tree(),
                &self.log,
            )
                .transaction(|(users, index, attributes, log)| {
                    let Some(bytes) = users.get(id.as_bytes())? else {
                        return Ok(None);
                    };
                    let mut user: User = decode(&bytes).map_err(abort)?;
                    let old_key = login_key(&user.profile.login);
                    let old_entries = user_index::entries(&user);
                    super::journal::begin_attempt();
                    if !(change.borrow_mut())(&mut user) {
                        return Ok(Some((decode(&bytes).map_err(abort)?, false)));
                    }
                    let new_key = login_key(&user.profile.login);
                    if new_key != old_key {
                        if index.get(new_key.as_bytes())?.is_some() {
                            return Err(abort(StoreError::Conflict));
                        }
                        index.remove(old_key.as_bytes())?;
                        index.insert(new_key.as_bytes(), id.as_bytes())?;
                    }
                    let new_entries = user_index::entries(&user);
                    reindex(attributes, hints, id, &old_entries, &new_entries)?;
                    users.insert(id.as_bytes(), encode(&user).map_err(abort)?)?;
                    log_in(log, &super::journal::peek())?;
                    Ok(Some((user, true)))
                })
                .map_err(tx_error)
        })?;
        if stored.as_ref().is_some_and(|(_, written)| *written) {
            super::journal::committed();
            self.wrote();
        }
        Ok(stored.map(|(user, _)| user))
    }

    fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        get(&self.users, id)
    }

    fn user_by_login(&self, login_key: &str) -> Result<Option<User>, StoreError> {
        match self.users_by_login.get(login_key)? {
            Some(id) => get(&self.users, id),
            None => Ok(None),
        }
    }

    fn users_page(
        &self,
        after: Option<&str>,
        limit: usize,
        filter: &UserFilter,
    ) -> Result<Vec<User>, StoreError> {
        let range = match after {
            Some(a) => self.users.range::<&[u8], _>((
                std::ops::Bound::Excluded(a.as_bytes()),
                std::ops::Bound::Unbounded,
            )),
            None => self.users.iter(),
        };
        let mut out = Vec::new();
        for item in range {
            let (_, v) = item?;
            let user: User = decode(&v)?;
            if filter.matches(&user) {
                out.push(user);
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn user_index(
        &self,
        attribute: &str,
        range: &KeyRange,
        from: Option<&IndexEntry>,
        direction: Direction,
        limit: usize,
    ) -> Result<Vec<IndexEntry>, StoreError> {
        use std::ops::Bound::{Excluded, Included, Unbounded};
        let base = format!("{attribute}\0");
        let at = |key: &str, tail: &str| format!("{base}{key}{tail}").into_bytes();
        // Entries are `{base}{key}\0{id}`: `\0` sorts before every id and `\x01` after.
        let (mut lo, mut hi) = match range {
            KeyRange::Exact(k) => (Included(at(k, "\0")), Excluded(at(k, "\x01"))),
            KeyRange::Prefix(p) => (
                Included(at(p, "")),
                successor(at(p, "")).map_or(Unbounded, Excluded),
            ),
            KeyRange::Between(l, h) => (
                match l {
                    Included(k) => Included(at(k, "\0")),
                    Excluded(k) => Included(at(k, "\x01")),
                    Unbounded => Included(base.clone().into_bytes()),
                },
                match h {
                    Included(k) => Excluded(at(k, "\x01")),
                    Excluded(k) => Excluded(at(k, "\0")),
                    Unbounded => Excluded(successor(base.clone().into_bytes()).unwrap_or_default()),
                },
            ),
        };
        if let Some(f) = from {
            let position = Excluded(index_entry_key(attribute, &f.key, &f.id));
            match direction {
                Direction::Ascending => lo = position,
                Direction::Descending => hi = position,
            }
        }
        let order = match direction {
            Direction::Ascending => Order::Ascending,
            Direction::Descending => Order::Descending,
        };
        let mut out = Vec::new();
        for item in self.user_index.range(lo, hi, order)? {
            let k = item?;
            // A cursor from elsewhere may start outside this attribute: nothing there is kept.
            let Some(rest) = k.strip_prefix(base.as_bytes()) else {
                break;
            };
            let rest = String::from_utf8_lossy(rest).into_owned();
            let Some((key, id)) = rest.rsplit_once('\0') else {
                continue;
            };
            if range.contains(key) {
                out.push(IndexEntry {
                    key: key.to_owned(),
                    id: id.to_owned(),
                });
                if out.len() == limit {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn user_index_members(
        &self,
        attribute: &str,
        key: &str,
        ids: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let mut members = Vec::new();
        for id in ids {
            if self
                .user_index
                .contains(&index_entry_key(attribute, key, id))?
            {
                members.push(id.clone());
            }
        }
        Ok(members)
    }

    fn user_index_all(
        &self,
        all: &[(String, String)],
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        // A leapfrog join: each term's entries are in id order; every term jumps to the
        // largest id any of them is at, until all stand on the same id. Sparse intersections
        // read few entries, dense ones stop at `limit`.
        use std::ops::Bound::{Included, Unbounded};
        if all.is_empty() {
            return Ok(Vec::new());
        }
        let prefixes: Vec<Vec<u8>> = all
            .iter()
            .map(|(a, k)| format!("{a}\0{k}\0").into_bytes())
            .collect();
        // The first id at or after `id` (exclusive when `past`) among term `t`'s entries.
        let seek = |t: usize, id: &str, past: bool| -> Result<Option<String>, StoreError> {
            let mut start = prefixes[t].clone();
            start.extend_from_slice(id.as_bytes());
            if past {
                start.push(0);
            }
            let first = self
                .user_index
                .range(Included(start), Unbounded, Order::Ascending)?
                .next();
            match first {
                Some(item) => {
                    let k = item?;
                    Ok(k.strip_prefix(prefixes[t].as_slice())
                        .map(|id| String::from_utf8_lossy(id).into_owned()))
                }
                None => Ok(None),
            }
        };
        let mut out = Vec::new();
        let Some(mut at) = seek(0, after.unwrap_or_default(), after.is_some())? else {
            return Ok(out);
        };
        loop {
            let mut agreed = true;
            for t in 0..all.len() {
                let Some(id) = seek(t, &at, false)? else {
                    return Ok(out);
                };
                if id != at {
                    at = id;
                    agreed = false;
                    break;
                }
            }
            if agreed {
                out.push(at.clone());
                if out.len() == limit {
                    return Ok(out);
                }
                let Some(next) = seek(0, &at, true)? else {
                    return Ok(out);
                };
                at = next;
            }
        }
    }

    fn users_by_ids(&self, ids: &[String]) -> Result<Vec<User>, StoreError> {
        ids.iter()
            .filter_map(|id| get(&self.users, id).transpose())
            .collect()
    }

    fn delete_user(&self, user: &User) -> Result<(), StoreError> {
        let events = super::journal::peek();
        let expected = match get::<User>(&self.users, &user.id)? {
            Some(stored) => members(&user.id, &user_index::entries(&stored)),
            None => Vec::new(),
        };
        self.reindexing(&expected, |hints| {
            (
                &self.users,
                &self.users_by_login,
                self.user_index.tree(),
                &self.log,
            )
                .transaction(|(users, index, attributes, log)| {
                    // The entries of the user as stored now, which may differ from `user`.
                    if let Some(bytes) = users.remove(user.id.as_bytes())? {
                        let stored: User = decode(&bytes).map_err(abort)?;
                        let entries = user_index::entries(&stored);
                        reindex(attributes, hints, &user.id, &entries, &[])?;
                    }
                    index.remove(login_key(&user.profile.login).as_bytes())?;
                    log_in(log, &events)?;
                    Ok(())
                })
                .map_err(tx_error)
        })?;
        super::journal::committed();
        for key in self.factors.scan_prefix(format!("{}/", user.id)).keys() {
            self.factors.remove(key?)?;
        }
        for key in self.grants.scan_prefix(format!("{}/", user.id)).keys() {
            self.grants.remove(key?)?;
        }
        for key in self.roles.scan_prefix(format!("{}/", user.id)).keys() {
            self.roles.remove(key?)?;
        }
        for token in self.api_tokens()? {
            if token.user_id == user.id {
                self.delete_api_token(&token.id)?;
            }
        }
        for group_id in self.groups_of(&user.id)? {
            self.set_membership(&group_id, &user.id, false)?;
        }
        self.wrote_if(remove_with_suffix(&self.app_users, &user.id))
    }

    fn insert_session_token(
        &self,
        digest: &Digest,
        record: &SessionTokenRecord,
    ) -> Result<(), StoreError> {
        self.session_tokens
            .insert(digest.as_bytes(), encode(record)?)?;
        self.wrote();
        Ok(())
    }

    fn take_session_token(
        &self,
        digest: &Digest,
    ) -> Result<Option<SessionTokenRecord>, StoreError> {
        let taken = self.session_tokens.remove(digest.as_bytes())?;
        self.wrote();
        taken.map(|v| decode(&v)).transpose()
    }

    fn save_transaction(
        &self,
        digest: &Digest,
        tx: &Transaction,
        expected: Option<u64>,
    ) -> Result<u64, StoreError> {
        let mut next = tx.clone();
        next.revision = expected.map_or(1, |r| r + 1);
        let value = encode(&next)?;
        let key = digest.as_bytes();
        let current = self.transactions.get(key)?;
        let revision = match &current {
            Some(bytes) => Some(decode::<Transaction>(bytes)?.revision),
            None => None,
        };
        if revision != expected {
            return Err(StoreError::Conflict);
        }
        // Any write in between changes the bytes, and the swap fails.
        match self
            .transactions
            .compare_and_swap(key, current.as_ref(), Some(value))?
        {
            Ok(()) => {
                self.wrote();
                Ok(next.revision)
            }
            Err(_) => Err(StoreError::Conflict),
        }
    }

    fn transaction(&self, digest: &Digest) -> Result<Option<Transaction>, StoreError> {
        get(&self.transactions, digest.as_bytes())
    }

    fn take_transaction(
        &self,
        digest: &Digest,
        expected: Option<u64>,
    ) -> Result<Option<Transaction>, StoreError> {
        let key = digest.as_bytes();
        let Some(current) = self.transactions.get(key)? else {
            return Ok(None);
        };
        let tx: Transaction = decode(&current)?;
        if expected.is_some_and(|r| r != tx.revision) {
            return Ok(None);
        }
        match self
            .transactions
            .compare_and_swap(key, Some(&current), None as Option<&[u8]>)?
        {
            Ok(()) => {
                self.wrote();
                Ok(Some(tx))
            }
            // Someone else moved it on or ended it first.
            Err(_) if expected.is_some() => Ok(None),
            Err(_) => self.take_transaction(digest, None),
        }
    }

    fn put_recovery_token(
        &self,
        digest: &Digest,
        record: &RecoveryTokenRecord,
    ) -> Result<(), StoreError> {
        self.recovery_tokens
            .insert(digest.as_bytes(), encode(record)?)?;
        self.wrote();
        Ok(())
    }

    fn take_recovery_token(
        &self,
        digest: &Digest,
    ) -> Result<Option<RecoveryTokenRecord>, StoreError> {
        let taken = self.recovery_tokens.remove(digest.as_bytes())?;
        self.wrote();
        taken.map(|v| decode(&v)).transpose()
    }

    fn put_factor(&self, factor: &Factor) -> Result<(), StoreError> {
        self.factors.insert(
            factor_key(&factor.user_id, &factor.id),
            encode(&sealed(factor, &self.sealer))?,
        )?;
        self.wrote();
        Ok(())
    }

    fn modify_factor(
        &self,
        user_id: &str,
        factor_id: &str,
        change: &mut dyn FnMut(&mut Factor) -> bool,
    ) -> Result<Option<Factor>, StoreError> {
        let key = factor_key(user_id, factor_id);
        self.wrote_if(modify(&self.factors, key.as_bytes(), change, &self.sealer))
    }

    fn factor(&self, user_id: &str, factor_id: &str) -> Result<Option<Factor>, StoreError> {
        get(&self.factors, factor_key(user_id, factor_id))?
            .map(|f| opened(f, &self.sealer))
            .transpose()
    }

    fn factors(&self, user_id: &str) -> Result<Vec<Factor>, StoreError> {
        let mut all = self
            .factors
            .scan_prefix(format!("{user_id}/"))
            .values()
            .map(|v| opened(decode::<Factor>(&v?)?, &self.sealer))
            .collect::<Result<Vec<_>, _>>()?;
        all.sort_by_key(|f| f.created);
        Ok(all)
    }

    fn delete_factor(&self, user_id: &str, factor_id: &str) -> Result<bool, StoreError> {
        let existed = self
            .factors
            .remove(factor_key(user_id, factor_id))?
            .is_some();
        self.wrote();
        Ok(existed)
    }

    fn insert_session(&self, digest: &Digest, session: &Session) -> Result<(), StoreError> {
        let value = encode(session)?;
        (&self.sessions, &self.sessions_by_id)
            .transaction(|(sessions, by_id)| {
                sessions.insert(&digest.as_bytes()[..], value.clone())?;
                by_id.insert(session.id.as_bytes(), &digest.as_bytes()[..])?;
                Ok(())
            })
            .map_err(tx_error)?;
        self.wrote();
        Ok(())
    }

    fn modify_session(
        &self,
        digest: &Digest,
        change: &mut dyn FnMut(&mut Session) -> bool,
    ) -> Result<Option<Session>, StoreError> {
        self.wrote_if(modify(
            &self.sessions,
            digest.as_bytes(),
            change,
            &self.sealer,
        ))
    }

    fn session_by_id(&self, id: &str) -> Result<Option<(Digest, Session)>, StoreError> {
        let Some(key) = self.sessions_by_id.get(id)? else {
            return Ok(None);
        };
        let digest = Digest::from_slice(&key)
            .ok_or_else(|| StoreError::Corrupt("session index entry".into()))?;
        Ok(get::<Session>(&self.sessions, key)?.map(|s| (digest, s)))
    }

    fn session(&self, digest: &Digest) -> Result<Option<Session>, StoreError> {
        get(&self.sessions, digest.as_bytes())
    }

    fn delete_session(&self, digest: &Digest) -> Result<(), StoreError> {
        if let Some(bytes) = self.sessions.remove(digest.as_bytes())? {
            let session: Session = decode(&bytes)?;
            self.sessions_by_id.remove(session.id.as_bytes())?;
        }
        self.wrote();
        Ok(())
    }

    fn insert_group(&self, group: &Group) -> Result<(), StoreError> {
        self.wrote_if(insert_indexed(
            &self.groups,
            &self.groups_by_name,
            &group.id,
            &name_key(&group.name),
            encode(group)?,
        ))
    }

    fn update_group(&self, group: &Group, old_name_key: &str) -> Result<(), StoreError> {
        let new_key = name_key(&group.name);
        let value = encode(group)?;
        (&self.groups, &self.groups_by_name)
            .transaction(|(groups, index)| {
                if new_key != old_name_key {
                    if index.get(new_key.as_bytes())?.is_some() {
                        return Err(ConflictableTransactionError::Abort(StoreError::Conflict));
                    }
                    index.remove(old_name_key.as_bytes())?;
                    index.insert(new_key.as_bytes(), group.id.as_bytes())?;
                }
                groups.insert(group.id.as_bytes(), value.clone())?;
                Ok(())
            })
            .map_err(tx_error)?;
        self.wrote();
        Ok(())
    }

    fn group(&self, id: &str) -> Result<Option<Group>, StoreError> {
        get(&self.groups, id)
    }

    fn groups(&self) -> Result<Vec<Group>, StoreError> {
        self.groups.iter().values().map(|v| decode(&v?)).collect()
    }

    fn delete_group(&self, id: &str) -> Result<bool, StoreError> {
        let Some(group) = self.group(id)? else {
            return Ok(false);
        };
        for user_id in self.members_of(id)? {
            self.set_membership(id, &user_id, false)?;
        }
        remove_with_suffix(&self.app_groups, id)?;
        (&self.groups, &self.groups_by_name)
            .transaction(|(groups, index)| {
                groups.remove(id.as_bytes())?;
                index.remove(name_key(&group.name).as_bytes())?;
                Ok(())
            })
            .map_err(tx_error)?;
        self.wrote();
        Ok(true)
    }

    fn set_membership(
        &self,
        group_id: &str,
        user_id: &str,
        member: bool,
    ) -> Result<(), StoreError> {
        let forward = format!("{group_id}/{user_id}");
        let reverse = format!("{user_id}/{group_id}");
        (&self.group_members, &self.user_groups)
            .transaction(|(members, groups)| {
                if member {
                    members.insert(forward.as_bytes(), &[][..])?;
                    groups.insert(reverse.as_bytes(), &[][..])?;
                } else {
                    members.remove(forward.as_bytes())?;
                    groups.remove(reverse.as_bytes())?;
                }
                Ok(())
            })
            .map_err(tx_error)?;
        self.wrote();
        Ok(())
    }

    fn members_of(&self, group_id: &str) -> Result<Vec<String>, StoreError> {
        second_parts(&self.group_members, group_id)
    }

    fn groups_of(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        second_parts(&self.user_groups, user_id)
    }

    fn put_app(&self, app: &App) -> Result<(), StoreError> {
        self.apps.insert(app.id.as_bytes(), encode(app)?)?;
        self.wrote();
        Ok(())
    }

    fn app(&self, id: &str) -> Result<Option<App>, StoreError> {
        get(&self.apps, id)
    }

    fn modify_app(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut App) -> bool,
    ) -> Result<Option<App>, StoreError> {
        self.wrote_if(modify(&self.apps, id.as_bytes(), change, &self.sealer))
    }

    fn apps(&self) -> Result<Vec<App>, StoreError> {
        self.apps.iter().values().map(|v| decode(&v?)).collect()
    }

    fn delete_app(&self, id: &str) -> Result<bool, StoreError> {
        let existed = self.apps.remove(id.as_bytes())?.is_some();
        for tree in [&self.app_users, &self.app_groups] {
            for key in tree.scan_prefix(format!("{id}/")).keys() {
                tree.remove(key?)?;
            }
        }
        self.wrote();
        Ok(existed)
    }

    fn assign_app_user(
        &self,
        app_id: &str,
        user_id: &str,
        assigned: bool,
    ) -> Result<(), StoreError> {
        self.wrote_if(toggle(
            &self.app_users,
            &format!("{app_id}/{user_id}"),
            assigned,
        ))
    }

    fn app_user_assigned(&self, app_id: &str, user_id: &str) -> Result<bool, StoreError> {
        Ok(self.app_users.contains_key(format!("{app_id}/{user_id}"))?)
    }

    fn app_users(&self, app_id: &str) -> Result<Vec<String>, StoreError> {
        second_parts(&self.app_users, app_id)
    }

    fn assign_app_group(
        &self,
        app_id: &str,
        group_id: &str,
        assigned: bool,
    ) -> Result<(), StoreError> {
        self.wrote_if(toggle(
            &self.app_groups,
            &format!("{app_id}/{group_id}"),
            assigned,
        ))
    }

    fn app_groups(&self, app_id: &str) -> Result<Vec<String>, StoreError> {
        second_parts(&self.app_groups, app_id)
    }

    fn insert_trusted_origin(&self, origin: &TrustedOrigin) -> Result<(), StoreError> {
        self.wrote_if(insert_indexed(
            &self.trusted_origins,
            &self.trusted_origins_by_origin,
            &origin.id,
            &origin.origin,
            encode(origin)?,
        ))
    }

    fn trusted_origin(&self, id: &str) -> Result<Option<TrustedOrigin>, StoreError> {
        get(&self.trusted_origins, id)
    }

    fn modify_trusted_origin(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut TrustedOrigin) -> bool,
    ) -> Result<Option<TrustedOrigin>, StoreError> {
        // sled may run a transaction more than once; the closure is borrowed for each run.
        let change = RefCell::new(change);
        let stored = (&self.trusted_origins, &self.trusted_origins_by_origin)
            .transaction(|(records, index)| {
                let Some(bytes) = records.get(id.as_bytes())? else {
                    return Ok(None);
                };
                let mut record: TrustedOrigin = decode(&bytes).map_err(abort)?;
                let old_origin = record.origin.clone();
                if !(change.borrow_mut())(&mut record) {
                    return Ok(Some((decode(&bytes).map_err(abort)?, false)));
                }
                if record.origin != old_origin {
                    if index.get(record.origin.as_bytes())?.is_some() {
                        return Err(abort(StoreError::Conflict));
                    }
                    index.remove(old_origin.as_bytes())?;
                    index.insert(record.origin.as_bytes(), id.as_bytes())?;
                }
                records.insert(id.as_bytes(), encode(&record).map_err(abort)?)?;
                Ok(Some((record, true)))
            })
            .map_err(tx_error)?;
        if stored.as_ref().is_some_and(|(_, written)| *written) {
            self.wrote();
        }
        Ok(stored.map(|(record, _)| record))
    }

    fn trusted_origin_by_origin(&self, origin: &str) -> Result<Option<TrustedOrigin>, StoreError> {
        match self.trusted_origins_by_origin.get(origin)? {
            Some(id) => get(&self.trusted_origins, id),
            None => Ok(None),
        }
    }

    fn trusted_origins(&self) -> Result<Vec<TrustedOrigin>, StoreError> {
        self.trusted_origins
            .iter()
            .values()
            .map(|v| decode(&v?))
            .collect()
    }

    fn delete_trusted_origin(&self, id: &str) -> Result<bool, StoreError> {
        let deleted = (&self.trusted_origins, &self.trusted_origins_by_origin)
            .transaction(|(records, index)| {
                let Some(bytes) = records.remove(id.as_bytes())? else {
                    return Ok(false);
                };
                let record: TrustedOrigin =
                    decode(&bytes).map_err(ConflictableTransactionError::Abort)?;
                index.remove(record.origin.as_bytes())?;
                Ok(true)
            })
            .map_err(tx_error);
        self.wrote_if(deleted)
    }

    fn insert_role(&self, assignment: &RoleAssignment) -> Result<(), StoreError> {
        let key = format!("{}/{}", assignment.user_id, assignment.role.as_str());
        let inserted =
            self.roles
                .compare_and_swap(key, None as Option<&[u8]>, Some(encode(assignment)?))?;
        match inserted {
            Ok(()) => {
                self.wrote();
                Ok(())
            }
            Err(_) => Err(StoreError::Conflict),
        }
    }

    fn roles(&self, user_id: &str) -> Result<Vec<RoleAssignment>, StoreError> {
        self.roles
            .scan_prefix(format!("{user_id}/"))
            .values()
            .map(|v| decode(&v?))
            .collect()
    }

    fn delete_role(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        let Some(found) = self.roles(user_id)?.into_iter().find(|r| r.id == id) else {
            return Ok(false);
        };
        let removed = self
            .roles
            .remove(format!("{user_id}/{}", found.role.as_str()))?
            .is_some();
        self.wrote();
        Ok(removed)
    }

    fn insert_api_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        self.wrote_if(insert_indexed(
            &self.api_tokens,
            &self.api_tokens_by_digest,
            &token.id,
            &digest_hex(&token.digest),
            encode(token)?,
        ))
    }

    fn api_token(&self, id: &str) -> Result<Option<ApiToken>, StoreError> {
        get(&self.api_tokens, id)
    }

    fn api_token_by_digest(&self, digest: &Digest) -> Result<Option<ApiToken>, StoreError> {
        match self
            .api_tokens_by_digest
            .get(digest_hex(digest).as_bytes())?
        {
            Some(id) => get(&self.api_tokens, id),
            None => Ok(None),
        }
    }

    fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.api_tokens
            .iter()
            .values()
            .map(|v| decode(&v?))
            .collect()
    }

    fn modify_api_token(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut ApiToken) -> bool,
    ) -> Result<Option<ApiToken>, StoreError> {
        let changed = modify(&self.api_tokens, id.as_bytes(), change, &None)?;
        self.wrote();
        Ok(changed)
    }

    fn delete_api_token(&self, id: &str) -> Result<bool, StoreError> {
        let removed = (&self.api_tokens, &self.api_tokens_by_digest)
            .transaction(|(tokens, by_digest)| {
                let Some(bytes) = tokens.remove(id.as_bytes())? else {
                    return Ok(false);
                };
                let token: ApiToken = decode(&bytes).map_err(abort)?;
                by_digest.remove(digest_hex(&token.digest).as_bytes())?;
                Ok(true)
            })
            .map_err(tx_error)?;
        self.wrote();
        Ok(removed)
    }

    fn put_idp(&self, idp: &IdentityProvider) -> Result<(), StoreError> {
        self.idps
            .insert(idp.id.as_bytes(), encode(&sealed(idp, &self.sealer))?)?;
        self.wrote();
        Ok(())
    }

    fn idp(&self, id: &str) -> Result<Option<IdentityProvider>, StoreError> {
        get(&self.idps, id)?
            .map(|i| opened(i, &self.sealer))
            .transpose()
    }

    fn idps(&self) -> Result<Vec<IdentityProvider>, StoreError> {
        (self.idps.iter().values())
            .map(|v| opened(decode(&v?)?, &self.sealer))
            .collect()
    }

    fn modify_idp(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut IdentityProvider) -> bool,
    ) -> Result<Option<IdentityProvider>, StoreError> {
        let changed = modify(&self.idps, id.as_bytes(), change, &self.sealer)?;
        self.wrote();
        Ok(changed)
    }

    fn delete_idp(&self, id: &str) -> Result<bool, StoreError> {
        let existed = self.idps.remove(id.as_bytes())?.is_some();
        let prefix = format!("{id}/");
        for key in self.idp_links.scan_prefix(prefix.as_bytes()).keys() {
            self.idp_links.remove(key?)?;
        }
        self.wrote();
        Ok(existed)
    }

    fn link_idp_user(
        &self,
        idp_id: &str,
        external_id: &str,
        user_id: &str,
        replacing: Option<&str>,
    ) -> Result<bool, StoreError> {
        let linked = self
            .idp_links
            .compare_and_swap(
                format!("{idp_id}/{external_id}").as_bytes(),
                replacing.map(str::as_bytes),
                Some(user_id.as_bytes()),
            )?
            .is_ok();
        if linked {
            self.wrote();
        }
        Ok(linked)
    }

    fn idp_user(&self, idp_id: &str, external_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .idp_links
            .get(format!("{idp_id}/{external_id}").as_bytes())?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    fn append_log(&self, events: &[LogEvent]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for e in events {
            batch.insert(log_key(e.published.millis(), &e.uuid), encode(e)?);
        }
        self.log.apply_batch(batch)?;
        // Counted for the group commit: the answer that recorded these events (a token grant,
        // an admin change) waits for them to be durable, in the flush its own writes share.
        self.wrote();
        Ok(())
    }

    fn log_events(
        &self,
        since: Timestamp,
        until: Timestamp,
        after: Option<&str>,
        descending: bool,
        limit: usize,
    ) -> Result<Vec<LogEvent>, StoreError> {
        use std::ops::Bound::{Excluded, Included};
        let mut lo = Included(log_key(since.millis(), ""));
        let mut hi = Excluded(log_key(until.millis(), ""));
        if let Some((ms, uuid)) = after.and_then(super::log_position) {
            let position = Excluded(log_key(ms, uuid));
            if descending {
                hi = position;
            } else {
                lo = position;
            }
        }
        let range = self.log.range((lo, hi));
        let items: Box<dyn Iterator<Item = sled::Result<(sled::IVec, sled::IVec)>>> = if descending
        {
            Box::new(range.rev())
        } else {
            Box::new(range)
        };
        let mut out = Vec::new();
        for item in items.take(limit) {
            let (_, v) = item?;
            let event: LogEvent = decode(&v)?;
            // A cursor from elsewhere may lie outside the window.
            if event.published >= since && event.published < until {
                out.push(event);
            }
        }
        Ok(out)
    }

    fn sweep_log(&self, before: Timestamp) -> Result<usize, StoreError> {
        let mut removed = 0;
        for key in self.log.range(..log_key(before.millis(), "")).keys() {
            self.log.remove(key?)?;
            removed += 1;
        }
        if removed > 0 {
            self.wrote();
        }
        Ok(removed)
    }

    fn signing_keys(&self, server: &str) -> Result<Vec<KeyRecord>, StoreError> {
        self.signing_keys
            .scan_prefix(format!("{server}/"))
            .values()
            .map(|v| opened(decode(&v?)?, &self.sealer))
            .collect()
    }

    fn put_signing_key(&self, server: &str, key: &KeyRecord) -> Result<(), StoreError> {
        self.signing_keys.insert(
            format!("{server}/{}", key.kid),
            encode(&sealed(key, &self.sealer))?,
        )?;
        self.wrote();
        Ok(())
    }

    fn put_client(&self, client: &Client) -> Result<(), StoreError> {
        self.clients.insert(
            client.client_id.as_bytes(),
            encode(&sealed(client, &self.sealer))?,
        )?;
        self.wrote();
        Ok(())
    }

    fn client(&self, client_id: &str) -> Result<Option<Client>, StoreError> {
        get(&self.clients, client_id)?
            .map(|c| opened(c, &self.sealer))
            .transpose()
    }

    fn clients(&self) -> Result<Vec<Client>, StoreError> {
        (self.clients.iter().values())
            .map(|v| opened(decode(&v?)?, &self.sealer))
            .collect()
    }

    fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let existed = self.clients.remove(client_id.as_bytes())?.is_some();
        self.wrote();
        Ok(existed)
    }

    fn put_code(&self, digest: &Digest, code: &CodeRecord) -> Result<(), StoreError> {
        self.auth_codes.insert(digest.as_bytes(), encode(code)?)?;
        self.wrote();
        Ok(())
    }

    fn use_code(&self, digest: &Digest) -> Result<CodeUse, StoreError> {
        let used = self
            .auth_codes
            .transaction(|codes| {
                let Some(bytes) = codes.get(digest.as_bytes())? else {
                    return Ok(CodeUse::Missing);
                };
                let mut record: CodeRecord =
                    decode(&bytes).map_err(ConflictableTransactionError::Abort)?;
                if record.used {
                    return Ok(CodeUse::Replayed(record));
                }
                record.used = true;
                let value = encode(&record).map_err(ConflictableTransactionError::Abort)?;
                codes.insert(&digest.as_bytes()[..], value)?;
                Ok(CodeUse::Fresh(record))
            })
            .map_err(tx_error);
        self.wrote_if(used)
    }

    fn put_pushed_request(
        &self,
        digest: &Digest,
        request: &PushedRequest,
    ) -> Result<(), StoreError> {
        self.pushed_requests
            .insert(digest.as_bytes(), encode(&sealed(request, &self.sealer))?)?;
        self.wrote();
        Ok(())
    }

    fn pushed_request(&self, digest: &Digest) -> Result<Option<PushedRequest>, StoreError> {
        self.pushed_requests
            .get(digest.as_bytes())?
            .map(|v| opened(decode(&v)?, &self.sealer))
            .transpose()
    }

    fn take_pushed_request(&self, digest: &Digest) -> Result<Option<PushedRequest>, StoreError> {
        let taken = self.pushed_requests.remove(digest.as_bytes())?;
        self.wrote();
        taken.map(|v| opened(decode(&v)?, &self.sealer)).transpose()
    }

    fn put_refresh(&self, digest: &Digest, record: &RefreshRecord) -> Result<(), StoreError> {
        self.refresh_tokens
            .insert(digest.as_bytes(), encode(record)?)?;
        self.wrote();
        Ok(())
    }

    fn refresh(&self, digest: &Digest) -> Result<Option<RefreshRecord>, StoreError> {
        get(&self.refresh_tokens, digest.as_bytes())
    }

    fn modify_refresh(
        &self,
        digest: &Digest,
        change: &mut dyn FnMut(&mut RefreshRecord) -> bool,
    ) -> Result<Option<RefreshRecord>, StoreError> {
        self.wrote_if(modify(
            &self.refresh_tokens,
            digest.as_bytes(),
            change,
            &self.sealer,
        ))
    }

    fn delete_refresh(&self, digest: &Digest) -> Result<(), StoreError> {
        self.refresh_tokens.remove(digest.as_bytes())?;
        self.wrote();
        Ok(())
    }

    fn revoke(&self, key: &str, until: Timestamp) -> Result<(), StoreError> {
        self.revoked.insert(key.as_bytes(), encode(&until)?)?;
        self.wrote();
        Ok(())
    }

    fn is_revoked(&self, key: &str) -> Result<bool, StoreError> {
        Ok(self.revoked.contains_key(key.as_bytes())?)
    }

    fn spend_once(&self, key: &str, until: Timestamp) -> Result<bool, StoreError> {
        let spent = self.revoked.compare_and_swap(
            key.as_bytes(),
            None as Option<&[u8]>,
            Some(encode(&until)?),
        )?;
        if spent.is_ok() {
            self.wrote();
        }
        Ok(spent.is_ok())
    }

    fn refresh_tokens_where(
        &self,
        keep: &dyn Fn(&RefreshRecord) -> bool,
    ) -> Result<Vec<(Digest, RefreshRecord)>, StoreError> {
        let mut out = Vec::new();
        for item in self.refresh_tokens.iter() {
            let (k, v) = item?;
            let record: RefreshRecord = decode(&v)?;
            if keep(&record) {
                let digest = Digest::from_slice(&k)
                    .ok_or_else(|| StoreError::Corrupt("refresh token key".into()))?;
                out.push((digest, record));
            }
        }
        Ok(out)
    }

    fn auth_servers(&self) -> Result<Vec<AuthServer>, StoreError> {
        let mut all = self
            .auth_servers
            .iter()
            .values()
            .map(|v| decode::<AuthServer>(&v?))
            .collect::<Result<Vec<_>, _>>()?;
        all.sort_by_key(|s| s.created);
        Ok(all)
    }

    fn auth_server(&self, id: &str) -> Result<Option<AuthServer>, StoreError> {
        get(&self.auth_servers, id)
    }

    fn save_auth_server(
        &self,
        server: &AuthServer,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut next = server.clone();
        next.revision = expected.map_or(0, |r| r + 1);
        let value = encode(&next)?;
        self.auth_servers
            .transaction(|t| {
                let current = match t.get(server.id.as_bytes())? {
                    Some(v) => Some(
                        decode::<AuthServer>(&v)
                            .map_err(ConflictableTransactionError::Abort)?
                            .revision,
                    ),
                    None => None,
                };
                if current != expected {
                    return Err(ConflictableTransactionError::Abort(StoreError::Conflict));
                }
                t.insert(server.id.as_bytes(), value.clone())?;
                Ok(())
            })
            .map_err(tx_error)?;
        self.wrote();
        Ok(())
    }

    fn delete_auth_server(&self, id: &str) -> Result<bool, StoreError> {
        let existed = self.auth_servers.remove(id)?.is_some();
        for key in self.signing_keys.scan_prefix(format!("{id}/")).keys() {
            self.signing_keys.remove(key?)?;
        }
        self.wrote();
        Ok(existed)
    }

    fn put_grant(&self, grant: &Grant) -> Result<(), StoreError> {
        self.grants
            .insert(format!("{}/{}", grant.user_id, grant.id), encode(grant)?)?;
        self.wrote();
        Ok(())
    }

    fn grants(&self, user_id: &str) -> Result<Vec<Grant>, StoreError> {
        let mut all = self
            .grants
            .scan_prefix(format!("{user_id}/"))
            .values()
            .map(|v| decode::<Grant>(&v?))
            .collect::<Result<Vec<_>, _>>()?;
        all.sort_by_key(|g| g.created);
        Ok(all)
    }

    fn delete_grant(&self, user_id: &str, grant_id: &str) -> Result<bool, StoreError> {
        let existed = self
            .grants
            .remove(format!("{user_id}/{grant_id}"))?
            .is_some();
        self.wrote();
        Ok(existed)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .meta
            .get(key)?
            .map(|v| String::from_utf8_lossy(&v).into_owned()))
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.meta.insert(key, value.as_bytes())?;
        self.wrote();
        Ok(())
    }

    fn modify_meta(
        &self,
        key: &str,
        change: &mut dyn FnMut(Option<&str>) -> Option<String>,
    ) -> Result<Option<String>, StoreError> {
        loop {
            let current = self.meta.get(key)?;
            let text = current
                .as_ref()
                .map(|v| String::from_utf8_lossy(v).into_owned());
            let Some(next) = change(text.as_deref()) else {
                return Ok(text);
            };
            let swapped =
                self.meta
                    .compare_and_swap(key, current.as_ref(), Some(next.as_bytes()))?;
            if swapped.is_ok() {
                self.wrote();
                return Ok(Some(next));
            }
        }
    }

    fn sweep_expired(&self, now: Timestamp) -> Result<usize, StoreError> {
        Ok(
            sweep::<SessionTokenRecord>(&self.session_tokens, now, |r| r.expires_at)?
                + sweep::<Session>(&self.sessions, now, |s| s.expires_at)?
                + sweep_dangling(&self.sessions_by_id, &self.sessions)?
                + sweep::<Transaction>(&self.transactions, now, |t| t.expires_at)?
                + sweep::<RecoveryTokenRecord>(&self.recovery_tokens, now, |r| r.expires_at)?
                + sweep::<CodeRecord>(&self.auth_codes, now, |c| c.expires_at)?
                + sweep::<PushedRequest>(&self.pushed_requests, now, |r| r.expires_at)?
                + sweep::<RefreshRecord>(&self.refresh_tokens, now, |r| r.expires_at)?
                + sweep::<Timestamp>(&self.revoked, now, |until| *until)?,
        )
    }

    fn flush(&self) -> Result<(), StoreError> {
        self.commit.wait(self.commit.written())
    }

    fn group_commit(&self) -> Option<&GroupCommit> {
        Some(&self.commit)
    }

    fn check(&self) -> Result<(), StoreError> {
        self.meta.get("readiness")?;
        Ok(())
    }

    fn announce(&self, topic: &str) -> Result<(), StoreError> {
        let listeners = self.listeners.read().unwrap_or_else(|p| p.into_inner());
        for listener in listeners.iter() {
            listener(topic);
        }
        Ok(())
    }

    fn listen(&self, listener: super::Listener) -> Result<(), StoreError> {
        self.listeners
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .push(listener);
        Ok(())
    }

    fn lease(&self, _: &str, _: &str, _: Timestamp, _: Timestamp) -> Result<bool, StoreError> {
        Ok(true)
    }

    fn is_shared(&self) -> bool {
        false
    }

    fn count_hit(&self, _: &str, _: i64) -> Result<Option<u32>, StoreError> {
        Ok(None)
    }

    fn export(
        &self,
        sink: &mut dyn FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for v in self.users.iter().values() {
            sink(Record::User(decode(&v?)?))?;
        }
        for v in self.factors.iter().values() {
            sink(Record::Factor(opened(decode(&v?)?, &self.sealer)?))?;
        }
        for v in self.groups.iter().values() {
            sink(Record::Group(decode(&v?)?))?;
        }
        for k in self.group_members.iter().keys() {
            let (group_id, user_id) = pair(&k?)?;
            sink(Record::Membership { group_id, user_id })?;
        }
        for v in self.apps.iter().values() {
            sink(Record::App(decode(&v?)?))?;
        }
        for k in self.app_users.iter().keys() {
            let (app_id, user_id) = pair(&k?)?;
            sink(Record::AppUser { app_id, user_id })?;
        }
        for k in self.app_groups.iter().keys() {
            let (app_id, group_id) = pair(&k?)?;
            sink(Record::AppGroup { app_id, group_id })?;
        }
        for v in self.trusted_origins.iter().values() {
            sink(Record::TrustedOrigin(decode(&v?)?))?;
        }
        for v in self.roles.iter().values() {
            sink(Record::Role(decode(&v?)?))?;
        }
        for v in self.api_tokens.iter().values() {
            sink(Record::ApiToken(decode(&v?)?))?;
        }
        for v in self.idps.iter().values() {
            sink(Record::Idp(opened(decode(&v?)?, &self.sealer)?))?;
        }
        for item in self.idp_links.iter() {
            let (k, v) = item?;
            let (idp_id, external_id) = pair(&k)?;
            sink(Record::IdpLink {
                idp_id,
                external_id,
                user_id: String::from_utf8_lossy(&v).into_owned(),
            })?;
        }
        for item in self.signing_keys.iter() {
            let (k, v) = item?;
            let (server, _) = pair(&k)?;
            sink(Record::SigningKey {
                server,
                key: opened(decode(&v)?, &self.sealer)?,
            })?;
        }
        for v in self.clients.iter().values() {
            sink(Record::Client(opened(decode(&v?)?, &self.sealer)?))?;
        }
        for v in self.auth_servers.iter().values() {
            sink(Record::AuthServer(decode(&v?)?))?;
        }
        for v in self.grants.iter().values() {
            sink(Record::Grant(decode(&v?)?))?;
        }
        export_digests(&self.sessions, sink, |d, v| {
            Ok(Record::Session(d, decode(v)?))
        })?;
        export_digests(&self.session_tokens, sink, |d, v| {
            Ok(Record::SessionToken(d, decode(v)?))
        })?;
        export_digests(&self.transactions, sink, |d, v| {
            Ok(Record::Transaction(d, decode(v)?))
        })?;
        export_digests(&self.recovery_tokens, sink, |d, v| {
            Ok(Record::RecoveryToken(d, decode(v)?))
        })?;
        export_digests(&self.auth_codes, sink, |d, v| {
            Ok(Record::Code(d, decode(v)?))
        })?;
        for item in self.pushed_requests.iter() {
            let (k, v) = item?;
            let digest =
                Digest::from_slice(&k).ok_or_else(|| StoreError::Corrupt("a digest key".into()))?;
            sink(Record::PushedRequest(
                digest,
                opened(decode(&v)?, &self.sealer)?,
            ))?;
        }
        export_digests(&self.refresh_tokens, sink, |d, v| {
            Ok(Record::Refresh(d, decode(v)?))
        })?;
        for item in self.revoked.iter() {
            let (k, v) = item?;
            sink(Record::Revoked {
                key: String::from_utf8_lossy(&k).into_owned(),
                until: decode(&v)?,
            })?;
        }
        for item in self.meta.iter() {
            let (k, v) = item?;
            sink(Record::Meta {
                key: String::from_utf8_lossy(&k).into_owned(),
                value: String::from_utf8_lossy(&v).into_owned(),
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::directory::OriginScope;
    use crate::records::directory::OriginStatus;
    use crate::store::conformance;
    use std::sync::Arc;

    fn fresh() -> (tempfile::TempDir, Arc<dyn Store>) {
        let (dir, store) = crate::store::temp_store();
        (dir, Arc::new(store))
    }

    #[test]
    fn a_store_from_before_the_index_is_indexed_at_open_an_attribute_batch_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path()).unwrap();
        for n in 0..200 {
            let mut user = conformance::user(&format!("00u{n:04}"), &format!("u{n}@example.com"));
            user.profile
                .attributes
                .insert("department".into(), format!("D{}", n % 3).into());
            store.insert_user(&user).unwrap();
        }
        // As a store from before the index: no entries, no version.
        store.user_index.tree().clear().unwrap();
        store.meta.remove(user_index::VERSION_META).unwrap();
        let eq = |store: &SledStore, attribute: &str, key: &str| {
            store
                .user_index(
                    attribute,
                    &KeyRange::Exact(key.into()),
                    None,
                    Direction::Ascending,
                    1000,
                )
                .unwrap()
                .len()
        };
        assert_eq!(eq(&store, "profile.department", "d1"), 0);
        // A batch smaller than one attribute's entries: one attribute a pass.
        store.build_user_index_in(150).unwrap();
        assert_eq!(eq(&store, "profile.department", "d1"), 67);
        assert_eq!(eq(&store, "profile.login", "u7@example.com"), 1);
        assert_eq!(eq(&store, "status", "active"), 200);
        let blocks = store.user_index.tree().len();
        drop(store);
        // Built once: opening again leaves it as it is.
        let store = SledStore::open(dir.path()).unwrap();
        assert_eq!(store.user_index.tree().len(), blocks);
        assert_eq!(eq(&store, "profile.department", "d2"), 66);
    }

    #[test]
    fn conformance_modify_user_loses_no_update() {
        let (_dir, store) = fresh();
        conformance::modify_user_loses_no_update(store);
    }

    #[test]
    fn conformance_modify_user_moves_the_login_index() {
        let (_dir, store) = fresh();
        conformance::modify_user_moves_the_login_index(store);
    }

    #[test]
    fn conformance_modify_app_loses_no_update() {
        let (_dir, store) = fresh();
        conformance::modify_app_loses_no_update(store);
    }

    #[test]
    fn conformance_modify_trusted_origin_moves_the_origin_index() {
        let (_dir, store) = fresh();
        conformance::modify_trusted_origin_moves_the_origin_index(store);
    }

    #[test]
    fn conformance_idps_change_atomically_and_link_once() {
        let (_dir, store) = fresh();
        conformance::idps_change_atomically_and_link_once(store);
    }

    #[test]
    fn conformance_a_transaction_moves_on_once_and_ends_once() {
        let (_dir, store) = fresh();
        conformance::a_transaction_moves_on_once_and_ends_once(store);
    }

    #[test]
    fn conformance_single_use_values_are_spent_once() {
        let (_dir, store) = fresh();
        conformance::single_use_values_are_spent_once(store);
    }

    #[test]
    fn conformance_log_events_are_stored_with_the_user_change_they_record() {
        let (_dir, store) = fresh();
        conformance::log_events_are_stored_with_the_user_change_they_record(store);
    }

    #[test]
    fn conformance_user_filters_match_prefixes_and_statuses() {
        let (_dir, store) = fresh();
        conformance::user_filters_match_prefixes_and_statuses(store);
    }

    #[test]
    fn conformance_flushed_writes_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        conformance::flushed_writes_survive_reopening(|| Arc::new(reopen(dir.path())));
    }

    /// Opens the store in `dir` again. The closed store's background threads (sled's own
    /// flusher) may hold its file lock a moment longer, as a process that is still exiting
    /// would.
    fn reopen(dir: &Path) -> SledStore {
        for _ in 0..100 {
            match SledStore::open(dir) {
                Ok(store) => return store,
                Err(e) if e.to_string().contains("could not acquire lock") => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => panic!("reopening failed: {e}"),
            }
        }
        panic!("sled's lock was never let go");
    }

    use conformance::user;

    #[test]
    fn records_survive_reopening_the_database() {
        let dir = tempfile::tempdir().unwrap();
        {
            let store = SledStore::open(dir.path()).unwrap();
            store.insert_user(&user("00u1", "a@x.io")).unwrap();
            store.flush().unwrap();
        }
        let store = reopen(dir.path());
        assert_eq!(store.user_by_login("a@x.io").unwrap().unwrap().id, "00u1");
    }

    #[test]
    fn login_index_is_unique_and_atomic() {
        let (_dir, store) = crate::store::temp_store();
        store.insert_user(&user("00u1", "a@x.io")).unwrap();
        assert!(matches!(
            store.insert_user(&user("00u2", "A@X.io")),
            Err(StoreError::Conflict)
        ));
        assert!(store.user("00u2").unwrap().is_none());
    }

    #[test]
    fn sweep_removes_only_expired_records() {
        let (_dir, store) = crate::store::temp_store();
        let rec = |ms| SessionTokenRecord {
            user_id: "u".into(),
            auth_time: Timestamp::from_millis(0),
            expires_at: Timestamp::from_millis(ms),
            amr: vec![],
            credential_epoch: 0,
            sessions_epoch: 0,
        };
        store
            .insert_session_token(&Digest::of("old"), &rec(10))
            .unwrap();
        store
            .insert_session_token(&Digest::of("new"), &rec(1000))
            .unwrap();
        assert_eq!(store.sweep_expired(Timestamp::from_millis(500)).unwrap(), 1);
        assert!(
            store
                .take_session_token(&Digest::of("new"))
                .unwrap()
                .is_some()
        );
        assert!(
            store
                .take_session_token(&Digest::of("old"))
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn trusted_origins_index_by_origin_and_delete_cleanly() {
        let (_dir, store) = crate::store::temp_store();
        let t = TrustedOrigin {
            id: "tos1".into(),
            name: "n".into(),
            origin: "http://localhost:3001".into(),
            scopes: vec![OriginScope::Cors],
            status: OriginStatus::Active,
            created: Timestamp::from_millis(0),
            last_updated: Timestamp::from_millis(0),
        };
        store.insert_trusted_origin(&t).unwrap();
        assert!(matches!(
            store.insert_trusted_origin(&TrustedOrigin {
                id: "tos2".into(),
                ..t.clone()
            }),
            Err(StoreError::Conflict)
        ));
        assert_eq!(
            store
                .trusted_origin_by_origin("http://localhost:3001")
                .unwrap()
                .unwrap()
                .id,
            "tos1"
        );
        assert!(store.delete_trusted_origin("tos1").unwrap());
        assert!(!store.delete_trusted_origin("tos1").unwrap());
        assert!(
            store
                .trusted_origin_by_origin("http://localhost:3001")
                .unwrap()
                .is_none()
        );
    }
}
