//! The demo org: a user and a trusted origin, seeded once into a new store, and a page on
//! another origin that embeds the widget, so `portcullis` with no arguments shows everything.

use crate::clock::Timestamp;
use crate::config::Config;
use crate::directory::trusted_origins;
use crate::directory::users::{Activation, NewUser, create_user};
use crate::directory::{DirectoryError, OriginScope, Profile};
use crate::http::AppState;
use axum::response::Html;
use std::net::SocketAddr;

pub const DEMO_LOGIN: &str = "demo@portcullis.test";
pub const DEMO_PASSWORD: &str = "Gatehouse-2026";
/// The demo page's OAuth client (a single-page app: public, PKCE).
pub const DEMO_CLIENT_ID: &str = "demo-spa";
const SEEDED_KEY: &str = "demo_seeded";
const PAGE: &str = include_str!("../../widget/demo/index.html");

/// The demo page's origin: `localhost` rather than `127.0.0.1`, so the browser treats it as
/// another site than a server on `127.0.0.1`.
pub fn demo_origin(addr: SocketAddr) -> String {
    if addr.ip().is_loopback() {
        format!("http://localhost:{}", addr.port())
    } else {
        format!("http://{addr}")
    }
}

/// Seeds the demo org if this store has never been seeded. Idempotent.
pub fn seed(state: &AppState, origin: &str) -> Result<(), DirectoryError> {
    let store = state.store.as_ref();
    if store.meta(SEEDED_KEY)?.is_some() {
        return Ok(());
    }
    let now = Timestamp::now();
    let user = NewUser {
        profile: Profile {
            login: DEMO_LOGIN.into(),
            email: DEMO_LOGIN.into(),
            first_name: "Dana".into(),
            last_name: "Demo".into(),
            attributes: Default::default(),
        },
        password: Some(DEMO_PASSWORD.into()),
    };
    match create_user(
        store,
        &state.hasher,
        &state.policy,
        now,
        user,
        Activation::Activate,
    ) {
        Ok(_) | Err(DirectoryError::Invalid(_)) => {}
        Err(e) => return Err(e),
    }
    match trusted_origins::create(
        store,
        now,
        "Demo embedding page",
        origin,
        vec![OriginScope::Cors, OriginScope::Redirect],
    ) {
        Ok(_) | Err(DirectoryError::Invalid(_)) => {}
        Err(e) => return Err(e),
    }
    // The page is also the SPA's redirect URI (the hidden iframe's okta_post_message reply).
    let registration = crate::oauth::clients::Registration {
        client_name: Some("Demo embedding page".into()),
        application_type: Some(crate::oauth::clients::ApplicationType::Browser),
        redirect_uris: vec![format!("{origin}/")],
        grant_types: vec!["authorization_code".into(), "refresh_token".into()],
        ..Default::default()
    };
    match crate::oauth::clients::register(registration, DEMO_CLIENT_ID.into(), now) {
        Ok((client, _)) => store.put_client(&client)?,
        Err(fields) => tracing::warn!(?fields, "the demo client was not registered"),
    }
    store.set_meta(SEEDED_KEY, &now.iso8601())?;
    store.flush()?;
    Ok(())
}

/// Seeds the demo org, serves the embedding page and prints where everything is.
pub async fn start(config: &Config, state: &AppState) -> anyhow::Result<()> {
    let origin = demo_origin(config.demo_listen);
    let seeding = state.clone();
    let seed_origin = origin.clone();
    tokio::task::spawn_blocking(move || seed(&seeding, &seed_origin)).await??;

    let page = PAGE
        .replace("{{BASE_URL}}", &config.base_url)
        .replace("{{CLIENT_ID}}", DEMO_CLIENT_ID);
    let app = axum::Router::new().route(
        "/",
        axum::routing::get(move || {
            let page = page.clone();
            async move { Html(page) }
        }),
    );
    match tokio::net::TcpListener::bind(config.demo_listen).await {
        Ok(listener) => {
            tokio::spawn(async move {
                if let Err(e) = axum::serve(listener, app).await {
                    tracing::warn!(error = %e, "demo page server stopped");
                }
            });
            println!("  demo page embedding the widget (another origin): {origin}/");
        }
        Err(e) => {
            tracing::warn!(addr = %config.demo_listen, error = %e, "cannot serve the demo page (setting `demo_listen`)");
        }
    }
    println!("  demo user:      {DEMO_LOGIN}");
    println!("  demo password:  {DEMO_PASSWORD}");
    if config.bootstrap_api_token.is_none() {
        println!("  (set PORTCULLIS_BOOTSTRAP_API_TOKEN to use the admin APIs)");
    }
    Ok(())
}
