//! A private PostgreSQL server run from the local PostgreSQL installation.
//!
//! Two uses:
//! - tests: [`PgOptions::temporary`] gives a throwaway server (temp data
//!   directory copied from a cached initdb template, free loopback port,
//!   durability off) that is stopped and deleted on drop;
//! - `idsync dev`: [`PgOptions::persistent`] keeps the data in a directory
//!   (e.g. `./.idsync/pgdata`) that is initdb'd on first use and reused after.
//!
//! ```no_run
//! # async fn demo() -> Result<(), idsync_pg::PgError> {
//! let pg = idsync_pg::PgServer::start(idsync_pg::PgOptions::temporary()).await?;
//! let url = pg.create_database("idsync_test").await?;
//! # Ok(()) }
//! ```
//!
//! The programs are taken from `$IDSYNC_PG_BIN_DIR` if set, else from the
//! directory of the `initdb` found on PATH, else from the highest
//! `/usr/lib/postgresql/<ver>/bin` (Debian keeps them off PATH). As root,
//! the server programs run as the `postgres` user via `runuser`, since
//! PostgreSQL refuses to run as root.
//!
//! Temporary servers live under `$IDSYNC_PG_TMPDIR`, else /dev/shm when it
//! is a big enough tmpfs, else the system temp directory; the initdb
//! template is cached in the system temp directory. A detached watchdog
//! stops the server, and deletes temporary data, if the owning process dies
//! without dropping its [`PgServer`] (Ctrl-C, kill -9, a static server).
//!
//! The server listens on 127.0.0.1 only and opens no unix socket: a socket
//! path under a deep project directory can exceed the 107-byte limit, and
//! every client here uses TCP anyway. Anyone on the machine can connect as
//! `postgres` without a password (trust auth), so it is for tests and
//! development only.

mod datadir;
mod env;
mod error;
mod template;
mod watchdog;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

pub use env::BIN_DIR_ENV;
pub use error::PgError;

use env::{Env, output};

/// How long a start may take before we give up (pg_ctl's own -t).
const START_TIMEOUT: Duration = Duration::from_secs(30);
/// How often to look whether a starting server is ready.
const READY_POLL: Duration = Duration::from_millis(10);
/// Log file inside the data directory.
const LOG_FILE: &str = "postgres.log";
/// Lines of server log quoted in a start error.
const LOG_TAIL_LINES: usize = 30;
/// Several idsync instances (each with a pool) share one server in tests.
const MAX_CONNECTIONS: u32 = 200;

/// How to run the server.
#[derive(Debug, Clone, Default)]
pub struct PgOptions {
    /// Where the data lives. `None`: a fresh temp directory, removed when the
    /// [`PgServer`] is dropped. `Some`: initdb'd if missing or empty, reused
    /// otherwise; relative paths are taken from the current directory.
    pub data_dir: Option<PathBuf>,
    /// TCP port on 127.0.0.1. `None`: a free one is picked.
    pub port: Option<u16>,
    /// fsync, synchronous_commit and full_page_writes off: much faster, and
    /// a crash of the machine can corrupt the data. For tests.
    pub fast_unsafe: bool,
}

impl PgOptions {
    /// A throwaway server for a test: temp data, free port, fast and unsafe.
    pub fn temporary() -> Self {
        PgOptions {
            data_dir: None,
            port: None,
            fast_unsafe: true,
        }
    }

    /// A durable server whose data stays in `data_dir` across runs.
    pub fn persistent(data_dir: impl Into<PathBuf>) -> Self {
        PgOptions {
            data_dir: Some(data_dir.into()),
            port: None,
            fast_unsafe: false,
        }
    }

    pub fn with_port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }
}

/// A running (or stopped, after [`PgServer::stop`]) private server. Dropping
/// it stops the server and deletes a temporary data directory.
///
/// If a server is already running on a persistent data directory (another
/// `idsync dev`), [`PgServer::start`] fails with [`PgError::AlreadyRunning`]
/// rather than adopting it: its port may differ, and our drop would stop it
/// under its owner's feet. A stale postmaster.pid left by a crash is removed.
pub struct PgServer {
    env: &'static Env,
    data_dir: PathBuf,
    port: u16,
    fast_unsafe: bool,
    /// Whether we started the server and have not stopped it; Drop reads it.
    running: AtomicBool,
    /// Serialises stop/restart on a shared `&PgServer`.
    lifecycle: tokio::sync::Mutex<()>,
    /// The auto-picked port we reserved in this process, released on drop.
    reserved_port: Option<u16>,
    /// Declared after the fields above so that it is deleted after Drop
    /// stopped the server.
    temp: Option<tempfile::TempDir>,
    /// Stops the server if this process dies without dropping us; disarmed
    /// (last) on drop.
    watchdog: Option<watchdog::Watchdog>,
}

impl std::fmt::Debug for PgServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgServer")
            .field("data_dir", &self.data_dir)
            .field("port", &self.port)
            .field("temporary", &self.temp.is_some())
            .field("running", &self.running.load(Ordering::SeqCst))
            .finish()
    }
}

impl PgServer {
    /// Initialises the data directory if needed, starts the server and waits
    /// until it accepts connections.
    pub async fn start(opts: PgOptions) -> Result<PgServer, PgError> {
        let started = Instant::now();
        let env = env::env().await?;
        let (temp, data_dir) = match &opts.data_dir {
            None => {
                let (temp, data) = prepare_temp(env).await?;
                (Some(temp), data)
            }
            Some(dir) => {
                let dir = std::path::absolute(dir).map_err(|e| PgError::io("resolve", dir, e))?;
                // Before touching the directory (and before arming a watchdog
                // that could stop someone else's server).
                if let Some((pid, port)) = datadir::live_postmaster(env, &dir).await {
                    return Err(PgError::AlreadyRunning {
                        data_dir: dir,
                        pid,
                        port,
                    });
                }
                prepare_persistent(env, &dir).await?;
                (None, dir)
            }
        };
        let prepared = started.elapsed();

        let watchdog = watchdog::Watchdog::spawn(
            env,
            &data_dir,
            temp.as_ref().map(tempfile::TempDir::path),
            if temp.is_some() { "immediate" } else { "fast" },
        );
        let mut server = PgServer {
            env,
            data_dir,
            port: 0,
            fast_unsafe: opts.fast_unsafe,
            running: AtomicBool::new(false),
            lifecycle: tokio::sync::Mutex::new(()),
            reserved_port: None,
            temp,
            watchdog,
        };
        // An auto-picked port can be taken by another process between our
        // probe and the server's bind; then try another one.
        const ATTEMPTS: usize = 5;
        for attempt in 1..=ATTEMPTS {
            server.port = match opts.port {
                Some(p) => p,
                None => {
                    release_port(server.reserved_port.take());
                    let p = reserve_free_port()?;
                    server.reserved_port = Some(p);
                    p
                }
            };
            match server.launch().await {
                Ok(()) => break,
                Err(PgError::PortInUse { port }) if opts.port.is_none() && attempt < ATTEMPTS => {
                    tracing::debug!(port, "port taken meanwhile; picking another");
                }
                Err(e) => return Err(e),
            }
        }
        tracing::info!(
            port = server.port,
            data_dir = %server.data_dir.display(),
            prepare = ?prepared,
            total = ?started.elapsed(),
            "PostgreSQL {} started", env.version
        );
        Ok(server)
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`
    pub fn url(&self) -> String {
        self.url_for("postgres")
    }

    /// The URL of database `db` on this server (which may not exist yet).
    pub fn url_for(&self, db: &str) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{}/{}",
            self.port,
            percent_encode(db)
        )
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// The server's log file (appended to across starts).
    pub fn log_file(&self) -> PathBuf {
        self.data_dir.join(LOG_FILE)
    }

    /// PostgreSQL's bin directory in use (psql, pg_dump, ... of the same version).
    pub fn bin_dir(&self) -> &Path {
        &self.env.bin_dir
    }

    /// Creates database `name` with `createdb` and returns its URL.
    pub async fn create_database(&self, name: &str) -> Result<String, PgError> {
        let mut cmd = self.env.client_cmd("createdb")?;
        cmd.args(["-h", "127.0.0.1", "-U", "postgres", "-p"])
            .arg(self.port.to_string())
            .arg("--")
            .arg(name);
        env::run(cmd, &format!("createdb {name}")).await?;
        Ok(self.url_for(name))
    }

    /// Runs SQL with `psql` against database `db` and returns what it printed
    /// (unaligned, tuples only: `select 1` gives "1"). Stops at the first error.
    pub async fn psql(&self, db: &str, sql: &str) -> Result<String, PgError> {
        let mut cmd = self.env.client_cmd("psql")?;
        cmd.args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d"])
            .arg(self.url_for(db))
            .arg("-c")
            .arg(sql);
        let out = env::run(cmd, "psql").await?;
        Ok(String::from_utf8_lossy(&out.stdout).trim_end().to_owned())
    }

    /// Stops the server (fast shutdown: open sessions are ended, data is
    /// flushed). It can be started again with [`PgServer::restart`]. Does
    /// nothing if it is not running.
    pub async fn stop(&self) -> Result<(), PgError> {
        let _guard = self.lifecycle.lock().await;
        self.stop_locked().await
    }

    /// Starts the server again on the same port and data, stopping it first
    /// if it runs. Fails with [`PgError::PortInUse`] if the port was taken
    /// meanwhile.
    pub async fn restart(&self) -> Result<(), PgError> {
        let _guard = self.lifecycle.lock().await;
        self.stop_locked().await?;
        if let Some((pid, port)) = datadir::live_postmaster(self.env, &self.data_dir).await {
            return Err(PgError::AlreadyRunning {
                data_dir: self.data_dir.clone(),
                pid,
                port,
            });
        }
        let started = Instant::now();
        self.launch().await?;
        tracing::info!(port = self.port, elapsed = ?started.elapsed(), "PostgreSQL restarted");
        Ok(())
    }

    async fn stop_locked(&self) -> Result<(), PgError> {
        if !self.running.load(Ordering::SeqCst) {
            return Ok(());
        }
        let started = Instant::now();
        let out = output(self.stop_cmd("fast", 30), "pg_ctl stop").await?;
        if !out.status.success() && self.postmaster_alive().await {
            return Err(env::failed(
                &format!("pg_ctl stop -D {}", self.data_dir.display()),
                &out,
            ));
        }
        self.running.store(false, Ordering::SeqCst);
        tracing::info!(port = self.port, elapsed = ?started.elapsed(), "PostgreSQL stopped");
        Ok(())
    }

    async fn postmaster_alive(&self) -> bool {
        datadir::live_postmaster(self.env, &self.data_dir)
            .await
            .is_some()
    }

    fn stop_cmd(&self, mode: &str, timeout_secs: u32) -> std::process::Command {
        let mut cmd = self.env.server_cmd(&self.env.pg_ctl);
        cmd.arg("stop")
            .arg("-D")
            .arg(&self.data_dir)
            .args(["-m", mode, "-w", "-t"])
            .arg(timeout_secs.to_string());
        cmd
    }

    /// Settings passed on the command line: they beat postgresql.conf and
    /// ALTER SYSTEM, so the server surely listens where we wait for it, and
    /// nothing is written into the data directory.
    fn server_options(&self) -> String {
        let mut opts = vec![
            format!("-p {}", self.port),
            "-c listen_addresses=127.0.0.1".to_owned(),
            // Empty: no unix socket (see the crate docs).
            "-c unix_socket_directories=".to_owned(),
            format!("-c max_connections={MAX_CONNECTIONS}"),
        ];
        if self.fast_unsafe {
            opts.extend(
                [
                    "fsync=off",
                    "synchronous_commit=off",
                    "full_page_writes=off",
                ]
                .map(|s| format!("-c {s}")),
            );
        }
        opts.join(" ")
    }

    /// Starts the server on `self.port` and waits until it accepts
    /// connections. The caller holds the lifecycle lock or owns `self`.
    async fn launch(&self) -> Result<(), PgError> {
        let log = self.log_file();
        // The log is appended to; quote only what this start wrote.
        let offset = std::fs::metadata(&log).map_or(0, |m| m.len());
        let deadline = Instant::now() + START_TIMEOUT;

        // pg_ctl detaches the server into its own session (so the Ctrl-C of
        // a test run does not hit it midway) and, with -w, exits once
        // postmaster.pid says "ready" or the server died. It checks only
        // every 100 ms, so we also look at postmaster.pid every 10 ms and go
        // on as soon as it is ready, leaving pg_ctl to finish on its own.
        let mut cmd = self.env.server_cmd(&self.env.pg_ctl);
        cmd.arg("start")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&log)
            .arg("-o")
            .arg(self.server_options())
            .args(["-w", "-t"])
            .arg(START_TIMEOUT.as_secs().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let program = PathBuf::from(cmd.get_program());
        let mut pg_ctl = tokio::process::Command::from(cmd)
            .spawn()
            .map_err(|source| PgError::Spawn { program, source })?;
        let outcome = loop {
            tokio::select! {
                status = pg_ctl.wait() => break match status {
                    Ok(s) if s.success() => Ok(()),
                    Ok(s) => Err(format!("pg_ctl start exited with {s}")),
                    Err(e) => Err(format!("could not wait for pg_ctl: {e}")),
                },
                () = tokio::time::sleep(READY_POLL) => {
                    if datadir::pid_file_ready(&self.data_dir, self.port) {
                        break Ok(());
                    }
                    // pg_ctl's own -t should have ended it before this.
                    if Instant::now() > deadline + Duration::from_secs(10) {
                        break Err("pg_ctl start did not return".to_owned());
                    }
                }
            }
        };
        if let Err(reason) = outcome {
            let tail = datadir::log_tail(&log, offset, LOG_TAIL_LINES);
            // A server that did start (timeout) must not linger.
            if self.postmaster_alive().await {
                let _ = output(self.stop_cmd("immediate", 10), "pg_ctl stop").await;
            }
            if tail.contains("Address already in use") {
                return Err(PgError::PortInUse { port: self.port });
            }
            return Err(self.start_failed(reason, tail));
        }
        self.running.store(true, Ordering::SeqCst);

        // "ready" in postmaster.pid comes after the listen socket is open;
        // confirm with a real protocol exchange on the port we hand out.
        if let Err(reason) = self.wait_accepting(deadline).await {
            let tail = datadir::log_tail(&log, offset, LOG_TAIL_LINES);
            let _ = output(self.stop_cmd("immediate", 10), "pg_ctl stop").await;
            self.running.store(false, Ordering::SeqCst);
            return Err(self.start_failed(reason, tail));
        }
        Ok(())
    }

    async fn wait_accepting(&self, deadline: Instant) -> Result<(), String> {
        loop {
            let mut cmd = self
                .env
                .client_cmd("pg_isready")
                .map_err(|e| e.to_string())?;
            cmd.args([
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-t",
                "2",
                "-p",
            ])
            .arg(self.port.to_string());
            let said = match output(cmd, "pg_isready").await {
                Ok(o) if o.status.success() => return Ok(()),
                Ok(o) => String::from_utf8_lossy(&o.stdout).trim().to_owned(),
                Err(e) => return Err(e.to_string()),
            };
            if Instant::now() >= deadline {
                return Err(format!(
                    "not accepting connections after {} s (pg_isready: {said})",
                    START_TIMEOUT.as_secs()
                ));
            }
            tokio::time::sleep(READY_POLL).await;
        }
    }

    fn start_failed(&self, reason: String, log_tail: String) -> PgError {
        PgError::StartFailed {
            port: self.port,
            data_dir: self.data_dir.clone(),
            log: self.log_file(),
            reason,
            log_tail,
        }
    }
}

impl Drop for PgServer {
    /// Stops the server synchronously (drop cannot await), bounded in time.
    /// A temporary server gets an immediate shutdown (its data is deleted
    /// next); a persistent one a clean, fast one first.
    fn drop(&mut self) {
        if *self.running.get_mut() {
            let started = Instant::now();
            if self.stop_on_drop() {
                tracing::debug!(port = self.port, elapsed = ?started.elapsed(), "PostgreSQL stopped on drop");
            } else {
                tracing::warn!(
                    port = self.port,
                    data_dir = %self.data_dir.display(),
                    "could not stop PostgreSQL; it may still be running"
                );
            }
        }
        release_port(self.reserved_port.take());
        if let Some(w) = &mut self.watchdog {
            w.disarm();
        }
        // Then `temp` deletes the data.
    }
}

impl PgServer {
    fn stop_on_drop(&self) -> bool {
        let quiet = |mut cmd: std::process::Command| {
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        };
        if self.temp.is_none() && quiet(self.stop_cmd("fast", 10)) {
            return true;
        }
        let Some((pid, _)) = datadir::read_pid_file(&self.data_dir) else {
            return true;
        };
        match datadir::proc_is_postmaster(&self.data_dir, pid) {
            Some(false) => return true,
            Some(true) => {}
            // No /proc to watch the process: let pg_ctl do it (100 ms steps).
            None => return quiet(self.stop_cmd("immediate", 10)),
        }
        // SIGQUIT is PostgreSQL's immediate shutdown. Sent directly rather
        // than through pg_ctl, whose 100 ms polling would dominate the drop
        // of a test's server. Root may signal the postgres user's process.
        let signal = |sig: &str| {
            let mut cmd = std::process::Command::new("kill");
            cmd.args(["-s", sig, &pid.to_string()]);
            quiet(cmd)
        };
        let gone = || {
            !self.data_dir.join("postmaster.pid").exists()
                || datadir::proc_is_postmaster(&self.data_dir, pid) == Some(false)
        };
        if !signal("QUIT") {
            return quiet(self.stop_cmd("immediate", 10));
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if gone() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // Hung: kill it; its backends exit when they notice the postmaster died.
        signal("KILL");
        std::thread::sleep(Duration::from_millis(50));
        gone()
    }
}

/// Makes the temp root and copies the cached template into `<root>/data`
/// (falling back to a plain initdb if the template cannot be had).
async fn prepare_temp(env: &'static Env) -> Result<(tempfile::TempDir, PathBuf), PgError> {
    let tmp = temp_base();
    let root = tempfile::Builder::new()
        .prefix("idsync-pg-")
        .tempdir_in(&tmp)
        .map_err(|e| PgError::io("create a temp directory in", &tmp, e))?;
    let data = root.path().join("data");
    if env.run_as.is_some() {
        // tempfile makes it 0700 root; postgres must be able to enter it.
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(|e| PgError::io("set permissions of", root.path(), e))?;
        datadir::check_traversable(env, &data)?;
    }
    match template::template(env).await {
        Ok(t) => template::copy_to(t, &data).await?,
        Err(e) => {
            tracing::warn!(error = %e, "no PostgreSQL template; running initdb for this server");
            datadir::initdb(env, &data, false).await?;
        }
    }
    Ok((root, data))
}

/// Names the directory in which temporary servers' data directories are made.
pub const TMPDIR_ENV: &str = "IDSYNC_PG_TMPDIR";

/// Where temporary servers live: `$IDSYNC_PG_TMPDIR` if set; else /dev/shm
/// when it is a tmpfs with at least 1 GiB free, because a data directory is
/// ~1000 files and creating them on a disk costs ~1 s on some VMs against
/// ~0.1 s in memory (Docker's default 64 MB /dev/shm fails the check); else
/// the system temp directory.
fn temp_base() -> PathBuf {
    static BASE: OnceLock<PathBuf> = OnceLock::new();
    BASE.get_or_init(|| {
        if let Some(dir) = std::env::var_os(TMPDIR_ENV).filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        let shm = Path::new("/dev/shm");
        if shm_usable(shm) {
            return shm.to_path_buf();
        }
        std::env::temp_dir()
    })
    .clone()
}

fn shm_usable(shm: &Path) -> bool {
    const MIN_FREE_KIB: u64 = 1024 * 1024;
    let is_tmpfs = std::fs::read_to_string("/proc/mounts").is_ok_and(|m| {
        m.lines().any(|l| {
            let mut f = l.split_whitespace();
            f.nth(1) == Some("/dev/shm") && f.next() == Some("tmpfs")
        })
    });
    if !is_tmpfs {
        return false;
    }
    // std has no statvfs (and this crate no libc): ask df, once per process.
    // "Filesystem 1024-blocks Used Available Capacity Mounted-on"
    let free_kib = std::process::Command::new("df")
        .arg("-Pk")
        .arg(shm)
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| {
            let text = String::from_utf8_lossy(&o.stdout).into_owned();
            text.lines()
                .nth(1)?
                .split_whitespace()
                .nth(3)?
                .parse::<u64>()
                .ok()
        });
    let usable = free_kib.is_some_and(|k| k >= MIN_FREE_KIB);
    tracing::debug!(?free_kib, usable, "checked /dev/shm for temporary servers");
    usable
}

/// initdb's `dir` if it is missing or empty; checks an existing one.
async fn prepare_persistent(env: &Env, dir: &Path) -> Result<(), PgError> {
    let version_file = dir.join("PG_VERSION");
    match std::fs::read_to_string(&version_file) {
        Ok(v) => {
            let v = v.trim();
            if v != env.major {
                return Err(PgError::VersionMismatch {
                    path: dir.to_path_buf(),
                    data_version: v.to_owned(),
                    installed: env.version.clone(),
                });
            }
            datadir::ensure_owned(env, dir).await?;
            datadir::check_traversable(env, dir)
        }
        Err(_) => {
            let empty = match std::fs::read_dir(dir) {
                Ok(mut entries) => entries.next().is_none(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => true,
                Err(e) => return Err(PgError::io("read", dir, e)),
            };
            if !empty {
                return Err(PgError::NotADataDir {
                    path: dir.to_path_buf(),
                });
            }
            tracing::info!(data_dir = %dir.display(), "initialising a new PostgreSQL data directory");
            datadir::initdb(env, dir, true).await
        }
    }
}

/// Ports picked for live servers of this process. The OS may hand a port
/// out again once its probe socket is closed, e.g. while another test's
/// server is stopped for a restart on that port.
static RESERVED_PORTS: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

fn reserve_free_port() -> Result<u16, PgError> {
    let mut reserved = RESERVED_PORTS
        .lock()
        .unwrap_or_else(PoisonError::into_inner);
    let mut last_err = None;
    for _ in 0..50 {
        match TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()) {
            Ok(addr) if reserved.insert(addr.port()) => return Ok(addr.port()),
            Ok(_) => {}
            Err(e) => last_err = Some(e),
        }
    }
    Err(PgError::NoFreePort(last_err.unwrap_or_else(|| {
        std::io::Error::other("every port offered was already in use by this process")
    })))
}

fn release_port(port: Option<u16>) {
    if let Some(p) = port {
        RESERVED_PORTS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&p);
    }
}

/// Percent-encodes a database name for the path of a URL.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
