//! The ids a full reconcile has listed so far, kept in Postgres rather
//! than in memory, so that the job's memory does not grow with the number
//! of users.
//!
//! A temporary table of the connection the pass runs on: private to the
//! pass, never written to the WAL, and gone with the connection, so a
//! crashed or failed pass leaves nothing behind. The caller must run the
//! whole pass on one connection and close it afterwards (not return it to
//! the pool, where the table would linger until the next pass).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use crate::{StoreError, UsersTable};

/// Creates the (empty) set on this connection.
pub async fn create(conn: &mut PgConnection) -> Result<(), StoreError> {
    // `query`, not `raw_sql`: the future of `raw_sql(..).execute` on a
    // `&mut PgConnection` is not `Send` for every lifetime, which a job
    // spawned on tokio needs.
    sqlx::query("CREATE TEMPORARY TABLE reconcile_seen (user_id text PRIMARY KEY)")
        .execute(conn)
        .await?;
    Ok(())
}

/// Adds listed ids to the set (a listing may repeat one).
pub async fn mark(conn: &mut PgConnection, ids: &[String]) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    sqlx::query(
        "INSERT INTO pg_temp.reconcile_seen (user_id) SELECT unnest($1::text[])
         ON CONFLICT DO NOTHING",
    )
    .bind(ids)
    .execute(conn)
    .await?;
    Ok(())
}

/// Gives the planner the set's size once the listing is done (autovacuum
/// never analyzes temporary tables).
pub async fn analyze(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query("ANALYZE pg_temp.reconcile_seen")
        .execute(conn)
        .await?;
    Ok(())
}

/// Up to `limit` ids of active rows written before `before` (or with no
/// version) that the set lacks, in id order after `after`: the next
/// keyset batch of rows the listing did not show.
pub async fn unseen_active_before(
    conn: &mut PgConnection,
    table: &UsersTable,
    before: DateTime<Utc>,
    after: Option<&str>,
    limit: i64,
) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(&format!(
        "SELECT u.id FROM {} u
          WHERE u.deleted_at IS NULL
            AND (u.updated_at IS NULL OR u.updated_at < $1)
            AND ($2::text IS NULL OR u.id > $2)
            AND NOT EXISTS (SELECT 1 FROM pg_temp.reconcile_seen s WHERE s.user_id = u.id)
          ORDER BY u.id
          LIMIT $3",
        table.qualified()
    ))
    .bind(before)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}
