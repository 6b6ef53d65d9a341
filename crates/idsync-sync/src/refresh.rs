//! The refresher: fetches the users that notifications named (see
//! [`idsync_store::refresh`]) through the provider's API and applies what
//! it finds. Many notifications for one user make one fetch; a user the
//! provider no longer has is marked deleted; while the API fails, users
//! stay queued and are retried with backoff, so nothing is lost.

use std::time::Duration;

use futures::FutureExt;
use futures::stream::{self, StreamExt};
use idsync_core::{Change, UserId, Version};
use idsync_store::refresh::{self, Leased};
use tokio::sync::Notify;

use crate::{JobTarget, SyncError};

/// Users leased per round.
const BATCH: i64 = 100;
/// Fetches in flight at once; the provider client also waits out 429s.
const IN_FLIGHT: usize = 8;
/// Longer than a round can take, so a live replica keeps its lease.
const LEASE: Duration = Duration::from_secs(120);
/// How often to look for work queued by other replicas.
const POLL: Duration = Duration::from_secs(1);
/// How often the queue's gauges are updated.
const GAUGES: Duration = Duration::from_secs(15);
/// Longest wait between retries of a failing user.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// How a round went.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshRound {
    /// Users fetched and applied (or marked deleted).
    pub done: usize,
    /// Users whose fetch failed; they stay queued.
    pub failed: usize,
}

/// Leases the due users, fetches them and applies the results. An empty
/// round means nothing was due.
pub async fn refresh_due(target: JobTarget<'_>) -> Result<RefreshRound, SyncError> {
    let leased = refresh::lease(target.pool, target.connection, BATCH, LEASE).await?;
    if leased.is_empty() {
        return Ok(RefreshRound::default());
    }
    let fetched: Vec<(Leased, Result<Change, String>)> = stream::iter(leased)
        .map(|l| async move {
            let result = fetch(target, &l.user_id).await;
            (l, result)
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let mut done = Vec::new();
    let mut failed = 0;
    for (l, result) in fetched {
        match result {
            Ok(change) => done.push((l, change)),
            Err(reason) => {
                failed += 1;
                let wait = backoff(l.attempts);
                tracing::warn!(
                    connection = target.connection,
                    user = l.user_id,
                    retry_in_s = wait.as_secs(),
                    error = %reason,
                    "refresh failed; will retry"
                );
                refresh::fail(target.pool, target.connection, &l.user_id, wait, &reason).await?;
            }
        }
    }
    let count = done.len();
    refresh::complete(target.pool, target.connection, target.table, &done).await?;
    metrics::counter!("idsync_refresh_done_total", "connection" => target.connection.to_owned())
        .increment(count as u64);
    metrics::counter!("idsync_refresh_failed_total", "connection" => target.connection.to_owned())
        .increment(failed as u64);
    Ok(RefreshRound {
        done: count,
        failed,
    })
}

/// The user's current state, or its deletion when the provider has no
/// such user; the error says why the provider could not tell.
async fn fetch(target: JobTarget<'_>, id: &str) -> Result<Change, String> {
    let user_id = UserId::parse(id).ok_or_else(|| format!("{id:?} is not a user id"))?;
    // Taken before asking: the deletion is known to hold from then on.
    let asked = Version::now();
    match target.provider.current_change(id).await {
        Ok(Some(change)) => Ok(change),
        Ok(None) => Ok(Change::delete(
            user_id,
            asked,
            serde_json::json!({ "id": id }),
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// 2, 4, 8, ... seconds, at most [`MAX_BACKOFF`].
fn backoff(attempts: i32) -> Duration {
    let exp = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    Duration::from_secs(2u64.saturating_pow(exp + 1)).min(MAX_BACKOFF)
}

/// The queue's size and failing users, as gauges for `/metrics`.
async fn record_gauges(target: JobTarget<'_>) {
    match refresh::stats(target.pool, target.connection).await {
        Ok(s) => {
            let c = target.connection.to_owned();
            metrics::gauge!("idsync_refresh_queued", "connection" => c.clone())
                .set(s.queued as f64);
            metrics::gauge!("idsync_refresh_failing", "connection" => c).set(s.failing as f64);
        }
        Err(e) => tracing::debug!(error = %e, "could not read the refresh queue's size"),
    }
}

/// Refreshes the connection's queue for as long as the task lives: at once
/// when `wake` is notified, else every [`POLL`].
pub async fn run_refresher(target: JobTarget<'_>, wake: &Notify) {
    let mut gauges = tokio::time::interval(GAUGES);
    loop {
        if gauges.tick().now_or_never().is_some() {
            record_gauges(target).await;
        }
        match refresh_due(target).await {
            Ok(round) if round.done + round.failed > 0 => continue,
            Ok(_) => {}
            Err(e) => {
                tracing::warn!(connection = target.connection, error = %e, "refresher could not reach the database");
            }
        }
        let _ = tokio::time::timeout(POLL, wake.notified()).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        assert_eq!(backoff(0), Duration::from_secs(2));
        assert_eq!(backoff(3), Duration::from_secs(16));
        assert_eq!(backoff(30), MAX_BACKOFF);
    }
}
