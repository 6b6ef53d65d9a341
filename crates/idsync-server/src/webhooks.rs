//! `POST /webhooks/{connection}`: verify, decode, apply, and answer 2xx
//! only once the change is committed.

use axum::body::{Body, to_bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use idsync_providers::Decoded;
use idsync_store::applier::{ApplyError, Delivery};
use serde_json::json;
use tokio::sync::Semaphore;

use crate::error::HttpError;
use crate::{AppState, ConnectionRuntime};

/// Largest accepted body. Provider user objects are a few KiB.
pub const MAX_BODY: usize = 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route("/webhooks/{connection}", post(receive))
}

#[tracing::instrument(skip_all, fields(connection = %name))]
async fn receive(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Result<Json<serde_json::Value>, HttpError> {
    let Some(conn) = state.connections.get(&name).cloned() else {
        return Err(HttpError::new(
            StatusCode::NOT_FOUND,
            format!("no connection named {name:?}"),
        ));
    };
    let (parts, body) = request.into_parts();
    let result = handle(&conn, &parts.headers, body).await;
    if let Err(e) = &result
        && e.status.is_client_error()
    {
        tracing::info!(status = e.status.as_u16(), reason = %e.message, "webhook rejected");
        metrics::counter!("idsync_webhook_rejections_total",
            "connection" => name.clone(), "status" => e.status.as_u16().to_string())
        .increment(1);
        record_rejection(&state, &name, e);
    }
    result
}

async fn handle(
    conn: &ConnectionRuntime,
    headers: &HeaderMap,
    body: Body,
) -> Result<Json<serde_json::Value>, HttpError> {
    let body = to_bytes(body, MAX_BODY).await.map_err(|e| {
        if is_too_large(&e) {
            HttpError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body is larger than {MAX_BODY} bytes"),
            )
        } else {
            HttpError::new(
                StatusCode::BAD_REQUEST,
                format!("could not read the body: {e}"),
            )
        }
    })?;
    let meta = conn.verifier.verify(headers, &body).map_err(|e| {
        HttpError::new(StatusCode::UNAUTHORIZED, format!("signature rejected: {e}"))
    })?;
    let decoded = conn
        .kind
        .decode_webhook(&meta, &body)
        .map_err(|e| HttpError::new(StatusCode::BAD_REQUEST, format!("malformed event: {e}")))?;
    let delivery = match decoded {
        Decoded::Change { event_type, change } => Delivery {
            message_id: meta.message_id,
            event_type,
            change: Some(change),
        },
        Decoded::Ignored { event_type } => Delivery {
            message_id: meta.message_id,
            event_type,
            change: None,
        },
    };
    let (message_id, event_type) = (delivery.message_id.clone(), delivery.event_type.clone());
    let user = delivery.change.as_ref().map(|c| c.user_id.to_string());
    match conn.applier.submit(delivery).await {
        Ok(outcome) => {
            tracing::info!(
                message_id,
                event_type,
                user,
                outcome = outcome.as_str(),
                "webhook"
            );
            Ok(Json(json!({ "outcome": outcome })))
        }
        Err(ApplyError::Unavailable(reason)) => {
            tracing::warn!(%reason, "database unavailable; asking the provider to retry");
            Err(HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "database unavailable, retry later",
            ))
        }
        Err(ApplyError::Failed(reason)) => {
            tracing::error!(%reason, "could not apply webhook");
            Err(HttpError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "could not store the change, retry later",
            ))
        }
    }
}

/// Whether reading the body failed on the size limit, rather than on the
/// connection (a client that went away).
fn is_too_large(e: &axum::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// Anyone can send rejected requests; a flood must neither take the pool's
/// connections from real deliveries nor pile up tasks. So at most
/// `WRITING` rejections are written at once, at most `PENDING` wait, and
/// beyond that the record is skipped (the metric still counts it).
static WRITING: Semaphore = Semaphore::const_new(2);
static PENDING: Semaphore = Semaphore::const_new(256);

/// Keeps the rejection in the connection's recent errors without delaying
/// the answer; losing it when the database is down or under a flood of
/// bad requests is acceptable.
fn record_rejection(state: &AppState, connection: &str, e: &HttpError) {
    let Ok(pending) = PENDING.try_acquire() else {
        tracing::debug!("rejection not recorded: too many waiting to be");
        return;
    };
    let pool = state.pool.clone();
    let connection = connection.to_owned();
    let message = format!("HTTP {}: {}", e.status.as_u16(), e.message);
    tokio::spawn(async move {
        let Ok(_writing) = WRITING.acquire().await else {
            return;
        };
        if let Err(err) =
            idsync_store::errors::record(&pool, &connection, "webhook", &message).await
        {
            tracing::debug!(error = %err, "could not record webhook rejection");
        }
        drop(pending);
    });
}
