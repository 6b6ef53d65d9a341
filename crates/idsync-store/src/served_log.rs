//! Recent requests to a served API (SCIM) with their outcome, shown by
//! `status` and the console. Only the newest few hundred per connection
//! are kept.

use chrono::{DateTime, Utc};
use idsync_core::storable_text;
use sqlx::PgPool;

use crate::StoreError;

const KEEP_PER_CONNECTION: i64 = 200;

/// One request as logged: never its body, which may hold a password.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ServedRequest {
    pub at: DateTime<Utc>,
    pub method: String,
    pub path: String,
    pub status: i32,
    pub outcome: String,
}

pub async fn record(
    pool: &PgPool,
    connection: &str,
    method: &str,
    path: &str,
    status: u16,
    outcome: &str,
) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query(
        "INSERT INTO idsync.served_requests (connection, method, path, status, outcome)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(connection)
    .bind(storable_text(method))
    .bind(storable_text(path))
    .bind(i32::from(status))
    .bind(storable_text(outcome))
    .execute(&mut *tx)
    .await?;
    sqlx::query(
        "DELETE FROM idsync.served_requests WHERE connection = $1 AND id <= (
             SELECT id FROM idsync.served_requests WHERE connection = $1
              ORDER BY id DESC OFFSET $2 LIMIT 1)",
    )
    .bind(connection)
    .bind(KEEP_PER_CONNECTION)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The newest `limit` requests, newest first.
pub async fn recent(
    pool: &PgPool,
    connection: &str,
    limit: i64,
) -> Result<Vec<ServedRequest>, StoreError> {
    Ok(sqlx::query_as(
        "SELECT at, method, path, status, outcome FROM idsync.served_requests
          WHERE connection = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(connection)
    .bind(limit)
    .fetch_all(pool)
    .await?)
}
