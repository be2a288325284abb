//! Liveness and readiness for load balancers and Kubernetes probes.

use super::AppState;
use crate::paths;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::sync::atomic::Ordering;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            paths::HEALTHZ,
            get(|| async { probe(StatusCode::OK, "ok") }),
        )
        .route(paths::READYZ, get(ready))
}

/// Ready while not draining and while the store answers.
async fn ready(State(state): State<AppState>) -> Response {
    if state.draining.load(Ordering::SeqCst) {
        return probe(StatusCode::SERVICE_UNAVAILABLE, "draining");
    }
    match state.blocking(|s| s.store.check()).await {
        Ok(Ok(())) => probe(StatusCode::OK, "ready"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "not ready: the store does not answer");
            probe(StatusCode::SERVICE_UNAVAILABLE, "store unavailable")
        }
        Err(_) => probe(StatusCode::SERVICE_UNAVAILABLE, "store unavailable"),
    }
}

fn probe(status: StatusCode, body: &'static str) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}
