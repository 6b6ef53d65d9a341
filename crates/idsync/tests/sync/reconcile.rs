//! Reconcile repairs drift that webhooks missed.

use std::time::Duration;

use idsync_emulator::{ProviderKind, WebhookEvent};
use serde_json::json;

use crate::common::*;

const TABLE: &str = "neon_identity.users_sync";

#[tokio::test]
async fn reconcile_repairs_dropped_webhooks_and_silent_deletes() {
    for kind in [ProviderKind::StackAuth, ProviderKind::Clerk] {
        let db = postgres().await;
        let emu = emulator(kind, 300).await;
        let cfg = config(&db.url, &[Conn::new("main", &emu)]);
        assert!(cli(&cfg.path(), &["backfill"]).await.status.success());

        // Rows younger than reconcile's 2 s margin are not judged by it.
        tokio::time::sleep(Duration::from_millis(2100)).await;
        emu.set_emit_webhooks(false);
        emu.advance_clock(chrono::Duration::seconds(10));
        let ids = emu.user_ids();
        emu.update_user(&ids[0]).unwrap();
        assert!(emu.delete_user(&ids[1]));
        emu.create_user();
        assert!(emu.take_events().is_empty());

        let out = cli(&cfg.path(), &["reconcile"]).await;
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("1 added, 1 updated, 1 deleted, 298 unchanged"),
            "{kind:?}: {stdout}"
        );
        assert_mirrors(&db.pool, TABLE, &emu).await;
        let deleted: bool = sqlx::query_scalar(
            "SELECT deleted_at IS NOT NULL FROM neon_identity.users_sync WHERE id = $1",
        )
        .bind(&ids[1])
        .fetch_one(&db.pool)
        .await
        .unwrap();
        assert!(deleted, "removed user soft-deleted, row kept");

        // Nothing left to repair.
        let out = cli(&cfg.path(), &["reconcile"]).await;
        assert!(
            String::from_utf8_lossy(&out.stdout)
                .contains("0 added, 0 updated, 0 deleted, 300 unchanged")
        );
    }
}

/// A webhook for a user the listing does not contain (created after its
/// page was read), signed by the svix crate.
fn event_for_unlisted_user(id: &str) -> WebhookEvent {
    let now = chrono::Utc::now().timestamp();
    let body = json!({"type": "user.created", "data": {"id": id, "display_name": "Late Comer", "primary_email": "late@example.com", "signed_up_at_millis": now * 1000}});
    WebhookEvent {
        msg_id: format!(
            "msg_{}",
            idsync_emulator::ksuid::generate(now, &mut rand::rng())
        ),
        created_at: now,
        event_type: "user.created".into(),
        body: body.to_string(),
    }
}

#[tokio::test]
async fn reconcile_does_not_delete_a_user_created_during_the_pass() {
    let db = postgres().await;
    // 5 pages at one request a second: a pass of several seconds.
    let emu = slow_emulator(ProviderKind::StackAuth, 1_000).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    let server = serve(&cfg).await;
    // serve backfills on its own; wait for it.
    backfilled(&db.pool, 1).await;
    assert_eq!(
        count(&db.pool, "SELECT count(*) FROM neon_identity.users_sync").await,
        1000
    );
    // A row the provider no longer has, from before the pass.
    let gone = emu.user_ids()[5].clone();
    emu.set_emit_webhooks(false);
    emu.delete_user(&gone);
    // Old enough to be judged by the pass (see reconcile's margin).
    tokio::time::sleep(Duration::from_millis(2100)).await;

    let path = cfg.path();
    let pass = tokio::spawn(async move { cli(&path, &["reconcile"]).await });
    wait_for_count(
        &db.pool,
        "SELECT count(*) FROM idsync.sync_runs WHERE kind='reconcile' AND status='running'",
        1,
    )
    .await;
    let s = sender(&server, "main", &emu);
    deliver_all(&s, &[event_for_unlisted_user("late-comer")]).await;
    let out = pass.await.unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let state = |id: &'static str| {
        let pool = db.pool.clone();
        async move {
            sqlx::query_scalar::<_, bool>(
                "SELECT deleted_at IS NOT NULL FROM neon_identity.users_sync WHERE id = $1",
            )
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    assert!(
        !state("late-comer").await,
        "user created during the pass was deleted"
    );
    let gone_deleted: bool = sqlx::query_scalar(
        "SELECT deleted_at IS NOT NULL FROM neon_identity.users_sync WHERE id = $1",
    )
    .bind(&gone)
    .fetch_one(&db.pool)
    .await
    .unwrap();
    assert!(
        gone_deleted,
        "the same pass deletes users gone before it began"
    );
}

/// Whether each id's row is soft-deleted.
async fn deleted_flags(pool: &sqlx::PgPool, ids: &[String]) -> Vec<bool> {
    let mut flags = Vec::new();
    for id in ids {
        let deleted: bool = sqlx::query_scalar(
            "SELECT deleted_at IS NOT NULL FROM neon_identity.users_sync WHERE id = $1",
        )
        .bind(id)
        .fetch_one(pool)
        .await
        .unwrap();
        flags.push(deleted);
    }
    flags
}

#[tokio::test]
async fn reconcile_does_not_delete_live_users_its_listing_missed() {
    let db = postgres().await;
    // Two Clerk pages of 500, listed by offset.
    let emu = emulator(ProviderKind::Clerk, 1_000).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    assert!(cli(&cfg.path(), &["backfill"]).await.status.success());
    let ids = emu.user_ids();
    emu.set_emit_webhooks(false);

    // Hold the pass after its first page: list requests answer 500 (and are
    // retried) until the deletes below are done.
    emu.fail_list_requests_after(Some(1));
    let path = cfg.path();
    let pass = tokio::spawn(async move { cli(&path, &["reconcile"]).await });
    wait_for_count(
        &db.pool,
        "SELECT count(*) FROM idsync.sync_runs WHERE kind='reconcile' AND status='running' AND pages >= 1",
        1,
    )
    .await;
    // Three users of the first page go: the second page, at offset 500, now
    // starts three users later, so users 500..503 are listed by neither.
    let gone = [ids[10].clone(), ids[20].clone(), ids[30].clone()];
    for id in &gone {
        assert!(emu.delete_user(id));
    }
    emu.fail_list_requests_after(None);
    let out = pass.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("0 deleted"), "{stdout}");
    let skipped = ids[500..503].to_vec();
    assert_eq!(
        deleted_flags(&db.pool, &skipped).await,
        [false; 3],
        "live users the listing skipped were deleted"
    );
    // Listed before they went: this pass keeps them, the next one deletes them.
    assert_eq!(deleted_flags(&db.pool, &gone).await, [false; 3]);

    let out = cli(&cfg.path(), &["reconcile"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("0 added, 0 updated, 3 deleted, 997 unchanged"),
        "{stdout}"
    );
    assert_mirrors(&db.pool, TABLE, &emu).await;
    assert_eq!(deleted_flags(&db.pool, &gone).await, [true; 3]);
}
