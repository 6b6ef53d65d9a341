//! Incremental reconcile: only the users the provider says changed since
//! the last completed run, and the choice between it and a full pass.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use idsync_providers::ApiError;
use idsync_store::lock::JobLock;
use idsync_store::runs::{self, JobKind, RunCounts};

use crate::{JobReport, JobTarget, Progress, SyncError, apply_page, fail};

/// How much earlier than the start of the last completed run the listing
/// starts. That start is the database's clock, while the provider compares
/// its own update times: the margin covers the two disagreeing, by well
/// under a second with NTP and by minutes on a host without it. It costs
/// re-reading the users changed in those minutes, which are not rewritten
/// when unchanged.
pub const INCREMENTAL_MARGIN: TimeDelta = TimeDelta::minutes(5);

/// Which reconcile a scheduled round runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Every user, and the deletions no listing of changes shows.
    Full,
    /// Only the users changed since the last completed run.
    Incremental,
}

/// A full pass when the provider cannot list changes, when no full pass
/// ever completed, or when the last one started `full_every` or longer ago
/// (`None`: no scheduled full pass after the first); else an incremental one.
pub fn choose_pass(
    lists_changes: bool,
    since_full: Option<Duration>,
    full_every: Option<Duration>,
) -> Pass {
    match (lists_changes, since_full, full_every) {
        (false, _, _) | (_, None, _) => Pass::Full,
        (true, Some(since), Some(every)) if since >= every => Pass::Full,
        (true, Some(_), _) => Pass::Incremental,
    }
}

/// [`choose_pass`] for the connection, from its runs in the database.
pub async fn scheduled_pass(
    target: JobTarget<'_>,
    full_every: Option<Duration>,
) -> Result<Pass, SyncError> {
    if !target.provider.lists_changes() {
        return Ok(Pass::Full);
    }
    let since_full = runs::since_full_reconcile(target.pool, target.connection).await?;
    Ok(choose_pass(true, since_full, full_every))
}

/// Lists the users changed since the start of the connection's last
/// completed run of any kind (less [`INCREMENTAL_MARGIN`]) and applies them. Deactivated
/// users come as deletes; rows are never deleted for being absent, so users
/// deleted outright wait for a full [`reconcile`](crate::reconcile).
pub async fn incremental_reconcile(
    target: JobTarget<'_>,
    progress: &dyn Progress,
) -> Result<JobReport, SyncError> {
    incremental_reconcile_with_margin(target, progress, INCREMENTAL_MARGIN).await
}

/// [`incremental_reconcile`] starting `margin` before the last completed
/// run instead of [`INCREMENTAL_MARGIN`]: for a caller whose clocks agree
/// (tests).
#[tracing::instrument(name = "incremental_reconcile", skip_all, fields(connection = target.connection))]
pub async fn incremental_reconcile_with_margin(
    target: JobTarget<'_>,
    progress: &dyn Progress,
    margin: TimeDelta,
) -> Result<JobReport, SyncError> {
    let lock = crate::acquire(target).await?;
    crate::run_locked(
        target.connection,
        JobKind::IncrementalReconcile,
        lock,
        run(target, progress, margin),
    )
    .await
}

/// [`incremental_reconcile`] with the connection's job lock already taken
/// (see [`acquire`](crate::acquire)); releases it at the end.
pub async fn incremental_reconcile_locked(
    target: JobTarget<'_>,
    progress: &dyn Progress,
    lock: JobLock,
) -> Result<JobReport, SyncError> {
    crate::run_locked(
        target.connection,
        JobKind::IncrementalReconcile,
        lock,
        run(target, progress, INCREMENTAL_MARGIN),
    )
    .await
}

async fn run(
    target: JobTarget<'_>,
    progress: &dyn Progress,
    margin: TimeDelta,
) -> Result<JobReport, SyncError> {
    // Checked before a run is recorded: asking for what cannot be done is
    // not a failure of the connection.
    if !target.provider.lists_changes() {
        return Err(SyncError::Api(ApiError::Unsupported(
            "this provider cannot list the users changed since a time; run a full reconcile",
        )));
    }
    // With no run completed yet, every user changed since the epoch: a
    // listing of all of them, deleting nothing.
    let since = runs::last_completed_start(target.pool, target.connection)
        .await?
        .map_or(DateTime::UNIX_EPOCH, |start| start - margin);
    let run = runs::start(
        target.pool,
        target.connection,
        JobKind::IncrementalReconcile,
    )
    .await?;
    tracing::info!(run_id = run.id, %since, "listing the users changed since");
    match pass(target, progress, run.id, since).await {
        Ok(counts) => {
            runs::finish(target.pool, run.id, None).await?;
            progress.finished(counts);
            Ok(JobReport {
                run_id: run.id,
                counts,
            })
        }
        Err(e) => Err(fail(target, run.id, JobKind::IncrementalReconcile, e).await),
    }
}

async fn pass(
    target: JobTarget<'_>,
    progress: &dyn Progress,
    run_id: i64,
    since: DateTime<Utc>,
) -> Result<RunCounts, SyncError> {
    progress.started(JobKind::IncrementalReconcile, None, RunCounts::default());
    let mut counts = RunCounts::default();
    let mut cursor = None;
    loop {
        let page = target
            .provider
            .list_changed_page(since, cursor.as_ref())
            .await?;
        counts += apply_page(target, run_id, &page).await?;
        progress.page(counts);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(counts),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: Duration = Duration::from_secs(3600);

    #[test]
    fn a_full_pass_runs_when_none_ran_within_the_interval() {
        let day = Some(24 * HOUR);
        assert_eq!(choose_pass(true, Some(HOUR), day), Pass::Incremental);
        assert_eq!(choose_pass(true, Some(24 * HOUR), day), Pass::Full);
        assert_eq!(choose_pass(true, Some(30 * HOUR), day), Pass::Full);
        assert_eq!(choose_pass(true, None, day), Pass::Full, "never ran");
    }

    #[test]
    fn providers_that_cannot_list_changes_always_get_full_passes() {
        assert_eq!(choose_pass(false, Some(HOUR), Some(24 * HOUR)), Pass::Full);
        assert_eq!(choose_pass(false, Some(HOUR), None), Pass::Full);
    }

    #[test]
    fn without_a_full_interval_only_the_first_pass_is_full() {
        assert_eq!(choose_pass(true, None, None), Pass::Full);
        assert_eq!(
            choose_pass(true, Some(1000 * HOUR), None),
            Pass::Incremental
        );
    }
}
