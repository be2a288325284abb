//! Portcullis: a self-hosted identity server compatible with Okta's APIs. This crate is the
//! edge: HTTP, settings, mail delivery and `main`; the protocol lives in `portcullis-core`.
//!
//! - `http`: axum handlers, thin. They parse the request, run a core function (on the
//!   blocking pool when it touches the store), and map its result enum to a response in the
//!   protocol's format. No protocol decision lives here.
//! - the cores, re-exported from `portcullis-core` under their own names: `authn`, `oauth`,
//!   `authz`, `directory`, `records`, `store`, `crypto`, `clock`, `paths` (see that crate).
//! - `config`, `mail`, `demo`: settings, SMTP delivery, the demo org.
#![deny(clippy::unwrap_used, clippy::expect_used)]

pub mod config;
pub mod demo;
pub mod http;
pub mod mail;

// The cores live in their own crate; they keep their paths here, so `crate::authn` in the
// edge and `portcullis::authn` in the tests name the same module.
pub use portcullis_core::{
    audit, authn, authz, clock, crypto, directory, oauth, paths, records, store,
};

use config::Config;
use std::sync::Arc;
use std::time::Duration;
use store::{SledStore, Store};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot open the data directory {dir}: {reason}")]
    Store { dir: String, reason: String },
    #[error("cannot use the database (setting `database_url`): {0}")]
    Database(String),
    #[error("cannot set up password hashing: {0}")]
    Hash(String),
    #[error("invalid SMTP settings: {0}")]
    Mail(String),
    #[error("cannot load or create the signing keys: {0}")]
    Keys(String),
    #[error("cannot open the encrypted secrets: {0}")]
    Secrets(String),
}

/// PostgreSQL when a database URL is set, else sled in the data directory (which a running
/// Portcullis holds: commands that open it run while the server is stopped).
pub fn open_store(
    config: &Config,
    sealer: &store::sealing::Sealer,
) -> Result<Arc<dyn Store>, StartError> {
    let store: Arc<dyn Store> =
        match &config.database {
            Some(db) => {
                let store =
                    store::PgStore::open(db).map_err(|e| StartError::Database(e.to_string()))?;
                Arc::new(store.sealing_with(sealer.clone()))
            }
            None => {
                let store = SledStore::open_with_cache(&config.data_dir, config.cache_bytes)
                    .map_err(|e| StartError::Store {
                        dir: config.data_dir.display().to_string(),
                        reason: e.to_string(),
                    })?;
                Arc::new(store.sealing_with(sealer.clone()))
            }
        };
    store::sealing::prepare(store.as_ref(), sealer)
        .map_err(|e| StartError::Secrets(e.to_string()))?;
    Ok(store)
}

/// The keyring for secrets at rest, from the master key settings.
pub fn sealer(config: &Config) -> Result<store::sealing::Sealer, StartError> {
    config
        .master_keys
        .as_ref()
        .map(|k| k.keyring().map(Arc::new))
        .transpose()
        .map_err(|e| StartError::Secrets(e.to_string()))
}

/// Opens the store and builds the router and its state from validated settings.
pub fn build(config: &Config) -> Result<(axum::Router, http::AppState), StartError> {
    // Leptos spawns its rendering work on a global executor; an error only means it is set.
    let _ = any_spawner::Executor::init_tokio();
    let sealer = sealer(config)?;
    let store = open_store(config, &sealer)?;
    let csrf = crypto::csrf::CsrfKey::load(store.as_ref(), sealer.as_deref())
        .map_err(|e| StartError::Secrets(e.to_string()))?;
    let keys =
        oauth::keys::KeyRing::load(store.as_ref(), oauth::ORG_SERVER, clock::Timestamp::now())
            .map_err(|e| StartError::Keys(e.to_string()))?;
    authz::servers::ensure_default(store.as_ref(), clock::Timestamp::now())
        .map_err(|e| StartError::Keys(e.to_string()))?;
    // The default server's first key is made now, before any request can race to make it.
    if store
        .auth_server(authz::DEFAULT_SERVER)
        .map_err(|e| StartError::Keys(e.to_string()))?
        .is_some()
    {
        oauth::keys::KeyRing::load(
            store.as_ref(),
            authz::DEFAULT_SERVER,
            clock::Timestamp::now(),
        )
        .map_err(|e| StartError::Keys(e.to_string()))?;
    }
    let brand = directory::branding::saved(store.as_ref())
        .ok()
        .flatten()
        .unwrap_or_else(|| config.brand.clone());
    let hasher = crypto::PasswordHasher::with_pool(
        argon2::Params::DEFAULT_M_COST,
        argon2::Params::DEFAULT_T_COST,
        1,
        config.hash_pool,
    )
    .map_err(|e| StartError::Hash(e.to_string()))?;
    let leptos = leptos::config::LeptosOptions::builder()
        .output_name("portcullis")
        .site_root(config.site_dir.display().to_string())
        .site_pkg_dir("pkg")
        .build();
    let state = http::AppState::new(http::Services {
        store: store.clone(),
        hasher,
        policy: directory::PasswordPolicy {
            min_length: config.password_min_length,
            history_count: config.password_history,
            max_age_days: config.password_max_age_days,
            expire_warn_days: config.password_warn_days,
            ..directory::PasswordPolicy::default()
        },
        authn: authn::AuthnSettings {
            max_failed_attempts: config.max_failed_attempts,
            mfa_enrollment: config.mfa_enrollment,
            factor_policy: config.mfa_factors.clone(),
            email_factor: config.smtp.is_some(),
            show_lockout: config.show_lockout,
            ..authn::AuthnSettings::default()
        },
        registration: config.registration.clone(),
        sessions: authn::SessionSettings::default(),
        base_url: config.base_url.clone(),
        secure_cookies: config.base_url.starts_with("https://"),
        admin_token: config
            .bootstrap_api_token
            .as_ref()
            .map(crypto::Secret::digest),
        site_dir: config.site_dir.clone(),
        leptos,
        keys: std::sync::RwLock::new(Arc::new(keys)),
        server_keys: std::sync::RwLock::default(),
        key_rotation_days: config.key_rotation_days,
        log_retention_days: config.log_retention_days,
        brand: std::sync::RwLock::new(brand),
        key_creation: std::sync::Mutex::default(),
        idp_keys: Default::default(),
        draining: std::sync::atomic::AtomicBool::new(false),
        node_id: crypto::new_id("node"),
        csrf,
        log_sink: http::audit_log::LogSink::start(&store).map_err(|e| StartError::Store {
            dir: config.data_dir.display().to_string(),
            reason: format!("cannot start the System Log writer: {e}"),
        })?,
        tokens: oauth::tokens::TokenSettings {
            access_ttl: Duration::from_secs(u64::from(config.access_token_minutes) * 60),
            id_ttl: Duration::from_secs(u64::from(config.id_token_minutes) * 60),
            refresh_ttl: Duration::from_secs(u64::from(config.refresh_token_days) * 86_400),
            ..oauth::tokens::TokenSettings::default()
        },
        limiter: http::rate_limit::RateLimiter::new(http::rate_limit::Limits {
            per_ip_per_minute: config.rate_limit_per_ip,
            per_user_per_minute: config.rate_limit_per_user,
        })
        .counting_in(store.clone()),
        mailer: mail::Mailer::new(config.smtp.as_ref())
            .map_err(|e| StartError::Mail(e.to_string()))?,
    });
    Ok((http::router(state.clone()), state))
}

/// How long a replaced signing key stays published: past the life of any token it signed.
pub fn keep_rotated_keys(tokens: &oauth::tokens::TokenSettings) -> Duration {
    let longest_access = Duration::from_secs(u64::from(authz::servers::ACCESS_MINUTES.1) * 60);
    tokens.access_ttl.max(tokens.id_ttl).max(longest_access) + Duration::from_secs(3600)
}

/// Rotates each authorization server's signing key once it is older than `max_age` (custom
/// servers only when their rotation mode is AUTO), checking hourly. A replaced key stays
/// published until every token it signed has expired.
pub fn spawn_key_rotation(state: http::AppState, max_age: Duration) {
    tokio::spawn(async move {
        let period = Duration::from_secs(3600);
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            let worker = state.clone();
            let done = tokio::task::spawn_blocking(move || {
                // One node of a cluster rotates; the lease passes on if that node goes away.
                if holds_lease(&worker, "key-rotation", period) {
                    rotate_due(&worker, max_age);
                }
            })
            .await;
            if let Err(e) = done {
                tracing::error!(error = %e, "key rotation task failed");
            }
        }
    });
}

/// One pass of automatic rotation over the org server and the custom servers.
pub fn rotate_due(state: &http::Services, max_age: Duration) {
    let now = clock::Timestamp::now();
    let keep = keep_rotated_keys(&state.tokens);
    let store = state.store.as_ref();
    if state.keys().active_since().plus(max_age) <= now {
        match oauth::keys::KeyRing::rotate(store, oauth::ORG_SERVER, now, keep) {
            Ok(ring) => {
                tracing::info!(kid = %ring.signer().kid, "rotated the org signing key");
                if let Ok(mut keys) = state.keys.write() {
                    *keys = Arc::new(ring);
                }
                state.announce(&http::keys_topic(oauth::ORG_SERVER));
            }
            Err(e) => tracing::error!(error = %e, "key rotation failed"),
        }
    }
    let servers = match store.auth_servers() {
        Ok(s) => s,
        Err(e) => {
            tracing::error!(error = %e, "listing authorization servers for key rotation failed");
            return;
        }
    };
    for server in servers {
        if server.rotation_mode != authz::RotationMode::Auto {
            continue;
        }
        let due = match state.load_ring(&server.id) {
            Ok(ring) => ring.active_since().plus(max_age) <= now,
            Err(e) => {
                tracing::error!(server = %server.id, error = %e, "loading signing keys failed");
                continue;
            }
        };
        if !due {
            continue;
        }
        match oauth::keys::KeyRing::rotate(store, &server.id, now, keep) {
            Ok(ring) => {
                tracing::info!(server = %server.id, kid = %ring.signer().kid, "rotated a signing key");
                state.set_ring(&server.id, Some(Arc::new(ring)));
                state.announce(&http::keys_topic(&server.id));
            }
            Err(e) => tracing::error!(server = %server.id, error = %e, "key rotation failed"),
        }
    }
}

/// Whether this node holds (or now takes) the cluster-wide lease `name` for two periods.
fn holds_lease(state: &http::Services, name: &str, period: Duration) -> bool {
    let now = clock::Timestamp::now();
    match state
        .store
        .lease(name, &state.node_id, now, now.plus(period * 2))
    {
        Ok(held) => held,
        Err(e) => {
            tracing::warn!(error = %e, job = name, "cannot take the job's lease; skipping this run");
            false
        }
    }
}

/// Deletes expired records every `period`, for as long as the runtime lives; of several nodes
/// on one store, the one holding the sweeper's lease does.
pub fn spawn_sweeper(state: http::AppState, period: Duration) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        loop {
            tick.tick().await;
            let worker = state.clone();
            let swept = tokio::task::spawn_blocking(move || {
                if holds_lease(&worker, "sweeper", period) {
                    let now = clock::Timestamp::now();
                    let kept = std::time::Duration::from_secs(
                        u64::from(worker.log_retention_days) * 86_400,
                    );
                    let oldest = clock::Timestamp::from_millis(
                        now.millis() - i64::try_from(kept.as_millis()).unwrap_or(i64::MAX),
                    );
                    Ok::<_, portcullis_core::store::StoreError>(
                        worker.store.sweep_expired(now)? + worker.store.sweep_log(oldest)?,
                    )
                } else {
                    Ok(0)
                }
            })
            .await;
            match swept {
                Ok(Ok(0)) => {}
                Ok(Ok(n)) => tracing::debug!(removed = n, "swept expired records"),
                Ok(Err(e)) => tracing::warn!(error = %e, "sweeping expired records failed"),
                Err(e) => tracing::warn!(error = %e, "sweeper task failed"),
            }
        }
    });
}
