//! `portcullis`: read settings, open the store, seed the demo org if asked, serve.

use anyhow::Context as _;
use clap::Parser as _;
use portcullis::config::{Cli, Command, Config, TokenAction};
use std::time::Duration;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut cli = Cli::parse();
    let command = cli.command.take();
    let config = match Config::load(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("portcullis: {e}");
            std::process::exit(2);
        }
    };
    let filter = EnvFilter::try_new(&config.log)
        .with_context(|| format!("invalid setting `log`: `{}`", config.log))?;
    if matches!(command, Some(Command::Token { .. })) {
        // What the command prints (a token) goes to standard output alone.
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).init();
    }
    match command {
        Some(Command::Migrate { to }) => return migrate(&config, &to),
        Some(Command::GenerateMasterKey) => {
            println!("{}", portcullis::crypto::at_rest::Keyring::generate());
            return Ok(());
        }
        Some(Command::Token {
            action: TokenAction::Create { name, user },
        }) => return create_token(&config, &name, &user),
        None => {}
    }

    let (router, state) = portcullis::build(&config)?;
    portcullis::spawn_sweeper(state.clone(), Duration::from_secs(60));
    portcullis::spawn_key_rotation(
        state.clone(),
        Duration::from_secs(u64::from(config.key_rotation_days) * 86_400),
    );

    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (setting `listen`)", config.listen))?;
    let bound = listener.local_addr()?;
    tracing::info!(%bound, base_url = %config.base_url, data_dir = %config.data_dir.display(), "Portcullis is listening");
    println!("Portcullis is running at {}", config.base_url);
    println!(
        "  sign-in page:   {}{}",
        config.base_url,
        portcullis::paths::LOGIN
    );

    if config.demo {
        portcullis::demo::start(&config, &state).await?;
    }
    if !config.site_dir.join("pkg").exists() {
        tracing::warn!(site_dir = %config.site_dir.display(), "site assets not found: pages work without scripts; run `cargo xtask build` for the hydration bundle and widget");
    }

    // On SIGTERM (every deploy) or Ctrl-C: readiness fails, no new connections are taken, the
    // requests in flight finish within the grace period, then every write is flushed.
    let stopping = std::sync::Arc::new(tokio::sync::Notify::new());
    let signalled = stopping.clone();
    let draining = state.clone();
    let serve = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        let which = shutdown_signal().await;
        tracing::info!(signal = which, "shutting down: draining requests in flight");
        draining
            .draining
            .store(true, std::sync::atomic::Ordering::SeqCst);
        signalled.notify_one();
    });
    let grace = config.shutdown_grace;
    tokio::select! {
        served = serve => served?,
        () = async {
            stopping.notified().await;
            tokio::time::sleep(grace).await;
        } => {
            tracing::warn!(grace_seconds = grace.as_secs(), "requests still in flight after the grace period; stopping anyway");
        }
    }
    let drained = state.clone();
    tokio::task::spawn_blocking(move || {
        drained.log_sink.drain();
        drained.store.flush()
    })
    .await??;
    tracing::info!("stopped cleanly: every write is on disk");
    Ok(())
}

/// Waits for SIGTERM or SIGINT (Ctrl-C) and names it.
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = tokio::signal::ctrl_c() => "SIGINT",
            },
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM; only Ctrl-C stops gracefully");
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "SIGINT"
    }
}

/// `portcullis token create --name NAME --user LOGIN`: a named admin API token, printed once.
fn create_token(config: &Config, name: &str, user: &str) -> anyhow::Result<()> {
    use portcullis::directory::{DirectoryError, admins};
    let sealer = portcullis::sealer(config)?;
    let store = portcullis::open_store(config, &sealer)?;
    let now = portcullis::clock::Timestamp::now();
    let (token, value) =
        match admins::create_token(store.as_ref(), name, user, "portcullis token create", now) {
            Ok(made) => made,
            Err(DirectoryError::NotFound) => anyhow::bail!("no user {user}"),
            Err(DirectoryError::Invalid(fields)) => anyhow::bail!(
                "{}",
                fields
                    .iter()
                    .map(|f| f.message.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
            Err(e) => return Err(e.into()),
        };
    // The System Log records the creation, as Okta's does (`system.api_token.create`).
    let mut event = portcullis::audit::event(
        "system.api_token.create",
        "Create API token",
        portcullis::audit::system(),
        "SUCCESS",
    );
    event.uuid = portcullis::crypto::new_uuid();
    event.published = now;
    event.targets = vec![portcullis::audit::LogEntity {
        id: token.id.clone(),
        kind: "Token".into(),
        alternate_id: Some(token.user_id.clone()),
        display_name: Some(token.name.clone()),
    }];
    event.request_uri = Some("portcullis token create".into());
    store.append_log(&[event])?;
    store.flush()?;
    let roles = store.roles(&token.user_id)?;
    if roles.is_empty() {
        eprintln!(
            "note: {user} holds no admin role yet, so the token may do nothing until they get one"
        );
    }
    println!("{}", value.expose());
    eprintln!(
        "token {} ({}) created; this is the only time its value is shown",
        token.id, token.name
    );
    Ok(())
}

/// `portcullis migrate --to URL`: the embedded store of `data_dir`, copied into PostgreSQL.
fn migrate(config: &Config, to: &str) -> anyhow::Result<()> {
    use portcullis::store::{PgSettings, PgStore, SledStore, migrate, sealing};
    let sealer = portcullis::sealer(config)?;
    let from = SledStore::open_with_cache(&config.data_dir, config.cache_bytes)
        .with_context(|| {
            format!(
                "cannot open the embedded store in {} (is Portcullis still running on it?)",
                config.data_dir.display()
            )
        })?
        .sealing_with(sealer.clone());
    sealing::prepare(&from, &sealer)?;
    let into = PgStore::open(&PgSettings {
        url: to.to_owned(),
        pool_size: 4,
        timeout: Duration::from_secs(30),
    })
    .context("cannot open the PostgreSQL database given with --to")?
    .sealing_with(sealer.clone());
    let copied = migrate::copy(&from, &into, portcullis::clock::Timestamp::now())?;
    // The copies were sealed on their way in: say under which key.
    sealing::prepare(&into, &sealer)?;
    println!(
        "Copied {} records ({} users) from {} into PostgreSQL.",
        copied.records,
        copied.users,
        config.data_dir.display()
    );
    println!("Start Portcullis with --database-url (PORTCULLIS_DATABASE_URL) to serve from it.");
    Ok(())
}
