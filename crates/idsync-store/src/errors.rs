//! Recent errors per connection (rejected webhooks, refused deliveries,
//! failed provider calls), shown by `status` and the console. Only the newest few hundred per connection are kept.

use chrono::{DateTime, Utc};
use idsync_core::{InvalidInput, MessageId, storable_text};
use sqlx::{PgConnection, PgPool};

use crate::StoreError;

const KEEP_PER_CONNECTION: i64 = 200;

pub async fn record(
    pool: &PgPool,
    connection: &str,
    source: &str,
    message: &str,
) -> Result<(), StoreError> {
    insert(pool, connection, source, None, message).await
}

/// Records a delivery refused because it could never be stored (rule 7),
/// with its message id in a form that is itself storable (the id may be
/// the bad field). It shows with the connection's other errors.
pub async fn record_refused_delivery(
    pool: &PgPool,
    connection: &str,
    source: &str,
    message_id: &str,
    reason: &InvalidInput,
) -> Result<(), StoreError> {
    let shown = MessageId::describe(message_id);
    insert(pool, connection, source, Some(&shown), &reason.to_string()).await
}

/// Keeps the newest [`KEEP_PER_CONNECTION`] errors of `connection`, after
/// rows were added outside [`record`] (the applier records deliveries
/// stored cleaned within its batch statement).
pub(crate) async fn trim(pool: &PgPool, connection: &str) -> Result<(), StoreError> {
    let mut conn = pool.acquire().await?;
    trim_in(&mut conn, connection).await
}

async fn insert(
    pool: &PgPool,
    connection: &str,
    source: &str,
    message_id: Option<&str>,
    message: &str,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    insert_in(&mut tx, connection, source, message_id, message).await?;
    tx.commit().await?;
    Ok(())
}

async fn insert_in(
    conn: &mut PgConnection,
    connection: &str,
    source: &str,
    message_id: Option<&str>,
    message: &str,
) -> Result<(), StoreError> {
    // Error text quotes what was sent (a decoder's message, a provider's
    // answer), which may hold U+0000.
    sqlx::query(
        "INSERT INTO idsync.errors (connection, source, message_id, message) VALUES ($1, $2, $3, $4)",
    )
    .bind(connection)
    .bind(storable_text(source))
    .bind(message_id.map(storable_text))
    .bind(storable_text(message))
    .execute(&mut *conn)
    .await?;
    trim_in(conn, connection).await
}

async fn trim_in(conn: &mut PgConnection, connection: &str) -> Result<(), StoreError> {
    sqlx::query(
        "DELETE FROM idsync.errors WHERE connection = $1 AND id <= (
             SELECT id FROM idsync.errors WHERE connection = $1
              ORDER BY id DESC OFFSET $2 LIMIT 1)",
    )
    .bind(connection)
    .bind(KEEP_PER_CONNECTION)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ErrorRow {
    /// Stable within a connection; the console links each error by it.
    pub id: i64,
    pub at: DateTime<Utc>,
    pub source: String,
    /// The refused delivery's id, shortened if it was too long to store.
    pub message_id: Option<String>,
    pub message: String,
}

pub async fn recent(
    pool: &PgPool,
    connection: &str,
    limit: i64,
) -> Result<Vec<ErrorRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, at, source, message_id, message FROM idsync.errors
          WHERE connection = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(connection)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}

/// How many errors of `source` the connection had in the last `seconds`.
pub async fn count_recent(
    pool: &PgPool,
    connection: &str,
    source: &str,
    seconds: i64,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM idsync.errors
          WHERE connection = $1 AND source = $2 AND at > now() - make_interval(secs => $3)",
    )
    .bind(connection)
    .bind(source)
    .bind(seconds as f64)
    .fetch_one(pool)
    .await?)
}
