//! Reconcile repairs drift that webhooks missed.

use idsync_emulator::{ProviderKind, WebhookEvent};
use serde_json::json;

use crate::common::*;

const TABLE: &str = "neon_identity.users_sync";

/// Reconciles `cfg`'s connection "main" in this process, judging every row
/// older than the pass: the CLI's margin exists for versions of one-second
/// resolution from another clock, which these tests would have to wait out.
async fn reconcile_now(cfg: &ConfigDir, pool: &sqlx::PgPool) -> idsync_sync::JobReport {
    let config = idsync::config::Config::load_from(&cfg.path(), true, std::iter::empty()).unwrap();
    let conn = &config.connections[0];
    let target = idsync_sync::JobTarget {
        pool,
        connection: conn.name.as_str(),
        table: &conn.table,
        provider: &conn.provider,
    };
    idsync_sync::reconcile_with_margin(
        target,
        &idsync_sync::LogProgress::new("main"),
        chrono::TimeDelta::zero(),
    )
    .await
    .unwrap()
}

async fn repairs_dropped_webhooks_and_silent_deletes(kind: ProviderKind) {
    let db = postgres().await;
    let emu = emulator(kind, 300).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    assert!(cli(&cfg.path(), &["backfill"]).await.status.success());

    emu.set_emit_webhooks(false);
    emu.advance_clock(chrono::Duration::seconds(10));
    let ids = emu.user_ids();
    emu.update_user(&ids[0]).unwrap();
    assert!(emu.delete_user(&ids[1]));
    emu.create_user();
    assert!(emu.take_events().is_empty());

    let counts = reconcile_now(&cfg, &db.pool).await.counts;
    assert_eq!(
        (
            counts.added,
            counts.updated,
            counts.deleted,
            counts.unchanged
        ),
        (1, 1, 1, 298),
        "{counts:?}"
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
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("0 added, 0 updated, 0 deleted, 300 unchanged"),
        "{stdout}"
    );
}

#[tokio::test]
async fn stack_auth_reconcile_repairs_dropped_webhooks_and_silent_deletes() {
    repairs_dropped_webhooks_and_silent_deletes(ProviderKind::StackAuth).await;
}

#[tokio::test]
async fn clerk_reconcile_repairs_dropped_webhooks_and_silent_deletes() {
    repairs_dropped_webhooks_and_silent_deletes(ProviderKind::Clerk).await;
}

/// A Stack Auth webhook creating a user the provider's listing does not
/// contain, sent at `at` (Unix seconds, the message id's time and so the
/// row's version), signed by the svix crate when sent.
fn user_created_event(id: &str, at: i64) -> WebhookEvent {
    let body = json!({"type": "user.created", "data": {"id": id, "display_name": "Late Comer", "primary_email": "late@example.com", "signed_up_at_millis": at * 1000}});
    WebhookEvent {
        msg_id: format!(
            "msg_{}",
            idsync_emulator::ksuid::generate(at, &mut rand::rng())
        ),
        created_at: at,
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
    // A row the provider no longer has, from a minute before the pass: old
    // enough to be judged by it (see reconcile's margin).
    // A well-formed Stack Auth id the provider does not have.
    let gone = "00000000-0000-4000-8000-00000000900d";
    let s = sender(&server, "main", &emu);
    let a_minute_ago = chrono::Utc::now().timestamp() - 60;
    deliver_all(&s, &[user_created_event(gone, a_minute_ago)]).await;

    let path = cfg.path();
    let pass = tokio::spawn(async move { cli(&path, &["reconcile"]).await });
    wait_for_count(
        &db.pool,
        "SELECT count(*) FROM idsync.sync_runs WHERE kind='reconcile' AND status='running'",
        1,
    )
    .await;
    let now = chrono::Utc::now().timestamp();
    deliver_all(&s, &[user_created_event("late-comer", now)]).await;
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
    .bind(gone)
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
