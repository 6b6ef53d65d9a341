use std::sync::Mutex;
use std::time::{Duration, Instant};

use idsync_store::runs::{JobKind, RunCounts};

/// Receives a job's progress, page by page. The CLI draws a progress bar;
/// the server logs.
pub trait Progress: Send + Sync {
    /// `total`: users the provider reports, when it can tell; `resumed`:
    /// counters carried over from an interrupted run.
    fn started(&self, job: JobKind, total: Option<u64>, resumed: RunCounts);
    fn page(&self, so_far: RunCounts);
    fn finished(&self, counts: RunCounts);
}

/// Logs a line at most every few seconds, and at the end.
pub struct LogProgress {
    connection: String,
    /// The job under way (empty before it starts) and the last log line.
    state: Mutex<(&'static str, Instant)>,
}

impl LogProgress {
    const EVERY: Duration = Duration::from_secs(5);

    pub fn new(connection: &str) -> Self {
        Self {
            connection: connection.to_owned(),
            state: Mutex::new(("", Instant::now())),
        }
    }
}

impl Progress for LogProgress {
    fn started(&self, job: JobKind, total: Option<u64>, resumed: RunCounts) {
        if let Ok(mut s) = self.state.lock() {
            *s = (job.as_str(), Instant::now());
        }
        tracing::info!(connection = %self.connection, job = job.as_str(), total, resumed_at = resumed.seen, "started");
    }

    fn page(&self, c: RunCounts) {
        let Ok(mut s) = self.state.lock() else { return };
        metrics::gauge!("idsync_job_progress_users",
            "connection" => self.connection.clone(), "job" => s.0)
        .set(c.seen as f64);
        if s.1.elapsed() >= Self::EVERY {
            s.1 = Instant::now();
            tracing::info!(connection = %self.connection, job = s.0, seen = c.seen, added = c.added,
                updated = c.updated, unchanged = c.unchanged, "progress");
        }
    }

    fn finished(&self, c: RunCounts) {
        let job = self.state.lock().map(|s| s.0).unwrap_or_default();
        tracing::info!(connection = %self.connection, job, seen = c.seen, added = c.added,
            updated = c.updated, deleted = c.deleted, unchanged = c.unchanged, "finished");
    }
}
