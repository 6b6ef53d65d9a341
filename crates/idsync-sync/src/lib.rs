//! Work that reads users through a provider's API: [`backfill`] (first
//! load, resumable) and [`reconcile`] (repair drift, including deletions no
//! webhook announced) read the whole list, [`incremental_reconcile`] only
//! the users changed since the last run; they hold the connection's advisory
//! lock, so across replicas at most one runs per connection; [`refresh`]
//! fetches the users that notifications named.

mod backfill;
mod incremental;
mod progress;
mod reconcile;
pub mod refresh;

pub use backfill::{backfill, backfill_locked};
pub use incremental::{
    INCREMENTAL_MARGIN, Pass, choose_pass, incremental_reconcile, incremental_reconcile_locked,
    incremental_reconcile_with_margin, scheduled_pass,
};
pub use progress::{LogProgress, Progress};
pub use reconcile::{reconcile, reconcile_locked, reconcile_with_margin};

use idsync_providers::{ApiError, Page, Provider};
use idsync_store::lock::JobLock;
use idsync_store::runs::{JobKind, RunCounts, RunStatus};
use idsync_store::{PgPool, StoreError, UsersTable};

/// What a job works on.
#[derive(Clone, Copy)]
pub struct JobTarget<'a> {
    pub pool: &'a PgPool,
    pub connection: &'a str,
    pub table: &'a UsersTable,
    pub provider: &'a Provider,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("another idsync process is already running a backfill or reconcile of {0}")]
    Busy(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Api(#[from] ApiError),
}

impl From<sqlx::Error> for SyncError {
    fn from(e: sqlx::Error) -> Self {
        Self::Store(e.into())
    }
}

/// The result of a finished job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobReport {
    pub run_id: i64,
    pub counts: RunCounts,
}

/// Takes the connection's job lock, or says another process holds it.
pub async fn acquire(target: JobTarget<'_>) -> Result<JobLock, SyncError> {
    JobLock::try_acquire(target.pool, target.connection)
        .await?
        .ok_or_else(|| SyncError::Busy(target.connection.to_owned()))
}

/// Runs a job holding `lock`, then releases it and records the metrics.
async fn run_locked(
    connection: &str,
    job: JobKind,
    lock: JobLock,
    run: impl Future<Output = Result<JobReport, SyncError>>,
) -> Result<JobReport, SyncError> {
    let started = std::time::Instant::now();
    let result = run.await;
    lock.release().await;
    record_metrics(connection, job, started, &result);
    result
}

/// Job outcome and duration, and how many users the last run saw.
fn record_metrics(
    connection: &str,
    job: JobKind,
    started: std::time::Instant,
    result: &Result<JobReport, SyncError>,
) {
    let status = if result.is_ok() {
        RunStatus::Completed
    } else {
        RunStatus::Failed
    };
    let labels = [
        ("connection", connection.to_owned()),
        ("job", job.as_str().to_owned()),
    ];
    metrics::histogram!("idsync_job_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("idsync_job_runs_total", "connection" => connection.to_owned(), "job" => job.as_str(), "status" => status.as_str())
        .increment(1);
    if let Ok(r) = result {
        metrics::gauge!("idsync_job_users_seen", &labels).set(r.counts.seen as f64);
    }
}

/// Applies a listed page and records it on the run, in one transaction.
async fn apply_page(
    target: JobTarget<'_>,
    run_id: i64,
    page: &Page,
) -> Result<RunCounts, SyncError> {
    let mut tx = target.pool.begin().await?;
    let outcomes = idsync_store::apply::apply_changes(&mut tx, target.table, &page.changes).await?;
    let c = count(&outcomes);
    idsync_store::runs::record_page(&mut tx, run_id, page.next.as_ref(), c).await?;
    tx.commit().await?;
    Ok(c)
}

/// Adds a page's outcomes to counters.
fn count(outcomes: &[idsync_store::apply::Outcome]) -> RunCounts {
    use idsync_store::apply::Outcome as O;
    let mut c = RunCounts {
        pages: 1,
        seen: outcomes.len() as i64,
        ..RunCounts::default()
    };
    for o in outcomes {
        match o {
            O::Inserted => c.added += 1,
            O::Updated => c.updated += 1,
            O::Deleted => c.deleted += 1,
            O::Unchanged | O::Stale | O::Duplicate | O::Ignored => c.unchanged += 1,
        }
    }
    c
}

/// Records a failed job on its run and in the connection's recent errors.
async fn fail(target: JobTarget<'_>, run_id: i64, job: JobKind, error: SyncError) -> SyncError {
    let message = error.to_string();
    tracing::error!(connection = target.connection, run_id, error = %message, "{job} failed");
    if let Err(e) = idsync_store::runs::finish(target.pool, run_id, Some(&message)).await {
        tracing::warn!(error = %e, "could not record the failed run");
    }
    if let Err(e) =
        idsync_store::errors::record(target.pool, target.connection, job.as_str(), &message).await
    {
        tracing::warn!(error = %e, "could not record the error");
    }
    error
}
