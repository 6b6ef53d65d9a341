//! Backfill and reconcile runs: progress, resume cursor, outcome.

use chrono::{DateTime, Utc};
use idsync_core::{storable_json, storable_text};
use sqlx::{PgConnection, PgPool};

use crate::StoreError;

/// A job that reads every user through the provider's API. Stored as the
/// `kind` of `idsync.sync_runs`, whose CHECK constraint lists the same words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    /// The first full load, resumable page by page.
    Backfill,
    /// A full listing that also repairs drift, deletions included.
    Reconcile,
    /// Only the users changed since an earlier run, as the provider lists
    /// them: repairs what changed, but finds no user deleted outright.
    IncrementalReconcile,
}

/// Where a run stands. Stored as the `status` of `idsync.sync_runs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    Running,
    Completed,
    Failed,
}

/// `as_str`/`FromStr`/`Display` for an enum stored as one of a few words in
/// a `text` column, and the sqlx impls that bind and read it as such.
macro_rules! text_enum {
    ($ty:ident { $($variant:ident => $text:literal,)+ }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $ty {
            type Err = UnknownWord;

            fn from_str(s: &str) -> Result<Self, UnknownWord> {
                match s {
                    $($text => Ok(Self::$variant),)+
                    other => Err(UnknownWord {
                        what: stringify!($ty),
                        word: other.to_owned(),
                    }),
                }
            }
        }

        impl sqlx::Type<sqlx::Postgres> for $ty {
            fn type_info() -> sqlx::postgres::PgTypeInfo {
                <&str as sqlx::Type<sqlx::Postgres>>::type_info()
            }

            fn compatible(ty: &sqlx::postgres::PgTypeInfo) -> bool {
                <&str as sqlx::Type<sqlx::Postgres>>::compatible(ty)
            }
        }

        impl sqlx::Encode<'_, sqlx::Postgres> for $ty {
            fn encode_by_ref(
                &self,
                buf: &mut sqlx::postgres::PgArgumentBuffer,
            ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
                <&str as sqlx::Encode<sqlx::Postgres>>::encode(self.as_str(), buf)
            }
        }

        impl sqlx::Decode<'_, sqlx::Postgres> for $ty {
            fn decode(
                value: sqlx::postgres::PgValueRef<'_>,
            ) -> Result<Self, sqlx::error::BoxDynError> {
                Ok(<&str as sqlx::Decode<sqlx::Postgres>>::decode(value)?.parse()?)
            }
        }
    };
}

/// A stored word that names no variant: the table holds something this
/// version of idsync does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown {what} {word:?}")]
pub struct UnknownWord {
    what: &'static str,
    word: String,
}

text_enum!(JobKind {
    Backfill => "backfill",
    Reconcile => "reconcile",
    IncrementalReconcile => "incremental_reconcile",
});

text_enum!(RunStatus {
    Running => "running",
    Completed => "completed",
    Failed => "failed",
});

/// Counters of a run, added to after every page.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RunRow {
    pub id: i64,
    pub kind: JobKind,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
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
pub async fn start(pool: &PgPool, connection: &str, kind: JobKind) -> Result<RunRow, StoreError> {
    if kind == JobKind::Backfill {
        let resumed: Option<RunRow> = sqlx::query_as(&format!(
            "UPDATE idsync.sync_runs SET status = $2, error = NULL, finished_at = NULL
              WHERE id = (SELECT id FROM idsync.sync_runs
                           WHERE connection = $1 AND kind = $3
                           ORDER BY id DESC LIMIT 1)
                AND status <> $4
              RETURNING {COLUMNS}"
        ))
        .bind(connection)
        .bind(RunStatus::Running)
        .bind(JobKind::Backfill)
        .bind(RunStatus::Completed)
        .fetch_optional(pool)
        .await?;
        if let Some(run) = resumed {
            return Ok(run);
        }
    }
    Ok(sqlx::query_as(&format!(
        "INSERT INTO idsync.sync_runs (connection, kind, status) VALUES ($1, $2, $3)
         RETURNING {COLUMNS}"
    ))
    .bind(connection)
    .bind(kind)
    .bind(RunStatus::Running)
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
    let query = sqlx::query(
        "UPDATE idsync.sync_runs SET cursor = $2, pages = pages + $3, seen = seen + $4,
                added = added + $5, updated = updated + $6, deleted = deleted + $7,
                unchanged = unchanged + $8
          WHERE id = $1",
    )
    .bind(run_id)
    // A cursor holds provider values (a user id, a page token).
    .bind(cursor.map(|c| storable_json(c).into_owned()));
    bind_counts(query, counts).execute(conn).await?;
    Ok(())
}

/// Where an offset-paged backfill stands: its pages are numbered from
/// `base` (the cursor of page 0), and `committed` are those written, in
/// order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PagedProgress {
    pub base: Option<serde_json::Value>,
    pub committed: Vec<CommittedPage>,
}

/// A page of an offset-paged backfill whose rows are in the table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct CommittedPage {
    pub page: i64,
    /// The page that ended the listing.
    pub last: bool,
}

/// The numbered pages `run_id` committed so far. A run without any counts
/// its pages from its `cursor`: that is where a run interrupted before
/// pages were numbered (an older idsync) resumes, or the start.
pub async fn paged_progress(pool: &PgPool, run_id: i64) -> Result<PagedProgress, StoreError> {
    sqlx::query(
        "UPDATE idsync.sync_runs SET page_base = cursor, cursor_page = 0
          WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM idsync.sync_run_pages WHERE run_id = $1)",
    )
    .bind(run_id)
    .execute(pool)
    .await?;
    let base: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT page_base FROM idsync.sync_runs WHERE id = $1")
            .bind(run_id)
            .fetch_one(pool)
            .await?;
    let committed = sqlx::query_as(
        "SELECT page, last FROM idsync.sync_run_pages WHERE run_id = $1 ORDER BY page",
    )
    .bind(run_id)
    .fetch_all(pool)
    .await?;
    Ok(PagedProgress {
        base: base.filter(|b| !b.is_null()),
        committed,
    })
}

/// A numbered page being written, and what the run's contiguous prefix
/// will be once it commits.
#[derive(Debug, Clone, Copy)]
pub struct NumberedPage<'a> {
    pub page: i64,
    pub last: bool,
    /// Pages from the base all committed once this one is, as far as the
    /// writer knew: a lower bound, since pages written beside it may
    /// commit first ([`save_prefix`] saves the exact one at the end).
    pub prefix: i64,
    /// The cursor after those `prefix` pages, shown as the run's `cursor`.
    pub prefix_cursor: Option<&'a serde_json::Value>,
}

/// Records a numbered page and adds its counts to the run, in one
/// statement inside the transaction that applied it; the run's row is
/// locked only from here to the commit. Returns false, changing nothing,
/// if the page is already recorded (an earlier attempt committed although
/// its connection broke before saying so): the caller rolls back.
pub async fn record_numbered_page(
    conn: &mut PgConnection,
    run_id: i64,
    page: NumberedPage<'_>,
    counts: RunCounts,
) -> Result<bool, StoreError> {
    let query = sqlx::query(
        "WITH page AS (
             INSERT INTO idsync.sync_run_pages (run_id, page, last) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING RETURNING run_id
         )
         UPDATE idsync.sync_runs r
            SET cursor = CASE WHEN $4 > coalesce(r.cursor_page, 0) THEN $5 ELSE r.cursor END,
                cursor_page = greatest(coalesce(r.cursor_page, 0), $4),
                pages = r.pages + $6, seen = r.seen + $7, added = r.added + $8,
                updated = r.updated + $9, deleted = r.deleted + $10,
                unchanged = r.unchanged + $11
           FROM page WHERE r.id = page.run_id",
    )
    .bind(run_id)
    .bind(page.page)
    .bind(page.last)
    .bind(page.prefix)
    // A cursor holds provider values.
    .bind(page.prefix_cursor.map(|c| storable_json(c).into_owned()));
    let recorded = bind_counts(query, counts).execute(conn).await?;
    Ok(recorded.rows_affected() == 1)
}

/// Binds a page's counts as the next six parameters, in the order
/// `pages, seen, added, updated, deleted, unchanged`.
fn bind_counts(
    query: sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments>,
    counts: RunCounts,
) -> sqlx::query::Query<'_, sqlx::Postgres, sqlx::postgres::PgArguments> {
    query
        .bind(counts.pages)
        .bind(counts.seen)
        .bind(counts.added)
        .bind(counts.updated)
        .bind(counts.deleted)
        .bind(counts.unchanged)
}

/// Saves where the contiguous prefix of an offset-paged backfill ends,
/// once no page is being written.
pub async fn save_prefix(
    pool: &PgPool,
    run_id: i64,
    prefix: i64,
    cursor: Option<&serde_json::Value>,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE idsync.sync_runs SET cursor = $2, cursor_page = $3 WHERE id = $1")
        .bind(run_id)
        .bind(cursor.map(|c| storable_json(c).into_owned()))
        .bind(prefix)
        .execute(pool)
        .await?;
    Ok(())
}

pub async fn finish(pool: &PgPool, run_id: i64, error: Option<&str>) -> Result<RunRow, StoreError> {
    let status = if error.is_some() {
        RunStatus::Failed
    } else {
        RunStatus::Completed
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
    kind: JobKind,
) -> Result<Option<RunRow>, StoreError> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM idsync.sync_runs WHERE connection = $1 AND kind = $2
          ORDER BY id DESC LIMIT 1"
    ))
    .bind(connection)
    .bind(kind)
    .fetch_optional(pool)
    .await?)
}

pub async fn has_completed_backfill(pool: &PgPool, connection: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM idsync.sync_runs
                         WHERE connection = $1 AND kind = $2 AND status = $3)",
    )
    .bind(connection)
    .bind(JobKind::Backfill)
    .bind(RunStatus::Completed)
    .fetch_one(pool)
    .await?)
}

/// Time since the connection's last listing, by the database's clock: the
/// start of its latest reconcile of either kind (whichever replica ran it,
/// running or finished) or the end of a completed backfill. `None` if there
/// was none.
pub async fn since_last_listing(
    pool: &PgPool,
    connection: &str,
) -> Result<Option<std::time::Duration>, StoreError> {
    let seconds: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - max(at))::float8 FROM (
             SELECT started_at AS at FROM idsync.sync_runs
              WHERE connection = $1 AND kind IN ($2, $5)
             UNION ALL
             SELECT finished_at FROM idsync.sync_runs
              WHERE connection = $1 AND kind = $3 AND status = $4
         ) listings",
    )
    .bind(connection)
    .bind(JobKind::Reconcile)
    .bind(JobKind::Backfill)
    .bind(RunStatus::Completed)
    .bind(JobKind::IncrementalReconcile)
    .fetch_one(pool)
    .await?;
    Ok(seconds.map(seconds_to_duration))
}

/// Time since the start of the connection's latest completed full
/// reconcile (the pass that finds deletions), by the database's clock;
/// `None` if none completed.
pub async fn since_full_reconcile(
    pool: &PgPool,
    connection: &str,
) -> Result<Option<std::time::Duration>, StoreError> {
    let seconds: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - max(started_at))::float8 FROM idsync.sync_runs
          WHERE connection = $1 AND kind = $2 AND status = $3",
    )
    .bind(connection)
    .bind(JobKind::Reconcile)
    .bind(RunStatus::Completed)
    .fetch_one(pool)
    .await?;
    Ok(seconds.map(seconds_to_duration))
}

/// The start of the connection's latest completed run of any kind. Every
/// kind lists each user it covers after it started, so a user changed since
/// has a later update time: where an incremental pass can start from.
pub async fn last_completed_start(
    pool: &PgPool,
    connection: &str,
) -> Result<Option<DateTime<Utc>>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT max(started_at) FROM idsync.sync_runs WHERE connection = $1 AND status = $2",
    )
    .bind(connection)
    .bind(RunStatus::Completed)
    .fetch_one(pool)
    .await?)
}

fn seconds_to_duration(seconds: f64) -> std::time::Duration {
    std::time::Duration::from_secs_f64(seconds.max(0.0))
}

#[cfg(test)]
mod tests {
    use super::{JobKind, RunStatus};

    #[test]
    fn stored_words_read_back_as_the_same_variant() {
        for kind in [
            JobKind::Backfill,
            JobKind::Reconcile,
            JobKind::IncrementalReconcile,
        ] {
            assert_eq!(kind.as_str().parse::<JobKind>().ok(), Some(kind));
        }
        for status in [RunStatus::Running, RunStatus::Completed, RunStatus::Failed] {
            assert_eq!(status.as_str().parse::<RunStatus>().ok(), Some(status));
        }
        assert!("paused".parse::<RunStatus>().is_err());
    }
}
