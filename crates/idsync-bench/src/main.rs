//! `idsync-bench`: throughput and latency of idsync's write paths, measured
//! end to end with the real parts: a private PostgreSQL server (optionally
//! a network round trip away, through a delaying proxy), the provider
//! emulators (optionally far away and rate limited), idsync in a process of
//! its own (`idsync serve`, `backfill`, `reconcile`), and, as the baseline,
//! a hand-written webhook handler in a process of its own. Nothing is
//! mocked.
//!
//! It prints figures and never asserts timings; it does check that the
//! table ends up matching the emulator, so a fast but wrong run shows.
//! See `docs/benchmarks.md`.

mod cpu;
mod db;
mod handwritten;
mod jobs;
mod process;
mod proxy;
mod report;
mod webhooks;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Result, bail};
use clap::{Parser, ValueEnum};
use idsync_emulator::ProviderKind;

use crate::report::Output;

/// The allocator of the `idsync` binary, which this executable also runs
/// (see `process.rs`): measured as deployed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Debug, Parser)]
#[command(
    about = "Measure idsync's webhook ingest, backfill and reconcile against a hand-written handler"
)]
struct Args {
    /// Round trips between the processes under test and Postgres, one
    /// series of runs each (comma-separated, e.g. `0,2ms,10ms`). 0 connects
    /// directly; otherwise through a proxy delaying each direction by half.
    #[arg(long, value_delimiter = ',', value_parser = parse_duration, default_value = "0,2ms,10ms")]
    db_rtt: Vec<Duration>,

    /// Added to every answer of the emulated provider APIs (e.g. `150ms`).
    #[arg(long, value_parser = parse_duration, default_value = "0")]
    api_latency: Duration,

    /// Rate limits of the emulated APIs: `documented` follows each
    /// provider's documentation (Clerk production: 1,000 requests per 10 s;
    /// Stack Auth documents none), `off` has none.
    #[arg(long, value_enum, default_value_t = RateLimits::Documented)]
    rate_limit: RateLimits,

    /// Webhook events per `webhooks` and `handwritten` run.
    #[arg(long, default_value_t = 20_000)]
    events: usize,

    /// Concurrent webhook senders, one run each (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [64])]
    concurrency: Vec<usize>,

    /// Events of the `latency` run, sent at 100 a second.
    #[arg(long, default_value_t = 1_000)]
    latency_events: usize,

    /// Users each emulator holds for the backfill and reconcile runs.
    #[arg(long, default_value_t = 100_000)]
    users: usize,

    /// Percentage of the users changed (updated, deleted, or new) between
    /// backfill and reconcile.
    #[arg(long, default_value_t = 1.0)]
    changed_percent: f64,

    /// Providers of the backfill and reconcile runs (comma-separated).
    #[arg(long, value_delimiter = ',', default_values_t = [ProviderKind::StackAuth, ProviderKind::Clerk])]
    providers: Vec<ProviderKind>,

    /// Run PostgreSQL with fsync, synchronous_commit and full_page_writes
    /// off, to compare with the durable default.
    #[arg(long)]
    unsafe_fast: bool,

    /// Do not ANALYZE the tables before each webhook run. Short runs on
    /// fresh tables then go without planner statistics (autovacuum has not
    /// woken yet), which a deployment up for more than a minute or so has.
    #[arg(long)]
    no_analyze: bool,

    /// Run only these scenarios (comma-separated; default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Scenario>,

    /// Print one JSON object a line per run, instead of a table.
    #[arg(long)]
    json: bool,

    /// Directory in which the throwaway PostgreSQL data directory is made.
    /// Default: the system temp directory. Durable numbers need a real disk
    /// here: on a tmpfs such as /dev/shm an fsync costs nothing.
    #[arg(long, value_name = "DIR")]
    pg_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    /// Signed webhooks through `idsync serve`.
    Webhooks,
    /// The same webhooks through the hand-written handler.
    Handwritten,
    /// 100 webhooks a second through `idsync serve`: time until visible.
    Latency,
    /// `idsync backfill` of each provider's users.
    Backfill,
    /// `idsync reconcile` after some users changed (backfills first).
    Reconcile,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum RateLimits {
    Documented,
    Off,
}

impl Args {
    fn runs(&self, scenario: Scenario) -> bool {
        self.only.is_empty() || self.only.contains(&scenario)
    }
}

/// `0`, or a duration such as `2ms`, `1.5ms`, `150ms`, `1s`.
fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    let (number, unit) = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .map(|i| s.split_at(i))
        .ok_or_else(|| format!("{s:?}: give a unit, e.g. 2ms"))?;
    let number: f64 = number.parse().map_err(|_| format!("{s:?}: not a number"))?;
    let scale = match unit {
        "us" | "µs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        _ => return Err(format!("{s:?}: the unit is us, ms or s")),
    };
    Duration::try_from_secs_f64(number * scale).map_err(|e| format!("{s:?}: {e}"))
}

fn main() -> ExitCode {
    // One executable, several personalities by the name it runs under:
    // the bench starts idsync and the hand-written handler from itself, in
    // processes of their own (see `process`).
    let name = std::env::args_os()
        .next()
        .map(PathBuf::from)
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    match name.as_deref() {
        Some(process::IDSYNC) => {
            let code = idsync::cli::main();
            process::Usage::record_own_if_asked();
            code
        }
        Some(handwritten::NAME) => exit_code(run(handwritten::main())),
        _ => exit_code(run(bench(Args::parse()))),
    }
}

fn run(task: impl Future<Output = Result<()>>) -> Result<()> {
    tokio::runtime::Runtime::new()?.block_on(task)
}

fn exit_code(result: Result<()>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn bench(args: Args) -> Result<()> {
    report::start_clock();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    if args.db_rtt.is_empty() {
        bail!("--db-rtt needs at least one value");
    }
    let output = if args.json {
        Output::Json
    } else {
        Output::Table
    };

    let db = db::Db::start(args.unsafe_fast, args.pg_dir.as_deref()).await?;
    let stats = if args.no_analyze {
        "no ANALYZE before runs"
    } else {
        "tables ANALYZEd before each webhook run"
    };
    report::header(output, &format!("{}; {stats}", db.describe().await?));

    for &rtt in &args.db_rtt {
        let place = db.at_distance(rtt).await?;
        let setup = webhooks::Setup {
            place: &place,
            analyze: !args.no_analyze,
            output,
        };
        if args.runs(Scenario::Webhooks) {
            for &c in &args.concurrency {
                webhooks::idsync(&setup, args.events, c.max(1)).await?;
            }
        }
        if args.runs(Scenario::Handwritten) {
            for &c in &args.concurrency {
                webhooks::handwritten(&setup, args.events, c.max(1)).await?;
            }
        }
        if args.runs(Scenario::Latency) {
            webhooks::latency(&setup, args.latency_events).await?;
        }
        let (backfill, reconcile) = (
            args.runs(Scenario::Backfill),
            args.runs(Scenario::Reconcile),
        );
        if backfill || reconcile {
            for &kind in &args.providers {
                let api = jobs::Api {
                    kind,
                    users: args.users,
                    latency: args.api_latency,
                    documented_limit: args.rate_limit == RateLimits::Documented,
                };
                jobs::run(
                    &place,
                    &api,
                    jobs::Report {
                        backfill,
                        reconcile,
                        changed_percent: args.changed_percent,
                        output,
                    },
                )
                .await?;
            }
        }
    }
    db.stop().await;
    report::footer(output);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units() {
        assert_eq!(parse_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_duration("2ms"), Ok(Duration::from_millis(2)));
        assert_eq!(parse_duration("1.5ms"), Ok(Duration::from_micros(1500)));
        assert_eq!(parse_duration("1s"), Ok(Duration::from_secs(1)));
        assert!(parse_duration("2").is_err());
        assert!(parse_duration("2h").is_err());
    }
}
