//! The app's table and its queries. `user_messages.user_id` references the
//! synced users table: the login layer's just-in-time sync puts the user
//! there at sign-in, so the foreign key holds from the first save.

use chrono::{DateTime, Utc};
use idsync_core::UserId;
use idsync_store::{PgPool, UsersTable};

/// Advisory lock key serialising this app's migration across replicas.
const MIGRATION_LOCK: i64 = 0x7175_6f74; // "quot"

#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    #[error("idsync's migration failed: {0}")]
    Idsync(#[from] idsync_store::StoreError),
    #[error("creating user_messages failed: {0}")]
    App(#[from] sqlx::Error),
}

/// Creates idsync's schema and the users table, then `user_messages`.
pub async fn migrate(pool: &PgPool, users: &UsersTable) -> Result<(), MigrateError> {
    idsync_store::migrate::migrate(pool, std::slice::from_ref(users)).await?;
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await?;
    sqlx::raw_sql(&format!(
        "CREATE TABLE IF NOT EXISTS user_messages (
             user_id   text PRIMARY KEY REFERENCES {users}(id),
             create_ts timestamptz DEFAULT now() NOT NULL,
             message   text NOT NULL
         )",
        users = users.qualified()
    ))
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(())
}

/// A saved quote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Quote {
    pub message: String,
    pub created: DateTime<Utc>,
}

pub async fn quote_of(pool: &PgPool, user: &UserId) -> Result<Option<Quote>, sqlx::Error> {
    let row: Option<(String, DateTime<Utc>)> =
        sqlx::query_as("SELECT message, create_ts FROM user_messages WHERE user_id = $1")
            .bind(user.as_str())
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(message, created)| Quote { message, created }))
}

/// Saves the user's quote, replacing any earlier one.
pub async fn save_quote(pool: &PgPool, user: &UserId, message: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO user_messages (user_id, message) VALUES ($1, $2)
         ON CONFLICT (user_id) DO UPDATE SET message = EXCLUDED.message, create_ts = now()",
    )
    .bind(user.as_str())
    .bind(message)
    .execute(pool)
    .await?;
    Ok(())
}

pub async fn delete_quote(pool: &PgPool, user: &UserId) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM user_messages WHERE user_id = $1")
        .bind(user.as_str())
        .execute(pool)
        .await?;
    Ok(())
}
