//! Backfill and reconcile runs: progress, resume cursor, outcome.

use chrono::{DateTime, Utc};
use idsync_core::{storable_json, storable_text};
use sqlx::{PgConnection, PgPool};

use crate::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunKind {
    Backfill,
    Reconcile,
}

impl RunKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Backfill => "backfill",
            Self::Reconcile => "reconcile",
        }
    }
}

/// Counters of a run, added to after every page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct RunCounts {
    pub pages: i64,
    pub seen: i64,
    pub added: i64,
    pub updated: i64,
    pub deleted: i64,
    pub unchanged: i64,
}

impl std::ops::AddAssign for RunCounts {
    fn add_assign(&mut self, o: Self) {
        self.pages += o.pages;
        self.seen += o.seen;
        self.added += o.added;
        self.updated += o.updated;
        self.deleted += o.deleted;
        self.unchanged += o.unchanged;
    }
}

#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct RunRow {
    pub id: i64,
    pub kind: String,
    pub status: String,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    #[schema(value_type = Option<Object>)]
    pub cursor: Option<serde_json::Value>,
    pub pages: i64,
    pub seen: i64,
    pub added: i64,
    pub updated: i64,
    pub deleted: i64,
    pub unchanged: i64,
    pub error: Option<String>,
}

impl RunRow {
    pub fn counts(&self) -> RunCounts {
        RunCounts {
            pages: self.pages,
            seen: self.seen,
            added: self.added,
            updated: self.updated,
            deleted: self.deleted,
            unchanged: self.unchanged,
        }
    }
}

const COLUMNS: &str = "id, kind, status, started_at, finished_at, cursor, pages, seen, added, updated, deleted, unchanged, error";

/// Starts a run. A backfill continues the newest unfinished backfill (its
/// cursor and counters), so an interrupted backfill resumes where it stopped.
/// The caller holds the connection's job lock, so a `running` row left
/// behind is from a process that died.
pub async fn start(pool: &PgPool, connection: &str, kind: RunKind) -> Result<RunRow, StoreError> {
    if kind == RunKind::Backfill {
        let resumed: Option<RunRow> = sqlx::query_as(&format!(
            "UPDATE idsync.sync_runs SET status = 'running', error = NULL, finished_at = NULL
              WHERE id = (SELECT id FROM idsync.sync_runs
                           WHERE connection = $1 AND kind = 'backfill'
                           ORDER BY id DESC LIMIT 1)
                AND status <> 'completed'
              RETURNING {COLUMNS}"
        ))
        .bind(connection)
        .fetch_optional(pool)
        .await?;
        if let Some(run) = resumed {
            return Ok(run);
        }
    }
    Ok(sqlx::query_as(&format!(
        "INSERT INTO idsync.sync_runs (connection, kind, status) VALUES ($1, $2, 'running')
         RETURNING {COLUMNS}"
    ))
    .bind(connection)
    .bind(kind.as_str())
    .fetch_one(pool)
    .await?)
}

/// Records a page's progress inside the transaction that applied it, so
/// the cursor never runs ahead of the data.
pub async fn record_page(
    conn: &mut PgConnection,
    run_id: i64,
    cursor: Option<&serde_json::Value>,
    counts: RunCounts,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE idsync.sync_runs SET cursor = $2, pages = pages + $3, seen = seen + $4,
                added = added + $5, updated = updated + $6, deleted = deleted + $7,
                unchanged = unchanged + $8
          WHERE id = $1",
    )
    .bind(run_id)
    // A cursor holds provider values (a user id, a page token).
    .bind(cursor.map(|c| storable_json(c).into_owned()))
    .bind(counts.pages)
    .bind(counts.seen)
    .bind(counts.added)
    .bind(counts.updated)
    .bind(counts.deleted)
    .bind(counts.unchanged)
    .execute(conn)
    .await?;
    Ok(())
}

pub async fn finish(pool: &PgPool, run_id: i64, error: Option<&str>) -> Result<RunRow, StoreError> {
    let status = if error.is_some() {
        "failed"
    } else {
        "completed"
    };
    Ok(sqlx::query_as(&format!(
        "UPDATE idsync.sync_runs SET status = $2, error = $3, finished_at = now()
          WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(run_id)
    .bind(status)
    // The error may quote a provider's answer.
    .bind(error.map(storable_text))
    .fetch_one(pool)
    .await?)
}

pub async fn latest(
    pool: &PgPool,
    connection: &str,
    kind: RunKind,
) -> Result<Option<RunRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM idsync.sync_runs WHERE connection = $1 AND kind = $2
          ORDER BY id DESC LIMIT 1"
    ))
    .bind(connection)
    .bind(kind.as_str())
    .fetch_optional(pool)
    .await?)
}

pub async fn has_completed_backfill(pool: &PgPool, connection: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM idsync.sync_runs
                         WHERE connection = $1 AND kind = 'backfill' AND status = 'completed')",
    )
    .bind(connection)
    .fetch_one(pool)
    .await?)
}

/// Time since the connection's last full listing, by the database's clock:
/// the start of its latest reconcile (whichever replica ran it, running or
/// finished) or the end of a completed backfill. `None` if there was none.
pub async fn since_last_listing(
    pool: &PgPool,
    connection: &str,
) -> Result<Option<std::time::Duration>, StoreError> {
    let seconds: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - max(at))::float8 FROM (
             SELECT started_at AS at FROM idsync.sync_runs
              WHERE connection = $1 AND kind = 'reconcile'
             UNION ALL
             SELECT finished_at FROM idsync.sync_runs
              WHERE connection = $1 AND kind = 'backfill' AND status = 'completed'
         ) listings",
    )
    .bind(connection)
    .fetch_one(pool)
    .await?;
    Ok(seconds.map(|s| std::time::Duration::from_secs_f64(s.max(0.0))))
}
