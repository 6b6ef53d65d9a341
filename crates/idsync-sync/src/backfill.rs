use idsync_providers::Page;
use idsync_store::apply::apply_changes;
use idsync_store::lock::JobLock;
use idsync_store::runs::{self, JobKind, RunCounts};

use crate::{JobReport, JobTarget, Progress, SyncError, count, fail};

/// Loads every user of the provider into the table, one page per
/// transaction. The page's cursor is saved in the same transaction, so an
/// interrupted backfill resumes after the last committed page: no gaps, and
/// no page applied twice. The next page is fetched while one is written;
/// memory holds those two pages.
#[tracing::instrument(skip_all, fields(connection = target.connection))]
pub async fn backfill(
    target: JobTarget<'_>,
    progress: &dyn Progress,
) -> Result<JobReport, SyncError> {
    backfill_locked(target, progress, crate::acquire(target).await?).await
}

/// [`backfill`] with the connection's job lock already taken (see
/// [`acquire`](crate::acquire)); releases it at the end.
pub async fn backfill_locked(
    target: JobTarget<'_>,
    progress: &dyn Progress,
    lock: JobLock,
) -> Result<JobReport, SyncError> {
    crate::run_locked(
        target.connection,
        JobKind::Backfill,
        lock,
        run(target, progress),
    )
    .await
}

async fn run(target: JobTarget<'_>, progress: &dyn Progress) -> Result<JobReport, SyncError> {
    let run = runs::start(target.pool, target.connection, JobKind::Backfill).await?;
    let mut counts = run.counts();
    let cursor = run.cursor.clone().filter(|c| !c.is_null());
    if cursor.is_some() {
        tracing::info!(
            run_id = run.id,
            pages = counts.pages,
            "resuming interrupted backfill"
        );
    }
    let total = target.provider.total_users().await.unwrap_or(None);
    progress.started(JobKind::Backfill, total, counts);
    let mut page = match target.provider.list_page(cursor.as_ref()).await {
        Ok(page) => page,
        Err(e) => return Err(fail(target, run.id, JobKind::Backfill, e.into()).await),
    };
    loop {
        // The next page is fetched while this one is written: with the
        // provider tens of milliseconds away, the fetch would otherwise
        // wait for the write and the write for the fetch.
        let (written, fetched) = tokio::join!(write_page(target, run.id, &page), async {
            match &page.next {
                Some(next) => target.provider.list_page(Some(next)).await.map(Some),
                None => Ok(None),
            }
        });
        match written {
            Ok(c) => counts += c,
            Err(e) => return Err(fail(target, run.id, JobKind::Backfill, e.into()).await),
        }
        progress.page(counts);
        // A failed fetch after a committed page: the run resumes from
        // that page's cursor, saved with it.
        match fetched {
            Ok(Some(next)) => page = next,
            Ok(None) => break,
            Err(e) => return Err(fail(target, run.id, JobKind::Backfill, e.into()).await),
        }
    }
    runs::finish(target.pool, run.id, None).await?;
    progress.finished(counts);
    Ok(JobReport {
        run_id: run.id,
        counts,
    })
}

/// Applies a page and saves the cursor after it, in one transaction.
async fn write_page(
    target: JobTarget<'_>,
    run_id: i64,
    page: &Page,
) -> Result<RunCounts, idsync_store::StoreError> {
    let mut tx = target.pool.begin().await?;
    let outcomes = apply_changes(&mut tx, target.table, &page.changes).await?;
    let c = count(&outcomes);
    runs::record_page(&mut tx, run_id, page.next.as_ref(), c).await?;
    tx.commit().await?;
    Ok(c)
}
