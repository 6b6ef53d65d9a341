//! Scenario 3: backfill, then reconcile, of a large user list through each
//! provider's list API.

use std::time::Instant;

use anyhow::{Result, bail};
use idsync_core::{ConnectionName, SqlIdent};
use idsync_emulator::{Emulator, EmulatorConfig, ProviderKind};
use idsync_providers::registry;
use idsync_store::runs::RunCounts;
use idsync_store::{PgPool, UsersTable};
use idsync_sync::{JobReport, JobTarget, Progress};

use crate::db::verify;
use crate::report::{mib, note, peak_rss_kib, reset_peak_rss, row, rss_kib};

/// Fixed so that runs seed the same users.
const RNG_SEED: u64 = 42;

pub async fn run(pool: &PgPool, users: usize) -> Result<()> {
    for kind in [ProviderKind::StackAuth, ProviderKind::Clerk] {
        one_provider(pool, users, kind).await?;
    }
    Ok(())
}

async fn one_provider(pool: &PgPool, users: usize, kind: ProviderKind) -> Result<()> {
    note(format_args!(
        "seeding the {kind} emulator with {users} users ..."
    ));
    let rss_empty = rss_kib();
    let mut config = EmulatorConfig::new(kind);
    config.seed_users = users;
    config.rng_seed = RNG_SEED;
    let emulator = Emulator::start(config, "127.0.0.1:0".parse()?).await?;
    if let (Some(before), Some(after)) = (rss_empty, rss_kib()) {
        // For scale: roughly what holding the whole list costs (freed
        // memory may be reused), which a job that streams pages must not.
        note(format_args!(
            "seeded; RSS grew by {:.0} MiB",
            mib(after.saturating_sub(before))
        ));
    }

    let name = ConnectionName::parse(&format!("bench_{kind}"))?;
    let table = UsersTable::new(
        SqlIdent::parse("bench")?,
        SqlIdent::parse(&format!("users_{kind}"))?,
    );
    idsync_store::migrate::migrate(pool, std::slice::from_ref(&table)).await?;
    // As `idsync serve` configures it, from the keys a connection takes.
    let provider =
        registry::configure(&kind.to_string(), name.as_str(), emulator.connection_keys())?;
    let target = JobTarget {
        pool,
        connection: name.as_str(),
        table: &table,
        provider: &provider,
    };

    note(format_args!("backfilling {kind} ..."));
    let (report, notes) = measured(&format!("backfill {kind}"), || {
        idsync_sync::backfill(target, &Quiet)
    })
    .await?;
    let loaded = verify(pool, &table, &emulator).await?;
    if report.counts.added != loaded as i64 {
        bail!(
            "backfill added {} users, the table has {loaded}",
            report.counts.added
        );
    }
    notes.print(&format!(
        "added {}; {loaded} users, verified",
        report.counts.added
    ));

    // Nothing changed since: every user is read, compared and left alone.
    note(format_args!("reconciling {kind} ..."));
    let (report, notes) = measured(&format!("reconcile {kind}"), || {
        idsync_sync::reconcile(target, &Quiet)
    })
    .await?;
    let after = verify(pool, &table, &emulator).await?;
    notes.print(&format!(
        "unchanged {}, written {}; {after} users, verified",
        report.counts.unchanged,
        report.counts.added + report.counts.updated + report.counts.deleted
    ));

    emulator.shutdown().await;
    Ok(())
}

/// A job's figures, printed once the table was checked.
struct Measured {
    scenario: String,
    seen: usize,
    elapsed: std::time::Duration,
    memory: String,
}

impl Measured {
    fn print(&self, verdict: &str) {
        row(
            &self.scenario,
            self.seen,
            self.elapsed,
            None,
            &format!("{}; {verdict}", self.memory),
        );
    }
}

/// Runs a job, timing it and watching the process's peak memory.
async fn measured<F, Fut>(scenario: &str, job: F) -> Result<(JobReport, Measured)>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<JobReport, idsync_sync::SyncError>>,
{
    let start_rss = rss_kib();
    // The peak since here is the job's (and the emulator serving it: both
    // live in this process), not the seeding's.
    let reset = reset_peak_rss();
    let started = Instant::now();
    let report = job().await?;
    let elapsed = started.elapsed();
    let memory = match (start_rss, peak_rss_kib()) {
        (Some(start), Some(peak)) if reset => format!(
            "peak RSS +{:.1} MiB over {:.0} MiB at start",
            mib(peak.saturating_sub(start)),
            mib(start)
        ),
        (_, Some(peak)) => format!("process peak RSS {:.0} MiB", mib(peak)),
        _ => "RSS unknown".to_owned(),
    };
    let seen = usize::try_from(report.counts.seen)?;
    Ok((
        report,
        Measured {
            scenario: scenario.to_owned(),
            seen,
            elapsed,
            memory,
        },
    ))
}

/// The jobs report progress; a benchmark has nobody to tell.
struct Quiet;

impl Progress for Quiet {
    fn started(&self, _job: idsync_store::runs::JobKind, _total: Option<u64>, _resumed: RunCounts) {
    }
    fn page(&self, _so_far: RunCounts) {}
    fn finished(&self, _counts: RunCounts) {}
}
