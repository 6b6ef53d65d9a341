//! `/webhooks/{connection}`: where providers push. The connection's
//! provider verifies and decodes each request; idsync answers 2xx only once
//! every event in it is committed: a change applied, an ignored event
//! logged, a notification's user queued for a refresh.

use axum::body::{Body, to_bytes};
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::get;
use axum::{Json, Router};
use futures::future::join_all;
use idsync_core::{EventType, InvalidInput, MessageId};
use idsync_providers::provider::WEBHOOK_PATH;
use idsync_providers::{Effect, PushError, PushEvent, PushRequest};
use idsync_store::applier::{ApplyError, Delivery};
use idsync_store::apply::Outcome;
use idsync_store::refresh::Notice;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::error::HttpError;
use crate::{AppState, ConnectionRuntime};

/// How long a notified user waits before its fetch, so that a burst of
/// events about it makes one fetch (Okta sends several per change).
const SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

/// Largest accepted body. Provider user objects are a few KiB; Okta sends
/// up to a few dozen events per request.
pub const MAX_BODY: usize = 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route(WEBHOOK_PATH, get(challenge).post(receive))
}

/// A provider's one-time verification `GET` (Okta's event hook challenge).
async fn challenge(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, HttpError> {
    let conn = connection(&state, &name)?;
    match conn.provider.challenge(&headers) {
        Some(Ok(answer)) => Ok(Json(answer)),
        Some(Err(e)) => Err(refused(&e)),
        None => Err(HttpError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            format!(
                "{} sends no verification request; deliveries are POSTed here",
                conn.provider.info().display_name
            ),
        )),
    }
}

#[tracing::instrument(skip_all, fields(connection = %name))]
async fn receive(
    State(state): State<AppState>,
    Path(name): Path<String>,
    request: Request,
) -> Result<Json<Value>, HttpError> {
    let conn = connection(&state, &name)?;
    let (parts, body) = request.into_parts();
    let result = handle(&state, &conn, &parts.headers, body).await;
    // A 422 is an event refused under rule 7, already recorded and counted
    // per event, with its id, by `refuse`.
    if let Err(e) = &result
        && e.status.is_client_error()
        && e.status != StatusCode::UNPROCESSABLE_ENTITY
    {
        tracing::info!(status = e.status.as_u16(), reason = %e.message, "webhook rejected");
        metrics::counter!("idsync_webhook_rejections_total",
            "connection" => name.clone(), "status" => e.status.as_u16().to_string())
        .increment(1);
        record_rejection(&state, &name, e);
    }
    result
}

fn connection(
    state: &AppState,
    name: &str,
) -> Result<std::sync::Arc<ConnectionRuntime>, HttpError> {
    state.connection(name).ok_or_else(|| {
        HttpError::new(
            StatusCode::NOT_FOUND,
            format!("no connection named {name:?}"),
        )
    })
}

fn refused(e: &PushError) -> HttpError {
    let status = match e {
        PushError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
        PushError::Malformed(_) => StatusCode::BAD_REQUEST,
    };
    HttpError::new(status, e.to_string())
}

async fn handle(
    state: &AppState,
    conn: &ConnectionRuntime,
    headers: &HeaderMap,
    body: Body,
) -> Result<Json<Value>, HttpError> {
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
    let push = PushRequest {
        headers,
        body: &body,
        now: chrono::Utc::now().timestamp(),
    };
    let events = conn.provider.receive(&push).map_err(|e| refused(&e))?;

    let total = events.len();
    let mut notices = Vec::new();
    let mut deliveries = Vec::new();
    let mut refused = Vec::new();
    for PushEvent {
        id,
        event_type,
        effect,
    } in events
    {
        let delivery = match effect {
            Effect::Refresh(user_id) => {
                match MessageId::parse(&id) {
                    Ok(event_id) => notices.push(Notice {
                        event_id,
                        event_type: EventType::new(&event_type),
                        user_id,
                    }),
                    Err(e) => refused.push((id, e)),
                }
                continue;
            }
            Effect::Refuse(reason) => {
                refused.push((id, reason));
                continue;
            }
            Effect::Apply(change) => Delivery {
                message_id: id,
                event_type,
                change: Some(change),
            },
            Effect::Ignore => Delivery {
                message_id: id,
                event_type,
                change: None,
            },
        };
        match delivery.check() {
            Ok(()) => deliveries.push(delivery),
            Err(e) => refused.push((delivery.message_id, e)),
        }
    }
    for (id, reason) in &refused {
        refuse(state, conn.name.as_str(), id, reason);
    }
    // Rule 7: an event that can never be stored is refused with its reason;
    // a request of only such events gets a 422, so a provider stops
    // retrying it. In a batch the others are still taken.
    if refused.len() == total
        && let Some((_, reason)) = refused.first()
    {
        return Err(HttpError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("delivery refused: {reason}"),
        ));
    }
    if !notices.is_empty() {
        let queued =
            idsync_store::refresh::enqueue(&state.pool, conn.name.as_str(), &notices, SETTLE)
                .await
                .map_err(|e| unavailable(&e))?;
        tracing::info!(
            events = notices.len(),
            queued,
            "notifications queued for refresh"
        );
        conn.refresh_wake.notify_one();
    }
    let outcomes = join_all(deliveries.into_iter().map(|d| apply(conn, d))).await;
    let outcomes = outcomes.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(Json(match outcomes.as_slice() {
        [one] if total == 1 => json!({ "outcome": one }),
        _ => json!({
            "outcomes": outcomes,
            "queued": notices.len(),
            "refused": refused.len(),
        }),
    }))
}

/// Records an event refused under rule 7, without delaying the answer.
fn refuse(state: &AppState, connection: &str, id: &str, reason: &InvalidInput) {
    tracing::info!(reason = reason.code(), "webhook event refused");
    metrics::counter!("idsync_webhook_rejections_total",
        "connection" => connection.to_owned(), "status" => "422", "reason" => reason.code())
    .increment(1);
    let Ok(pending) = PENDING.try_acquire() else {
        return;
    };
    let pool = state.pool.clone();
    let connection = connection.to_owned();
    let id = id.to_owned();
    let reason = reason.clone();
    tokio::spawn(async move {
        let Ok(_writing) = WRITING.acquire().await else {
            return;
        };
        if let Err(err) = idsync_store::errors::record_refused_delivery(
            &pool,
            &connection,
            "webhook",
            &id,
            &reason,
        )
        .await
        {
            tracing::debug!(error = %err, "could not record the refused event");
        }
        drop(pending);
    });
}

/// Applies one delivery through the connection's applier.
async fn apply(conn: &ConnectionRuntime, delivery: Delivery) -> Result<Outcome, HttpError> {
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
            Ok(outcome)
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

fn unavailable(e: &idsync_store::StoreError) -> HttpError {
    tracing::warn!(error = %e, "could not queue notifications; asking the provider to retry");
    HttpError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "database unavailable, retry later",
    )
}

/// Whether reading the body failed on the size limit, rather than on the
/// connection (a client that went away).
pub(crate) fn is_too_large(e: &axum::Error) -> bool {
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
