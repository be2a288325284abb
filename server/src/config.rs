//! Settings from the command line, `PORTCULLIS_*` environment variables and a TOML file, in that
//! order of precedence; validated once at start-up, with errors that name the setting.

use clap::Parser;
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Portcullis: a self-hosted, Okta-compatible identity server.
///
/// Every option can also be set by its PORTCULLIS_* environment variable or in the TOML file
/// given with --config (keys: listen, base_url, data_dir, site_dir, bootstrap_api_token, demo,
/// demo_listen, log, max_failed_attempts, mfa_enrollment, mfa_factors, show_lockout, password_min_length, password_history,
/// password_warn_days, password_max_age_days, smtp_host,
/// smtp_port, smtp_from, smtp_security, smtp_username, smtp_password, rate_limit_per_ip,
/// rate_limit_per_user, key_rotation_days, log_retention_days, access_token_minutes, id_token_minutes,
/// refresh_token_days, brand_name, brand_logo_url, brand_color, help_url, cache_mb,
/// shutdown_grace_seconds, database_url, database_pool_size, database_timeout_seconds,
/// hash_workers, hash_queue, master_key, master_key_file, previous_master_keys,
/// self_service_registration, registration_attributes, registration_groups).
#[derive(Debug, Parser, Default)]
#[command(name = "portcullis", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// TOML configuration file.
    #[arg(long, short = 'c', env = "PORTCULLIS_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:3000].
    #[arg(long, env = "PORTCULLIS_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Public base URL, also the org issuer [default: http://<listen>].
    #[arg(long, env = "PORTCULLIS_BASE_URL", value_name = "URL")]
    pub base_url: Option<String>,
    /// Directory of the embedded sled database [default: ./data].
    #[arg(long, env = "PORTCULLIS_DATA_DIR", value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Directory of the built site assets (hydration bundle, widget, CSS) [default: target/site].
    #[arg(long, env = "PORTCULLIS_SITE_DIR", value_name = "DIR")]
    pub site_dir: Option<PathBuf>,
    /// An admin API token accepted as `Authorization: SSWS <token>`.
    #[arg(
        long,
        env = "PORTCULLIS_BOOTSTRAP_API_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    pub bootstrap_api_token: Option<String>,
    /// The key that encrypts secrets at rest (TOTP seeds, client_secret_jwt secrets, signing
    /// keys): 32 bytes in base64, from `portcullis generate-master-key`. Keep it apart from
    /// the data and its backups. Without it secrets are stored unencrypted.
    #[arg(
        long,
        env = "PORTCULLIS_MASTER_KEY",
        value_name = "BASE64",
        hide_env_values = true
    )]
    pub master_key: Option<String>,
    /// A file holding the master key instead (e.g. a mounted secret).
    #[arg(long, env = "PORTCULLIS_MASTER_KEY_FILE", value_name = "FILE")]
    pub master_key_file: Option<PathBuf>,
    /// Earlier master keys, comma-separated: what they encrypted is opened and encrypted
    /// again under master_key at start; then they can be removed.
    #[arg(
        long,
        env = "PORTCULLIS_PREVIOUS_MASTER_KEYS",
        value_name = "BASE64,…",
        hide_env_values = true
    )]
    pub previous_master_keys: Option<String>,
    /// Seed a demo org and serve a demo page that embeds the widget: 1 or 0 [default: 1].
    #[arg(long, env = "PORTCULLIS_DEMO", value_name = "0|1")]
    pub demo: Option<String>,
    /// Where the demo embedding page listens (another origin than the server) [default: 127.0.0.1:3001].
    #[arg(long, env = "PORTCULLIS_DEMO_LISTEN", value_name = "ADDR")]
    pub demo_listen: Option<String>,
    /// Log filter, e.g. `info` or `portcullis=debug` (also RUST_LOG) [default: info].
    #[arg(long, env = "PORTCULLIS_LOG", value_name = "FILTER")]
    pub log: Option<String>,
    /// Consecutive failed sign-ins that lock an account [default: 10].
    #[arg(long, env = "PORTCULLIS_MAX_FAILED_ATTEMPTS", value_name = "N")]
    pub max_failed_attempts: Option<String>,
    /// Answer LOCKED_OUT instead of a generic failure for locked accounts: 1 or 0 [default: 0].
    #[arg(long, env = "PORTCULLIS_SHOW_LOCKOUT", value_name = "0|1")]
    pub show_lockout: Option<String>,
    /// MFA enrollment at sign-in: none, optional or required [default: optional].
    #[arg(long, env = "PORTCULLIS_MFA_ENROLLMENT", value_name = "POLICY")]
    pub mfa_enrollment: Option<String>,
    /// Each factor at sign-in, as Okta's MFA enrollment policy names them:
    /// `okta_otp=REQUIRED,okta_question=OPTIONAL,okta_email=NOT_ALLOWED` (unnamed: OPTIONAL).
    #[arg(long, env = "PORTCULLIS_MFA_FACTORS", value_name = "FACTOR=RULE,…")]
    pub mfa_factors: Option<String>,
    /// Let people sign up at /signin/register (and in the widget): 1 or 0 [default: 0].
    #[arg(long, env = "PORTCULLIS_SELF_SERVICE_REGISTRATION", value_name = "0|1")]
    pub self_service_registration: Option<String>,
    /// Profile attributes the sign-up form asks for beside the email and names, e.g.
    /// `department,mobilePhone` (standard or custom attributes).
    #[arg(
        long,
        env = "PORTCULLIS_REGISTRATION_ATTRIBUTES",
        value_name = "NAME,…"
    )]
    pub registration_attributes: Option<String>,
    /// Groups (by name) a person who signs up is put into.
    #[arg(long, env = "PORTCULLIS_REGISTRATION_GROUPS", value_name = "NAME,…")]
    pub registration_groups: Option<String>,
    /// Minimum password length [default: 8].
    #[arg(long, env = "PORTCULLIS_PASSWORD_MIN_LENGTH", value_name = "N")]
    pub password_min_length: Option<String>,
    /// Recent passwords (the current included) that may not be chosen again [default: 4].
    #[arg(long, env = "PORTCULLIS_PASSWORD_HISTORY", value_name = "N")]
    pub password_history: Option<String>,
    /// Days before expiry from which sign-in warns [default: 7].
    #[arg(long, env = "PORTCULLIS_PASSWORD_WARN_DAYS", value_name = "DAYS")]
    pub password_warn_days: Option<String>,
    /// Days a password lives before it must be changed; 0 for never [default: 0].
    #[arg(long, env = "PORTCULLIS_PASSWORD_MAX_AGE_DAYS", value_name = "DAYS")]
    pub password_max_age_days: Option<String>,
    /// Authentication API requests per minute from one client address [default: 300].
    #[arg(long, env = "PORTCULLIS_RATE_LIMIT_PER_IP", value_name = "N")]
    pub rate_limit_per_ip: Option<String>,
    /// Sign-in and recovery attempts per minute for one username [default: 30].
    #[arg(long, env = "PORTCULLIS_RATE_LIMIT_PER_USER", value_name = "N")]
    pub rate_limit_per_user: Option<String>,
    /// Access-token lifetime in minutes [default: 60].
    #[arg(long, env = "PORTCULLIS_ACCESS_TOKEN_MINUTES", value_name = "MIN")]
    pub access_token_minutes: Option<String>,
    /// ID-token lifetime in minutes [default: 60].
    #[arg(long, env = "PORTCULLIS_ID_TOKEN_MINUTES", value_name = "MIN")]
    pub id_token_minutes: Option<String>,
    /// Refresh-token lifetime in days [default: 90].
    #[arg(long, env = "PORTCULLIS_REFRESH_TOKEN_DAYS", value_name = "DAYS")]
    pub refresh_token_days: Option<String>,
    /// Days a signing key signs before it is replaced automatically [default: 90].
    #[arg(long, env = "PORTCULLIS_KEY_ROTATION_DAYS", value_name = "DAYS")]
    pub key_rotation_days: Option<String>,
    /// Days the System Log (`/api/v1/logs`) keeps an event [default: 90].
    #[arg(long, env = "PORTCULLIS_LOG_RETENTION_DAYS", value_name = "DAYS")]
    pub log_retention_days: Option<String>,
    /// PostgreSQL to keep everything in, for several nodes (`postgres://user@host/db`);
    /// without it the embedded store in `data_dir` is used.
    #[arg(long, env = "PORTCULLIS_DATABASE_URL", value_name = "URL")]
    pub database_url: Option<String>,
    /// Connections to PostgreSQL [default: 8].
    #[arg(long, env = "PORTCULLIS_DATABASE_POOL_SIZE", value_name = "N")]
    pub database_pool_size: Option<String>,
    /// Seconds a database call may take before it is answered with 503 [default: 5].
    #[arg(
        long,
        env = "PORTCULLIS_DATABASE_TIMEOUT_SECONDS",
        value_name = "SECONDS"
    )]
    pub database_timeout_seconds: Option<String>,
    /// Threads that hash passwords, each with its argon2 memory [default: the number of cores].
    #[arg(long, env = "PORTCULLIS_HASH_WORKERS", value_name = "N")]
    pub hash_workers: Option<String>,
    /// Password checks that may wait for a hashing thread; more are answered 429 at once
    /// [default: 4 per worker].
    #[arg(long, env = "PORTCULLIS_HASH_QUEUE", value_name = "N")]
    pub hash_queue: Option<String>,
    /// The embedded store's page cache in MiB, which bounds its memory [default: 16].
    #[arg(long, env = "PORTCULLIS_CACHE_MB", value_name = "MIB")]
    pub cache_mb: Option<String>,
    /// Seconds to let requests in flight finish after SIGTERM or Ctrl-C [default: 20].
    #[arg(
        long,
        env = "PORTCULLIS_SHUTDOWN_GRACE_SECONDS",
        value_name = "SECONDS"
    )]
    pub shutdown_grace_seconds: Option<String>,
    /// SMTP server for recovery emails and codes (none: email is not sent).
    #[arg(long, env = "PORTCULLIS_SMTP_HOST", value_name = "HOST")]
    pub smtp_host: Option<String>,
    /// SMTP port [default: 587 with starttls, 465 with tls, else 25].
    #[arg(long, env = "PORTCULLIS_SMTP_PORT", value_name = "PORT")]
    pub smtp_port: Option<String>,
    /// The sender address, e.g. `Portcullis <no-reply@example.com>`.
    #[arg(long, env = "PORTCULLIS_SMTP_FROM", value_name = "ADDRESS")]
    pub smtp_from: Option<String>,
    /// Connection security: none, starttls or tls [default: starttls].
    #[arg(long, env = "PORTCULLIS_SMTP_SECURITY", value_name = "MODE")]
    pub smtp_security: Option<String>,
    #[arg(long, env = "PORTCULLIS_SMTP_USERNAME", value_name = "USER")]
    pub smtp_username: Option<String>,
    #[arg(
        long,
        env = "PORTCULLIS_SMTP_PASSWORD",
        value_name = "PASSWORD",
        hide_env_values = true
    )]
    pub smtp_password: Option<String>,
    /// The org's name on the hosted pages [default: Portcullis].
    #[arg(long, env = "PORTCULLIS_BRAND_NAME", value_name = "NAME")]
    pub brand_name: Option<String>,
    /// An http(s) URL of the logo shown on the hosted pages.
    #[arg(long, env = "PORTCULLIS_BRAND_LOGO_URL", value_name = "URL")]
    pub brand_logo_url: Option<String>,
    /// The brand colour of the hosted pages, e.g. `#1a5fb4`.
    #[arg(long, env = "PORTCULLIS_BRAND_COLOR", value_name = "HEX")]
    pub brand_color: Option<String>,
    /// An http(s) URL of the org's help page, linked from the hosted pages.
    #[arg(long, env = "PORTCULLIS_HELP_URL", value_name = "URL")]
    pub help_url: Option<String>,
}

/// The TOML file: the same settings, all optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    master_key: Option<String>,
    master_key_file: Option<PathBuf>,
    previous_master_keys: Option<Vec<String>>,
    listen: Option<String>,
    base_url: Option<String>,
    data_dir: Option<PathBuf>,
    site_dir: Option<PathBuf>,
    bootstrap_api_token: Option<String>,
    demo: Option<toml::Value>,
    demo_listen: Option<String>,
    log: Option<String>,
    max_failed_attempts: Option<u32>,
    mfa_enrollment: Option<String>,
    /// `[mfa_factors]` with `okta_otp = "REQUIRED"` and so on.
    mfa_factors: Option<std::collections::BTreeMap<String, String>>,
    show_lockout: Option<bool>,
    self_service_registration: Option<bool>,
    registration_attributes: Option<Vec<String>>,
    registration_groups: Option<Vec<String>>,
    password_min_length: Option<u32>,
    password_history: Option<u32>,
    password_warn_days: Option<u32>,
    password_max_age_days: Option<u32>,
    rate_limit_per_ip: Option<u32>,
    rate_limit_per_user: Option<u32>,
    key_rotation_days: Option<u32>,
    log_retention_days: Option<u32>,
    cache_mb: Option<u32>,
    hash_workers: Option<u32>,
    hash_queue: Option<u32>,
    shutdown_grace_seconds: Option<u32>,
    database_url: Option<String>,
    database_pool_size: Option<u32>,
    database_timeout_seconds: Option<u32>,
    access_token_minutes: Option<u32>,
    id_token_minutes: Option<u32>,
    refresh_token_days: Option<u32>,
    smtp_host: Option<String>,
    smtp_port: Option<u16>,
    smtp_from: Option<String>,
    smtp_security: Option<String>,
    smtp_username: Option<String>,
    smtp_password: Option<String>,
    brand_name: Option<String>,
    brand_logo_url: Option<String>,
    brand_color: Option<String>,
    help_url: Option<String>,
}

/// What the binary does besides serving (the default).
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Copies the embedded store in `data_dir` into an empty PostgreSQL database — users with
    /// their password hashes, factors, groups, apps, clients, keys, servers, consents,
    /// sessions, refresh tokens — then exits. Stop the server first; start it again with
    /// `--database-url` and its people stay signed in.
    Migrate {
        /// The PostgreSQL database to move into (postgres://…).
        #[arg(long, value_name = "URL")]
        to: String,
    },
    /// Prints a new random master key (base64) for `master_key`, then exits.
    GenerateMasterKey,
    /// Named admin API tokens (`Authorization: SSWS …`).
    Token {
        #[command(subcommand)]
        action: TokenAction,
    },
}

#[derive(Debug, Clone, clap::Subcommand)]
pub enum TokenAction {
    /// Creates a token that acts with the admin roles of user `--user` (give them one with
    /// `POST /api/v1/users/{id}/roles`) and prints its value, once; only a digest is kept.
    /// With the embedded store, run it while the server is stopped.
    Create {
        /// What the token is for, as the token list shows it.
        #[arg(long)]
        name: String,
        /// The owner's login or id.
        #[arg(long, value_name = "LOGIN")]
        user: String,
    },
}

/// The key-encryption key and the earlier ones still needed to open older secrets.
#[derive(Clone)]
pub struct MasterKeys {
    pub current: String,
    pub previous: Vec<String>,
}

impl std::fmt::Debug for MasterKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKeys(<redacted>)")
    }
}

impl MasterKeys {
    pub fn keyring(
        &self,
    ) -> Result<crate::crypto::at_rest::Keyring, crate::crypto::at_rest::SealError> {
        crate::crypto::at_rest::Keyring::new(&self.current, &self.previous)
    }
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub listen: SocketAddr,
    /// No trailing slash, e.g. `http://127.0.0.1:3000`.
    pub base_url: String,
    pub data_dir: PathBuf,
    pub site_dir: PathBuf,
    pub bootstrap_api_token: Option<crate::crypto::Secret>,
    /// The key-encryption key for secrets at rest, if any (see `crypto::at_rest`).
    pub master_keys: Option<MasterKeys>,
    pub demo: bool,
    pub demo_listen: SocketAddr,
    pub log: String,
    pub max_failed_attempts: u32,
    pub mfa_enrollment: crate::authn::MfaEnrollment,
    pub mfa_factors: crate::authn::factors::FactorPolicy,
    pub show_lockout: bool,
    /// Self-service registration (off unless turned on).
    pub registration: crate::authn::registration::RegistrationSettings,
    pub password_min_length: usize,
    pub password_history: usize,
    pub password_warn_days: u32,
    pub password_max_age_days: Option<u32>,
    pub smtp: Option<crate::mail::SmtpSettings>,
    pub rate_limit_per_ip: u32,
    pub rate_limit_per_user: u32,
    pub key_rotation_days: u32,
    /// Days the System Log keeps an event.
    pub log_retention_days: u32,
    /// PostgreSQL instead of the embedded store, when set.
    pub database: Option<crate::store::PgSettings>,
    /// The embedded store's page cache, in bytes.
    pub cache_bytes: u64,
    /// The password-hashing pool.
    pub hash_pool: crate::crypto::password::PoolSize,
    /// How long requests in flight may take to finish at shutdown.
    pub shutdown_grace: std::time::Duration,
    pub access_token_minutes: u32,
    pub id_token_minutes: u32,
    pub refresh_token_days: u32,
    /// The hosted pages' look until an admin changes it through the brands API.
    pub brand: crate::directory::branding::Brand,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {reason}")]
    File { path: String, reason: String },
    #[error("invalid setting `{setting}`: {reason}")]
    Invalid {
        setting: &'static str,
        reason: String,
    },
}

fn invalid(setting: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        setting,
        reason: reason.into(),
    }
}

/// The master key from its setting or its file (not both), and earlier keys; each checked.
fn master_keys(
    key: Option<String>,
    file: Option<PathBuf>,
    previous: Option<Vec<String>>,
) -> Result<Option<MasterKeys>, ConfigError> {
    let current = match (key, file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "master_key",
                "give master_key or master_key_file, not both",
            ));
        }
        (Some(k), None) => k,
        (None, Some(path)) => std::fs::read_to_string(&path).map_err(|e| {
            invalid(
                "master_key_file",
                format!("cannot read {}: {e}", path.display()),
            )
        })?,
        (None, None) => {
            if previous.is_some_and(|p| !p.is_empty()) {
                return Err(invalid(
                    "previous_master_keys",
                    "needs master_key: the key to encrypt with from now on",
                ));
            }
            return Ok(None);
        }
    };
    let keys = MasterKeys {
        current: current.trim().to_owned(),
        previous: previous
            .unwrap_or_default()
            .into_iter()
            .map(|k| k.trim().to_owned())
            .filter(|k| !k.is_empty())
            .collect(),
    };
    if let Err(e) = crate::crypto::at_rest::Keyring::new(&keys.current, &[]) {
        return Err(invalid("master_key", e.to_string()));
    }
    if let Err(e) = keys.keyring() {
        return Err(invalid("previous_master_keys", e.to_string()));
    }
    Ok(Some(keys))
}

fn parse_addr(setting: &'static str, v: &str) -> Result<SocketAddr, ConfigError> {
    v.parse().map_err(|_| {
        invalid(
            setting,
            format!("`{v}` is not an address like 127.0.0.1:3000"),
        )
    })
}

fn parse_bool(setting: &'static str, v: &str) -> Result<bool, ConfigError> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(setting, format!("`{v}` is not 1/0 or true/false"))),
    }
}

fn parse_base_url(v: &str) -> Result<String, ConfigError> {
    let url = url::Url::parse(v).map_err(|e| invalid("base_url", format!("`{v}`: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(invalid("base_url", format!("`{v}` must be an http(s) URL")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "base_url",
            format!("`{v}` must not have a query or fragment"),
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

impl Config {
    /// Reads the file named by `cli.config` (if any) under the CLI/env values and validates.
    pub fn load(cli: Cli) -> Result<Self, ConfigError> {
        let file = match &cli.config {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| ConfigError::File {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?;
                toml::from_str::<FileConfig>(&text).map_err(|e| ConfigError::File {
                    path: path.display().to_string(),
                    reason: e.to_string(),
                })?
            }
            None => FileConfig::default(),
        };

        let listen = parse_addr(
            "listen",
            cli.listen
                .as_deref()
                .or(file.listen.as_deref())
                .unwrap_or("127.0.0.1:3000"),
        )?;
        let base_url = match cli.base_url.or(file.base_url) {
            Some(v) => parse_base_url(&v)?,
            None => format!("http://{listen}"),
        };
        let demo = match (cli.demo, file.demo) {
            (Some(v), _) => parse_bool("demo", &v)?,
            (None, Some(toml::Value::Boolean(b))) => b,
            (None, Some(toml::Value::Integer(i))) => parse_bool("demo", &i.to_string())?,
            (None, Some(toml::Value::String(s))) => parse_bool("demo", &s)?,
            (None, Some(other)) => {
                return Err(invalid("demo", format!("`{other:?}` is not a boolean")));
            }
            (None, None) => true,
        };
        let demo_listen = parse_addr(
            "demo_listen",
            cli.demo_listen
                .as_deref()
                .or(file.demo_listen.as_deref())
                .unwrap_or("127.0.0.1:3001"),
        )?;
        let max_failed_attempts = match cli.max_failed_attempts {
            Some(v) => v
                .trim()
                .parse::<u32>()
                .map_err(|_| invalid("max_failed_attempts", format!("`{v}` is not a number")))?,
            None => file.max_failed_attempts.unwrap_or(10),
        };
        if max_failed_attempts == 0 {
            return Err(invalid("max_failed_attempts", "must be at least 1"));
        }
        let mfa_enrollment = match cli.mfa_enrollment.or(file.mfa_enrollment) {
            Some(v) => crate::authn::MfaEnrollment::parse(&v).ok_or_else(|| {
                invalid(
                    "mfa_enrollment",
                    format!("`{v}` is not none, optional or required"),
                )
            })?,
            None => crate::authn::MfaEnrollment::Optional,
        };
        let mfa_factors = match (cli.mfa_factors, file.mfa_factors) {
            (Some(list), _) => {
                let pairs: Vec<(&str, &str)> = list
                    .split(',')
                    .filter(|p| !p.trim().is_empty())
                    .map(|p| p.split_once('=').unwrap_or((p, "")))
                    .collect();
                crate::authn::factors::FactorPolicy::parse(pairs)
            }
            (None, Some(table)) => crate::authn::factors::FactorPolicy::parse(
                table.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            ),
            (None, None) => Ok(crate::authn::factors::FactorPolicy::default()),
        }
        .map_err(|e| invalid("mfa_factors", e))?;
        if mfa_enrollment == crate::authn::MfaEnrollment::Required
            && mfa_factors.offered(true).next().is_none()
        {
            return Err(invalid(
                "mfa_factors",
                "every factor is NOT_ALLOWED while mfa_enrollment is required: nobody could sign in",
            ));
        }
        let list = |v: String| -> Vec<String> {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        };
        let registration = crate::authn::registration::RegistrationSettings {
            enabled: match cli.self_service_registration {
                Some(v) => parse_bool("self_service_registration", &v)?,
                None => file.self_service_registration.unwrap_or(false),
            },
            attributes: cli
                .registration_attributes
                .map(list)
                .or(file.registration_attributes)
                .unwrap_or_default(),
            groups: cli
                .registration_groups
                .map(list)
                .or(file.registration_groups)
                .unwrap_or_default(),
        };
        if let Some(bad) = registration.attributes.iter().find(|a| {
            ["login", "email", "firstName", "lastName"].contains(&a.as_str())
                || !a.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        }) {
            return Err(invalid(
                "registration_attributes",
                format!(
                    "`{bad}` is not an attribute the form can add (email and names are always asked)"
                ),
            ));
        }
        let show_lockout = match cli.show_lockout {
            Some(v) => parse_bool("show_lockout", &v)?,
            None => file.show_lockout.unwrap_or(false),
        };
        let number =
            |setting: &'static str, cli: Option<String>, file: Option<u32>, default: u32| match cli
            {
                Some(v) => v
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| invalid(setting, format!("`{v}` is not a number"))),
                None => Ok(file.unwrap_or(default)),
            };
        let password_min_length = number(
            "password_min_length",
            cli.password_min_length,
            file.password_min_length,
            8,
        )?;
        if !(4..=256).contains(&password_min_length) {
            return Err(invalid("password_min_length", "must be from 4 to 256"));
        }
        let password_history = number(
            "password_history",
            cli.password_history,
            file.password_history,
            4,
        )?;
        if password_history > 24 {
            return Err(invalid("password_history", "must be at most 24"));
        }
        let password_warn_days = number(
            "password_warn_days",
            cli.password_warn_days,
            file.password_warn_days,
            7,
        )?;
        let password_max_age_days = match cli.password_max_age_days {
            Some(v) => v.trim().parse::<u32>().map_err(|_| {
                invalid(
                    "password_max_age_days",
                    format!("`{v}` is not a number of days"),
                )
            })?,
            None => file.password_max_age_days.unwrap_or(0),
        };
        // A whole number of at least 1 (requests per minute, days, minutes).
        let positive =
            |setting: &'static str, cli: Option<String>, file: Option<u32>, default: u32| {
                let n = number(setting, cli, file, default)?;
                if n == 0 {
                    return Err(invalid(setting, "must be at least 1"));
                }
                Ok(n)
            };
        let rate_limit_per_ip = positive(
            "rate_limit_per_ip",
            cli.rate_limit_per_ip,
            file.rate_limit_per_ip,
            300,
        )?;
        let rate_limit_per_user = positive(
            "rate_limit_per_user",
            cli.rate_limit_per_user,
            file.rate_limit_per_user,
            30,
        )?;
        let key_rotation_days = positive(
            "key_rotation_days",
            cli.key_rotation_days,
            file.key_rotation_days,
            90,
        )?;
        let log_retention_days = positive(
            "log_retention_days",
            cli.log_retention_days,
            file.log_retention_days,
            90,
        )?;
        let cache_mb = positive("cache_mb", cli.cache_mb, file.cache_mb, 16)?;
        let default_pool = crate::crypto::password::PoolSize::default();
        let hash_workers = positive(
            "hash_workers",
            cli.hash_workers,
            file.hash_workers,
            u32::try_from(default_pool.workers).unwrap_or(2),
        )?;
        let hash_queue = positive(
            "hash_queue",
            cli.hash_queue,
            file.hash_queue,
            hash_workers.saturating_mul(4),
        )?;
        let database_pool_size = positive(
            "database_pool_size",
            cli.database_pool_size,
            file.database_pool_size,
            8,
        )?;
        let database_timeout_seconds = positive(
            "database_timeout_seconds",
            cli.database_timeout_seconds,
            file.database_timeout_seconds,
            5,
        )?;
        let database = match cli.database_url.or(file.database_url) {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                Some(crate::store::PgSettings {
                    url,
                    pool_size: database_pool_size as usize,
                    timeout: std::time::Duration::from_secs(u64::from(database_timeout_seconds)),
                })
            }
            Some(_) => {
                return Err(invalid(
                    "database_url",
                    "must be a postgres:// or postgresql:// URL",
                ));
            }
            None => None,
        };
        let shutdown_grace_seconds = positive(
            "shutdown_grace_seconds",
            cli.shutdown_grace_seconds,
            file.shutdown_grace_seconds,
            20,
        )?;
        let access_token_minutes = positive(
            "access_token_minutes",
            cli.access_token_minutes,
            file.access_token_minutes,
            60,
        )?;
        let id_token_minutes = positive(
            "id_token_minutes",
            cli.id_token_minutes,
            file.id_token_minutes,
            60,
        )?;
        let refresh_token_days = positive(
            "refresh_token_days",
            cli.refresh_token_days,
            file.refresh_token_days,
            90,
        )?;
        if access_token_minutes > 1440 || id_token_minutes > 1440 {
            return Err(invalid(
                "access_token_minutes",
                "token lifetimes are at most 1440 minutes (a day)",
            ));
        }
        let smtp = match cli.smtp_host.or(file.smtp_host) {
            None => None,
            Some(host) => {
                let security = match cli.smtp_security.or(file.smtp_security) {
                    Some(v) => crate::mail::SmtpSecurity::parse(&v).ok_or_else(|| {
                        invalid(
                            "smtp_security",
                            format!("`{v}` is not none, starttls or tls"),
                        )
                    })?,
                    None => crate::mail::SmtpSecurity::StartTls,
                };
                let port = match cli.smtp_port {
                    Some(v) => v
                        .trim()
                        .parse::<u16>()
                        .map_err(|_| invalid("smtp_port", format!("`{v}` is not a port")))?,
                    None => file.smtp_port.unwrap_or(match security {
                        crate::mail::SmtpSecurity::StartTls => 587,
                        crate::mail::SmtpSecurity::Tls => 465,
                        crate::mail::SmtpSecurity::None => 25,
                    }),
                };
                let from = cli
                    .smtp_from
                    .or(file.smtp_from)
                    .ok_or_else(|| invalid("smtp_from", "is required when smtp_host is set"))?;
                if from.parse::<lettre::message::Mailbox>().is_err() {
                    return Err(invalid(
                        "smtp_from",
                        format!("`{from}` is not an email address"),
                    ));
                }
                Some(crate::mail::SmtpSettings {
                    host,
                    port,
                    from,
                    security,
                    username: cli.smtp_username.or(file.smtp_username),
                    password: cli
                        .smtp_password
                        .or(file.smtp_password)
                        .map(crate::crypto::Secret::new),
                })
            }
        };
        let bootstrap_api_token = cli.bootstrap_api_token.or(file.bootstrap_api_token);
        if bootstrap_api_token.as_ref().is_some_and(|t| t.len() < 16) {
            return Err(invalid(
                "bootstrap_api_token",
                "must be at least 16 characters",
            ));
        }
        let master_keys = master_keys(
            cli.master_key.or(file.master_key),
            cli.master_key_file.or(file.master_key_file),
            cli.previous_master_keys
                .map(|v| v.split(',').map(str::to_owned).collect())
                .or(file.previous_master_keys),
        )?;
        let log = cli
            .log
            .or(file.log)
            .or_else(|| std::env::var("RUST_LOG").ok())
            .unwrap_or_else(|| "info".to_owned());
        let brand = crate::directory::branding::Brand {
            name: cli
                .brand_name
                .or(file.brand_name)
                .unwrap_or_else(|| "Portcullis".to_owned()),
            logo_url: cli.brand_logo_url.or(file.brand_logo_url),
            primary_color: cli.brand_color.or(file.brand_color),
            help_url: cli.help_url.or(file.help_url),
        };
        if let Some(problem) = brand.problems().into_iter().next() {
            let setting = match problem.field.as_ref() {
                "primaryColorHex" => "brand_color",
                "logo" => "brand_logo_url",
                "helpUrl" => "help_url",
                _ => "brand_name",
            };
            return Err(invalid(setting, &problem.message));
        }
        Ok(Self {
            listen,
            base_url,
            data_dir: cli
                .data_dir
                .or(file.data_dir)
                .unwrap_or_else(|| PathBuf::from("data")),
            site_dir: cli
                .site_dir
                .or(file.site_dir)
                .unwrap_or_else(|| PathBuf::from("target/site")),
            bootstrap_api_token: bootstrap_api_token.map(crate::crypto::Secret::new),
            master_keys,
            demo,
            demo_listen,
            log,
            max_failed_attempts,
            mfa_enrollment,
            mfa_factors,
            show_lockout,
            registration,
            password_min_length: password_min_length as usize,
            password_history: password_history as usize,
            password_warn_days,
            password_max_age_days: (password_max_age_days > 0).then_some(password_max_age_days),
            smtp,
            rate_limit_per_ip,
            rate_limit_per_user,
            key_rotation_days,
            log_retention_days,
            database,
            cache_bytes: u64::from(cache_mb) * 1024 * 1024,
            hash_pool: crate::crypto::password::PoolSize {
                workers: hash_workers as usize,
                queue: hash_queue as usize,
            },
            shutdown_grace: std::time::Duration::from_secs(u64::from(shutdown_grace_seconds)),
            access_token_minutes,
            id_token_minutes,
            refresh_token_days,
            brand,
        })
    }

    /// Settings for tests and embedding: defaults, no demo, the given directories.
    pub fn for_dirs(data_dir: PathBuf, site_dir: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            base_url: "http://127.0.0.1".to_owned(),
            data_dir,
            site_dir,
            bootstrap_api_token: None,
            master_keys: None,
            demo: false,
            demo_listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            log: "info".to_owned(),
            max_failed_attempts: 10,
            mfa_enrollment: crate::authn::MfaEnrollment::Optional,
            mfa_factors: crate::authn::factors::FactorPolicy::default(),
            show_lockout: false,
            registration: Default::default(),
            password_min_length: 8,
            password_history: 4,
            password_warn_days: 7,
            password_max_age_days: None,
            smtp: None,
            rate_limit_per_ip: 300,
            rate_limit_per_user: 30,
            key_rotation_days: 90,
            log_retention_days: 90,
            database: None,
            cache_bytes: crate::store::DEFAULT_CACHE_BYTES,
            hash_pool: crate::crypto::password::PoolSize::default(),
            shutdown_grace: std::time::Duration::from_secs(20),
            access_token_minutes: 60,
            id_token_minutes: 60,
            refresh_token_days: 90,
            brand: crate::directory::branding::Brand {
                name: "Portcullis".to_owned(),
                ..crate::directory::branding::Brand::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let c = Config::load(Cli::default()).unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(c.base_url, "http://127.0.0.1:3000");
        assert_eq!(c.data_dir, PathBuf::from("data"));
        assert!(c.demo);
    }

    #[test]
    fn printed_settings_show_no_secret() {
        let c = Config::load(Cli {
            bootstrap_api_token: Some("bootstrap-token-never-printed".into()),
            smtp_host: Some("mail.example.com".into()),
            smtp_from: Some("id@example.com".into()),
            smtp_password: Some("smtp-password-never-printed".into()),
            database_url: Some("postgres://portcullis:db-password-never-printed@db/p".into()),
            ..Cli::default()
        })
        .unwrap();
        let printed = format!("{c:?}");
        assert!(!printed.contains("never-printed"), "{printed}");
        assert!(printed.contains("mail.example.com") && printed.contains("@db/p"));
    }

    #[test]
    fn errors_name_the_setting() {
        let err = Config::load(Cli {
            listen: Some("nowhere".into()),
            ..Cli::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("`listen`"), "{err}");
        let err = Config::load(Cli {
            base_url: Some("ftp://x".into()),
            ..Cli::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("`base_url`"), "{err}");
        let err = Config::load(Cli {
            demo: Some("maybe".into()),
            ..Cli::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("`demo`"), "{err}");
    }

    #[test]
    fn file_values_sit_under_cli_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:4000\"\nbase_url = \"https://id.example.com/\"\ndemo = false\n",
        )
        .unwrap();
        let c = Config::load(Cli {
            config: Some(path.clone()),
            listen: Some("127.0.0.1:5000".into()),
            ..Cli::default()
        })
        .unwrap();
        assert_eq!(c.listen.to_string(), "127.0.0.1:5000");
        assert_eq!(c.base_url, "https://id.example.com");
        assert!(!c.demo);
    }

    #[test]
    fn the_factor_policy_is_read_from_the_file_or_a_list_and_must_leave_a_factor() {
        use crate::authn::factors::{FactorEnrollment, FactorType, Provider};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "[mfa_factors]\nokta_otp = \"REQUIRED\"\n").unwrap();
        let c = Config::load(Cli {
            config: Some(path.clone()),
            ..Cli::default()
        })
        .unwrap();
        let totp = (FactorType::Totp, Provider::Okta);
        assert_eq!(c.mfa_factors.of(totp), FactorEnrollment::Required);
        let c = Config::load(Cli {
            config: Some(path),
            mfa_factors: Some("okta_otp=NOT_ALLOWED, okta_email=OPTIONAL".into()),
            ..Cli::default()
        })
        .unwrap();
        assert_eq!(
            c.mfa_factors.of(totp),
            FactorEnrollment::NotAllowed,
            "the list wins"
        );
        let err = Config::load(Cli {
            mfa_factors: Some("okta_sms=REQUIRED".into()),
            ..Cli::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("`mfa_factors`"), "{err}");
        let none = "okta_otp=NOT_ALLOWED,google_otp=NOT_ALLOWED,okta_question=NOT_ALLOWED,okta_email=NOT_ALLOWED,fido_webauthn=NOT_ALLOWED";
        let err = Config::load(Cli {
            mfa_enrollment: Some("required".into()),
            mfa_factors: Some(none.into()),
            ..Cli::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("nobody could sign in"), "{err}");
    }

    #[test]
    fn unknown_file_keys_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.toml");
        std::fs::write(&path, "lisen = \"x\"\n").unwrap();
        let err = Config::load(Cli {
            config: Some(path),
            ..Cli::default()
        })
        .unwrap_err();
        assert!(err.to_string().contains("lisen"), "{err}");
    }
}
