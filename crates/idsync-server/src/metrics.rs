//! `GET /metrics`: Prometheus text format.
//!
//! Recorded across the crates: `idsync_webhook_deliveries_total{connection,
//! outcome}`, `idsync_webhook_rejections_total{connection,status}`,
//! `idsync_apply_seconds`, `idsync_apply_batch_size`, `idsync_job_*`
//! (progress, duration, runs), `idsync_provider_api_errors_total`,
//! `idsync_provider_rate_limited_total`, `idsync_provider_rate_limit_wait_seconds`,
//! `idsync_refresh_done_total`, `idsync_refresh_failed_total`,
//! `idsync_refresh_queued`, `idsync_refresh_failing` (the refresher).

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::AppState;

/// Installs the process-wide recorder. Call once, before serving.
pub fn install() -> Result<PrometheusHandle, String> {
    const LATENCY: &[f64] = &[
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0, 600.0,
    ];
    const SIZES: &[f64] = &[1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];
    PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".to_owned()), LATENCY)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full("idsync_apply_batch_size".to_owned()), SIZES)
        })
        .map_err(|e| e.to_string())?
        .install_recorder()
        .map_err(|e| e.to_string())
}

pub fn router() -> Router<AppState> {
    Router::new().route("/metrics", get(render))
}

async fn render(State(state): State<AppState>) -> impl IntoResponse {
    match &state.metrics {
        Some(handle) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        ),
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain")],
            "metrics are not enabled in this process\n".to_owned(),
        ),
    }
}
