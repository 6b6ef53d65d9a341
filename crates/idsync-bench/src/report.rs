//! The output table and the measurements it needs.

use std::fmt;
use std::io::Write;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::process::Usage;

static STARTED: OnceLock<Instant> = OnceLock::new();

/// Marks the start of the run, for [`note`] and [`footer`].
pub fn start_clock() {
    STARTED.get_or_init(Instant::now);
}

fn since_start() -> Duration {
    STARTED.get_or_init(Instant::now).elapsed()
}

/// A progress line on stderr (stdout keeps only the table).
pub fn note(message: fmt::Arguments<'_>) {
    eprintln!("[{:>6.1}s] {message}", since_start().as_secs_f64());
}

/// The 1, 5 and 15 minute load averages: other work on the machine
/// (a compiler, say) skews every figure, and this shows it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".to_owned())
}

/// How results are printed: a table for people, or JSON lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Table,
    Json,
}

/// Prints what was measured against (on stderr for JSON, which keeps
/// stdout to one object a line), then the table's header.
pub fn header(output: Output, setup: &str) {
    let lines = [
        format!("# {setup}"),
        format!("# load average at start: {}", load_average()),
    ];
    match output {
        Output::Json => lines.iter().for_each(|l| eprintln!("{l}")),
        Output::Table => {
            lines.iter().for_each(|l| println!("{l}"));
            println!(
                "{:<22} {:>6} {:>6} {:>4} {:>8} {:>7} {:>9} {:>8} {:>8} {:>7} {:>7} {:>7}  notes",
                "scenario",
                "db_rtt",
                "api",
                "c",
                "count",
                "secs",
                "rate/s",
                "p50 ms",
                "p99 ms",
                "/commit",
                "RSS MiB",
                "cpu us"
            );
        }
    }
    flush();
}

/// One finished scenario run.
#[derive(Debug, Clone)]
pub struct Record {
    pub scenario: String,
    pub db_rtt: Duration,
    pub api_latency: Duration,
    pub concurrency: usize,
    pub count: usize,
    pub elapsed: Duration,
    /// Per item (request or page); sorted in place when printed.
    pub latencies: Vec<Duration>,
    /// Items per commit.
    pub per_commit: f64,
    pub usage: Usage,
    /// For people only; not in the JSON.
    pub notes: String,
}

impl Record {
    pub fn print(mut self, output: Output) {
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            self.count as f64 / secs
        } else {
            0.0
        };
        let (p50, p99) = percentiles(&mut self.latencies).unzip();
        let peak_rss_mib = mib(self.usage.peak_rss_kib);
        let cpu_us_per_item = self.usage.cpu.as_micros() as f64 / self.count.max(1) as f64;
        match output {
            Output::Json => {
                let json = Json {
                    scenario: &self.scenario,
                    db_rtt_ms: millis(self.db_rtt),
                    api_latency_ms: millis(self.api_latency),
                    concurrency: self.concurrency,
                    count: self.count,
                    seconds: round(secs, 3),
                    rate: round(rate, 1),
                    p50_ms: p50.map(|d| round(millis(d), 3)),
                    p99_ms: p99.map(|d| round(millis(d), 3)),
                    per_commit: round(self.per_commit, 2),
                    peak_rss_mib: round(peak_rss_mib, 1),
                    cpu_us_per_item: round(cpu_us_per_item, 1),
                };
                // The notes (the check's verdict) still reach people.
                note(format_args!("{}: {}", self.scenario, self.notes));
                let json = serde_json::to_string(&json).unwrap_or_default();
                println!("{json}");
            }
            Output::Table => {
                let opt = |d: Option<Duration>| d.map_or_else(|| "-".to_owned(), ms);
                println!(
                    "{:<22} {:>6} {:>6} {:>4} {:>8} {secs:>7.2} {rate:>9.0} {:>8} {:>8} {:>7.1} {peak_rss_mib:>7.1} {cpu_us_per_item:>7.1}  {}",
                    self.scenario,
                    format!("{}ms", millis(self.db_rtt)),
                    format!("{}ms", millis(self.api_latency)),
                    self.concurrency,
                    self.count,
                    opt(p50),
                    opt(p99),
                    self.per_commit,
                    self.notes
                );
            }
        }
        flush();
    }
}

/// A record as one JSON line; fields in this order.
#[derive(serde::Serialize)]
struct Json<'a> {
    scenario: &'a str,
    db_rtt_ms: f64,
    api_latency_ms: f64,
    concurrency: usize,
    count: usize,
    seconds: f64,
    rate: f64,
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    per_commit: f64,
    peak_rss_mib: f64,
    cpu_us_per_item: f64,
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn round(x: f64, digits: i32) -> f64 {
    let scale = 10f64.powi(digits);
    (x * scale).round() / scale
}

pub fn footer(output: Output) {
    let line = format!(
        "# done in {:.0} s; load average at end: {}",
        since_start().as_secs_f64(),
        load_average()
    );
    match output {
        Output::Json => eprintln!("{line}"),
        Output::Table => println!("{line}"),
    }
    flush();
}

// Rows are printed as runs finish; progress goes to stderr in between.
fn flush() {
    let _ = std::io::stdout().flush();
}

fn ms(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1000.0)
}

/// p50 and p99 by nearest rank.
fn percentiles(latencies: &mut [Duration]) -> Option<(Duration, Duration)> {
    if latencies.is_empty() {
        return None;
    }
    latencies.sort_unstable();
    let rank = |p: f64| {
        let n = latencies.len();
        let index = ((p * n as f64).ceil() as usize).clamp(1, n) - 1;
        latencies[index]
    };
    Some((rank(0.50), rank(0.99)))
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
