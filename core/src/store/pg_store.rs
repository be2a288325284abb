//! The shared store: PostgreSQL, for several nodes (and anyone who wants PostgreSQL's own
//! backup, replication and inspection). Records live in real tables, one per kind, with the
//! columns the lookups, listings and the expiry sweep need, and the whole record as `jsonb`.
//!
//! Connections are owned by a few worker threads; every call hands its statement to them and
//! waits at most `timeout` for the answer, so a database that is down costs a caller a bounded
//! wait and a clear `Unavailable`, never a hang, and the async runtime never runs a driver.
//! Records that change are written with compare-and-swap on a `rev` column, so the same
//! `modify_*` contract holds as on sled; single-use values are consumed with one `DELETE …
//! RETURNING` or `INSERT … ON CONFLICT DO NOTHING`. A committed write is durable
//! (`synchronous_commit` on), so no group commit is needed here.

use super::migrate::Record;
use super::sealing::{Sealer, Secrets, opened, sealed};
use super::user_index::{self, Direction, IndexEntry, KeyRange};
use super::{CodeUse, GroupCommit, Store, StoreError, UserFilter, search_keys, status_name};
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
use crate::records::directory::{ApiToken, RoleAssignment};
use crate::records::directory::{Group, name_key};
use crate::records::directory::{TrustedOrigin, User};
use crate::records::federation::IdentityProvider;
use crate::records::log::LogEvent;
use crate::records::oauth::Client as OAuthClient;
use crate::records::oauth::KeyRecord;
use crate::records::oauth::{CodeRecord, PushedRequest, RefreshRecord};
use postgres::types::{Json, ToSql};
use postgres::{Client, NoTls, Row};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Owned statement parameters for a call: `params![a, b]`.
macro_rules! params {
    ($($p:expr),* $(,)?) => {
        Params(vec![$(Box::new($p) as Box<dyn ToSql + Sync + Send>),*])
    };
}

/// The schema, one migration a step; applied in order at start, each once, under an advisory
/// lock so that nodes starting together do not race.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("migrations/0001_initial.sql")),
    (2, include_str!("migrations/0002_cluster.sql")),
    (3, include_str!("migrations/0003_trusted_origin_rev.sql")),
    (4, include_str!("migrations/0004_app_rev.sql")),
    (5, include_str!("migrations/0005_user_index.sql")),
    (
        6,
        include_str!("migrations/0006_admin_roles_and_api_tokens.sql"),
    ),
    (7, include_str!("migrations/0007_system_log.sql")),
    (8, include_str!("migrations/0008_idps.sql")),
    (9, include_str!("migrations/0009_pushed_requests.sql")),
];

/// PostgreSQL text cannot hold NUL, so no stored key has one: a lookup by such a value (a
/// request's id, login or search) finds nothing instead of failing the query.
fn unstorable(key: &str) -> bool {
    key.contains('\0')
}

/// The channel announcements travel on (LISTEN/NOTIFY).
const CHANNEL: &str = "portcullis";

/// The advisory lock key for migrations ("portcull" in ASCII).
const MIGRATION_LOCK: i64 = 0x706f_7274_6375_6c6c;

impl From<postgres::Error> for StoreError {
    fn from(e: postgres::Error) -> Self {
        if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) {
            return StoreError::Conflict;
        }
        if e.is_closed() || e.code().is_none() {
            return StoreError::Unavailable(e.to_string());
        }
        StoreError::Backend(e.to_string())
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}

/// A call for a pool thread: when its caller stops waiting, and what to run, which returns
/// whether the connection turned out broken.
struct Job {
    deadline: std::time::Instant,
    run: Call,
}

type Call = Box<dyn FnOnce(Result<&mut Client, StoreError>) -> bool + Send>;

/// A connection idle this long is checked before use: one that died meanwhile (the database
/// restarted) is replaced instead of failing the next call.
const IDLE_CHECK: Duration = Duration::from_secs(1);

/// Settings of the connection pool.
#[derive(Clone)]
pub struct PgSettings {
    pub url: String,
    /// Connections (and worker threads).
    pub pool_size: usize,
    /// How long a call may wait for its answer, queueing included.
    pub timeout: Duration,
}

/// The URL without its password: settings are printed at start-up and in errors.
impl std::fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let url = match url::Url::parse(&self.url) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("<redacted>"));
                u.to_string()
            }
            Ok(u) => u.to_string(),
            Err(_) => "<unparsable>".to_owned(),
        };
        f.debug_struct("PgSettings")
            .field("url", &url)
            .field("pool_size", &self.pool_size)
            .field("timeout", &self.timeout)
            .finish()
    }
}

pub struct PgStore {
    /// Seals the secrets in records on their way in (see `store::sealing`).
    sealer: Sealer,
    /// Records read on every token and introspection request, kept in memory while this
    /// node hears the cluster's announcements (which drop them when any node changes one).
    caches: Arc<Caches>,
    jobs: SyncSender<Job>,
    timeout: Duration,
    config: postgres::Config,
    /// Set when the store is dropped: the listener thread stops.
    closed: Arc<std::sync::atomic::AtomicBool>,
}

/// Records this node has read, valid while `live` (the listener is connected). A read caches
/// what it found only if no invalidation happened while it was reading (`generation`), so a
/// change announced during a read is never overwritten by the older value. `None` values
/// ("there is no such record") are kept only where the caller asks, for keys that are not
/// an outsider's choice.
struct RecordCache<T> {
    live: std::sync::atomic::AtomicBool,
    generation: std::sync::atomic::AtomicU64,
    map: std::sync::RwLock<std::collections::HashMap<String, Option<T>>>,
}

impl<T> Default for RecordCache<T> {
    fn default() -> Self {
        Self {
            live: std::sync::atomic::AtomicBool::new(false),
            generation: std::sync::atomic::AtomicU64::new(0),
            map: std::sync::RwLock::default(),
        }
    }
}

impl<T: Clone> RecordCache<T> {
    /// `Some(found)` when the cache knows the answer.
    fn get(&self, id: &str) -> Option<Option<T>> {
        if !self.live.load(std::sync::atomic::Ordering::SeqCst) {
            return None;
        }
        self.map.read().ok()?.get(id).cloned()
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn keep(&self, id: &str, found: &Option<T>, read_at: u64) {
        if !self.live.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        if let Ok(mut map) = self.map.write()
            && self.generation() == read_at
        {
            // Bounded whatever ids are asked for: past the limit it starts over.
            if map.len() >= CACHE_LIMIT {
                map.clear();
            }
            map.insert(id.to_owned(), found.clone());
        }
    }

    /// Drops one record (`Some`) or all of them.
    fn drop_cached(&self, id: Option<&str>) {
        if let Ok(mut map) = self.map.write() {
            self.generation
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            match id {
                Some(id) => {
                    map.remove(id);
                }
                None => map.clear(),
            }
        }
    }
}

/// The most records one cache holds.
const CACHE_LIMIT: usize = 10_000;

/// What this node keeps of the records every token request reads: clients, the OIDC app
/// behind a client (usually none), and whether a token id is revoked (usually not). Announced
/// changes drop them on every node.
#[derive(Default)]
struct Caches {
    clients: RecordCache<OAuthClient>,
    apps: RecordCache<App>,
    revoked: RecordCache<()>,
}

impl Caches {
    fn set_live(&self, live: bool) {
        use std::sync::atomic::Ordering;
        self.clients.live.store(live, Ordering::SeqCst);
        self.apps.live.store(live, Ordering::SeqCst);
        self.revoked.live.store(live, Ordering::SeqCst);
    }

    /// What the store itself does with an announcement before the node hears it.
    fn heard(&self, topic: &str) {
        if topic == super::ANY_TOPIC {
            self.clients.drop_cached(None);
            self.apps.drop_cached(None);
            self.revoked.drop_cached(None);
        } else if let Some(key) = topic.strip_prefix("revoked:") {
            self.revoked.drop_cached(Some(key));
        } else if let Some(id) = topic.strip_prefix("client:") {
            self.clients.drop_cached(Some(id));
        } else if let Some(id) = topic.strip_prefix("app:") {
            self.apps.drop_cached(Some(id));
        }
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

impl PgStore {
    /// Connects, applies the migrations and starts the pool. Fails when the database cannot be
    /// reached now (a node should not start half-configured); later outages are answered per
    /// call and healed by reconnecting.
    pub fn open(settings: &PgSettings) -> Result<Self, StoreError> {
        // The client drives its own runtime: connect from a thread of our own, never from
        // inside the caller's async runtime.
        let settings = settings.clone();
        std::thread::spawn(move || Self::open_here(&settings))
            .join()
            .map_err(|_| StoreError::Backend("opening the database panicked".into()))?
    }

    fn open_here(settings: &PgSettings) -> Result<Self, StoreError> {
        let mut config: postgres::Config = settings
            .url
            .parse()
            .map_err(|e: postgres::Error| StoreError::Backend(format!("database URL: {e}")))?;
        let limits = format!(
            "-c statement_timeout={ms} -c lock_timeout={ms}",
            ms = settings.timeout.as_millis()
        );
        config
            .connect_timeout(settings.timeout)
            .options(&limits)
            .application_name("portcullis");
        let mut first = config.connect(NoTls)?;
        migrate(&mut first)?;
        let (jobs, queue) = sync_channel::<Job>(1024);
        let queue = Arc::new(Mutex::new(queue));
        let mut spare = Some(first);
        for n in 0..settings.pool_size.max(1) {
            let queue = queue.clone();
            let config = config.clone();
            let client = spare.take();
            std::thread::Builder::new()
                .name(format!("pg-{n}"))
                .spawn(move || worker(&config, client, &queue))
                .map_err(|e| StoreError::Backend(format!("cannot start a pool thread: {e}")))?;
        }
        Ok(Self {
            sealer: None,
            caches: Arc::default(),
            jobs,
            timeout: settings.timeout,
            config,
            closed: Arc::default(),
        })
    }

    /// Seals secrets with `sealer` from now on (and opens what it sealed).
    pub fn sealing_with(mut self, sealer: Sealer) -> Self {
        self.sealer = sealer;
        self
    }

    fn all_opened<T: Secrets>(&self, records: Vec<T>) -> Result<Vec<T>, StoreError> {
        records
            .into_iter()
            .map(|r| opened(r, &self.sealer))
            .collect()
    }

    /// Runs `f` on a pooled connection and waits for its answer.
    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Client) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (reply, answer) = sync_channel(1);
        let job = Job {
            deadline: std::time::Instant::now() + self.timeout,
            run: Box::new(move |client| {
                let out = client.and_then(f);
                let broken = matches!(out, Err(StoreError::Unavailable(_)));
                let _ = reply.send(out);
                broken
            }),
        };
        self.jobs
            .try_send(job)
            .map_err(|_| StoreError::Unavailable("every database connection is busy".into()))?;
        let timeout = self.timeout;
        let wait = move || {
            answer.recv_timeout(timeout).map_err(|_| {
                StoreError::Unavailable("the database did not answer in time".into())
            })?
        };
        // Called from an async worker (a handler that reads the store directly), the wait
        // hands that worker's other tasks to another thread instead of stalling them.
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(wait)
            }
            _ => wait(),
        }
    }

    /// Compare-and-swap on `rev`: read the record, change it here, write it only if nobody
    /// wrote in between, else read again. `write` gets the revision read and the changed
    /// record, and says whether its `UPDATE … WHERE rev = $` hit a row.
    fn cas<T, R, W>(
        &self,
        read: R,
        write: W,
        change: &mut dyn FnMut(&mut T) -> bool,
    ) -> Result<Option<T>, StoreError>
    where
        T: Serialize + DeserializeOwned + Secrets,
        R: Fn(&Self) -> Result<Option<(i64, Value)>, StoreError>,
        W: Fn(&Self, i64, &T) -> Result<bool, StoreError>,
    {
        loop {
            let Some((rev, value)) = read(self)? else {
                return Ok(None);
            };
            let mut record: T = opened(serde_json::from_value(value.clone())?, &self.sealer)?;
            if !change(&mut record) {
                return Ok(Some(opened(serde_json::from_value(value)?, &self.sealer)?));
            }
            if write(self, rev, &record)? {
                return Ok(Some(record));
            }
        }
    }

    /// Reads `(rev, record)` of the row `sql` selects with the one parameter `key`.
    fn read_rev<K: ToSql + Sync + Send + Clone + 'static>(
        &self,
        sql: &'static str,
        key: &K,
    ) -> Result<Option<(i64, Value)>, StoreError> {
        let key = key.clone();
        self.run(move |c| {
            Ok(c.query_opt(sql, &[&key])?
                .map(|r| (r.get::<_, i64>(0), r.get::<_, Json<Value>>(1).0)))
        })
    }

    /// The records of every row `sql` selects with `params`.
    fn records<T: DeserializeOwned + Send + 'static>(
        &self,
        sql: impl Into<Cow<'static, str>>,
        params: Params,
    ) -> Result<Vec<T>, StoreError> {
        let sql = sql.into();
        self.run(move |c| {
            c.query(&*sql, &params.refs())?
                .iter()
                .map(|r| decode(r, 0))
                .collect()
        })
    }

    /// The record of the row `sql` selects with `params`, if any.
    fn record<T: DeserializeOwned + Send + 'static>(
        &self,
        sql: &'static str,
        params: Params,
    ) -> Result<Option<T>, StoreError> {
        self.run(move |c| {
            c.query_opt(sql, &params.refs())?
                .map(|r| decode(&r, 0))
                .transpose()
        })
    }

    /// Runs a statement; returns the number of rows it touched.
    fn exec(&self, sql: &'static str, params: Params) -> Result<u64, StoreError> {
        self.run(move |c| Ok(c.execute(sql, &params.refs())?))
    }

    /// The text in column 0 of every row.
    fn texts(&self, sql: &'static str, params: Params) -> Result<Vec<String>, StoreError> {
        self.run(move |c| {
            Ok(c.query(sql, &params.refs())?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }
}

impl PgStore {
    /// Runs `deletes` with the one parameter `id` in one transaction; returns the rows the
    /// last one removed (the record itself, after what hangs off it).
    fn delete_all(&self, deletes: &'static [&'static str], id: &str) -> Result<u64, StoreError> {
        let id = id.to_owned();
        self.run(move |c| {
            let mut tx = c.transaction()?;
            let mut last = 0;
            for sql in deletes {
                last = tx.execute(*sql, &[&id])?;
            }
            tx.commit()?;
            Ok(last)
        })
    }

    /// Adds (`insert`) or removes (`delete`) the pair `(a, b)` of a link table.
    fn link(
        &self,
        present: bool,
        insert: &'static str,
        delete: &'static str,
        a: &str,
        b: &str,
    ) -> Result<(), StoreError> {
        let sql = if present { insert } else { delete };
        self.exec(sql, params![a.to_owned(), b.to_owned()])?;
        Ok(())
    }

    /// A client was written or deleted: this node's copy goes now, every other node's when it
    /// hears the announcement.
    fn client_changed(&self, id: &str) -> Result<(), StoreError> {
        self.caches.clients.drop_cached(Some(id));
        self.announce(&format!("client:{id}"))
    }

    /// A token id or family was revoked (or a jti spent): every node asks the database again.
    fn revocation_changed(&self, key: &str) -> Result<(), StoreError> {
        self.caches.revoked.drop_cached(Some(key));
        self.announce(&format!("revoked:{key}"))
    }

    /// An app was written or deleted (see `client_changed`).
    fn app_changed(&self, id: &str) -> Result<(), StoreError> {
        self.caches.apps.drop_cached(Some(id));
        self.announce(&format!("app:{id}"))
    }

    /// Two text columns of every row.
    fn pairs(&self, sql: &'static str) -> Result<Vec<(String, String)>, StoreError> {
        self.run(move |c| {
            c.query(sql, &[])?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
        })
    }

    /// `(digest, record)` of every row `sql` selects.
    fn by_digest<T: DeserializeOwned + Send + 'static>(
        &self,
        sql: &'static str,
    ) -> Result<Vec<(Digest, T)>, StoreError> {
        self.run(move |c| {
            c.query(sql, &[])?
                .iter()
                .map(|r| {
                    let raw: Vec<u8> = r.try_get(0)?;
                    let digest = Digest::from_slice(&raw)
                        .ok_or_else(|| StoreError::Corrupt("a digest key".into()))?;
                    Ok((digest, decode(r, 1)?))
                })
                .collect()
        })
    }
}

/// Owned statement parameters, so a call can travel to a pool thread.
struct Params(Vec<Box<dyn ToSql + Sync + Send>>);

impl Params {
    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.0
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

fn json<T: Serialize>(record: &T) -> Result<Json<Value>, StoreError> {
    Ok(Json(serde_json::to_value(record)?))
}

fn decode<T: DeserializeOwned>(row: &Row, col: usize) -> Result<T, StoreError> {
    let Json(v): Json<Value> = row.try_get(col)?;
    Ok(serde_json::from_value(v)?)
}

fn key(digest: &Digest) -> Vec<u8> {
    digest.as_bytes().to_vec()
}

fn worker(config: &postgres::Config, mut client: Option<Client>, queue: &Mutex<Receiver<Job>>) {
    let mut last_used = std::time::Instant::now();
    loop {
        let job = {
            let Ok(queue) = queue.lock() else { return };
            match queue.recv() {
                Ok(job) => job,
                Err(_) => return,
            }
        };
        // Its caller has already answered 503: after an outage the backlog clears at once.
        if std::time::Instant::now() > job.deadline {
            continue;
        }
        let job = job.run;
        if last_used.elapsed() > IDLE_CHECK
            && let Some(c) = client.as_mut()
            && c.is_valid(IDLE_CHECK).is_err()
        {
            client = None;
        }
        last_used = std::time::Instant::now();
        if client.as_ref().is_none_or(Client::is_closed) {
            client = match config.connect(NoTls) {
                Ok(c) => Some(c),
                Err(e) => {
                    job(Err(StoreError::Unavailable(e.to_string())));
                    continue;
                }
            };
        }
        if let Some(c) = client.as_mut()
            && job(Ok(c))
        {
            // Reconnect for the next call rather than fail it too.
            client = None;
        }
    }
}

/// Hears announcements on a connection of its own, reconnecting when it is lost; after each
/// (re)connection the listener hears `ANY_TOPIC`, since announcements may have been missed.
fn listen_loop(
    config: &postgres::Config,
    listener: &super::Listener,
    closed: &std::sync::atomic::AtomicBool,
    cache: &Caches,
) {
    use std::sync::atomic::Ordering;
    let listener = |topic: &str| {
        cache.heard(topic);
        listener(topic);
    };
    while !closed.load(Ordering::SeqCst) {
        // Unheard announcements could be missed from here on: no cached clients until
        // listening again.
        cache.set_live(false);
        let mut client = match config.connect(NoTls) {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for changes from other nodes; retrying");
                std::thread::sleep(Duration::from_millis(500));
                continue;
            }
        };
        if let Err(e) = client.batch_execute(&format!("LISTEN {CHANNEL}")) {
            tracing::warn!(error = %e, "LISTEN failed; retrying");
            std::thread::sleep(Duration::from_millis(500));
            continue;
        }
        listener(super::ANY_TOPIC);
        cache.set_live(true);
        while !closed.load(Ordering::SeqCst) && !client.is_closed() {
            {
                let mut notes = client.notifications();
                let mut waiting = notes.timeout_iter(Duration::from_millis(500));
                loop {
                    match postgres::fallible_iterator::FallibleIterator::next(&mut waiting) {
                        Ok(Some(note)) => listener(note.payload()),
                        Ok(None) => break,
                        Err(e) => {
                            tracing::warn!(error = %e, "lost the connection that listens for changes");
                            break;
                        }
                    }
                }
            }
            // A quiet half second: poll the connection so that a lost one is noticed.
            if client.simple_query("SELECT 1").is_err() {
                break;
            }
        }
    }
    cache.set_live(false);
}

fn migrate(client: &mut Client) -> Result<(), StoreError> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let applied = apply_migrations(client).and_then(|()| build_user_index(client));
    client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])?;
    applied
}

fn apply_migrations(client: &mut Client) -> Result<(), StoreError> {
    client.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
            version integer PRIMARY KEY,
            applied_at timestamptz NOT NULL DEFAULT now())",
    )?;
    for (version, sql) in MIGRATIONS {
        let done = client
            .query_opt(
                "SELECT 1 FROM schema_migrations WHERE version = $1",
                &[version],
            )?
            .is_some();
        if done {
            continue;
        }
        let mut tx = client.transaction()?;
        tx.batch_execute(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version) VALUES ($1)",
            &[version],
        )?;
        tx.commit()?;
        tracing::info!(version, "applied a database migration");
    }
    Ok(())
}

/// Builds the user index from the users when it was built by other rules (or not at all: a
/// database from before the index), under the migration lock, in one transaction.
fn build_user_index(client: &mut Client) -> Result<(), StoreError> {
    let built = client
        .query_opt(
            "SELECT value FROM meta WHERE key = $1",
            &[&user_index::VERSION_META],
        )?
        .map(|r| r.get::<_, String>(0));
    if built.as_deref() == Some(user_index::VERSION) {
        return Ok(());
    }
    let mut tx = client.transaction()?;
    tx.execute("DELETE FROM user_index", &[])?;
    let mut after = String::new();
    loop {
        let rows = tx.query(
            "SELECT id, record FROM users WHERE id > $1 ORDER BY id LIMIT 1000",
            &[&after],
        )?;
        let Some(last) = rows.last() else { break };
        after = last.get(0);
        for row in &rows {
            let user: User = decode(row, 1)?;
            write_user_index(&mut tx, &user)?;
        }
    }
    tx.execute(
        "INSERT INTO meta (key, value) VALUES ($1, $2)
         ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
        &[&user_index::VERSION_META, &user_index::VERSION],
    )?;
    tx.commit()?;
    tracing::info!("built the user attribute index");
    Ok(())
}

/// System Log rows of `events`, for [`write_log`].
fn log_rows(events: &[LogEvent]) -> Result<Vec<(i64, String, Json<Value>)>, StoreError> {
    events
        .iter()
        .map(|e| Ok((e.published.millis(), e.uuid.clone(), json(e)?)))
        .collect()
}

/// Appends System Log rows inside the caller's transaction (see `store::journal`).
fn write_log(
    tx: &mut postgres::Transaction<'_>,
    rows: &[(i64, String, Json<Value>)],
) -> Result<(), StoreError> {
    for (published, uuid, record) in rows {
        tx.execute(
            "INSERT INTO system_log (published, uuid, record) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[published, uuid, record],
        )?;
    }
    Ok(())
}

/// Replaces the index rows of `user` with its entries now, inside the caller's transaction.
fn write_user_index(tx: &mut postgres::Transaction<'_>, user: &User) -> Result<(), StoreError> {
    let (attrs, values): (Vec<String>, Vec<String>) = user_index::entries(user).into_iter().unzip();
    tx.execute("DELETE FROM user_index WHERE user_id = $1", &[&user.id])?;
    tx.execute(
        "INSERT INTO user_index (attr, value, user_id)
         SELECT a, v, $3 FROM unnest($1::text[], $2::text[]) AS e(a, v)",
        &[&attrs, &values, &user.id],
    )?;
    Ok(())
}

/// The columns of a user row besides the record: the login key, Okta's status name, and the
/// lower-cased email and names the search looks in.
fn user_columns(u: &User) -> (String, String, String, String, String) {
    let [login, email, first, last] = search_keys(u);
    (login, status_name(u.status), email, first, last)
}

/// A `LIKE` pattern matching what starts with `prefix`, its wildcards taken literally.
fn like_prefix(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

impl Store for PgStore {
    fn insert_user(&self, user: &User) -> Result<(), StoreError> {
        let (login, status, email, first, last) = user_columns(user);
        let record = json(user)?;
        let user = user.clone();
        let events = log_rows(&super::journal::peek())?;
        self.run(move |c| {
            let mut tx = c.transaction()?;
            tx.execute(
                "INSERT INTO users (id, login_key, status, email_key, first_key, last_key, created, record)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[&user.id, &login, &status, &email, &first, &last, &user.created.millis(), &record],
            )?;
            write_user_index(&mut tx, &user)?;
            write_log(&mut tx, &events)?;
            tx.commit()?;
            Ok(())
        })?;
        super::journal::committed();
        Ok(())
    }

    fn modify_user(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut User) -> bool,
    ) -> Result<Option<User>, StoreError> {
        let id = id.to_owned();
        // Staged events are done with only when the change is written.
        let wrote = std::cell::Cell::new(false);
        let stored = self.cas(
            |s| {
                super::journal::begin_attempt();
                s.read_rev("SELECT rev, record FROM users WHERE id = $1", &id)
            },
            |s, rev, u: &User| {
                let (login, status, email, first, last) = user_columns(u);
                let record = json(u)?;
                let user = u.clone();
                let events = log_rows(&super::journal::peek())?;
                s.run(move |c| {
                    let mut tx = c.transaction()?;
                    let hit = tx.execute(
                        "UPDATE users SET login_key = $1, status = $2, email_key = $3, first_key = $4,
                            last_key = $5, record = $6, rev = rev + 1
                         WHERE id = $7 AND rev = $8",
                        &[&login, &status, &email, &first, &last, &record, &user.id, &rev],
                    )? == 1;
                    if hit {
                        write_user_index(&mut tx, &user)?;
                        write_log(&mut tx, &events)?;
                        tx.commit()?;
                    }
                    Ok(hit)
                })
                .inspect(|hit| wrote.set(*hit))
            },
            change,
        )?;
        if wrote.get() {
            super::journal::committed();
        }
        Ok(stored)
    }

    fn user(&self, id: &str) -> Result<Option<User>, StoreError> {
        if unstorable(id) {
            return Ok(None);
        }
        self.record(
            "SELECT record FROM users WHERE id = $1",
            params![id.to_owned()],
        )
    }

    fn user_by_login(&self, login_key: &str) -> Result<Option<User>, StoreError> {
        if unstorable(login_key) {
            return Ok(None);
        }
        self.record(
            "SELECT record FROM users WHERE login_key = $1",
            params![login_key.to_owned()],
        )
    }

    fn users_page(
        &self,
        after: Option<&str>,
        limit: usize,
        filter: &UserFilter,
    ) -> Result<Vec<User>, StoreError> {
        // The status and the prefix indexes answer the filter; rows come in id order.
        let mut sql = String::from("SELECT record FROM users WHERE id > $1");
        let mut args = params![after.unwrap_or_default().to_owned()];
        if let Some(status) = filter.status {
            args.0.push(Box::new(status_name(status)));
            sql.push_str(&format!(" AND status = ${}", args.0.len()));
        }
        if let Some(prefix) = &filter.prefix {
            if unstorable(prefix) {
                return Ok(Vec::new());
            }
            args.0.push(Box::new(like_prefix(&prefix.to_lowercase())));
            let n = args.0.len();
            sql.push_str(&format!(
                " AND (login_key LIKE ${n} OR email_key LIKE ${n} OR first_key LIKE ${n} \
                 OR last_key LIKE ${n})"
            ));
        }
        sql.push_str(&format!(" ORDER BY id LIMIT {limit}"));
        self.records(sql, args)
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
        let mut sql = String::from("SELECT value, user_id FROM user_index WHERE attr = $1");
        let mut args = params![attribute.to_owned()];
        let mut bind = |sql: &mut String, condition: &str, value: String| {
            args.0.push(Box::new(value));
            sql.push_str(&format!(" AND {condition} ${}", args.0.len()));
        };
        match range {
            KeyRange::Exact(k) => bind(&mut sql, "value =", k.clone()),
            KeyRange::Prefix(p) => {
                bind(&mut sql, "value >=", p.clone());
                bind(&mut sql, "value LIKE", like_prefix(p));
            }
            KeyRange::Between(lo, hi) => {
                match lo {
                    Included(k) => bind(&mut sql, "value >=", k.clone()),
                    Excluded(k) => bind(&mut sql, "value >", k.clone()),
                    Unbounded => {}
                }
                match hi {
                    Included(k) => bind(&mut sql, "value <=", k.clone()),
                    Excluded(k) => bind(&mut sql, "value <", k.clone()),
                    Unbounded => {}
                }
            }
        }
        let (after, order) = match direction {
            Direction::Ascending => (">", "ASC"),
            Direction::Descending => ("<", "DESC"),
        };
        if let Some(f) = from {
            args.0.push(Box::new(f.key.clone()));
            args.0.push(Box::new(f.id.clone()));
            let n = args.0.len();
            sql.push_str(&format!(" AND (value, user_id) {after} (${}, ${n})", n - 1));
        }
        sql.push_str(&format!(
            " ORDER BY value {order}, user_id {order} LIMIT {limit}"
        ));
        self.run(move |c| {
            Ok(c.query(&*sql, &args.refs())?
                .iter()
                .map(|r| IndexEntry {
                    key: r.get(0),
                    id: r.get(1),
                })
                .collect())
        })
    }

    fn user_index_members(
        &self,
        attribute: &str,
        key: &str,
        ids: &[String],
    ) -> Result<Vec<String>, StoreError> {
        let wanted: Vec<String> = ids.iter().filter(|i| !unstorable(i)).cloned().collect();
        let members: std::collections::HashSet<String> = self
            .texts(
                "SELECT user_id FROM user_index WHERE attr = $1 AND value = $2 AND user_id = ANY($3)",
                params![attribute.to_owned(), key.to_owned(), wanted],
            )?
            .into_iter()
            .collect();
        Ok(ids
            .iter()
            .filter(|id| members.contains(*id))
            .cloned()
            .collect())
    }

    fn user_index_all(
        &self,
        all: &[(String, String)],
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        if all.is_empty() || all.iter().any(|(a, k)| unstorable(a) || unstorable(k)) {
            return Ok(Vec::new());
        }
        // One join on the index, every term by its primary key, in user id order.
        let mut sql = String::from("SELECT t0.user_id FROM user_index t0");
        let mut args = params![all[0].0.clone(), all[0].1.clone()];
        for (i, (a, k)) in all.iter().enumerate().skip(1) {
            args.0.push(Box::new(a.clone()));
            args.0.push(Box::new(k.clone()));
            let n = args.0.len();
            sql.push_str(&format!(
                " JOIN user_index t{i} ON t{i}.user_id = t0.user_id AND t{i}.attr = ${} AND t{i}.value = ${n}",
                n - 1
            ));
        }
        sql.push_str(" WHERE t0.attr = $1 AND t0.value = $2");
        if let Some(a) = after {
            args.0.push(Box::new(a.to_owned()));
            sql.push_str(&format!(" AND t0.user_id > ${}", args.0.len()));
        }
        sql.push_str(&format!(" ORDER BY t0.user_id LIMIT {limit}"));
        self.run(move |c| {
            Ok(c.query(&*sql, &args.refs())?
                .iter()
                .map(|r| r.get(0))
                .collect())
        })
    }

    fn users_by_ids(&self, ids: &[String]) -> Result<Vec<User>, StoreError> {
        let wanted: Vec<String> = ids.iter().filter(|i| !unstorable(i)).cloned().collect();
        let mut found: HashMap<String, User> = self
            .records::<User>(
                "SELECT record FROM users WHERE id = ANY($1)",
                params![wanted],
            )?
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect();
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    fn delete_user(&self, user: &User) -> Result<(), StoreError> {
        self.delete_all(
            &[
                "DELETE FROM factors WHERE user_id = $1",
                "DELETE FROM consent_grants WHERE user_id = $1",
                "DELETE FROM group_members WHERE user_id = $1",
                "DELETE FROM app_users WHERE user_id = $1",
                "DELETE FROM user_index WHERE user_id = $1",
                "DELETE FROM admin_roles WHERE user_id = $1",
                "DELETE FROM api_tokens WHERE user_id = $1",
                "DELETE FROM idp_links WHERE user_id = $1",
                "DELETE FROM users WHERE id = $1",
            ],
            &user.id,
        )?;
        Ok(())
    }

    fn insert_session_token(
        &self,
        digest: &Digest,
        record: &SessionTokenRecord,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO session_tokens (digest, expires_at, record) VALUES ($1, $2, $3)
             ON CONFLICT (digest) DO UPDATE SET expires_at = EXCLUDED.expires_at, record = EXCLUDED.record",
            params![key(digest), record.expires_at.millis(), json(record)?],
        )?;
        Ok(())
    }

    fn take_session_token(
        &self,
        digest: &Digest,
    ) -> Result<Option<SessionTokenRecord>, StoreError> {
        self.record(
            "DELETE FROM session_tokens WHERE digest = $1 RETURNING record",
            params![key(digest)],
        )
    }

    fn save_transaction(
        &self,
        digest: &Digest,
        tx: &Transaction,
        expected: Option<u64>,
    ) -> Result<u64, StoreError> {
        let mut next = tx.clone();
        next.revision = expected.map_or(1, |r| r + 1);
        let rev = i64::try_from(next.revision).unwrap_or(i64::MAX);
        let touched = match expected {
            None => self.exec(
                "INSERT INTO authn_transactions (digest, rev, expires_at, record)
                 VALUES ($1, $2, $3, $4) ON CONFLICT (digest) DO NOTHING",
                params![key(digest), rev, next.expires_at.millis(), json(&next)?],
            )?,
            Some(read) => self.exec(
                "UPDATE authn_transactions SET rev = $2, expires_at = $3, record = $4
                 WHERE digest = $1 AND rev = $5",
                params![
                    key(digest),
                    rev,
                    next.expires_at.millis(),
                    json(&next)?,
                    i64::try_from(read).unwrap_or(i64::MAX)
                ],
            )?,
        };
        if touched == 1 {
            Ok(next.revision)
        } else {
            Err(StoreError::Conflict)
        }
    }

    fn transaction(&self, digest: &Digest) -> Result<Option<Transaction>, StoreError> {
        self.record(
            "SELECT record FROM authn_transactions WHERE digest = $1",
            params![key(digest)],
        )
    }

    fn take_transaction(
        &self,
        digest: &Digest,
        expected: Option<u64>,
    ) -> Result<Option<Transaction>, StoreError> {
        match expected {
            None => self.record(
                "DELETE FROM authn_transactions WHERE digest = $1 RETURNING record",
                params![key(digest)],
            ),
            Some(rev) => self.record(
                "DELETE FROM authn_transactions WHERE digest = $1 AND rev = $2 RETURNING record",
                params![key(digest), i64::try_from(rev).unwrap_or(i64::MAX)],
            ),
        }
    }

    fn put_recovery_token(
        &self,
        digest: &Digest,
        record: &RecoveryTokenRecord,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO recovery_tokens (digest, expires_at, record) VALUES ($1, $2, $3)
             ON CONFLICT (digest) DO UPDATE SET expires_at = EXCLUDED.expires_at, record = EXCLUDED.record",
            params![key(digest), record.expires_at.millis(), json(record)?],
        )?;
        Ok(())
    }

    fn take_recovery_token(
        &self,
        digest: &Digest,
    ) -> Result<Option<RecoveryTokenRecord>, StoreError> {
        self.record(
            "DELETE FROM recovery_tokens WHERE digest = $1 RETURNING record",
            params![key(digest)],
        )
    }

    fn put_factor(&self, factor: &Factor) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO factors (user_id, id, created, record) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, id) DO UPDATE SET record = EXCLUDED.record, rev = factors.rev + 1",
            params![
                factor.user_id.clone(),
                factor.id.clone(),
                factor.created.millis(),
                json(&sealed(factor, &self.sealer))?
            ],
        )?;
        Ok(())
    }

    fn modify_factor(
        &self,
        user_id: &str,
        factor_id: &str,
        change: &mut dyn FnMut(&mut Factor) -> bool,
    ) -> Result<Option<Factor>, StoreError> {
        let (user_id, factor_id) = (user_id.to_owned(), factor_id.to_owned());
        self.cas(
            |s| {
                let (u, f) = (user_id.clone(), factor_id.clone());
                s.run(move |c| {
                    Ok(c.query_opt(
                        "SELECT rev, record FROM factors WHERE user_id = $1 AND id = $2",
                        &[&u, &f],
                    )?
                    .map(|r| (r.get::<_, i64>(0), r.get::<_, Json<Value>>(1).0)))
                })
            },
            |s, rev, f: &Factor| {
                Ok(s.exec(
                    "UPDATE factors SET record = $1, rev = rev + 1
                     WHERE user_id = $2 AND id = $3 AND rev = $4",
                    params![
                        json(&sealed(f, &s.sealer))?,
                        user_id.clone(),
                        factor_id.clone(),
                        rev
                    ],
                )? == 1)
            },
            change,
        )
    }

    fn factor(&self, user_id: &str, factor_id: &str) -> Result<Option<Factor>, StoreError> {
        let found: Option<Factor> = self.record(
            "SELECT record FROM factors WHERE user_id = $1 AND id = $2",
            params![user_id.to_owned(), factor_id.to_owned()],
        )?;
        found.map(|f| opened(f, &self.sealer)).transpose()
    }

    fn factors(&self, user_id: &str) -> Result<Vec<Factor>, StoreError> {
        let found: Vec<Factor> = self.records(
            "SELECT record FROM factors WHERE user_id = $1 ORDER BY created, id",
            params![user_id.to_owned()],
        )?;
        self.all_opened(found)
    }

    fn delete_factor(&self, user_id: &str, factor_id: &str) -> Result<bool, StoreError> {
        Ok(self.exec(
            "DELETE FROM factors WHERE user_id = $1 AND id = $2",
            params![user_id.to_owned(), factor_id.to_owned()],
        )? == 1)
    }

    fn insert_session(&self, digest: &Digest, session: &Session) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO sessions (digest, id, user_id, expires_at, record) VALUES ($1, $2, $3, $4, $5)",
            params![
                key(digest),
                session.id.clone(),
                session.user_id.clone(),
                session.expires_at.millis(),
                json(session)?
            ],
        )?;
        Ok(())
    }

    fn modify_session(
        &self,
        digest: &Digest,
        change: &mut dyn FnMut(&mut Session) -> bool,
    ) -> Result<Option<Session>, StoreError> {
        let k = key(digest);
        self.cas(
            |s| s.read_rev("SELECT rev, record FROM sessions WHERE digest = $1", &k),
            |s, rev, session: &Session| {
                Ok(s.exec(
                    "UPDATE sessions SET expires_at = $1, record = $2, rev = rev + 1
                     WHERE digest = $3 AND rev = $4",
                    params![session.expires_at.millis(), json(session)?, k.clone(), rev],
                )? == 1)
            },
            change,
        )
    }

    fn session(&self, digest: &Digest) -> Result<Option<Session>, StoreError> {
        self.record(
            "SELECT record FROM sessions WHERE digest = $1",
            params![key(digest)],
        )
    }

    fn session_by_id(&self, id: &str) -> Result<Option<(Digest, Session)>, StoreError> {
        let id = id.to_owned();
        self.run(move |c| {
            let Some(row) =
                c.query_opt("SELECT digest, record FROM sessions WHERE id = $1", &[&id])?
            else {
                return Ok(None);
            };
            let raw: Vec<u8> = row.try_get(0)?;
            let digest = Digest::from_slice(&raw)
                .ok_or_else(|| StoreError::Corrupt("session digest".into()))?;
            Ok(Some((digest, decode(&row, 1)?)))
        })
    }

    fn delete_session(&self, digest: &Digest) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM sessions WHERE digest = $1",
            params![key(digest)],
        )?;
        Ok(())
    }

    fn insert_group(&self, group: &Group) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO groups (id, name_key, record) VALUES ($1, $2, $3)",
            params![group.id.clone(), name_key(&group.name), json(group)?],
        )?;
        Ok(())
    }

    fn update_group(&self, group: &Group, _old_name_key: &str) -> Result<(), StoreError> {
        self.exec(
            "UPDATE groups SET name_key = $1, record = $2 WHERE id = $3",
            params![name_key(&group.name), json(group)?, group.id.clone()],
        )?;
        Ok(())
    }

    fn group(&self, id: &str) -> Result<Option<Group>, StoreError> {
        if unstorable(id) {
            return Ok(None);
        }
        self.record(
            "SELECT record FROM groups WHERE id = $1",
            params![id.to_owned()],
        )
    }

    fn groups(&self) -> Result<Vec<Group>, StoreError> {
        self.records("SELECT record FROM groups ORDER BY id", params![])
    }

    fn delete_group(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.delete_all(
            &[
                "DELETE FROM group_members WHERE group_id = $1",
                "DELETE FROM app_groups WHERE group_id = $1",
                "DELETE FROM groups WHERE id = $1",
            ],
            id,
        )? == 1)
    }

    fn set_membership(
        &self,
        group_id: &str,
        user_id: &str,
        member: bool,
    ) -> Result<(), StoreError> {
        self.link(
            member,
            "INSERT INTO group_members (group_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            "DELETE FROM group_members WHERE group_id = $1 AND user_id = $2",
            group_id,
            user_id,
        )
    }

    fn members_of(&self, group_id: &str) -> Result<Vec<String>, StoreError> {
        self.texts(
            "SELECT user_id FROM group_members WHERE group_id = $1 ORDER BY user_id",
            params![group_id.to_owned()],
        )
    }

    fn groups_of(&self, user_id: &str) -> Result<Vec<String>, StoreError> {
        self.texts(
            "SELECT group_id FROM group_members WHERE user_id = $1 ORDER BY group_id",
            params![user_id.to_owned()],
        )
    }

    fn put_app(&self, app: &App) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO apps (id, record) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record",
            params![app.id.clone(), json(app)?],
        )?;
        self.app_changed(&app.id)
    }

    fn modify_app(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut App) -> bool,
    ) -> Result<Option<App>, StoreError> {
        let key = id.to_owned();
        let changed = self.cas(
            |s| s.read_rev("SELECT rev, record FROM apps WHERE id = $1", &key),
            |s, rev, a: &App| {
                Ok(s.exec(
                    "UPDATE apps SET record = $1, rev = rev + 1 WHERE id = $2 AND rev = $3",
                    params![json(a)?, key.clone(), rev],
                )? == 1)
            },
            change,
        )?;
        // Every node drops its cached copy (unchanged records are announced too: cheap, rare).
        if changed.is_some() {
            self.app_changed(id)?;
        }
        Ok(changed)
    }

    fn app(&self, id: &str) -> Result<Option<App>, StoreError> {
        if unstorable(id) {
            return Ok(None);
        }
        if let Some(known) = self.caches.apps.get(id) {
            return Ok(known);
        }
        let read_at = self.caches.apps.generation();
        let found: Option<App> = self.record(
            "SELECT record FROM apps WHERE id = $1",
            params![id.to_owned()],
        )?;
        // "No app behind this client" is the common answer: remembered too (bounded).
        self.caches.apps.keep(id, &found, read_at);
        Ok(found)
    }

    fn apps(&self) -> Result<Vec<App>, StoreError> {
        self.records("SELECT record FROM apps ORDER BY id", params![])
    }

    fn delete_app(&self, id: &str) -> Result<bool, StoreError> {
        let existed = self.delete_all(
            &[
                "DELETE FROM app_users WHERE app_id = $1",
                "DELETE FROM app_groups WHERE app_id = $1",
                "DELETE FROM apps WHERE id = $1",
            ],
            id,
        )? == 1;
        self.app_changed(id)?;
        Ok(existed)
    }

    fn assign_app_user(
        &self,
        app_id: &str,
        user_id: &str,
        assigned: bool,
    ) -> Result<(), StoreError> {
        self.link(
            assigned,
            "INSERT INTO app_users (app_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            "DELETE FROM app_users WHERE app_id = $1 AND user_id = $2",
            app_id,
            user_id,
        )
    }

    fn app_user_assigned(&self, app_id: &str, user_id: &str) -> Result<bool, StoreError> {
        Ok(!self
            .texts(
                "SELECT user_id FROM app_users WHERE app_id = $1 AND user_id = $2",
                params![app_id.to_owned(), user_id.to_owned()],
            )?
            .is_empty())
    }

    fn app_users(&self, app_id: &str) -> Result<Vec<String>, StoreError> {
        self.texts(
            "SELECT user_id FROM app_users WHERE app_id = $1 ORDER BY user_id",
            params![app_id.to_owned()],
        )
    }

    fn assign_app_group(
        &self,
        app_id: &str,
        group_id: &str,
        assigned: bool,
    ) -> Result<(), StoreError> {
        self.link(
            assigned,
            "INSERT INTO app_groups (app_id, group_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
            "DELETE FROM app_groups WHERE app_id = $1 AND group_id = $2",
            app_id,
            group_id,
        )
    }

    fn app_groups(&self, app_id: &str) -> Result<Vec<String>, StoreError> {
        self.texts(
            "SELECT group_id FROM app_groups WHERE app_id = $1 ORDER BY group_id",
            params![app_id.to_owned()],
        )
    }

    fn insert_trusted_origin(&self, origin: &TrustedOrigin) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO trusted_origins (id, origin, record) VALUES ($1, $2, $3)",
            params![origin.id.clone(), origin.origin.clone(), json(origin)?],
        )?;
        Ok(())
    }

    fn trusted_origin(&self, id: &str) -> Result<Option<TrustedOrigin>, StoreError> {
        self.record(
            "SELECT record FROM trusted_origins WHERE id = $1",
            params![id.to_owned()],
        )
    }

    fn trusted_origin_by_origin(&self, origin: &str) -> Result<Option<TrustedOrigin>, StoreError> {
        self.record(
            "SELECT record FROM trusted_origins WHERE origin = $1",
            params![origin.to_owned()],
        )
    }

    fn trusted_origins(&self) -> Result<Vec<TrustedOrigin>, StoreError> {
        self.records("SELECT record FROM trusted_origins ORDER BY id", params![])
    }

    fn delete_trusted_origin(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.exec(
            "DELETE FROM trusted_origins WHERE id = $1",
            params![id.to_owned()],
        )? == 1)
    }

    fn modify_trusted_origin(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut TrustedOrigin) -> bool,
    ) -> Result<Option<TrustedOrigin>, StoreError> {
        let id = id.to_owned();
        self.cas(
            |s| s.read_rev("SELECT rev, record FROM trusted_origins WHERE id = $1", &id),
            |s, rev, t: &TrustedOrigin| {
                // The origin column is UNIQUE: a taken origin is a Conflict.
                Ok(s.exec(
                    "UPDATE trusted_origins SET origin = $1, record = $2, rev = rev + 1
                     WHERE id = $3 AND rev = $4",
                    params![t.origin.clone(), json(t)?, id.clone(), rev],
                )? == 1)
            },
            change,
        )
    }

    fn insert_role(&self, assignment: &RoleAssignment) -> Result<(), StoreError> {
        let inserted = self.exec(
            "INSERT INTO admin_roles (user_id, role, id, record) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, role) DO NOTHING",
            params![
                assignment.user_id.clone(),
                assignment.role.as_str().to_owned(),
                assignment.id.clone(),
                json(assignment)?
            ],
        )?;
        if inserted == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    fn roles(&self, user_id: &str) -> Result<Vec<RoleAssignment>, StoreError> {
        self.records(
            "SELECT record FROM admin_roles WHERE user_id = $1 ORDER BY role",
            params![user_id.to_owned()],
        )
    }

    fn delete_role(&self, user_id: &str, id: &str) -> Result<bool, StoreError> {
        Ok(self.exec(
            "DELETE FROM admin_roles WHERE user_id = $1 AND id = $2",
            params![user_id.to_owned(), id.to_owned()],
        )? == 1)
    }

    fn insert_api_token(&self, token: &ApiToken) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO api_tokens (id, digest, user_id, record) VALUES ($1, $2, $3, $4)",
            params![
                token.id.clone(),
                key(&token.digest),
                token.user_id.clone(),
                json(token)?
            ],
        )?;
        Ok(())
    }

    fn api_token(&self, id: &str) -> Result<Option<ApiToken>, StoreError> {
        if unstorable(id) {
            return Ok(None);
        }
        self.record(
            "SELECT record FROM api_tokens WHERE id = $1",
            params![id.to_owned()],
        )
    }

    fn api_token_by_digest(&self, digest: &Digest) -> Result<Option<ApiToken>, StoreError> {
        self.record(
            "SELECT record FROM api_tokens WHERE digest = $1",
            params![key(digest)],
        )
    }

    fn api_tokens(&self) -> Result<Vec<ApiToken>, StoreError> {
        self.records("SELECT record FROM api_tokens ORDER BY id", params![])
    }

    fn modify_api_token(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut ApiToken) -> bool,
    ) -> Result<Option<ApiToken>, StoreError> {
        if unstorable(id) {
            return Ok(None);
        }
        let id = id.to_owned();
        self.cas(
            |s| s.read_rev("SELECT rev, record FROM api_tokens WHERE id = $1", &id),
            |s, rev, t: &ApiToken| {
                Ok(s.exec(
                    "UPDATE api_tokens SET record = $1, rev = rev + 1 WHERE id = $2 AND rev = $3",
                    params![json(t)?, id.clone(), rev],
                )? == 1)
            },
            change,
        )
    }

    fn delete_api_token(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.exec(
            "DELETE FROM api_tokens WHERE id = $1",
            params![id.to_owned()],
        )? == 1)
    }

    fn put_idp(&self, idp: &IdentityProvider) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO idps (id, record) VALUES ($1, $2)
             ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record, rev = idps.rev + 1",
            params![idp.id.clone(), json(&sealed(idp, &self.sealer))?],
        )?;
        Ok(())
    }

    fn idp(&self, id: &str) -> Result<Option<IdentityProvider>, StoreError> {
        if unstorable(id) {
            return Ok(None);
        }
        let found: Option<IdentityProvider> = self.record(
            "SELECT record FROM idps WHERE id = $1",
            params![id.to_owned()],
        )?;
        found.map(|i| opened(i, &self.sealer)).transpose()
    }

    fn idps(&self) -> Result<Vec<IdentityProvider>, StoreError> {
        self.records::<IdentityProvider>("SELECT record FROM idps ORDER BY id", params![])?
            .into_iter()
            .map(|i| opened(i, &self.sealer))
            .collect()
    }

    fn modify_idp(
        &self,
        id: &str,
        change: &mut dyn FnMut(&mut IdentityProvider) -> bool,
    ) -> Result<Option<IdentityProvider>, StoreError> {
        if unstorable(id) {
            return Ok(None);
        }
        let id = id.to_owned();
        self.cas(
            |s| s.read_rev("SELECT rev, record FROM idps WHERE id = $1", &id),
            |s, rev, i: &IdentityProvider| {
                Ok(s.exec(
                    "UPDATE idps SET record = $1, rev = rev + 1 WHERE id = $2 AND rev = $3",
                    params![json(&sealed(i, &s.sealer))?, id.clone(), rev],
                )? == 1)
            },
            change,
        )
    }

    fn delete_idp(&self, id: &str) -> Result<bool, StoreError> {
        if unstorable(id) {
            return Ok(false);
        }
        Ok(self.delete_all(
            &[
                "DELETE FROM idp_links WHERE idp_id = $1",
                "DELETE FROM idps WHERE id = $1",
            ],
            id,
        )? == 1)
    }

    fn link_idp_user(
        &self,
        idp_id: &str,
        external_id: &str,
        user_id: &str,
        replacing: Option<&str>,
    ) -> Result<bool, StoreError> {
        if [idp_id, external_id, user_id].into_iter().any(unstorable) {
            return Ok(false);
        }
        let (idp, ext, user) = (
            idp_id.to_owned(),
            external_id.to_owned(),
            user_id.to_owned(),
        );
        let rows = match replacing {
            None => self.exec(
                "INSERT INTO idp_links (idp_id, external_id, user_id) VALUES ($1, $2, $3)
                 ON CONFLICT DO NOTHING",
                params![idp, ext, user],
            )?,
            Some(old) => self.exec(
                "UPDATE idp_links SET user_id = $3
                 WHERE idp_id = $1 AND external_id = $2 AND user_id = $4",
                params![idp, ext, user, old.to_owned()],
            )?,
        };
        Ok(rows == 1)
    }

    fn idp_user(&self, idp_id: &str, external_id: &str) -> Result<Option<String>, StoreError> {
        if unstorable(idp_id) || unstorable(external_id) {
            return Ok(None);
        }
        Ok(self
            .texts(
                "SELECT user_id FROM idp_links WHERE idp_id = $1 AND external_id = $2",
                params![idp_id.to_owned(), external_id.to_owned()],
            )?
            .pop())
    }

    fn append_log(&self, events: &[LogEvent]) -> Result<(), StoreError> {
        let rows = log_rows(events)?;
        self.run(move |c| {
            let mut tx = c.transaction()?;
            // As on sled, an answer carrying only log events does not wait for the WAL flush.
            tx.batch_execute("SET LOCAL synchronous_commit = off")?;
            write_log(&mut tx, &rows)?;
            tx.commit()?;
            Ok(())
        })
    }

    fn log_events(
        &self,
        since: Timestamp,
        until: Timestamp,
        after: Option<&str>,
        descending: bool,
        limit: usize,
    ) -> Result<Vec<LogEvent>, StoreError> {
        let (cmp, order) = if descending {
            ("<", "DESC")
        } else {
            (">", "ASC")
        };
        let mut sql =
            String::from("SELECT record FROM system_log WHERE published >= $1 AND published < $2");
        let mut args = params![since.millis(), until.millis()];
        if let Some((ms, uuid)) = after.and_then(super::log_position) {
            if unstorable(uuid) {
                return Ok(Vec::new());
            }
            args.0.push(Box::new(ms));
            args.0.push(Box::new(uuid.to_owned()));
            sql.push_str(&format!(" AND (published, uuid) {cmp} ($3, $4)"));
        }
        sql.push_str(&format!(
            " ORDER BY published {order}, uuid {order} LIMIT {limit}"
        ));
        self.records(sql, args)
    }

    fn sweep_log(&self, before: Timestamp) -> Result<usize, StoreError> {
        let removed = self.exec(
            "DELETE FROM system_log WHERE published < $1",
            params![before.millis()],
        )?;
        Ok(usize::try_from(removed).unwrap_or(usize::MAX))
    }

    fn signing_keys(&self, server: &str) -> Result<Vec<KeyRecord>, StoreError> {
        let found: Vec<KeyRecord> = self.records(
            "SELECT record FROM signing_keys WHERE server = $1 ORDER BY kid",
            params![server.to_owned()],
        )?;
        self.all_opened(found)
    }

    fn put_signing_key(&self, server: &str, key: &KeyRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO signing_keys (server, kid, record) VALUES ($1, $2, $3)
             ON CONFLICT (server, kid) DO UPDATE SET record = EXCLUDED.record",
            params![
                server.to_owned(),
                key.kid.clone(),
                json(&sealed(key, &self.sealer))?
            ],
        )?;
        Ok(())
    }

    fn put_client(&self, client: &OAuthClient) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO clients (client_id, record) VALUES ($1, $2)
             ON CONFLICT (client_id) DO UPDATE SET record = EXCLUDED.record",
            params![
                client.client_id.clone(),
                json(&sealed(client, &self.sealer))?
            ],
        )?;
        self.client_changed(&client.client_id)
    }

    fn client(&self, client_id: &str) -> Result<Option<OAuthClient>, StoreError> {
        if unstorable(client_id) {
            return Ok(None);
        }
        if let Some(Some(c)) = self.caches.clients.get(client_id) {
            return Ok(Some(c));
        }
        let read_at = self.caches.clients.generation();
        let found: Option<OAuthClient> = self.record(
            "SELECT record FROM clients WHERE client_id = $1",
            params![client_id.to_owned()],
        )?;
        let found = found.map(|c| opened(c, &self.sealer)).transpose()?;
        // Unknown ids are not remembered: anyone can send them.
        if found.is_some() {
            self.caches.clients.keep(client_id, &found, read_at);
        }
        Ok(found)
    }

    fn clients(&self) -> Result<Vec<OAuthClient>, StoreError> {
        let found = self.records("SELECT record FROM clients ORDER BY client_id", params![])?;
        self.all_opened(found)
    }

    fn delete_client(&self, client_id: &str) -> Result<bool, StoreError> {
        let existed = self.exec(
            "DELETE FROM clients WHERE client_id = $1",
            params![client_id.to_owned()],
        )? == 1;
        self.client_changed(client_id)?;
        Ok(existed)
    }

    fn put_pushed_request(
        &self,
        digest: &Digest,
        request: &PushedRequest,
    ) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO pushed_requests (digest, expires_at, record) VALUES ($1, $2, $3)
             ON CONFLICT (digest) DO UPDATE SET expires_at = EXCLUDED.expires_at, record = EXCLUDED.record",
            params![
                key(digest),
                request.expires_at.millis(),
                json(&sealed(request, &self.sealer))?
            ],
        )?;
        Ok(())
    }

    fn pushed_request(&self, digest: &Digest) -> Result<Option<PushedRequest>, StoreError> {
        let found: Option<PushedRequest> = self.record(
            "SELECT record FROM pushed_requests WHERE digest = $1",
            params![key(digest)],
        )?;
        found.map(|r| opened(r, &self.sealer)).transpose()
    }

    fn take_pushed_request(&self, digest: &Digest) -> Result<Option<PushedRequest>, StoreError> {
        let taken: Option<PushedRequest> = self.record(
            "DELETE FROM pushed_requests WHERE digest = $1 RETURNING record",
            params![key(digest)],
        )?;
        taken.map(|r| opened(r, &self.sealer)).transpose()
    }

    fn put_code(&self, digest: &Digest, code: &CodeRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO auth_codes (digest, used, expires_at, record) VALUES ($1, $2, $3, $4)
             ON CONFLICT (digest) DO UPDATE SET used = EXCLUDED.used,
                expires_at = EXCLUDED.expires_at, record = EXCLUDED.record",
            params![
                key(digest),
                code.used,
                code.expires_at.millis(),
                json(code)?
            ],
        )?;
        Ok(())
    }

    fn use_code(&self, digest: &Digest) -> Result<CodeUse, StoreError> {
        let k = key(digest);
        self.run(move |c| {
            // The row lock makes parallel redemptions of one code take turns.
            let mut tx = c.transaction()?;
            let Some(row) = tx.query_opt(
                "SELECT used, record FROM auth_codes WHERE digest = $1 FOR UPDATE",
                &[&k],
            )?
            else {
                return Ok(CodeUse::Missing);
            };
            let used: bool = row.try_get(0)?;
            let mut record: CodeRecord = decode(&row, 1)?;
            if used {
                return Ok(CodeUse::Replayed(record));
            }
            record.used = true;
            tx.execute(
                "UPDATE auth_codes SET used = true, record = $2 WHERE digest = $1",
                &[&k, &json(&record)?],
            )?;
            tx.commit()?;
            Ok(CodeUse::Fresh(record))
        })
    }

    fn put_refresh(&self, digest: &Digest, record: &RefreshRecord) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO refresh_tokens (digest, user_id, client_id, expires_at, record)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (digest) DO UPDATE SET expires_at = EXCLUDED.expires_at,
                record = EXCLUDED.record, rev = refresh_tokens.rev + 1",
            params![
                key(digest),
                record.user_id.as_str().to_owned(),
                record.client_id.as_str().to_owned(),
                record.expires_at.millis(),
                json(record)?
            ],
        )?;
        Ok(())
    }

    fn refresh(&self, digest: &Digest) -> Result<Option<RefreshRecord>, StoreError> {
        self.record(
            "SELECT record FROM refresh_tokens WHERE digest = $1",
            params![key(digest)],
        )
    }

    fn modify_refresh(
        &self,
        digest: &Digest,
        change: &mut dyn FnMut(&mut RefreshRecord) -> bool,
    ) -> Result<Option<RefreshRecord>, StoreError> {
        let k = key(digest);
        self.cas(
            |s| {
                s.read_rev(
                    "SELECT rev, record FROM refresh_tokens WHERE digest = $1",
                    &k,
                )
            },
            |s, rev, r: &RefreshRecord| {
                Ok(s.exec(
                    "UPDATE refresh_tokens SET expires_at = $1, record = $2, rev = rev + 1
                     WHERE digest = $3 AND rev = $4",
                    params![r.expires_at.millis(), json(r)?, k.clone(), rev],
                )? == 1)
            },
            change,
        )
    }

    fn delete_refresh(&self, digest: &Digest) -> Result<(), StoreError> {
        self.exec(
            "DELETE FROM refresh_tokens WHERE digest = $1",
            params![key(digest)],
        )?;
        Ok(())
    }

    fn refresh_tokens_where(
        &self,
        keep: &dyn Fn(&RefreshRecord) -> bool,
    ) -> Result<Vec<(Digest, RefreshRecord)>, StoreError> {
        let rows: Vec<(Vec<u8>, RefreshRecord)> = self.run(|c| {
            c.query("SELECT digest, record FROM refresh_tokens", &[])?
                .iter()
                .map(|r| Ok((r.try_get(0)?, decode(r, 1)?)))
                .collect()
        })?;
        let mut out = Vec::new();
        for (raw, record) in rows {
            if keep(&record) {
                let digest = Digest::from_slice(&raw)
                    .ok_or_else(|| StoreError::Corrupt("refresh token key".into()))?;
                out.push((digest, record));
            }
        }
        Ok(out)
    }

    fn auth_servers(&self) -> Result<Vec<AuthServer>, StoreError> {
        self.records(
            "SELECT record FROM auth_servers ORDER BY created, id",
            params![],
        )
    }

    fn auth_server(&self, id: &str) -> Result<Option<AuthServer>, StoreError> {
        self.record(
            "SELECT record FROM auth_servers WHERE id = $1",
            params![id.to_owned()],
        )
    }

    fn save_auth_server(
        &self,
        server: &AuthServer,
        expected: Option<u64>,
    ) -> Result<(), StoreError> {
        let mut next = server.clone();
        next.revision = expected.map_or(0, |r| r + 1);
        let rev = i64::try_from(next.revision).unwrap_or(i64::MAX);
        let touched = match expected {
            None => self.exec(
                "INSERT INTO auth_servers (id, rev, created, record) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (id) DO NOTHING",
                params![
                    server.id.clone(),
                    rev,
                    server.created.millis(),
                    json(&next)?
                ],
            )?,
            Some(read) => self.exec(
                "UPDATE auth_servers SET rev = $2, record = $3 WHERE id = $1 AND rev = $4",
                params![
                    server.id.clone(),
                    rev,
                    json(&next)?,
                    i64::try_from(read).unwrap_or(i64::MAX)
                ],
            )?,
        };
        if touched == 1 {
            Ok(())
        } else {
            Err(StoreError::Conflict)
        }
    }

    fn delete_auth_server(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.delete_all(
            &[
                "DELETE FROM signing_keys WHERE server = $1",
                "DELETE FROM auth_servers WHERE id = $1",
            ],
            id,
        )? == 1)
    }

    fn put_grant(&self, grant: &Grant) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO consent_grants (user_id, id, created, record) VALUES ($1, $2, $3, $4)
             ON CONFLICT (user_id, id) DO UPDATE SET record = EXCLUDED.record",
            params![
                grant.user_id.as_str().to_owned(),
                grant.id.clone(),
                grant.created.millis(),
                json(grant)?
            ],
        )?;
        Ok(())
    }

    fn grants(&self, user_id: &str) -> Result<Vec<Grant>, StoreError> {
        self.records(
            "SELECT record FROM consent_grants WHERE user_id = $1 ORDER BY created, id",
            params![user_id.to_owned()],
        )
    }

    fn delete_grant(&self, user_id: &str, grant_id: &str) -> Result<bool, StoreError> {
        Ok(self.exec(
            "DELETE FROM consent_grants WHERE user_id = $1 AND id = $2",
            params![user_id.to_owned(), grant_id.to_owned()],
        )? == 1)
    }

    fn revoke(&self, key: &str, until: Timestamp) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO revoked (key, until) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET until = GREATEST(revoked.until, EXCLUDED.until)",
            params![key.to_owned(), until.millis()],
        )?;
        self.revocation_changed(key)
    }

    fn is_revoked(&self, key: &str) -> Result<bool, StoreError> {
        // Asked of the ids of tokens whose signature already verified: not an outsider's choice.
        if let Some(known) = self.caches.revoked.get(key) {
            return Ok(known.is_some());
        }
        let read_at = self.caches.revoked.generation();
        let revoked = !self
            .texts(
                "SELECT key FROM revoked WHERE key = $1",
                params![key.to_owned()],
            )?
            .is_empty();
        self.caches
            .revoked
            .keep(key, &revoked.then_some(()), read_at);
        Ok(revoked)
    }

    fn spend_once(&self, key: &str, until: Timestamp) -> Result<bool, StoreError> {
        let spent = self.exec(
            "INSERT INTO revoked (key, until) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
            params![key.to_owned(), until.millis()],
        )? == 1;
        if spent {
            self.revocation_changed(key)?;
        }
        Ok(spent)
    }

    fn meta(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .texts(
                "SELECT value FROM meta WHERE key = $1",
                params![key.to_owned()],
            )?
            .pop())
    }

    fn set_meta(&self, key: &str, value: &str) -> Result<(), StoreError> {
        self.exec(
            "INSERT INTO meta (key, value) VALUES ($1, $2)
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            params![key.to_owned(), value.to_owned()],
        )?;
        Ok(())
    }

    fn modify_meta(
        &self,
        key: &str,
        change: &mut dyn FnMut(Option<&str>) -> Option<String>,
    ) -> Result<Option<String>, StoreError> {
        // Compare-and-swap on the value read: insert when unset, update when unchanged.
        loop {
            let current = self.meta(key)?;
            let Some(next) = change(current.as_deref()) else {
                return Ok(current);
            };
            let hit = match &current {
                None => self.exec(
                    "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING",
                    params![key.to_owned(), next.clone()],
                )?,
                Some(old) => self.exec(
                    "UPDATE meta SET value = $2 WHERE key = $1 AND value = $3",
                    params![key.to_owned(), next.clone(), old.clone()],
                )?,
            };
            if hit == 1 {
                return Ok(Some(next));
            }
        }
    }

    fn sweep_expired(&self, now: Timestamp) -> Result<usize, StoreError> {
        let now = now.millis();
        self.run(move |c| {
            let mut removed = 0;
            for sql in [
                "DELETE FROM session_tokens WHERE expires_at <= $1",
                "DELETE FROM sessions WHERE expires_at <= $1",
                "DELETE FROM authn_transactions WHERE expires_at <= $1",
                "DELETE FROM recovery_tokens WHERE expires_at <= $1",
                "DELETE FROM auth_codes WHERE expires_at <= $1",
                "DELETE FROM pushed_requests WHERE expires_at <= $1",
                "DELETE FROM refresh_tokens WHERE expires_at <= $1",
                "DELETE FROM revoked WHERE until <= $1",
                "DELETE FROM rate_counters WHERE window_start < $1 - 120000",
            ] {
                removed += c.execute(sql, &[&now])?;
            }
            Ok(usize::try_from(removed).unwrap_or(usize::MAX))
        })
    }

    fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    fn group_commit(&self) -> Option<&GroupCommit> {
        None
    }

    fn check(&self) -> Result<(), StoreError> {
        self.run(|c| {
            c.simple_query("SELECT 1")?;
            Ok(())
        })
    }

    fn export(
        &self,
        sink: &mut dyn FnMut(Record) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        for u in self.records("SELECT record FROM users ORDER BY id", params![])? {
            sink(Record::User(u))?;
        }
        let factors = self.records("SELECT record FROM factors", params![])?;
        for f in self.all_opened(factors)? {
            sink(Record::Factor(f))?;
        }
        for g in self.groups()? {
            sink(Record::Group(g))?;
        }
        for (group_id, user_id) in self.pairs("SELECT group_id, user_id FROM group_members")? {
            sink(Record::Membership { group_id, user_id })?;
        }
        for a in self.apps()? {
            sink(Record::App(a))?;
        }
        for (app_id, user_id) in self.pairs("SELECT app_id, user_id FROM app_users")? {
            sink(Record::AppUser { app_id, user_id })?;
        }
        for (app_id, group_id) in self.pairs("SELECT app_id, group_id FROM app_groups")? {
            sink(Record::AppGroup { app_id, group_id })?;
        }
        for t in self.trusted_origins()? {
            sink(Record::TrustedOrigin(t))?;
        }
        for r in self.records(
            "SELECT record FROM admin_roles ORDER BY user_id, role",
            params![],
        )? {
            sink(Record::Role(r))?;
        }
        for t in self.api_tokens()? {
            sink(Record::ApiToken(t))?;
        }
        for i in self.idps()? {
            sink(Record::Idp(i))?;
        }
        let links = self.run(|c| {
            Ok(
                c.query("SELECT idp_id, external_id, user_id FROM idp_links", &[])?
                    .iter()
                    .map(|r| {
                        (
                            r.get::<_, String>(0),
                            r.get::<_, String>(1),
                            r.get::<_, String>(2),
                        )
                    })
                    .collect::<Vec<_>>(),
            )
        })?;
        for (idp_id, external_id, user_id) in links {
            sink(Record::IdpLink {
                idp_id,
                external_id,
                user_id,
            })?;
        }
        let keys: Vec<(String, KeyRecord)> = self.run(|c| {
            c.query("SELECT server, record FROM signing_keys", &[])?
                .iter()
                .map(|r| Ok((r.try_get(0)?, decode(r, 1)?)))
                .collect()
        })?;
        for (server, key) in keys {
            let key = opened(key, &self.sealer)?;
            sink(Record::SigningKey { server, key })?;
        }
        for c in self.clients()? {
            sink(Record::Client(c))?;
        }
        for s in self.auth_servers()? {
            sink(Record::AuthServer(s))?;
        }
        for g in self.records("SELECT record FROM consent_grants", params![])? {
            sink(Record::Grant(g))?;
        }
        for (d, s) in self.by_digest("SELECT digest, record FROM sessions")? {
            sink(Record::Session(d, s))?;
        }
        for (d, t) in self.by_digest("SELECT digest, record FROM session_tokens")? {
            sink(Record::SessionToken(d, t))?;
        }
        for (d, t) in self.by_digest("SELECT digest, record FROM authn_transactions")? {
            sink(Record::Transaction(d, t))?;
        }
        for (d, r) in self.by_digest("SELECT digest, record FROM recovery_tokens")? {
            sink(Record::RecoveryToken(d, r))?;
        }
        for (d, c) in self.by_digest("SELECT digest, record FROM auth_codes")? {
            sink(Record::Code(d, c))?;
        }
        for (d, r) in self.by_digest("SELECT digest, record FROM pushed_requests")? {
            sink(Record::PushedRequest(d, opened(r, &self.sealer)?))?;
        }
        for (d, r) in self.by_digest("SELECT digest, record FROM refresh_tokens")? {
            sink(Record::Refresh(d, r))?;
        }
        let revoked: Vec<(String, i64)> = self.run(|c| {
            c.query("SELECT key, until FROM revoked", &[])?
                .iter()
                .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
                .collect()
        })?;
        for (key, until) in revoked {
            sink(Record::Revoked {
                key,
                until: Timestamp::from_millis(until),
            })?;
        }
        for (key, value) in self.pairs("SELECT key, value FROM meta")? {
            sink(Record::Meta { key, value })?;
        }
        Ok(())
    }

    fn announce(&self, topic: &str) -> Result<(), StoreError> {
        self.exec(
            "SELECT pg_notify($1, $2)",
            params![CHANNEL.to_owned(), topic.to_owned()],
        )?;
        Ok(())
    }

    fn listen(&self, listener: super::Listener) -> Result<(), StoreError> {
        let (config, closed, cache) = (
            self.config.clone(),
            self.closed.clone(),
            self.caches.clone(),
        );
        std::thread::Builder::new()
            .name("pg-listen".into())
            .spawn(move || listen_loop(&config, &listener, &closed, &cache))
            .map_err(|e| StoreError::Backend(format!("cannot start the listener: {e}")))?;
        Ok(())
    }

    fn lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> Result<bool, StoreError> {
        Ok(self.exec(
            "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $4)
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until = EXCLUDED.until
             WHERE leases.holder = EXCLUDED.holder OR leases.until <= $3",
            params![
                name.to_owned(),
                holder.to_owned(),
                now.millis(),
                until.millis()
            ],
        )? == 1)
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn count_hit(&self, key: &str, window: i64) -> Result<Option<u32>, StoreError> {
        let key = key.to_owned();
        self.run(move |c| {
            let row = c.query_one(
                "INSERT INTO rate_counters (key, window_start, hits) VALUES ($1, $2, 1)
                 ON CONFLICT (key, window_start) DO UPDATE SET hits = rate_counters.hits + 1
                 RETURNING hits",
                &[&key, &window],
            )?;
            let hits: i32 = row.try_get(0)?;
            Ok(Some(u32::try_from(hits).unwrap_or(0)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::conformance;

    fn fresh() -> Option<PgSettings> {
        conformance::fresh_postgres()
    }

    fn open(settings: &PgSettings) -> Arc<dyn Store> {
        Arc::new(PgStore::open(settings).unwrap())
    }

    #[test]
    fn conformance_modify_user_loses_no_update() {
        if let Some(s) = fresh() {
            conformance::modify_user_loses_no_update(open(&s));
        }
    }

    #[test]
    fn conformance_modify_user_moves_the_login_index() {
        if let Some(s) = fresh() {
            conformance::modify_user_moves_the_login_index(open(&s));
        }
    }

    #[test]
    fn conformance_modify_app_loses_no_update() {
        if let Some(s) = fresh() {
            conformance::modify_app_loses_no_update(open(&s));
        }
    }

    #[test]
    fn conformance_modify_trusted_origin_moves_the_origin_index() {
        if let Some(s) = fresh() {
            conformance::modify_trusted_origin_moves_the_origin_index(open(&s));
        }
    }

    #[test]
    fn conformance_idps_change_atomically_and_link_once() {
        if let Some(s) = fresh() {
            conformance::idps_change_atomically_and_link_once(open(&s));
        }
    }

    #[test]
    fn conformance_a_transaction_moves_on_once_and_ends_once() {
        if let Some(s) = fresh() {
            conformance::a_transaction_moves_on_once_and_ends_once(open(&s));
        }
    }

    #[test]
    fn conformance_single_use_values_are_spent_once() {
        if let Some(s) = fresh() {
            conformance::single_use_values_are_spent_once(open(&s));
        }
    }

    #[test]
    fn conformance_log_events_are_stored_with_the_user_change_they_record() {
        if let Some(s) = fresh() {
            conformance::log_events_are_stored_with_the_user_change_they_record(open(&s));
        }
    }

    #[test]
    fn conformance_user_filters_match_prefixes_and_statuses() {
        if let Some(s) = fresh() {
            conformance::user_filters_match_prefixes_and_statuses(open(&s));
        }
    }

    #[test]
    fn conformance_flushed_writes_survive_reopening() {
        if let Some(s) = fresh() {
            conformance::flushed_writes_survive_reopening(|| open(&s));
        }
    }

    #[test]
    fn migrations_are_applied_once_even_when_nodes_start_together() {
        let Some(s) = fresh() else { return };
        let starts: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || PgStore::open(&s).map(|_| ()))
            })
            .collect();
        for t in starts {
            t.join().unwrap().unwrap();
        }
        let mut c = Client::connect(&s.url, NoTls).unwrap();
        let n: i64 = c
            .query_one("SELECT count(*) FROM schema_migrations", &[])
            .unwrap()
            .get(0);
        assert_eq!(n, MIGRATIONS.len() as i64);
    }
}
