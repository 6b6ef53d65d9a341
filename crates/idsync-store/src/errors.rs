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

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow)]
pub struct ErrorRow {
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
        "SELECT at, source, message FROM idsync.errors
          WHERE connection = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(connection)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
