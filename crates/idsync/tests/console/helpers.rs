//! Harness of the console tests: a throwaway Postgres, provider emulators,
//! the real `idsync serve` with a known admin token, and a small HTTP
//! client that keeps the session cookie by hand.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use idsync_emulator::{Emulator, EmulatorConfig, ProviderKind, WebhookTarget};
use idsync_pg::{PgOptions, PgServer};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{RequestBuilder, Response, StatusCode};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tempfile::TempDir;

pub const TOKEN: &str = "console-test-admin-token-0123456789";

pub struct TestDb {
    pub _server: PgServer,
    pub pool: PgPool,
    pub url: String,
}

pub async fn postgres() -> TestDb {
    let server = PgServer::start(PgOptions::temporary())
        .await
        .expect("start postgres");
    let url = server.url();
    let pool = PgPoolOptions::new()
        .max_connections(3)
        .connect(&url)
        .await
        .expect("connect to test postgres");
    TestDb {
        _server: server,
        pool,
        url,
    }
}

pub async fn emulator(kind: ProviderKind, users: usize) -> Emulator {
    let mut config = EmulatorConfig::new(kind);
    config.seed_users = users;
    config.rng_seed = 11;
    Emulator::start(config, "127.0.0.1:0".parse().unwrap())
        .await
        .expect("start emulator")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// One `[[connections]]` entry of idsync.toml pointing at an emulator
/// (which may already be shut down: its URL and credentials stay valid).
pub struct Conn {
    pub name: &'static str,
    pub kind: ProviderKind,
    pub config: EmulatorConfig,
    pub api_url: String,
}

impl Conn {
    pub fn new(name: &'static str, emulator: &Emulator) -> Self {
        Self {
            name,
            kind: emulator.config().kind,
            config: emulator.config().clone(),
            api_url: emulator.base_url(),
        }
    }

    fn toml(&self) -> String {
        let c = &self.config;
        let creds = match self.kind {
            ProviderKind::StackAuth => format!(
                "provider = \"stack_auth\"\nproject_id = \"{}\"\nsecret_server_key = \"{}\"\n",
                c.project_id, c.api_key
            ),
            ProviderKind::Clerk => {
                format!("provider = \"clerk\"\nsecret_key = \"{}\"\n", c.api_key)
            }
        };
        format!(
            "[[connections]]\nname = \"{}\"\n{creds}schema = \"{}\"\ntable = \"users_sync\"\nwebhook_secret = \"{}\"\nreconcile_interval = \"0\"\napi_url = \"{}\"\n\n",
            self.name, self.name, c.webhook_secret, self.api_url
        )
    }
}

/// A running `idsync serve` (killed on drop) and its config directory.
pub struct Server {
    _child: tokio::process::Child,
    _dir: TempDir,
    pub base: String,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Has `emulator` deliver every change it makes from now on to
    /// `connection`'s webhook, signed with its secret.
    pub fn auto_deliver(&self, emulator: &Emulator, connection: &str) {
        emulator
            .auto_deliver(Some(WebhookTarget {
                url: self.url(&format!("/webhooks/{connection}")),
                secret: emulator.config().webhook_secret.clone(),
            }))
            .unwrap();
    }
}

/// Writes idsync.toml for `conns` and starts `idsync serve` with the admin
/// token in `IDSYNC_ADMIN_TOKEN`; returns once it is ready.
pub async fn serve(db_url: &str, conns: &[Conn]) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut text = format!("database_url = \"{db_url}\"\nlisten = \"{listen}\"\n\n");
    for c in conns {
        text.push_str(&c.toml());
    }
    let config = dir.path().join("idsync.toml");
    std::fs::write(&config, text).unwrap();
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_idsync"))
        .arg("--config")
        .arg(&config)
        .arg("serve")
        .env_remove("DATABASE_URL")
        .env("IDSYNC_ADMIN_TOKEN", TOKEN)
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
                _dir: dir,
                base,
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("idsync serve did not become ready at {base}");
}

/// Polls `check` every 100 ms until it returns true; panics after `secs`.
pub async fn wait_until<F, Fut>(secs: u64, what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !check().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until the admin API reports the connection with this health.
pub async fn wait_for_health(server: &Server, connection: &str, health: &str) {
    let client = reqwest::Client::new();
    let url = server.url(&format!("/api/v1/connections/{connection}"));
    wait_until(40, &format!("{connection} to be {health}"), || async {
        let Ok(r) = client.get(&url).bearer_auth(TOKEN).send().await else {
            return false;
        };
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        body["health"] == health
    })
    .await;
}

/// A browser stand-in: no redirects followed, the session cookie kept by
/// hand from `Set-Cookie`.
pub struct Client {
    http: reqwest::Client,
    base: String,
    pub cookie: Option<String>,
}

impl Client {
    pub fn new(server: &Server) -> Self {
        Self {
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: server.base.clone(),
            cookie: None,
        }
    }

    fn with_cookie(&self, req: RequestBuilder) -> RequestBuilder {
        match &self.cookie {
            Some(c) => req.header(COOKIE, c),
            None => req,
        }
    }

    pub async fn get(&self, path: &str) -> Response {
        self.with_cookie(self.http.get(format!("{}{path}", self.base)))
            .send()
            .await
            .unwrap()
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.with_cookie(self.http.post(format!("{}{path}", self.base)))
            .form(form)
            .send()
            .await
            .unwrap()
    }

    /// Logs in through the form and keeps the session cookie.
    pub async fn login(&mut self) {
        let res = self.post("/login", &[("token", TOKEN)]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        assert_eq!(location(&res), "/");
        self.cookie = Some(session_cookie(&res).expect("session cookie set"));
    }

    /// GETs a page (200 expected) and returns its HTML.
    pub async fn page(&self, path: &str) -> String {
        let res = self.get(path).await;
        assert_eq!(res.status(), StatusCode::OK, "GET {path}");
        res.text().await.unwrap()
    }

    /// The CSRF token of the session, read from a page's forms.
    pub async fn csrf(&self) -> String {
        csrf_in(&self.page("/").await)
    }
}

pub fn location(res: &Response) -> String {
    res.headers()
        .get(LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

/// `idsync_session=...` from a response's `Set-Cookie`, if it set one.
pub fn session_cookie(res: &Response) -> Option<String> {
    set_cookie_line(res).map(|line| line.split(';').next().unwrap_or_default().to_owned())
}

/// The whole `Set-Cookie` line of the session cookie, attributes included.
pub fn set_cookie_line(res: &Response) -> Option<String> {
    res.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("idsync_session="))
        .map(str::to_owned)
}

/// The value of the first hidden `csrf` input in `html`.
pub fn csrf_in(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .expect("a form with a csrf field");
    let rest = &html[at + "name=\"csrf\" value=\"".len()..];
    rest[..rest.find('"').unwrap()].to_owned()
}
