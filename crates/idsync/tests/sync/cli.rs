//! The commands a user runs: `status`, `dev`, `emulate`.

use std::process::Stdio;
use std::time::Duration;

use idsync_emulator::ProviderKind;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::*;

#[tokio::test]
async fn status_reports_users_jobs_webhooks_and_errors() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::StackAuth, 40).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let server = serve(&cfg).await;
    backfilled(&db.pool, 1).await;
    let id = emu.user_ids()[0].clone();
    emu.delete_user(&id);
    deliver_all(&sender(&server, "main", &emu), &emu.take_events()).await;
    let rejected = reqwest::Client::new()
        .post(server.webhook_url("main"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(rejected.status().as_u16(), 401);
    // The rejection is recorded asynchronously.
    wait_for_count(&db.pool, "SELECT count(*) FROM idsync.errors", 1).await;

    let out = cli(&cfg.path(), &["status"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("main → neon_identity.users_sync"), "{text}");
    assert!(
        text.contains("users:          39 active, 1 deleted"),
        "{text}"
    );
    assert!(text.contains("last backfill:  completed at"), "{text}");
    assert!(text.contains("40 listed, 40 added"), "{text}");
    assert!(text.contains("last reconcile: never"), "{text}");
    assert!(
        text.contains("[webhook] HTTP 401: signature rejected: missing svix-id header"),
        "{text}"
    );

    let out = cli(&cfg.path(), &["status", "--json"]).await;
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["active_users"], 39);
    assert_eq!(json[0]["deleted_users"], 1);
    assert_eq!(json[0]["last_backfill"]["status"], "completed");
    assert!(json[0]["last_webhook_at"].is_string());
    assert_eq!(json[0]["recent_errors"][0]["source"], "webhook");
}

/// Reads lines of `reader` until one contains `marker`; returns them all.
async fn read_until<R: tokio::io::AsyncRead + Unpin>(
    lines: &mut tokio::io::Lines<BufReader<R>>,
    marker: &str,
) -> String {
    let mut seen = String::new();
    let found = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push_str(&line);
            seen.push('\n');
            if line.contains(marker) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(found, Ok(true), "no {marker:?} in:\n{seen}");
    seen
}

#[tokio::test]
async fn dev_starts_everything_syncs_and_stops_on_ctrl_c() {
    let dir = tempfile::tempdir().unwrap();
    // The private Postgres runs as the `postgres` user when we are root.
    std::fs::set_permissions(
        dir.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();
    let pg_port = free_port();
    let mut child = tokio::process::Command::new(bin())
        .current_dir(dir.path())
        .args(["dev", "--users", "30", "--changes-every", "200ms"])
        .args([
            "--pg-port",
            &pg_port.to_string(),
            // The system picks the port; dev prints it.
            "--listen",
            "127.0.0.1:0",
        ])
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let banner = read_until(&mut lines, "Press Ctrl-C to stop.").await;
    assert!(banner.contains("Synced: 30 added"), "{banner}");
    let url = format!("postgres://postgres@127.0.0.1:{pg_port}/postgres");
    assert!(banner.contains(&format!("psql '{url}'")), "{banner}");
    read_until(&mut lines, "provider: ").await;
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    // Live changes arrive through webhooks.
    wait_for_count(&pool, "SELECT count(*) FROM idsync.deliveries WHERE outcome IN ('inserted', 'updated', 'deleted')", 1).await;
    pool.close().await;

    let pid = child.id().unwrap().to_string();
    assert!(
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "exit status after Ctrl-C: {status}");
    assert!(
        dir.path()
            .join(".idsync/stack_auth/pgdata/PG_VERSION")
            .exists(),
        "data kept under ./.idsync/stack_auth"
    );
    assert!(
        sqlx::PgPool::connect(&url).await.is_err(),
        "private Postgres stopped"
    );
}

#[tokio::test]
async fn emulate_serves_the_provider_api_it_prints() {
    let mut child = tokio::process::Command::new(bin())
        .args([
            "emulate",
            "clerk",
            "--users",
            "12",
            "--listen",
            "127.0.0.1:0",
        ])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let printed = read_until(&mut lines, "Press Ctrl-C to stop.").await;
    let key = printed
        .lines()
        .find_map(|l| l.strip_prefix("secret_key = \""))
        .map(|k| k.trim_end_matches('"').to_owned())
        .unwrap();
    // The port the system picked, from the connection it prints.
    let api_url = printed
        .lines()
        .find_map(|l| l.strip_prefix("api_url = \""))
        .map(|u| u.trim_end_matches('"').to_owned())
        .unwrap();
    let users: Vec<serde_json::Value> = reqwest::Client::new()
        .get(format!("{api_url}/v1/users?limit=100"))
        .bearer_auth(&key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(users.len(), 12);
    let denied = reqwest::get(format!("{api_url}/v1/users")).await.unwrap();
    assert_eq!(denied.status().as_u16(), 401);
    child.kill().await.unwrap();
}

#[tokio::test]
async fn emulate_sends_shuffled_duplicated_webhooks_to_idsync() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Clerk, 0).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let server = serve(&cfg).await;
    let out = tokio::process::Command::new(bin())
        .args([
            "emulate",
            "clerk",
            "--users",
            "20",
            "--listen",
            "127.0.0.1:0",
        ])
        .args([
            "--webhook-url",
            &server.webhook_url("main"),
            "--webhook-secret",
            &emu.config().webhook_secret,
        ])
        .args(["--send-changes", "200", "--shuffled", "--duplicates", "0.2"])
        .env("RUST_LOG", "warn")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("sent 240 deliveries of 200 events"),
        "{stdout}"
    );
    assert!(stdout.contains("  200: 240"), "{stdout}");
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM idsync.deliveries").await,
        200
    );
}

/// `idsync backfill` with these extra arguments, logging at `info`.
async fn backfill_logs(cfg: &ConfigDir, extra: &[&str]) -> String {
    let out = tokio::process::Command::new(bin())
        .arg("--config")
        .arg(cfg.path())
        .args(extra)
        .arg("backfill")
        .env_remove("DATABASE_URL")
        .env_remove("IDSYNC_LOG_FORMAT")
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stderr).unwrap()
}

#[tokio::test]
async fn logs_are_plain_text_when_redirected_or_json_on_request() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::StackAuth, 5).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);

    let text = backfill_logs(&cfg, &[]).await;
    assert!(text.contains("INFO"), "{text}");
    assert!(!text.contains('\u{1b}'), "escape codes in redirected logs");

    let json = backfill_logs(&cfg, &["--log-format", "json"]).await;
    let lines: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(!lines.is_empty());
    assert!(
        lines
            .iter()
            .all(|l| l["level"].is_string() && l["fields"].is_object())
    );
    // Progress is logged too, instead of plain lines.
    let finished = lines
        .iter()
        .find(|l| l["fields"]["message"] == "finished" && l["fields"]["job"] == "backfill")
        .unwrap_or_else(|| panic!("no progress events in {json}"));
    assert_eq!(finished["fields"]["seen"], 5);
}

#[tokio::test]
async fn connect_prints_the_console_steps_where_the_provider_has_no_api_for_it() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Clerk, 0).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let out = cli(&cfg.path(), &["connect", "main"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("Clerk has no API to register webhook endpoints"),
        "{stdout}"
    );
    assert!(stdout.contains("/webhooks/main"), "{stdout}");
    assert!(stdout.contains("Configure → Webhooks"), "{stdout}");
    let unknown = cli(&cfg.path(), &["connect", "nope"]).await;
    assert!(!unknown.status.success());
    assert!(
        String::from_utf8_lossy(&unknown.stderr).contains("no connection named \"nope\""),
        "{}",
        String::from_utf8_lossy(&unknown.stderr)
    );
}
