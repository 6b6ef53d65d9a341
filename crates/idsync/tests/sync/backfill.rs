//! Backfill through the provider list APIs, as `idsync backfill` runs it.

use idsync_emulator::ProviderKind;

use crate::common::*;

const TABLE: &str = "neon_identity.users_sync";

async fn backfill_is_exact(kind: ProviderKind) {
    let db = postgres().await;
    let emu = emulator(kind, 10_000).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let out = cli(&cfg.path(), &["backfill"]).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "backfill failed: {stderr}");
    assert!(
        stderr.contains("main: backfill started"),
        "progress lines: {stderr}"
    );
    assert!(
        stderr.contains("main: done, 10000 seen: 10000 added"),
        "{stderr}"
    );
    assert_eq!(emu.users().len(), 10_000);
    assert_mirrors(&db.pool, TABLE, &emu).await;

    // A second run changes nothing.
    let out = cli(&cfg.path(), &["backfill"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    assert!(
        stdout.contains("0 added, 0 updated, 0 deleted, 10000 unchanged"),
        "{stdout}"
    );
}

#[tokio::test]
async fn stack_auth_backfill_of_10000_users_is_exact() {
    backfill_is_exact(ProviderKind::StackAuth).await;
}

#[tokio::test]
async fn clerk_backfill_of_10000_users_is_exact() {
    backfill_is_exact(ProviderKind::Clerk).await;
}

/// Clerk's offset pages are fetched several at once: a failure among them
/// still leaves only whole, consecutive pages written, and the resumed run
/// completes the table exactly.
#[tokio::test]
async fn interrupted_concurrent_backfill_resumes_without_duplicates_or_gaps() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Clerk, 5_000).await; // 10 pages of 500
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    emu.fail_list_requests_after(Some(4));
    let out = cli(&cfg.path(), &["backfill"]).await;
    assert!(
        !out.status.success(),
        "backfill should fail when the provider does"
    );
    let written = count(&db.pool, "SELECT count(*) FROM neon_identity.users_sync").await;
    assert!(
        written % 500 == 0 && written <= 2000,
        "whole pages in order, at most the 4 answered: {written}"
    );
    let offset: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT cursor FROM idsync.sync_runs WHERE kind = 'backfill'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    if written > 0 {
        assert_eq!(
            offset,
            Some(serde_json::json!(written)),
            "cursor after the last written page"
        );
    }

    emu.fail_list_requests_after(None);
    let out = cli(&cfg.path(), &["backfill"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_mirrors(&db.pool, TABLE, &emu).await;
    let (runs, seen, added): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), max(seen), max(added) FROM idsync.sync_runs WHERE kind = 'backfill' AND status = 'completed'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (runs, seen, added),
        (1, 5000, 5000),
        "one run, each user once"
    );
}

#[tokio::test]
async fn interrupted_backfill_resumes_without_duplicates_or_gaps() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::StackAuth, 2_000).await; // 10 pages of 200
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    emu.fail_list_requests_after(Some(4));
    let out = cli(&cfg.path(), &["backfill"]).await;
    assert!(
        !out.status.success(),
        "backfill should fail when the provider does"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("HTTP 500"), "{stderr}");
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM neon_identity.users_sync").await,
        800
    );
    let (status, cursor): (String, Option<serde_json::Value>) =
        sqlx::query_as("SELECT status, cursor FROM idsync.sync_runs WHERE kind = 'backfill'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(status, "failed");
    assert!(
        cursor.is_some_and(|c| c["next"].is_string()),
        "cursor saved"
    );

    emu.fail_list_requests_after(None);
    let requests_before = emu.list_request_count();
    let out = cli(&cfg.path(), &["backfill"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("resuming after 800 users"));
    assert_eq!(
        emu.list_request_count() - requests_before,
        6,
        "only the remaining pages were fetched"
    );
    assert_mirrors(&db.pool, TABLE, &emu).await;
    let (runs, seen, added): (i64, i64, i64) = sqlx::query_as(
        "SELECT count(*), max(seen), max(added) FROM idsync.sync_runs WHERE kind = 'backfill' AND status = 'completed'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        (runs, seen, added),
        (1, 2000, 2000),
        "one run, each user once"
    );
}

#[tokio::test]
async fn rate_limited_backfill_still_completes() {
    let db = postgres().await;
    // 6 pages of 500 at one request a second: the list request right
    // after the count is refused however slowly the machine runs.
    let emu = slow_emulator(ProviderKind::Clerk, 3_000).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let out = cli(&cfg.path(), &["backfill"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_mirrors(&db.pool, TABLE, &emu).await;
    // 7 list pages (the last one empty): some were refused with 429 and
    // retried.
    assert!(emu.list_request_count() > 7, "the emulator never said 429");
}
