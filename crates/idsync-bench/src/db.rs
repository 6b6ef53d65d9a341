//! The PostgreSQL server under test.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use idsync_emulator::Emulator;
use idsync_pg::{PgOptions, PgServer};
use idsync_store::{PgPool, UsersTable};
use sqlx::Connection as _;
use tempfile::TempDir;

use crate::proxy::DelayProxy;
use crate::report::note;

/// Connections in idsync's pool, as `idsync serve` opens it
/// (crates/idsync/src/runtime.rs).
const POOL_SIZE: u32 = 20;

pub struct Db {
    pub pool: PgPool,
    server: PgServer,
    /// The database's URL, direct.
    url: String,
    /// Where the processes under test run and leave their logs.
    work_dir: PathBuf,
    data_dir: PathBuf,
    /// Declared after `server` so that it is deleted after the server
    /// stopped (fields drop in order).
    _root: TempDir,
}

impl Db {
    /// Starts a private server whose data lives in a fresh directory under
    /// `parent` (default: the system temp directory).
    ///
    /// Not `PgOptions::temporary()`'s own temp directory: that lands on
    /// /dev/shm when it is a tmpfs, where fsync is free and "durable" would
    /// measure nothing. A data directory we give is initdb'd (with sync) and
    /// left to us to delete, which `_root` does.
    pub async fn start(unsafe_fast: bool, parent: Option<&Path>) -> Result<Self> {
        let parent = parent.map_or_else(std::env::temp_dir, Path::to_path_buf);
        let root = tempfile::Builder::new()
            .prefix("idsync-bench-")
            .tempdir_in(&parent)
            .with_context(|| format!("cannot create a directory in {}", parent.display()))?;
        // As root the server runs as `postgres`, which must be able to
        // enter the directory (tempfile makes it 0700).
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755))?;
        let data_dir = root.path().join("data");
        note(format_args!(
            "starting PostgreSQL in {} ...",
            data_dir.display()
        ));
        let server = PgServer::start(PgOptions {
            data_dir: Some(data_dir.clone()),
            port: None,
            fast_unsafe: unsafe_fast,
        })
        .await
        .context("cannot start PostgreSQL")?;
        let url = server.create_database("idsync_bench").await?;
        let pool = idsync_store::connect(&url, POOL_SIZE).await?;
        let work_dir = root.path().join("work");
        std::fs::create_dir(&work_dir)?;
        Ok(Self {
            pool,
            server,
            url,
            work_dir,
            data_dir,
            _root: root,
        })
    }

    /// One line saying what was measured against.
    pub async fn describe(&self) -> Result<String> {
        let (version, fsync, sync_commit, fpw): (String, String, String, String) = sqlx::query_as(
            "SELECT current_setting('server_version'), current_setting('fsync'),
                    current_setting('synchronous_commit'), current_setting('full_page_writes')",
        )
        .fetch_one(&self.pool)
        .await?;
        let mode = if fsync == "on" && sync_commit == "on" {
            "durable"
        } else {
            "UNSAFE fast"
        };
        let cpus = std::thread::available_parallelism().map_or(0, usize::from);
        Ok(format!(
            "PostgreSQL {version}, {mode} (fsync={fsync}, synchronous_commit={sync_commit}, \
             full_page_writes={fpw}), data on {} ({}), {cpus} CPUs, pool {POOL_SIZE}",
            filesystem_of(&self.data_dir),
            self.data_dir.display(),
        ))
    }

    /// The database as seen from `round_trip` away: through a delaying
    /// proxy, or directly for zero. Measures the round trip it gives.
    pub async fn at_distance(&self, round_trip: Duration) -> Result<Place<'_>> {
        let url = if round_trip.is_zero() {
            self.url.clone()
        } else {
            let upstream = SocketAddr::from(([127, 0, 0, 1], self.server.port()));
            let proxy = DelayProxy::start(upstream, round_trip)?;
            self.url
                .replace(&upstream.to_string(), &proxy.addr.to_string())
        };
        let place = Place {
            pool: &self.pool,
            rtt: round_trip,
            url,
            dir: self.work_dir.clone(),
            pg_data: self.data_dir.clone(),
        };
        let measured = place.measure_round_trip().await?;
        note(format_args!(
            "database at {} ms round trip (measured: median {:.2} ms per SELECT 1)",
            round_trip.as_secs_f64() * 1000.0,
            measured.as_secs_f64() * 1000.0
        ));
        Ok(place)
    }

    pub async fn stop(self) {
        self.pool.close().await;
        if let Err(e) = self.server.stop().await {
            eprintln!("warning: could not stop PostgreSQL cleanly: {e}");
        }
    }
}

/// The database, from where the processes under test stand.
pub struct Place<'a> {
    /// The bench's own connections (checks, resets): always direct.
    pub pool: &'a PgPool,
    pub rtt: Duration,
    /// The URL the processes under test connect to.
    pub url: String,
    /// Their working directory.
    pub dir: PathBuf,
    /// The server's data directory, to find its processes.
    pub pg_data: PathBuf,
}

impl Place<'_> {
    /// The median time of a `SELECT 1` over one connection to [`Place::url`].
    async fn measure_round_trip(&self) -> Result<Duration> {
        let mut conn = sqlx::PgConnection::connect(&self.url).await?;
        let mut times = Vec::new();
        for _ in 0..21 {
            let started = Instant::now();
            sqlx::query("SELECT 1").execute(&mut conn).await?;
            times.push(started.elapsed());
        }
        times.sort_unstable();
        Ok(times[times.len() / 2])
    }
}

/// The type of the filesystem holding `path` (longest matching mount point
/// in /proc/mounts), or "?".
fn filesystem_of(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let Ok(mounts) = std::fs::read_to_string("/proc/mounts") else {
        return "?".to_owned();
    };
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let point = fields.nth(1)?;
            let fstype = fields.next()?;
            path.starts_with(point).then_some((point.len(), fstype))
        })
        .max_by_key(|(len, _)| *len)
        .map_or_else(|| "?".to_owned(), |(_, fstype)| fstype.to_owned())
}

/// Checks that the table's active rows are exactly the emulator's users
/// (same ids, not just the same count); returns how many there are.
pub async fn verify(pool: &PgPool, table: &UsersTable, emulator: &Emulator) -> Result<usize> {
    let active: HashSet<String> = sqlx::query_scalar(&format!(
        "SELECT id FROM {} WHERE deleted_at IS NULL",
        table.qualified()
    ))
    .fetch_all(pool)
    .await?
    .into_iter()
    .collect();
    let expected: HashSet<String> = emulator.user_ids().into_iter().collect();
    if active != expected {
        bail!(
            "{table} does not match the emulator: {} active rows, {} users, {} missing, {} extra",
            active.len(),
            expected.len(),
            expected.difference(&active).count(),
            active.difference(&expected).count(),
        );
    }
    Ok(active.len())
}
