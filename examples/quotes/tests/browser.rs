//! The guide's flow in a real browser against a real OpenID Provider:
//! Postgres (idsync-pg), `oidc-provider` (Node.js, e2e/dev-provider.mjs),
//! the quotes app in-process, and Debian's Chromium driven by
//! playwright-core (e2e/flow.mjs). Installs what is missing first
//! (scripts/browser-test-deps.sh). The screenshot goes to
//! `test-artifacts/` at the workspace root.
//! A missing dependency fails the test; it is never skipped.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use idsync_core::SqlIdent;
use idsync_login::{AuthBuilder, ProviderConfig};
use idsync_pg::{PgOptions, PgServer};
use idsync_store::UsersTable;
use quotes::Application;
use quotes::config::{Database, Settings};
use reqwest::StatusCode;
use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use tokio::process::{Child, Command};

const CLIENT_ID: &str = "quotes-e2e";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn workspace_root() -> PathBuf {
    manifest_dir().join("../..").canonicalize().unwrap()
}

fn e2e_dir() -> PathBuf {
    manifest_dir().join("e2e")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Runs scripts/browser-test-deps.sh when Chromium, Node.js or the npm
/// packages are missing.
fn ensure_browser_deps() {
    let modules = e2e_dir().join("node_modules");
    let present = chromium().exists()
        && modules.join("oidc-provider").is_dir()
        && modules.join("playwright-core").is_dir()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if present {
        return;
    }
    let script = workspace_root().join("scripts/browser-test-deps.sh");
    eprintln!(
        "browser test: installing what is missing with {}",
        script.display()
    );
    let status = std::process::Command::new("bash")
        .arg(&script)
        .status()
        .expect("run scripts/browser-test-deps.sh");
    assert!(
        status.success(),
        "{} failed: the browser test needs Node.js 20+, Debian's chromium and the npm packages of {}",
        script.display(),
        e2e_dir().display()
    );
}

fn random_hex(bytes: usize) -> String {
    (0..bytes)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect()
}

/// The development OpenID Provider, its output in a log file.
struct Provider {
    issuer: String,
    log: PathBuf,
    _child: Child,
    _dir: tempfile::TempDir,
}

async fn start_provider(app_url: &str, client_secret: &str) -> Provider {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("provider.log");
    let out = std::fs::File::create(&log).unwrap();
    let child = Command::new("node")
        .arg(e2e_dir().join("dev-provider.mjs"))
        .args([
            "--port",
            "0",
            "--host",
            "127.0.0.1",
            "--issuer-host",
            "127.0.0.1",
        ])
        .args(["--app-url", app_url, "--client-id", CLIENT_ID])
        .args(["--client-secret", client_secret])
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .kill_on_drop(true)
        .spawn()
        .expect("start node (is Node.js installed?)");
    // Generous: a loaded CI machine can take a while to start Node and make an RSA key.
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(issuer) = text.lines().find_map(|l| l.strip_prefix("issuer=")) {
            return Provider {
                issuer: issuer.trim().to_owned(),
                log,
                _child: child,
                _dir: dir,
            };
        }
        assert!(
            Instant::now() < deadline,
            "the OpenID Provider did not start in 120 s:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn users_table() -> UsersTable {
    UsersTable::new(
        SqlIdent::parse("neon_identity").unwrap(),
        SqlIdent::parse("users_sync").unwrap(),
    )
}

/// The value of cookie `name` in a response's `Set-Cookie` headers.
fn set_cookie(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers().get_all(SET_COOKIE).iter().find_map(|h| {
        let pair = h.to_str().ok()?.split(';').next()?;
        let (n, v) = pair.split_once('=')?;
        (n == name).then(|| v.to_owned())
    })
}

async fn count(pg: &PgServer, db: &str, sql: &str) -> i64 {
    pg.psql(db, sql).await.unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guide_flow_in_chromium_against_oidc_provider() {
    let started = Instant::now();
    ensure_browser_deps();
    let deps = started.elapsed();

    let pg = PgServer::start(PgOptions::temporary()).await.unwrap();
    let db_url = pg.create_database("quotes").await.unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app_url = format!("http://{addr}");
    let client_secret = random_hex(24);
    let provider = start_provider(&app_url, &client_secret).await;

    let settings = Settings {
        listen: addr,
        database: Database::Url(db_url.clone()),
        users_table: users_table(),
        auth: AuthBuilder::new()
            .secret(random_hex(32))
            .base_url(&app_url)
            .provider(ProviderConfig::okta(
                &provider.issuer,
                CLIENT_ID,
                &client_secret,
            )),
    };
    let app = Application::build_with_listener(settings, listener)
        .await
        .unwrap();
    tokio::spawn(app.run_until(std::future::pending()));

    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // A save without a session is refused and writes nothing.
    let res = http
        .post(format!("{app_url}/quote"))
        .header(ORIGIN, &app_url)
        .form(&[("message", "no session")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        count(&pg, "quotes", "SELECT count(*) FROM user_messages").await,
        0
    );

    // A callback whose state is not the one of the sign-in in progress is
    // refused, before the code reaches the provider.
    let res = http
        .get(format!("{app_url}/api/auth/signin"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let authorize = res.headers()[LOCATION].to_str().unwrap().to_owned();
    assert!(authorize.starts_with(&provider.issuer), "{authorize}");
    let flow = set_cookie(&res, "idsync_flow").expect("a flow cookie");
    let res = http
        .get(format!(
            "{app_url}/api/auth/callback/okta?code=forged&state=not-the-state&iss={}",
            provider.issuer
        ))
        .header(COOKIE, format!("idsync_flow={flow}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(set_cookie(&res, "idsync_session").is_none());
    assert!(res.text().await.unwrap().contains("state_mismatch"));
    assert_eq!(
        count(
            &pg,
            "quotes",
            "SELECT count(*) FROM neon_identity.users_sync"
        )
        .await,
        0
    );

    // The browser.
    let artifacts = workspace_root().join("test-artifacts");
    let browser_started = Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(240),
        Command::new("node")
            .arg(e2e_dir().join("flow.mjs"))
            .env("APP_URL", &app_url)
            .env("DATABASE_URL", &db_url)
            .env("PSQL", pg.bin_dir().join("psql"))
            .env("ARTIFACTS", &artifacts)
            .env("CHROMIUM", chromium())
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser flow took more than 120 s")
    .expect("run node e2e/flow.mjs");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    println!("{}", String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        println!(
            "provider log:\n{}",
            std::fs::read_to_string(&provider.log).unwrap_or_default()
        );
    }
    assert!(out.status.success(), "e2e/flow.mjs failed: {}", out.status);
    assert!(Path::new(&artifacts.join("quotes-signed-in.png")).exists());

    // What the flow left: the user (synced at sign-in, kept), no quote.
    assert_eq!(
        pg.psql(
            "quotes",
            "SELECT email FROM neon_identity.users_sync WHERE id = 'ada' AND deleted_at IS NULL"
        )
        .await
        .unwrap(),
        "ada@example.com"
    );
    assert_eq!(
        count(&pg, "quotes", "SELECT count(*) FROM user_messages").await,
        0
    );
    println!(
        "timings: deps {deps:?}, browser flow {:?}, total {:?}",
        browser_started.elapsed(),
        started.elapsed()
    );
}
