//! Job scenarios: `idsync backfill` of a provider's users
//! (`backfill_<provider>`), then, after a share of them changed,
//! `idsync reconcile --full` (`reconcile_<provider>`), each in a process of
//! its own against an emulator in this one.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use idsync_core::SqlIdent;
use idsync_emulator::{Emulator, EmulatorConfig, ProviderKind, RateLimit};
use idsync_store::UsersTable;

use crate::cpu::CpuSnapshot;
use crate::db::{Place, verify};
use crate::process::{self, Spec, Usage};
use crate::report::{Output, Record, mib, note};
use crate::webhooks::reset_table;

/// Fixed so that runs seed the same users.
const RNG_SEED: u64 = 42;
/// A full reconcile deletes only rows written at least 2 s before it
/// began (its margin for clock differences); Stack Auth rows are versioned
/// by the time they were read, so right after a backfill none qualify.
const MARGIN_WAIT: Duration = Duration::from_secs(3);

/// The emulated provider API.
pub struct Api {
    pub kind: ProviderKind,
    pub users: usize,
    pub latency: Duration,
    /// Apply the provider's documented rate limit.
    pub documented_limit: bool,
}

/// Which records to print, and how much changes in between.
pub struct Report {
    pub backfill: bool,
    pub reconcile: bool,
    pub changed_percent: f64,
    pub output: Output,
}

/// Each provider's documented limit on the API calls idsync makes, as a
/// fixed window (the emulator's kind of limit).
/// - Clerk: Backend API, production instances, 1,000 requests per 10 s per
///   instance (clerk.com/docs, "Rate limits"; development: 100 per 10 s).
/// - Stack Auth documents no rate limit for its server API.
/// - Okta's limits are per endpoint and per org type and not modelled here.
fn documented_limit(kind: ProviderKind) -> Option<RateLimit> {
    match kind {
        ProviderKind::Clerk => Some(RateLimit {
            requests: 1000,
            per: Duration::from_secs(10),
        }),
        ProviderKind::StackAuth | ProviderKind::Okta => None,
    }
}

pub async fn run(place: &Place<'_>, api: &Api, report: Report) -> Result<()> {
    let kind = api.kind;
    note(format_args!(
        "seeding the {kind} emulator with {} users ...",
        api.users
    ));
    let mut config = EmulatorConfig::new(kind);
    config.seed_users = api.users;
    config.rng_seed = RNG_SEED;
    config.latency = api.latency;
    config.rate_limit = api
        .documented_limit
        .then(|| documented_limit(kind))
        .flatten();
    if kind == ProviderKind::Clerk {
        // The limit above is a production instance's, and idsync paces
        // itself by the key's kind: a development key (`sk_test_`) would
        // hold it to a tenth of it.
        config.api_key = config.api_key.replacen("sk_test_", "sk_live_", 1);
    }
    let emulator = Emulator::start(config, "127.0.0.1:0".parse()?).await?;
    let result = jobs(place, api, &report, &emulator).await;
    emulator.shutdown().await;
    result
}

async fn jobs(place: &Place<'_>, api: &Api, report: &Report, emulator: &Emulator) -> Result<()> {
    let kind = api.kind;
    let connection = format!("bench_{kind}");
    let table = UsersTable::new(
        SqlIdent::parse("bench")?,
        SqlIdent::parse(&format!("users_{kind}"))?,
    );
    reset_table(place, &table).await?;
    sqlx::query("DELETE FROM idsync.sync_runs WHERE connection = $1")
        .bind(&connection)
        .execute(place.pool)
        .await?;
    let env = process::idsync_env(place, emulator, &connection, &table);
    let job = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend(["--connection", &connection]);
        Spec::idsync(&all, env.clone(), &place.dir)
    };
    let record = |scenario: String, counts: RunCounts, elapsed, usage: Usage, notes| Record {
        scenario,
        db_rtt: place.rtt,
        api_latency: api.latency,
        concurrency: 1,
        count: usize::try_from(counts.seen).unwrap_or_default(),
        elapsed,
        latencies: Vec::new(),
        per_commit: counts.seen as f64 / counts.pages.max(1) as f64,
        usage,
        notes,
    };

    note(format_args!("backfilling {kind} ..."));
    let started = Instant::now();
    let cpu_before = CpuSnapshot::take(&place.pg_data);
    let usage = process::run_to_end(&job(&["backfill"])).await?;
    let elapsed = started.elapsed();
    let cpu_after = CpuSnapshot::take(&place.pg_data);
    let counts = last_run(place, &connection, "backfill").await?;
    let loaded = verify(place.pool, &table, emulator).await?;
    if counts.added != loaded as i64 {
        bail!(
            "backfill added {} users, the table has {loaded}",
            counts.added
        );
    }
    if report.backfill {
        record(
            format!("backfill_{kind}"),
            counts,
            elapsed,
            usage,
            format!(
                "{loaded} users, verified; {}",
                cpu_after.note_since(cpu_before, loaded)
            ),
        )
        .print(report.output);
    }
    if !report.reconcile {
        return Ok(());
    }

    let changes = (api.users as f64 * report.changed_percent / 100.0).round() as usize;
    note(format_args!(
        "changing {changes} {kind} users, unannounced ..."
    ));
    emulator.set_emit_webhooks(false);
    for _ in 0..changes {
        emulator.random_change();
        emulator.advance_clock(chrono::Duration::milliseconds(1));
    }
    tokio::time::sleep(MARGIN_WAIT).await;
    note(format_args!("reconciling {kind} ..."));
    let started = Instant::now();
    let cpu_before = CpuSnapshot::take(&place.pg_data);
    let usage = process::run_to_end(&job(&["reconcile", "--full"])).await?;
    let elapsed = started.elapsed();
    let cpu_after = CpuSnapshot::take(&place.pg_data);
    let counts = last_run(place, &connection, "reconcile").await?;
    let after = verify(place.pool, &table, emulator).await?;
    let written = counts.added + counts.updated + counts.deleted;
    let rows: i64 = sqlx::query_scalar(&format!("SELECT count(*) FROM {}", table.qualified()))
        .fetch_one(place.pool)
        .await?;
    record(
        format!("reconcile_{kind}"),
        counts,
        elapsed,
        usage,
        format!(
            "{changes} changed; wrote {written} of {rows} rows ({:.2}%); peak RSS {:.0} MiB; {after} users, verified; {}",
            written as f64 * 100.0 / rows.max(1) as f64,
            mib(usage.peak_rss_kib),
            cpu_after.note_since(cpu_before, after),
        ),
    )
    .print(report.output);
    Ok(())
}

/// The counters of a job's last run, as it recorded them.
#[derive(Debug, Clone, Copy, sqlx::FromRow)]
struct RunCounts {
    pages: i64,
    seen: i64,
    added: i64,
    updated: i64,
    deleted: i64,
}

async fn last_run(place: &Place<'_>, connection: &str, kind: &str) -> Result<RunCounts> {
    Ok(sqlx::query_as(
        "SELECT pages, seen, added, updated, deleted FROM idsync.sync_runs
          WHERE connection = $1 AND kind = $2 AND status = 'completed'
          ORDER BY id DESC LIMIT 1",
    )
    .bind(connection)
    .bind(kind)
    .fetch_one(place.pool)
    .await?)
}
