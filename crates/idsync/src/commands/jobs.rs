use std::process::ExitCode;

use anyhow::Result;
use idsync_store::runs::JobKind;
use idsync_sync::{JobReport, JobTarget, SyncError};

use crate::config::Config;
use crate::progress_bar::CliProgress;
use crate::runtime;
use crate::telemetry::LogFormat;

pub async fn backfill(config: Config, only: Option<&str>, logs: LogFormat) -> Result<ExitCode> {
    run(config, only, JobKind::Backfill, logs).await
}

/// A full reconcile, or with `incremental` one of only the changed users.
pub async fn reconcile(
    config: Config,
    only: Option<&str>,
    incremental: bool,
    logs: LogFormat,
) -> Result<ExitCode> {
    let kind = if incremental {
        JobKind::IncrementalReconcile
    } else {
        JobKind::Reconcile
    };
    run(config, only, kind, logs).await
}

/// Runs the job on each selected connection in turn; exits non-zero if any
/// failed, after trying them all.
async fn run(
    config: Config,
    only: Option<&str>,
    job: JobKind,
    logs: LogFormat,
) -> Result<ExitCode> {
    let selected = runtime::select(&config, only)?;
    let pool = runtime::pool(&config).await?;
    runtime::migrate(&pool, &config).await?;
    let mut failed = false;
    for c in selected {
        if !c.provider.pulls() {
            // Asked for by name, it is a mistake; among all, it is skipped.
            failed |= only.is_some();
            eprintln!(
                "{}: skipped: {} writes to idsync; there is no API to {} from",
                c.name,
                c.provider.info().display_name,
                job.as_str()
            );
            continue;
        }
        let target = JobTarget {
            pool: &pool,
            connection: c.name.as_str(),
            table: &c.table,
            provider: &c.provider,
        };
        let progress = CliProgress::new(c.name.as_str(), logs);
        let result: Result<JobReport, SyncError> = match job {
            JobKind::Backfill => idsync_sync::backfill(target, &progress).await,
            JobKind::Reconcile => idsync_sync::reconcile(target, &progress).await,
            JobKind::IncrementalReconcile => {
                idsync_sync::incremental_reconcile(target, &progress).await
            }
        };
        match result {
            Ok(r) => println!(
                "{}: {} added, {} updated, {} deleted, {} unchanged ({} users listed)",
                c.name,
                r.counts.added,
                r.counts.updated,
                r.counts.deleted,
                r.counts.unchanged,
                r.counts.seen
            ),
            Err(e) => {
                failed = true;
                eprintln!("{}: failed: {e}", c.name);
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
