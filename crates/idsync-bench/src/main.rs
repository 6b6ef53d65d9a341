//! `idsync-bench`: throughput and latency of idsync's write paths, measured
//! end to end with the real parts: a private PostgreSQL server, the provider
//! emulators, idsync's HTTP server in-process, its group-commit applier and
//! its backfill/reconcile jobs. Nothing is mocked.
//!
//! It prints figures and never asserts timings; it does check that the
//! table ends up matching the emulator, so a fast but wrong run shows.
//! See `docs/benchmarks.md`.

mod backfill;
mod db;
mod report;
mod webhooks;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, ValueEnum};

#[derive(Debug, Parser)]
#[command(about = "Measure idsync's webhook ingest, backfill and reconcile")]
struct Args {
    /// Webhook events generated and delivered per run (scenarios 1 and 2).
    #[arg(long, default_value_t = 20_000)]
    events: usize,

    /// Concurrent webhook senders, one run each (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 16, 64])]
    concurrency: Vec<usize>,

    /// Concurrent tasks for the one-transaction-per-event baseline
    /// (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [1, 16])]
    baseline_concurrency: Vec<usize>,

    /// Users the emulators hold for the backfill and reconcile runs.
    #[arg(long, default_value_t = 100_000)]
    users: usize,

    /// Run PostgreSQL with fsync, synchronous_commit and full_page_writes
    /// off, to compare with the durable default.
    #[arg(long)]
    unsafe_fast: bool,

    /// Do not ANALYZE the tables before each webhook and baseline run. Short runs on
    /// fresh tables then go without planner statistics (autovacuum has not
    /// woken yet), which a deployment up for more than a minute or so has.
    #[arg(long)]
    no_analyze: bool,

    /// Run only these scenarios (comma-separated; default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Scenario>,

    /// Directory in which the throwaway PostgreSQL data directory is made.
    /// Default: the system temp directory. Durable numbers need a real disk
    /// here: on a tmpfs such as /dev/shm an fsync costs nothing.
    #[arg(long, value_name = "DIR")]
    pg_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Signed HTTP webhooks through the group-commit applier.
    Webhooks,
    /// The same kind of events applied one transaction per event, and
    /// through the applier without HTTP.
    Baseline,
    /// Backfill, then reconcile, through the provider list APIs.
    Backfill,
}

impl Args {
    fn runs(&self, scenario: Scenario) -> bool {
        self.only.is_empty() || self.only.contains(&scenario)
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    report::start_clock();
    // Warnings only by default: `idsync serve` logs a line per webhook at
    // info, and writing 20,000 lines to a terminal would be what we measure.
    // RUST_LOG=info includes that cost.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    // As `idsync serve` does: the applier and the jobs then record their
    // metrics, a cost the figures should include. Process-wide, so once.
    let metrics = idsync_server::metrics::install().map_err(anyhow::Error::msg)?;

    let db = db::Db::start(args.unsafe_fast, args.pg_dir.as_deref()).await?;
    let stats = if args.no_analyze {
        "no ANALYZE before runs"
    } else {
        "tables ANALYZEd before each webhook/baseline run"
    };
    report::header(&format!("{}; {stats}", db.describe().await?));

    if args.runs(Scenario::Webhooks) || args.runs(Scenario::Baseline) {
        let fixture = webhooks::Fixture::start(&db.pool, metrics, !args.no_analyze).await?;
        if args.runs(Scenario::Webhooks) {
            fixture.warm_up().await?;
            for &c in &args.concurrency {
                fixture.ingest(args.events, c.max(1)).await?;
            }
        }
        if args.runs(Scenario::Baseline) {
            let top = args.concurrency.iter().copied().max().unwrap_or(64).max(1);
            fixture.applier_direct(args.events, top).await?;
            for &c in &args.baseline_concurrency {
                fixture.one_tx_per_event(args.events, c.max(1)).await?;
            }
        }
        fixture.stop().await;
    }
    if args.runs(Scenario::Backfill) {
        backfill::run(&db.pool, args.users).await?;
    }
    db.stop().await;
    report::footer();
    Ok(())
}
