//! Neon's Okta guide end to end, offline, in a real browser: Postgres, the
//! Okta emulator (users, event hooks, and its org authorization server as
//! the app's OpenID Connect issuer), `idsync serve` syncing the org with
//! the event hook registered by `idsync connect`, the app integration made
//! by `idsync create-app --group`, and the quotes example
//! (in-process) with `AUTH_OKTA_ISSUER` = the emulated org. Debian's
//! Chromium, driven by playwright-core (examples/quotes/e2e/okta-flow.mjs),
//! signs Ada in on the emulator's page and saves a quote.
//!
//! Ada's row in `neon_identity.users_sync` is written twice, and the
//! writer shows in `raw_json`: the quotes app's just-in-time sync stores
//! the ID token's claims (`sub`, `preferred_username`, `idp`), idsync
//! stores Okta's user object (`id`, `status`, `profile`). After the
//! sign-in the row holds the claims; after an admin edits Ada's profile,
//! the event hook's refresh puts back the user object, with the new name.
//!
//! Installs what is missing first (scripts/browser-test-deps.sh); a
//! missing dependency fails the test, it is never skipped. Screenshots go
//! to `test-artifacts/` at the workspace root.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "common/mod.rs"]
mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::*;
use idsync_core::SqlIdent;
use idsync_emulator::{Emulator, ProviderKind};
use idsync_login::{AuthBuilder, ProviderConfig};
use idsync_store::UsersTable;
use quotes::Application;
use quotes::config::{Database, Settings};
use serde_json::{Value, json};

const CONNECTION: &str = "okta";
const LOGIN: &str = "ada.lovelace@example.com";
const PASSWORD: &str = "Analytical-Engine-1843";

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn e2e_dir() -> PathBuf {
    workspace_root().join("examples/quotes/e2e")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Runs scripts/browser-test-deps.sh when Chromium, Node.js or the npm
/// packages are missing.
fn ensure_browser_deps() {
    let present = chromium().exists()
        && e2e_dir().join("node_modules/playwright-core").is_dir()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success());
    if present {
        return;
    }
    let script = workspace_root().join("scripts/browser-test-deps.sh");
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

/// Calls the emulated org's Users API as an admin with the API token.
async fn okta_api(emu: &Emulator, path: &str, body: Value) -> Value {
    let res = reqwest::Client::new()
        .post(format!("{}{path}", emu.base_url()))
        .header("authorization", format!("SSWS {}", emu.config().api_key))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.unwrap()
}

async fn text(db: &TestDb, sql: &str) -> Option<String> {
    sqlx::query_scalar::<_, Option<String>>(sql)
        .fetch_optional(&db.pool)
        .await
        .unwrap()
        .flatten()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quotes_signs_in_against_the_emulated_okta_org() {
    let started = Instant::now();
    ensure_browser_deps();
    let db = postgres().await;
    let emu = emulator(ProviderKind::Okta, 20).await;

    // Ada, made by an admin through the Users API, with her password.
    let ada = okta_api(
        &emu,
        "/api/v1/users?activate=true",
        json!({
            "profile": { "firstName": "Ada", "lastName": "Lovelace", "email": LOGIN, "login": LOGIN },
            "credentials": { "password": { "value": PASSWORD } },
        }),
    )
    .await;
    let ada_id = ada["id"].as_str().unwrap().to_owned();

    // idsync: backfills the org, then `idsync connect` registers, verifies
    // and activates the event hook, as `idsync dev --provider okta` does.
    let cfg = config(&db.url, &[Conn::new(CONNECTION, &emu)]);
    let server = serve(&cfg).await;
    let out = tokio::process::Command::new(bin())
        .arg("--config")
        .arg(cfg.path())
        .args(["connect", CONNECTION])
        .env_remove("DATABASE_URL")
        .env("IDSYNC_PUBLIC_URL", &server.base)
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("ACTIVE, VERIFIED"),
        "{said}"
    );
    // The org delivers its events to the hook that was registered, as
    // Okta does: nothing else is set up to deliver them.
    let hooks: Vec<Value> = reqwest::Client::new()
        .get(format!("{}/api/v1/eventHooks", emu.base_url()))
        .header("authorization", format!("SSWS {}", emu.config().api_key))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let hook_uri = hooks[0]["channel"]["config"]["uri"].as_str().unwrap();
    assert_eq!(hook_uri, server.webhook_url(CONNECTION));
    wait_for("the backfill to write Ada's user object", async || {
        text(
            &db,
            &format!(
                "SELECT raw_json->>'status' FROM neon_identity.users_sync WHERE id = '{ada_id}'"
            ),
        )
        .await
        .as_deref()
            == Some("ACTIVE")
    })
    .await;

    // The quotes app, signing in with the org as its issuer, through the
    // app integration `idsync create-app` makes, assigned to a group that
    // holds only Ada.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app_url = format!("http://{addr}");
    let group = okta_api(
        &emu,
        "/api/v1/groups",
        json!({ "profile": { "name": "Quotes users" } }),
    )
    .await;
    let added = reqwest::Client::new()
        .put(format!(
            "{}/api/v1/groups/{}/users/{ada_id}",
            emu.base_url(),
            group["id"].as_str().unwrap()
        ))
        .header("authorization", format!("SSWS {}", emu.config().api_key))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status(), reqwest::StatusCode::NO_CONTENT);
    let out = tokio::process::Command::new(bin())
        .arg("--config")
        .arg(cfg.path())
        .args(["create-app", CONNECTION, "--app-url", &app_url])
        .args(["--group", "Quotes users"])
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: std::collections::BTreeMap<String, String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(printed["AUTH_OKTA_ISSUER"], emu.base_url());
    let settings = Settings {
        listen: addr,
        database: Database::Url(db.url.clone()),
        users_table: UsersTable::new(
            SqlIdent::parse("neon_identity").unwrap(),
            SqlIdent::parse("users_sync").unwrap(),
        ),
        auth: AuthBuilder::new()
            .secret("a".repeat(64))
            .base_url(&app_url)
            .provider(ProviderConfig::okta(
                &printed["AUTH_OKTA_ISSUER"],
                &printed["AUTH_OKTA_ID"],
                &printed["AUTH_OKTA_SECRET"],
            )),
    };
    let app = Application::build_with_listener(settings, listener)
        .await
        .unwrap();
    tokio::spawn(app.run_until(std::future::pending()));

    // The browser: sign in at the emulated org, save a quote, sign out.
    let artifacts = workspace_root().join("test-artifacts");
    let browser_started = Instant::now();
    let out = tokio::time::timeout(
        Duration::from_secs(180),
        tokio::process::Command::new("node")
            .arg(e2e_dir().join("okta-flow.mjs"))
            .env("APP_URL", &app_url)
            .env("OKTA_URL", emu.base_url())
            .env("DATABASE_URL", &db.url)
            .env("PSQL", db.server.bin_dir().join("psql"))
            .env("ARTIFACTS", &artifacts)
            .env("CHROMIUM", chromium())
            .env("LOGIN", LOGIN)
            .env("PASSWORD", PASSWORD)
            .env("USER_ID", &ada_id)
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the browser flow took more than 180 s")
    .expect("run node e2e/okta-flow.mjs");
    println!("{}", String::from_utf8_lossy(&out.stdout));
    println!("{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success(),
        "e2e/okta-flow.mjs failed: {}",
        out.status
    );
    let browser = browser_started.elapsed();

    // The quote is Ada's, by her Okta user id.
    assert_eq!(
        text(&db, "SELECT user_id FROM user_messages")
            .await
            .as_deref(),
        Some(ada_id.as_str())
    );
    // The sign-in wrote the claims (checked by the flow); Okta's user
    // object is not back until something asks idsync to refresh Ada.
    assert_eq!(
        text(
            &db,
            &format!("SELECT raw_json->>'preferred_username' FROM neon_identity.users_sync WHERE id = '{ada_id}'"),
        )
        .await
        .as_deref(),
        Some(LOGIN)
    );

    // An admin edits Ada's profile; Okta's event hook tells idsync, whose
    // refresh fetches her and writes the user object again.
    let deliveries_before = count(
        &db.pool,
        "SELECT count(*) FROM idsync.deliveries WHERE connection = 'okta'",
    )
    .await;
    okta_api(
        &emu,
        &format!("/api/v1/users/{ada_id}"),
        json!({ "profile": { "firstName": "Augusta Ada" } }),
    )
    .await;
    wait_for("the event hook's refresh to rewrite Ada's row", async || {
        text(
            &db,
            &format!(
                "SELECT raw_json->'profile'->>'firstName' FROM neon_identity.users_sync WHERE id = '{ada_id}'"
            ),
        )
        .await
        .as_deref()
            == Some("Augusta Ada")
    })
    .await;
    assert!(
        count(
            &db.pool,
            "SELECT count(*) FROM idsync.deliveries WHERE connection = 'okta'"
        )
        .await
            > deliveries_before,
        "the refresh came from an event hook delivery"
    );
    let row = sqlx::query_as::<_, (Option<String>, Option<String>, Value)>(
        "SELECT name, email, raw_json FROM neon_identity.users_sync WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(&ada_id)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(row.0.as_deref(), Some("Augusta Ada Lovelace"));
    assert_eq!(row.1.as_deref(), Some(LOGIN));
    assert_eq!(
        row.2,
        emu.user(&ada_id).unwrap(),
        "the row is Okta's user object"
    );
    assert!(row.2.get("sub").is_none());
    // The quote still references her.
    assert_eq!(
        count(
            &db.pool,
            &format!("SELECT count(*) FROM user_messages WHERE user_id = '{ada_id}'")
        )
        .await,
        1
    );
    println!(
        "timings: browser flow {browser:?}, total {:?}",
        started.elapsed()
    );
}
