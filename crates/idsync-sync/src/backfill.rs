use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::FuturesOrdered;
use idsync_providers::{ApiError, Page, Provider};
use idsync_store::apply::apply_changes;
use idsync_store::lock::JobLock;
use idsync_store::runs::{self, JobKind, RunCounts};

use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use crate::{JobReport, JobTarget, Progress, SyncError, count, fail};

/// Loads every user of the provider into the table, one page per
/// transaction. The page's cursor is saved in the same transaction, so an
/// interrupted backfill resumes after the last committed page: no gaps, and
/// no page applied twice. Pages are fetched while others are written: the
/// next one for cursor paging, several at once within the provider's rate
/// limit for offset paging; memory holds a bounded number of pages.
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
    let listed = if target.provider.cursor_ahead(None, 1).is_some() {
        concurrent(target, run.id, cursor, progress, &mut counts).await
    } else {
        sequential(target, run.id, cursor, progress, &mut counts).await
    };
    if let Err(e) = listed {
        return Err(fail(target, run.id, JobKind::Backfill, e).await);
    }
    runs::finish(target.pool, run.id, None).await?;
    progress.finished(counts);
    Ok(JobReport {
        run_id: run.id,
        counts,
    })
}

/// Cursor paging: the next page is fetched while one is written (with the
/// provider tens of milliseconds away, the fetch would otherwise wait for
/// the write and the write for the fetch). A fetch that fails after its
/// predecessor committed fails the run, which resumes from there.
async fn sequential(
    target: JobTarget<'_>,
    run_id: i64,
    cursor: Option<Value>,
    progress: &dyn Progress,
    counts: &mut RunCounts,
) -> Result<(), SyncError> {
    let mut page = target.provider.list_page(cursor.as_ref()).await?;
    loop {
        let (written, fetched) = tokio::join!(write_page(target, run_id, &page), async {
            match &page.next {
                Some(next) => target.provider.list_page(Some(next)).await.map(Some),
                None => Ok(None),
            }
        });
        *counts += written?;
        progress.page(*counts);
        match fetched? {
            Some(next) => page = next,
            None => return Ok(()),
        }
    }
}

/// Offset paging: up to [`PAGES_IN_FLIGHT`] pages are fetched at once,
/// requests spaced evenly so that any window of the provider's rate limit
/// holds no more than it allows, and written in order (each with the
/// cursor after it, so resuming stays exact). A full write side stops the
/// fetching: at most [`PAGES_READY`] fetched pages wait.
async fn concurrent(
    target: JobTarget<'_>,
    run_id: i64,
    cursor: Option<Value>,
    progress: &dyn Progress,
    counts: &mut RunCounts,
) -> Result<(), SyncError> {
    let spacing = target
        .provider
        .request_limit()
        .map_or(Duration::ZERO, |(requests, per)| per / requests.max(1));
    let (ready, mut pages) = mpsc::channel(PAGES_READY);
    let fetcher = tokio::spawn(fetch_ahead(target.provider.clone(), cursor, spacing, ready));
    let written = async {
        while let Some(page) = pages.recv().await {
            let page = page?;
            *counts += write_page(target, run_id, &page).await?;
            progress.page(*counts);
            if page.next.is_none() {
                break;
            }
        }
        Ok(())
    }
    .await;
    fetcher.abort();
    written
}

/// Pages fetched at once by [`concurrent`] (150 ms away at 100 requests a
/// second, 15 are in flight).
const PAGES_IN_FLIGHT: usize = 16;
/// Fetched pages waiting to be written.
const PAGES_READY: usize = 2;

/// Fetches the pages after `cursor`, in order, into `ready`, until the
/// last page, an error, or `ready` is closed.
async fn fetch_ahead(
    provider: Provider,
    cursor: Option<Value>,
    spacing: Duration,
    ready: mpsc::Sender<Result<Page, ApiError>>,
) {
    let mut pacer = tokio::time::interval(spacing.max(Duration::from_micros(1)));
    pacer.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut fetching = FuturesOrdered::new();
    let mut ahead = 0;
    loop {
        tokio::select! {
            _ = pacer.tick(), if fetching.len() < PAGES_IN_FLIGHT => {
                let provider = provider.clone();
                let at = provider.cursor_ahead(cursor.as_ref(), ahead);
                ahead += 1;
                fetching.push_back(async move { provider.list_page(at.as_ref()).await });
            }
            Some(page) = fetching.next(), if !fetching.is_empty() => {
                let last = page.as_ref().map_or(true, |p| p.next.is_none());
                if ready.send(page).await.is_err() || last {
                    return;
                }
            }
        }
    }
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
