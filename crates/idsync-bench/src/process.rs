//! The processes under test: idsync (`serve`, `backfill`, `reconcile`) and
//! the hand-written handler, each in a process of its own, so that their
//! memory and CPU time are theirs alone (not the emulator's, nor the load
//! generator's).
//!
//! idsync runs from this very executable started under the name `idsync`
//! (see `main`): the same code as the `idsync` binary (`idsync::cli::main`),
//! always built together with the bench, so `cargo run -p idsync-bench`
//! cannot measure a stale `idsync`.

use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use idsync_emulator::Emulator;
use idsync_store::UsersTable;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::db::Place;

/// The name under which this executable behaves as `idsync`.
pub const IDSYNC: &str = "idsync";

/// Where a one-shot idsync command writes its own [`Usage`] as it exits
/// (it can no longer be read from /proc once the process is gone).
pub const USAGE_FILE_ENV: &str = "IDSYNC_BENCH_USAGE_FILE";

/// The kernel's clock ticks per second for /proc times (`USER_HZ`): fixed
/// at 100 in the Linux ABI on every architecture idsync builds for.
pub const TICKS_PER_SECOND: u64 = 100;

/// What a process used: its peak resident memory and its CPU time.
#[derive(Debug, Clone, Copy, Default)]
pub struct Usage {
    pub peak_rss_kib: u64,
    pub cpu: Duration,
}

impl Usage {
    /// Read from /proc for `pid` (`self` for this process).
    pub fn of(pid: &str) -> Option<Self> {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        let peak_rss_kib = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // The command name may hold spaces and parentheses: count fields
        // from the last ')'. utime and stime are fields 14 and 15.
        let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
        let utime: u64 = fields.nth(11)?.parse().ok()?;
        let stime: u64 = fields.next()?.parse().ok()?;
        let ticks = utime + stime;
        Some(Self {
            peak_rss_kib,
            cpu: Duration::from_millis(ticks * 1000 / TICKS_PER_SECOND),
        })
    }

    fn to_line(self) -> String {
        format!("{} {}", self.peak_rss_kib, self.cpu.as_micros())
    }

    fn from_line(line: &str) -> Option<Self> {
        let mut parts = line.split_whitespace();
        let peak_rss_kib = parts.next()?.parse().ok()?;
        let cpu_us: u64 = parts.next()?.parse().ok()?;
        Some(Self {
            peak_rss_kib,
            cpu: Duration::from_micros(cpu_us),
        })
    }

    /// Called by the `idsync` personality as it exits: records this
    /// process's usage where the bench asked.
    pub fn record_own_if_asked() {
        if let (Some(path), Some(usage)) = (std::env::var_os(USAGE_FILE_ENV), Self::of("self"))
            && let Err(e) = std::fs::write(&path, usage.to_line())
        {
            eprintln!("warning: cannot record usage: {e}");
        }
    }
}

/// How to start a process under test.
pub struct Spec {
    /// The name the executable runs under ([`IDSYNC`], or this bench's own).
    pub name: &'static str,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// Its working directory, which also receives its log (stderr).
    pub dir: PathBuf,
}

impl Spec {
    pub fn idsync(args: &[&str], env: Vec<(String, String)>, dir: &Path) -> Self {
        Self {
            name: IDSYNC,
            args: args.iter().map(|&a| a.to_owned()).collect(),
            env,
            dir: dir.to_path_buf(),
        }
    }

    fn command(&self, log: &str) -> Result<Command> {
        let exe = std::env::current_exe().context("cannot find this executable")?;
        let mut std_command = std::process::Command::new(exe);
        std_command.arg0(self.name);
        let stderr = std::fs::File::create(self.dir.join(log))?;
        // Only what the spec gives: an IDSYNC_* or DATABASE_URL variable of
        // the bench's own environment would reconfigure idsync.
        std_command
            .env_clear()
            .args(&self.args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            // Warnings only: idsync logs a line per webhook at info, and
            // that is not what is measured.
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stderr(stderr);
        let mut command = Command::from(std_command);
        command.kill_on_drop(true);
        Ok(command)
    }
}

/// A server process (`idsync serve`, the hand-written handler) that said
/// where it listens.
pub struct Server {
    child: Child,
    pid: String,
    pub url: String,
    log: PathBuf,
}

impl Server {
    /// Starts it and waits for its `listening on http://...` line.
    pub async fn start(spec: &Spec) -> Result<Self> {
        let log_name = format!("{}-{}.log", spec.name, spec.args.join("-"));
        let log = spec.dir.join(&log_name);
        let mut child = spec
            .command(&log_name)?
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("cannot start {}", spec.name))?;
        let pid = child.id().context("the process ended at once")?.to_string();
        let stdout = child.stdout.take().context("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            match tokio::time::timeout(Duration::from_secs(60), lines.next_line()).await {
                Ok(Ok(Some(line))) => {
                    if let Some(url) = line.strip_prefix("listening on ") {
                        break url.trim().to_owned();
                    }
                }
                _ => bail!("{} did not start; its log:\n{}", spec.name, tail(&log)),
            }
        };
        // Keep draining stdout so that the process never blocks on it.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            pid,
            url,
            log,
        })
    }

    /// Its usage so far.
    pub fn usage(&self) -> Result<Usage> {
        Usage::of(&self.pid)
            .with_context(|| format!("cannot read /proc/{} (log: {})", self.pid, tail(&self.log)))
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// idsync's configuration for one connection to `emulator` writing
/// `table`, from the environment alone (as a deployment may have it): the
/// database at the place's distance, a free port, no scheduled reconcile.
pub fn idsync_env(
    place: &Place<'_>,
    emulator: &Emulator,
    connection: &str,
    table: &UsersTable,
) -> Vec<(String, String)> {
    let key = |k: &str| {
        format!(
            "IDSYNC_CONNECTIONS__{}__{}",
            connection.to_ascii_uppercase(),
            k.to_ascii_uppercase()
        )
    };
    let mut env = vec![
        ("DATABASE_URL".to_owned(), place.url.clone()),
        ("IDSYNC_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        (key("provider"), emulator.config().kind.to_string()),
        (key("schema"), table.schema.as_str().to_owned()),
        (key("table"), table.table.as_str().to_owned()),
        (key("reconcile_interval"), "0".to_owned()),
    ];
    env.extend(
        emulator
            .connection_keys()
            .into_iter()
            .map(|(k, v)| (key(k), v)),
    );
    env
}

/// Runs a command that exits (`idsync backfill`, ...) and returns its
/// usage, recorded by the process itself as it exited.
pub async fn run_to_end(spec: &Spec) -> Result<Usage> {
    let usage_file = spec.dir.join("usage");
    let _ = std::fs::remove_file(&usage_file);
    let log_name = format!("{}-{}.log", spec.name, spec.args.join("-"));
    let status = spec
        .command(&log_name)?
        .env(USAGE_FILE_ENV, &usage_file)
        .stdout(Stdio::null())
        .status()
        .await
        .with_context(|| format!("cannot start {}", spec.name))?;
    if !status.success() {
        bail!(
            "{} {} failed ({status}); its log:\n{}",
            spec.name,
            spec.args.join(" "),
            tail(&spec.dir.join(&log_name))
        );
    }
    let line = std::fs::read_to_string(&usage_file).context("the process left no usage")?;
    Usage::from_line(&line).context("unreadable usage record")
}

/// The end of a log, for an error message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
