//! Harness of the `sync` and `console` test targets: a throwaway Postgres,
//! provider emulators, and the real `idsync` binary configured against
//! them. Each target uses a part of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use idsync_emulator::{
    Emulator, EmulatorConfig, ProviderKind, RateLimit, WebhookEvent, WebhookSender, WebhookTarget,
};
use idsync_pg::{PgOptions, PgServer};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tempfile::TempDir;

/// The admin token every test configuration uses.
pub const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

pub struct TestDb {
    pub server: PgServer,
    pub pool: PgPool,
    pub url: String,
}

pub async fn postgres() -> TestDb {
    let server = PgServer::start(PgOptions::temporary())
        .await
        .expect("start postgres");
    let url = server.url();
    let pool = PgPoolOptions::new()
        .max_connections(5)
        .connect(&url)
        .await
        .expect("connect to test postgres");
    TestDb { server, pool, url }
}

pub async fn emulator(kind: ProviderKind, users: usize) -> Emulator {
    start_emulator(kind, users, None).await
}

/// An emulator admitting one request a second and answering `429` with
/// `Retry-After` beyond that: listing takes about a second a page.
pub async fn slow_emulator(kind: ProviderKind, users: usize) -> Emulator {
    let limit = RateLimit {
        requests: 1,
        per: Duration::from_secs(1),
    };
    start_emulator(kind, users, Some(limit)).await
}

async fn start_emulator(kind: ProviderKind, users: usize, limit: Option<RateLimit>) -> Emulator {
    let mut config = EmulatorConfig::new(kind);
    config.seed_users = users;
    config.rng_seed = 7;
    config.rate_limit = limit;
    Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("start emulator")
}

/// A port nothing listens on right now, for a URL that must not answer
/// (or for a program that cannot be told to pick its own).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `[[connections]]` entry pointing at an emulator (which may already
/// be shut down: its URL and credentials stay valid).
pub struct Conn {
    pub name: &'static str,
    pub kind: ProviderKind,
    /// The provider's keys, as the emulator gives them.
    pub keys: Vec<(&'static str, String)>,
    pub schema: &'static str,
    pub table: &'static str,
}

impl Conn {
    pub fn new(name: &'static str, emulator: &Emulator) -> Self {
        Self {
            name,
            kind: emulator.config().kind,
            keys: emulator.connection_keys(),
            schema: "neon_identity",
            table: "users_sync",
        }
    }

    /// The table in a schema named after the connection.
    pub fn own_schema(self) -> Self {
        Self {
            schema: self.name,
            ..self
        }
    }

    fn toml(&self) -> String {
        let mut text = format!(
            "[[connections]]\nname = \"{}\"\nprovider = \"{}\"\nschema = \"{}\"\ntable = \"{}\"\nreconcile_interval = \"0\"\n",
            self.name, self.kind, self.schema, self.table
        );
        // URLs and generated credentials: nothing to escape.
        for (key, value) in &self.keys {
            text.push_str(&format!("{key} = \"{value}\"\n"));
        }
        text.push('\n');
        text
    }
}

/// A directory holding an `idsync.toml`.
pub struct ConfigDir {
    pub dir: TempDir,
}

impl ConfigDir {
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("idsync.toml")
    }
}

/// `idsync.toml` with the admin token and `conns`.
pub fn config(db_url: &str, conns: &[Conn]) -> ConfigDir {
    let mut text = format!("admin_token = \"{ADMIN_TOKEN}\"\n\n");
    for c in conns {
        text.push_str(&c.toml());
    }
    config_file(db_url, &text)
}

/// `idsync.toml` with the database, listening on a port the system picks
/// (`serve` reports it), then `rest`.
pub fn config_file(db_url: &str, rest: &str) -> ConfigDir {
    let dir = tempfile::tempdir().unwrap();
    let text = format!("database_url = \"{db_url}\"\nlisten = \"127.0.0.1:0\"\n{rest}");
    std::fs::write(dir.path().join("idsync.toml"), text).unwrap();
    ConfigDir { dir }
}

pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_idsync")
}

/// Runs an `idsync` command to completion.
pub async fn cli(config: &Path, args: &[&str]) -> std::process::Output {
    tokio::process::Command::new(bin())
        .arg("--config")
        .arg(config)
        .args(args)
        .env_remove("DATABASE_URL")
        .env_remove("IDSYNC_ADMIN_TOKEN")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run idsync")
}

/// A running `idsync serve`, killed on drop.
pub struct Server {
    _child: tokio::process::Child,
    /// The configuration's directory, when the server owns it.
    _dir: Option<TempDir>,
    pub base: String,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn webhook_url(&self, connection: &str) -> String {
        self.url(&format!("/webhooks/{connection}"))
    }

    /// Has `emulator` deliver every change it makes from now on to
    /// `connection`'s webhook, with its secret.
    pub fn auto_deliver(&self, emulator: &Emulator, connection: &str) {
        emulator
            .auto_deliver(Some(WebhookTarget {
                url: self.webhook_url(connection),
                secret: emulator.config().webhook_secret.clone(),
            }))
            .unwrap();
    }
}

/// Starts `idsync serve` on `cfg`; several may share one configuration,
/// each on a port of its own.
pub async fn serve(cfg: &ConfigDir) -> Server {
    serve_at(&cfg.path(), &[]).await
}

/// [`serve`] with `env` set, the server keeping the directory.
pub async fn serve_owning(cfg: ConfigDir, env: &[(&str, String)]) -> Server {
    let mut server = serve_at(&cfg.path(), env).await;
    server._dir = Some(cfg.dir);
    server
}

/// Starts `idsync serve` (no admin token from this process's environment,
/// `env` set), reads the address it reports, and returns once it is ready.
pub async fn serve_at(config: &Path, env: &[(&str, String)]) -> Server {
    let mut child = tokio::process::Command::new(bin())
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env_remove("DATABASE_URL")
        .env_remove("IDSYNC_ADMIN_TOKEN")
        .env(
            "RUST_LOG",
            std::env::var("TEST_LOG").unwrap_or_else(|_| "error".into()),
        )
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn idsync serve");
    let base = reported_address(&mut child).await;
    let client = reqwest::Client::new();
    wait_for(&format!("idsync serve to be ready at {base}"), async || {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("idsync serve exited before it was ready: {status}");
        }
        client
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
    })
    .await;
    Server {
        _child: child,
        _dir: None,
        base,
    }
}

/// The base URL from `serve`'s `listening on http://…` line. The rest of
/// its stdout is drained in the background so it never blocks on a full pipe.
async fn reported_address(child: &mut tokio::process::Child) -> String {
    use tokio::io::{AsyncBufReadExt, BufReader};
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let read = async {
        while let Some(line) = lines.next_line().await.expect("read serve's stdout") {
            if let Some(url) = line.strip_prefix("listening on ") {
                return url.to_owned();
            }
        }
        panic!("idsync serve exited without reporting its address");
    };
    let base = tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("idsync serve did not report its address within a minute");
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    base
}

/// A sender to `connection`'s webhook with the emulator's secret, delivering
/// the way its provider does.
pub fn sender(server: &Server, connection: &str, emulator: &Emulator) -> WebhookSender {
    emulator
        .sender(WebhookTarget {
            url: server.webhook_url(connection),
            secret: emulator.config().webhook_secret.clone(),
        })
        .unwrap()
}

/// Sends every event and asserts each was accepted.
pub async fn deliver_all(sender: &WebhookSender, events: &[WebhookEvent]) {
    for e in events {
        let status = sender.send(e).await.expect("send webhook");
        assert!(
            status.is_success(),
            "webhook {} answered {status}",
            e.msg_id
        );
    }
}

/// A row of the users table.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Row {
    pub id: String,
    pub name: Option<String>,
    pub email: Option<String>,
    pub raw_json: serde_json::Value,
    pub deleted: bool,
}

pub async fn rows(pool: &PgPool, table: &str) -> Vec<Row> {
    sqlx::query_as(&format!(
        "SELECT id, name, email, raw_json, deleted_at IS NOT NULL AS deleted FROM {table} ORDER BY id"
    ))
    .fetch_all(pool)
    .await
    .unwrap()
}

/// The whole table as text, to compare before and after.
pub async fn snapshot(pool: &PgPool, table: &str) -> String {
    sqlx::query_scalar(&format!(
        "SELECT coalesce(string_agg(t::text, E'\\n' ORDER BY id), '') FROM {table} t"
    ))
    .fetch_one(pool)
    .await
    .unwrap_or_default()
}

/// Asserts the table holds exactly the emulator's users as active rows
/// (raw JSON equal), and every other row is soft-deleted.
pub async fn assert_mirrors(pool: &PgPool, table: &str, emulator: &Emulator) {
    let users = emulator.users();
    let rows = rows(pool, table).await;
    let active: std::collections::BTreeMap<&str, &Row> = rows
        .iter()
        .filter(|r| !r.deleted)
        .map(|r| (r.id.as_str(), r))
        .collect();
    assert_eq!(active.len(), users.len(), "active rows vs provider users");
    for u in &users {
        let id = u["id"].as_str().unwrap();
        let row = active
            .get(id)
            .unwrap_or_else(|| panic!("user {id} missing or deleted"));
        assert_eq!(&row.raw_json, u, "raw_json of {id}");
    }
}

pub async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// Polls `check` until it holds; panics after a minute. Tests wait for what
/// they depend on instead of sleeping a fixed time, so a loaded machine only
/// makes them slower.
pub async fn wait_for(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Waits until the count `sql` returns reaches `at_least`.
pub async fn wait_for_count(pool: &PgPool, sql: &str, at_least: i64) {
    wait_for(&format!("{at_least} from {sql}"), async || {
        count(pool, sql).await >= at_least
    })
    .await;
}

/// Waits until `n` backfills have completed (`serve` runs the first one by
/// itself).
pub async fn backfilled(pool: &PgPool, n: i64) {
    wait_for_count(
        pool,
        "SELECT count(*) FROM idsync.sync_runs WHERE kind = 'backfill' AND status = 'completed'",
        n,
    )
    .await;
}
