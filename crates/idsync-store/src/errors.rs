//! Recent errors per connection (rejected webhooks, failed provider calls),
//! shown by `status`. Only the newest few hundred per connection are kept.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::StoreError;

const KEEP_PER_CONNECTION: i64 = 200;

pub async fn record(
    pool: &PgPool,
    connection: &str,
    source: &str,
    message: &str,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("INSERT INTO idsync.errors (connection, source, message) VALUES ($1, $2, $3)")
        .bind(connection)
        .bind(source)
        .bind(message)
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "DELETE FROM idsync.errors WHERE connection = $1 AND id <= (
             SELECT id FROM idsync.errors WHERE connection = $1
              ORDER BY id DESC OFFSET $2 LIMIT 1)",
    )
    .bind(connection)
    .bind(KEEP_PER_CONNECTION)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ErrorRow {
    /// Stable within a connection; the console links each error by it.
    pub id: i64,
    pub at: DateTime<Utc>,
    pub source: String,
    pub message: String,
}

pub async fn recent(
    pool: &PgPool,
    connection: &str,
    limit: i64,
) -> Result<Vec<ErrorRow>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT id, at, source, message FROM idsync.errors
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
