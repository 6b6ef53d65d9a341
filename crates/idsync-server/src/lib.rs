//! idsync's HTTP side: `POST /webhooks/{connection}`, `GET /healthz`,
//! `GET /readyz`, and the background jobs `serve` runs (first backfill,
//! periodic reconcile, delivery-log pruning).

pub mod admin;
pub mod console;
mod error;
mod health;
pub mod jobs;
pub mod metrics;
mod state;
mod webhooks;

pub use state::{AppState, ConnectionRuntime};

use axum::Router;
use tower_http::trace::TraceLayer;

/// The whole HTTP surface.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(webhooks::router())
        .merge(health::router())
        .merge(admin::router())
        .merge(metrics::router())
        .merge(console::router())
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}
