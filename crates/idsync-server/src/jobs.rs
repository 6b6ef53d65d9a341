//! Background work inside `serve`: a first backfill for connections that
//! never completed one, a reconcile every `reconcile_interval` (of only the
//! changed users when the provider can list them and a full pass ran
//! within `full_reconcile_interval`), the
//! refresher of users queued by notifications, and pruning of the delivery
//! log. Jobs take the connection's advisory lock; a replica
//! that finds it taken skips the round.

use std::sync::Arc;
use std::time::Duration;

use idsync_store::runs::JobKind;
use idsync_sync::{JobTarget, LogProgress, Pass, SyncError};
use tokio::task::JoinSet;

use crate::{AppState, ConnectionRuntime};

/// Starts the background jobs; they stop when the set is dropped.
pub fn spawn(state: &AppState) -> JoinSet<()> {
    let mut set = JoinSet::new();
    // Providers that write to idsync (SCIM) have nothing to read.
    for conn in state.connections.values().filter(|c| c.provider.pulls()) {
        set.spawn(connection_jobs(state.clone(), Arc::clone(conn)));
        set.spawn(refresher(state.clone(), Arc::clone(conn)));
    }
    let pool = state.pool.clone();
    let keep = state.delivery_retention;
    set.spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            match idsync_store::deliveries::prune(&pool, keep).await {
                Ok(n) if n > 0 => tracing::info!(pruned = n, "pruned old delivery records"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "could not prune delivery records"),
            }
        }
    });
    set
}

/// Every replica refreshes: leases keep them from fetching the same user.
async fn refresher(state: AppState, conn: Arc<ConnectionRuntime>) {
    let target = JobTarget {
        pool: &state.pool,
        connection: conn.name.as_str(),
        table: &conn.table,
        provider: &conn.provider,
    };
    idsync_sync::refresh::run_refresher(target, &conn.refresh_wake).await;
}

/// Pause before trying a failed or busy first backfill again.
const BACKFILL_RETRY: Duration = Duration::from_secs(30);

async fn connection_jobs(state: AppState, conn: Arc<ConnectionRuntime>) {
    let name = conn.name.to_string();
    let target = JobTarget {
        pool: &state.pool,
        connection: &name,
        table: &conn.table,
        provider: &conn.provider,
    };
    let progress = LogProgress::new(&name);
    // Until a backfill has completed (here or on another replica), keep trying.
    loop {
        match idsync_store::runs::has_completed_backfill(&state.pool, &name).await {
            Ok(true) => break,
            Ok(false) => {
                if report(
                    JobKind::Backfill,
                    idsync_sync::backfill(target, &progress).await,
                ) {
                    break;
                }
            }
            Err(e) => {
                tracing::warn!(connection = name, error = %e, "could not check backfill state")
            }
        }
        tokio::time::sleep(BACKFILL_RETRY).await;
    }
    let Some(every) = conn.reconcile_interval else {
        return;
    };
    // The schedule is kept in the database, not in this process: a restart
    // does not postpone the next reconcile by a whole interval (replicas
    // restarted more often than that would never reconcile), and a pass by
    // any replica counts for all of them.
    loop {
        let since = match idsync_store::runs::since_last_listing(&state.pool, &name).await {
            Ok(since) => since.unwrap_or(every),
            Err(e) => {
                tracing::warn!(connection = name, error = %e, "could not read the reconcile schedule");
                tokio::time::sleep(BACKFILL_RETRY).await;
                continue;
            }
        };
        if since < every {
            tokio::time::sleep(every - since).await;
            continue;
        }
        let pass = match idsync_sync::scheduled_pass(target, conn.full_reconcile_interval).await {
            Ok(pass) => pass,
            Err(e) => {
                tracing::warn!(connection = name, error = %e, "could not read the reconcile schedule");
                tokio::time::sleep(BACKFILL_RETRY).await;
                continue;
            }
        };
        let done = match pass {
            Pass::Full => report(
                JobKind::Reconcile,
                idsync_sync::reconcile(target, &progress).await,
            ),
            Pass::Incremental => report(
                JobKind::IncrementalReconcile,
                idsync_sync::incremental_reconcile(target, &progress).await,
            ),
        };
        if !done {
            // Busy or failed: a failed pass counts as the latest listing, a
            // busy one (an on-demand backfill) does not, so wait a little.
            tokio::time::sleep(BACKFILL_RETRY).await;
        }
    }
}

/// Starts a job now, in the background, if no process is running one for
/// this connection; its progress is in `idsync.sync_runs`.
pub async fn start_now(
    state: &AppState,
    conn: Arc<ConnectionRuntime>,
    kind: JobKind,
) -> Result<(), SyncError> {
    let name = conn.name.to_string();
    let lock = idsync_sync::acquire(JobTarget {
        pool: &state.pool,
        connection: &name,
        table: &conn.table,
        provider: &conn.provider,
    })
    .await?;
    let pool = state.pool.clone();
    tokio::spawn(async move {
        let target = JobTarget {
            pool: &pool,
            connection: &name,
            table: &conn.table,
            provider: &conn.provider,
        };
        let progress = LogProgress::new(&name);
        match kind {
            JobKind::Backfill => report(
                kind,
                idsync_sync::backfill_locked(target, &progress, lock).await,
            ),
            JobKind::Reconcile => report(
                kind,
                idsync_sync::reconcile_locked(target, &progress, lock).await,
            ),
            JobKind::IncrementalReconcile => report(
                kind,
                idsync_sync::incremental_reconcile_locked(target, &progress, lock).await,
            ),
        };
    });
    Ok(())
}

/// Logs a job's end; true if it completed.
fn report(job: JobKind, result: Result<idsync_sync::JobReport, SyncError>) -> bool {
    match result {
        Ok(r) => {
            tracing::info!(job = job.as_str(), run_id = r.run_id, ?r.counts, "job completed");
            true
        }
        Err(SyncError::Busy(c)) => {
            tracing::info!(
                job = job.as_str(),
                connection = c,
                "skipped: another replica runs it"
            );
            false
        }
        Err(e) => {
            tracing::warn!(job = job.as_str(), error = %e, "job failed; will retry");
            false
        }
    }
}
