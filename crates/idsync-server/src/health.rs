use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::AppState;
use crate::error::HttpError;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
}

/// The process is up.
async fn healthz() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// The database is reachable and migrated: safe to route webhooks here.
async fn readyz(State(state): State<AppState>) -> Result<Json<serde_json::Value>, HttpError> {
    // Every table idsync writes: users, and served connections' groups and
    // memberships.
    let mut tables = state.tables();
    for r in state.resource_tables() {
        tables.push(r.groups_table());
        tables.push(r.members_table());
    }
    match idsync_store::migrate::is_migrated(&state.pool, &tables).await {
        Ok(true) => Ok(Json(json!({ "status": "ready" }))),
        Ok(false) => Err(HttpError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "database schema is not migrated",
        )),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database unavailable",
            ))
        }
    }
}
