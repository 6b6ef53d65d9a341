//! The refresh queue: users a provider notified about without sending
//! their state (Okta's event hooks carry only ids). A notification is
//! recorded here, in the same transaction as its delivery log row, before
//! the provider gets its 2xx; the refresher then fetches each queued user
//! through the provider's API and applies what it finds.
//!
//! One row per user coalesces any number of notifications into one fetch.
//! `seq` counts notifications: a row is removed after a fetch only if no
//! notification arrived while the fetch was in flight, so a change made
//! after the provider answered is never missed.

use std::time::Duration;

use chrono::{DateTime, Utc};
use idsync_core::{Change, EventType, MessageId, UserId, storable_text};
use sqlx::PgPool;

use crate::apply::{Outcome, apply_changes};
use crate::{StoreError, UsersTable, deliveries};

/// One notification: its event id (for de-duplication and the delivery
/// log) and the user it names.
#[derive(Debug, Clone)]
pub struct Notice {
    pub event_id: MessageId,
    pub event_type: EventType,
    pub user_id: UserId,
}

/// Records `notices` and queues their users, due after `settle`. Returns how
/// many were new (redelivered event ids are logged once and queue nothing).
///
/// `settle` coalesces bursts: a user already queued keeps its due time, so
/// every notification about it within `settle` of the first is served by
/// one fetch.
pub async fn enqueue(
    pool: &PgPool,
    connection: &str,
    notices: &[Notice],
    settle: Duration,
) -> Result<usize, StoreError> {
    let mut first: Vec<&Notice> = Vec::with_capacity(notices.len());
    let mut seen = std::collections::HashSet::new();
    for n in notices {
        if seen.insert(n.event_id.as_str()) {
            first.push(n);
        }
    }
    // Claims in event-id order, as the applier does, so concurrent
    // requests lock log rows in one order.
    first.sort_by(|a, b| a.event_id.cmp(&b.event_id));
    let ids: Vec<MessageId> = first.iter().map(|n| n.event_id.clone()).collect();
    let types: Vec<EventType> = first.iter().map(|n| n.event_type.clone()).collect();
    let users: Vec<Option<UserId>> = first.iter().map(|n| Some(n.user_id.clone())).collect();

    let mut tx = pool.begin().await?;
    let fresh: std::collections::HashSet<String> =
        deliveries::claim(&mut tx, connection, &ids, &types, &users)
            .await?
            .into_iter()
            .collect();
    let mut queued: Vec<String> = first
        .iter()
        .filter(|n| fresh.contains(n.event_id.as_str()))
        .map(|n| n.user_id.to_string())
        .collect();
    let fresh_ids: Vec<String> = first
        .iter()
        .filter(|n| fresh.contains(n.event_id.as_str()))
        .map(|n| n.event_id.as_str().to_owned())
        .collect();
    let count = fresh_ids.len();
    queued.sort();
    queued.dedup();
    sqlx::query(
        "INSERT INTO idsync.refresh_queue (connection, user_id, due_at)
         SELECT $1, u, now() + make_interval(secs => $3) FROM UNNEST($2::text[]) AS u
         ON CONFLICT (connection, user_id)
         DO UPDATE SET seq = idsync.refresh_queue.seq + 1",
    )
    .bind(connection)
    .bind(&queued)
    .bind(settle.as_secs_f64())
    .execute(&mut *tx)
    .await?;
    let outcomes = vec!["queued"; fresh_ids.len()];
    deliveries::set_outcomes(&mut tx, connection, &fresh_ids, &outcomes).await?;
    tx.commit().await?;
    Ok(count)
}

/// A queued user taken for fetching.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Leased {
    pub user_id: String,
    /// The notification count when leased; see [`complete`].
    pub seq: i64,
    /// Failed fetches so far.
    pub attempts: i32,
}

/// Leases up to `limit` due users for `lease`. A replica that dies
/// holding a lease leaves the users to be taken again when it expires.
pub async fn lease(
    pool: &PgPool,
    connection: &str,
    limit: i64,
    lease: Duration,
) -> Result<Vec<Leased>, StoreError> {
    Ok(sqlx::query_as(
        "UPDATE idsync.refresh_queue q SET leased_until = now() + make_interval(secs => $3)
          WHERE (q.connection, q.user_id) IN (
                SELECT connection, user_id FROM idsync.refresh_queue
                 WHERE connection = $1 AND due_at <= now()
                   AND (leased_until IS NULL OR leased_until < now())
                 ORDER BY due_at
                 LIMIT $2
                 FOR UPDATE SKIP LOCKED)
      RETURNING q.user_id, q.seq, q.attempts",
    )
    .bind(connection)
    .bind(limit)
    .bind(lease.as_secs_f64())
    .fetch_all(pool)
    .await?)
}

/// Applies the fetched state of leased users and takes them off the
/// queue, in one transaction. A user notified again since its lease stays
/// queued (with its lease cleared) for another fetch.
pub async fn complete(
    pool: &PgPool,
    connection: &str,
    table: &UsersTable,
    done: &[(Leased, Change)],
) -> Result<Vec<Outcome>, StoreError> {
    let changes: Vec<Change> = done.iter().map(|(_, c)| c.clone()).collect();
    let users: Vec<String> = done.iter().map(|(l, _)| l.user_id.clone()).collect();
    let seqs: Vec<i64> = done.iter().map(|(l, _)| l.seq).collect();
    let mut tx = pool.begin().await?;
    let outcomes = apply_changes(&mut tx, table, &changes).await?;
    let removed = sqlx::query(
        "DELETE FROM idsync.refresh_queue q USING UNNEST($2::text[], $3::bigint[]) AS x(u, s)
          WHERE q.connection = $1 AND q.user_id = x.u AND q.seq = x.s",
    )
    .bind(connection)
    .bind(&users)
    .bind(&seqs)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    sqlx::query(
        "UPDATE idsync.refresh_queue SET leased_until = NULL, attempts = 0, last_error = NULL
          WHERE connection = $1 AND user_id = ANY($2)",
    )
    .bind(connection)
    .bind(&users)
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "INSERT INTO idsync.refresh_totals (connection, done) VALUES ($1, $2)
         ON CONFLICT (connection) DO UPDATE SET done = idsync.refresh_totals.done + $2",
    )
    .bind(connection)
    .bind(i64::try_from(removed).unwrap_or(i64::MAX))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(outcomes)
}

/// Puts a user whose fetch failed back on the queue, due after `retry_in`.
pub async fn fail(
    pool: &PgPool,
    connection: &str,
    user_id: &str,
    retry_in: Duration,
    error: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE idsync.refresh_queue
            SET leased_until = NULL, attempts = attempts + 1, last_error = $3,
                due_at = now() + make_interval(secs => $4)
          WHERE connection = $1 AND user_id = $2",
    )
    .bind(connection)
    .bind(user_id)
    // Quotes the provider's answer, which may hold a NUL (rule 7).
    .bind(storable_text(error).as_ref())
    .bind(retry_in.as_secs_f64())
    .execute(pool)
    .await?;
    Ok(())
}

/// The refresher's work for one connection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct RefreshStats {
    /// Users waiting to be fetched.
    pub queued: i64,
    /// Users fetched and applied since the connection was created.
    pub done: i64,
    /// Queued users whose last fetch failed.
    pub failing: i64,
}

pub async fn stats(pool: &PgPool, connection: &str) -> Result<RefreshStats, StoreError> {
    Ok(sqlx::query_as(
        "SELECT (SELECT count(*) FROM idsync.refresh_queue WHERE connection = $1) AS queued,
                coalesce((SELECT done FROM idsync.refresh_totals WHERE connection = $1), 0) AS done,
                (SELECT count(*) FROM idsync.refresh_queue
                  WHERE connection = $1 AND attempts > 0) AS failing",
    )
    .bind(connection)
    .fetch_one(pool)
    .await?)
}

/// The newest failure of a queued user, for `status` and the console.
pub async fn last_failure(
    pool: &PgPool,
    connection: &str,
) -> Result<Option<(String, String, DateTime<Utc>)>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT user_id, last_error, due_at FROM idsync.refresh_queue
          WHERE connection = $1 AND last_error IS NOT NULL
          ORDER BY due_at DESC LIMIT 1",
    )
    .bind(connection)
    .fetch_optional(pool)
    .await?)
}
