//! Per-connection advisory locks: at most one replica runs a backfill or a
//! reconcile of a connection at a time.

use sqlx::PgPool;
use sqlx::Postgres;
use sqlx::pool::PoolConnection;

use crate::StoreError;

/// Namespace for idsync's job locks (first key of the two-key form).
const JOB_LOCK_CLASS: i32 = 0x6964_7379;

/// A held session-level advisory lock. It lives on one pooled connection;
/// dropping the guard closes that connection, which releases the lock even
/// if the explicit unlock could not run.
pub struct JobLock {
    conn: Option<PoolConnection<Postgres>>,
}

impl JobLock {
    /// Takes the connection's job lock if no one holds it.
    pub async fn try_acquire(pool: &PgPool, connection: &str) -> Result<Option<Self>, StoreError> {
        let mut conn = pool.acquire().await?;
        let got: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
            .bind(JOB_LOCK_CLASS)
            .bind(connection)
            .fetch_one(&mut *conn)
            .await?;
        Ok(got.then_some(Self { conn: Some(conn) }))
    }

    /// Releases the lock and returns the connection to the pool.
    pub async fn release(mut self) {
        if let Some(mut conn) = self.conn.take() {
            let unlocked = sqlx::query("SELECT pg_advisory_unlock_all()")
                .execute(&mut *conn)
                .await;
            if unlocked.is_err() {
                conn.close_on_drop();
            }
        }
    }
}

impl Drop for JobLock {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            // Not released explicitly (task cancelled): closing the session
            // is the only synchronous way to drop the lock.
            let mut conn = conn;
            conn.close_on_drop();
        }
    }
}
