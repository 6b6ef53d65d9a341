//! The reconcile schedule lives in the database, shared by replicas and
//! kept across restarts.

use idsync_emulator::ProviderKind;

use crate::common::*;

const RECONCILES: &str =
    "SELECT count(*) FROM idsync.sync_runs WHERE kind = 'reconcile' AND status = 'completed'";

/// A server started when the last listing is older than the interval
/// reconciles at once, instead of an interval after its own start (so
/// replicas restarted more often than the interval still reconcile).
#[tokio::test]
async fn an_overdue_reconcile_runs_at_start() {
    let db = postgres().await;
    let emu = emulator(ProviderKind::StackAuth, 20).await;
    let cfg = config(&db.url, &[Conn::new("main", &emu)]);
    assert!(cli(&cfg.path(), &["backfill"]).await.status.success());
    // The backfill (the last full listing) finished two hours ago.
    sqlx::query(
        "UPDATE idsync.sync_runs SET started_at = now() - interval '2 hours',
                finished_at = now() - interval '2 hours'",
    )
    .execute(&db.pool)
    .await
    .unwrap();

    let _server = serve_owning(
        cfg,
        &[(
            "IDSYNC_CONNECTIONS__MAIN__RECONCILE_INTERVAL",
            "1h".to_owned(),
        )],
    )
    .await;
    wait_for_count(&db.pool, RECONCILES, 1).await;
    // That pass is now the last listing: the next is an hour away.
    assert_eq!(
        count(
            &db.pool,
            "SELECT count(*) FROM idsync.sync_runs WHERE kind = 'reconcile'"
        )
        .await,
        1
    );
}
