//! Where the machine's CPU went during a measured run: Postgres (every
//! process of the private server), the bench itself (senders, Svix
//! signing, emulators, the distance proxy) and the whole machine. With
//! everything on two cores, this tells a run bound by CPU from one bound
//! by waiting; the process under test reports its own share in [`Usage`].
//!
//! [`Usage`]: crate::process::Usage

use std::path::Path;

use crate::process::TICKS_PER_SECOND;

/// CPU ticks read at one moment.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSnapshot {
    machine_busy: u64,
    machine_all: u64,
    postgres: u64,
    bench: u64,
}

impl CpuSnapshot {
    /// Reads /proc; the server is the one whose data directory is
    /// `pg_data`. Figures that cannot be read count as zero.
    pub fn take(pg_data: &Path) -> Self {
        let (machine_busy, machine_all) = machine_ticks().unwrap_or_default();
        Self {
            machine_busy,
            machine_all,
            postgres: postgres_ticks(pg_data).unwrap_or_default(),
            bench: process_ticks("self", false).unwrap_or_default(),
        }
    }

    /// What was used since `before`, per item, as a note for people.
    pub fn note_since(self, before: Self, items: usize) -> String {
        let per_item =
            |ticks: u64| (ticks as f64 * 1e6 / TICKS_PER_SECOND as f64) / items.max(1) as f64;
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        let all = self.machine_all.saturating_sub(before.machine_all).max(1);
        let busy = self.machine_busy.saturating_sub(before.machine_busy);
        format!(
            "machine {:.0}% busy ({cpus} CPUs); CPU µs per item: postgres {:.0}, bench {:.0}",
            100.0 * busy as f64 / all as f64,
            per_item(self.postgres.saturating_sub(before.postgres)),
            per_item(self.bench.saturating_sub(before.bench)),
        )
    }
}

/// Busy and all ticks of every CPU, from the first line of /proc/stat.
fn machine_ticks() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal ...
    let idle = fields.get(3)? + fields.get(4)?;
    let all: u64 = fields.iter().take(8).sum();
    Some((all - idle, all))
}

/// The server's CPU: the postmaster with the children it has reaped, and
/// its live children (the backends and background processes).
fn postgres_ticks(pg_data: &Path) -> Option<u64> {
    let pid_file = std::fs::read_to_string(pg_data.join("postmaster.pid")).ok()?;
    let postmaster = pid_file.lines().next()?.trim().to_owned();
    let mut ticks = process_ticks(&postmaster, true)?;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        if stat_fields(pid).and_then(|f| f.get(1).cloned()).as_deref() == Some(&postmaster) {
            ticks += process_ticks(pid, false).unwrap_or_default();
        }
    }
    Some(ticks)
}

/// utime + stime of `pid`, with its reaped children's when `reaped`.
fn process_ticks(pid: &str, reaped: bool) -> Option<u64> {
    let fields = stat_fields(pid)?;
    // Counted from the state (field 3): utime 14, stime 15, cutime 16,
    // cstime 17.
    let take = if reaped { 4 } else { 2 };
    fields
        .get(11..11 + take)?
        .iter()
        .map(|f| f.parse::<u64>().ok())
        .sum()
}

/// The fields of /proc/<pid>/stat after the command name (which may hold
/// spaces and parentheses), starting with the state.
fn stat_fields(pid: &str) -> Option<Vec<String>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(
        stat.get(stat.rfind(')')? + 1..)?
            .split_whitespace()
            .map(str::to_owned)
            .collect(),
    )
}
