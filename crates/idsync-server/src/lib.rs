//! idsync's HTTP side: `POST /webhooks/{connection}`, the served APIs
//! (`/scim/{connection}/v2/…`), `GET /healthz`,
//! `GET /readyz`, the admin API (`/api/v1`), the console (`/`), `/metrics`,
//! and the background jobs `serve` runs (first backfill, periodic
//! reconcile, delivery-log pruning).

pub mod admin;
pub mod console;
mod error;
mod health;
pub mod jobs;
pub mod metrics;
pub mod served;
mod state;
mod webhooks;

pub use state::{AppState, ConnectionRuntime};

use axum::Router;
use axum::http::Request;
use tower_http::trace::TraceLayer;

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(webhooks::router())
        .merge(served::router())
        .merge(health::router())
        .merge(admin::router())
        .merge(metrics::router())
        .merge(console::router())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .with_state(state)
}

/// The request's span: method and path only. The query string is left out
/// because the one-time console login URL carries the admin token there.
fn request_span<B>(request: &Request<B>) -> tracing::Span {
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path())
}
