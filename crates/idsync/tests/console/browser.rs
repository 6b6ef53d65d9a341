//! The console in a real browser: `flow.mjs` (playwright-core driving
//! Debian's Chromium) against `idsync serve` with two connections, one
//! healthy and one failing. Needs `scripts/browser-test-deps.sh` to have
//! run (scripts/test.sh does).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use idsync_emulator::ProviderKind;

use crate::common::{ADMIN_TOKEN, Conn, emulator, postgres};
use crate::helpers::{serve, wait_for_health};

const CHROMIUM: &str = "/usr/bin/chromium";

fn workspace_root() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    root.canonicalize().unwrap_or(root)
}

#[tokio::test]
async fn operator_logs_in_finds_creates_and_deletes_a_user_in_chromium() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/console");
    assert!(
        Path::new(CHROMIUM).exists() && dir.join("node_modules/playwright-core").exists(),
        "Chromium or playwright-core is missing: run scripts/browser-test-deps.sh"
    );

    let db = postgres().await;
    let stack = emulator(ProviderKind::StackAuth, 300).await;
    // Clerk is configured but down: its first backfill fails.
    let clerk = emulator(ProviderKind::Clerk, 10).await;
    let clerk_conn = Conn::new("clerk", &clerk).own_schema();
    clerk.shutdown().await;
    let server = serve(
        &db.url,
        &[Conn::new("stack", &stack).own_schema(), clerk_conn],
    )
    .await;
    server.auto_deliver(&stack, "stack");
    wait_for_health(&server, "stack", "healthy").await;
    wait_for_health(&server, "clerk", "failing").await;

    let search_email = stack
        .users()
        .iter()
        .find_map(|u| u["primary_email"].as_str().map(str::to_owned))
        .expect("a seeded user with an email");
    let new_email = format!("console-{}@example.com", std::process::id());
    let artifacts = workspace_root().join("test-artifacts/console");
    // Screenshots of an earlier run would pass for this one's.
    let _ = std::fs::remove_dir_all(&artifacts);

    let run = tokio::process::Command::new("node")
        .arg(dir.join("flow.mjs"))
        .current_dir(workspace_root())
        .env("BASE_URL", &server.base)
        .env("ADMIN_TOKEN", ADMIN_TOKEN)
        .env("HEALTHY", "stack")
        .env("FAILING", "clerk")
        .env("SEARCH_EMAIL", &search_email)
        .env("NEW_EMAIL", &new_email)
        .env("ARTIFACTS", &artifacts)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(180), run)
        .await
        .expect("the browser flow timed out")
        .expect("run node");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "browser flow failed (screenshots in {}):\n{stdout}\n{stderr}",
        artifacts.display()
    );

    // What the browser saw is what the table holds: the user created in the
    // console came through the webhook and is now soft-deleted, and the
    // provider no longer has it.
    let (id, deleted): (String, bool) =
        sqlx::query_as("SELECT id, deleted_at IS NOT NULL FROM stack.users_sync WHERE email = $1")
            .bind(&new_email)
            .fetch_one(&db.pool)
            .await
            .expect("the created user's row");
    assert!(deleted, "{id} is not marked deleted");
    assert!(stdout.contains(&id), "{stdout}");
    assert!(
        stack.user(&id).is_none(),
        "{id} still exists at the provider"
    );
    let active: i64 =
        sqlx::query_scalar("SELECT count(*) FROM stack.users_sync WHERE deleted_at IS NULL")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(active, 300);
    for shot in ["02-overview", "07-user", "12-deleted-listed"] {
        assert!(artifacts.join(format!("{shot}.png")).exists(), "{shot}.png");
    }
}
