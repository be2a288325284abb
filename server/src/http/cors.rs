//! CORS for browser-facing APIs: only origins the org trusts (scope CORS), with credentials,
//! echoing the exact origin as okta-auth-js needs.

use crate::directory::OriginScope;
use crate::directory::trusted_origins::is_trusted;
use crate::store::Store;
use axum::http::{HeaderName, Method, header};
use std::sync::Arc;
use std::time::Duration;
use tower_http::cors::{AllowOrigin, CorsLayer};

pub(super) fn trusted_origins(store: Arc<dyn Store>) -> CorsLayer {
    CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin
                .to_str()
                .is_ok_and(|o| is_trusted(store.as_ref(), o, OriginScope::Cors))
        }))
        .allow_credentials(true)
        .allow_methods([Method::GET, Method::POST, Method::PUT, Method::DELETE])
        .allow_headers([
            header::ACCEPT,
            header::CONTENT_TYPE,
            header::AUTHORIZATION,
            HeaderName::from_static("x-okta-user-agent-extended"),
            HeaderName::from_static("x-requested-with"),
            // Okta's classic widget sends it with its registration requests.
            HeaderName::from_static("x-okta-xsrftoken"),
        ])
        .max_age(Duration::from_secs(3600))
}

/// For public documents (discovery, JWKS): any origin, no credentials, any request headers, so
/// the preflights that client libraries' custom headers cause succeed.
pub(super) fn public() -> CorsLayer {
    CorsLayer::new()
        .allow_origin(tower_http::cors::Any)
        .allow_methods([Method::GET])
        .allow_headers(tower_http::cors::Any)
        .max_age(Duration::from_secs(3600))
}
