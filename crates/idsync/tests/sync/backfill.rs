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
    let (seen, added, cursor): (i64, i64, Option<serde_json::Value>) =
        sqlx::query_as("SELECT seen, added, cursor FROM idsync.sync_runs WHERE kind = 'backfill'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!((seen, added, cursor), (10_000, 10_000, None));
    if kind == ProviderKind::Clerk {
        // Written several at once: each of the 20 pages of 500 and the
        // empty one after them recorded once, the empty one as the last.
        let pages: Vec<(i64, bool)> =
            sqlx::query_as("SELECT page, last FROM idsync.sync_run_pages ORDER BY page")
                .fetch_all(&db.pool)
                .await
                .unwrap();
        let expected: Vec<(i64, bool)> = (0..=20).map(|p| (p, p == 20)).collect();
        assert_eq!(pages, expected);
    }

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
/// leaves the pages fetched before it written whole, and the resumed run
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

/// The database refuses the write of one page (a trigger on the table) once
/// every other page committed: the committed pages are not contiguous.
/// Until then the trigger waits for the test's advisory lock.
const HOLD_AND_REFUSE: &str = "
CREATE FUNCTION public.hold_and_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared(4242);
    RAISE EXCEPTION 'refused by the test';
END $$;";

/// Offset pages are written several at once and commit in any order: with
/// page 3 failing after every later page committed, the run records which
/// pages it wrote, and the resumed run fetches and writes page 3 alone.
#[tokio::test]
async fn resumed_backfill_writes_only_the_pages_missing_between_committed_ones() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Clerk, 5_000).await; // 10 pages of 500, then an empty one
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    assert!(cli(&cfg.path(), &["migrate"]).await.status.success());
    // The 1,701st user to sign up is on page 3 (offsets 1500 to 1999).
    let refused = emu.user_ids()[1700].clone();
    assert!(
        refused
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    );
    sqlx::raw_sql(HOLD_AND_REFUSE)
        .execute(&db.pool)
        .await
        .unwrap();
    sqlx::raw_sql(&format!(
        "CREATE TRIGGER hold_and_refuse BEFORE INSERT ON {TABLE} FOR EACH ROW
         WHEN (NEW.id = '{refused}') EXECUTE FUNCTION public.hold_and_refuse()"
    ))
    .execute(&db.pool)
    .await
    .unwrap();
    let mut gate = db.pool.acquire().await.unwrap();
    sqlx::query("SELECT pg_advisory_lock(4242)")
        .execute(&mut *gate)
        .await
        .unwrap();

    let backfill = tokio::process::Command::new(bin())
        .arg("--config")
        .arg(cfg.path())
        .arg("backfill")
        .env_remove("DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Every page but 3, the empty one after the last user included.
    wait_for_count(&db.pool, "SELECT count(*) FROM idsync.sync_run_pages", 10).await;
    sqlx::query("SELECT pg_advisory_unlock(4242)")
        .execute(&mut *gate)
        .await
        .unwrap();
    let out = backfill.wait_with_output().await.unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "page 3 was refused: {stderr}");
    assert!(stderr.contains("refused by the test"), "{stderr}");

    let pages: Vec<(i64, bool)> =
        sqlx::query_as("SELECT page, last FROM idsync.sync_run_pages ORDER BY page")
            .fetch_all(&db.pool)
            .await
            .unwrap();
    let expected: Vec<(i64, bool)> = [0, 1, 2, 4, 5, 6, 7, 8, 9, 10]
        .into_iter()
        .map(|p| (p, p == 10))
        .collect();
    assert_eq!(pages, expected);
    assert_eq!(
        count(&db.pool, &format!("SELECT count(*) FROM {TABLE}")).await,
        4500
    );
    type Run = (String, Option<serde_json::Value>, i64, i64, i64, i64);
    let run: Run = sqlx::query_as(
        "SELECT status, cursor, pages, seen, added, unchanged FROM idsync.sync_runs WHERE kind = 'backfill'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        run,
        (
            "failed".into(),
            Some(serde_json::json!(1500)),
            10,
            4500,
            4500,
            0
        ),
        "the cursor ends the contiguous prefix; counts hold the committed pages"
    );

    sqlx::raw_sql(&format!("DROP TRIGGER hold_and_refuse ON {TABLE}"))
        .execute(&db.pool)
        .await
        .unwrap();
    let requests_before = emu.list_request_count();
    let out = cli(&cfg.path(), &["backfill"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        emu.list_request_count() - requests_before,
        1,
        "only page 3 was fetched"
    );
    assert_mirrors(&db.pool, TABLE, &emu).await;
    let run: Run = sqlx::query_as(
        "SELECT status, cursor, pages, seen, added, unchanged FROM idsync.sync_runs WHERE kind = 'backfill'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        run,
        ("completed".into(), None, 11, 5000, 5000, 0),
        "one run, each page and user once"
    );
}

/// A backfill that an idsync without numbered pages left unfinished has
/// only its cursor: the upgraded idsync resumes from it.
#[tokio::test]
async fn backfill_interrupted_before_pages_were_numbered_resumes_from_its_cursor() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Clerk, 5_000).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    emu.fail_list_requests_after(Some(3));
    assert!(!cli(&cfg.path(), &["backfill"]).await.status.success());
    assert_eq!(
        count(&db.pool, &format!("SELECT count(*) FROM {TABLE}")).await,
        1500
    );
    // What an older idsync left: the cursor after its last page, and counts.
    sqlx::raw_sql(
        "DELETE FROM idsync.sync_run_pages;
         UPDATE idsync.sync_runs SET page_base = NULL, cursor_page = NULL;",
    )
    .execute(&db.pool)
    .await
    .unwrap();
    let cursor: Option<serde_json::Value> =
        sqlx::query_scalar("SELECT cursor FROM idsync.sync_runs WHERE kind = 'backfill'")
            .fetch_one(&db.pool)
            .await
            .unwrap();
    assert_eq!(cursor, Some(serde_json::json!(1500)));

    emu.fail_list_requests_after(None);
    let out = cli(&cfg.path(), &["backfill"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_mirrors(&db.pool, TABLE, &emu).await;
    let run: (String, Option<serde_json::Value>, i64, i64, i64, i64) = sqlx::query_as(
        "SELECT status, page_base, pages, seen, added, unchanged FROM idsync.sync_runs WHERE kind = 'backfill'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(
        run,
        (
            "completed".into(),
            Some(serde_json::json!(1500)),
            11,
            5000,
            5000,
            0
        ),
        "pages numbered from the old cursor; no user listed twice"
    );
}

/// A page write that Postgres aborts as a deadlock (as with a webhook batch
/// locking the same users) is written again: the run completes, each user
/// and page once.
#[tokio::test]
async fn page_aborted_as_a_deadlock_is_written_again() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::Clerk, 2_000).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    assert!(cli(&cfg.path(), &["migrate"]).await.status.success());
    let victim = emu.user_ids()[1200].clone();
    assert!(
        victim
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_')
    );
    // A sequence, unlike a table, keeps counting when the transaction
    // that advanced it rolls back: only the first attempt fails.
    sqlx::raw_sql(&format!(
        "CREATE SEQUENCE public.deadlocks;
         CREATE FUNCTION public.deadlock_once() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF nextval('public.deadlocks') = 1 THEN
                 RAISE EXCEPTION 'deadlock detected (test)' USING ERRCODE = '40P01';
             END IF;
             RETURN NEW;
         END $$;
         CREATE TRIGGER deadlock_once BEFORE INSERT ON {TABLE} FOR EACH ROW
         WHEN (NEW.id = '{victim}') EXECUTE FUNCTION public.deadlock_once();"
    ))
    .execute(&db.pool)
    .await
    .unwrap();

    let out = cli(&cfg.path(), &["backfill"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        count(&db.pool, "SELECT last_value FROM public.deadlocks").await,
        2,
        "the page was aborted once, then written"
    );
    assert_mirrors(&db.pool, TABLE, &emu).await;
    let run: (String, i64, i64, i64) = sqlx::query_as(
        "SELECT status, pages, seen, added FROM idsync.sync_runs WHERE kind = 'backfill'",
    )
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert_eq!(run, ("completed".into(), 5, 2000, 2000));
}
