use chrono::TimeDelta;
use sqlx::PgConnection;

use idsync_core::{Change, UserId, Version};
use idsync_providers::Page;
use idsync_store::apply::{Outcome, apply_changes};
use idsync_store::lock::JobLock;
use idsync_store::runs::{self, JobKind, RunCounts};
use idsync_store::seen;

use crate::{JobReport, JobTarget, Progress, SyncError, count, fail};

/// Unlisted users judged per batch (one query, one statement applying
/// their changes) at the end of a pass.
const CHUNK: i64 = 1000;

/// Rows must be at least this much older than the pass to be deleted by it:
/// some versions have one-second resolution (Stack Auth event times) and
/// provider and database clocks differ a little.
const MARGIN: TimeDelta = TimeDelta::seconds(2);

/// Lists every user, upserts what differs, then soft-deletes the active rows
/// the provider no longer has. A row is only deleted if its version is older
/// than the start of the pass (less a small [`MARGIN`]), and the delete carries
/// that start time as its version, so a user created or changed while the
/// pass ran is never deleted by it. Nothing is deleted unless the whole list was read.
///
/// A listing can still miss live users (offsets shift when users are deleted
/// during the pass), so each unlisted row is first asked about by id: only
/// users the provider says it does not have are deleted; the others are
/// upserted with the profile it returns.
///
/// Memory stays flat in the number of users: the listed ids are kept in a
/// temporary table ([`seen`]), and the unlisted rows are found by an
/// anti-join in keyset batches.
pub async fn reconcile(
    target: JobTarget<'_>,
    progress: &dyn Progress,
) -> Result<JobReport, SyncError> {
    reconcile_with_margin(target, progress, MARGIN).await
}

/// [`reconcile`] judging the rows `margin` older than the pass instead of
/// [`MARGIN`]: for a caller whose versions all come from one clock (tests,
/// which then need not wait out the margin).
#[tracing::instrument(name = "reconcile", skip_all, fields(connection = target.connection))]
pub async fn reconcile_with_margin(
    target: JobTarget<'_>,
    progress: &dyn Progress,
    margin: TimeDelta,
) -> Result<JobReport, SyncError> {
    let lock = crate::acquire(target).await?;
    crate::run_locked(
        target.connection,
        JobKind::Reconcile,
        lock,
        run(target, progress, margin),
    )
    .await
}

/// [`reconcile`] with the connection's job lock already taken (see
/// [`acquire`](crate::acquire)); releases it at the end.
pub async fn reconcile_locked(
    target: JobTarget<'_>,
    progress: &dyn Progress,
    lock: JobLock,
) -> Result<JobReport, SyncError> {
    crate::run_locked(
        target.connection,
        JobKind::Reconcile,
        lock,
        run(target, progress, MARGIN),
    )
    .await
}

async fn run(
    target: JobTarget<'_>,
    progress: &dyn Progress,
    margin: TimeDelta,
) -> Result<JobReport, SyncError> {
    let run = runs::start(target.pool, target.connection, JobKind::Reconcile).await?;
    match pass(
        target,
        progress,
        run.id,
        Version::new(run.started_at),
        margin,
    )
    .await
    {
        Ok(counts) => {
            runs::finish(target.pool, run.id, None).await?;
            progress.finished(counts);
            Ok(JobReport {
                run_id: run.id,
                counts,
            })
        }
        Err(e) => Err(fail(target, run.id, JobKind::Reconcile, e).await),
    }
}

async fn pass(
    target: JobTarget<'_>,
    progress: &dyn Progress,
    run_id: i64,
    began: Version,
    margin: TimeDelta,
) -> Result<RunCounts, SyncError> {
    let total = target.provider.total_users().await.unwrap_or(None);
    progress.started(JobKind::Reconcile, total, Default::default());
    // The listed ids go to a temporary table of this connection, not to
    // memory; closing the connection at the end drops it.
    let mut conn = target.pool.acquire().await?;
    conn.close_on_drop();
    seen::create(&mut conn).await?;
    let mut counts = RunCounts::default();
    let mut page = target.provider.list_page(None).await?;
    loop {
        // The next page is fetched while this one is written.
        let (written, fetched) =
            tokio::join!(apply_listed(&mut conn, target, run_id, &page), async {
                match &page.next {
                    Some(next) => target.provider.list_page(Some(next)).await.map(Some),
                    None => Ok(None),
                }
            });
        counts += written?;
        progress.page(counts);
        match fetched? {
            Some(next) => page = next,
            None => break,
        }
    }

    seen::analyze(&mut conn).await?;
    let before = began.at() - margin;
    let mut after: Option<String> = None;
    loop {
        let unlisted =
            seen::unseen_active_before(&mut conn, target.table, before, after.as_deref(), CHUNK)
                .await?;
        let Some(last) = unlisted.last() else {
            break;
        };
        after = Some(last.clone());
        let mut batch = Vec::with_capacity(unlisted.len());
        for id in &unlisted {
            let Some(user) = UserId::parse(id) else {
                continue;
            };
            let change = match target.provider.current_change(user.as_str()).await? {
                Some(current) => {
                    tracing::info!(user = %user, "user missing from the listing is still there; kept");
                    current
                }
                None => Change::delete(user.clone(), began, serde_json::json!({ "id": user })),
            };
            batch.push(change);
        }
        counts += apply_unlisted(&mut conn, run_id, target, &batch).await?;
    }
    Ok(counts)
}

/// Applies a listed page, marks its ids as seen and records it on the run,
/// in one transaction.
async fn apply_listed(
    conn: &mut PgConnection,
    target: JobTarget<'_>,
    run_id: i64,
    page: &Page,
) -> Result<RunCounts, SyncError> {
    let mut tx = sqlx::Acquire::begin(&mut *conn).await?;
    let outcomes = apply_changes(&mut tx, target.table, &page.changes).await?;
    let ids: Vec<String> = page.changes.iter().map(|c| c.user_id.to_string()).collect();
    seen::mark(&mut tx, &ids).await?;
    let c = count(&outcomes);
    runs::record_page(&mut tx, run_id, page.next.as_ref(), c).await?;
    tx.commit().await?;
    Ok(c)
}

/// Applies the changes found for unlisted users and records their counts.
async fn apply_unlisted(
    conn: &mut PgConnection,
    run_id: i64,
    target: JobTarget<'_>,
    changes: &[Change],
) -> Result<RunCounts, SyncError> {
    if changes.is_empty() {
        return Ok(RunCounts::default());
    }
    let mut tx = sqlx::Acquire::begin(&mut *conn).await?;
    let outcomes = apply_changes(&mut tx, target.table, changes).await?;
    let mut c = RunCounts::default();
    for (change, outcome) in changes.iter().zip(&outcomes) {
        if change.is_delete() {
            // Not deleted means a newer change arrived meanwhile: not ours to count.
            c.deleted += i64::from(*outcome == Outcome::Deleted);
        } else {
            // Still there: the listing missed it.
            let mut one = count(std::slice::from_ref(outcome));
            one.pages = 0;
            c += one;
        }
    }
    runs::record_page(&mut tx, run_id, None, c).await?;
    tx.commit().await?;
    Ok(c)
}
