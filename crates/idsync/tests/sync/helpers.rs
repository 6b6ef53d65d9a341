//! Test harness: a throwaway Postgres, provider emulators, and the real
//! `idsync` binary configured against them.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use idsync_emulator::{
    Emulator, EmulatorConfig, ProviderKind, WebhookEvent, WebhookSender, WebhookTarget,
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
    let mut config = EmulatorConfig::new(kind);
    config.seed_users = users;
    config.rng_seed = 7;
    Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("start emulator")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `[[connections]]` entry pointing at an emulator.
pub struct Conn<'a> {
    pub name: &'a str,
    pub emulator: &'a Emulator,
    pub schema: &'a str,
    pub table: &'a str,
    pub reconcile_interval: &'a str,
}

impl<'a> Conn<'a> {
    pub fn new(name: &'a str, emulator: &'a Emulator) -> Self {
        Self {
            name,
            emulator,
            schema: "neon_identity",
            table: "users_sync",
            reconcile_interval: "0",
        }
    }

    fn toml(&self) -> String {
        let c = self.emulator.config();
        let creds = match c.kind {
            ProviderKind::StackAuth => format!(
                "provider = \"stack_auth\"\nproject_id = \"{}\"\nsecret_server_key = \"{}\"\n",
                c.project_id, c.api_key
            ),
            ProviderKind::Clerk => {
                format!("provider = \"clerk\"\nsecret_key = \"{}\"\n", c.api_key)
            }
        };
        format!(
            "[[connections]]\nname = \"{}\"\n{creds}schema = \"{}\"\ntable = \"{}\"\nwebhook_secret = \"{}\"\nreconcile_interval = \"{}\"\napi_url = \"{}\"\n\n",
            self.name,
            self.schema,
            self.table,
            c.webhook_secret,
            self.reconcile_interval,
            self.emulator.base_url()
        )
    }
}

/// A directory holding an `idsync.toml`.
pub struct ConfigDir {
    pub dir: TempDir,
    pub listen: SocketAddr,
}

impl ConfigDir {
    pub fn path(&self) -> PathBuf {
        self.dir.path().join("idsync.toml")
    }
}

pub fn config(db_url: &str, conns: &[Conn<'_>]) -> ConfigDir {
    let dir = tempfile::tempdir().unwrap();
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut text = format!(
        "database_url = \"{db_url}\"\nlisten = \"{listen}\"\nadmin_token = \"{ADMIN_TOKEN}\"\n\n"
    );
    for c in conns {
        text.push_str(&c.toml());
    }
    std::fs::write(dir.path().join("idsync.toml"), text).unwrap();
    ConfigDir { dir, listen }
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
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("run idsync")
}

/// A running `idsync serve`, killed on drop.
pub struct Server {
    _child: tokio::process::Child,
    pub base: String,
}

impl Server {
    pub fn webhook_url(&self, connection: &str) -> String {
        format!("{}/webhooks/{connection}", self.base)
    }
}

pub async fn serve(cfg: &ConfigDir) -> Server {
    serve_at(&cfg.path(), cfg.listen).await
}

pub async fn serve_at(config: &Path, listen: SocketAddr) -> Server {
    let child = tokio::process::Command::new(bin())
        .arg("--config")
        .arg(config)
        .arg("serve")
        .env("IDSYNC_LISTEN", listen.to_string())
        .env_remove("DATABASE_URL")
        .env(
            "RUST_LOG",
            std::env::var("TEST_LOG").unwrap_or_else(|_| "error".into()),
        )
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn idsync serve");
    let base = format!("http://{listen}");
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if let Ok(r) = client.get(format!("{base}/readyz")).send().await
            && r.status().is_success()
        {
            return Server {
                _child: child,
                base,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("idsync serve did not become ready at {base}");
}

pub fn sender(server: &Server, connection: &str, emulator: &Emulator) -> WebhookSender {
    WebhookSender::new(WebhookTarget {
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
