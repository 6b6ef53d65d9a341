//! What `idsync status` shows for a connection.

use chrono::{DateTime, Utc};
use sqlx::PgPool;

use crate::errors::ErrorRow;
use crate::refresh::RefreshStats;
use crate::resources::ResourceTables;
use crate::runs::{JobKind, RunRow};
use crate::served_log::{self, ServedRequest};
use crate::{StoreError, UsersTable, errors, refresh, runs};

#[derive(Debug, Clone)]
pub struct ConnectionStatus {
    pub connection: String,
    pub table: String,
    pub active_users: i64,
    pub deleted_users: i64,
    pub last_webhook_at: Option<DateTime<Utc>>,
    pub last_backfill: Option<RunRow>,
    /// The latest full reconcile.
    pub last_reconcile: Option<RunRow>,
    pub last_incremental_reconcile: Option<RunRow>,
    pub recent_errors: Vec<ErrorRow>,
    /// Users named by notifications, waiting for or done by the refresher.
    pub refresh: RefreshStats,
    /// For a connection served through an API (SCIM): its groups and
    /// recent requests; see [`served_status`].
    pub served: Option<ServedStatus>,
}

/// What a served connection (SCIM) adds to its status.
#[derive(Debug, Clone)]
pub struct ServedStatus {
    pub groups: i64,
    pub memberships: i64,
    /// Newest first.
    pub recent_requests: Vec<ServedRequest>,
}

/// Requests shown in a served connection's status.
const RECENT_REQUESTS: i64 = 10;

pub async fn served_status(
    pool: &PgPool,
    tables: &ResourceTables,
) -> Result<ServedStatus, StoreError> {
    let (groups, memberships) = crate::resources::group_counts(pool, tables).await?;
    Ok(ServedStatus {
        groups,
        memberships,
        recent_requests: served_log::recent(pool, &tables.connection, RECENT_REQUESTS).await?,
    })
}

pub async fn connection_status(
    pool: &PgPool,
    connection: &str,
    table: &UsersTable,
) -> Result<ConnectionStatus, StoreError> {
    let (active, deleted): (i64, i64) = sqlx::query_as(&format!(
        "SELECT count(*) FILTER (WHERE deleted_at IS NULL),
                count(*) FILTER (WHERE deleted_at IS NOT NULL)
           FROM {}",
        table.qualified()
    ))
    .fetch_one(pool)
    .await?;
    let last_webhook_at: Option<DateTime<Utc>> =
        sqlx::query_scalar("SELECT max(received_at) FROM idsync.deliveries WHERE connection = $1")
            .bind(connection)
            .fetch_one(pool)
            .await?;
    Ok(ConnectionStatus {
        connection: connection.to_owned(),
        table: table.to_string(),
        active_users: active,
        deleted_users: deleted,
        last_webhook_at,
        last_backfill: runs::latest(pool, connection, JobKind::Backfill).await?,
        last_reconcile: runs::latest(pool, connection, JobKind::Reconcile).await?,
        last_incremental_reconcile: runs::latest(pool, connection, JobKind::IncrementalReconcile)
            .await?,
        recent_errors: errors::recent(pool, connection, 5).await?,
        refresh: refresh::stats(pool, connection).await?,
        served: None,
    })
}
