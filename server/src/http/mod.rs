//! The axum edge: shared state, the router assembled from each surface's `routes()`, and
//! fallbacks in the protocol's own error format.

mod admins;
mod apps;
mod assets;
pub mod audit_log;
mod authn;
mod authorization_servers;
mod brands;
mod cors;
pub mod durable;
pub mod error;
mod extract;
mod factors;
mod federation;
mod groups;
mod health;
mod idps;
mod oauth;
mod oauth_error;
mod oauth_flow;
pub mod pages;
mod pagination;
mod par;
mod provider_keys;
pub mod rate_limit;
mod redact;
mod registration;
mod schemas;
mod sessions;
mod signin;
mod trusted_origins;
mod users;

use crate::authn::{AuthnSettings, SessionSettings};
use crate::clock::Timestamp;
use crate::crypto::{Digest, PasswordHasher};
use crate::directory::PasswordPolicy;
use crate::oauth::issuer::Issuer;
use crate::oauth::keys::KeyRing;
use crate::store::{Store, durability};
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use error::ApiError;
use leptos::config::LeptosOptions;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::Arc;
use tower_http::trace::TraceLayer;

/// Everything a handler needs, shared by all requests.
pub struct Services {
    pub store: Arc<dyn Store>,
    pub hasher: PasswordHasher,
    pub policy: PasswordPolicy,
    pub authn: AuthnSettings,
    /// Self-service registration (off unless the org turns it on).
    pub registration: crate::authn::registration::RegistrationSettings,
    pub sessions: SessionSettings,
    /// Public base URL without a trailing slash; also the org issuer.
    pub base_url: String,
    /// Mark cookies `Secure` (the base URL is https).
    pub secure_cookies: bool,
    /// Digest of the bootstrap admin API token, if one is configured.
    pub admin_token: Option<Digest>,
    pub site_dir: PathBuf,
    pub leptos: LeptosOptions,
    pub mailer: crate::mail::Mailer,
    pub limiter: rate_limit::RateLimiter,
    /// The org server's signing keys; replaced whole on rotation.
    pub keys: std::sync::RwLock<Arc<crate::oauth::keys::KeyRing>>,
    /// Custom servers' signing keys, loaded on first use.
    pub server_keys: std::sync::RwLock<std::collections::HashMap<String, Arc<KeyRing>>>,
    pub tokens: crate::oauth::tokens::TokenSettings,
    /// Signing keys older than this are replaced automatically.
    pub key_rotation_days: u32,
    /// System Log events older than this are swept.
    pub log_retention_days: u32,
    /// The hosted pages' look (config defaults, or what the brands API saved).
    pub brand: std::sync::RwLock<crate::directory::branding::Brand>,
    /// Serialises making a server's first signing key.
    pub key_creation: std::sync::Mutex<()>,
    /// Set once shutdown begins: readiness fails so load balancers stop sending traffic.
    pub draining: std::sync::atomic::AtomicBool,
    /// This node's name among the nodes sharing a store (for cluster-wide job leases).
    pub node_id: String,
    /// Signs the hosted forms' anti-forgery cookies.
    pub csrf: crate::crypto::csrf::CsrfKey,
    /// Writes System Log events that no user write carried, off the request path.
    pub log_sink: audit_log::LogSink,
    /// Upstream identity providers' signing keys, kept between sign-ins.
    pub idp_keys: provider_keys::ProviderKeys,
}

#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    /// The shared state; it hears what other nodes announce (key rings, brand) from now on.
    pub fn new(services: Services) -> Self {
        let state = Arc::new(services);
        let weak = Arc::downgrade(&state);
        let listening = state.store.listen(Box::new(move |topic| {
            if let Some(s) = weak.upgrade() {
                s.heard(topic);
            }
        }));
        if let Err(e) = listening {
            tracing::error!(error = %e, "cannot hear other nodes' changes");
        }
        Self(state)
    }

    /// Runs `f` on the blocking pool: password hashing and disk flushes must not stall the
    /// async workers. The writes `f` makes count as the request's own (see
    /// [`durable::acknowledge`]).
    pub async fn blocking<T, F>(&self, f: F) -> Result<T, ApiError>
    where
        T: Send + 'static,
        F: FnOnce(&Services) -> T + Send + 'static,
    {
        let state = self.clone();
        // The request's System Log context and staged events go with the closure and back.
        let context = crate::audit::current_context();
        let staged = crate::store::journal::take();
        let (out, wrote, left) = tokio::task::spawn_blocking(move || {
            durability::take_thread();
            crate::store::journal::take_thread();
            crate::store::journal::extend(staged);
            let out = crate::audit::with_thread_context(context, || f(&state));
            (
                out,
                durability::take_thread(),
                crate::store::journal::take_thread(),
            )
        })
        .await
        .map_err(|e| ApiError::Internal(format!("blocking task: {e}")))?;
        durability::note(wrote);
        crate::store::journal::extend(left);
        Ok(out)
    }
}

impl Services {
    /// The context the authentication core's transitions run in.
    pub fn ctx(&self, now: crate::clock::Timestamp) -> crate::authn::flow::Ctx<'_> {
        crate::authn::flow::Ctx {
            store: self.store.as_ref(),
            hasher: &self.hasher,
            settings: &self.authn,
            policy: &self.policy,
            now,
        }
    }
}

/// The topic announced when authorization server `server`'s signing keys changed.
pub fn keys_topic(server: &str) -> String {
    format!("keys:{server}")
}

/// The topic announced when the hosted pages' brand changed.
pub const BRAND_TOPIC: &str = "brand";

impl Services {
    /// Tells every node (this one too) that `topic` changed; a failure is logged, since the
    /// change itself is already stored.
    pub fn announce(&self, topic: &str) {
        if let Err(e) = self.store.announce(topic) {
            tracing::error!(error = %e, topic, "cannot tell the other nodes about a change");
        }
    }

    /// Drops (or reloads) what this node keeps of `topic`, announced by any node.
    fn heard(&self, topic: &str) {
        let any = topic == crate::store::ANY_TOPIC;
        if any || topic == keys_topic(crate::oauth::ORG_SERVER) {
            match KeyRing::load(
                self.store.as_ref(),
                crate::oauth::ORG_SERVER,
                Timestamp::now(),
            ) {
                Ok(ring) => match self.keys.write() {
                    Ok(mut k) => *k = Arc::new(ring),
                    Err(p) => *p.into_inner() = Arc::new(ring),
                },
                Err(e) => tracing::error!(error = %e, "reloading the org signing keys failed"),
            }
        }
        if any {
            match self.server_keys.write() {
                Ok(mut m) => m.clear(),
                Err(p) => p.into_inner().clear(),
            }
        } else if let Some(server) = topic.strip_prefix("keys:") {
            self.set_ring(server, None);
        }
        if any || topic == BRAND_TOPIC {
            match crate::directory::branding::saved(self.store.as_ref()) {
                Ok(Some(brand)) => match self.brand.write() {
                    Ok(mut b) => *b = brand,
                    Err(p) => *p.into_inner() = brand,
                },
                Ok(None) => {}
                Err(e) => tracing::error!(error = %e, "reloading the brand failed"),
            }
        }
    }
}

impl Services {
    /// The current key ring (cheap: an `Arc` clone).
    pub fn keys(&self) -> Arc<crate::oauth::keys::KeyRing> {
        match self.keys.read() {
            Ok(k) => k.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl Services {
    pub fn brand(&self) -> crate::directory::branding::Brand {
        match self.brand.read() {
            Ok(b) => b.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// A custom server's key ring, if loaded.
    pub fn cached_ring(&self, id: &str) -> Option<Arc<KeyRing>> {
        match self.server_keys.read() {
            Ok(m) => m.get(id).cloned(),
            Err(poisoned) => poisoned.into_inner().get(id).cloned(),
        }
    }

    /// A custom server's key ring, cached or loaded; making its first key happens once even when
    /// several requests ask at the same moment.
    pub fn load_ring(&self, id: &str) -> Result<Arc<KeyRing>, crate::oauth::keys::KeyError> {
        if let Some(r) = self.cached_ring(id) {
            return Ok(r);
        }
        let _guard = match self.key_creation.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(r) = self.cached_ring(id) {
            return Ok(r);
        }
        let ring = Arc::new(KeyRing::load(self.store.as_ref(), id, Timestamp::now())?);
        self.set_ring(id, Some(ring.clone()));
        Ok(ring)
    }

    /// Replaces (or forgets, with `None`) a custom server's cached key ring.
    pub fn set_ring(&self, id: &str, ring: Option<Arc<KeyRing>>) {
        let mut m = match self.server_keys.write() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        match ring {
            Some(r) => m.insert(id.to_owned(), r),
            None => m.remove(id),
        };
    }
}

impl AppState {
    /// The authorization server `id` names (`None`: the org server), if it exists and is active.
    pub async fn issuer(&self, id: Option<&str>) -> Result<Option<Issuer>, ApiError> {
        let Some(id) = id else {
            return Ok(Some(Issuer::org(&self.base_url, self.keys())));
        };
        let Some(server) = self.store.auth_server(id)?.filter(|s| s.is_active()) else {
            return Ok(None);
        };
        let ring = self.ring(id).await?;
        Ok(Some(Issuer::custom(&self.base_url, server, ring)))
    }

    /// A custom server's key ring: cached, or loaded on the blocking pool (the first time
    /// also generated).
    pub async fn ring(&self, id: &str) -> Result<Arc<KeyRing>, ApiError> {
        if let Some(r) = self.cached_ring(id) {
            return Ok(r);
        }
        let owned = id.to_owned();
        self.blocking(move |s| s.load_ring(&owned))
            .await?
            .map_err(|e| ApiError::Internal(e.to_string()))
    }

    /// Makes this request's writes durable now, so that a failure is answered in the
    /// handler's own format (the edge would wait for them anyway).
    pub async fn flush(&self) -> Result<(), ApiError> {
        if let Some(commit) = self.store.group_commit() {
            commit
                .wait_async(durability::task_writes())
                .await
                .map_err(|e| ApiError::Unavailable(e.to_string()))?;
        }
        Ok(())
    }
}

impl Deref for AppState {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.0
    }
}

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    // The fallback is set before the CORS layer so that preflights (OPTIONS) reach CORS.
    let authn_api =
        authn::routes()
            .merge(registration::routes())
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                rate_limit::per_ip,
            ));
    let browser_apis = authn_api
        .merge(sessions::browser_routes())
        .merge(federation::routes())
        .merge(oauth_flow::api_routes())
        .merge(par::routes(&state))
        // Reached through a transaction's links, cross-origin by Okta's widget.
        .merge(authn::public_routes())
        .method_not_allowed_fallback(method_not_allowed)
        .layer(cors::trusted_origins(state.store.clone()));
    let admin_apis = users::routes()
        .merge(admins::routes())
        .merge(audit_log::routes())
        .merge(schemas::routes())
        .merge(trusted_origins::routes())
        .merge(idps::routes())
        .merge(sessions::admin_routes())
        .merge(factors::routes())
        .merge(groups::routes())
        .merge(apps::routes())
        .merge(oauth::admin_routes())
        .merge(authorization_servers::routes())
        .merge(brands::routes())
        // Every admin change is recorded, by route (after routing, so the route is known).
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit_log::admin_writes,
        ));
    Router::new()
        .merge(browser_apis)
        .merge(admin_apis)
        .merge(
            oauth::public_routes()
                .method_not_allowed_fallback(method_not_allowed)
                .layer(cors::public()),
        )
        .merge(oauth_flow::navigation_routes())
        // The hosted forms are limited per address like the API (password spraying).
        .merge(
            pages::routes().route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                rate_limit::per_ip,
            )),
        )
        .merge(
            signin::routes().route_layer(axum::middleware::from_fn_with_state(
                state.clone(),
                rate_limit::per_ip,
            )),
        )
        .merge(assets::routes(&state.site_dir))
        .merge(health::routes())
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found)
        // Inside the durable acknowledgement: a request's log events are written before it
        // waits for its writes to be durable.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            audit_log::complete,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            durable::acknowledge,
        ))
        .with_state(state)
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
}

/// The span of one request in the log: its method and its address with secrets hidden.
fn request_span(req: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    tracing::debug_span!("request", method = %req.method(), uri = %redact::loggable(req.uri()))
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

/// Unknown paths: Okta's JSON error under `/api/`, a page elsewhere.
async fn not_found(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    uri: Uri,
) -> Response {
    if uri.path().starts_with("/api/") || uri.path().starts_with("/oauth2/") {
        return ApiError::NotFound(uri.path().to_owned()).into_response();
    }
    let page = pages::base_page(&state, &headers, &uri, app::View::NotFound);
    pages::render(&state, uri.path(), page, StatusCode::NOT_FOUND).await
}
