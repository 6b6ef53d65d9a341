//! The output table and the measurements it needs.

use std::fmt;
use std::io::Write;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

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

/// Prints what was measured against, then the table's header.
pub fn header(setup: &str) {
    println!("# {setup}");
    println!("# load average at start: {}", load_average());
    println!(
        "{:<26} {:>8} {:>8} {:>10} {:>8} {:>8}  notes",
        "scenario", "count", "secs", "rate/s", "p50 ms", "p99 ms"
    );
    flush();
}

/// One finished run. `latencies` is sorted in place.
pub fn row(
    scenario: &str,
    count: usize,
    elapsed: Duration,
    latencies: Option<&mut [Duration]>,
    notes: &str,
) {
    let secs = elapsed.as_secs_f64();
    let rate = if secs > 0.0 { count as f64 / secs } else { 0.0 };
    let (p50, p99) = match latencies.and_then(percentiles) {
        Some((p50, p99)) => (ms(p50), ms(p99)),
        None => ("-".to_owned(), "-".to_owned()),
    };
    println!("{scenario:<26} {count:>8} {secs:>8.2} {rate:>10.0} {p50:>8} {p99:>8}  {notes}");
    flush();
}

pub fn footer() {
    println!(
        "# done in {:.0} s; load average at end: {}",
        since_start().as_secs_f64(),
        load_average()
    );
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

/// A `VmXxx:` field of /proc/self/status, in KiB.
fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Resident memory now, KiB.
pub fn rss_kib() -> Option<u64> {
    status_kib("VmRSS")
}

/// Peak resident memory (since the last [`reset_peak_rss`]), KiB.
pub fn peak_rss_kib() -> Option<u64> {
    status_kib("VmHWM")
}

/// Resets VmHWM to the current RSS (Linux >= 4.0), so that the peak of one
/// job can be read even though seeding the emulator used more before it.
/// False when the kernel does not allow it; the peak is then the process's.
pub fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
