use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::{FuturesOrdered, FuturesUnordered};
use idsync_providers::{ApiError, Page, Provider};
use idsync_store::apply::apply_changes;
use idsync_store::lock::JobLock;
use idsync_store::runs::{self, CommittedPage, JobKind, RunCounts};
use serde_json::Value;
use tokio::sync::mpsc;
use tokio::time::MissedTickBehavior;

use crate::{JobReport, JobTarget, Progress, SyncError, count, fail};

/// Loads every user of the provider into the table, one page per
/// transaction, which also records the page on the run (the cursor after
/// it for cursor paging, its number for offset paging), so an interrupted
/// backfill resumes with no gaps and no page applied twice. Pages are
/// fetched while others are written: the next one for cursor paging,
/// several at once within the provider's rate limit for offset paging,
/// which also writes several at once; memory holds a bounded number of
/// pages.
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
    if counts.pages > 0 {
        tracing::info!(
            run_id = run.id,
            pages = counts.pages,
            "resuming interrupted backfill"
        );
    }
    let total = target.provider.total_users().await.unwrap_or(None);
    progress.started(JobKind::Backfill, total, counts);
    let listed = if target.provider.cursor_ahead(None, 1).is_some() {
        concurrent(target, run.id, progress, &mut counts).await
    } else {
        let cursor = run.cursor.clone().filter(|c| !c.is_null());
        sequential(target, run.id, cursor, progress, &mut counts).await
    };
    if let Err(e) = listed {
        return Err(fail(target, run.id, JobKind::Backfill, e).await);
    }
    // The run's row has the exact counts, including a page whose commit
    // went through unseen and was not counted here.
    let counts = runs::finish(target.pool, run.id, None).await?.counts();
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
/// holds no more than it allows, and up to [`PAGES_WRITING`] are written at
/// once, each in its own transaction, which also records the page's number
/// (so they may commit in any order and a resumed run fetches exactly the
/// pages missing). Memory holds a bounded number of pages: those fetched,
/// at most [`PAGES_READY`] waiting, and those being written. After a
/// failure the pages being written still finish, then the run fails.
async fn concurrent(
    target: JobTarget<'_>,
    run_id: i64,
    progress: &dyn Progress,
    counts: &mut RunCounts,
) -> Result<(), SyncError> {
    let resumed = runs::paged_progress(target.pool, run_id).await?;
    let mut committed = Committed::new(&resumed.committed);
    let plan = Plan::new(&resumed.committed);
    let spacing = target
        .provider
        .request_limit()
        .map_or(Duration::ZERO, |(requests, per)| per / requests.max(1));
    let (ready, mut pages) = mpsc::channel(PAGES_READY);
    let base = resumed.base;
    let fetcher = tokio::spawn(fetch_ahead(
        target.provider.clone(),
        base.clone(),
        plan,
        spacing,
        ready,
    ));
    let mut writing = FuturesUnordered::new();
    let mut failure: Option<SyncError> = None;
    let mut listing = true;
    loop {
        let event = tokio::select! {
            page = pages.recv(), if listing && failure.is_none() && writing.len() < PAGES_WRITING => {
                Event::Fetched(page)
            }
            Some(written) = writing.next(), if !writing.is_empty() => Event::Written(written),
            else => break,
        };
        match event {
            Event::Fetched(Some(Ok(page))) => {
                if page.last {
                    committed.end = Some(page.number);
                }
                let prefix = committed.prefix_with(page.number);
                let cursor = committed.cursor_after(target.provider, base.as_ref(), prefix);
                writing.push(write_numbered(target, run_id, page, prefix, cursor));
            }
            Event::Fetched(Some(Err(e))) => failure = Some(e.into()),
            Event::Fetched(None) => listing = false,
            Event::Written(Ok((number, c))) => {
                committed.insert(number);
                *counts += c;
                progress.page(*counts);
            }
            Event::Written(Err(e)) => {
                failure.get_or_insert(e.into());
            }
        }
    }
    fetcher.abort();
    // Each page saved the prefix it knew of when it was written, which may
    // lag the commits of the pages written beside it: save the exact one.
    let cursor = committed.cursor_after(target.provider, base.as_ref(), committed.prefix);
    let saved = runs::save_prefix(target.pool, run_id, committed.prefix, cursor.as_ref()).await;
    if let Some(e) = failure {
        if let Err(s) = saved {
            tracing::warn!(run_id, error = %s, "could not save the backfill's cursor");
        }
        return Err(e);
    }
    Ok(saved?)
}

/// Pages fetched at once by [`concurrent`] (150 ms away at 100 requests a
/// second, 15 are in flight).
const PAGES_IN_FLIGHT: usize = 16;
/// Fetched pages waiting to be written.
const PAGES_READY: usize = 2;
/// Pages written at once by [`concurrent`]. A page's transaction waits on
/// round trips most of its time (four of them, 2 ms each to a nearby
/// managed database) and its Postgres work is single-threaded; four
/// overlap those waits and keep both cores of a small database busy,
/// while more would only queue on the run's row, which each commit
/// updates last, and hold more pages in memory.
const PAGES_WRITING: usize = 4;
/// Attempts after the first for a page write that met a concurrent
/// transaction (a deadlock with a webhook batch) or lost its connection.
const WRITE_RETRIES: u32 = 3;

/// What [`concurrent`] waits for.
enum Event {
    /// The next fetched page, or `None` once the listing is done.
    Fetched(Option<Result<NumberedPage, ApiError>>),
    Written(Result<(i64, RunCounts), idsync_store::StoreError>),
}

/// A fetched page and its number counted from the run's base cursor.
struct NumberedPage {
    number: i64,
    /// It ended the listing.
    last: bool,
    page: Page,
}

/// The page numbers a run fetches: the gaps below the highest committed
/// page, then, unless the page that ended the listing is committed,
/// every page after it until the listing ends.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Plan {
    gaps: Vec<i64>,
    tail: Option<i64>,
}

impl Plan {
    fn new(committed: &[CommittedPage]) -> Self {
        let done: BTreeSet<i64> = committed.iter().map(|c| c.page).collect();
        let next = done.last().map_or(0, |highest| highest + 1);
        Self {
            gaps: (0..next).filter(|n| !done.contains(n)).collect(),
            tail: (!committed.iter().any(|c| c.last)).then_some(next),
        }
    }

    /// Each page number, and whether it belongs to the tail, whose first
    /// page without a successor ends the listing.
    fn numbers(self) -> impl Iterator<Item = (i64, bool)> {
        let tail = self.tail.into_iter().flat_map(|first| first..);
        self.gaps
            .into_iter()
            .map(|n| (n, false))
            .chain(tail.map(|n| (n, true)))
    }
}

/// The pages committed so far: the contiguous prefix from page 0, and
/// those beyond it; and the number of the page that ends the listing,
/// once known.
#[derive(Debug, Default)]
struct Committed {
    prefix: i64,
    beyond: BTreeSet<i64>,
    end: Option<i64>,
}

impl Committed {
    fn new(committed: &[CommittedPage]) -> Self {
        let mut c = Self::default();
        for page in committed {
            c.insert(page.page);
            if page.last {
                c.end = Some(page.page);
            }
        }
        c
    }

    fn insert(&mut self, page: i64) {
        self.beyond.insert(page);
        while self.beyond.remove(&self.prefix) {
            self.prefix += 1;
        }
    }

    /// The cursor after the first `prefix` pages; none past the last page,
    /// where there is nothing left to resume.
    fn cursor_after(
        &self,
        provider: &Provider,
        base: Option<&Value>,
        prefix: i64,
    ) -> Option<Value> {
        if self.end.is_some_and(|end| prefix > end) {
            return None;
        }
        if prefix == 0 {
            return base.cloned();
        }
        provider.cursor_ahead(base, prefix.unsigned_abs())
    }

    /// The prefix once `page` commits too.
    fn prefix_with(&self, page: i64) -> i64 {
        if page != self.prefix {
            return self.prefix;
        }
        let mut end = page + 1;
        while self.beyond.contains(&end) {
            end += 1;
        }
        end
    }
}

/// Fetches the pages `plan` numbers, in order, into `ready`, until the
/// listing ends, an error, or `ready` is closed.
async fn fetch_ahead(
    provider: Provider,
    base: Option<Value>,
    plan: Plan,
    spacing: Duration,
    ready: mpsc::Sender<Result<NumberedPage, ApiError>>,
) {
    let mut pacer = tokio::time::interval(spacing.max(Duration::from_micros(1)));
    pacer.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut numbers = plan.numbers().peekable();
    let mut fetching = FuturesOrdered::new();
    loop {
        tokio::select! {
            _ = pacer.tick(), if fetching.len() < PAGES_IN_FLIGHT && numbers.peek().is_some() => {
                let Some((number, tail)) = numbers.next() else { continue };
                let provider = provider.clone();
                let at = provider.cursor_ahead(base.as_ref(), number.unsigned_abs());
                fetching.push_back(async move {
                    let page = provider.list_page(at.as_ref()).await?;
                    Ok(NumberedPage { number, last: tail && page.next.is_none(), page })
                });
            }
            Some(page) = fetching.next(), if !fetching.is_empty() => {
                let end = page.as_ref().map_or(true, |p: &NumberedPage| p.last);
                if ready.send(page).await.is_err() || end {
                    return;
                }
            }
            else => return,
        }
    }
}

/// Writes a numbered page (see [`write_page_once`]), again if it met a
/// concurrent transaction or lost its connection. Returns its number and
/// counts.
async fn write_numbered(
    target: JobTarget<'_>,
    run_id: i64,
    page: NumberedPage,
    prefix: i64,
    prefix_cursor: Option<Value>,
) -> Result<(i64, RunCounts), idsync_store::StoreError> {
    let numbered = runs::NumberedPage {
        page: page.number,
        last: page.last,
        prefix,
        prefix_cursor: prefix_cursor.as_ref(),
    };
    let mut attempts = 0;
    loop {
        match write_page_once(target, run_id, &page.page, numbered).await {
            Err(e) if (e.is_conflict() || e.is_broken_connection()) && attempts < WRITE_RETRIES => {
                attempts += 1;
                tracing::debug!(run_id, page = page.number, error = %e, "page write failed; retrying");
            }
            written => return written.map(|c| (page.number, c)),
        }
    }
}

/// Applies a page and records it on the run, in one transaction. A page
/// already recorded (its earlier attempt committed unseen) is rolled back
/// and counts nothing here; the run's row holds its counts.
async fn write_page_once(
    target: JobTarget<'_>,
    run_id: i64,
    page: &Page,
    numbered: runs::NumberedPage<'_>,
) -> Result<RunCounts, idsync_store::StoreError> {
    let mut tx = target.pool.begin().await?;
    let outcomes = apply_changes(&mut tx, target.table, &page.changes).await?;
    let c = count(&outcomes);
    if runs::record_numbered_page(&mut tx, run_id, numbered, c).await? {
        tx.commit().await?;
        Ok(c)
    } else {
        tx.rollback().await?;
        Ok(RunCounts::default())
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

#[cfg(test)]
mod tests {
    use idsync_store::runs::CommittedPage;

    use super::{Committed, Plan};

    fn pages(numbers: &[i64], last: Option<i64>) -> Vec<CommittedPage> {
        numbers
            .iter()
            .map(|&page| CommittedPage {
                page,
                last: Some(page) == last,
            })
            .collect()
    }

    #[test]
    fn a_fresh_run_lists_from_page_zero() {
        let plan = Plan::new(&[]);
        assert_eq!(
            plan.clone(),
            Plan {
                gaps: vec![],
                tail: Some(0)
            }
        );
        let first: Vec<_> = plan.numbers().take(3).collect();
        assert_eq!(first, [(0, true), (1, true), (2, true)]);
    }

    #[test]
    fn a_resumed_run_fetches_the_gaps_then_after_the_highest_page() {
        let plan = Plan::new(&pages(&[0, 1, 3, 6], None));
        let first: Vec<_> = plan.numbers().take(5).collect();
        assert_eq!(
            first,
            [(2, false), (4, false), (5, false), (7, true), (8, true)]
        );
    }

    #[test]
    fn a_run_whose_last_page_committed_fetches_only_the_gaps() {
        let plan = Plan::new(&pages(&[0, 2, 3], Some(3)));
        assert_eq!(plan.numbers().collect::<Vec<_>>(), [(1, false)]);
    }

    #[test]
    fn the_prefix_grows_only_over_consecutive_pages() {
        let mut c = Committed::new(&pages(&[1, 2, 4], None));
        assert_eq!(c.prefix, 0);
        assert_eq!(c.prefix_with(3), 0, "page 0 is still missing");
        assert_eq!(c.prefix_with(0), 3, "0 closes the gap up to 3");
        c.insert(0);
        assert_eq!(c.prefix, 3);
        c.insert(3);
        assert_eq!(c.prefix, 5);
        assert!(c.beyond.is_empty());
    }
}
