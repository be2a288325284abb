//! Static assets: the hydration bundle and stylesheet under `/pkg`, and the widget under
//! `/widget/v1`, which pages of any origin may load (no credentials, so `*` is safe).

use super::AppState;
use crate::paths;
use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use std::path::Path;
use tower_http::services::ServeDir;
use tower_http::set_header::SetResponseHeaderLayer;

pub(super) fn routes(site_dir: &Path) -> Router<AppState> {
    let pkg = ServeDir::new(site_dir.join("pkg"));
    let widget = ServeDir::new(site_dir.join("widget"));
    Router::new()
        .nest_service(paths::PKG, pkg)
        .nest_service(
            paths::WIDGET,
            tower::ServiceBuilder::new()
                .layer(SetResponseHeaderLayer::overriding(
                    header::ACCESS_CONTROL_ALLOW_ORIGIN,
                    HeaderValue::from_static("*"),
                ))
                .layer(SetResponseHeaderLayer::overriding(
                    HeaderName::from_static("cross-origin-resource-policy"),
                    HeaderValue::from_static("cross-origin"),
                ))
                .service(widget),
        )
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CACHE_CONTROL,
            HeaderValue::from_static("no-cache"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
}
