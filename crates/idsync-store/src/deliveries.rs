//! The delivery log: one row per accepted webhook message, keyed by the
//! provider's message id, which makes redeliveries no-ops.

use chrono::{DateTime, Utc};
use idsync_core::{EventType, MessageId, UserId};
use sqlx::{PgConnection, PgPool};

use crate::StoreError;

/// Claims `message_ids` for `connection` inside the caller's transaction and
/// returns those seen for the first time. Runs before the users table is
/// touched, so a concurrent replica holding the same message waits for it
/// and then sees it as a duplicate. The typed ids and event types are what
/// keeps a delivery from failing here on every retry (rule 7).
pub async fn claim(
    conn: &mut PgConnection,
    connection: &str,
    message_ids: &[MessageId],
    event_types: &[EventType],
    user_ids: &[Option<UserId>],
) -> Result<Vec<String>, StoreError> {
    let ids: Vec<&str> = message_ids.iter().map(MessageId::as_str).collect();
    let types: Vec<&str> = event_types.iter().map(EventType::as_str).collect();
    let users: Vec<Option<&str>> = user_ids
        .iter()
        .map(|u| u.as_ref().map(UserId::as_str))
        .collect();
    let fresh = sqlx::query_scalar(
        "INSERT INTO idsync.deliveries (connection, message_id, event_type, user_id, outcome)
         SELECT $1, m, e, u, 'pending' FROM UNNEST($2::text[], $3::text[], $4::text[]) AS x(m, e, u)
         ON CONFLICT (connection, message_id) DO NOTHING
         RETURNING message_id",
    )
    .bind(connection)
    .bind(&ids)
    .bind(&types)
    .bind(&users)
    .fetch_all(conn)
    .await?;
    Ok(fresh)
}

/// Records the outcome of claimed messages.
pub async fn set_outcomes(
    conn: &mut PgConnection,
    connection: &str,
    message_ids: &[String],
    outcomes: &[&str],
) -> Result<(), StoreError> {
    // The batch's rows are found by primary key. Without planner statistics
    // (a fresh install taking a burst, before autovacuum's first ANALYZE)
    // Postgres would rather scan the whole log for every batch; this is the
    // transaction's last statement, so the setting touches nothing else.
    sqlx::query("SET LOCAL enable_seqscan = off")
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE idsync.deliveries d SET outcome = x.o
           FROM UNNEST($2::text[], $3::text[]) AS x(m, o)
          WHERE d.connection = $1 AND d.message_id = x.m",
    )
    .bind(connection)
    .bind(message_ids)
    .bind(outcomes)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeliveryRow {
    pub message_id: String,
    pub event_type: String,
    pub user_id: Option<String>,
    pub received_at: DateTime<Utc>,
    pub outcome: String,
}

pub async fn recent(
    pool: &PgPool,
    connection: &str,
    limit: i64,
) -> Result<Vec<DeliveryRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT message_id, event_type, user_id, received_at, outcome
           FROM idsync.deliveries WHERE connection = $1
          ORDER BY received_at DESC LIMIT $2",
    )
    .bind(connection)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// Deletes log rows older than `keep`. Dedupe holds within that window,
/// which is far longer than any provider's retry schedule.
pub async fn prune(pool: &PgPool, keep: std::time::Duration) -> Result<u64, StoreError> {
    let secs = i64::try_from(keep.as_secs()).unwrap_or(i64::MAX);
    let done = sqlx::query(
        "DELETE FROM idsync.deliveries WHERE received_at < now() - make_interval(secs => $1)",
    )
    .bind(secs as f64)
    .execute(pool)
    .await?;
    Ok(done.rows_affected())
}
